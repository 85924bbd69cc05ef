//! Choice rules: compiled from the document's `Choices` (every comparison operator, its
//! `…Path` variant, the type tests, `And`/`Or`/`Not`), and evaluated against a state's input.
//!
//! Step Functions' semantics: a comparison whose operands are of the wrong type is false (not
//! an error); a `Variable` (or `…Path` operand) that selects nothing is a `States.Runtime`
//! error, except under `IsPresent`.

use super::path::Path;
use super::template::{kind, preview, runtime, Scope, Template};
use super::time::parse_timestamp;
use super::TaskError;
use serde_json::{Number, Value};
use std::cmp::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Equals,
    LessThan,
    GreaterThan,
    LessThanEquals,
    GreaterThanEquals,
}

impl Cmp {
    fn holds(self, o: Ordering) -> bool {
        match self {
            Cmp::Equals => o == Ordering::Equal,
            Cmp::LessThan => o == Ordering::Less,
            Cmp::GreaterThan => o == Ordering::Greater,
            Cmp::LessThanEquals => o != Ordering::Greater,
            Cmp::GreaterThanEquals => o != Ordering::Less,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    String,
    Numeric,
    Boolean,
    Timestamp,
}

#[derive(Debug)]
pub(crate) enum Operand<T> {
    Literal(T),
    Path(Path),
}

#[derive(Debug)]
pub(crate) enum Test {
    String(Cmp, Operand<String>),
    Numeric(Cmp, Operand<Number>),
    Boolean(Operand<bool>),
    Timestamp(Cmp, Operand<i128>),
    Matches(Vec<Piece>),
    IsNull(bool),
    IsPresent(bool),
    IsNumeric(bool),
    IsString(bool),
    IsBoolean(bool),
    IsTimestamp(bool),
}

#[derive(Debug, PartialEq)]
pub(crate) enum Piece {
    Literal(String),
    Star,
}

#[derive(Debug)]
pub(crate) enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    Test {
        variable: Path,
        test: Test,
    },
    /// A JSONata rule's `Condition`: `true`, `false` or an expression that gives one.
    Condition(Template),
}

/// The operators a rule may use, for validation and "did you mean".
pub(crate) const OPERATORS: &[&str] = &[
    "And",
    "Or",
    "Not",
    "StringEquals",
    "StringEqualsPath",
    "StringLessThan",
    "StringLessThanPath",
    "StringGreaterThan",
    "StringGreaterThanPath",
    "StringLessThanEquals",
    "StringLessThanEqualsPath",
    "StringGreaterThanEquals",
    "StringGreaterThanEqualsPath",
    "StringMatches",
    "NumericEquals",
    "NumericEqualsPath",
    "NumericLessThan",
    "NumericLessThanPath",
    "NumericGreaterThan",
    "NumericGreaterThanPath",
    "NumericLessThanEquals",
    "NumericLessThanEqualsPath",
    "NumericGreaterThanEquals",
    "NumericGreaterThanEqualsPath",
    "BooleanEquals",
    "BooleanEqualsPath",
    "TimestampEquals",
    "TimestampEqualsPath",
    "TimestampLessThan",
    "TimestampLessThanPath",
    "TimestampGreaterThan",
    "TimestampGreaterThanPath",
    "TimestampLessThanEquals",
    "TimestampLessThanEqualsPath",
    "TimestampGreaterThanEquals",
    "TimestampGreaterThanEqualsPath",
    "IsNull",
    "IsPresent",
    "IsNumeric",
    "IsString",
    "IsBoolean",
    "IsTimestamp",
];

/// Splits an operator name into its family, comparison and whether it takes a path.
fn comparison(op: &str) -> Option<(Family, Cmp, bool)> {
    let (op, is_path) = match op.strip_suffix("Path") {
        Some(base) => (base, true),
        None => (op, false),
    };
    let (family, rest) = [
        ("String", Family::String),
        ("Numeric", Family::Numeric),
        ("Boolean", Family::Boolean),
        ("Timestamp", Family::Timestamp),
    ]
    .into_iter()
    .find_map(|(prefix, family)| op.strip_prefix(prefix).map(|rest| (family, rest)))?;
    let cmp = match rest {
        "Equals" => Cmp::Equals,
        "LessThan" => Cmp::LessThan,
        "GreaterThan" => Cmp::GreaterThan,
        "LessThanEquals" => Cmp::LessThanEquals,
        "GreaterThanEquals" => Cmp::GreaterThanEquals,
        _ => return None,
    };
    if family == Family::Boolean && cmp != Cmp::Equals {
        return None;
    }
    Some((family, cmp, is_path))
}

/// Compiles the operator `op` with its document value into a test. The error is the message
/// for the field `op`.
pub(crate) fn compile_test(op: &str, value: &Value) -> Result<Test, String> {
    let flag = |make: fn(bool) -> Test| match value {
        Value::Bool(b) => Ok(make(*b)),
        other => Err(format!("must be a boolean, not {}", kind(other))),
    };
    match op {
        "IsNull" => return flag(Test::IsNull),
        "IsPresent" => return flag(Test::IsPresent),
        "IsNumeric" => return flag(Test::IsNumeric),
        "IsString" => return flag(Test::IsString),
        "IsBoolean" => return flag(Test::IsBoolean),
        "IsTimestamp" => return flag(Test::IsTimestamp),
        "StringMatches" => {
            return match value {
                Value::String(pattern) => Ok(Test::Matches(compile_pattern(pattern))),
                other => Err(format!("must be a string pattern, not {}", kind(other))),
            }
        }
        _ => {}
    }
    let Some((family, cmp, is_path)) = comparison(op) else {
        return Err(format!("`{op}` is not a comparison operator"));
    };
    if is_path {
        let Value::String(text) = value else {
            return Err(format!("must be a path string, not {}", kind(value)));
        };
        let path = Path::parse(text)?;
        return Ok(match family {
            Family::String => Test::String(cmp, Operand::Path(path)),
            Family::Numeric => Test::Numeric(cmp, Operand::Path(path)),
            Family::Boolean => Test::Boolean(Operand::Path(path)),
            Family::Timestamp => Test::Timestamp(cmp, Operand::Path(path)),
        });
    }
    match (family, value) {
        (Family::String, Value::String(s)) => Ok(Test::String(cmp, Operand::Literal(s.clone()))),
        (Family::Numeric, Value::Number(n)) => Ok(Test::Numeric(cmp, Operand::Literal(n.clone()))),
        (Family::Boolean, Value::Bool(b)) => Ok(Test::Boolean(Operand::Literal(*b))),
        (Family::Timestamp, Value::String(s)) => match parse_timestamp(s) {
            Some(t) => Ok(Test::Timestamp(cmp, Operand::Literal(t))),
            None => Err(format!(
                "`{s}` is not an RFC 3339 timestamp (like `2024-01-31T12:00:00Z`)"
            )),
        },
        (family, other) => Err(format!(
            "must be {}, not {}",
            match family {
                Family::String => "a string",
                Family::Numeric => "a number",
                Family::Boolean => "a boolean",
                Family::Timestamp => "a timestamp string",
            },
            kind(other)
        )),
    }
}

/// `*` matches any run of characters; `\*` is a literal star and `\\` a literal backslash.
pub(crate) fn compile_pattern(pattern: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => literal.push(chars.next().unwrap_or('\\')),
            '*' => {
                if !literal.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                }
                if pieces.last() != Some(&Piece::Star) {
                    pieces.push(Piece::Star);
                }
            }
            c => literal.push(c),
        }
    }
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    pieces
}

fn glob_matches(pieces: &[Piece], text: &str) -> bool {
    let mut rest = text;
    let mut floating = false;
    for (i, piece) in pieces.iter().enumerate() {
        match piece {
            Piece::Star => floating = true,
            Piece::Literal(lit) => {
                let is_last = i + 1 == pieces.len();
                if !floating {
                    match rest.strip_prefix(lit.as_str()) {
                        Some(r) => rest = r,
                        None => return false,
                    }
                } else if is_last {
                    // The final literal after a star must end the text.
                    return rest.ends_with(lit.as_str());
                } else {
                    match rest.find(lit.as_str()) {
                        Some(at) => rest = &rest[at + lit.len()..],
                        None => return false,
                    }
                }
                floating = false;
            }
        }
    }
    floating || rest.is_empty()
}

fn numeric_cmp(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

fn invalid_path(path: &Path) -> TaskError {
    runtime(format!(
        "Invalid path '{}': The choice state's condition path references an invalid value.",
        path.text()
    ))
}

fn operand<'s, T>(
    op: &'s Operand<T>,
    scope: &'s Scope,
    literal: impl Fn(&'s T) -> Value,
) -> Result<std::borrow::Cow<'s, Value>, TaskError> {
    match op {
        Operand::Literal(v) => Ok(std::borrow::Cow::Owned(literal(v))),
        Operand::Path(p) => scope.select(p).ok_or_else(|| invalid_path(p)),
    }
}

impl Rule {
    pub(crate) fn uses_context(&self) -> bool {
        match self {
            Rule::And(rules) | Rule::Or(rules) => rules.iter().any(Rule::uses_context),
            Rule::Not(rule) => rule.uses_context(),
            Rule::Condition(condition) => condition.uses_context(),
            Rule::Test { variable, test } => {
                variable.is_context()
                    || match test {
                        Test::String(_, Operand::Path(p))
                        | Test::Numeric(_, Operand::Path(p))
                        | Test::Boolean(Operand::Path(p))
                        | Test::Timestamp(_, Operand::Path(p)) => p.is_context(),
                        _ => false,
                    }
            }
        }
    }

    pub(crate) fn matches(&self, scope: &Scope) -> Result<bool, TaskError> {
        match self {
            Rule::And(rules) => {
                for r in rules {
                    if !r.matches(scope)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Rule::Or(rules) => {
                for r in rules {
                    if r.matches(scope)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Rule::Not(rule) => Ok(!rule.matches(scope)?),
            Rule::Condition(condition) => match condition.eval(scope)? {
                Value::Bool(holds) => Ok(holds),
                other => Err(super::jsonata::query_evaluation_error(format!(
                    "The Condition must give a boolean, not {} ({})",
                    kind(&other),
                    preview(&other)
                ))),
            },
            Rule::Test { variable, test } => {
                let value = scope.select(variable);
                if let Test::IsPresent(expected) = test {
                    return Ok(value.is_some() == *expected);
                }
                let value = value.ok_or_else(|| invalid_path(variable))?;
                test.holds(&value, scope)
            }
        }
    }
}

impl Test {
    fn holds(&self, v: &Value, scope: &Scope) -> Result<bool, TaskError> {
        Ok(match self {
            Test::IsPresent(expected) => *expected,
            Test::IsNull(expected) => v.is_null() == *expected,
            Test::IsNumeric(expected) => v.is_number() == *expected,
            Test::IsString(expected) => v.is_string() == *expected,
            Test::IsBoolean(expected) => v.is_boolean() == *expected,
            Test::IsTimestamp(expected) => {
                v.as_str().and_then(parse_timestamp).is_some() == *expected
            }
            Test::Matches(pieces) => v.as_str().is_some_and(|s| glob_matches(pieces, s)),
            Test::String(cmp, op) => {
                let other = operand(op, scope, |s: &String| Value::String(s.clone()))?;
                match (v, &*other) {
                    (Value::String(a), Value::String(b)) => cmp.holds(a.as_str().cmp(b.as_str())),
                    _ => false,
                }
            }
            Test::Numeric(cmp, op) => {
                let other = operand(op, scope, |n: &Number| Value::Number(n.clone()))?;
                match (v, &*other) {
                    (Value::Number(a), Value::Number(b)) => {
                        numeric_cmp(a, b).is_some_and(|o| cmp.holds(o))
                    }
                    _ => false,
                }
            }
            Test::Boolean(op) => {
                let other = operand(op, scope, |b: &bool| Value::Bool(*b))?;
                match (v, &*other) {
                    (Value::Bool(a), Value::Bool(b)) => a == b,
                    _ => false,
                }
            }
            Test::Timestamp(cmp, op) => {
                let Some(a) = v.as_str().and_then(parse_timestamp) else {
                    return Ok(false);
                };
                let b = match op {
                    Operand::Literal(t) => Some(*t),
                    Operand::Path(p) => scope
                        .select(p)
                        .ok_or_else(|| invalid_path(p))?
                        .as_str()
                        .and_then(parse_timestamp),
                };
                b.is_some_and(|b| cmp.holds(a.cmp(&b)))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_patterns() {
        let m = |p: &str, s: &str| glob_matches(&compile_pattern(p), s);
        assert!(m("log-*.txt", "log-2024.txt"));
        assert!(m("*.log", "a.log"));
        assert!(!m("*.log", "a.log.txt"));
        assert!(m("a*b*c", "aXbYbc"));
        assert!(m("*", ""));
        assert!(m("", ""));
        assert!(!m("", "x"));
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "aXb"));
        assert!(m("back\\\\slash*", "back\\slash!"));
        assert!(m("a*a", "aa"));
        assert!(!m("a*a", "a"));
        assert!(m("*ab*ab", "xabyab"));
    }

    #[test]
    fn operator_names() {
        for op in OPERATORS {
            if !matches!(*op, "And" | "Or" | "Not") {
                let sample = if op.starts_with("Is") {
                    Value::Bool(true)
                } else if op.ends_with("Path") {
                    Value::String("$.x".into())
                } else if op.starts_with("Numeric") {
                    serde_json::json!(1)
                } else if op.starts_with("Boolean") {
                    Value::Bool(true)
                } else if op.starts_with("Timestamp") {
                    Value::String("2024-01-01T00:00:00Z".into())
                } else {
                    Value::String("s".into())
                };
                assert!(compile_test(op, &sample).is_ok(), "{op}");
            }
        }
        assert!(compile_test("BooleanLessThan", &Value::Bool(true)).is_err());
    }
}
