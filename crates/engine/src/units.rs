//! Lambda units in-process: a unit serving several functions reads the envelopes the
//! compiler writes (a call naming its function, or a fused chain) and calls its members on an
//! inner invoker, as the shim does in a deployed Lambda — through the shim's own envelope
//! parser and chain runner, so a fused flow means the same in tests as on AWS.

use super::invoke::{short_name, BoxFuture, Invoker, TaskError};
use flowctl_protocol::envelope::{self, Request};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Units by name (or ARN), each with its member functions, served by `functions`.
pub struct Units<I> {
    units: HashMap<String, Vec<String>>,
    functions: I,
}

impl From<flowctl_protocol::Error> for TaskError {
    fn from(e: flowctl_protocol::Error) -> TaskError {
        TaskError::from_lambda(e.name(), e.message())
    }
}

impl<I: Invoker> Units<I> {
    /// `functions` answers calls by manifest function key.
    pub fn new(functions: I) -> Units<I> {
        Units {
            units: HashMap::new(),
            functions,
        }
    }

    /// A unit as the state machine names it (its name or ARN; matched like
    /// [`super::InProcess`] matches names) and the functions it serves.
    pub fn unit(mut self, name: impl Into<String>, functions: Vec<String>) -> Units<I> {
        self.units.insert(name.into(), functions);
        self
    }

    fn members(&self, unit: &str) -> Option<&[String]> {
        self.units
            .get(unit)
            .or_else(|| self.units.get(short_name(unit)))
            .map(Vec::as_slice)
    }

    fn serves(members: &[String], function: &str) -> Result<(), flowctl_protocol::Error> {
        if members.iter().any(|m| m == function) {
            Ok(())
        } else {
            Err(flowctl_protocol::Error::new(
                "FunctionNotFound",
                format!(
                    "no function `{function}` here; this process serves {}",
                    members.join(", ")
                ),
            ))
        }
    }
}

/// A state mocked by the wrapped invoker stays mocked: `mocked` is asked of it as is (a state
/// name and a Task's parameters, no unit envelope to read).
impl<I: Invoker> Invoker for Units<I> {
    fn mocked<'a>(
        &'a self,
        state: &'a str,
        resource: &'a str,
        parameters: &'a Value,
    ) -> Option<BoxFuture<'a, Result<Arc<Value>, TaskError>>> {
        self.functions.mocked(state, resource, parameters)
    }

    fn mocks_states(&self) -> bool {
        self.functions.mocks_states()
    }

    fn invoke<'a>(
        &'a self,
        function: &'a str,
        payload: Arc<Value>,
    ) -> BoxFuture<'a, Result<Arc<Value>, TaskError>> {
        Box::pin(async move {
            let Some(members) = self.members(function) else {
                return Err(TaskError::from_lambda(
                    crate::invoke::FUNCTION_NOT_FOUND,
                    &format!("Function not found: {function}"),
                ));
            };
            if let [only] = members {
                return self.functions.invoke(only, payload).await;
            }
            match envelope::parse(Arc::unwrap_or_clone(payload))? {
                Request::Call { function, payload } => {
                    Self::serves(members, &function)?;
                    self.functions.invoke(&function, Arc::new(payload)).await
                }
                Request::Chain(chain) => envelope::run_chain(
                    chain,
                    |name| Self::serves(members, name),
                    |name, input| {
                        let name = name.to_string();
                        async move {
                            let answer = self.functions.invoke(&name, Arc::new(input)).await?;
                            Ok::<_, TaskError>(Arc::unwrap_or_clone(answer))
                        }
                    },
                )
                .await
                .map(Arc::new),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InProcess;
    use serde_json::json;

    fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn units() -> Units<InProcess> {
        let functions = InProcess::new()
            .sync("Double", |v| Ok(json!(v["n"].as_i64().unwrap_or(0) * 2)))
            .sync("Fail", |_| {
                Err::<Value, _>(TaskError::from_lambda("Nope", "no"))
            })
            .sync("Echo", Ok);
        Units::new(functions)
            .unit("alone", vec!["Echo".into()])
            .unit(
                "shared",
                vec!["Double".into(), "Fail".into(), "Echo".into()],
            )
    }

    #[test]
    fn a_single_function_unit_takes_the_bare_payload() {
        let u = units();
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:alone";
        assert_eq!(
            block_on(u.invoke(arn, Arc::new(json!({"a": 1})))),
            Ok(Arc::new(json!({"a": 1})))
        );
    }

    #[test]
    fn a_shared_unit_dispatches_calls_and_runs_chains() {
        let u = units();
        let call = json!({"function": "Double", "payload": {"n": 4}});
        assert_eq!(
            block_on(u.invoke("shared", Arc::new(call))),
            Ok(Arc::new(json!(8)))
        );
        let chain = json!({
            "chain": [
                {"function": "Double", "payload": {"n": {"$var": ["input", "n"]}}, "bind": "a"},
                {"function": "Echo", "payload": {"got": {"$var": "a"}}, "bind": "b"},
                {"function": "Echo", "payload": {"$literal": {"$var": "x"}}}
            ],
            "vars": {"input": {"n": 5}}
        });
        assert_eq!(
            block_on(u.invoke("shared", Arc::new(chain))),
            Ok(Arc::new(
                json!({"results": {"a": 10, "b": {"got": 10}}, "complete": true})
            ))
        );
    }

    #[test]
    fn a_failing_step_is_the_chains_error_unchanged() {
        let u = units();
        let chain = json!({"chain": [
            {"function": "Echo", "payload": 1, "bind": "a"},
            {"function": "Fail", "payload": {"$var": "a"}},
            {"function": "Echo", "payload": 2}
        ]});
        let err = block_on(u.invoke("shared", Arc::new(chain))).unwrap_err();
        assert_eq!(err, TaskError::from_lambda("Nope", "no"));
    }

    #[test]
    fn envelope_mistakes_are_lambda_errors() {
        let u = units();
        let err = block_on(u.invoke("shared", Arc::new(json!(3)))).unwrap_err();
        assert_eq!(err.error, "InvalidEnvelope");
        let err = block_on(u.invoke("shared", Arc::new(json!({"function": "Other"})))).unwrap_err();
        assert_eq!(err.error, "FunctionNotFound");
        let err = block_on(u.invoke("nowhere", Arc::new(json!({})))).unwrap_err();
        assert_eq!(err.error, "Lambda.ResourceNotFoundException");
    }
}
