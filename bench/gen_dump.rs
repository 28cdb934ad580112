//! Writes a realistic mysqldump (MariaDB 10.11 `mariadb-dump`) text of SIZE bytes to stdout,
//! for `bench/run.sh`: the real header (with the sandbox line), DROP/CREATE TABLE blocks,
//! extended INSERT lines of about 1 MB (as mysqldump splits them) holding varied rows, and
//! the `-- Dump completed on ...` trailer. The data is pseudo-random but deterministic (same
//! SIZE, same bytes) and compresses about 6:1 with `gzip -6`, like real dumps.
//!
//! Usage: `gen_dump SIZE` (bytes, or with a K/M/G/T suffix, 1024-based).

use std::io::{self, BufWriter, Write};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const FIRST: &[&str] = &[
    "Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hugo", "Ida", "Jonas", "Karin",
    "Lukas", "Marie", "Noah", "Olga", "Paul", "Rosa", "Simon", "Tina", "Uwe", "Vera", "Walter",
    "Yusuf", "Zoe", "Mehmet", "Aisha", "Chen", "Priya", "Olu", "Sven",
];
const LAST: &[&str] = &[
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Koch",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Schwarz",
    "Braun",
    "Zimmermann",
    "Hartmann",
    "Lange",
    "Krüger",
    "Werner",
    "Lehmann",
    "Köhler",
    "Jung",
];
const CITY: &[&str] = &[
    "Berlin",
    "Hamburg",
    "München",
    "Köln",
    "Frankfurt",
    "Stuttgart",
    "Düsseldorf",
    "Leipzig",
    "Dortmund",
    "Essen",
    "Bremen",
    "Dresden",
    "Hannover",
    "Nürnberg",
    "Duisburg",
    "Wien",
    "Zürich",
    "Basel",
    "Graz",
    "Linz",
    "Lyon",
    "Paris",
    "Milano",
    "Praha",
    "Wrocław",
];
const DOMAIN: &[&str] = &[
    "example.com",
    "mail.example.org",
    "shop.example.net",
    "posteo.example",
    "web.example.de",
];
const STATUS: &[&str] = &[
    "new",
    "paid",
    "packed",
    "shipped",
    "delivered",
    "delivered",
    "delivered",
    "returned",
    "cancelled",
];
const LEVEL: &[&str] = &["INFO", "INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"];
const WORDS: &[&str] = &[
    "order",
    "invoice",
    "sent",
    "payment",
    "received",
    "customer",
    "address",
    "updated",
    "shipment",
    "created",
    "label",
    "printed",
    "refund",
    "requested",
    "approved",
    "stock",
    "reserved",
    "released",
    "coupon",
    "applied",
    "cart",
    "abandoned",
    "reminder",
    "session",
    "login",
    "failed",
    "password",
    "reset",
    "newsletter",
    "subscribed",
    "warehouse",
    "picked",
    "carrier",
    "DHL",
    "UPS",
    "DPD",
    "tracking",
    "number",
    "assigned",
    "retry",
    "timeout",
    "gateway",
    "declined",
    "3DS",
    "challenge",
    "passed",
    "review",
    "rating",
    "stars",
];
const MESSAGE: &[&str] = &[
    "order {} invoice sent",
    "payment for order {} received",
    "shipment created for order {}",
    "label printed for order {}",
    "customer {} updated address",
    "session started for customer {}",
    "login failed for customer {}: wrong password",
    "coupon applied to cart {}",
    "stock reserved for order {}",
    "webhook delivery to carrier DHL for order {} failed, retry scheduled",
    "payment gateway timeout for order {}",
    "refund requested for order {}",
    "newsletter subscription confirmed for customer {}",
    "tracking number assigned to order {}",
];
const PRODUCT: &[&str] = &[
    "Espresso cup",
    "Tea pot",
    "Chef knife",
    "Cutting board",
    "Frying pan",
    "Stock pot",
    "Wine glass",
    "Water bottle",
    "Lunch box",
    "Coffee grinder",
    "Milk frother",
    "Salad bowl",
    "Bread bin",
    "Oven mitt",
    "Kitchen scale",
    "Spice rack",
    "Pepper mill",
    "Ice tray",
];
const COLOUR: &[&str] = &["black", "white", "red", "blue", "green", "steel", "oak"];

/// A timestamp that advances with the row id (rows are inserted in time order), with a
/// little jitter.
fn datetime(rng: &mut Rng, id: u64, out: &mut Vec<u8>) {
    let t = id * 7 + rng.below(5);
    let (s, m, h) = (t % 60, t / 60 % 60, t / 3600 % 24);
    let days = t / 86_400;
    let (month, day) = (days / 28 % 12 + 1, days % 28 + 1);
    write!(out, "'2026-{month:02}-{day:02} {h:02}:{m:02}:{s:02}'").unwrap();
}

fn customer(rng: &mut Rng, id: u64, out: &mut Vec<u8>) {
    let (f, l) = (rng.pick(FIRST), rng.pick(LAST));
    write!(
        out,
        "({id},'{f} {l}','{}.{}{}@{}','{}',",
        f.to_lowercase(),
        l.to_lowercase(),
        id % 1000,
        rng.pick(DOMAIN),
        rng.pick(CITY)
    )
    .unwrap();
    datetime(rng, id, out);
    if rng.below(5) == 0 {
        out.extend_from_slice(b",NULL)");
    } else {
        write!(out, ",{})", id * 3 + rng.below(10)).unwrap();
    }
}

fn order(rng: &mut Rng, id: u64, out: &mut Vec<u8>) {
    write!(out, "({id},{},", id / 3 + rng.below(100) + 1).unwrap();
    datetime(rng, id, out);
    write!(
        out,
        ",'{}',{}.{},'EUR','{}',",
        rng.pick(STATUS),
        rng.below(60) * 5 + 10,
        rng.below(4) * 25 + 9,
        rng.pick(CITY)
    )
    .unwrap();
    // A payment reference (real dumps hold hashes, tokens, UUIDs); none for unpaid orders.
    if rng.below(6) == 0 {
        out.extend_from_slice(b"NULL)");
    } else {
        write!(out, "'pi_{:06x}')", rng.next() as u32 >> 8).unwrap();
    }
}

fn item(rng: &mut Rng, id: u64, out: &mut Vec<u8>) {
    // The product decides the price; most lines are one piece without discount.
    let p = rng.below(PRODUCT.len() as u64 * 4) as usize;
    let (product, colour) = (PRODUCT[p % PRODUCT.len()], COLOUR[p % COLOUR.len()]);
    let quantity = if rng.below(4) == 0 {
        rng.below(5) + 2
    } else {
        1
    };
    let discount = if rng.below(8) == 0 { "5.00" } else { "0.00" };
    write!(
        out,
        "({id},{},'{product} {colour}',{quantity},{}.{:02},{discount})",
        id / 3 + 1,
        p * 3 + 4,
        (p * 7) % 10 * 10 + 9
    )
    .unwrap();
}

fn log_row(rng: &mut Rng, id: u64, out: &mut Vec<u8>) {
    write!(out, "({id},").unwrap();
    datetime(rng, id, out);
    write!(out, ",'{}','", rng.pick(LEVEL)).unwrap();
    let (a, b) = rng.pick(MESSAGE).split_once("{}").unwrap();
    write!(out, "{a}{}{b}", id / 4 + rng.below(8)).unwrap();
    if rng.below(10) == 0 {
        out.extend_from_slice(b" (");
        for i in 0..3 {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(rng.pick(WORDS).as_bytes());
        }
        out.push(b')');
    }
    write!(out, "','10.0.{}.{}')", rng.below(4), rng.below(40) + 10).unwrap();
}

struct Table {
    name: &'static str,
    columns: &'static str,
    row: fn(&mut Rng, u64, &mut Vec<u8>),
    /// Share of the dump's size.
    share: f64,
}

const TABLES: &[Table] = &[
    Table {
        name: "customers",
        columns: "  `id` int(11) NOT NULL,\n  `name` varchar(100) NOT NULL,\n  `email` varchar(200) NOT NULL,\n  `city` varchar(100) NOT NULL,\n  `created_at` datetime NOT NULL,\n  `last_order_id` int(11) DEFAULT NULL,\n  PRIMARY KEY (`id`),\n  UNIQUE KEY `customers_email_key` (`email`),\n  KEY `customers_last_order_fk` (`last_order_id`)\n",
        row: customer,
        share: 0.10,
    },
    Table {
        name: "orders",
        columns: "  `id` int(11) NOT NULL,\n  `customer_id` int(11) NOT NULL,\n  `created_at` datetime NOT NULL,\n  `status` varchar(20) NOT NULL,\n  `total` decimal(10,2) NOT NULL,\n  `currency` char(3) NOT NULL DEFAULT 'EUR',\n  `ship_city` varchar(100) NOT NULL,\n  `payment_ref` varchar(64) DEFAULT NULL,\n  PRIMARY KEY (`id`),\n  KEY `orders_customer_idx` (`customer_id`)\n",
        row: order,
        share: 0.25,
    },
    Table {
        name: "order_items",
        columns: "  `id` bigint(20) NOT NULL,\n  `order_id` int(11) NOT NULL,\n  `product` varchar(200) NOT NULL,\n  `quantity` int(11) NOT NULL,\n  `price` decimal(10,2) NOT NULL,\n  `discount` decimal(10,2) NOT NULL DEFAULT 0.00,\n  PRIMARY KEY (`id`),\n  KEY `order_items_order_idx` (`order_id`)\n",
        row: item,
        share: 0.25,
    },
    Table {
        name: "log",
        columns: "  `id` bigint(20) NOT NULL,\n  `at` datetime NOT NULL,\n  `level` varchar(10) NOT NULL,\n  `message` text NOT NULL,\n  `client_ip` varchar(45) DEFAULT NULL,\n  PRIMARY KEY (`id`),\n  KEY `log_at_idx` (`at`)\n",
        row: log_row,
        share: 0.40,
    },
];

const HEADER: &str = "/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)\n--\n-- Host: localhost    Database: shop\n-- ------------------------------------------------------\n-- Server version\t10.11.19-MariaDB-0+deb12u1\n\n/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;\n/*!40101 SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION */;\n/*!40101 SET NAMES utf8mb4 */;\n/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;\n/*!40103 SET TIME_ZONE='+00:00' */;\n/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;\n/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;\n/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;\n/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;\n";

const TRAILER: &str = "/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;\n\n/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;\n/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;\n/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;\n/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;\n/*!40101 SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS */;\n/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;\n/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;\n\n-- Dump completed on 2026-11-26  3:04:05\n";

/// One extended INSERT line holds rows until it reaches about this many bytes.
const LINE_BYTES: u64 = 1024 * 1024;

fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let unit = unit.to_ascii_uppercase();
    let shift = match unit.trim_end_matches("IB").trim_end_matches('B') {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return None,
    };
    n.checked_mul(1 << shift)
}

fn main() -> io::Result<()> {
    let arg = std::env::args().nth(1).unwrap_or_default();
    let Some(size) = parse_size(&arg) else {
        eprintln!("usage: gen_dump SIZE   (e.g. 2G, 128M, 1048576)");
        std::process::exit(2);
    };
    let mut out = BufWriter::with_capacity(1 << 20, io::stdout().lock());
    out.write_all(HEADER.as_bytes())?;
    let mut written = HEADER.len() as u64;
    let body = size.saturating_sub((HEADER.len() + TRAILER.len()) as u64);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut line = Vec::with_capacity(LINE_BYTES as usize + 4096);
    let mut table_end = written;
    for (t, table) in TABLES.iter().enumerate() {
        let last = t + 1 == TABLES.len();
        table_end = if last {
            size - TRAILER.len() as u64
        } else {
            table_end + (body as f64 * table.share) as u64
        };
        let block = format!(
            "\n--\n-- Table structure for table `{0}`\n--\n\nDROP TABLE IF EXISTS `{0}`;\n/*!40101 SET @saved_cs_client     = @@character_set_client */;\n/*!40101 SET character_set_client = utf8mb4 */;\nCREATE TABLE `{0}` (\n{1}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;\n/*!40101 SET character_set_client = @saved_cs_client */;\n\n--\n-- Dumping data for table `{0}`\n--\n\nLOCK TABLES `{0}` WRITE;\n/*!40000 ALTER TABLE `{0}` DISABLE KEYS */;\n",
            table.name, table.columns
        );
        let end_block = format!(
            "/*!40000 ALTER TABLE `{0}` ENABLE KEYS */;\nUNLOCK TABLES;\n",
            table.name
        );
        out.write_all(block.as_bytes())?;
        written += block.len() as u64;
        let stop = table_end.saturating_sub(end_block.len() as u64);
        let mut id = 1u64;
        loop {
            // Rows are at most a few hundred bytes: stop adding when the next could overshoot.
            let room = stop.saturating_sub(written).min(LINE_BYTES);
            let prefix = format!("INSERT INTO `{}` VALUES ", table.name);
            if room < prefix.len() as u64 + 600 {
                break;
            }
            line.clear();
            line.extend_from_slice(prefix.as_bytes());
            let mut first = true;
            while (line.len() as u64) + 600 < room {
                if !first {
                    line.push(b',');
                }
                first = false;
                (table.row)(&mut rng, id, &mut line);
                id += 1;
            }
            line.extend_from_slice(b";\n");
            out.write_all(&line)?;
            written += line.len() as u64;
        }
        out.write_all(end_block.as_bytes())?;
        written += end_block.len() as u64;
    }
    out.write_all(TRAILER.as_bytes())?;
    out.flush()
}
