//! `flowctl fmt` on every `.flow` file in the repository: formatting is idempotent and never
//! changes the program or its comments. Files the parser rejects (the invalid-case corpus)
//! are skipped: `fmt` does not format broken files.

use flowctl_lang::flow::fmt::{erase_spans, format};
use flowctl_lang::flow::parse;
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `*.flow` under `dir`, skipping `target/` and hidden directories, in a stable order.
fn flow_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                flow_files(&path, out);
            }
        } else if name.ends_with(".flow") {
            out.push(path);
        }
    }
}

/// The program (spans aside) and the comment texts of a source that parses cleanly.
fn program(src: &str) -> (String, Vec<String>) {
    let (file, diagnostics) = parse(src);
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    let file = file.expect("no diagnostics, so a file");
    let comments = file
        .comments
        .iter()
        .map(|c| c.text.trim_end().to_string())
        .collect();
    (erase_spans(&format!("{:?}", file.flow)), comments)
}

#[test]
fn every_flow_file_formats_idempotently_to_the_same_program() {
    let root = repo_root();
    let mut files = Vec::new();
    flow_files(&root, &mut files);
    let mut checked = 0;
    let mut failures = Vec::new();
    for path in &files {
        let shown = path
            .strip_prefix(&root)
            .unwrap_or(path)
            .display()
            .to_string();
        let src = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{shown}: {e}"));
        if !parse(&src).1.is_empty() {
            continue;
        }
        checked += 1;
        let once = match format(&src) {
            Ok(out) => out,
            Err(diags) => {
                failures.push(format!("{shown}: not formatted: {diags:#?}"));
                continue;
            }
        };
        match format(&once) {
            Ok(twice) if twice == once => {}
            Ok(twice) => failures.push(format!(
                "{shown}: not idempotent:\n--- once\n{once}--- twice\n{twice}"
            )),
            Err(diags) => failures.push(format!(
                "{shown}: formatted output does not format: {diags:#?}"
            )),
        }
        let (before, after) = (program(&src), program(&once));
        if before.0 != after.0 {
            failures.push(format!("{shown}: the program changed:\n{once}"));
        }
        if before.1 != after.1 {
            failures.push(format!(
                "{shown}: comments changed: {:?} -> {:?}",
                before.1, after.1
            ));
        }
    }
    eprintln!(
        "formatted {checked} of {} .flow files (the others do not parse)",
        files.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(
        checked >= 2,
        "found only {checked} valid .flow files under {}",
        root.display()
    );
}

#[test]
fn example_flows_are_in_canonical_form() {
    let root = repo_root();
    let mut files = Vec::new();
    flow_files(&root.join("examples"), &mut files);
    assert!(!files.is_empty());
    for path in files {
        let src = std::fs::read_to_string(&path).unwrap();
        if !parse(&src).1.is_empty() {
            continue;
        }
        let formatted = format(&src).unwrap_or_else(|d| panic!("{}: {d:#?}", path.display()));
        assert!(
            formatted == src,
            "{} is not in canonical form; `flowctl fmt` would write:\n{formatted}",
            path.display()
        );
    }
}
