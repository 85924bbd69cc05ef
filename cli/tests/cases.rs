//! The bad-input corpus: every `cases/*.flow` file and every `cases/*/` project must produce
//! diagnostics, and each rendered result (source + message) is an insta snapshot.
//! A regression test is a new file or folder in `cases/`.

use flowctl_lang::diagnostic::Diagnostic;
use flowctl_lang::flow::{self, KnownFunctions};
use flowctl_lang::render::{self, FileDiagnostics};
use std::path::{Path, PathBuf};

/// The functions a flow case may call (a case folder brings its own manifest instead).
const FUNCTIONS: [&str; 4] = [
    "ReserveAvailability",
    "ProcessPayment",
    "ReleaseReservation",
    "QuoteRate",
];

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

/// Parse and check one flow file as `flowctl check` would.
fn flow_case(path: &Path) -> Vec<FileDiagnostics> {
    let source = std::fs::read_to_string(path).unwrap();
    let (file, mut diagnostics) = flow::parse(&source);
    if let (Some(file), true) = (&file, diagnostics.is_empty()) {
        diagnostics = flow::check(file, &KnownFunctions::new("booking", FUNCTIONS)).1;
    }
    vec![FileDiagnostics {
        path: PathBuf::from(path.file_name().unwrap()),
        source,
        diagnostics,
    }]
}

/// A project case folder; a `typed-*` folder is checked with a build's registry: its own
/// `registry.json` (a build's cache), else the booking functions' (`cases/registry.json`).
fn project_case(dir: &Path) -> Vec<FileDiagnostics> {
    let typed = dir
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("typed-"));
    let cache = || {
        let own = dir.join("registry.json");
        let path = if own.is_file() {
            own
        } else {
            cases_dir().join("registry.json")
        };
        let text = std::fs::read_to_string(&path).expect("the registry fixture is readable");
        Some(
            flowctl_lang::registry::Cache::from_json(&text)
                .expect("the registry fixture is a cache"),
        )
    };
    let loaded = flowctl::project::load_with_cache(&dir.join("flowctl.yaml"), |_, _| {
        if typed {
            cache()
        } else {
            None
        }
    })
    .expect("case files are readable");
    loaded
        .reports
        .into_iter()
        .map(|mut r| {
            r.path = r
                .path
                .strip_prefix(dir)
                .map(Path::to_path_buf)
                .unwrap_or(r.path);
            r
        })
        .collect()
}

/// Sources longer than this are summarised in the snapshot (the hostile-input cases are
/// thousands of lines); the diagnostics still show the line they point at.
const SHOWN_SOURCE_LINES: usize = 40;

fn snapshot(reports: &[FileDiagnostics]) -> String {
    let mut out = String::new();
    for report in reports {
        let lines = report.source.lines().count();
        let source = if lines > SHOWN_SOURCE_LINES {
            let head: Vec<&str> = report.source.lines().take(3).collect();
            format!(
                "{}\n… ({lines} lines, {} bytes in all)\n",
                head.join("\n"),
                report.source.len()
            )
        } else {
            report.source.clone()
        };
        out.push_str(&format!("---- {} ----\n{source}", report.path.display()));
    }
    out.push_str("---- diagnostics ----\n");
    out.push_str(&render::text(reports, false));
    out
}

#[test]
fn every_bad_case_is_reported_with_place_and_fix() {
    let mut entries: Vec<_> = std::fs::read_dir(cases_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    let mut seen = 0;
    let mut codes = std::collections::BTreeSet::new();
    for path in entries {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let reports = if path.is_dir() {
            project_case(&path)
        } else if path.extension().is_some_and(|e| e == "flow") {
            flow_case(&path)
        } else {
            continue;
        };
        let diagnostics: Vec<&Diagnostic> = reports.iter().flat_map(|r| &r.diagnostics).collect();
        assert!(
            !diagnostics.is_empty(),
            "case {name} produced no diagnostic"
        );
        for d in &diagnostics {
            assert!(
                d.hint.is_some(),
                "case {name}: {} has no hint (the fix)",
                d.code
            );
            codes.insert(d.code);
        }
        let rendered = snapshot(&reports);
        assert!(
            rendered.contains(" --> ") || rendered.contains("┌─"),
            "case {name}: no file:line:col in\n{rendered}"
        );
        insta::assert_snapshot!(name, rendered);
        seen += 1;
    }
    assert!(seen >= 25, "only {seen} bad cases");
    eprintln!("{seen} cases, codes: {codes:?}");
}
