//! How the engine calls functions: one `Invoker` trait, whatever runs the code (in-process
//! closures, local unit processes, Lambda through the SDK).

use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A failed invocation as Step Functions sees it: `error` is what `Retry`/`Catch` match
/// (`ErrorEquals`), `cause` the detail (for Lambda, the JSON error object as a string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskError {
    pub error: String,
    pub cause: String,
}

impl TaskError {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> TaskError {
        TaskError {
            error: error.into(),
            cause: cause.into(),
        }
    }

    /// A Lambda function's own error (`{"errorType", "errorMessage"}`), as Step Functions
    /// reports it: the error is the `errorType`, the cause the error object as JSON text.
    pub fn from_lambda(error_type: &str, error_message: &str) -> TaskError {
        let cause = serde_json::json!({"errorMessage": error_message, "errorType": error_type});
        TaskError::new(error_type, cause.to_string())
    }
}

/// Runs one function. `function` is what the state machine names: for
/// `arn:aws:states:::lambda:invoke` the `FunctionName` parameter (a name or an ARN), for a
/// Task whose `Resource` is a Lambda ARN, that ARN. The result is the function's payload.
pub trait Invoker: Send + Sync {
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        payload: Value,
    ) -> BoxFuture<'a, Result<Value, TaskError>>;
}

type Handler = Arc<dyn Fn(Value) -> BoxFuture<'static, Result<Value, TaskError>> + Send + Sync>;

/// Functions registered from Rust, called in-process (tests, benchmarks, hand-written machines).
/// A name matches a `FunctionName`/ARN exactly, or the last `:`-separated part of an ARN
/// (`arn:aws:lambda:us-east-1:123456789012:function:echo` → `echo`), or the part after the
/// last `:function:` without a version qualifier.
#[derive(Clone, Default)]
pub struct InProcess {
    functions: HashMap<String, Handler>,
}

impl InProcess {
    pub fn new() -> InProcess {
        InProcess::default()
    }

    /// Registers an async function.
    pub fn function<F, Fut>(mut self, name: impl Into<String>, f: F) -> InProcess
    where
        F: Fn(Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, TaskError>> + Send + 'static,
    {
        self.functions
            .insert(name.into(), Arc::new(move |v| Box::pin(f(v))));
        self
    }

    /// Registers a synchronous function.
    pub fn sync<F>(self, name: impl Into<String>, f: F) -> InProcess
    where
        F: Fn(Value) -> Result<Value, TaskError> + Send + Sync + 'static,
    {
        let f = Arc::new(f);
        self.function(name, move |v| {
            let f = f.clone();
            async move { f(v) }
        })
    }

    fn lookup(&self, function: &str) -> Option<&Handler> {
        if let Some(h) = self.functions.get(function) {
            return Some(h);
        }
        let name = match function.split_once(":function:") {
            Some((_, rest)) => rest.split(':').next().unwrap_or(rest),
            None => function.rsplit(':').next().unwrap_or(function),
        };
        self.functions.get(name)
    }
}

impl Invoker for InProcess {
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        payload: Value,
    ) -> BoxFuture<'a, Result<Value, TaskError>> {
        match self.lookup(function) {
            Some(handler) => handler(payload),
            None => Box::pin(async move {
                Err(TaskError::from_lambda(
                    "Lambda.ResourceNotFoundException",
                    &format!("Function not found: {function}"),
                ))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn block_on<T>(f: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn finds_functions_by_name_or_arn() {
        let inv = InProcess::new().sync("echo", Ok);
        for name in [
            "echo",
            "arn:aws:lambda:us-east-1:123456789012:function:echo",
            "arn:aws:lambda:us-east-1:123456789012:function:echo:$LATEST",
        ] {
            assert_eq!(block_on(inv.invoke(name, json!(1))), Ok(json!(1)), "{name}");
        }
        let err = block_on(inv.invoke("nope", json!(1))).unwrap_err();
        assert_eq!(err.error, "Lambda.ResourceNotFoundException");
    }
}
