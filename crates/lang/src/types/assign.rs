//! Whether a value of one type may be passed where another is expected (a call's argument
//! against the function's input type): every mismatch, each at its place in the argument.
//!
//! Sound where it speaks, lenient where it cannot know: `Any` on either side, a plain string
//! where an enum is expected, and a list where a tuple is expected pass.

use super::{Rest, Type, Types};

#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// Where in the argument: `""` for the whole, `room`, `guest.name`, `nights[0]`.
    pub place: String,
    pub kind: MismatchKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MismatchKind {
    /// A required field the argument does not have.
    Missing {
        field: String,
        expected: String,
    },
    /// A required field the argument has only sometimes (an optional field of its source).
    MaybeMissing {
        field: String,
    },
    /// A field the expected type forbids (`additionalProperties: false`).
    Unknown {
        field: String,
        allowed: Vec<String>,
    },
    /// A literal string outside the expected enum.
    NotInEnum {
        value: String,
        allowed: Vec<String>,
    },
    Wrong {
        expected: String,
        found: String,
    },
}

/// Argument types nested deeper than this are not compared (they pass).
const MAX_DEPTH: usize = 64;

/// How many comparisons one `assign` makes at most; past it, the rest passes. Recursive
/// named types are compared once per pair on a path (below), so only hostile unions get
/// near it.
const MAX_STEPS: usize = 100_000;

/// Every mismatch of `actual` passed as `expected`; empty when it fits.
pub fn assign(actual: &Type, expected: &Type, types: &Types) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let mut walk = Walk {
        types,
        steps: 0,
        open: Vec::new(),
    };
    go(actual, expected, &mut walk, "", &mut out, 0);
    out
}

/// One `assign`: the named types, its budget, and the pairs of named types being compared.
struct Walk<'t> {
    types: &'t Types,
    steps: usize,
    /// (actual, expected) names compared further up this path: met again (a recursive type,
    /// a tree's `left` and `right`), the pair is assumed to fit, so a recursive type is
    /// walked once rather than once per path through its recursion.
    open: Vec<(String, String)>,
}

fn join(place: &str, field: &str) -> String {
    if place.is_empty() {
        field.to_string()
    } else {
        format!("{place}.{field}")
    }
}

fn go(
    actual: &Type,
    expected: &Type,
    walk: &mut Walk<'_>,
    place: &str,
    out: &mut Vec<Mismatch>,
    depth: usize,
) {
    if depth > MAX_DEPTH || walk.steps >= MAX_STEPS {
        return;
    }
    walk.steps += 1;
    if let (Type::Named(a), Type::Named(e)) = (actual, expected) {
        if walk.open.iter().any(|(x, y)| x == a && y == e) {
            return;
        }
        walk.open.push((a.clone(), e.clone()));
        compare(actual, expected, walk, place, out, depth);
        walk.open.pop();
    } else {
        compare(actual, expected, walk, place, out, depth);
    }
}

fn compare(
    actual: &Type,
    expected: &Type,
    walk: &mut Walk<'_>,
    place: &str,
    out: &mut Vec<Mismatch>,
    depth: usize,
) {
    let types = walk.types;
    let (a, e) = (types.resolve(actual), types.resolve(expected));
    let wrong = |out: &mut Vec<Mismatch>| {
        out.push(Mismatch {
            place: place.to_string(),
            kind: MismatchKind::Wrong {
                expected: expected.show(),
                found: actual.show(),
            },
        })
    };
    match (a, e) {
        (Type::Any, _) | (_, Type::Any) => {}
        (Type::Union(members), _) => {
            // Each possibility must fit; report the first that does not.
            for m in types.union_members(members) {
                let mut inner = Vec::new();
                go(m, expected, walk, place, &mut inner, depth + 1);
                if !inner.is_empty() {
                    if matches!(types.resolve(m), Type::Null) {
                        out.push(Mismatch {
                            place: place.to_string(),
                            kind: MismatchKind::Wrong {
                                expected: expected.show(),
                                found: format!("{} (it may be null)", actual.show()),
                            },
                        });
                    } else {
                        out.extend(inner);
                    }
                    return;
                }
            }
        }
        (_, Type::Union(members)) => {
            let mut best: Option<Vec<Mismatch>> = None;
            for m in types.union_members(members) {
                let mut inner = Vec::new();
                go(actual, m, walk, place, &mut inner, depth + 1);
                if inner.is_empty() {
                    return;
                }
                // Prefer the member of the same kind: its mismatches say more.
                if same_kind(a, types.resolve(m)) && best.is_none() {
                    best = Some(inner);
                }
            }
            match best {
                Some(inner) => out.extend(inner),
                None => wrong(out),
            }
        }
        (Type::Null, Type::Null) | (Type::Bool, Type::Bool) => {}
        (Type::Integer | Type::Number, Type::Number) | (Type::Integer, Type::Integer) => {}
        (Type::String(a_s), Type::String(e_s)) => {
            if let (Some(allowed), Some(values)) = (&e_s.values, &a_s.values) {
                if let Some(v) = values.iter().find(|v| !allowed.contains(v)) {
                    out.push(Mismatch {
                        place: place.to_string(),
                        kind: MismatchKind::NotInEnum {
                            value: v.clone(),
                            allowed: allowed.clone(),
                        },
                    });
                }
            }
        }
        (Type::List(ai), Type::List(ei)) => go(ai, ei, walk, &format!("{place}[]"), out, depth + 1),
        (Type::Tuple(items), Type::List(ei)) => {
            for (i, item) in items.iter().enumerate() {
                go(item, ei, walk, &format!("{place}[{i}]"), out, depth + 1);
            }
        }
        (Type::List(_), Type::Tuple(_)) => {}
        (Type::Tuple(ai), Type::Tuple(ei)) => {
            if ai.len() != ei.len() {
                wrong(out);
                return;
            }
            for (i, (x, y)) in ai.iter().zip(ei).enumerate() {
                go(x, y, walk, &format!("{place}[{i}]"), out, depth + 1);
            }
        }
        (Type::Object(ao), Type::Object(eo)) => {
            for (name, field) in &eo.fields {
                match ao.fields.get(name) {
                    Some(af) => {
                        if field.required && !af.required {
                            out.push(Mismatch {
                                place: join(place, name),
                                kind: MismatchKind::MaybeMissing {
                                    field: name.clone(),
                                },
                            });
                        }
                        go(&af.ty, &field.ty, walk, &join(place, name), out, depth + 1);
                    }
                    None if field.required
                        && !ao.is_free_form()
                        && !matches!(ao.rest, Rest::Typed(_)) =>
                    {
                        out.push(Mismatch {
                            place: place.to_string(),
                            kind: MismatchKind::Missing {
                                field: name.clone(),
                                expected: field.ty.show(),
                            },
                        })
                    }
                    None => {}
                }
            }
            for (name, af) in &ao.fields {
                if eo.fields.contains_key(name) {
                    continue;
                }
                match &eo.rest {
                    Rest::Forbidden => out.push(Mismatch {
                        place: place.to_string(),
                        kind: MismatchKind::Unknown {
                            field: name.clone(),
                            allowed: eo.fields.keys().cloned().collect(),
                        },
                    }),
                    Rest::Unknown => {}
                    Rest::Typed(t) => go(&af.ty, t, walk, &join(place, name), out, depth + 1),
                }
            }
        }
        _ => wrong(out),
    }
}

fn same_kind(a: &Type, b: &Type) -> bool {
    matches!(
        (a, b),
        (Type::Object(_), Type::Object(_))
            | (
                Type::List(_) | Type::Tuple(_),
                Type::List(_) | Type::Tuple(_)
            )
            | (Type::String(_), Type::String(_))
            | (Type::Integer | Type::Number, Type::Integer | Type::Number)
    )
}
