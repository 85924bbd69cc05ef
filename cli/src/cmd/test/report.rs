//! What `flowctl test` prints: each case, the failures in detail (problems, diff, failing
//! state, trace), each flow's branches taken and not; or one JSON object; and `--junit`.

use super::project::Suite;
use super::{compile, test_path, Args};
use crate::cmd::out;
use crate::cmd::{Exit, Global, Output};
use anyhow::Context;
use flowctl::project::{LoadedFlow, Project};
use flowctl_lang::diagnostic::{line_col, Span};
use flowctl_lang::plan::Plan;
use flowctl_testing::coverage::{self, Coverage};
use flowctl_testing::{junit, CaseResult, Verdict};
use serde_json::{json, Value};
use std::path::Path;

/// A flow's branches for the reports: taken or not, each at its flow statement.
pub(super) struct FlowCoverage {
    flow: String,
    file: String,
    covered: usize,
    total: usize,
    /// (where: `flows/booking.flow:12:5`, the branch's label)
    missed: Vec<(String, String)>,
    /// No test file: every branch is missed.
    untested: bool,
}

impl FlowCoverage {
    pub(super) fn of(suite: &Suite, measured: &Coverage) -> FlowCoverage {
        let source = suite.flow.source.as_deref().unwrap_or_default();
        let place = |state: &str| match suite.sources.get(state) {
            Some(span) => where_in(&suite.flow.path, source, *span),
            None => suite.flow.path.display().to_string(),
        };
        FlowCoverage {
            flow: suite.flow.name.clone(),
            file: suite.path.display().to_string(),
            covered: measured.covered(),
            total: measured.total(),
            missed: measured
                .missed()
                .into_iter()
                .map(|branch| (place(&branch.state), branch.label.clone()))
                .collect(),
            untested: false,
        }
    }

    /// A hand-written document's branches, each at the document (states are not statements).
    pub(super) fn of_document(name: &str, file: &str, measured: &Coverage) -> FlowCoverage {
        FlowCoverage {
            flow: name.to_string(),
            file: file.to_string(),
            covered: measured.covered(),
            total: measured.total(),
            missed: measured
                .missed()
                .into_iter()
                .map(|b| (file.to_string(), b.label.clone()))
                .collect(),
            untested: false,
        }
    }

    pub(super) fn untested(project: &Project, plan: &Plan, flow: &LoadedFlow) -> FlowCoverage {
        let (total, missed) = match compile(project, plan, flow) {
            Ok((doc, sources)) => {
                let source = flow.source.as_deref().unwrap_or_default();
                let branches = coverage::branches(&doc);
                let missed = branches
                    .iter()
                    .map(|b| {
                        let at = sources.get(&b.state).map_or_else(
                            || flow.path.display().to_string(),
                            |span| where_in(&flow.path, source, *span),
                        );
                        (at, b.label.clone())
                    })
                    .collect();
                (branches.len(), missed)
            }
            Err(_) => (0, Vec::new()),
        };
        FlowCoverage {
            flow: flow.name.clone(),
            file: test_path(&flow.path).display().to_string(),
            covered: 0,
            total,
            missed,
            untested: true,
        }
    }

    fn json(&self) -> Value {
        json!({
            "flow": self.flow,
            "file": self.file,
            "has_cases": !self.untested,
            "covered": self.covered,
            "total": self.total,
            "missed": self.missed.iter().map(|(at, label)| json!({"at": at, "branch": label})).collect::<Vec<_>>(),
        })
    }
}

/// `flows/booking.flow:12:5`.
fn where_in(path: &Path, source: &str, span: Span) -> String {
    let (line, col) = line_col(source, span.start as usize);
    format!("{}:{line}:{col}", path.display())
}

/// Prints the results (text or JSON), writes `--junit`, and says whether all passed.
pub(super) fn report(
    global: &Global,
    args: &Args,
    results: &[CaseResult],
    flows: &[FlowCoverage],
    coverage: &[(String, Coverage)],
) -> anyhow::Result<Exit> {
    let passed = results
        .iter()
        .filter(|r| r.verdict == Verdict::Passed)
        .count();
    let failed = results
        .iter()
        .filter(|r| r.verdict == Verdict::Failed)
        .count();
    let errors = results
        .iter()
        .filter(|r| r.verdict == Verdict::Error)
        .count();
    if let Some(path) = &args.junit {
        let mut suites: Vec<(String, Vec<CaseResult>)> = Vec::new();
        for result in results {
            match suites.iter_mut().find(|(file, _)| file == &result.file) {
                Some((_, cases)) => cases.push(result.clone()),
                None => suites.push((result.file.clone(), vec![result.clone()])),
            }
        }
        std::fs::write(path, junit::write(&suites, coverage))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let ok = failed == 0 && errors == 0;
    match global.output {
        Output::Json => out::json(&json!({
            "ok": ok,
            "passed": passed,
            "failed": failed,
            "errors": errors,
            "cases": results,
            "coverage": flows.iter().map(FlowCoverage::json).collect::<Vec<_>>(),
        }))?,
        Output::Text => text_report(global, args, results, flows, (passed, failed, errors))?,
    }
    Ok(if ok { Exit::Success } else { Exit::Failure })
}

fn text_report(
    global: &Global,
    args: &Args,
    results: &[CaseResult],
    flows: &[FlowCoverage],
    (passed, failed, errors): (usize, usize, usize),
) -> anyhow::Result<()> {
    let color = global.color();
    let paint = |code: &str, text: &str| {
        if color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    };
    for r in results {
        let mark = match r.verdict {
            Verdict::Passed => paint("32", "ok   "),
            Verdict::Failed => paint("31", "FAIL "),
            Verdict::Error => paint("31", "ERROR"),
        };
        // What a case came to, when it is not plain success (a case may expect a failure).
        let outcome = match (&r.error, r.status.as_str()) {
            (_, "SUCCEEDED") => String::new(),
            (Some(error), status) => format!(" → {status} {error}"),
            (None, status) => format!(" → {status}"),
        };
        out::println(format_args!(
            "{mark} {} › {}{outcome} ({})",
            r.flow,
            r.case,
            duration(r.seconds)
        ))?;
    }
    for r in results.iter().filter(|r| r.verdict != Verdict::Passed) {
        out::println(format_args!("\n── {} › {} ({})", r.flow, r.case, r.file))?;
        for problem in &r.problems {
            out::println(format_args!("  {problem}"))?;
        }
        if let Some(state) = &r.failed_state {
            out::println(format_args!(
                "  the execution {} in state `{state}`: {}{}",
                r.status,
                r.error.as_deref().unwrap_or(""),
                r.cause
                    .as_deref()
                    .filter(|c| !c.is_empty())
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default()
            ))?;
        }
        if !r.diff.is_empty() {
            out::println("  output (- expected, + actual):")?;
            for line in r.diff.lines() {
                let painted = match line.chars().next() {
                    Some('-') => paint("31", line),
                    Some('+') => paint("32", line),
                    _ => line.to_string(),
                };
                out::println(format_args!("    {painted}"))?;
            }
        }
        if !r.trace.is_empty() {
            out::println("  trace:")?;
            for line in r.trace.lines() {
                out::println(format_args!("    {line}"))?;
            }
        }
    }
    out::println("")?;
    for f in flows {
        let line = if f.untested {
            format!(
                "coverage {}: no cases ({} missing; `flowctl test --init {}` writes a skeleton)",
                f.flow, f.file, f.flow
            )
        } else {
            format!(
                "coverage {}: {}/{} branches taken",
                f.flow, f.covered, f.total
            )
        };
        out::println(line)?;
        if args.coverage || (!f.untested && f.covered < f.total && f.missed.len() <= 5) {
            for (at, label) in &f.missed {
                out::println(format_args!("  not taken: {at}: {label}"))?;
            }
        }
    }
    let verdict = if failed + errors == 0 {
        paint("32", "ok")
    } else {
        paint("31", "FAILED")
    };
    out::println(format_args!(
        "test result: {verdict}. {passed} passed; {failed} failed; {errors} could not run"
    ))?;
    Ok(())
}

fn duration(seconds: f64) -> String {
    if seconds < 0.001 {
        format!("{:.0} µs", seconds * 1e6)
    } else if seconds < 1.0 {
        format!("{:.1} ms", seconds * 1e3)
    } else {
        format!("{seconds:.2} s")
    }
}
