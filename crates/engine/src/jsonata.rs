//! JSONata as Step Functions runs it: the `{% … %}` expressions of JSONata-mode states,
//! parsed once at load and evaluated by `jsonata-core` (conformant with the reference
//! jsonata-js 2.2; checked against it by `tests/jsonata_differential.rs`), with `$states` and
//! the workflow variables bound and the functions Step Functions adds (`$partition`, `$range`,
//! `$hash`, `$random`, `$uuid`, `$parse`).
//!
//! Why `jsonata-core` and not `jsonata-rs`: `jsonata-rs` 0.3 calls itself incomplete and its
//! own suite skips whole groups of the reference tests (errors, regular expressions, sorting,
//! transforms, `$formatNumber`, partial application); `jsonata-core` passes all 1,686 of the
//! reference suite's cases and is maintained. Its values are `Rc`-based, so an evaluation
//! happens within one synchronous call and only `serde_json` values cross an `await`.

use flowctl_protocol::sfn::errors;
use jsonata_core::ast::AstNode;
use jsonata_core::evaluator::{Context, Evaluator, EvaluatorError, EvaluatorOptions};
use jsonata_core::value::JValue;
use serde::Deserialize;
use serde_json::Value;

/// A parsed JSONata expression and the variables it reads.
pub struct Expression {
    text: Box<str>,
    ast: AstNode,
    /// The `$name`s it mentions (a superset of those it reads: a name inside a string literal
    /// counts too), so that only these are bound when it runs.
    names: Box<[Box<str>]>,
    /// For `$states.<part>.<field>` alone: the part and the field.
    states_field: Option<(Box<str>, Box<str>)>,
}

impl std::fmt::Debug for Expression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{{% {} %}}", self.text)
    }
}

/// An expression that failed: JSONata's error code (`T2001`, `D3030`, …) when it has one, and
/// its message.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonataError {
    pub code: Option<String>,
    pub message: String,
}

impl std::fmt::Display for JsonataError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// How deep an evaluation may recurse (jsonata-js's `stack` option): a runaway recursive
/// function fails with `D1011` instead of taking the process's stack.
const MAX_STACK_DEPTH: usize = 2_000;

/// How long one evaluation may run (`D1012` after): Step Functions stops an expression after
/// a second ("Expression evaluation timeout").
const TIMEOUT_MS: u64 = 1_000;

/// The body of a string that is one JSONata expression (`"{% $states.input.x %}"` →
/// `" $states.input.x "`), as Step Functions recognises one: the whole string, braces and
/// percent signs at both ends.
pub(crate) fn body_of(text: &str) -> Option<&str> {
    text.strip_prefix("{%")?.strip_suffix("%}")
}

impl Expression {
    /// Parses an expression (the text between `{%` and `%}`).
    pub fn parse(text: &str) -> Result<Expression, JsonataError> {
        let ast = jsonata_core::parser::parse(text).map_err(|e| {
            let message = e.display_message();
            JsonataError {
                code: code_in(&message).map(str::to_string),
                message,
            }
        })?;
        Ok(Expression {
            text: text.trim().into(),
            ast,
            names: variable_names(text),
            states_field: states_field(text.trim()),
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// `("result", "Payload")` for `$states.result.Payload` and the like: an expression that
    /// only reads one field of `$states.input`, `.result` or `.errorOutput`. On an object
    /// whose field is not an array, it gives that field's value, as a JSONPath would (the
    /// engine reads it so, sparing the conversion to and from JSONata's values).
    pub(crate) fn states_field(&self) -> Option<(&str, &str)> {
        self.states_field
            .as_ref()
            .map(|(part, field)| (&**part, &**field))
    }

    /// Whether it mentions `$name`.
    pub(crate) fn mentions(&self, name: &str) -> bool {
        self.names.iter().any(|n| &**n == name)
    }

    /// Evaluates it with `$` as `input` and `bind` answering the variables it mentions
    /// (`None` leaves a name unbound). `Ok(None)`: the result is undefined.
    pub fn evaluate(
        &self,
        input: &Value,
        bind: &mut dyn FnMut(&str) -> Option<Value>,
    ) -> Result<Option<Value>, JsonataError> {
        self.run(to_jvalue(input), &mut |name| {
            bind(name).map(|v| to_jvalue(&v))
        })
    }

    /// Evaluates it as Step Functions does: no input document (`$` at the top is undefined;
    /// data comes from `$states` and the variables, which `bind` gives as JSONata values).
    pub(crate) fn evaluate_in(
        &self,
        bind: &mut dyn FnMut(&str) -> Option<JValue>,
    ) -> Result<Option<Value>, JsonataError> {
        self.run(JValue::Undefined, bind)
    }

    fn run(
        &self,
        input: JValue,
        bind: &mut dyn FnMut(&str) -> Option<JValue>,
    ) -> Result<Option<Value>, JsonataError> {
        let mut context = Context::new();
        for name in self.names.iter() {
            if let Some(value) = bind(name) {
                context.bind(name.to_string(), value);
            }
        }
        let options = EvaluatorOptions {
            max_stack_depth: Some(MAX_STACK_DEPTH),
            timeout_ms: Some(TIMEOUT_MS),
            ..EvaluatorOptions::default()
        };
        let mut evaluator = Evaluator::with_options(context, options);
        step_functions_functions(&mut evaluator);
        let result = evaluator.evaluate(&self.ast, &input).map_err(error)?;
        if result.is_undefined() {
            return Ok(None);
        }
        from_jvalue(&result).map(Some)
    }
}

/// The first JSONata error code in a message (`S0201` in "Parse error: Invalid syntax: S0201:
/// …"): jsonata-core puts it after one or more kinds.
fn code_in(message: &str) -> Option<&str> {
    std::iter::once(message)
        .chain(message.match_indices(": ").map(|(i, _)| &message[i + 2..]))
        .find_map(jsonata_core::evaluator::error_code_prefix)
}

/// `$states.<part>.<name>` with a plain name (letters, digits, `_`).
fn states_field(text: &str) -> Option<(Box<str>, Box<str>)> {
    let (part, field) = text.strip_prefix("$states.")?.split_once('.')?;
    let plain = |s: &str| {
        s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    (matches!(part, "input" | "result" | "errorOutput") && plain(field))
        .then(|| (part.into(), field.into()))
}

/// The `$name`s in an expression's text (`$` followed by a letter or `_`), without `$$`.
fn variable_names(text: &str) -> Box<[Box<str>]> {
    let bytes = text.as_bytes();
    let mut names: Vec<Box<str>> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' {
            let start = i + 1;
            let mut end = start;
            while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
                end += 1;
            }
            if end > start && !bytes[start].is_ascii_digit() {
                let name = &text[start..end];
                if !names.iter().any(|n| &**n == name) {
                    names.push(name.into());
                }
            }
            i = end.max(start);
        } else {
            i += 1;
        }
    }
    names.into()
}

fn error(e: EvaluatorError) -> JsonataError {
    JsonataError {
        code: code_in(e.message()).map(str::to_string),
        message: e.message().to_string(),
    }
}

fn fail(message: String) -> EvaluatorError {
    EvaluatorError::EvaluationError(message)
}

/// A JSON value as JSONata's (a copy: `jsonata-core` has its own value type).
pub(crate) fn to_jvalue(value: &Value) -> JValue {
    // `&Value` is a serde deserializer; a `Value` nests at most as deep as the JSON it came
    // from, which serde_json's reader already bounded.
    JValue::deserialize(value).unwrap_or(JValue::Null)
}

/// A JSONata result as JSON. A number JSON cannot hold (infinite, not a number) becomes
/// `null`, as `JSON.stringify` writes it; a function becomes `""`, as `$string` writes it.
pub(crate) fn from_jvalue(value: &JValue) -> Result<Value, JsonataError> {
    serde_json::to_value(value).map_err(|e| JsonataError {
        code: None,
        message: format!("the result cannot be written as JSON: {e}"),
    })
}

/// `States.QueryEvaluationError`, the error Step Functions raises for a JSONata expression
/// that fails or yields what the field cannot take.
pub(crate) fn query_evaluation_error(cause: impl Into<String>) -> crate::TaskError {
    crate::TaskError::new(errors::QUERY_EVALUATION_ERROR, cause)
}

/// The functions Step Functions adds to JSONata.
fn step_functions_functions(evaluator: &mut Evaluator) {
    let _ = evaluator.register_fn("partition", |args: &[JValue]| {
        let (Some(JValue::Array(items)), Some(size)) = (args.first(), args.get(1)) else {
            return Err(fail("$partition takes an array and a chunk size".into()));
        };
        let size = positive_integer(size, "$partition", "chunk size")?;
        Ok(JValue::array(
            items
                .chunks(size)
                .map(|chunk| JValue::array(chunk.to_vec()))
                .collect(),
        ))
    });
    let _ = evaluator.register_fn("range", |args: &[JValue]| {
        let number = |i: usize, what: &str| -> Result<f64, EvaluatorError> {
            args.get(i)
                .and_then(JValue::as_f64)
                .filter(|n| n.fract() == 0.0)
                .ok_or_else(|| fail(format!("$range: the {what} must be an integer")))
        };
        let (start, end, step) = (number(0, "start")?, number(1, "end")?, number(2, "step")?);
        if step == 0.0 {
            return Err(fail("$range: the step must not be 0".into()));
        }
        let count = ((end - start) / step).floor() + 1.0;
        if count > MAX_RANGE_ITEMS as f64 {
            return Err(fail(format!(
                "$range: {count} items is more than the {MAX_RANGE_ITEMS} it may produce"
            )));
        }
        let count = count.max(0.0) as usize;
        Ok(JValue::array(
            (0..count)
                .map(|i| JValue::from(start + step * i as f64))
                .collect(),
        ))
    });
    let _ = evaluator.register_fn("hash", |args: &[JValue]| {
        use crate::intrinsics::{hex_digest, HASH_ALGORITHMS};
        let (Some(JValue::String(data)), Some(JValue::String(algorithm))) =
            (args.first(), args.get(1))
        else {
            return Err(fail(format!(
                "$hash takes a string and an algorithm ({HASH_ALGORITHMS})"
            )));
        };
        hex_digest(data.as_bytes(), algorithm)
            .map(JValue::from)
            .ok_or_else(|| {
                fail(format!(
                    "$hash: unknown algorithm '{algorithm}' (use {HASH_ALGORITHMS})"
                ))
            })
    });
    let _ = evaluator.register_fn_override("random", |args: &[JValue]| match args.first() {
        None => Ok(JValue::from(fastrand::f64())),
        Some(seed) => {
            let seed = seed
                .as_f64()
                .filter(|n| n.fract() == 0.0)
                .ok_or_else(|| fail("$random: the seed must be an integer".into()))?;
            Ok(JValue::from(
                fastrand::Rng::with_seed(seed as i64 as u64).f64(),
            ))
        }
    });
    // Two functions jsonata-core lacks or gets wrong, as jsonata-js 2.2 has them (the
    // differential test holds them to it).
    let _ = evaluator.register_fn("clone", |args: &[JValue]| {
        Ok(args.first().cloned().unwrap_or(JValue::Undefined))
    });
    let _ = evaluator.register_fn_override("encodeUrl", |args: &[JValue]| match args.first() {
        Some(JValue::String(text)) => Ok(JValue::from(encode_uri(text))),
        Some(JValue::Undefined) | None => Ok(JValue::Undefined),
        Some(_) => Err(fail(
            "T0410: Argument 1 of function \"encodeUrl\" does not match function signature".into(),
        )),
    });
    let _ = evaluator.register_fn("uuid", |_: &[JValue]| {
        Ok(JValue::from(uuid::Uuid::new_v4().to_string()))
    });
    let _ = evaluator.register_fn("parse", |args: &[JValue]| {
        let Some(JValue::String(text)) = args.first() else {
            return Err(fail("$parse takes a string of JSON".into()));
        };
        JValue::from_json_str(text).map_err(|e| fail(format!("$parse: not JSON: {e}")))
    });
}

/// JavaScript's `encodeURI`: every byte of the UTF-8 text percent-encoded but letters, digits
/// and `;,/?:@&=+$-_.!~*'()#`.
fn encode_uri(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || ";,/?:@&=+$-_.!~*'()#".contains(c) {
            out.push(c);
        } else {
            let mut bytes = [0; 4];
            for b in c.encode_utf8(&mut bytes).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// The most items `$range` and `$partition` build (Step Functions' own figure is not
/// documented; a value this large is over the payload quota anyway).
const MAX_RANGE_ITEMS: usize = 1_000_000;

fn positive_integer(value: &JValue, function: &str, what: &str) -> Result<usize, EvaluatorError> {
    value
        .as_f64()
        .filter(|n| n.fract() == 0.0 && *n >= 1.0 && *n <= MAX_RANGE_ITEMS as f64)
        .map(|n| n as usize)
        .ok_or_else(|| fail(format!("{function}: the {what} must be a positive integer")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(text: &str, input: Value) -> Result<Option<Value>, JsonataError> {
        Expression::parse(text)
            .unwrap()
            .evaluate(&input, &mut |name| (name == "x").then(|| json!(41)))
    }

    #[test]
    fn binds_only_what_it_mentions() {
        assert_eq!(eval("$x + 1", json!(null)), Ok(Some(json!(42))));
        assert_eq!(
            eval("a.b", json!({"a": {"b": [1, 2]}})),
            Ok(Some(json!([1, 2])))
        );
        assert_eq!(eval("nothing", json!({})), Ok(None));
        assert_eq!(
            &*variable_names("$a.$b + $$ + $1 + $states.input")[..].join(","),
            "a,b,states"
        );
    }

    #[test]
    fn step_functions_functions() {
        assert_eq!(
            eval("$partition([1,2,3,4,5], 2)", json!(null)),
            Ok(Some(json!([[1, 2], [3, 4], [5]])))
        );
        assert_eq!(
            eval("$range(0, 10, 2)", json!(null)),
            Ok(Some(json!([0, 2, 4, 6, 8, 10])))
        );
        assert_eq!(
            eval("$range(5, 1, -2)", json!(null)),
            Ok(Some(json!([5, 3, 1])))
        );
        assert_eq!(
            eval("$hash('abc', 'SHA-256')", json!(null)),
            Ok(Some(json!(
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
            )))
        );
        assert_eq!(
            eval("$hash('abc', 'MD5')", json!(null)),
            Ok(Some(json!("900150983cd24fb0d6963f7d28e17f72")))
        );
        assert_eq!(
            eval("$parse('{\"a\": [1]}').a", json!(null)),
            Ok(Some(json!([1])))
        );
        assert_eq!(
            eval("$random(7) = $random(7)", json!(null)),
            Ok(Some(json!(true)))
        );
        assert_eq!(eval("$length($uuid())", json!(null)), Ok(Some(json!(36))));
        assert!(eval("$hash('a', 'CRC32')", json!(null)).is_err());
        assert!(eval("$parse('{')", json!(null)).is_err());
    }

    #[test]
    fn errors_carry_jsonata_codes() {
        let e = eval("'a' + 1", json!(null)).unwrap_err();
        assert_eq!(e.code.as_deref(), Some("T2001"), "{e:?}");
        let e = Expression::parse("a[").unwrap_err();
        assert_eq!(e.code.as_deref(), Some("S0207"), "{e:?}");
    }
}
