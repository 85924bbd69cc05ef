//! `flowctl test --init`: a test file with one case per path through a flow (the routes
//! `flowctl plan` lists), every function it calls mocked with a placeholder answer, and what
//! each path ends in as the expectation: a snapshot to record for a path that succeeds, the
//! error for one that fails. The user fills in inputs and answers so each case takes its path.

use flowctl_lang::routes::{Outcome, Routes};
use std::fmt::Write as _;

/// The skeleton's text for flow `flow` with paths `routes`, calling `functions`.
pub fn write(flow: &str, routes: &Routes, functions: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# The cases of flow {flow} (`flowctl test {flow}`); the file's schema: `flowctl schema --tests`.");
    out.push_str(
        "# One case per path through the flow, as `flowctl plan` lists them. Give each an input\n",
    );
    out.push_str(
        "# and mocked answers that take its path; `flowctl test --coverage` shows the paths no\n",
    );
    out.push_str(
        "# case takes yet. A mock is one answer for every call, or a list: call 1, call 2, …\n",
    );
    let _ = writeln!(out, "flow: {flow}");
    out.push_str("cases:\n");
    if routes.routes.is_empty() {
        out.push_str("  []\n");
    }
    for (i, route) in routes.routes.iter().enumerate() {
        let _ = writeln!(
            out,
            "  - name: {}",
            quoted(&format!("path {}: {}", i + 1, route.label))
        );
        out.push_str("    input: {}\n");
        if functions.is_empty() {
            out.push_str("    mocks: {}\n");
        } else {
            out.push_str("    mocks:\n");
            for function in functions {
                let _ = writeln!(out, "      {}: {{ return: {{}} }}", plain_key(function));
            }
        }
        match &route.outcome {
            Outcome::Fails { error } => {
                out.push_str("    expect:\n");
                let _ = writeln!(out, "      error: {}", quoted(error));
            }
            Outcome::Succeeds | Outcome::Unfinished { .. } => {
                out.push_str("    snapshot: true   # `flowctl test --update` records the output\n");
            }
        }
    }
    if routes.truncated {
        out.push_str("# (more paths exist than were listed)\n");
    }
    out
}

/// A YAML single-quoted scalar.
fn quoted(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!("'{}'", clean.replace('\'', "''"))
}

/// Function keys are `[A-Za-z0-9_.-]`, which YAML reads as plain keys; anything else is quoted.
fn plain_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        key.to_string()
    } else {
        quoted(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowctl_lang::routes::Route;

    fn route(label: &str, outcome: Outcome) -> Route {
        Route {
            label: label.into(),
            outcome,
            transitions: 1,
            invocations: 1,
            caught: false,
            per_map_item: false,
        }
    }

    #[test]
    fn one_case_per_path_with_every_function_mocked() {
        let routes = Routes {
            routes: vec![
                route("\"if x\" → \"it's y\"", Outcome::Succeeds),
                route(
                    "\"if x\" → default \"fail No\"",
                    Outcome::Fails { error: "No".into() },
                ),
            ],
            truncated: false,
        };
        let text = write("F", &routes, &["A".into(), "pay.Charge".into()]);
        insta::assert_snapshot!(text);
        let parsed: serde_yaml::Value = serde_yaml::from_str(&text).expect("YAML");
        assert_eq!(parsed["cases"].as_sequence().map(Vec::len), Some(2));
        assert_eq!(parsed["cases"][0]["name"], "path 1: \"if x\" → \"it's y\"");
        assert_eq!(parsed["cases"][1]["expect"]["error"], "No");
    }
}
