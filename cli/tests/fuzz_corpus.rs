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

fn parse_flow(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let (file, _) = flowctl::flow::parse(text);
        if let Some(file) = file {
            let _ = flowctl::flow::check(
                &file,
                &flowctl::flow::KnownFunctions::new("demo", ["A", "B"]),
            );
        }
    }
}

fn load_manifest(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let (manifest, _) = flowctl::manifest::parse(text);
        // The locator also answers on text that is not valid YAML.
        let _ = flowctl::manifest::locate::find(text, &["functions", "A", "env"]);
        if let Some(manifest) = manifest {
            let _ =
                flowctl::manifest::check_files(&manifest, text, |p| p.as_os_str().len() % 2 == 0);
        }
    }
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
    let panicked = run(&inputs, parse_flow);
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
    let panicked = run(&inputs, load_manifest);
    assert!(
        panicked.is_empty(),
        "the manifest loader panicked on:\n{}",
        panicked.join("\n")
    );
}
