//! What one case came to, as every report (text, JSON, JUnit XML) reads it.

use serde::Serialize;
use serde_json::Value;

/// One case's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseResult {
    /// The test file (as the user would open it) or the MockConfigFile.
    pub file: String,
    /// The flow (or, for `--asl`, the state machine's name in the MockConfigFile).
    pub flow: String,
    pub case: String,
    pub verdict: Verdict,
    /// Why it failed, one line per problem (empty when it passed): "output differs", "function
    /// `X` was called 3 times but mocked for 2", …
    pub problems: Vec<String>,
    /// Expected against actual output as a unified diff of pretty JSON (empty when not
    /// relevant).
    pub diff: String,
    /// The execution's status: `SUCCEEDED`, `FAILED`, `TIMED_OUT`.
    pub status: String,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// The innermost state where the execution failed.
    pub failed_state: Option<String>,
    /// Functions called, in order (each attempt counts), for cases with function mocks.
    pub calls: Vec<String>,
    /// States entered, in order.
    pub path: Vec<String>,
    /// Wall-clock time the case took, in seconds.
    pub seconds: f64,
    /// The case's execution history as a timeline (`flowctl_engine::trace::timeline`, no
    /// colour), for the failure report; empty when it passed.
    pub trace: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Passed,
    /// The run happened and did not match what the case expects.
    Failed,
    /// The case could not run as written (a function neither mocked nor real, a mock answer
    /// used up, an unknown state in a MockConfigFile test case): the test is wrong, not the flow.
    Error,
}
