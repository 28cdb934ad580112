//! Tar archives of dumps (`.tar`, `.tar.gz`, `.tar.zst`, and pg_dump's `-Ft`): every header
//! checked (checksum), every member read to its end, the end-of-archive blocks required,
//! and each plain-SQL member sampled so that its writer's marker rule can judge it.

use std::io::{self, Read};

use super::writer::{check_marker, detect_writer, MarkerChoice, MarkerOutcome, MarkerRule};
use crate::facts::{ArchiveFacts, ArchiveKind, Member, Sample, TarFacts};

const BLOCK: usize = 512;
/// Members whose head and tail are kept for the marker rules.
const MAX_SAMPLED: usize = 64;
const HEAD: usize = 16 * 1024;
const TAIL: usize = 64 * 1024;

/// True when a 512-byte block looks like a tar header (ustar magic and a valid checksum).
pub fn looks_like_tar(block: &[u8]) -> bool {
    block.len() >= BLOCK && &block[257..262] == b"ustar" && checksum_ok(&block[..BLOCK])
}

fn octal(field: &[u8]) -> Option<u64> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        // GNU base-256 for large sizes.
        let mut v: u64 = u64::from(field[0] & 0x7f);
        for b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(u64::from(*b))?;
        }
        return Some(v);
    }
    let text = std::str::from_utf8(field).ok()?;
    let text = text.trim_matches(|c: char| c == '\0' || c == ' ');
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(text, 8).ok()
}

fn checksum_ok(h: &[u8]) -> bool {
    let Some(stored) = octal(&h[148..156]) else {
        return false;
    };
    let sum: u64 = h
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(*b)
            }
        })
        .sum();
    sum == stored
}

fn name_of(h: &[u8]) -> String {
    let field = |r: std::ops::Range<usize>| {
        let f = &h[r];
        let end = f.iter().position(|&b| b == 0).unwrap_or(f.len());
        String::from_utf8_lossy(&f[..end]).into_owned()
    };
    let name = field(0..100);
    let prefix = field(345..500);
    if prefix.is_empty() {
        name
    } else {
        format!("{prefix}/{name}")
    }
}

/// Keeps the head and tail of one member as it streams by.
struct MemberSampler {
    head: Vec<u8>,
    tail: Vec<u8>,
    total: u64,
}

impl MemberSampler {
    fn feed(&mut self, data: &[u8]) {
        if self.head.len() < HEAD {
            let take = (HEAD - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..take]);
        }
        self.tail.extend_from_slice(data);
        if self.tail.len() > 2 * TAIL {
            self.tail.drain(..self.tail.len() - TAIL);
        }
        self.total += data.len() as u64;
    }

    fn into_sample(self) -> Sample {
        Sample {
            tail_is_whole: self.tail.len() as u64 == self.total,
            head: self.head,
            tail: self.tail,
        }
    }
}

fn read_block<R: Read>(r: &mut R, buf: &mut [u8; BLOCK]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < BLOCK {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Receives every regular member's bytes as [`walk_with`] streams them by (for checksums).
pub trait MemberSink {
    /// A regular member starts: its name and size (from its header).
    fn begin(&mut self, name: &str, size: u64);
    /// The next bytes of its data (padding excluded).
    fn data(&mut self, bytes: &[u8]);
    /// The member was read to its end (not called when the archive is cut inside it).
    fn end(&mut self);
}

struct NoSink;

impl MemberSink for NoSink {
    fn begin(&mut self, _: &str, _: u64) {}
    fn data(&mut self, _: &[u8]) {}
    fn end(&mut self) {}
}

/// Walks a tar stream to its end. Errors are the reader's (I/O or decoder); everything
/// wrong with the archive itself is in [`TarFacts::problem`].
pub fn walk<R: Read>(r: R) -> io::Result<TarFacts> {
    walk_with(r, &mut NoSink)
}

/// [`walk`], handing every regular member's data to `sink` on the way.
pub fn walk_with<R: Read>(mut r: R, sink: &mut dyn MemberSink) -> io::Result<TarFacts> {
    let mut facts = TarFacts::default();
    let mut block = [0u8; BLOCK];
    let mut offset: u64 = 0;
    let mut long_name: Option<String> = None;
    loop {
        let n = read_block(&mut r, &mut block)?;
        if n == 0 {
            facts.problem = Some(format!(
                "tar archive ends at byte {offset} without its end-of-archive blocks (cut?)"
            ));
            return Ok(facts);
        }
        if n < BLOCK {
            facts.problem = Some(format!("tar archive cut inside a header at byte {offset}"));
            return Ok(facts);
        }
        if block.iter().all(|&b| b == 0) {
            // End of archive: a second zero block must follow.
            let n = read_block(&mut r, &mut block)?;
            if n == BLOCK && block.iter().all(|&b| b == 0) {
                facts.end_marker = true;
                // Whatever follows (record padding) must be zeros too.
                let mut rest = [0u8; 64 * 1024];
                loop {
                    let n = r.read(&mut rest)?;
                    if n == 0 {
                        break;
                    }
                    if rest[..n].iter().any(|&b| b != 0) {
                        facts.problem = Some("data after the tar end-of-archive blocks".into());
                        break;
                    }
                }
            } else {
                facts.problem = Some(format!(
                    "tar archive has only one end-of-archive block at byte {offset} (cut?)"
                ));
            }
            return Ok(facts);
        }
        if !checksum_ok(&block) {
            facts.problem = Some(format!(
                "tar header at byte {offset} is corrupt (bad checksum)"
            ));
            return Ok(facts);
        }
        let Some(size) = octal(&block[124..136]) else {
            facts.problem = Some(format!("tar header at byte {offset} has a bad size"));
            return Ok(facts);
        };
        let kind = block[156];
        let name = long_name.take().unwrap_or_else(|| name_of(&block));
        offset += BLOCK as u64;
        let padded = size.div_ceil(BLOCK as u64) * BLOCK as u64;
        let regular = kind == b'0' || kind == 0;
        let keep_bytes = kind == b'L' || (regular && name.rsplit('/').next() == Some("toc.dat"));
        let mut sampler = MemberSampler {
            head: Vec::new(),
            tail: Vec::new(),
            total: 0,
        };
        let mut kept = Vec::new();
        if regular {
            sink.begin(&name, size);
        }
        let mut left = padded;
        let mut data_left = size;
        let mut buf = [0u8; 64 * 1024];
        while left > 0 {
            let want = (left as usize).min(buf.len());
            let got = r.read(&mut buf[..want])?;
            if got == 0 {
                facts.cut_member = Some(name.clone());
                facts.problem = Some(format!(
                    "tar archive cut inside member {} at byte {} ({} of {} bytes present)",
                    crate::text::safe(&name, 120),
                    offset,
                    size - data_left.min(size),
                    size
                ));
                return Ok(facts);
            }
            let data = (got as u64).min(data_left) as usize;
            if regular && facts.members.len() < MAX_SAMPLED {
                sampler.feed(&buf[..data]);
            }
            if regular {
                sink.data(&buf[..data]);
            }
            if keep_bytes && kept.len() < 64 * 1024 * 1024 {
                kept.extend_from_slice(&buf[..data]);
            }
            data_left -= data as u64;
            left -= got as u64;
            offset += got as u64;
        }
        match kind {
            b'L' => {
                let end = kept.iter().position(|&b| b == 0).unwrap_or(kept.len());
                long_name = Some(String::from_utf8_lossy(&kept[..end]).into_owned());
            }
            _ if regular => {
                sink.end();
                facts.member_count += 1;
                if facts.names.len() < 100_000 {
                    facts.names.push(name.clone());
                }
                if name.rsplit('/').next() == Some("toc.dat") {
                    facts.pg_toc = Some(kept);
                }
                if facts.members.len() < MAX_SAMPLED {
                    facts.members.push(Member {
                        name,
                        size,
                        sample: sampler.into_sample(),
                    });
                }
            }
            _ => {}
        }
    }
}

/// Judges a walked tar archive: pg_dump -Ft by its TOC, else each member that is a dump by
/// its writer's marker rule (with `--marker`/`--marker-regex`: each text member).
pub fn judge(t: &TarFacts, choice: &MarkerChoice) -> ArchiveFacts {
    if let Some(toc) = &t.pg_toc {
        let mut f = super::pg_archive::verify_tar_toc(toc, &t.names, t.cut_member.as_deref());
        if let (Some(tar_problem), None) = (&t.problem, &t.cut_member) {
            f.problem = Some(tar_problem.clone());
        } else if let (Some(tar_problem), Some(p)) = (&t.problem, &f.problem) {
            f.problem = Some(format!("{tar_problem}; {p}"));
        }
        f.detail = format!("{} members", t.member_count);
        return f;
    }
    let mut f = ArchiveFacts::new(ArchiveKind::Tar);
    if let Some(p) = &t.problem {
        f.problem = Some(p.clone());
        return f;
    }
    let mut judged = Vec::new();
    for m in &t.members {
        let writer = detect_writer(&m.sample.head);
        let text = !m.sample.head.contains(&0);
        let rule = match choice {
            MarkerChoice::None => None,
            MarkerChoice::Rule(rule) if text => Some(rule.clone()),
            MarkerChoice::Rule(_) => None,
            MarkerChoice::Auto => MarkerRule::for_writer(writer),
        };
        let Some(rule) = rule else { continue };
        let name = crate::text::safe(&m.name, 120);
        match check_marker(&rule, &m.sample) {
            MarkerOutcome::Found { .. } => judged.push(format!("{name} complete")),
            MarkerOutcome::Missing { last_line, .. } => {
                f.problem = Some(format!(
                    "member {name}: dump incomplete: no completion marker, expected {}; last line is '{}'",
                    rule.expected(),
                    crate::text::safe(last_line.as_deref().unwrap_or(""), 80)
                ));
                return f;
            }
        }
    }
    f.tables = judged.len() as u32;
    if judged.is_empty() && !matches!(choice, MarkerChoice::None) {
        f.supported = false;
        f.detail = format!(
            "{} members, none of them a dump this check recognises (use --marker or --marker-regex)",
            t.member_count
        );
    } else {
        f.detail = format!(
            "{} members, end-of-archive present{}{}",
            t.member_count,
            if judged.is_empty() { "" } else { "; " },
            judged.join(", ")
        );
    }
    f
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A tar made by the system's tar would be better, but the format is simple enough to
    /// build here, checksum and all.
    fn header(name: &str, size: usize) -> [u8; BLOCK] {
        let mut h = [0u8; BLOCK];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
        h[136..148].copy_from_slice(b"00000000000\0");
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        h
    }

    pub fn tar(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, data) in members {
            out.extend_from_slice(&header(name, data.len()));
            out.extend_from_slice(data);
            out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
        }
        out.extend_from_slice(&[0u8; 2 * BLOCK]);
        out.resize(out.len().div_ceil(10240) * 10240, 0);
        out
    }

    #[test]
    fn whole_archives_walk_to_the_end() {
        let t = tar(&[
            ("shop.sql", b"-- MySQL dump\n-- Dump completed\n"),
            ("crm.sql", b"x\n"),
        ]);
        assert!(looks_like_tar(&t));
        let f = walk(&t[..]).unwrap();
        assert_eq!(f.problem, None);
        assert!(f.end_marker);
        assert_eq!(f.member_count, 2);
        assert_eq!(f.members[0].name, "shop.sql");
        assert_eq!(
            f.members[0].sample.tail,
            b"-- MySQL dump\n-- Dump completed\n"
        );
    }

    #[test]
    fn cuts_and_damage_are_found() {
        let t = tar(&[("shop.sql", &vec![b'x'; 5000])]);
        for cut in [100, 512, 3000, 5632, 6000, 6144] {
            let f = walk(&t[..cut]).unwrap();
            assert!(f.problem.is_some(), "cut at {cut}");
        }
        let f = walk(&t[..3000]).unwrap();
        assert!(f.problem.unwrap().contains("cut inside member shop.sql"));
        let mut bad = t.clone();
        bad[10] ^= 1;
        assert!(walk(&bad[..])
            .unwrap()
            .problem
            .unwrap()
            .contains("bad checksum"));
        assert!(!looks_like_tar(b"-- MySQL dump\n"));
    }
}
