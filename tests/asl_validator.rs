//! Every document flowctl generates — the corpus, the examples and the codegen snapshots —
//! passes the `asl-validator` npm package (a second, independent reading of the ASL spec).

use flowctl_tests::{corpus, example_flows, repo_root, validate};
use serde_json::{json, Value};

#[test]
fn corpus_and_examples_pass_asl_validator() {
    let mut docs: Vec<(String, Value)> = corpus::load()
        .iter()
        .map(|f| (format!("corpus-{}", f.name), f.compile()))
        .collect();
    for ex in example_flows() {
        docs.push((format!("example-{}-{}", ex.project, ex.name), ex.compile()));
    }
    assert!(docs.len() >= 22, "only {} documents", docs.len());
    if let Err(report) = validate(&docs) {
        panic!("asl-validator rejected generated documents:\n{report}");
    }
}

/// The bodies of the codegen's insta snapshots (each one a generated document): the
/// compiler's own (`crates/lang/src/asl`) and the fused documents of `cli/tests/fusion_engine.rs`.
#[test]
fn codegen_snapshots_pass_asl_validator() {
    let root = repo_root();
    let mut docs = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(root.join("crates/lang/src/asl/snapshots"))
        .expect("snapshots exist")
        .chain(std::fs::read_dir(root.join("cli/tests/snapshots")).expect("snapshots exist"))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("flowctl_lang__asl__") || name.starts_with("fusion_engine__")
        })
        .collect();
    entries.sort();
    for path in entries
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "snap"))
    {
        let text = std::fs::read_to_string(&path).unwrap();
        // header between the first two `---` lines, then the document
        let body = text
            .splitn(3, "---\n")
            .nth(2)
            .unwrap_or_else(|| panic!("{}: not an insta snapshot", path.display()));
        let doc: Value =
            serde_json::from_str(body).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        docs.push((path.file_stem().unwrap().to_string_lossy().to_string(), doc));
    }
    assert!(docs.len() >= 20, "only {} snapshots", docs.len());
    if let Err(report) = validate(&docs) {
        panic!("asl-validator rejected snapshot documents:\n{report}");
    }
}

/// The validator really validates: a broken document is rejected.
#[test]
fn asl_validator_rejects_a_broken_document() {
    let broken = json!({
        "StartAt": "A",
        "States": { "A": { "Type": "Pass", "Next": "Nowhere" } }
    });
    let report =
        validate(&[("broken".into(), broken)]).expect_err("a Next to a missing state is invalid");
    assert!(
        report.contains("Nowhere") || report.contains("invalid"),
        "{report}"
    );
}

/// The corpus covers what the issue asks for (at least 20 flows, each with cases).
#[test]
fn corpus_is_large_enough() {
    let flows = corpus::load();
    assert!(flows.len() >= 20, "{} corpus flows", flows.len());
    for f in &flows {
        assert!(!f.cases.is_empty(), "{} has no cases", f.name);
        assert!(
            !f.about.is_empty(),
            "{} does not say what it covers",
            f.name
        );
    }
}
