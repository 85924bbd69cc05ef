//! Calls by manifest function key onto the local unit processes, for callers that think in
//! functions (`flowctl test`'s integration cases): a unit serving several functions gets the
//! `{"function", "payload"}` envelope its Lambda would get from the flow.

use super::LocalProcesses;
use flowctl_engine::{BoxFuture, Invoker, TaskError};
use flowctl_lang::asl;
use flowctl_lang::plan::Plan;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Calls by function key onto the local unit processes: a unit with several functions gets
/// the `{"function", "payload"}` envelope its Lambda would get from the flow.
pub struct ByFunction {
    unit_of: BTreeMap<String, (String, bool)>,
    processes: LocalProcesses,
}

impl ByFunction {
    pub fn new(plan: &Plan, processes: LocalProcesses) -> ByFunction {
        let unit_of = plan
            .units
            .iter()
            .flat_map(|u| {
                let shared = u.functions.len() > 1;
                u.functions
                    .iter()
                    .map(move |f| (f.clone(), (u.name.clone(), shared)))
            })
            .collect();
        ByFunction { unit_of, processes }
    }
}

impl Invoker for ByFunction {
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        payload: Arc<Value>,
    ) -> BoxFuture<'a, Result<Arc<Value>, TaskError>> {
        let Some((unit, shared)) = self.unit_of.get(function) else {
            return Box::pin(async move {
                Err(TaskError::from_lambda(
                    flowctl_engine::invoke::FUNCTION_NOT_FOUND,
                    &format!("no unit serves function {function}"),
                ))
            });
        };
        let payload = if *shared {
            Arc::new(json!({
                asl::ENVELOPE_FUNCTION: function,
                asl::ENVELOPE_PAYLOAD: Value::clone(&payload),
            }))
        } else {
            payload
        };
        self.processes.invoke(unit, payload)
    }
}
