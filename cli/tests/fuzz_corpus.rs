//! The fuzz targets' seed corpora (and any crash artifacts a fuzz run left behind) go through the
//! same calls as `fuzz/fuzz_targets/*.rs` on every `cargo test`, so an input that once made the
//! parser or the manifest loader panic stays fixed without needing nightly or cargo-fuzz.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files directly inside `dir` (none if it does not exist), sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs `target` on every input, returning the inputs that panicked.
fn run(inputs: &[PathBuf], target: fn(&[u8])) -> Vec<String> {
    let mut panicked = Vec::new();
    for path in inputs {
        let data = std::fs::read(path).unwrap();
        if catch_unwind(AssertUnwindSafe(|| target(&data))).is_err() {
            panicked.push(format!(
                "{} ({:?})",
                path.display(),
                String::from_utf8_lossy(&data)
            ));
        }
    }
    panicked
}

#[test]
fn flow_corpus_never_panics() {
    let seeds = files(&fuzz_dir().join("corpus/parse_flow"));
    assert!(seeds.len() >= 10, "the parse_flow seed corpus is missing");
    let mut inputs = seeds;
    inputs.extend(files(&fuzz_dir().join("artifacts/parse_flow")));
    let panicked = run(&inputs, flowctl_lang::fuzzing::flow);
    assert!(
        panicked.is_empty(),
        "the flow front-end panicked on:\n{}",
        panicked.join("\n")
    );
}

#[test]
fn manifest_corpus_never_panics() {
    let seeds = files(&fuzz_dir().join("corpus/load_manifest"));
    assert!(
        seeds.len() >= 10,
        "the load_manifest seed corpus is missing"
    );
    let mut inputs = seeds;
    inputs.extend(files(&fuzz_dir().join("artifacts/load_manifest")));
    let panicked = run(&inputs, flowctl_lang::fuzzing::manifest);
    assert!(
        panicked.is_empty(),
        "the manifest loader panicked on:\n{}",
        panicked.join("\n")
    );
}
