//! The types of the values a flow moves around, read from JSON Schema (`schema`), shown to
//! people (`Type::show`), checked against values (`validate`, for `invoke`'s input) and
//! against each other (`assign`, for call arguments).
//!
//! A type says what is known and no more: anything JSON Schema can say that these types
//! cannot is [`Type::Any`], which checks nothing. Named types (`$ref`s, the registry's and
//! the manifest's `types`) live in one [`Types`] table and are referred to by name, so
//! recursive schemas stay finite.

mod assign;
pub mod schema;
mod validate;

pub use assign::{assign, Mismatch, MismatchKind};
pub use validate::{validate, Problem};

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub enum Type {
    /// Nothing is known: every use is allowed.
    Any,
    Null,
    Bool,
    /// Any JSON number.
    Number,
    /// A whole number (a number written without a fraction).
    Integer,
    String(Strings),
    /// A list whose items all have one type.
    List(Box<Type>),
    /// A list whose i-th item has the i-th type (a `parallel`'s results).
    Tuple(Vec<Type>),
    Object(Object),
    /// One of these (never nested, never containing `Any`; see [`Type::union`]).
    Union(Vec<Type>),
    /// A type of the [`Types`] table.
    Named(String),
}

/// What is known of a string.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Strings {
    /// The only values allowed (an enum), when restricted.
    pub values: Option<Vec<String>>,
    /// An RFC 3339 timestamp (`format: date-time`): compared as a timestamp.
    pub timestamp: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Object {
    pub fields: BTreeMap<String, Field>,
    pub rest: Rest,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub ty: Type,
    pub required: bool,
}

/// Keys an object may have beyond its declared fields.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Rest {
    /// `additionalProperties: false`: none.
    Forbidden,
    /// Not said: other keys may be there, and nothing is known about them.
    #[default]
    Unknown,
    /// A map: any key, each value of this type.
    Typed(Box<Type>),
}

impl Object {
    /// Whether the object says nothing about its keys (`{"type": "object"}`): any field may
    /// be read.
    pub fn is_free_form(&self) -> bool {
        self.fields.is_empty() && self.rest == Rest::Unknown
    }
}

impl Type {
    pub fn string() -> Type {
        Type::String(Strings::default())
    }

    /// A string that can only be `value` (a literal).
    pub fn literal_string(value: &str) -> Type {
        Type::String(Strings {
            values: Some(vec![value.to_string()]),
            timestamp: false,
        })
    }

    /// The type of a literal written in a flow: a string literal is a one-value enum, so it
    /// can be checked against an enum.
    pub fn of_literal(value: &serde_json::Value) -> Type {
        use serde_json::Value;
        match value {
            Value::Null => Type::Null,
            Value::Bool(_) => Type::Bool,
            Value::Number(n) if n.is_i64() || n.is_u64() => Type::Integer,
            Value::Number(_) => Type::Number,
            Value::String(s) => Type::literal_string(s),
            Value::Array(items) => {
                Type::List(Box::new(Type::union(items.iter().map(Type::of_literal))))
            }
            Value::Object(map) => Type::closed_object(
                map.iter()
                    .map(|(k, v)| (k.clone(), Type::of_literal(v)))
                    .collect(),
            ),
        }
    }

    /// An object with exactly these fields, all present (an object written in a flow).
    pub fn closed_object(fields: BTreeMap<String, Type>) -> Type {
        Type::Object(Object {
            fields: fields
                .into_iter()
                .map(|(k, ty)| (k, Field { ty, required: true }))
                .collect(),
            rest: Rest::Forbidden,
        })
    }

    /// `{}`: what `F()` passes.
    pub fn empty_object() -> Type {
        Type::closed_object(BTreeMap::new())
    }

    /// One of `types`, flattened and deduplicated; `Any` when any of them is.
    pub fn union(types: impl IntoIterator<Item = Type>) -> Type {
        let mut out: Vec<Type> = Vec::new();
        for ty in types {
            match ty {
                Type::Any => return Type::Any,
                Type::Union(members) => {
                    for m in members {
                        if !out.contains(&m) {
                            out.push(m);
                        }
                    }
                }
                other => {
                    if !out.contains(&other) {
                        out.push(other);
                    }
                }
            }
        }
        match out.len() {
            0 => Type::Any,
            1 => out.pop().unwrap_or(Type::Any),
            _ => Type::Union(out),
        }
    }

    /// `self` or null.
    pub fn nullable(self) -> Type {
        Type::union([self, Type::Null])
    }

    /// The `{Error, Cause}` object a `catch` binds.
    pub fn caught_error() -> Type {
        let field = |ty| Field { ty, required: true };
        Type::Object(Object {
            fields: [
                ("Error".to_string(), field(Type::string())),
                ("Cause".to_string(), field(Type::string())),
            ]
            .into(),
            rest: Rest::Forbidden,
        })
    }

    /// How a message names the type: `string`, `"a" or "b"`, `list of Quote`,
    /// `object with id, nights`.
    pub fn show(&self) -> String {
        match self {
            Type::Any => "any value".into(),
            Type::Null => "null".into(),
            Type::Bool => "boolean".into(),
            Type::Number => "number".into(),
            Type::Integer => "integer".into(),
            Type::String(s) => match &s.values {
                Some(values) if values.len() <= 6 => values
                    .iter()
                    .map(|v| serde_json::to_string(v).unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(" or "),
                Some(values) => format!("one of {} strings", values.len()),
                None if s.timestamp => "timestamp string".into(),
                None => "string".into(),
            },
            Type::List(item) => format!("list of {}", item.show_short()),
            Type::Tuple(items) => format!(
                "list [{}]",
                items
                    .iter()
                    .map(Type::show_short)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Type::Object(o) if o.fields.is_empty() => "object".into(),
            Type::Object(o) => {
                let names: Vec<&str> = o.fields.keys().map(String::as_str).take(6).collect();
                let more = if o.fields.len() > 6 { ", …" } else { "" };
                format!("object with {}{more}", names.join(", "))
            }
            Type::Union(members) => members
                .iter()
                .map(Type::show_short)
                .collect::<Vec<_>>()
                .join(" or "),
            Type::Named(name) => name.clone(),
        }
    }

    /// Like [`Type::show`], in a few words (inside a longer name).
    fn show_short(&self) -> String {
        match self {
            Type::Object(o) if !o.fields.is_empty() => "object".into(),
            Type::Union(_) => format!("({})", self.show()),
            other => other.show(),
        }
    }
}

/// The named types: every `$ref` target of the schemas read, the registry's `types` and the
/// manifest's `types`, by name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Types {
    named: BTreeMap<String, Type>,
}

/// How many named types a resolution may go through before giving up (a cycle of
/// `A = B`, `B = A` names nothing).
const MAX_ALIASES: usize = 64;

impl Types {
    pub fn get(&self, name: &str) -> Option<&Type> {
        self.named.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.named.keys().map(String::as_str)
    }

    /// `ty` without its outer names: a `Named` is replaced by its definition (`Any` for an
    /// unknown name or an alias cycle).
    pub fn resolve<'a>(&'a self, mut ty: &'a Type) -> &'a Type {
        for _ in 0..MAX_ALIASES {
            match ty {
                Type::Named(name) => match self.named.get(name) {
                    Some(def) => ty = def,
                    None => return &Type::Any,
                },
                other => return other,
            }
        }
        &Type::Any
    }

    /// Adds `ty` under `name`, or under `name` with a suffix (`Stay_2`) when another type
    /// already has that name; returns the name used. The same type under the same name is
    /// kept once.
    pub fn intern(&mut self, name: &str, ty: Type) -> String {
        let mut candidate = name.to_string();
        for n in 2.. {
            match self.named.get(&candidate) {
                None => {
                    self.named.insert(candidate.clone(), ty);
                    return candidate;
                }
                Some(existing) if *existing == ty => return candidate,
                Some(_) => candidate = format!("{name}_{n}"),
            }
        }
        unreachable!("the loop returns")
    }

    /// Reserves `name` for a type being read (so a recursive `$ref` can point at it), to be
    /// set by [`Types::define`].
    pub(crate) fn reserve(&mut self, name: &str) -> String {
        let mut candidate = name.to_string();
        let mut n = 2;
        while self.named.contains_key(&candidate) {
            candidate = format!("{name}_{n}");
            n += 1;
        }
        self.named.insert(candidate.clone(), Type::Any);
        candidate
    }

    pub(crate) fn define(&mut self, name: &str, ty: Type) {
        self.named.insert(name.to_string(), ty);
    }

    /// The type of the field `name` of `ty`, when `ty` is an object (or a union of objects,
    /// or null-able): `Ok((type, optional))`, or why it has no such field.
    pub fn field(&self, ty: &Type, name: &str) -> Result<(Type, bool), FieldError> {
        self.field_at(ty, name, 0)
    }

    fn field_at(&self, ty: &Type, name: &str, depth: usize) -> Result<(Type, bool), FieldError> {
        if depth > MAX_ALIASES {
            return Ok((Type::Any, false));
        }
        match self.resolve(ty) {
            Type::Any => Ok((Type::Any, false)),
            Type::Object(o) => match o.fields.get(name) {
                Some(f) => Ok((f.ty.clone(), !f.required)),
                None => match &o.rest {
                    Rest::Typed(t) => Ok(((**t).clone(), true)),
                    Rest::Unknown if o.fields.is_empty() => Ok((Type::Any, false)),
                    _ => Err(FieldError::Unknown {
                        fields: o.fields.keys().cloned().collect(),
                    }),
                },
            },
            Type::Union(members) => {
                let mut found = Vec::new();
                let mut optional = false;
                let mut fields = Vec::new();
                for m in self.union_members(members) {
                    match self.field_at(m, name, depth + 1) {
                        Ok((t, opt)) => {
                            optional |= opt;
                            found.push(t);
                        }
                        Err(FieldError::Unknown { fields: f }) => {
                            optional = true;
                            fields.extend(f);
                        }
                        // null, or a scalar beside objects: the field may be absent
                        Err(_) => optional = true,
                    }
                }
                if found.is_empty() {
                    fields.sort();
                    fields.dedup();
                    if fields.is_empty() {
                        return Err(FieldError::NotAnObject { ty: ty.clone() });
                    }
                    return Err(FieldError::Unknown { fields });
                }
                Ok((Type::union(found), optional))
            }
            _ => Err(FieldError::NotAnObject { ty: ty.clone() }),
        }
    }

    /// The type of item `index` of `ty` (a list or tuple): `Ok((type, optional))`.
    pub fn item(&self, ty: &Type, index: Option<u64>) -> Result<(Type, bool), FieldError> {
        self.item_at(ty, index, 0)
    }

    fn item_at(
        &self,
        ty: &Type,
        index: Option<u64>,
        depth: usize,
    ) -> Result<(Type, bool), FieldError> {
        if depth > MAX_ALIASES {
            return Ok((Type::Any, false));
        }
        match self.resolve(ty) {
            Type::Any => Ok((Type::Any, false)),
            Type::List(item) => Ok(((**item).clone(), true)),
            Type::Tuple(items) => match index {
                Some(i) => match items.get(i as usize) {
                    Some(t) => Ok((t.clone(), false)),
                    None => Err(FieldError::OutOfRange { len: items.len() }),
                },
                None => Ok((Type::union(items.iter().cloned()), false)),
            },
            Type::Union(members) => {
                let mut found = Vec::new();
                let mut optional = false;
                for m in self.union_members(members) {
                    match self.item_at(m, index, depth + 1) {
                        Ok((t, opt)) => {
                            optional |= opt;
                            found.push(t);
                        }
                        Err(_) => optional = true,
                    }
                }
                if found.is_empty() {
                    return Err(FieldError::NotAList { ty: ty.clone() });
                }
                Ok((Type::union(found), optional))
            }
            _ => Err(FieldError::NotAList { ty: ty.clone() }),
        }
    }

    /// The members of a union, each member that names a union replaced by that union's
    /// members, and so on (each name looked into once: a cycle of unions ends), so that
    /// what walks a union never walks into another one.
    pub fn union_members<'a>(&'a self, members: &'a [Type]) -> Vec<&'a Type> {
        let mut out = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        let mut stack: Vec<&Type> = members.iter().rev().collect();
        while let Some(m) = stack.pop() {
            if let Type::Named(name) = m {
                if seen.contains(&name.as_str()) {
                    continue;
                }
                seen.push(name);
            }
            match self.resolve(m) {
                Type::Union(inner) => stack.extend(inner.iter().rev()),
                _ => out.push(m),
            }
        }
        out
    }

    /// The item type of a list (for `map`), or `None` when `ty` cannot be a list.
    pub fn items_of(&self, ty: &Type) -> Option<Type> {
        self.item(ty, None).ok().map(|(t, _)| t)
    }
}

/// Why a field or item cannot be read from a type.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldError {
    /// An object without that field; its fields.
    Unknown {
        fields: Vec<String>,
    },
    NotAnObject {
        ty: Type,
    },
    NotAList {
        ty: Type,
    },
    /// A tuple has fewer items.
    OutOfRange {
        len: usize,
    },
}

#[cfg(test)]
mod tests;
