//! The fuzz targets' seed corpora (and any crash artifacts a fuzz run left behind) go through the
//! same calls as `fuzz/fuzz_targets/*.rs` on every `cargo test`, so an input that once made the
//! parser, the manifest loader, the typed checker, the JSON Schema reader, the test-file reader
//! the MockConfigFile reader, the ASL loader or the JSONata evaluator panic (or recurse without bound) stays fixed without needing
//! nightly or cargo-fuzz.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// The bodies of the `flowctl-testing` targets (`test_file`, `mock_config`), which include the
/// same file.
#[path = "../../fuzz/src/testing.rs"]
mod testing;

/// The bodies of the engine's targets (`asl_document`, `jsonata`).
#[path = "../../fuzz/src/engine.rs"]
mod engine;

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

#[test]
fn test_file_corpus_never_panics() {
    replay(
        "test_file",
        testing::test_file,
        "the test-file or snapshot-file reader",
    );
}

#[test]
fn mock_config_corpus_never_panics() {
    replay(
        "mock_config",
        testing::mock_config,
        "the MockConfigFile reader",
    );
}

/// The seed at `corpus/<target>/<name>`, as text.
fn seed(target: &str, name: &str) -> String {
    let path = fuzz_dir().join("corpus").join(target).join(name);
    String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned()
}

/// The hostile test-file seeds do not merely not panic: aliases that would expand to a billion
/// values and nesting far past serde_yaml's limit (flow and block style) are refused with one
/// T001 placed in the text, and the wide ones (10,000 cases, a 1 MB case name) read whole.
#[test]
fn hostile_test_files_fail_with_a_diagnostic_or_read_whole() {
    let functions: Vec<String> = testing::FUNCTIONS.iter().map(|f| f.to_string()).collect();
    let parse = |name: &str| {
        let text = seed("test_file", name);
        let parsed = flowctl_testing::cases::parse(&text, testing::FLOW, &functions);
        (text, parsed)
    };
    for (name, says) in [
        ("seed-billion-laughs.yaml", "repetition limit exceeded"),
        ("seed-deep-flow-brackets.yaml", "recursion limit exceeded"),
        ("seed-deep-flow-braces.yaml", "recursion limit exceeded"),
        ("seed-deep-flow-closed.yaml", "recursion limit exceeded"),
        ("seed-deep-block.yaml", "recursion limit exceeded"),
        ("seed-deep-block-seq.yaml", "recursion limit exceeded"),
        ("seed-deep-input-130.yaml", "recursion limit exceeded"),
        ("seed-snapshot-too-deep.json", "recursion limit exceeded"),
    ] {
        let (text, parsed) = parse(name);
        let diagnostics = parsed.expect_err(name);
        assert_eq!(diagnostics.len(), 1, "{name}: {diagnostics:?}");
        let d = &diagnostics[0];
        assert_eq!(d.code, "T001", "{name}: {d:?}");
        assert!(d.text.contains(says), "{name}: {d:?}");
        assert!(
            d.span.start <= d.span.end && d.span.end as usize <= text.len(),
            "{name}: {d:?}"
        );
    }
    let (_, deepest) = parse("seed-deep-input-127.yaml");
    assert_eq!(deepest.expect("120 nested lists read").cases.len(), 1);
    let (_, wide) = parse("seed-wide-cases.yaml");
    assert_eq!(wide.expect("10,000 cases read").cases.len(), 10_000);
    let (_, long) = parse("seed-long-string.yaml");
    assert_eq!(
        long.expect("a 1 MB name reads").cases[0].name.len(),
        1 << 20
    );
    let snapshot = seed("test_file", "seed-snapshot-too-deep.json");
    let diagnostics = flowctl_testing::snapshot::Snapshots::parse(&snapshot).unwrap_err();
    assert_eq!(diagnostics[0].code, "T020");
}

/// Likewise for MockConfigFiles: nesting past serde_json's limit is one T100; 10,000 test
/// cases and 10,000 invocation ranges read.
#[test]
fn hostile_mock_configs_fail_with_a_diagnostic_or_read_whole() {
    for name in [
        "seed-deep-brackets.json",
        "seed-deep-braces.json",
        "seed-deep-return-closed.json",
    ] {
        let text = seed("mock_config", name);
        let diagnostics = flowctl_testing::mock_config::parse(&text).expect_err(name);
        assert_eq!(diagnostics.len(), 1, "{name}: {diagnostics:?}");
        assert_eq!(diagnostics[0].code, "T100", "{name}: {diagnostics:?}");
        assert!(
            diagnostics[0].text.contains("recursion limit exceeded"),
            "{name}: {diagnostics:?}"
        );
    }
    let wide = flowctl_testing::mock_config::parse(&seed("mock_config", "seed-wide-cases.json"))
        .expect("10,000 test cases read");
    assert_eq!(
        wide.state_machines["LambdaSQSIntegration"].test_cases.len(),
        10_000
    );
    assert_eq!(wide.responses["S"].calls(), 4_294_967_297);
    let invocations = seed("mock_config", "seed-wide-invocations.json");
    let diagnostics = flowctl_testing::mock_config::parse(&invocations).unwrap_err();
    assert!(
        diagnostics.iter().all(|d| d.code == "T102"),
        "{diagnostics:?}"
    );
}

#[test]
fn asl_document_corpus_never_panics() {
    replay("asl_document", engine::asl_document, "the ASL loader");
}

#[test]
fn jsonata_corpus_never_panics() {
    replay("jsonata", engine::jsonata, "the JSONata evaluator");
}
