//! `flowctl test`'s core: test files of flows in flow terms (functions mocked by name, per
//! call), AWS's MockConfigFile (states mocked by name), running a case on the engine on a
//! virtual clock, comparing what happened with what was expected, the branches of a document
//! no case took, and the reports (JSON, JUnit XML). Pure: the binary reads the files, builds
//! the functions for integration cases, and prints.
//!
//! The pipeline: `cases::parse` (text → `TestFile`) → `run::run_case` (a case, a loaded
//! document, an `Invoker` → `CaseResult`) → `coverage::measure` (the document and the
//! executions → `Coverage`) → `junit::write` / `report`.

pub mod cases;
pub mod coverage;
pub mod junit;
pub mod mock;
pub mod mock_config;
pub mod report;
pub mod run;
pub mod skeleton;
pub mod snapshot;

pub use report::{CaseResult, Verdict};

#[cfg(test)]
mod test_support;

/// "a string", "a list", … for messages about a value in a file the user wrote.
pub(crate) fn kind(value: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Every state name of a document, in branches and map bodies too: what a test case may name
/// (`mock_config::MockConfig::check`), and what `coverage` tells apart.
pub fn state_names(doc: &serde_json::Value) -> Vec<String> {
    fn walk(machine: &serde_json::Value, depth: usize, out: &mut Vec<String>) {
        let Some(states) = machine.get("States").and_then(serde_json::Value::as_object) else {
            return;
        };
        for (name, state) in states {
            out.push(name.clone());
            if depth >= flowctl_protocol::MAX_JSON_DEPTH {
                continue;
            }
            let branches = state.get("Branches").and_then(serde_json::Value::as_array);
            for body in branches.into_iter().flatten().chain(
                ["Iterator", "ItemProcessor"]
                    .iter()
                    .filter_map(|key| state.get(*key)),
            ) {
                walk(body, depth + 1, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(doc, 0, &mut out);
    out
}
