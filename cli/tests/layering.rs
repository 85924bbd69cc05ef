//! The crate boundaries hold: each library crate's normal dependencies (as `cargo tree` resolves
//! them, features and all) stay inside its layer. A dependency added against the architecture
//! fails here, not in review.

use std::collections::BTreeSet;
use std::process::Command;

/// Every crate in the normal dependency tree of `package`.
fn normal_dependencies(package: &str) -> BTreeSet<String> {
    let output = Command::new(env!("CARGO"))
        .args([
            "tree",
            // Not `--offline`: cargo tree reads the manifest of every package in the lock, also
            // those no build on this platform downloads, so a cold cache must fetch them.
            "--locked", "-e", "normal", "--prefix", "none",
        ])
        .args(["--format", "{p}", "-p", package])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

fn offending<'a>(deps: &'a BTreeSet<String>, forbidden: &[&str]) -> Vec<&'a String> {
    deps.iter()
        .filter(|d| {
            forbidden
                .iter()
                .any(|f| d.as_str() == *f || (f.ends_with('-') && d.starts_with(f)))
        })
        .collect()
}

#[test]
fn the_front_end_has_no_runtime_network_or_aws() {
    let deps = normal_dependencies("flowctl-lang");
    assert!(deps.contains("serde_yaml"), "{deps:?}");
    let found = offending(
        &deps,
        &["aws-", "tokio", "hyper", "anyhow", "lambda_runtime"],
    );
    assert!(found.is_empty(), "flowctl-lang depends on {found:?}");
}

#[test]
fn the_engine_has_no_compiler_and_no_aws() {
    let deps = normal_dependencies("flowctl-engine");
    assert!(deps.contains("tokio"), "{deps:?}");
    let found = offending(
        &deps,
        &[
            "aws-",
            "flowctl-lang",
            "flowctl-aws",
            "anyhow",
            "lambda_runtime",
            "hyper",
        ],
    );
    assert!(found.is_empty(), "flowctl-engine depends on {found:?}");
}

#[test]
fn the_shared_facts_depend_on_nothing_of_flowctl_or_lambda() {
    let deps = normal_dependencies("flowctl-protocol");
    let found = offending(
        &deps,
        &[
            "flowctl-lang",
            "flowctl-engine",
            "flowctl-shim",
            "lambda_runtime",
            "tokio",
            "aws-",
        ],
    );
    assert!(found.is_empty(), "flowctl-protocol depends on {found:?}");
}

#[test]
fn only_the_aws_crate_the_subscriber_and_the_binary_reach_the_sdk() {
    for package in [
        "flowctl-lang",
        "flowctl-engine",
        "flowctl-protocol",
        "flowctl-shim",
    ] {
        let deps = normal_dependencies(package);
        let found = offending(&deps, &["aws-sdk-", "aws-config"]);
        assert!(found.is_empty(), "{package} depends on {found:?}");
    }
    assert!(normal_dependencies("flowctl-aws").contains("aws-sdk-sfn"));
    let lib_crates_with_anyhow: Vec<&str> = ["flowctl-aws", "flowctl-shim", "flowctl-subscriber"]
        .into_iter()
        .filter(|p| normal_dependencies(p).contains("anyhow"))
        .collect();
    assert!(
        lib_crates_with_anyhow.is_empty(),
        "anyhow belongs to the binary only: {lib_crates_with_anyhow:?}"
    );
}

#[test]
fn the_events_runtime_knows_neither_the_engine_nor_aws() {
    let deps = normal_dependencies("flowctl-events");
    assert!(deps.contains("rusqlite"), "{deps:?}");
    let found = offending(
        &deps,
        &[
            "flowctl-engine",
            "flowctl-aws",
            "aws-sdk-",
            "aws-config",
            "anyhow",
            "lambda_runtime",
        ],
    );
    assert!(found.is_empty(), "flowctl-events depends on {found:?}");
}

#[test]
fn the_deployed_subscriber_knows_only_the_protocol_and_the_sdk() {
    let deps = normal_dependencies("flowctl-subscriber");
    assert!(
        deps.contains("aws-sdk-sqs") && deps.contains("flowctl-protocol"),
        "{deps:?}"
    );
    let found = offending(
        &deps,
        &[
            "flowctl-lang",
            "flowctl-engine",
            "flowctl-events",
            "flowctl-aws",
            "flowctl-shim",
            "anyhow",
            "rusqlite",
        ],
    );
    assert!(found.is_empty(), "flowctl-subscriber depends on {found:?}");
}

#[test]
fn the_test_runner_runs_documents_and_reaches_nothing_outside() {
    let deps = normal_dependencies("flowctl-testing");
    assert!(
        deps.contains("flowctl-engine") && deps.contains("flowctl-lang"),
        "{deps:?}"
    );
    let found = offending(
        &deps,
        &[
            "flowctl-aws",
            "flowctl-events",
            "flowctl-shim",
            "flowctl-subscriber",
            "aws-",
            "hyper",
            "anyhow",
            "lambda_runtime",
            "rusqlite",
        ],
    );
    assert!(found.is_empty(), "flowctl-testing depends on {found:?}");
}
