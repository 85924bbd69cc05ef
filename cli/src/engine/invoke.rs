//! How the engine calls functions: one `Invoker` trait, whatever runs the code (in-process
//! closures, local unit processes, Lambda through the SDK).

use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
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
    functions: HashMap<String, Handler, BuildHasherDefault<NameHasher>>,
}

/// A fast hash for function names (looked up on every call; the program registers them, so
/// no one can choose colliding names to slow the map down).
#[derive(Default)]
struct NameHasher(u64);

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
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

    /// Registers a synchronous function (it runs when called; its answer is ready at once).
    pub fn sync<F>(self, name: impl Into<String>, f: F) -> InProcess
    where
        F: Fn(Value) -> Result<Value, TaskError> + Send + Sync + 'static,
    {
        self.function(name, move |v| std::future::ready(f(v)))
    }

    fn lookup(&self, function: &str) -> Option<&Handler> {
        if let Some(h) = self.functions.get(function) {
            return Some(h);
        }
        self.functions.get(short_name(function))
    }
}

/// The function name in an ARN: after the first `:function:` up to a qualifier, else after
/// the last `:`. A byte scan: this runs on every call, and `str` pattern searches cost more.
pub(super) fn short_name(function: &str) -> &str {
    const MARK: &[u8] = b":function:";
    let bytes = function.as_bytes();
    let after_mark = (0..bytes.len().saturating_sub(MARK.len() - 1))
        .find(|&at| bytes[at] == b':' && bytes[at..].starts_with(MARK))
        .map(|at| at + MARK.len());
    let name = match after_mark {
        Some(start) => {
            let end = bytes[start..]
                .iter()
                .position(|&b| b == b':')
                .map_or(bytes.len(), |n| start + n);
            function.get(start..end)
        }
        None => {
            let start = bytes
                .iter()
                .rposition(|&b| b == b':')
                .map_or(0, |at| at + 1);
            function.get(start..)
        }
    };
    name.unwrap_or(function)
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
            "function:echo",
        ] {
            assert_eq!(block_on(inv.invoke(name, json!(1))), Ok(json!(1)), "{name}");
        }
        for (arn, name) in [
            ("arn:aws:lambda:us-east-1:1:function:f", "f"),
            ("arn:aws:lambda:us-east-1:1:function:f:live", "f"),
            ("a:function::x", ""),
            ("a:function", "function"),
            ("function:f", "f"),
            ("plain", "plain"),
            ("", ""),
        ] {
            assert_eq!(short_name(arn), name, "{arn}");
        }
        let err = block_on(inv.invoke("nope", json!(1))).unwrap_err();
        assert_eq!(err.error, "Lambda.ResourceNotFoundException");
    }
}
