//! Reading a dump file's content once: its compression stream (through `decode`) and, for
//! the archive formats that live inside one stream (pg_dump's custom format, tar), a walk
//! of the archive by its reader in `formats`; an encrypted file (recognised by its magic),
//! a walk of its structure without the key.

use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::sync::atomic::AtomicU64;

use std::fs::File;

use super::checksum::HashingReader;
use super::decrypt;
use crate::decode::{self, CountingReader, CHUNK};
use crate::facts::{ChecksumAlgorithm, Compression, Decryption, StreamFacts};
use crate::formats::{encrypted, pg_archive, tar};

/// [`read`] or [`read_hashed`] (when `algorithm` is given), then, for an encrypted file
/// whose structure is whole and a `decryption` given, decrypting it with the real tool and
/// judging the plaintext's stream like an unencrypted dump's (see [`decrypt`]).
pub fn read_decrypting(
    file: &File,
    size: u64,
    progress: &AtomicU64,
    algorithm: Option<ChecksumAlgorithm>,
    decryption: Option<&Decryption>,
) -> io::Result<(StreamFacts, Option<String>)> {
    let mut file = file;
    let (facts, digest) = match algorithm {
        Some(a) => read_hashed(file, size, progress, a).map(|(f, d)| (f, Some(d)))?,
        None => (read(file, size, progress)?, None),
    };
    let (Some(d), Some(walked)) = (decryption, facts.encrypted.clone()) else {
        return Ok((facts, digest));
    };
    if walked.problem.is_some() {
        // Broken already without the key: that verdict stands.
        return Ok((facts, digest));
    }
    file.seek(SeekFrom::Start(0))?;
    let mut encrypted = walked;
    encrypted.decrypted_with = Some(d.tool.name().to_string());
    let facts = match decrypt::decrypt(file.try_clone()?, encrypted.encryption, d, progress)? {
        decrypt::Decrypted::Stream(mut plain) => {
            plain.encrypted = Some(encrypted);
            plain.compressed_read = size;
            *plain
        }
        decrypt::Decrypted::Broken(why) => {
            encrypted.problem = Some(why);
            StreamFacts {
                encrypted: Some(encrypted),
                ..facts
            }
        }
    };
    Ok((facts, digest))
}

/// [`read`], hashing the file's bytes with `algorithm` in the same pass (a checksum file
/// records the dump's digest): every compressed byte the decoder reads is hashed as it goes
/// by; what the pass does not read (most of a plain dump) is read afterwards. Returns the
/// facts and the digest (lowercase hex).
pub fn read_hashed<R: Read + Seek>(
    file: R,
    size: u64,
    progress: &AtomicU64,
    algorithm: ChecksumAlgorithm,
) -> io::Result<(StreamFacts, String)> {
    let mut hashing = HashingReader::new(file, algorithm);
    let facts = read(&mut hashing, size, progress)?;
    let digest = hashing.finish(progress)?;
    Ok((facts, digest))
}

/// Reads `file` (of `size` bytes: a file, or any seekable reader such as a fuzzer's buffer)
/// and establishes its [`StreamFacts`]. `progress` receives the compressed bytes read so
/// far. Errors are I/O errors of the file itself; what is wrong with the content is a fact.
pub fn read<R: Read + Seek>(
    mut file: R,
    size: u64,
    progress: &AtomicU64,
) -> io::Result<StreamFacts> {
    let mut magic = [0u8; 64];
    let got = decode::read_full(&mut file, &mut magic)?;
    file.seek(SeekFrom::Start(0))?;
    if let Some(encryption) = encrypted::detect(&magic[..got]) {
        // Encrypted: no stream to decode without the key; its structure is walked instead,
        // all of it, with a fixed buffer.
        let mut facts = decode::sample_plain(&mut file, size, Compression::Plain)?;
        file.seek(SeekFrom::Start(0))?;
        let counted = CountingReader::new(file, progress);
        facts.encrypted = Some(encrypted::walk(encryption, counted)?);
        facts.compressed_read = size;
        return Ok(facts);
    }
    if magic[..got].starts_with(b"PGDMP") {
        // A pg_dump custom archive has no trailer to sample: walk all of it instead.
        let mut facts = decode::sample_plain(&mut file, size, Compression::Plain)?;
        file.seek(SeekFrom::Start(0))?;
        let counted = CountingReader::new(file, progress);
        facts.archive = Some(pg_archive::verify(
            BufReader::with_capacity(CHUNK, counted),
            progress,
        )?);
        facts.compressed_read = size;
        return Ok(facts);
    }
    let mut facts = decode::verify_stream(&mut file, size, progress)?;
    // A tar archive (of dumps, or pg_dump -Ft) is walked member by member in a second pass:
    // only tar files pay for it.
    if facts.problem.is_none() && tar::looks_like_tar(&facts.sample.head) {
        file.seek(SeekFrom::Start(0))?;
        facts.tar = Some(tar::walk(decode::reference_decoder(
            facts.compression,
            &mut file,
        )?)?);
    }
    Ok(facts)
}
