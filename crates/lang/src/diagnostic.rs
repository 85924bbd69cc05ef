//! Errors as plain data: every stage reports `Diagnostic`s; only `render` turns them into text.

use serde::Serialize;
use std::ops::Range;

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    pub fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A secondary place the reader should look at ("defined here").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One problem found in one file. Pure data: stages create these, `render` prints them.
///
/// `code` is stable (documented in the README) so CI can match on it; `title` is one line,
/// `text` says what is wrong at the primary span, `hint` says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: &'static str,
    pub title: String,
    pub text: String,
    pub span: Span,
    pub hint: Option<String>,
    pub labels: Vec<Label>,
}

impl Diagnostic {
    pub fn error(code: &'static str, title: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            title: title.into(),
            text: String::new(),
            span,
            hint: None,
            labels: Vec::new(),
        }
    }

    /// A problem that does not stop the build (exit 0 unless `--deny-warnings`).
    pub fn warning(code: &'static str, title: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, title, span)
        }
    }

    /// What is wrong at the primary span (shown under the caret).
    pub fn text(mut self, text: impl Into<String>) -> Diagnostic {
        self.text = text.into();
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    pub fn label(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..floor_char_boundary(source, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// The byte offset of a 1-based line and a 1-based column counted in bytes (the position
/// serde_json and serde_yaml report), kept inside `source` and on a character boundary: the
/// inverse of [`line_col`] for a parser's error.
pub fn offset_at(source: &str, line: usize, column: usize) -> usize {
    let start: usize = source
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    floor_char_boundary(source, start.saturating_add(column.saturating_sub(1)))
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let src = "ab\ncd\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 4), (2, 2));
        assert_eq!(line_col(src, 100), (3, 1));
    }

    #[test]
    fn offset_at_is_a_parsers_line_and_byte_column_kept_in_the_text() {
        let src = "ab\ncé\n";
        assert_eq!(offset_at(src, 1, 1), 0);
        assert_eq!(offset_at(src, 2, 2), 4);
        // Inside `é` (two bytes): back to its start.
        assert_eq!(offset_at(src, 2, 3), 4);
        assert_eq!(offset_at(src, 9, 9), src.len());
        assert_eq!(offset_at(src, 0, 0), 0);
    }
}
