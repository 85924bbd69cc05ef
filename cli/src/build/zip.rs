//! A deterministic zip writer for Lambda deployment packages, and Lambda's `CodeSha256`.
//!
//! The same files always give the same bytes: entries sorted by name, every timestamp
//! 1980-01-01 00:00 (the earliest a zip can say), Unix permissions in the external
//! attributes, no extra fields, no comments, no data descriptors. Lambda reads the mode
//! from the external attributes, so `bootstrap` must carry 0755 there to be executable.
//! Structures as in PKWARE's APPNOTE (local headers, central directory, end record);
//! no Zip64: a Lambda package is far below 4 GiB.

use base64::Engine as _;
use flate2::write::DeflateEncoder;
use flate2::{Compression, Crc};
use sha2::{Digest, Sha256};
use std::io::Write as _;

/// Unix mode of a regular executable file (`-rwxr-xr-x`).
pub const EXECUTABLE: u32 = 0o100_755;
/// Unix mode of a regular file (`-rw-r--r--`).
pub const REGULAR: u32 = 0o100_644;

/// One file of an archive.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// The path inside the archive (`/`-separated, no leading `/`).
    pub name: &'a str,
    pub data: &'a [u8],
    /// The Unix mode, e.g. [`EXECUTABLE`].
    pub mode: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ZipError {
    #[error("`{0}` is in the archive twice")]
    Duplicate(String),
    #[error("`{0}` is not a relative path inside an archive")]
    BadName(String),
    #[error("the archive would be larger than 4 GiB (zip without Zip64)")]
    TooLarge,
}

const LOCAL_HEADER: u32 = 0x0403_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END_OF_CENTRAL_DIRECTORY: u32 = 0x0605_4b50;
/// Version 2.0: deflate and directories.
const VERSION_NEEDED: u16 = 20;
/// High byte 3: the attributes are Unix ones; low byte: the spec version we follow (2.0).
const VERSION_MADE_BY_UNIX: u16 = (3 << 8) | 20;
const STORED: u16 = 0;
const DEFLATED: u16 = 8;
/// 00:00:00 in MS-DOS time.
const DOS_TIME: u16 = 0;
/// 1980-01-01 in MS-DOS date: year since 1980 in bits 9–15, month in 5–8, day in 0–4.
const DOS_DATE: u16 = (1 << 5) | 1;

/// The archive of `entries`, sorted by name, deflated at the best compression (stored when
/// deflating would not make an entry smaller).
pub fn write(entries: &[Entry<'_>]) -> Result<Vec<u8>, ZipError> {
    let mut sorted: Vec<&Entry<'_>> = entries.iter().collect();
    sorted.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    for pair in sorted.windows(2) {
        if pair[0].name == pair[1].name {
            return Err(ZipError::Duplicate(pair[0].name.to_string()));
        }
    }
    let mut out = Vec::new();
    let mut central = Vec::new();
    for entry in &sorted {
        let name = entry.name;
        if name.is_empty()
            || name.starts_with('/')
            || name.split('/').any(|part| part == "..")
            || name.len() > usize::from(u16::MAX)
        {
            return Err(ZipError::BadName(name.to_string()));
        }
        let mut crc = Crc::new();
        crc.update(entry.data);
        let deflated = deflate(entry.data);
        let (method, body) = if deflated.len() < entry.data.len() {
            (DEFLATED, deflated.as_slice())
        } else {
            (STORED, entry.data)
        };
        let offset = u32::try_from(out.len()).map_err(|_| ZipError::TooLarge)?;
        let compressed = u32::try_from(body.len()).map_err(|_| ZipError::TooLarge)?;
        let size = u32::try_from(entry.data.len()).map_err(|_| ZipError::TooLarge)?;
        let name_len = name.len() as u16; // checked above
        let common = |buf: &mut Vec<u8>| {
            put16(buf, VERSION_NEEDED);
            put16(buf, 0); // flags: no encryption, no data descriptor; names are ASCII or raw
            put16(buf, method);
            put16(buf, DOS_TIME);
            put16(buf, DOS_DATE);
            put32(buf, crc.sum());
            put32(buf, compressed);
            put32(buf, size);
            put16(buf, name_len);
            put16(buf, 0); // extra field length
        };

        put32(&mut out, LOCAL_HEADER);
        common(&mut out);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(body);

        put32(&mut central, CENTRAL_HEADER);
        put16(&mut central, VERSION_MADE_BY_UNIX);
        common(&mut central);
        put16(&mut central, 0); // comment length
        put16(&mut central, 0); // disk number
        put16(&mut central, 0); // internal attributes
        put32(&mut central, (entry.mode & 0xffff) << 16);
        put32(&mut central, offset);
        central.extend_from_slice(name.as_bytes());
    }
    let count = u16::try_from(sorted.len()).map_err(|_| ZipError::TooLarge)?;
    let central_offset = u32::try_from(out.len()).map_err(|_| ZipError::TooLarge)?;
    let central_size = u32::try_from(central.len()).map_err(|_| ZipError::TooLarge)?;
    out.extend_from_slice(&central);
    put32(&mut out, END_OF_CENTRAL_DIRECTORY);
    put16(&mut out, 0); // this disk
    put16(&mut out, 0); // the disk where the central directory starts
    put16(&mut out, count);
    put16(&mut out, count);
    put32(&mut out, central_size);
    put32(&mut out, central_offset);
    put16(&mut out, 0); // comment length
    u32::try_from(out.len()).map_err(|_| ZipError::TooLarge)?;
    Ok(out)
}

/// The SHA-256 of `bytes` in base64, as Lambda reports a package's `CodeSha256`.
pub fn code_sha256(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

/// The SHA-256 of `bytes` in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut encoder = DeflateEncoder::new(Vec::with_capacity(data.len() / 2), Compression::best());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

fn put16(buf: &mut Vec<u8>, value: u16) {
    buf.extend_from_slice(&value.to_le_bytes());
}

fn put32(buf: &mut Vec<u8>, value: u32) {
    buf.extend_from_slice(&value.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::DeflateDecoder;
    use std::io::Read as _;

    /// What a reader sees in the central directory: name, unix mode, dos time/date, method,
    /// version made by, and the decompressed data (CRC checked).
    #[derive(Debug, PartialEq)]
    struct ReadEntry {
        name: String,
        mode: u32,
        time: u16,
        date: u16,
        method: u16,
        made_by: u16,
        data: Vec<u8>,
    }

    fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([b[at], b[at + 1]])
    }
    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    /// An independent reader: from the end record through the central directory to each
    /// local header, as unzip does.
    fn read(zip: &[u8]) -> Vec<ReadEntry> {
        let end = zip.len() - 22;
        assert_eq!(u32_at(zip, end), END_OF_CENTRAL_DIRECTORY);
        let count = u16_at(zip, end + 10) as usize;
        let size = u32_at(zip, end + 12) as usize;
        let mut at = u32_at(zip, end + 16) as usize;
        assert_eq!(
            at + size,
            end,
            "the central directory ends where the end record starts"
        );
        let mut entries = Vec::new();
        for _ in 0..count {
            assert_eq!(u32_at(zip, at), CENTRAL_HEADER);
            let made_by = u16_at(zip, at + 4);
            let method = u16_at(zip, at + 10);
            let time = u16_at(zip, at + 12);
            let date = u16_at(zip, at + 14);
            let crc = u32_at(zip, at + 16);
            let csize = u32_at(zip, at + 20) as usize;
            let usize_ = u32_at(zip, at + 24) as usize;
            let name_len = u16_at(zip, at + 28) as usize;
            let extra = u16_at(zip, at + 30) as usize;
            let comment = u16_at(zip, at + 32) as usize;
            let external = u32_at(zip, at + 38);
            let local = u32_at(zip, at + 42) as usize;
            let name = String::from_utf8(zip[at + 46..at + 46 + name_len].to_vec()).unwrap();
            assert_eq!(u32_at(zip, local), LOCAL_HEADER);
            assert_eq!(u32_at(zip, local + 14), crc, "local and central CRC agree");
            let local_name = u16_at(zip, local + 26) as usize;
            let local_extra = u16_at(zip, local + 28) as usize;
            let start = local + 30 + local_name + local_extra;
            let body = &zip[start..start + csize];
            let data = match method {
                STORED => body.to_vec(),
                DEFLATED => {
                    let mut out = Vec::new();
                    DeflateDecoder::new(body).read_to_end(&mut out).unwrap();
                    out
                }
                other => panic!("method {other}"),
            };
            assert_eq!(data.len(), usize_);
            let mut check = Crc::new();
            check.update(&data);
            assert_eq!(check.sum(), crc, "CRC of {name}");
            entries.push(ReadEntry {
                name,
                mode: external >> 16,
                time,
                date,
                method,
                made_by,
                data,
            });
            at += 46 + name_len + extra + comment;
        }
        entries
    }

    fn sample_binary() -> Vec<u8> {
        // Compressible but not trivial: a repeating pattern with some noise.
        (0..200_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 27) as u8 ^ (i % 7) as u8)
            .collect()
    }

    #[test]
    fn the_same_files_give_the_same_bytes_in_any_order() {
        let data = sample_binary();
        let a = write(&[
            Entry {
                name: "bootstrap",
                data: &data,
                mode: EXECUTABLE,
            },
            Entry {
                name: "README",
                data: b"hello\n",
                mode: REGULAR,
            },
        ])
        .unwrap();
        let b = write(&[
            Entry {
                name: "README",
                data: b"hello\n",
                mode: REGULAR,
            },
            Entry {
                name: "bootstrap",
                data: &data,
                mode: EXECUTABLE,
            },
        ])
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(code_sha256(&a), code_sha256(&b));
    }

    #[test]
    fn entries_are_sorted_executable_and_dated_1980() {
        let data = sample_binary();
        let zip = write(&[
            Entry {
                name: "bootstrap",
                data: &data,
                mode: EXECUTABLE,
            },
            Entry {
                name: "a.txt",
                data: b"x",
                mode: REGULAR,
            },
        ])
        .unwrap();
        let entries = read(&zip);
        let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["a.txt", "bootstrap"]);
        let boot = &entries[1];
        assert_eq!(boot.mode, 0o100_755);
        assert_eq!(boot.made_by >> 8, 3, "made by Unix, so the mode is read");
        assert_eq!(boot.method, DEFLATED);
        assert_eq!(boot.data, data);
        assert_eq!((boot.time, boot.date), (0, 0x0021), "1980-01-01 00:00");
        // a one-byte file does not deflate smaller: stored
        assert_eq!(entries[0].method, STORED);
        assert_eq!(entries[0].data, b"x");
    }

    #[test]
    fn code_sha256_is_base64_of_the_sha256_of_the_zip() {
        // Known answers: SHA-256("") and SHA-256("abc") from FIPS 180-2, in base64.
        assert_eq!(
            code_sha256(b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(
            code_sha256(b"abc"),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // An empty archive is just the end record: 22 bytes, a fixed SHA.
        let empty = write(&[]).unwrap();
        assert_eq!(empty.len(), 22);
        assert_eq!(code_sha256(&empty), code_sha256(&empty.clone()));
    }

    #[test]
    fn bad_archives_are_refused() {
        let e = |name| Entry {
            name,
            data: b"",
            mode: REGULAR,
        };
        assert_eq!(
            write(&[e("x"), e("x")]),
            Err(ZipError::Duplicate("x".into()))
        );
        assert!(matches!(
            write(&[e("/etc/passwd")]),
            Err(ZipError::BadName(_))
        ));
        assert!(matches!(
            write(&[e("a/../../b")]),
            Err(ZipError::BadName(_))
        ));
        assert!(matches!(write(&[e("")]), Err(ZipError::BadName(_))));
    }
}
