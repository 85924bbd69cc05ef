//! The flow corpus: `tests/corpus/<name>.flow`, each with `<name>.json` holding its cases:
//!
//! ```json
//! { "about": "what the flow covers",
//!   "cases": [
//!     { "name": "…", "input": …, "output": … },                 // SUCCEEDED with this output
//!     { "name": "…", "input": …, "error": "E", "cause": "C" },  // FAILED (cause optional)
//!     { "name": "…", "input": …, "output": …,
//!       "moto": { "raw_output": …, "why": "…", "aws_doc": "https://…" } } ] }
//! ```
//!
//! `output`/`error`/`cause` are what AWS Step Functions does. A `moto` entry records a
//! divergence of moto's interpreter from AWS: what moto answers instead (any of `status`,
//! `raw_output` — the text of DescribeExecution's `output`, `null` when absent —, `error`,
//! `cause`), why that is wrong and the AWS documentation that says so. The test then checks
//! that moto still answers exactly that (and that it still differs from AWS), so a fixed
//! moto shows up as a failure asking for the record to be removed. Optional
//! `lambda_results`: responses queued for the next Lambda invocations (moto's Lambda echoes
//! its payload otherwise).
//!
//! The corpus flows may call `Echo`, `Check`, `Notify` and `pay.Charge` (namespace `corpus`).

use flowctl_lang::asl::CompileOptions;
use flowctl_lang::flow::KnownFunctions;
use serde_json::Value;
use std::path::PathBuf;

pub const NAMESPACE: &str = "corpus";
pub const FUNCTIONS: [&str; 4] = ["Echo", "Check", "Notify", "pay.Charge"];

pub struct Flow {
    pub name: String,
    pub about: String,
    pub src: String,
    pub cases: Vec<Case>,
}

pub struct Case {
    pub name: String,
    pub input: Value,
    pub expect: Expect,
    pub moto: Option<Value>,
    pub lambda_results: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    Output(Value),
    Failed {
        error: String,
        cause: Option<String>,
    },
}

/// What one execution ended as, from DescribeExecution.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: String,
    /// The `output` text as the service returned it (`None` when absent).
    pub raw_output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// States entered, in order.
    pub states: Vec<String>,
}

impl Outcome {
    pub fn from_driver(v: &Value) -> Outcome {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Outcome {
            status: s("status").unwrap_or_default(),
            raw_output: s("output"),
            error: s("error"),
            cause: s("cause"),
            states: v
                .get("states")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// Whether this is what AWS does for `expect`.
    pub fn matches(&self, expect: &Expect) -> bool {
        match expect {
            Expect::Output(v) => {
                self.status == "SUCCEEDED"
                    && self
                        .raw_output
                        .as_deref()
                        .and_then(|o| serde_json::from_str::<Value>(o).ok())
                        .as_ref()
                        == Some(v)
            }
            Expect::Failed { error, cause } => {
                self.status == "FAILED"
                    && self.error.as_deref() == Some(error.as_str())
                    && (cause.is_none() || self.cause == *cause)
            }
        }
    }
}

fn corpus_dir() -> PathBuf {
    super::repo_root().join("tests/corpus")
}

/// Every corpus flow with its cases, sorted by name.
pub fn load() -> Vec<Flow> {
    let mut flows: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("tests/corpus exists")
        .map(|e| e.expect("readable").path())
        .filter(|p| p.extension().is_some_and(|e| e == "flow"))
        .collect();
    flows.sort();
    flows
        .into_iter()
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            let src = std::fs::read_to_string(&path).expect("readable flow");
            let cases_path = path.with_extension("json");
            let text = std::fs::read_to_string(&cases_path)
                .unwrap_or_else(|e| panic!("{}: {e}", cases_path.display()));
            let doc: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", cases_path.display()));
            let cases = doc["cases"]
                .as_array()
                .unwrap_or_else(|| panic!("{}: no cases", cases_path.display()))
                .iter()
                .map(|c| parse_case(c, &cases_path))
                .collect();
            Flow {
                name,
                about: doc["about"].as_str().unwrap_or_default().to_string(),
                src,
                cases,
            }
        })
        .collect()
}

fn parse_case(c: &Value, file: &std::path::Path) -> Case {
    let name = c["name"]
        .as_str()
        .unwrap_or_else(|| panic!("{}: a case without a name", file.display()))
        .to_string();
    let expect = match (c.get("output"), c.get("error")) {
        (Some(v), None) => Expect::Output(v.clone()),
        (None, Some(Value::String(e))) => Expect::Failed {
            error: e.clone(),
            cause: c.get("cause").and_then(Value::as_str).map(str::to_string),
        },
        _ => panic!(
            "{}: case {name} needs exactly one of `output` and `error`",
            file.display()
        ),
    };
    let moto = c.get("moto").cloned();
    if let Some(m) = &moto {
        for key in ["why", "aws_doc"] {
            assert!(
                m.get(key)
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty()),
                "{}: case {name}: a moto divergence needs `{key}`",
                file.display()
            );
        }
        assert!(
            m["aws_doc"]
                .as_str()
                .unwrap()
                .starts_with("https://docs.aws.amazon.com/"),
            "{}: case {name}: cite the AWS documentation",
            file.display()
        );
    }
    Case {
        name,
        input: c.get("input").cloned().unwrap_or(Value::Null),
        expect,
        moto,
        lambda_results: c
            .get("lambda_results")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    }
}

impl Flow {
    pub fn compile(&self) -> Value {
        let known = KnownFunctions::new(NAMESPACE, FUNCTIONS);
        let opts = CompileOptions::one_unit_per_function(
            FUNCTIONS.map(String::from),
            &format!("tests/corpus/{}.flow", self.name),
        );
        super::compile_flow(&self.src, &known, &opts, &format!("corpus/{}", self.name))
    }
}

/// Judges one moto outcome against a case: `Ok(Some(note))` for a recorded divergence that
/// still holds, `Ok(None)` when moto does what AWS does, `Err` otherwise.
pub fn judge(case: &Case, got: &Outcome) -> Result<Option<String>, String> {
    let Some(record) = &case.moto else {
        return if got.matches(&case.expect) {
            Ok(None)
        } else {
            Err(format!("expected {:?}, moto gave {got:?}", case.expect))
        };
    };
    let mut differences = Vec::new();
    for (key, actual) in [
        ("status", Some(got.status.clone())),
        ("raw_output", got.raw_output.clone()),
        ("error", got.error.clone()),
        ("cause", got.cause.clone()),
    ] {
        if let Some(recorded) = record.get(key) {
            let recorded = recorded.as_str().map(str::to_string);
            if recorded != actual {
                differences.push(format!(
                    "{key}: recorded {recorded:?}, moto now gives {actual:?}"
                ));
            }
        }
    }
    if !differences.is_empty() {
        return Err(format!(
            "the recorded moto divergence no longer holds ({}); full outcome {got:?}",
            differences.join("; ")
        ));
    }
    if got.matches(&case.expect) {
        return Err(
            "moto now behaves like AWS here: remove the `moto` record from the case".into(),
        );
    }
    Ok(Some(format!(
        "AWS {:?}; moto {:?} — {} ({})",
        case.expect,
        got.raw_output.as_deref().or(got.error.as_deref()),
        record["why"].as_str().unwrap_or_default(),
        record["aws_doc"].as_str().unwrap_or_default()
    )))
}
