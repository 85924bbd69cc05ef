//! The JSONata differential corpus (`tests/jsonata/corpus.json`, its divergences in
//! `tests/jsonata/divergences.json`) and the reference implementation, the `jsonata` npm
//! package (installed in `tests/.tools` by `scripts/install-test-tools.sh`), run once per
//! corpus by `tests/support/jsonata_reference.mjs` (see that file for the answer's shape).
//!
//! A case's outcome is a value, undefined, or an error with JSONata's code (`T2001`,
//! `S0207`, `D3030`, …) when it has one. Two outcomes agree when both are values equal as JSON
//! — numbers numerically (`1` and `1.0` are one number), object keys in the same order —,
//! both undefined, or both errors with the same code (when the reference's error has no code,
//! both failing is enough).

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The corpus file.
pub fn corpus_path() -> PathBuf {
    super::repo_root().join("tests/jsonata/corpus.json")
}

/// The divergence list.
pub fn divergences_path() -> PathBuf {
    super::repo_root().join("tests/jsonata/divergences.json")
}

/// The reference package's directory (`$FLOWCTL_JSONATA_DIR`, else under `tests/.tools`);
/// panics, naming the install command, when it is not installed.
pub fn package_dir() -> PathBuf {
    let dir = super::tool(
        "FLOWCTL_JSONATA_DIR",
        "tests/.tools/node_modules/jsonata",
        "the reference JSONata (the jsonata npm package)",
    );
    assert!(
        dir.join("jsonata.js").is_file(),
        "{} is not an installed jsonata package; run `bash scripts/install-test-tools.sh`",
        dir.display()
    );
    dir
}

/// The Node script.
pub fn script() -> PathBuf {
    super::repo_root().join("tests/support/jsonata_reference.mjs")
}

/// One case of the corpus, its input resolved.
#[derive(Debug, Clone)]
pub struct Case {
    /// `<group id>/<1-based index>` unless the case names itself.
    pub id: String,
    pub group: String,
    pub expr: String,
    /// The shared input's name, `inline`, or `(none)` (the input is null).
    pub input_name: String,
    pub input: Value,
    pub bindings: serde_json::Map<String, Value>,
}

/// The corpus's cases, in order, as `jsonata_reference.mjs` numbers them.
pub fn cases(corpus: &Value) -> Vec<Case> {
    let inputs = corpus["inputs"].as_object().expect("corpus.inputs");
    let shared = |name: &Value, at: &str| -> (String, Value) {
        let name = name
            .as_str()
            .unwrap_or_else(|| panic!("{at}: input is a name"));
        let value = inputs
            .get(name)
            .unwrap_or_else(|| panic!("{at}: no shared input named {name}"));
        (name.to_string(), value.clone())
    };
    let mut out = Vec::new();
    for group in corpus["groups"].as_array().expect("corpus.groups") {
        let group_id = group["id"].as_str().expect("a group's id");
        for (i, case) in group["cases"]
            .as_array()
            .expect("a group's cases")
            .iter()
            .enumerate()
        {
            let id = case["id"]
                .as_str()
                .map_or_else(|| format!("{group_id}/{}", i + 1), str::to_string);
            let (input_name, input) = if let Some(data) = case.get("data") {
                ("inline".to_string(), data.clone())
            } else if let Some(name) = case.get("input") {
                shared(name, &id)
            } else if let Some(data) = group.get("data") {
                ("inline".to_string(), data.clone())
            } else if let Some(name) = group.get("input") {
                shared(name, &id)
            } else {
                ("(none)".to_string(), Value::Null)
            };
            out.push(Case {
                id,
                group: group_id.to_string(),
                expr: case["expr"]
                    .as_str()
                    .expect("a case's expr is a string")
                    .to_string(),
                input_name,
                input,
                bindings: case
                    .get("bindings")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default(),
            });
        }
    }
    out
}

/// What the reference answers for a corpus: `{"version", "functions", "cases": [{"id",
/// "expr", "result", "features", "variables"}]}`. Panics when Node or the package is missing
/// or the script fails.
pub fn evaluate(corpus: &Path) -> Value {
    let node = super::node();
    let out = Command::new(&node)
        .arg(script())
        .arg(corpus)
        .env("FLOWCTL_JSONATA_DIR", package_dir())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", node.display()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "jsonata_reference.mjs failed ({}):\n{stderr}",
        out.status
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        let stdout = String::from_utf8_lossy(&out.stdout);
        let at = e.column().saturating_sub(200);
        let excerpt: String = stdout.chars().skip(at).take(400).collect();
        panic!("jsonata_reference.mjs answered no JSON ({e}), near: …{excerpt}…\n{stderr}")
    })
}

/// What an evaluation gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Value(Value),
    Undefined,
    Error {
        code: Option<String>,
        message: String,
    },
}

impl Outcome {
    /// From the script's `result` (`{"value"}`, `{"undefined": true}`, `{"error": {"code"?,
    /// "message"}}`) or a divergence record's (`{"value"}`, `{"undefined": true}`,
    /// `{"error": "CODE" | null}`).
    pub fn from_json(result: &Value) -> Outcome {
        if let Some(value) = result.get("value") {
            return Outcome::Value(value.clone());
        }
        if result.get("undefined").is_some() {
            return Outcome::Undefined;
        }
        match result.get("error") {
            Some(Value::Object(e)) => Outcome::Error {
                code: e.get("code").and_then(Value::as_str).map(str::to_string),
                message: e
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            },
            Some(code) => Outcome::Error {
                code: code.as_str().map(str::to_string),
                message: String::new(),
            },
            None => panic!("not an outcome: {result}"),
        }
    }

    /// As a divergence record writes it (errors by code only).
    pub fn record(&self) -> Value {
        match self {
            Outcome::Value(v) => json!({ "value": v }),
            Outcome::Undefined => json!({ "undefined": true }),
            Outcome::Error { code, .. } => json!({ "error": code }),
        }
    }

    /// For a failure message: the value, `undefined`, or the error's code and message.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Value(v) => v.to_string(),
            Outcome::Undefined => "undefined".to_string(),
            Outcome::Error { code, message } => {
                format!(
                    "error {}: {message}",
                    code.as_deref().unwrap_or("(no code)")
                )
            }
        }
    }
}

/// Whether `ours` agrees with the reference's `reference` (see the module's documentation).
pub fn agrees(reference: &Outcome, ours: &Outcome) -> bool {
    match (reference, ours) {
        (Outcome::Value(a), Outcome::Value(b)) => json_eq(a, b),
        (Outcome::Undefined, Outcome::Undefined) => true,
        (Outcome::Error { code: None, .. }, Outcome::Error { .. }) => true,
        (Outcome::Error { code: Some(a), .. }, Outcome::Error { code: Some(b), .. }) => a == b,
        _ => false,
    }
}

/// JSON equality with numbers compared as numbers and object keys compared in order.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && json_eq(va, vb))
        }
        _ => a == b,
    }
}
