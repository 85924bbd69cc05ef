//! Reads what a Linux executable needs from the C library: its machine and the glibc symbol
//! versions it requires (the `.gnu.version_r` section), so that a binary Lambda's runtime
//! could not start is refused at build time instead of failing at its first invocation.
//!
//! The parsing is the `object` crate's (gimli-rs, what std's backtraces read ELF with; fuzzed
//! upstream): every offset checked, every list bounded by its section. Only 64-bit
//! little-endian ELF is read (Lambda runs x86_64 and arm64, both little-endian); anything else
//! is an error, never a guess.

use object::elf;
use object::read::elf::{FileHeader as _, ProgramHeader as _, SectionTable, Sym as _};
use object::LittleEndian;
use std::fmt;

/// The newest glibc of Lambda's `provided.al2023` runtime (Amazon Linux 2023).
pub const LAMBDA_GLIBC: GlibcVersion = GlibcVersion {
    major: 2,
    minor: 34,
    patch: 0,
};

/// The instruction set an executable is built for (`e_machine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machine {
    X86_64,
    Aarch64,
    Other(u16),
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Machine::X86_64 => f.write_str("x86_64"),
            Machine::Aarch64 => f.write_str("aarch64 (arm64)"),
            Machine::Other(code) => write!(f, "ELF machine {code}"),
        }
    }
}

/// A glibc symbol version such as `GLIBC_2.34` (ordered numerically: 2.9 < 2.34).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GlibcVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl GlibcVersion {
    /// `GLIBC_2.34` → 2.34; `None` for other version names (`GLIBC_PRIVATE`, `GCC_3.0`).
    pub fn parse(name: &str) -> Option<GlibcVersion> {
        let rest = name.strip_prefix("GLIBC_")?;
        let mut parts = rest.split('.');
        let number = |s: Option<&str>| -> Option<u32> {
            let s = s?;
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            s.parse().ok()
        };
        let major = number(parts.next())?;
        let minor = number(parts.next())?;
        let patch = match parts.next() {
            None => 0,
            some => number(some)?,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(GlibcVersion {
            major,
            minor,
            patch,
        })
    }
}

impl fmt::Display for GlibcVersion {
    /// The symbol version name: `GLIBC_2.34`, `GLIBC_2.2.5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GLIBC_{}.{}", self.major, self.minor)?;
        if self.patch != 0 {
            write!(f, ".{}", self.patch)?;
        }
        Ok(())
    }
}

/// What an executable needs to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfInfo {
    pub machine: Machine,
    /// Whether it names a dynamic loader (`PT_INTERP`); a static binary needs no libc.
    pub dynamic: bool,
    /// The newest glibc symbol version it requires; `None` when it requires none.
    pub glibc_max: Option<GlibcVersion>,
    /// The undefined symbols bound to `glibc_max` (what pulls the requirement up), sorted.
    pub glibc_max_symbols: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElfError {
    #[error("not an ELF executable")]
    NotElf,
    #[error("a {0} ELF file; Lambda runs 64-bit little-endian executables")]
    Unsupported(&'static str),
    #[error("a malformed ELF file ({0})")]
    Malformed(String),
}

type Header = elf::FileHeader64<LittleEndian>;

/// `object` names what it could not read; that is the reason given.
fn malformed(error: object::read::Error) -> ElfError {
    ElfError::Malformed(error.to_string())
}

/// Reads `bytes` as an executable.
pub fn inspect(bytes: &[u8]) -> Result<ElfInfo, ElfError> {
    if bytes.get(..4) != Some(b"\x7fELF".as_slice()) {
        return Err(ElfError::NotElf);
    }
    // Refused before parsing, with the reason a user can act on: `e_ident[EI_CLASS]`, then
    // `e_ident[EI_DATA]`.
    match bytes.get(4).copied() {
        Some(class) if class == elf::ELFCLASS64.0 => {}
        Some(class) if class == elf::ELFCLASS32.0 => return Err(ElfError::Unsupported("32-bit")),
        _ => return Err(ElfError::Malformed("unknown class".into())),
    }
    match bytes.get(5).copied() {
        Some(data) if data == elf::ELFDATA2LSB.0 => {}
        Some(data) if data == elf::ELFDATA2MSB.0 => {
            return Err(ElfError::Unsupported("big-endian"))
        }
        _ => return Err(ElfError::Malformed("unknown byte order".into())),
    }
    let endian = LittleEndian;
    let header = Header::parse(bytes).map_err(malformed)?;
    let machine = match header.e_machine(endian) {
        elf::EM_X86_64 => Machine::X86_64,
        elf::EM_AARCH64 => Machine::Aarch64,
        other => Machine::Other(other.0),
    };
    let dynamic = header
        .program_headers(endian, bytes)
        .map_err(malformed)?
        .iter()
        .any(|p| p.p_type(endian) == elf::PT_INTERP);
    let sections = header.sections(endian, bytes).map_err(malformed)?;
    let Some((mut needs, strings)) = sections.gnu_verneed(endian, bytes).map_err(malformed)? else {
        if dynamic && sections.is_empty() {
            return Err(ElfError::Malformed(
                "dynamically linked, but without section headers to read its glibc versions from"
                    .into(),
            ));
        }
        return Ok(ElfInfo {
            machine,
            dynamic,
            glibc_max: None,
            glibc_max_symbols: Vec::new(),
        });
    };
    let strings = sections
        .strings(endian, bytes, strings)
        .map_err(malformed)?;

    // Every version needed: its glibc version if it is one, and its index (the value
    // `.gnu.version` gives the symbols bound to it).
    let mut versions: Vec<(Option<GlibcVersion>, u16)> = Vec::new();
    while let Some((_, mut aux)) = needs.next().map_err(malformed)? {
        while let Some(need) = aux.next().map_err(malformed)? {
            let name = need.name(endian, strings).map_err(malformed)?;
            let version = std::str::from_utf8(name).ok().and_then(GlibcVersion::parse);
            versions.push((version, need.vna_other.get(endian).0 & elf::VERSYM_VERSION));
        }
    }
    let glibc_max = versions.iter().filter_map(|(v, _)| *v).max();
    let mut glibc_max_symbols = Vec::new();
    if let Some(max) = glibc_max {
        let indexes: Vec<u16> = versions
            .iter()
            .filter(|(v, _)| *v == Some(max))
            .map(|(_, index)| *index)
            .collect();
        glibc_max_symbols = symbols_with_version(&sections, bytes, &indexes)?;
    }
    Ok(ElfInfo {
        machine,
        dynamic,
        glibc_max,
        glibc_max_symbols,
    })
}

/// Names of the undefined dynamic symbols whose version index is one of `indexes`, sorted.
fn symbols_with_version(
    sections: &SectionTable<'_, Header>,
    bytes: &[u8],
    indexes: &[u16],
) -> Result<Vec<String>, ElfError> {
    let endian = LittleEndian;
    let Some((versym, _)) = sections.gnu_versym(endian, bytes).map_err(malformed)? else {
        return Ok(Vec::new());
    };
    let symbols = sections
        .symbols(endian, bytes, elf::SHT_DYNSYM)
        .map_err(malformed)?;
    let mut names = Vec::new();
    for (symbol, version) in symbols.symbols().iter().zip(versym) {
        let version = version.0.get(endian).index().0;
        if symbol.is_undefined(endian) && indexes.contains(&version) {
            let name = symbol.name(endian, symbols.strings()).map_err(malformed)?;
            names.push(String::from_utf8_lossy(name).into_owned());
        }
    }
    names.sort();
    names.dedup();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    const PT_INTERP: u32 = elf::PT_INTERP.0;
    const SHT_DYNSYM: u32 = elf::SHT_DYNSYM.0;
    const SHT_GNU_VERSYM: u32 = elf::SHT_GNU_VERSYM.0;
    const SHT_GNU_VERNEED: u32 = elf::SHT_GNU_VERNEED.0;
    const EM_X86_64: u16 = elf::EM_X86_64.0;
    const EM_AARCH64: u16 = elf::EM_AARCH64.0;

    #[test]
    fn glibc_versions_parse_and_order_numerically() {
        let v = |s| GlibcVersion::parse(s).unwrap();
        assert!(v("GLIBC_2.9") < v("GLIBC_2.34"));
        assert!(v("GLIBC_2.2.5") < v("GLIBC_2.3"));
        assert_eq!(v("GLIBC_2.2.5").to_string(), "GLIBC_2.2.5");
        assert_eq!(v("GLIBC_2.34"), LAMBDA_GLIBC);
        assert_eq!(LAMBDA_GLIBC.to_string(), "GLIBC_2.34");
        for bad in [
            "GLIBC_PRIVATE",
            "GCC_3.0",
            "GLIBC_2",
            "GLIBC_2.",
            "GLIBC_2.x",
            "GLIBC_2.3.4.5",
            "GLIBC_+2.3",
        ] {
            assert_eq!(GlibcVersion::parse(bad), None, "{bad}");
        }
    }

    /// A minimal x86_64 executable: one PT_INTERP program header, and sections
    /// [null, .dynstr, .dynsym, .gnu.version, .gnu.version_r] needing GLIBC_2.2.5 and
    /// `newest` from libc.so.6, with symbols `memcpy` (2.2.5), `newthing` (newest) and a
    /// defined `main` that carries the newest index but must not count.
    fn crafted(newest: &str, machine: u16) -> Vec<u8> {
        let mut dynstr = vec![0u8];
        let mut add = |s: &str| {
            let at = dynstr.len() as u32;
            dynstr.extend_from_slice(s.as_bytes());
            dynstr.push(0);
            at
        };
        let libc = add("libc.so.6");
        let old = add("GLIBC_2.2.5");
        let new = add(newest);
        let memcpy = add("memcpy");
        let newthing = add("newthing");
        let main = add("main");

        let mut dynsym = vec![0u8; 24]; // symbol 0 is null
        for (name, shndx) in [(memcpy, 0u16), (newthing, 0), (main, 5)] {
            let mut s = vec![0u8; 24];
            s[0..4].copy_from_slice(&name.to_le_bytes());
            s[6..8].copy_from_slice(&shndx.to_le_bytes());
            dynsym.extend(s);
        }
        let versym: Vec<u8> = [0u16, 2, 3, 3]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();

        let mut verneed = Vec::new();
        verneed.extend(1u16.to_le_bytes()); // vn_version
        verneed.extend(2u16.to_le_bytes()); // vn_cnt
        verneed.extend(libc.to_le_bytes()); // vn_file
        verneed.extend(16u32.to_le_bytes()); // vn_aux
        verneed.extend(0u32.to_le_bytes()); // vn_next
        for (i, (name, index)) in [(old, 2u16), (new, 3u16)].iter().enumerate() {
            verneed.extend(0u32.to_le_bytes()); // hash (unchecked)
            verneed.extend(0u16.to_le_bytes()); // flags
            verneed.extend(index.to_le_bytes()); // other = version index
            verneed.extend(name.to_le_bytes());
            verneed.extend((if i == 0 { 16u32 } else { 0 }).to_le_bytes());
        }

        let mut file = vec![0u8; 64];
        file[..4].copy_from_slice(b"\x7fELF");
        file[4] = 2; // 64-bit
        file[5] = 1; // little-endian
        file[6] = 1;
        file[0x10..0x12].copy_from_slice(&3u16.to_le_bytes()); // ET_DYN
        file[0x12..0x14].copy_from_slice(&machine.to_le_bytes());
        // one program header right after the ELF header
        file[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        file[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        file[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
        let mut phdr = vec![0u8; 56];
        phdr[0..4].copy_from_slice(&PT_INTERP.to_le_bytes());
        file.extend(phdr);

        let place = |data: &[u8], file: &mut Vec<u8>| {
            let at = file.len();
            file.extend_from_slice(data);
            (at, data.len())
        };
        let s_dynstr = place(&dynstr, &mut file);
        let s_dynsym = place(&dynsym, &mut file);
        let s_versym = place(&versym, &mut file);
        let s_verneed = place(&verneed, &mut file);

        let shoff = file.len();
        let header = |kind: u32, (offset, size): (usize, usize), link: u32| {
            let mut h = vec![0u8; 64];
            h[4..8].copy_from_slice(&kind.to_le_bytes());
            h[24..32].copy_from_slice(&(offset as u64).to_le_bytes());
            h[32..40].copy_from_slice(&(size as u64).to_le_bytes());
            h[40..44].copy_from_slice(&link.to_le_bytes());
            h
        };
        file.extend(vec![0u8; 64]);
        file.extend(header(3, s_dynstr, 0)); // SHT_STRTAB
        file.extend(header(SHT_DYNSYM, s_dynsym, 1));
        file.extend(header(SHT_GNU_VERSYM, s_versym, 2));
        file.extend(header(SHT_GNU_VERNEED, s_verneed, 1));
        file[0x28..0x30].copy_from_slice(&(shoff as u64).to_le_bytes());
        file[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        file[0x3c..0x3e].copy_from_slice(&5u16.to_le_bytes());
        // Section names come from a string table too (e_shstrndx); the dynamic one will do.
        file[0x3e..0x40].copy_from_slice(&1u16.to_le_bytes());
        file
    }

    #[test]
    fn a_crafted_executable_reports_its_newest_glibc_and_the_symbols_behind_it() {
        let info = inspect(&crafted("GLIBC_2.39", EM_X86_64)).unwrap();
        assert_eq!(info.machine, Machine::X86_64);
        assert!(info.dynamic);
        assert_eq!(info.glibc_max, GlibcVersion::parse("GLIBC_2.39"));
        assert_eq!(info.glibc_max_symbols, ["newthing"]);

        let arm = inspect(&crafted("GLIBC_2.17", EM_AARCH64)).unwrap();
        assert_eq!(arm.machine, Machine::Aarch64);
        assert_eq!(arm.glibc_max, GlibcVersion::parse("GLIBC_2.17"));
    }

    #[test]
    fn non_glibc_versions_do_not_count() {
        let info = inspect(&crafted("GLIBC_PRIVATE", EM_X86_64)).unwrap();
        assert_eq!(info.glibc_max, GlibcVersion::parse("GLIBC_2.2.5"));
        assert_eq!(info.glibc_max_symbols, ["memcpy"]);
    }

    #[test]
    fn every_truncation_and_corruption_is_an_error_not_a_panic() {
        let good = crafted("GLIBC_2.39", EM_X86_64);
        for len in 0..good.len() {
            let _ = inspect(&good[..len]);
        }
        // Flip each byte of the headers and tables to a few values.
        for at in 0..good.len() {
            for value in [0u8, 0x7f, 0xff, 1] {
                let mut bad = good.clone();
                bad[at] = value;
                let _ = inspect(&bad);
            }
        }
        assert_eq!(inspect(b"#!/bin/sh\n"), Err(ElfError::NotElf));
        let mut small = good.clone();
        small[4] = 1;
        assert_eq!(inspect(&small), Err(ElfError::Unsupported("32-bit")));
        let mut big = good;
        big[5] = 2;
        assert_eq!(inspect(&big), Err(ElfError::Unsupported("big-endian")));
    }

    #[test]
    fn a_verneed_chain_that_runs_into_its_own_entries_ends() {
        let mut file = crafted("GLIBC_2.39", EM_X86_64);
        // vn_next of the only Verneed pointing at its first Vernaux: the walk reads entries
        // as the wrong kind of record and must still stop (offsets only grow, and a budget
        // bounds the steps).
        let shoff = u64::from_le_bytes(file[0x28..0x30].try_into().unwrap()) as usize;
        let verneed_header = shoff + 4 * 64;
        let offset = u64::from_le_bytes(
            file[verneed_header + 24..verneed_header + 32]
                .try_into()
                .unwrap(),
        ) as usize;
        file[offset + 12..offset + 16].copy_from_slice(&16u32.to_le_bytes());
        let _ = inspect(&file);
    }

    /// The test binary itself: built here, on this machine, against its glibc.
    #[test]
    fn this_test_binary_is_read() {
        let exe = std::env::current_exe().unwrap();
        let bytes = std::fs::read(&exe).unwrap();
        let info = inspect(&bytes).unwrap();
        let expected = if cfg!(target_arch = "x86_64") {
            Machine::X86_64
        } else if cfg!(target_arch = "aarch64") {
            Machine::Aarch64
        } else {
            info.machine
        };
        assert_eq!(info.machine, expected);
        if cfg!(all(target_os = "linux", target_env = "gnu")) {
            assert!(info.dynamic);
            let max = info
                .glibc_max
                .expect("a glibc binary needs some GLIBC_ version");
            assert!(max >= GlibcVersion::parse("GLIBC_2.2.5").unwrap(), "{max}");
            assert!(!info.glibc_max_symbols.is_empty());
            // Cross-check with binutils when it is installed (it is on the CI image).
            if let Ok(out) = std::process::Command::new("readelf")
                .arg("-V")
                .arg(&exe)
                .output()
            {
                let text = String::from_utf8_lossy(&out.stdout);
                let readelf_max = text
                    .split(|c: char| c.is_whitespace())
                    .filter_map(GlibcVersion::parse)
                    .max();
                assert_eq!(Some(max), readelf_max);
            }
        }
    }

    #[test]
    fn bin_ls_is_read() {
        let Ok(bytes) = std::fs::read("/bin/ls") else {
            return; // not a Linux system
        };
        let info = inspect(&bytes).unwrap();
        if cfg!(all(
            target_os = "linux",
            target_env = "gnu",
            target_arch = "x86_64"
        )) {
            assert_eq!(info.machine, Machine::X86_64);
            assert!(info.glibc_max.is_some());
        }
    }
}
