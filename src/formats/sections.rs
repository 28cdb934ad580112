//! Which databases one dump holds, by reading its decoded stream once more: for a dump the
//! verification pass did not decode whole (a plain file, of which it reads only the ends) or
//! whose cached facts predate the sections. The lines are scanned by the same scanner that
//! collects them during the verification pass (`decode::tables`), so both agree.

use std::io::{self, Read, Seek, SeekFrom};

use crate::decode::{detect, read_full, tables::TableScan, CHUNK};

/// The databases named by section markers in the dump `file` (of any supported
/// compression), or by a single-database mysqldump's header; sorted.
pub fn databases<R: Read + Seek>(mut file: R) -> io::Result<Vec<String>> {
    let mut magic = [0u8; 8];
    let n = read_full(&mut file, &mut magic)?;
    file.seek(SeekFrom::Start(0))?;
    let mut reader = crate::decode::reference_decoder(detect(&magic[..n]), file)?;
    let mut scan = TableScan::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        scan.feed(&buf[..n]);
    }
    Ok(scan.finish().sections)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn mysqldump_all_databases() {
        let mut text =
            b"-- MariaDB dump 10.19\n--\n-- Current Database: `crm`\n--\n\nCREATE DATABASE crm;\n"
                .to_vec();
        text.extend(std::iter::repeat_n(b'x', 3_000_000));
        text.extend_from_slice(b"\n--\n-- Current Database: `shop`\n--\nINSERT ... '-- Current Database: `fake`' ...\n");
        let names = databases(Cursor::new(gz(&text))).unwrap();
        assert_eq!(names, ["crm", "shop"]);
    }

    #[test]
    fn pg_dumpall_connects() {
        let text = b"--\n-- PostgreSQL database cluster dump\n--\n\\connect template1\n\\connect -reuse-previous=on \"dbname='shop'\"\n\\connect postgres\n";
        assert_eq!(
            databases(Cursor::new(text.to_vec())).unwrap(),
            ["postgres", "shop", "template1"]
        );
    }
}
