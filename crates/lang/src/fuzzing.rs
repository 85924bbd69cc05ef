//! What the fuzz targets run (`fuzz/fuzz_targets/*.rs`), in one place so that
//! `cli/tests/fuzz_corpus.rs` replays their seed corpora through exactly the same calls on
//! every `cargo test`. Each function takes any bytes and must never panic.

/// The flow pipeline: parse any text, format it and draw it, check whatever parses, and for
/// a flow that checks, plan it, compile it unfused and fused, and walk the documents' routes.
pub fn flow(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (file, _) = crate::flow::parse(text);
    let Some(file) = file else {
        return;
    };
    let _ = crate::flow::fmt::format(text);
    let _ = crate::flow::graph::mermaid(&file.flow);
    let _ = crate::flow::graph::dot(&file.flow);
    let known = crate::flow::KnownFunctions::new("demo", ["A", "B"]);
    let (ir, _) = crate::flow::check(&file, &known);
    let Some(ir) = ir else {
        return;
    };
    let manifest = "project: fuzz\nnamespace: demo\nfunctions:\n  A: { package: p, idempotent: true }\n  B: { package: p, idempotent: true }\n";
    let (Some(manifest), _) = crate::manifest::parse(manifest) else {
        return;
    };
    let plan = crate::plan::plan(&manifest, &[&ir]);
    for fuse in [false, true] {
        let opts = plan.compile_options(&manifest, "fuzz.flow", fuse);
        if let Ok(doc) = crate::asl::compile(&ir, &opts) {
            // What the compiler writes must read back (deploy and the engine read the file).
            let text = crate::asl::to_pretty_json(&doc);
            assert!(
                serde_json::from_str::<serde_json::Value>(&text).is_ok(),
                "a compiled document does not read back"
            );
            let _ = crate::routes::routes(&doc);
            let _ = crate::asl::fused_chains(&doc);
        }
    }
}

/// The manifest loader: parse any text, check the flow files of whatever loads, locate a
/// key path in any text (the locator also answers on text that is not valid YAML), and plan
/// a manifest that loads (without flows).
pub fn manifest(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (manifest, _) = crate::manifest::parse(text);
    let _ = crate::manifest::locate::find(text, &["functions", "A", "env"]);
    if let Some(manifest) = manifest {
        let _ = crate::manifest::check_files(&manifest, text, |p| p.as_os_str().len() % 2 == 0);
        // Every answer a file system could give, chosen by the path.
        let _ =
            crate::manifest::check_sources(&manifest, text, |p| match p.as_os_str().len() % 4 {
                0 => crate::manifest::PathKind::Missing,
                1 => crate::manifest::PathKind::Directory,
                n => crate::manifest::PathKind::File { executable: n == 2 },
            });
        let _ = crate::plan::plan(&manifest, &[]);
    }
}

/// Typed checking: parse any text, check it against a fixed typed registry ([`typed_known`]:
/// records, enums, null-able and optional fields, tuples, unions, recursive `$ref`s, a map, a
/// non-idempotent function with retry-safe errors, stores read and written, one of them
/// eventually consistent), and for a flow that checks, write its input and output types as
/// JSON Schemas and validate a few values against its input type.
pub fn typed_flow(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (file, _) = crate::flow::parse(text);
    let Some(file) = file else {
        return;
    };
    let known = typed_known();
    let (flow, _) = crate::flow::check(&file, known);
    let Some(flow) = flow else {
        return;
    };
    let Some(registry) = &known.registry else {
        return;
    };
    let types = &registry.types;
    let input = crate::types::schema::write(&flow.input, types);
    let output = crate::types::schema::write(&flow.output, types);
    for value in samples() {
        let _ = crate::types::validate(&value, &flow.input, types);
    }
    let _ = crate::types::validate(&input, &flow.input, types);
    let _ = crate::types::validate(&output, &flow.input, types);
    let _ = crate::types::assign(&flow.output, &flow.input, types);
}

/// JSON Schema reading and writing: read any JSON as a schema into a fresh table of named
/// types, write the type back (and read that again), validate a handful of values (the input
/// among them) against it, and assign it to itself and to and from a simple object type.
pub fn schema(data: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        schema_value(&value);
    }
}

/// [`schema`] on a value already read (the unit tests build values deeper than serde_json
/// reads).
pub fn schema_value(value: &serde_json::Value) {
    use crate::types::{assign, schema, validate, Type, Types};
    let mut types = Types::default();
    let ty = schema::read(value, &mut types);
    let written = schema::write(&ty, &types);
    // Read once more into the same table, as a registry reads several functions' schemas
    // that share definitions, and the written schema into a fresh one.
    let again = schema::read(value, &mut types);
    let mut fresh = Types::default();
    let reread = schema::read(&written, &mut fresh);
    let _ = schema::write(&reread, &fresh);
    let _ = ty.show();

    // The input itself too, by reference: a value deeper than serde_json reads must not be
    // cloned (or dropped) recursively here.
    for v in samples().iter().chain([value, &written]) {
        let _ = validate(v, &ty, &types);
    }
    let _ = validate(value, &reread, &fresh);

    let simple = Type::closed_object(
        [
            ("id".to_string(), Type::string()),
            ("n".to_string(), Type::Integer),
        ]
        .into(),
    );
    let itself = assign(&ty, &ty, &types);
    assert!(
        itself.is_empty(),
        "a type does not fit itself: {itself:?} ({})",
        ty.show()
    );
    let _ = assign(&ty, &again, &types);
    let _ = assign(&simple, &ty, &types);
    let _ = assign(&ty, &simple, &types);
    // What the checker asks of a type: a field, an item, the items of a list.
    let _ = types.field(&ty, "id");
    let _ = types.item(&ty, Some(0));
    let _ = types.items_of(&ty);
}

/// Values to validate against a type: one of each kind and a few records.
fn samples() -> Vec<serde_json::Value> {
    use serde_json::json;
    vec![
        json!(null),
        json!(true),
        json!(0),
        json!(-1.5),
        json!(""),
        json!("available"),
        json!("2024-01-31T12:00:00Z"),
        json!([]),
        json!([1, "a", null]),
        json!({}),
        json!({"id": "r-1", "nights": 2, "amount": 120.5}),
        json!({"id": 3, "nights": "2", "extra": {"deep": [[{}]]}}),
        json!({"value": 1, "left": {"value": 2}, "children": [{"value": 3, "right": null}]}),
    ]
}

/// The typed registry [`typed_flow`] checks against, built once (through
/// `registry::assemble`, as a build's cache and the manifest would give it).
pub fn typed_known() -> &'static crate::flow::KnownFunctions {
    static KNOWN: std::sync::OnceLock<crate::flow::KnownFunctions> = std::sync::OnceLock::new();
    KNOWN.get_or_init(|| {
        let (registry, _) = typed_registry();
        let manifest = typed_manifest();
        let mut known = crate::flow::KnownFunctions::new("demo", manifest.functions.keys());
        known.registry = Some(std::sync::Arc::new(registry));
        known
    })
}

/// The manifest of the typed registry: functions of a described package `p`, one function
/// (`Legacy`) a package that describes nothing declares in the manifest, named types inline
/// and in a file, and two stores.
const TYPED_MANIFEST: &str = "project: fuzz
namespace: demo
functions:
  A: { package: p }
  B: { package: p }
  Reserve: { package: p }
  Pay: { package: p }
  Quote: { package: p }
  Walk: { package: p }
  Pick: { package: p }
  Legacy:
    package: other
    idempotent: false
    retry_safe: [Throttled]
    reads: [rooms]
    consistent_reads: [rooms]
    input: { type: object, required: [n], properties: { n: { type: integer }, note: { type: [string, 'null'] } } }
    output: schemas/legacy-output.json
types:
  Money: { type: object, required: [amount, currency], properties: { amount: { type: number }, currency: { enum: [EUR, USD] } }, additionalProperties: false }
  Order: schemas/order.json
stores:
  rooms: { consistency: eventual }
  payments: { consistency: strong }
";

fn typed_manifest() -> crate::manifest::Manifest {
    crate::manifest::parse(TYPED_MANIFEST)
        .0
        .expect("the fuzz registry's manifest parses")
}

/// The schema files [`TYPED_MANIFEST`] names.
fn typed_schema_files() -> std::collections::BTreeMap<std::path::PathBuf, String> {
    let legacy = r#"{"type": "array", "items": {"type": "string"}}"#;
    let order = r##"{"title": "Order", "type": "object", "required": ["id", "lines"],
        "properties": {"id": {"type": "string"}, "total": {"$ref": "Money"},
                       "lines": {"type": "array", "items": {"$ref": "#/$defs/Line"}}},
        "$defs": {"Line": {"type": "object", "required": ["sku", "qty"],
                           "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}}}}}"##;
    [
        ("schemas/legacy-output.json".into(), legacy.to_string()),
        ("schemas/order.json".into(), order.to_string()),
    ]
    .into()
}

/// What package `p`'s binary would `describe` (schemas as schemars writes them), and an
/// empty description of package `other` (so the registry is complete).
fn typed_describe() -> serde_json::Value {
    use serde_json::json;
    let reservation = json!({
        "title": "Reservation", "type": "object", "required": ["id", "nights", "status"],
        "properties": {
            "id": {"type": "string"},
            "nights": {"type": "integer", "format": "uint32", "minimum": 0},
            "status": {"$ref": "#/definitions/Availability"},
            "room": {"type": ["integer", "null"], "format": "uint32"},
            "arrival": {"type": "string", "format": "date-time"},
            "guest": {"anyOf": [{"$ref": "#/definitions/Guest"}, {"type": "null"}]},
            "tags": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        "definitions": {
            "Availability": {"type": "string", "enum": ["available", "unavailable"]},
            "Guest": {"type": "object", "required": ["name"],
                      "properties": {"name": {"type": "string"}, "tier": {"const": "gold"}}},
        }
    });
    let node = json!({
        "$ref": "#/definitions/Node",
        "definitions": {"Node": {"type": "object", "required": ["value"], "properties": {
            "value": {"type": "integer"},
            "left": {"$ref": "#/definitions/Node"},
            "right": {"anyOf": [{"$ref": "#/definitions/Node"}, {"type": "null"}]},
            "children": {"type": "array", "items": {"$ref": "#/definitions/Node"}},
        }}}
    });
    json!({
        "shim": "flowctl-shim", "version": "0.1.0", "protocol": 1,
        "functions": [
            {"name": "A", "properties": {"idempotent": true},
             "input": true,
             "output": {"type": "object", "required": ["x"], "properties": {
                 "x": {"type": "string"}, "y": {"type": "number", "nullable": true},
                 "items": {"type": "array", "items": {"type": "object", "properties": {"t": {"type": "string"}}}}}}},
            {"name": "B", "properties": {"idempotent": true},
             "input": {"type": "object"}, "output": {"type": "boolean"}},
            {"name": "Reserve", "properties": {"idempotent": true, "reads": ["rooms"], "writes": ["rooms"]},
             "input": {"title": "Stay", "type": "object", "required": ["id", "nights"],
                       "properties": {"id": {"type": "string"}, "nights": {"type": "integer"}},
                       "additionalProperties": false},
             "output": reservation},
            {"name": "Pay", "properties": {"idempotent": false, "retry_safe": ["GatewayBusy"], "writes": ["payments"]},
             "input": {"title": "Charge", "type": "object", "required": ["id", "amount"],
                       "properties": {"id": {"type": "string"}, "amount": {"type": "number"},
                                      "currency": {"type": "string", "enum": ["EUR", "USD"]}}},
             "output": {"title": "Receipt", "type": "object", "required": ["transaction"],
                        "properties": {"transaction": {"type": "string"}}}},
            {"name": "Quote", "properties": {"idempotent": true, "reads": ["rooms"]},
             "input": {"type": "object", "required": ["nights"],
                       "properties": {"nights": {"type": "array", "items": {"type": "string", "format": "date-time"}}}},
             "output": {"type": "array", "items": {"type": "object", "required": ["rate"],
                        "properties": {"rate": {"type": "number"}, "night": {"type": "string"}}}}},
            {"name": "Walk", "properties": {"idempotent": true}, "input": node, "output": node},
            {"name": "Pick", "properties": {"idempotent": true, "reads": ["payments"]},
             "input": {"oneOf": [
                 {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
                 {"type": "object", "required": ["ids"], "properties": {"ids": {"type": "array", "items": {"type": "string"}}}}]},
             "output": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}, {"type": ["boolean", "null"]}]}},
        ],
        "types": {
            "BookingRequest": {"title": "BookingRequest", "type": "object",
                "required": ["id", "nights", "amount"],
                "properties": {"id": {"type": "string"}, "nights": {"type": "integer"},
                               "amount": {"type": "number"}, "guest": {"type": "string"},
                               "arrival": {"type": "string", "format": "date-time"},
                               "channel": {"enum": ["email", "sms"]},
                               "items": {"type": "array", "items": {"type": "string"}}}},
            "Tree": node,
        }
    })
}

/// The typed registry and the problems of assembling it (none: a unit test says so).
fn typed_registry() -> (
    crate::registry::Registry,
    Vec<crate::diagnostic::Diagnostic>,
) {
    use crate::registry::{assemble, Cache, Inputs};
    let manifest = typed_manifest();
    let other = serde_json::json!({"shim": "flowctl-shim", "version": "0.1.0", "protocol": 1, "functions": []});
    let cache = Cache::holding([
        ("p".to_string(), typed_describe()),
        ("other".to_string(), other),
    ]);
    let files = typed_schema_files();
    assemble(&Inputs {
        manifest: &manifest,
        manifest_text: TYPED_MANIFEST,
        cache: Some(&cache),
        schema_files: &files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// Drops a value without recursing (serde_json's own drop recurses once per level).
    fn dismantle(value: Value) {
        let mut stack = vec![value];
        while let Some(v) = stack.pop() {
            match v {
                Value::Array(items) => stack.extend(items),
                Value::Object(map) => stack.extend(map.into_iter().map(|(_, v)| v)),
                _ => {}
            }
        }
    }

    /// `depth` levels of `wrap` around `inner`, built without recursion.
    fn nest(depth: usize, inner: Value, wrap: impl Fn(Value) -> Value) -> Value {
        let mut v = inner;
        for _ in 0..depth {
            v = wrap(v);
        }
        v
    }

    #[test]
    fn the_typed_registry_assembles_without_a_problem() {
        let (registry, diags) = typed_registry();
        assert!(diags.is_empty(), "{diags:#?}");
        assert!(registry.complete);
        assert_eq!(registry.functions.len(), 8);
        for (name, f) in &registry.functions {
            if name != "A" {
                assert_ne!(f.input, crate::types::Type::Any, "{name}");
            }
            assert_ne!(f.output, crate::types::Type::Any, "{name}");
        }
        assert!(registry.eventual_stores.contains("rooms"));
        for name in [
            "BookingRequest",
            "Tree",
            "Money",
            "Order",
            "Reservation",
            "Node",
        ] {
            assert!(registry.types.get(name).is_some(), "{name}");
        }
        assert!(!registry.functions["Pay"].properties.idempotent);
    }

    #[test]
    fn a_typed_flow_checks_against_the_fuzz_registry() {
        let src = r#"flow F(input: BookingRequest) {
  r = Reserve({"id": input.id, "nights": input.nights})
  if and(eq(r.status, "available"), is_number(r.room)) {
    p = Pay({"id": r.id, "amount": input.amount, "currency": "EUR"}) retry(on: ["GatewayBusy"])
    t = Walk({"value": 1, "left": {"value": 2}})
    u = Walk(t)
    return({"txn": p.transaction, "tree": u})
  }
  fail("NotAvailable", "none")
}
"#;
        let (file, diags) = crate::flow::parse(src);
        assert!(diags.is_empty(), "{diags:#?}");
        let (flow, diags) = crate::flow::check(&file.unwrap(), typed_known());
        assert!(diags.is_empty(), "{diags:#?}");
        assert!(flow.is_some());
        typed_flow(src.as_bytes());
    }

    #[test]
    fn the_fuzz_registry_finds_what_typed_checking_finds() {
        let codes = |body: &str| -> Vec<String> {
            let src = format!("flow F(input) {{\n{body}\n}}\n");
            let (file, _) = crate::flow::parse(&src);
            let (_, diags) = crate::flow::check(&file.unwrap(), typed_known());
            diags.into_iter().map(|d| d.code.to_string()).collect()
        };
        let reserve = r#"r = Reserve({"id": "a", "nights": 1})"#;
        assert_eq!(codes(&format!("{reserve}\n return(r.roomm)")), ["C020"]);
        assert_eq!(
            codes(
                r#"r = Reserve({"id": "a"})
 return(r)"#
            ),
            ["C021"]
        );
        assert_eq!(
            codes(&format!(
                "{reserve}\n if eq(r.status, \"availble\") {{ return(1) }}\n return(2)"
            )),
            ["C024"]
        );
        assert_eq!(
            codes(&format!(
                "{reserve}\n xs = map x in r.id {{ return(x) }}\n return(xs)"
            )),
            ["C025"]
        );
        assert_eq!(codes(&format!("{reserve}\n return(r.room)")), ["C026"]);
        assert_eq!(
            codes(
                r#"p = Pay({"id": "a", "amount": 1}) retry(max: 2)
 return(p)"#
            ),
            ["C030"]
        );
        assert_eq!(
            codes(&format!(
                "{reserve}\n q = Quote({{\"nights\": []}})\n return(q)"
            )),
            ["C031"]
        );
    }

    /// `{..rest, key: inner}`, moving `inner` in (`json!` would copy it, recursively).
    fn with(rest: Value, key: &str, inner: Value) -> Value {
        let mut v = rest;
        if let Value::Object(map) = &mut v {
            map.insert(key.to_string(), inner);
        }
        v
    }

    #[test]
    fn deep_schemas_do_not_overflow_the_stack() {
        let leaf = || json!({"type": "string"});
        let wraps: [fn(Value) -> Value; 7] = [
            |v| with(json!({"type": "array"}), "items", v),
            |v| {
                let props = with(json!({}), "a", v);
                with(
                    json!({"type": "object", "required": ["a"]}),
                    "properties",
                    props,
                )
            },
            |v| {
                with(
                    json!({}),
                    "items",
                    Value::Array(vec![v, json!({"type": "integer"})]),
                )
            },
            |v| {
                with(
                    json!({}),
                    "anyOf",
                    Value::Array(vec![v, json!({"type": "null"})]),
                )
            },
            |v| with(json!({}), "allOf", Value::Array(vec![v])),
            |v| with(json!({"type": "object"}), "additionalProperties", v),
            |v| {
                // Each level a definition referring to the next one.
                let defs = with(json!({}), "D", v);
                with(json!({"$ref": "#/definitions/D"}), "definitions", defs)
            },
        ];
        for wrap in wraps {
            let deep = nest(10_000, leaf(), wrap);
            schema_value(&deep);
            dismantle(deep);
        }
        // Values as deep, against types as deep as the reader goes.
        let mut types = crate::types::Types::default();
        let list = nest(100, leaf(), |v| with(json!({}), "items", v));
        let list = crate::types::schema::read(&list, &mut types);
        let record = nest(100, leaf(), |v| {
            with(
                json!({"type": "object"}),
                "properties",
                with(json!({}), "a", v),
            )
        });
        let record = crate::types::schema::read(&record, &mut types);
        for ty in [&list, &record, &crate::types::Type::Any] {
            let value = nest(10_000, json!("x"), |v| Value::Array(vec![v]));
            let _ = crate::types::validate(&value, ty, &types);
            dismantle(value);
            let value = nest(10_000, json!(1), |v| with(json!({}), "a", v));
            let _ = crate::types::validate(&value, ty, &types);
            dismantle(value);
        }
    }

    #[test]
    fn recursive_schemas_terminate() {
        let schemas = [
            json!({"$ref": "#"}),
            json!({"title": "T", "type": "object", "properties": {"next": {"$ref": "#"}}}),
            json!({"$ref": "#/definitions/A", "definitions": {"A": {"$ref": "#/definitions/A"}}}),
            json!({"$ref": "#/definitions/A", "definitions": {
                "A": {"$ref": "#/definitions/B"}, "B": {"$ref": "#/definitions/A"}}}),
            // A tree: two recursive fields (assigning it to itself must not walk every path).
            json!({"$ref": "#/definitions/T", "definitions": {"T": {"type": "object", "required": ["l", "r"],
                "properties": {"l": {"$ref": "#/definitions/T"}, "r": {"$ref": "#/definitions/T"},
                               "c": {"type": "array", "items": {"$ref": "#/definitions/T"}}}}}}),
            // Unions of named unions, around a cycle.
            json!({"$ref": "#/definitions/A", "definitions": {
                "A": {"anyOf": [{"$ref": "#/definitions/B"}, {"$ref": "#/definitions/C"}, {"type": "object", "properties": {"a": {"$ref": "#/definitions/A"}}}]},
                "B": {"anyOf": [{"$ref": "#/definitions/A"}, {"$ref": "#/definitions/C"}, {"type": "array", "items": {"$ref": "#/definitions/B"}}]},
                "C": {"anyOf": [{"$ref": "#/definitions/A"}, {"$ref": "#/definitions/B"}, {"type": "string", "enum": ["c"]}]}}}),
            // Definitions whose names are not type names are read in place: two references
            // each must not double the work per level.
            json!({"$ref": "#/definitions/a-b", "definitions": {"a-b": {"anyOf": [
                {"type": "array", "items": {"$ref": "#/definitions/a-b"}},
                {"type": "object", "properties": {"x": {"$ref": "#/definitions/a-b"}}}]}}}),
        ];
        for schema in &schemas {
            schema_value(schema);
            typed_flow(b"flow F(input: Tree) {\n t = Walk(input)\n return(t.left.right)\n}\n");
        }
    }

    /// Recursive types are compared once per pair of names on a path (assumed to fit when
    /// met again), which finds a difference deep in the recursion and still ends at once.
    #[test]
    fn recursive_types_compare_without_walking_every_path() {
        use crate::types::{assign, schema, validate, Type, Types};
        let mut types = Types::default();
        let tree = json!({"$ref": "#/definitions/T", "definitions": {"T": {"type": "object",
            "required": ["v"], "properties": {"v": {"type": "integer"},
            "l": {"$ref": "#/definitions/T"}, "r": {"$ref": "#/definitions/T"},
            "c": {"type": "array", "items": {"$ref": "#/definitions/T"}}}}}});
        let t = schema::read(&tree, &mut types);
        assert_eq!(assign(&t, &t, &types), []);
        // T1 → T2 → T3 → T2 …, with a string `v` two levels down.
        let chain = json!({"type": "object", "properties": {"one": {"$ref": "#/definitions/T1"}, "two": {"$ref": "#/definitions/T2"}}, "definitions": {
            "T1": {"type": "object", "required": ["v", "next"], "properties": {"v": {"type": "integer"}, "next": {"$ref": "#/definitions/T1"}}},
            "T2": {"type": "object", "required": ["v", "next"], "properties": {"v": {"type": "integer"}, "next": {"$ref": "#/definitions/T3"}}},
            "T3": {"type": "object", "required": ["v", "next"], "properties": {"v": {"type": "string"}, "next": {"$ref": "#/definitions/T2"}}}}});
        schema::read(&chain, &mut types);
        let t1 = Type::Named("T1".into());
        let t2 = Type::Named("T2".into());
        assert_eq!(assign(&t1, &t1, &types), []);
        let m = assign(&t1, &t2, &types);
        assert_eq!(m.len(), 1, "{m:?}");
        assert_eq!(m[0].place, "next.v");

        // A cycle of unions: read once per name, and a value checks against every member.
        let unions = json!({"$ref": "#/definitions/A", "definitions": {
            "A": {"anyOf": [{"$ref": "#/definitions/B"}, {"type": "object", "required": ["a"], "properties": {"a": {"$ref": "#/definitions/A"}}}]},
            "B": {"anyOf": [{"$ref": "#/definitions/A"}, {"$ref": "#/definitions/C"}, {"type": "array", "items": {"$ref": "#/definitions/B"}}]},
            "C": {"anyOf": [{"$ref": "#/definitions/A"}, {"$ref": "#/definitions/B"}, {"type": "string", "enum": ["c"]}, {"type": "null"}]}}});
        let a = schema::read(&unions, &mut types);
        assert_eq!(
            validate(&json!({"a": ["c", null, [{"a": "c"}]]}), &a, &types),
            []
        );
        assert_eq!(validate(&json!(5), &a, &types).len(), 1);
        assert_eq!(validate(&json!({"a": "d"}), &a, &types).len(), 1);
        assert!(types.field(&a, "a").is_ok());
        assert!(types.items_of(&a).is_some());
        assert_eq!(assign(&a, &a, &types), []);
        assert_eq!(assign(&Type::literal_string("d"), &a, &types).len(), 1);
    }
}
