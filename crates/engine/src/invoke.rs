//! How the engine calls functions: one `Invoker` trait, whatever runs the code (in-process
//! closures, local unit processes, Lambda through the SDK).

use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::pin::Pin;
use std::sync::Arc;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What Step Functions reports when the function a Task names does not exist.
pub const FUNCTION_NOT_FOUND: &str = "Lambda.ResourceNotFoundException";

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
///
/// Payload and result are shared (`Arc`), not owned: the execution history holds the very
/// value a function is called with and the one it answers, so owned values would force a copy
/// of each on every call. An invoker that serializes only reads the payload; a function that
/// wants to change it takes it with `Arc::unwrap_or_clone` (a copy only if still shared).
///
/// An invoker may also answer for a whole Task state, by the state's name, instead of a
/// call (`mocked`): that is how tests mock service integrations the engine cannot call.
pub trait Invoker: Send + Sync {
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        payload: Arc<Value>,
    ) -> BoxFuture<'a, Result<Arc<Value>, TaskError>>;

    /// A Task's whole result decided by its state's name (Step Functions Local's mocked service
    /// integrations), instead of a call. `None`: call as usual.
    ///
    /// Asked at every attempt of every Task, before the call. `resource` is the Task's
    /// `Resource` as written; `parameters` its effective parameters (after `InputPath` and
    /// `Parameters`): for `arn:aws:states:::lambda:invoke` the `Parameters` object with
    /// `FunctionName` and `Payload`, for a Lambda function ARN the payload, for another service
    /// the request. `Some(Ok(v))`: `v` is the task's result as the service answers it (for
    /// `lambda:invoke` the whole Invoke response, `{"StatusCode": 200, "Payload": …}`), which
    /// goes through `ResultSelector`, `ResultPath` and `OutputPath` as usual. `Some(Err(e))`:
    /// the task fails with `e`, as retriers and catchers see it.
    fn mocked<'a>(
        &'a self,
        state: &'a str,
        resource: &'a str,
        parameters: &'a Value,
    ) -> Option<BoxFuture<'a, Result<Arc<Value>, TaskError>>> {
        let _ = (state, resource, parameters);
        None
    }

    /// Whether `mocked` may answer at all (default `true`, always correct). An invoker whose
    /// `mocked` always answers `None` may say `false`: the engine then neither asks it nor
    /// builds the `parameters` object of a `lambda:invoke` to ask it with (a copy of the
    /// payload per call). [`InProcess`] says `false`; [`crate::Units`] asks what it wraps.
    fn mocks_states(&self) -> bool {
        true
    }
}

type Handler =
    Arc<dyn Fn(Arc<Value>) -> BoxFuture<'static, Result<Arc<Value>, TaskError>> + Send + Sync>;

/// Functions registered from Rust, called in-process (tests, benchmarks, hand-written machines).
/// A name matches a `FunctionName`/ARN exactly, or the last `:`-separated part of an ARN
/// (`arn:aws:lambda:us-east-1:123456789012:function:echo` → `echo`), or the part after the
/// last `:function:` without a version qualifier.
#[derive(Clone, Default)]
pub struct InProcess {
    functions: HashMap<String, Handler, BuildHasherDefault<NameHasher>>,
    /// Whether a registered name has a `:` (an ARN): only then can a called ARN match
    /// exactly, so only then is it looked up as written.
    colon_in_a_name: bool,
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

    /// Registers an async function. It answers a `Value`, or an `Arc<Value>` (say, its
    /// payload or a part of it passed on uncopied).
    pub fn function<F, Fut, R>(self, name: impl Into<String>, f: F) -> InProcess
    where
        F: Fn(Arc<Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, TaskError>> + Send + 'static,
        R: Into<Arc<Value>>,
    {
        let handler: Handler = Arc::new(move |v| {
            let answer = f(v);
            Box::pin(async move { answer.await.map(Into::into) })
        });
        self.register(name.into(), handler)
    }

    /// Registers a synchronous function (it runs when called; its answer is ready at once).
    /// An echo: `InProcess::new().sync("echo", Ok)`.
    pub fn sync<F, R>(self, name: impl Into<String>, f: F) -> InProcess
    where
        F: Fn(Arc<Value>) -> Result<R, TaskError> + Send + Sync + 'static,
        R: Into<Arc<Value>>,
    {
        let handler: Handler =
            Arc::new(move |v| Box::pin(std::future::ready(f(v).map(Into::into))));
        self.register(name.into(), handler)
    }

    fn register(mut self, name: String, handler: Handler) -> InProcess {
        self.colon_in_a_name |= name.contains(':');
        self.functions.insert(name, handler);
        self
    }

    fn lookup(&self, function: &str) -> Option<&Handler> {
        let short = short_name(function);
        if short.len() < function.len() && self.colon_in_a_name {
            if let Some(h) = self.functions.get(function) {
                return Some(h);
            }
        }
        self.functions.get(short)
    }
}

/// The function name in an ARN: after the first `:function:` up to a qualifier, else after
/// the last `:`. This runs on every call: colons are found eight bytes at a time, and only
/// at a colon is `function:` compared.
pub(super) fn short_name(function: &str) -> &str {
    const MARK: &[u8] = b"function:";
    let bytes = function.as_bytes();
    let mut last_colon = None;
    let mut colons = Colons::new(bytes);
    while let Some(colon) = colons.next() {
        if bytes.get(colon + 1) == Some(&b'f') && bytes[colon + 1..].starts_with(MARK) {
            let start = colon + 1 + MARK.len();
            let end = Colons::new(&bytes[start..])
                .next()
                .map_or(bytes.len(), |n| start + n);
            return function.get(start..end).unwrap_or(function);
        }
        last_colon = Some(colon);
    }
    let start = last_colon.map_or(0, |at| at + 1);
    function.get(start..).unwrap_or(function)
}

/// The positions of `:` in a byte string, in order, found a word at a time.
struct Colons<'b> {
    bytes: &'b [u8],
    /// Where the current word starts, and its colons still to give (one high bit per colon).
    at: usize,
    found: u64,
}

impl<'b> Colons<'b> {
    fn new(bytes: &'b [u8]) -> Colons<'b> {
        let mut colons = Colons {
            bytes,
            at: 0,
            found: 0,
        };
        colons.found = colons.word_colons();
        colons
    }

    /// A high bit in each byte of the word at `at` that is a `:` (bytes past the end are 0).
    fn word_colons(&self) -> u64 {
        const ONES: u64 = 0x0101_0101_0101_0101;
        let rest = self.bytes.get(self.at..).unwrap_or_default();
        let word = match rest.first_chunk::<8>() {
            Some(chunk) => u64::from_le_bytes(*chunk),
            None => rest
                .iter()
                .rev()
                .fold(0, |word, &b| word << 8 | u64::from(b)),
        };
        let x = word ^ (ONES * u64::from(b':'));
        // Exact per byte (no borrow across bytes): the high bit is set where the byte is 0.
        !(((x & (ONES * 0x7f)) + ONES * 0x7f) | x | (ONES * 0x7f))
    }

    fn next(&mut self) -> Option<usize> {
        while self.found == 0 {
            self.at += 8;
            if self.at >= self.bytes.len() {
                return None;
            }
            self.found = self.word_colons();
        }
        let byte = self.found.trailing_zeros() as usize / 8;
        self.found &= self.found - 1;
        Some(self.at + byte)
    }
}

impl Invoker for InProcess {
    fn mocks_states(&self) -> bool {
        false
    }

    fn invoke<'a>(
        &'a self,
        function: &'a str,
        payload: Arc<Value>,
    ) -> BoxFuture<'a, Result<Arc<Value>, TaskError>> {
        match self.lookup(function) {
            Some(handler) => handler(payload),
            None => Box::pin(async move {
                Err(TaskError::from_lambda(
                    FUNCTION_NOT_FOUND,
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
            let answer = block_on(inv.invoke(name, Arc::new(json!(1))));
            assert_eq!(answer, Ok(Arc::new(json!(1))), "{name}");
        }
        for (arn, name) in [
            ("arn:aws:lambda:us-east-1:1:function:f", "f"),
            ("arn:aws:lambda:us-east-1:1:function:f:live", "f"),
            ("a:function::x", ""),
            ("a:function", "function"),
            ("function:f", "f"),
            ("plain", "plain"),
            ("", ""),
            (":", ""),
            ("::::::::::", ""),
            ("a:b:c:d:e:f:g:h:i:j", "j"),
            (
                "arn:aws:lambda:us-east-1:123456789012:function:a-long-function-name",
                "a-long-function-name",
            ),
            (
                "arn:aws:lambda:us-east-1:123456789012:function:f:function:g",
                "f",
            ),
            ("a:function:function:x", "function"),
            ("1234567:function:f", "f"),
            ("12345678:function:f:q", "f"),
            ("é:ü:function:ß", "ß"),
        ] {
            assert_eq!(short_name(arn), name, "{arn}");
        }
        // As the plain definition has it, for strings of pieces that make and break the mark.
        let naive = |f: &str| -> String {
            match f.find(":function:") {
                Some(at) => f[at + 10..].split(':').next().unwrap().to_owned(),
                None => f.rsplit(':').next().unwrap().to_owned(),
            }
        };
        let pieces = [":", "function", "function:", "x", "0123456", "é", ":f"];
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..20_000 {
            let f: String = (0..rng.usize(0..12))
                .map(|_| pieces[rng.usize(..pieces.len())])
                .collect();
            assert_eq!(short_name(&f), naive(&f), "{f}");
        }
        let err = block_on(inv.invoke("nope", Arc::new(json!(1)))).unwrap_err();
        assert_eq!(err.error, "Lambda.ResourceNotFoundException");

        // A name registered as an ARN matches as written, before the function name in it.
        let live = "arn:aws:lambda:us-east-1:1:function:f:live";
        let inv = InProcess::new()
            .sync("f", |_| Ok(json!("by name")))
            .sync(live, |_| Ok(json!("as written")));
        let answer = |function| block_on(inv.invoke(function, Arc::new(json!(1))));
        assert_eq!(answer(live), Ok(Arc::new(json!("as written"))));
        let latest = "arn:aws:lambda:us-east-1:1:function:f:$LATEST";
        assert_eq!(answer(latest), Ok(Arc::new(json!("by name"))));
    }
}
