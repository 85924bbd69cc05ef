//! Checked IR → Amazon States Language (JSONPath query language).
//!
//! The storage scheme: the state payload is always `{"vars": {…}}` (plus a scratch `tmp`
//! while a value is being assembled). Each flow variable lives at `$.vars.<name>`:
//!
//! | origin | stored as | a selector `v.a[0]` reads |
//! | --- | --- | --- |
//! | the flow parameter | the execution input, as is | `$.vars.v.a[0]` |
//! | a call / parallel / map result | `{"value": <result>}` (a `ResultSelector` must build an object) | `$.vars.v.value.a[0]` |
//! | a `catch(err)` binding | `{"Error": …, "Cause": …}`, as Step Functions writes it | `$.vars.v.a[0]` |
//! | a `map` item | the item, as is (copied in by `ItemSelector`) | `$.vars.v.a[0]` |
//!
//! A `map` iteration starts from `{"vars": {<item>: …, <captures>: …}}`: the outer variables its
//! body reads are copied in by `ItemSelector`, in the same shape as outside.
//!
//! Unit ARNs are placeholders (`${unit:NAME}`) in the compiled document; `resolve_units`
//! substitutes them at deploy time. State names are described in `names`; the limits
//! Step Functions enforces are checked in `limits` (compile errors, not deploy surprises).
//!
//! Architecture Invariant: pure — no I/O; the same IR and options give the same bytes.

mod codegen;
mod fuse;
mod json;
mod limits;
mod names;
mod storage;

#[cfg(test)]
mod tests;

use crate::diagnostic::{Diagnostic, Span};
use crate::flow::ir;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

pub use fuse::fused_chains;
pub use json::{canonical, to_pretty_json};

/// The `Resource` of every call: Step Functions' optimised Lambda integration.
pub use flowctl_protocol::sfn::LAMBDA_INVOKE;

/// How a call reaches a function hosted by a Lambda unit that holds *several* functions:
/// the payload is wrapped as `{"function": <manifest key>, "payload": <argument>}` so the shim
/// can dispatch. A unit with one function gets the bare argument.
pub use flowctl_protocol::envelope::{FUNCTION as ENVELOPE_FUNCTION, PAYLOAD as ENVELOPE_PAYLOAD};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompileOptions {
    /// Function key (as in the manifest: `ReserveAvailability`, `payments.Charge`) → the name
    /// of the Lambda unit hosting it.
    pub units: BTreeMap<String, String>,
    /// Functions the compiler may fuse into chains (see `fuse`): the idempotent ones, when
    /// the plan fuses. Empty: every call is a Task of its own.
    pub fusable: BTreeSet<String>,
    /// Where the flow came from (e.g. `flows/booking.flow`), for the document's `Comment`.
    pub source: String,
}

impl CompileOptions {
    /// Every function in a unit of its own, named after the function key with `.` → `-`
    /// (`payments.Charge` → unit `payments-Charge`).
    pub fn one_unit_per_function(
        functions: impl IntoIterator<Item = String>,
        source: &str,
    ) -> Self {
        CompileOptions {
            units: functions
                .into_iter()
                .map(|key| {
                    let unit = key.replace('.', "-");
                    (key, unit)
                })
                .collect(),
            fusable: BTreeSet::new(),
            source: source.to_string(),
        }
    }
}

/// Compiles a checked flow to an ASL document, or explains which Step Functions limit it
/// would break (each diagnostic carries the flow's or the offending statement's span).
pub fn compile(flow: &ir::Flow, opts: &CompileOptions) -> Result<Value, Vec<Diagnostic>> {
    codegen::compile(flow, opts).map(|(doc, _)| doc)
}

/// Where each state of a compiled document comes from: state name → the span of the flow
/// statement (for `Start`, the whole flow). `flowctl test` lists untaken branches by it.
pub type SourceMap = BTreeMap<String, Span>;

/// [`compile`], with the statement each state comes from.
pub fn compile_with_sources(
    flow: &ir::Flow,
    opts: &CompileOptions,
) -> Result<(Value, SourceMap), Vec<Diagnostic>> {
    codegen::compile(flow, opts)
}

/// The placeholder a compiled document holds where the ARN of `unit` goes.
pub fn unit_placeholder(unit: &str) -> String {
    format!("${{unit:{unit}}}")
}

fn placeholder_unit(s: &str) -> Option<&str> {
    s.strip_prefix("${unit:")?.strip_suffix('}')
}

/// Replaces every `${unit:NAME}` placeholder (the `FunctionName` of each `Task`) with
/// `arn_of(NAME)`; the first unit `arn_of` does not know is the error. Values elsewhere in
/// the document (user data that happens to look like a placeholder) are left alone.
pub fn resolve_units(
    doc: &Value,
    arn_of: impl Fn(&str) -> Option<String>,
) -> Result<Value, String> {
    let mut out = doc.clone();
    let mut missing = None;
    visit_tasks(&mut out, &mut |task| {
        let Some(Value::String(name)) = task
            .get_mut("Parameters")
            .and_then(|p| p.get_mut("FunctionName"))
        else {
            return;
        };
        if let Some(unit) = placeholder_unit(name) {
            match arn_of(unit) {
                Some(arn) => *name = arn,
                None => {
                    missing.get_or_insert_with(|| unit.to_string());
                }
            }
        }
    });
    match missing {
        Some(unit) => Err(unit),
        None => Ok(out),
    }
}

/// The units a compiled document calls (the names inside its placeholders).
pub fn units_of(doc: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut doc = doc.clone();
    visit_tasks(&mut doc, &mut |task| {
        if let Some(unit) = task
            .get("Parameters")
            .and_then(|p| p.get("FunctionName"))
            .and_then(Value::as_str)
            .and_then(placeholder_unit)
        {
            out.insert(unit.to_string());
        }
    });
    out
}

/// Calls `f` on every `Task` state, at any depth (parallel branches, map bodies).
fn visit_tasks(machine: &mut Value, f: &mut dyn FnMut(&mut serde_json::Map<String, Value>)) {
    let Some(Value::Object(states)) = machine.get_mut("States") else {
        return;
    };
    for state in states.values_mut() {
        let Value::Object(state) = state else {
            continue;
        };
        if state.get("Type").and_then(Value::as_str) == Some("Task") {
            f(state);
        }
        if let Some(Value::Array(branches)) = state.get_mut("Branches") {
            for branch in branches {
                visit_tasks(branch, f);
            }
        }
        for key in ["ItemProcessor", "Iterator"] {
            if let Some(processor) = state.get_mut(key) {
                visit_tasks(processor, f);
            }
        }
    }
}
