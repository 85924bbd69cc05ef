//! Recorded outputs of cases with `snapshot: true`: `flows/booking.test.yaml` →
//! `flows/booking.test.snap.json`, one JSON object `{ "case name": output, … }`, written with
//! keys sorted at every depth, two-space indentation and a final newline, so the same outputs
//! always give the same bytes (a clean diff in review).
//!
//! `flowctl test --update` records the actual outputs ([`Snapshots::record`]) and, before
//! writing, drops the snapshots of cases no longer in the test file ([`Snapshots::retain`]);
//! the file is written only when [`Snapshots::changed`].

use flowctl_lang::asl::to_pretty_json;
use flowctl_lang::diagnostic::{Diagnostic, Span};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The snapshots of one test file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshots {
    outputs: BTreeMap<String, Value>,
    changed: bool,
}

impl Snapshots {
    /// No snapshot yet (no file).
    pub fn new() -> Snapshots {
        Snapshots::default()
    }

    /// Reads a snapshot file. A problem is diagnostic `T020` (the file is not JSON, or not an
    /// object), located in the snapshot file's text (one diagnostic; a list like
    /// `cases::parse`'s, to render the same way).
    pub fn parse(text: &str) -> Result<Snapshots, Vec<Diagnostic>> {
        let value: Value = serde_json::from_str(text).map_err(|err| {
            let at = flowctl_lang::diagnostic::offset_at(text, err.line(), err.column());
            let message = err.to_string();
            let message = match message.find(" at line ") {
                Some(i) => message[..i].to_string(),
                None => message,
            };
            Diagnostic::error("T020", "the snapshot file is not valid JSON", Span::new(at, at))
                .text(message)
                .hint("the file is written by `flowctl test --update`: fix it, or delete it and run `flowctl test --update` again")
        }).map_err(|d| vec![d])?;
        let Value::Object(outputs) = value else {
            return Err(vec![Diagnostic::error(
                "T020",
                "the snapshot file is not a JSON object",
                Span::new(0, text.len()),
            )
            .text("expected `{ \"case name\": output, … }`")
            .hint("the file is written by `flowctl test --update`: delete it and run `flowctl test --update` again")]);
        };
        Ok(Snapshots {
            outputs: outputs.into_iter().collect(),
            changed: false,
        })
    }

    /// The recorded output of `case`.
    pub fn get(&self, case: &str) -> Option<&Value> {
        self.outputs.get(case)
    }

    /// Records `output` as the snapshot of `case` (a change only if it differs).
    pub fn record(&mut self, case: &str, output: Value) {
        if self.outputs.get(case) != Some(&output) {
            self.outputs.insert(case.to_string(), output);
            self.changed = true;
        }
    }

    /// Keeps only the snapshots of `cases` (the test file's case names): the others belong to
    /// cases removed or renamed. Returns the names dropped.
    pub fn retain<'a>(&mut self, cases: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let keep: std::collections::HashSet<&str> = cases.into_iter().collect();
        let dropped: Vec<String> = self
            .outputs
            .keys()
            .filter(|name| !keep.contains(name.as_str()))
            .cloned()
            .collect();
        for name in &dropped {
            self.outputs.remove(name);
        }
        self.changed |= !dropped.is_empty();
        dropped
    }

    /// The file's text: keys sorted at every depth, two-space indentation, final newline.
    pub fn to_text(&self) -> String {
        let object: Map<String, Value> = self
            .outputs
            .iter()
            .map(|(name, output)| (name.clone(), output.clone()))
            .collect();
        to_pretty_json(&Value::Object(object))
    }

    /// Whether `record` or `retain` changed anything since `parse` (write the file then).
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// How many cases have a snapshot.
    pub fn len(&self) -> usize {
        self.outputs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.outputs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_and_writes_byte_stable_sorted_text() {
        let mut s = Snapshots::new();
        s.record("b case", json!({"z": 1, "a": [{"y": 2, "x": 1}]}));
        s.record("a case", json!(null));
        assert!(s.changed());
        let text = s.to_text();
        assert_eq!(
            text,
            "{\n  \"a case\": null,\n  \"b case\": {\n    \"a\": [\n      {\n        \"x\": 1,\n        \"y\": 2\n      }\n    ],\n    \"z\": 1\n  }\n}\n"
        );
        let again = Snapshots::parse(&text).unwrap();
        assert!(!again.changed());
        assert_eq!(again.to_text(), text);
        assert_eq!(again.get("a case"), Some(&Value::Null));
        assert_eq!(again.get("c"), None);
        assert_eq!(Snapshots::new().to_text(), "{}\n");
    }

    #[test]
    fn recording_the_same_output_is_no_change() {
        let mut s = Snapshots::parse("{\"a\": {\"x\": 1, \"y\": 2}}").unwrap();
        s.record("a", json!({"y": 2, "x": 1}));
        assert!(!s.changed());
        s.record("a", json!({"y": 3, "x": 1}));
        assert!(s.changed());
    }

    #[test]
    fn cases_no_longer_in_the_file_are_dropped() {
        let mut s = Snapshots::parse("{\"old\": 1, \"kept\": 2}").unwrap();
        assert_eq!(s.retain(["kept", "new"]), ["old"]);
        assert!(s.changed());
        assert_eq!(s.to_text(), "{\n  \"kept\": 2\n}\n");
        let mut s = Snapshots::parse("{\"kept\": 2}").unwrap();
        assert!(s.retain(["kept"]).is_empty());
        assert!(!s.changed());
    }

    #[test]
    fn a_broken_file_is_a_located_diagnostic() {
        let text = "{\n  \"a\": 1,\n  \"b\" 2\n}\n";
        let d = Snapshots::parse(text).unwrap_err().remove(0);
        assert_eq!(d.code, "T020");
        assert_eq!(
            flowctl_lang::diagnostic::line_col(text, d.span.start as usize),
            (3, 7)
        );
        for text in ["[1]", "", "\"é"] {
            assert_eq!(
                Snapshots::parse(text).unwrap_err()[0].code,
                "T020",
                "{text}"
            );
        }
    }
}
