//! A JSON value against a [`Type`]: every problem, each at its JSON pointer (`/guest`,
//! `/nights`), as `invoke` lists them before running anything.

use super::{Rest, Type, Types};
use serde_json::Value;

/// One way a value does not fit its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// RFC 6901 pointer to the value (`""` for the whole value).
    pub pointer: String,
    pub message: String,
}

/// Values nested deeper than this are not looked into (they pass).
const MAX_DEPTH: usize = 128;

/// How many (value, type) pairs one `validate` looks at at most; past it, the rest passes
/// (a value of 256 KB has far fewer nodes; unions of unions of named types could otherwise
/// try every path through them).
const MAX_STEPS: usize = 1_000_000;

/// Every problem of `value` against `ty`; empty when it fits.
pub fn validate(value: &Value, ty: &Type, types: &Types) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut steps = 0;
    check(
        value,
        ty,
        types,
        &mut String::new(),
        &mut out,
        0,
        &mut steps,
    );
    out
}

fn check(
    value: &Value,
    ty: &Type,
    types: &Types,
    pointer: &mut String,
    out: &mut Vec<Problem>,
    depth: usize,
    steps: &mut usize,
) {
    if depth > MAX_DEPTH || *steps >= MAX_STEPS {
        return;
    }
    *steps += 1;
    let ty = types.resolve(ty);
    let problem = |out: &mut Vec<Problem>, message: String| {
        out.push(Problem {
            pointer: pointer.clone(),
            message,
        })
    };
    match (ty, value) {
        (Type::Any, _)
        | (Type::Null, Value::Null)
        | (Type::Bool, Value::Bool(_))
        | (Type::Number, Value::Number(_)) => {}
        (Type::Integer, Value::Number(n)) => {
            if !(n.is_i64() || n.is_u64()) {
                problem(out, format!("expected an integer, found {n}"));
            }
        }
        (Type::String(s), Value::String(v)) => {
            if let Some(values) = &s.values {
                if !values.contains(v) {
                    let near = flowctl_protocol::did_you_mean(v, values.iter().map(String::as_str))
                        .map(|n| format!(" (did you mean \"{n}\"?)"))
                        .unwrap_or_default();
                    problem(
                        out,
                        format!("\"{v}\" is not allowed{near}: expected {}", ty.show()),
                    );
                }
            }
        }
        (Type::List(item), Value::Array(values)) => {
            for (i, v) in values.iter().enumerate() {
                nested(pointer, &i.to_string(), |p| {
                    check(v, item, types, p, out, depth + 1, steps)
                });
            }
        }
        (Type::Tuple(items), Value::Array(values)) => {
            if values.len() != items.len() {
                problem(
                    out,
                    format!(
                        "expected a list of {} items, found {}",
                        items.len(),
                        values.len()
                    ),
                );
                return;
            }
            for (i, (v, t)) in values.iter().zip(items).enumerate() {
                nested(pointer, &i.to_string(), |p| {
                    check(v, t, types, p, out, depth + 1, steps)
                });
            }
        }
        (Type::Object(o), Value::Object(map)) => {
            for (name, field) in &o.fields {
                match map.get(name) {
                    Some(v) => nested(pointer, name, |p| {
                        check(v, &field.ty, types, p, out, depth + 1, steps)
                    }),
                    None if field.required => out.push(Problem {
                        pointer: format!("{pointer}/{}", escape(name)),
                        message: format!("missing required field `{name}` ({})", field.ty.show()),
                    }),
                    None => {}
                }
            }
            for (name, v) in map {
                if o.fields.contains_key(name) {
                    continue;
                }
                match &o.rest {
                    Rest::Forbidden => {
                        let near = flowctl_protocol::did_you_mean(
                            name,
                            o.fields.keys().map(String::as_str),
                        )
                        .map(|n| format!(" (did you mean `{n}`?)"))
                        .unwrap_or_default();
                        out.push(Problem {
                            pointer: format!("{pointer}/{}", escape(name)),
                            message: format!(
                                "unknown field `{name}`{near}: the type allows only {}",
                                o.fields
                                    .keys()
                                    .map(|k| format!("`{k}`"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        })
                    }
                    Rest::Unknown => {}
                    Rest::Typed(t) => nested(pointer, name, |p| {
                        check(v, t, types, p, out, depth + 1, steps)
                    }),
                }
            }
        }
        (Type::Union(members), _) => {
            let members = types.union_members(members);
            let fits = members.iter().any(|m| {
                let mut inner = Vec::new();
                check(
                    value,
                    m,
                    types,
                    &mut pointer.clone(),
                    &mut inner,
                    depth + 1,
                    steps,
                );
                inner.is_empty()
            });
            if fits {
                return;
            }
            // Report against the member of the value's own kind, when there is one: its
            // problems say more than "not any of …".
            let same_kind: Vec<&Type> = members
                .into_iter()
                .filter(|m| kind_matches(types.resolve(m), value))
                .collect();
            if let [only] = same_kind.as_slice() {
                check(value, only, types, pointer, out, depth + 1, steps);
            } else {
                problem(
                    out,
                    format!("expected {}, found {}", ty.show(), kind_of(value)),
                );
            }
        }
        (expected, value) => problem(
            out,
            format!("expected {}, found {}", expected.show(), kind_of(value)),
        ),
    }
}

fn kind_matches(ty: &Type, value: &Value) -> bool {
    matches!(
        (ty, value),
        (Type::Null, Value::Null)
            | (Type::Bool, Value::Bool(_))
            | (Type::Number | Type::Integer, Value::Number(_))
            | (Type::String(_), Value::String(_))
            | (Type::List(_) | Type::Tuple(_), Value::Array(_))
            | (Type::Object(_), Value::Object(_))
    )
}

/// How a message names what was found: `the string "x"`, `a number (2.5)`, `an object`.
fn kind_of(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.chars().count() <= 40 => format!("the string \"{s}\""),
        Value::String(_) => "a string".into(),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

fn nested(pointer: &mut String, segment: &str, f: impl FnOnce(&mut String)) {
    let len = pointer.len();
    pointer.push('/');
    pointer.push_str(&escape(segment));
    f(pointer);
    pointer.truncate(len);
}

/// RFC 6901: `~` → `~0`, `/` → `~1`.
fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}
