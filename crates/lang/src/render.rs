//! Diagnostics → text (with the source snippet) or JSON records. The only place that formats them.

use crate::diagnostic::{line_col, Diagnostic, Severity};
use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor};
use serde::Serialize;
use std::path::PathBuf;

/// The diagnostics of one file, with the text they point into.
#[derive(Debug, Clone)]
pub struct FileDiagnostics {
    /// The path as shown to the user (relative to the working directory when possible).
    pub path: PathBuf,
    pub source: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl FileDiagnostics {
    pub fn errors(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }
}

/// Renders every diagnostic as `error[CODE]: title`, `--> file:line:col`, the source lines
/// with carets, and the hint. `color` adds ANSI colours.
pub fn text(reports: &[FileDiagnostics], color: bool) -> String {
    fn emit_all<W: termcolor::WriteColor>(
        w: &mut W,
        reports: &[FileDiagnostics],
        config: &term::Config,
    ) {
        for report in reports {
            let file = SimpleFile::new(report.path.display().to_string(), report.source.as_str());
            for d in &report.diagnostics {
                let start = (d.span.start as usize).min(report.source.len());
                let end = (d.span.end as usize).clamp(start, report.source.len());
                let mut labels = vec![cs::Label::primary((), start..end).with_message(&d.text)];
                labels.extend(d.labels.iter().map(|l| {
                    let s = (l.span.start as usize).min(report.source.len());
                    let e = (l.span.end as usize).clamp(s, report.source.len());
                    cs::Label::secondary((), s..e).with_message(&l.message)
                }));
                let severity = match d.severity {
                    Severity::Error => cs::Diagnostic::error(),
                    Severity::Warning => cs::Diagnostic::warning(),
                };
                let notes = d.hint.iter().map(|h| format!("help: {h}")).collect();
                let diagnostic = severity
                    .with_code(d.code)
                    .with_message(&d.title)
                    .with_labels(labels)
                    .with_notes(notes);
                // Spans are clamped to the file above, and writing into a Vec cannot fail.
                let _ = term::emit(w, config, &file, &diagnostic);
            }
        }
    }
    let config = &term::Config::default();
    let bytes = if color {
        let mut w = termcolor::Ansi::new(Vec::new());
        emit_all(&mut w, reports, config);
        w.into_inner()
    } else {
        let mut w = termcolor::NoColor::new(Vec::new());
        emit_all(&mut w, reports, config);
        w.into_inner()
    };
    String::from_utf8_lossy(&bytes).into_owned()
}

/// One diagnostic as `flowctl check --output json` prints it (schema in the README).
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    pub detail: String,
    pub hint: Option<String>,
}

pub fn records(reports: &[FileDiagnostics]) -> Vec<Record> {
    reports
        .iter()
        .flat_map(|report| {
            report.diagnostics.iter().map(|d| {
                let (line, column) = line_col(&report.source, d.span.start as usize);
                let (end_line, end_column) = line_col(&report.source, d.span.end as usize);
                Record {
                    file: report.path.display().to_string(),
                    line,
                    column,
                    end_line,
                    end_column,
                    severity: d.severity,
                    code: d.code,
                    message: d.title.clone(),
                    detail: d.text.clone(),
                    hint: d.hint.clone(),
                }
            })
        })
        .collect()
}
