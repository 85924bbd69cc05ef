//! Intrinsic functions of Amazon States Language (`States.Format`, `States.Array`, …): an
//! expression is parsed once, when the state machine is loaded, into a call tree that is then
//! evaluated each time its payload template runs.
//!
//! What is checked when (so that a machine loads here exactly when its calls are well formed):
//! - `parse` rejects the shape of a call: grammar, unknown function names, argument counts,
//!   nesting deeper than AWS allows, and a literal `States.Format` template whose placeholders do
//!   not match its arguments;
//! - `Call::eval` rejects values (types, ranges, sizes) as `States.Runtime`, with a cause in
//!   AWS's words ("Invalid arguments in States.X") followed by what was wrong.

mod eval;
pub(crate) use eval::{hex_digest, HASH_ALGORITHMS};
mod parse;
#[cfg(test)]
mod tests;

use crate::invoke::TaskError;
use flowctl_protocol::sfn::errors;
use serde_json::Value;
use std::fmt;

/// The error name of every failure raised by an intrinsic function itself (errors returned by
/// the path resolver pass through unchanged).
///
/// `States.Runtime`, not `States.IntrinsicFailure`: the ASL spec lists the latter, but what
/// AWS raises for a call that fails on its arguments is `States.Runtime` ("Invalid arguments
/// in States.MathAdd", …), as integration tests recorded against AWS (LocalStack's, which
/// moto's interpreter ports) and public reports of real executions show. `States.Runtime` is
/// terminal: no `Retry` or `Catch` sees it, not even `States.ALL` (tests/asl/
/// intrinsic_failures.json).
pub const INTRINSIC_FAILURE: &str = errors::RUNTIME;

/// AWS: "You can nest up to 10 intrinsic functions within a field". Read here as depth (the
/// outermost call counts as one); this also bounds the parser's and evaluator's recursion.
pub const MAX_NESTING: usize = 10;

/// A parsed intrinsic function call, its arguments pre-compiled (literals decoded, nested calls
/// parsed, a literal `States.Format` template split into text and placeholders).
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    function: Function,
    args: Vec<Arg>,
    /// For `States.Format` with a string literal template: the template, already checked
    /// against the argument count.
    template: Option<Template>,
}

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Literal(Value),
    /// A path's exact text (`$.a.b`, `$$.Execution.Id`, `$`), answered by the caller.
    Path(String),
    Call(Call),
}

/// A `States.Format` template: text and `{}` placeholders.
#[derive(Debug, Clone, PartialEq)]
struct Template {
    pieces: Vec<Piece>,
    placeholders: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Placeholder,
}

/// An expression that is not a well-formed intrinsic function call. `offset` is the byte
/// offset in the expression where the problem is.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub message: String,
    pub offset: usize,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.offset)
    }
}

impl std::error::Error for SyntaxError {}

/// Parses a whole string value, e.g. `States.Format('Hello {}', $.name)`.
pub fn parse(expr: &str) -> Result<Call, SyntaxError> {
    parse::parse(expr)
}

impl Call {
    /// Evaluates the call. `resolve` answers a path argument (its exact text, e.g. `$.a.b`,
    /// `$$.Execution.Id` or `$`); its errors pass through unchanged.
    pub fn eval(
        &self,
        resolve: &mut dyn FnMut(&str) -> Result<Value, TaskError>,
    ) -> Result<Value, TaskError> {
        eval::eval(self, resolve)
    }

    /// Every path argument, nested calls included, in source order.
    pub fn paths(&self) -> Vec<&str> {
        let mut paths = Vec::new();
        self.collect_paths(&mut paths);
        paths
    }

    /// The function's name, e.g. `States.Format`.
    pub fn name(&self) -> &'static str {
        self.function.name()
    }

    fn collect_paths<'a>(&'a self, into: &mut Vec<&'a str>) {
        for arg in &self.args {
            match arg {
                Arg::Literal(_) => {}
                Arg::Path(path) => into.push(path),
                Arg::Call(call) => call.collect_paths(into),
            }
        }
    }
}

macro_rules! functions {
    ($($variant:ident = $name:literal, $min:literal ..= $max:expr;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum Function { $($variant),* }

        impl Function {
            const ALL: &'static [Function] = &[$(Function::$variant),*];

            fn name(self) -> &'static str {
                match self { $(Function::$variant => $name),* }
            }

            /// The least and (if any) the most arguments the function takes.
            fn arity(self) -> (usize, Option<usize>) {
                match self { $(Function::$variant => ($min, $max)),* }
            }
        }
    };
}

functions! {
    Format = "States.Format", 1..=None;
    StringToJson = "States.StringToJson", 1..=Some(1);
    JsonToString = "States.JsonToString", 1..=Some(1);
    Array = "States.Array", 0..=None;
    ArrayPartition = "States.ArrayPartition", 2..=Some(2);
    ArrayContains = "States.ArrayContains", 2..=Some(2);
    ArrayRange = "States.ArrayRange", 3..=Some(3);
    ArrayGetItem = "States.ArrayGetItem", 2..=Some(2);
    ArrayLength = "States.ArrayLength", 1..=Some(1);
    ArrayUnique = "States.ArrayUnique", 1..=Some(1);
    Base64Encode = "States.Base64Encode", 1..=Some(1);
    Base64Decode = "States.Base64Decode", 1..=Some(1);
    Hash = "States.Hash", 2..=Some(2);
    JsonMerge = "States.JsonMerge", 3..=Some(3);
    MathRandom = "States.MathRandom", 2..=Some(3);
    MathAdd = "States.MathAdd", 2..=Some(2);
    StringSplit = "States.StringSplit", 2..=Some(2);
    Uuid = "States.UUID", 0..=Some(0);
}

impl Function {
    fn from_name(name: &str) -> Option<Function> {
        Function::ALL.iter().copied().find(|f| f.name() == name)
    }
}
