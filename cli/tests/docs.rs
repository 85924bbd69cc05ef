//! The README documents every diagnostic code the code can emit (so CI users can look them up).

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Codes written as `"X123"` string literals in the sources of the binary and the front-end.
fn codes_in_source() -> std::collections::BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "../crates/lang/src", "../crates/testing/src"] {
        rust_files(&root.join(dir), &mut files);
    }
    let mut codes = std::collections::BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let bytes = text.as_bytes();
        for i in 0..bytes.len().saturating_sub(5) {
            let w = &bytes[i..i + 6];
            if w[0] == b'"'
                && b"FCMAT".contains(&w[1])
                && w[2..5].iter().all(u8::is_ascii_digit)
                && w[5] == b'"'
            {
                codes.insert(String::from_utf8(w[1..5].to_vec()).unwrap());
            }
        }
    }
    codes
}

#[test]
fn every_diagnostic_code_is_in_the_readme() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let codes = codes_in_source();
    assert!(codes.len() > 40, "found only {codes:?}");
    let missing: Vec<_> = codes
        .iter()
        .filter(|c| !readme.contains(&format!("| {c} |")))
        .collect();
    assert!(
        missing.is_empty(),
        "codes missing from the README's tables: {missing:?}"
    );
}
