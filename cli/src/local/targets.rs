//! What a subscription invokes, run on this machine: flows on the embedded engine (with their
//! history kept as the delivery's trace), functions straight on their local unit processes.
//! The bridge between `flowctl-events` (which knows neither) and the engine.

use flowctl_engine::{self as engine, trace, ExecutionOptions, Invoker, StateMachine, Status};
use flowctl_events::dispatch::{BoxFuture, Failure, Invocation, Invoke};
use flowctl_lang::manifest::events::Target;
use flowctl_protocol::sfn::errors;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// The project's flows (loaded state machines, by manifest name) over one function invoker.
pub struct LocalTargets {
    flows: HashMap<String, StateMachine>,
    functions: Arc<dyn Invoker>,
}

impl LocalTargets {
    pub fn new(flows: HashMap<String, StateMachine>, functions: Arc<dyn Invoker>) -> LocalTargets {
        LocalTargets { flows, functions }
    }
}

impl Invoke for LocalTargets {
    fn invoke<'a>(&'a self, target: &'a Target, input: Value) -> BoxFuture<'a, Invocation> {
        Box::pin(async move {
            match target {
                Target::Function(name) => {
                    let result = self
                        .functions
                        .invoke(name, Arc::new(input))
                        .await
                        .map(Arc::unwrap_or_clone)
                        .map_err(|e| Failure {
                            error: e.error,
                            cause: e.cause,
                        });
                    Invocation {
                        result,
                        trace: None,
                    }
                }
                Target::Flow(name) => {
                    let Some(machine) = self.flows.get(name) else {
                        return Invocation {
                            result: Err(Failure {
                                error: errors::RUNTIME.into(),
                                cause: format!("no flow `{name}` in this project"),
                            }),
                            trace: None,
                        };
                    };
                    let options = ExecutionOptions {
                        name: uuid::Uuid::new_v4().to_string(),
                        ..ExecutionOptions::default()
                    };
                    let execution =
                        engine::execute(machine, input, self.functions.as_ref(), &options).await;
                    let trace = Some(trace::events_json(&execution.history));
                    let result = match execution.status {
                        Status::Succeeded => {
                            Ok(execution.output.map_or(Value::Null, Arc::unwrap_or_clone))
                        }
                        _ => {
                            let e = execution
                                .error
                                .unwrap_or_else(|| engine::TaskError::new(errors::RUNTIME, ""));
                            Err(Failure {
                                error: e.error,
                                cause: e.cause,
                            })
                        }
                    };
                    Invocation { result, trace }
                }
            }
        })
    }
}
