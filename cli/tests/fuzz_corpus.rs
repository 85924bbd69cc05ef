//! The fuzz targets' seed corpora (and any crash artifacts a fuzz run left behind) go through the
//! same calls as `fuzz/fuzz_targets/*.rs` on every `cargo test`, so an input that once made the
//! parser, the manifest loader, the typed checker or the JSON Schema reader panic (or recurse
//! without bound) stays fixed without needing nightly or cargo-fuzz.

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

/// Replays the seeds of `corpus/<target>` (at least ten) and the crash artifacts of
/// `artifacts/<target>` through `call`; fails naming every input that panicked.
fn replay(target: &str, call: fn(&[u8]), what: &str) {
    let seeds = files(&fuzz_dir().join("corpus").join(target));
    assert!(seeds.len() >= 10, "the {target} seed corpus is missing");
    let mut inputs = seeds;
    inputs.extend(files(&fuzz_dir().join("artifacts").join(target)));
    let panicked = run(&inputs, call);
    assert!(
        panicked.is_empty(),
        "{what} panicked on:\n{}",
        panicked.join("\n")
    );
}

#[test]
fn flow_corpus_never_panics() {
    replay(
        "parse_flow",
        flowctl_lang::fuzzing::flow,
        "the flow front-end",
    );
}

#[test]
fn manifest_corpus_never_panics() {
    replay(
        "load_manifest",
        flowctl_lang::fuzzing::manifest,
        "the manifest loader",
    );
}

#[test]
fn typed_flow_corpus_never_panics() {
    replay(
        "typed_flow",
        flowctl_lang::fuzzing::typed_flow,
        "typed checking",
    );
}

#[test]
fn schema_corpus_never_panics() {
    replay(
        "schema",
        flowctl_lang::fuzzing::schema,
        "JSON Schema reading, writing, validation or assignment",
    );
}
