//! JUnit XML, the report CI systems read (Jenkins' JUnit plugin, GitLab's `artifacts:reports:
//! junit`, GitHub test-reporter actions): one `<testsuite>` per test file, one `<testcase>` per
//! case, `<failure>` for a case that ran and did not match, `<error>` for a case that could not
//! run as written. The element's text holds the problems, the output diff and the trace.
//! Branches of the flow that no case took are listed as `<properties>` of the suite
//! (`coverage.covered`, `coverage.total`, then `coverage.missed.1`, `.2`, … with the labels).
//!
//! The shape follows the common JUnit schema (the `testsuites`/`testsuite`/`testcase`
//! attributes every reader requires: `name`, `tests`, `failures`, `errors`, `skipped`, `time`;
//! `classname` and `name` on a case). No `timestamp` or `hostname`: the report is a pure
//! function of the results, so two runs with the same results write the same bytes but for
//! the times. Text is escaped for XML, and characters XML 1.0 forbids (control characters
//! other than tab, newline and carriage return; U+FFFE, U+FFFF) are dropped.

use crate::coverage::Coverage;
use crate::report::{CaseResult, Verdict};
use std::fmt::Write as _;

/// The JUnit XML of `suites` (each: the suite's name, normally the test file, and its cases'
/// results), with the coverage of each suite whose name `coverage` lists.
pub fn write(suites: &[(String, Vec<CaseResult>)], coverage: &[(String, Coverage)]) -> String {
    let count = |verdict: Verdict, cases: &[CaseResult]| {
        cases.iter().filter(|c| c.verdict == verdict).count()
    };
    let seconds = |cases: &[CaseResult]| cases.iter().map(|c| c.seconds.max(0.0)).sum::<f64>();
    let all: Vec<&CaseResult> = suites.iter().flat_map(|(_, cases)| cases).collect();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"flowctl test\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\" time=\"{}\">",
        all.len(),
        all.iter().filter(|c| c.verdict == Verdict::Failed).count(),
        all.iter().filter(|c| c.verdict == Verdict::Error).count(),
        time(all.iter().map(|c| c.seconds.max(0.0)).sum()),
    );
    for (name, cases) in suites {
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\" time=\"{}\">",
            attr(name),
            cases.len(),
            count(Verdict::Failed, cases),
            count(Verdict::Error, cases),
            time(seconds(cases)),
        );
        if let Some((_, coverage)) = coverage.iter().find(|(suite, _)| suite == name) {
            properties(&mut xml, coverage);
        }
        for case in cases {
            testcase(&mut xml, case);
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

fn properties(xml: &mut String, coverage: &Coverage) {
    xml.push_str("    <properties>\n");
    let mut property = |name: &str, value: &str| {
        let _ = writeln!(
            xml,
            "      <property name=\"{}\" value=\"{}\"/>",
            attr(name),
            attr(value)
        );
    };
    property("coverage.covered", &coverage.covered().to_string());
    property("coverage.total", &coverage.total().to_string());
    for (i, branch) in coverage.missed().iter().enumerate() {
        property(&format!("coverage.missed.{}", i + 1), &branch.label);
    }
    xml.push_str("    </properties>\n");
}

fn testcase(xml: &mut String, case: &CaseResult) {
    let _ = write!(
        xml,
        "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\" time=\"{}\"",
        attr(&case.flow),
        attr(&case.case),
        attr(&case.file),
        time(case.seconds),
    );
    let element = match case.verdict {
        Verdict::Passed => {
            xml.push_str("/>\n");
            return;
        }
        Verdict::Failed => "failure",
        Verdict::Error => "error",
    };
    xml.push_str(">\n");
    let message = case.problems.first().map_or_else(
        || match case.verdict {
            Verdict::Error => "the case could not run as written".to_string(),
            _ => "the case did not match".to_string(),
        },
        String::clone,
    );
    // `type`: what kind of problem, as a test framework names an exception's class.
    let kind = match case.verdict {
        Verdict::Error => "flowctl.CaseError",
        _ => "flowctl.CaseFailed",
    };
    let mut body = case.problems.join("\n");
    for part in [&case.diff, &case.trace] {
        if !part.is_empty() {
            body.push_str("\n\n");
            body.push_str(part.trim_end());
        }
    }
    let _ = writeln!(
        xml,
        "      <{element} message=\"{}\" type=\"{kind}\">{}</{element}>",
        attr(&message),
        text(&body),
    );
    xml.push_str("    </testcase>\n");
}

/// Seconds with millisecond precision, as JUnit readers expect (`0.012`); never negative or
/// not a number.
fn time(seconds: f64) -> String {
    let seconds = if seconds.is_finite() && seconds > 0.0 {
        seconds
    } else {
        0.0
    };
    format!("{seconds:.3}")
}

/// Whether XML 1.0 allows the character at all (its `Char` production).
fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Element text: `&`, `<`, `>` escaped (`>` so that `]]>` cannot appear), forbidden
/// characters dropped.
fn text(s: &str) -> String {
    escape(s, false)
}

/// An attribute value in double quotes: as text, plus `"` and `'`, and tab and newline as
/// character references (a parser turns literal ones into spaces).
fn attr(s: &str) -> String {
    escape(s, true)
}

fn escape(s: &str, in_attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().filter(|&c| allowed(c)) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            // A lone CR would be read back as a newline: keep it as written.
            '\r' => out.push_str("&#13;"),
            '"' if in_attribute => out.push_str("&quot;"),
            '\'' if in_attribute => out.push_str("&apos;"),
            '\t' if in_attribute => out.push_str("&#9;"),
            '\n' if in_attribute => out.push_str("&#10;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
