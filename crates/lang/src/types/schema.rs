//! JSON Schema ↔ [`Type`]: `read` turns a schema (draft-07 as schemars writes it, 2019-09
//! and 2020-12's `$defs` too) into a type, `write` turns a type back into a draft-07 schema
//! (`flowctl schema --flow`).
//!
//! What is read: `type` (one or a list), `properties`/`required`/`additionalProperties`,
//! `items` (one schema or a tuple), `enum`/`const`, `format: date-time`, `nullable`,
//! `oneOf`/`anyOf` (a union), a one-member `allOf`, `$ref` to `#/definitions/…`,
//! `#/$defs/…` or a named type (`BookingRequest`, `#/types/BookingRequest`). Anything else
//! reads as [`Type::Any`]: it checks nothing rather than something wrong.

use super::{Field, Object, Rest, Strings, Type, Types};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Deeper schemas than this read as `Any` (the checker must not recurse without bound on
/// hostile input).
const MAX_DEPTH: usize = 64;

/// How many schema nodes one `read` looks at at most; past it, the rest reads as `Any`
/// (definitions referring to others several times, each read in place, could otherwise
/// double the work at every level).
const MAX_STEPS: usize = 100_000;

/// The type `schema` describes. Its `$ref` targets are added to `types` (renamed `Name_2`
/// when a different type already has the name); a root object with a `title` is named by it
/// too, so messages say `Reservation` rather than `object with id, nights, …`.
pub fn read(schema: &Value, types: &mut Types) -> Type {
    let defs = schema
        .get("definitions")
        .or_else(|| schema.get("$defs"))
        .and_then(Value::as_object);
    let mut reader = Reader {
        types,
        defs,
        local: BTreeMap::new(),
        root: None,
        inline: BTreeSet::new(),
        steps: 0,
    };
    let title = schema
        .get("title")
        .and_then(Value::as_str)
        .filter(|t| is_type_name(t));
    // A schema that refers to itself (`"$ref": "#"`) needs its name before it is read.
    if let Some(title) = title.filter(|_| refers_to_root(schema, 0)) {
        let name = reader.types.reserve(title);
        reader.root = Some(name.clone());
        let ty = reader.read(schema, 0);
        reader.types.define(&name, ty);
        return Type::Named(name);
    }
    let ty = reader.read(schema, 0);
    match (title, &ty) {
        (
            Some(title),
            Type::Object(_)
            | Type::String(Strings {
                values: Some(_), ..
            }),
        ) => Type::Named(reader.types.intern(title, ty)),
        _ => ty,
    }
}

/// Whether `schema` holds a `"$ref": "#"` outside its definitions (looked for as deep as
/// schemas are read).
fn refers_to_root(schema: &Value, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    match schema {
        Value::Object(map) => map.iter().any(|(k, v)| {
            (k == "$ref" && v == "#")
                || (k != "definitions" && k != "$defs" && refers_to_root(v, depth + 1))
        }),
        Value::Array(items) => items.iter().any(|v| refers_to_root(v, depth + 1)),
        _ => false,
    }
}

/// A name a flow can write after `input:`: an identifier of the flow language.
pub fn is_type_name(name: &str) -> bool {
    crate::manifest::names::is_identifier(name)
}

struct Reader<'a, 'd> {
    types: &'a mut Types,
    defs: Option<&'d Map<String, Value>>,
    /// Local definition name → its name in `types`.
    local: BTreeMap<String, String>,
    /// The root's name, for `"$ref": "#"`.
    root: Option<String>,
    /// Definitions without a type name being read in place: one met again inside itself
    /// reads as `Any` there (it has no name to refer to).
    inline: BTreeSet<String>,
    /// Nodes read so far (see [`MAX_STEPS`]).
    steps: usize,
}

impl Reader<'_, '_> {
    fn read(&mut self, schema: &Value, depth: usize) -> Type {
        if depth > MAX_DEPTH || self.steps >= MAX_STEPS {
            return Type::Any;
        }
        self.steps += 1;
        let Some(obj) = schema.as_object() else {
            return Type::Any; // `true`, `false` or not a schema
        };
        let ty = self.read_object(obj, depth);
        if obj.get("nullable") == Some(&Value::Bool(true)) {
            ty.nullable()
        } else {
            ty
        }
    }

    fn read_object(&mut self, obj: &Map<String, Value>, depth: usize) -> Type {
        if let Some(reference) = obj.get("$ref").and_then(Value::as_str) {
            return self.reference(reference, depth);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(members) = obj.get(key).and_then(Value::as_array) {
                return Type::union(members.iter().map(|m| self.read(m, depth + 1)));
            }
        }
        if let Some(all) = obj.get("allOf").and_then(Value::as_array) {
            return match all.as_slice() {
                [only] => self.read(only, depth + 1),
                _ => Type::Any,
            };
        }
        if let Some(value) = obj.get("const") {
            return literal_type(std::slice::from_ref(value));
        }
        if let Some(values) = obj.get("enum").and_then(Value::as_array) {
            return literal_type(values);
        }
        match obj.get("type") {
            Some(Value::String(t)) => self.of_type(t, obj, depth),
            Some(Value::Array(ts)) => Type::union(
                ts.iter()
                    .filter_map(Value::as_str)
                    .map(|t| self.of_type(t, obj, depth))
                    .collect::<Vec<_>>(),
            ),
            _ if obj.contains_key("properties") => self.of_type("object", obj, depth),
            _ if obj.contains_key("items") => self.of_type("array", obj, depth),
            _ => Type::Any,
        }
    }

    fn of_type(&mut self, t: &str, obj: &Map<String, Value>, depth: usize) -> Type {
        match t {
            "null" => Type::Null,
            "boolean" => Type::Bool,
            "number" => Type::Number,
            "integer" => Type::Integer,
            "string" => Type::String(Strings {
                values: None,
                timestamp: obj.get("format").and_then(Value::as_str) == Some("date-time"),
            }),
            "array" => match obj.get("items") {
                Some(Value::Array(items)) => {
                    Type::Tuple(items.iter().map(|i| self.read(i, depth + 1)).collect())
                }
                Some(item) => Type::List(Box::new(self.read(item, depth + 1))),
                None => Type::List(Box::new(Type::Any)),
            },
            "object" => {
                let required: BTreeSet<&str> = obj
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let mut fields = BTreeMap::new();
                if let Some(props) = obj.get("properties").and_then(Value::as_object) {
                    for (name, schema) in props {
                        let ty = self.read(schema, depth + 1);
                        fields.insert(
                            name.clone(),
                            Field {
                                ty,
                                required: required.contains(name.as_str()),
                            },
                        );
                    }
                }
                let rest = match obj.get("additionalProperties") {
                    Some(Value::Bool(false)) => Rest::Forbidden,
                    None | Some(Value::Bool(true)) => Rest::Unknown,
                    Some(schema) => match self.read(schema, depth + 1) {
                        Type::Any => Rest::Unknown,
                        ty => Rest::Typed(Box::new(ty)),
                    },
                };
                Type::Object(Object { fields, rest })
            }
            _ => Type::Any,
        }
    }

    fn reference(&mut self, reference: &str, depth: usize) -> Type {
        if reference == "#" {
            return self.root.clone().map_or(Type::Any, Type::Named);
        }
        let local = reference
            .strip_prefix("#/definitions/")
            .or_else(|| reference.strip_prefix("#/$defs/"));
        if let Some(name) = local {
            return self.local_definition(name, depth);
        }
        let global = reference.strip_prefix("#/types/").unwrap_or(reference);
        if is_type_name(global) {
            return Type::Named(global.to_string());
        }
        Type::Any
    }

    fn local_definition(&mut self, name: &str, depth: usize) -> Type {
        if let Some(interned) = self.local.get(name) {
            return Type::Named(interned.clone());
        }
        let Some(def) = self.defs.and_then(|d| d.get(name)) else {
            return Type::Any;
        };
        if !is_type_name(name) {
            if !self.inline.insert(name.to_string()) {
                return Type::Any;
            }
            let ty = self.read(def, depth + 1);
            self.inline.remove(name);
            return ty;
        }
        // The same definition often comes with several schemas (one type used by two
        // functions): read it assuming it is the table's type of that name, and keep that
        // name when it is.
        if self.types.get(name).is_some() {
            let before = self.local.clone();
            self.local.insert(name.to_string(), name.to_string());
            let probe = self.read(def, depth + 1);
            if self.types.get(name) == Some(&probe) {
                return Type::Named(name.to_string());
            }
            self.local = before;
        }
        let interned = self.types.reserve(name);
        self.local.insert(name.to_string(), interned.clone());
        let ty = self.read(def, depth + 1);
        self.types.define(&interned, ty);
        Type::Named(interned)
    }
}

/// The type of a list of allowed values (`enum`, `const`): strings become an enum, the other
/// kinds their plain type.
fn literal_type(values: &[Value]) -> Type {
    let strings: Vec<String> = values
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let mut members = Vec::new();
    if !strings.is_empty() {
        members.push(Type::String(Strings {
            values: Some(strings),
            timestamp: false,
        }));
    }
    for v in values {
        members.push(match v {
            Value::Null => Type::Null,
            Value::Bool(_) => Type::Bool,
            Value::Number(n) if n.is_f64() => Type::Number,
            Value::Number(_) => Type::Integer,
            Value::String(_) => continue,
            Value::Array(_) | Value::Object(_) => Type::Any,
        });
    }
    Type::union(members)
}

/// `ty` as a JSON Schema (draft-07) document, with every named type it reaches under
/// `definitions`.
pub fn write(ty: &Type, types: &Types) -> Value {
    let mut needed = BTreeSet::new();
    let mut root = schema_of(ty, &mut needed);
    let mut definitions = Map::new();
    let mut done = BTreeSet::new();
    while let Some(name) = needed.iter().find(|n| !done.contains(*n)).cloned() {
        done.insert(name.clone());
        if let Some(def) = types.get(&name) {
            let schema = schema_of(def, &mut needed);
            definitions.insert(name, schema);
        }
    }
    if let Value::Object(obj) = &mut root {
        obj.insert(
            "$schema".into(),
            json!("http://json-schema.org/draft-07/schema#"),
        );
        if !definitions.is_empty() {
            obj.insert("definitions".into(), Value::Object(definitions));
        }
    }
    root
}

fn schema_of(ty: &Type, needed: &mut BTreeSet<String>) -> Value {
    match ty {
        Type::Any => json!({}),
        Type::Null => json!({"type": "null"}),
        Type::Bool => json!({"type": "boolean"}),
        Type::Number => json!({"type": "number"}),
        Type::Integer => json!({"type": "integer"}),
        Type::String(s) => {
            let mut out = json!({"type": "string"});
            if let Some(values) = &s.values {
                out["enum"] = json!(values);
            }
            if s.timestamp {
                out["format"] = json!("date-time");
            }
            out
        }
        Type::List(item) => json!({"type": "array", "items": schema_of(item, needed)}),
        Type::Tuple(items) => json!({
            "type": "array",
            "items": items.iter().map(|i| schema_of(i, needed)).collect::<Vec<_>>(),
            "minItems": items.len(),
            "maxItems": items.len(),
        }),
        Type::Object(o) => {
            let properties: Map<String, Value> = o
                .fields
                .iter()
                .map(|(k, f)| (k.clone(), schema_of(&f.ty, needed)))
                .collect();
            let required: Vec<&String> = o
                .fields
                .iter()
                .filter(|(_, f)| f.required)
                .map(|(k, _)| k)
                .collect();
            let mut out = json!({"type": "object", "properties": properties});
            if !required.is_empty() {
                out["required"] = json!(required);
            }
            match &o.rest {
                Rest::Forbidden => out["additionalProperties"] = json!(false),
                Rest::Unknown => {}
                Rest::Typed(t) => out["additionalProperties"] = schema_of(t, needed),
            }
            out
        }
        Type::Union(members) => {
            json!({"anyOf": members.iter().map(|m| schema_of(m, needed)).collect::<Vec<_>>()})
        }
        Type::Named(name) => {
            needed.insert(name.clone());
            json!({"$ref": format!("#/definitions/{name}")})
        }
    }
}
