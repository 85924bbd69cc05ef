//! The typed checks, against a registry as a build would cache it: a describe document of
//! the booking functions' shape (schemas as schemars writes them).

use crate::diagnostic::{Diagnostic, Severity};
use crate::flow::{check, parse, KnownFunctions};
use crate::registry::{assemble, Cache, Inputs, Registry};
use crate::types::Type;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

const MANIFEST: &str = "project: booking
functions:
  Reserve: { package: p }
  Pay: { package: p }
  Confirm: { package: p }
  Quote: { package: p }
  Audit: { package: p }
stores:
  rooms: { consistency: eventual }
  payments: { consistency: strong }
";

fn describe() -> Value {
    let reservation = json!({
        "type": "object", "required": ["id", "nights", "status"],
        "properties": {
            "id": {"type": "string"},
            "nights": {"type": "integer", "format": "uint32", "minimum": 0},
            "status": {"$ref": "#/definitions/Availability"},
            "room": {"type": ["integer", "null"], "format": "uint32"},
        },
        "definitions": {"Availability": {"type": "string", "enum": ["available", "unavailable"]}}
    });
    let mut reservation_out = reservation.clone();
    reservation_out["title"] = json!("Reservation");
    json!({
        "shim": "flowctl-shim", "version": "0.1.0", "protocol": 1,
        "functions": [
            {"name": "Reserve", "properties": {"idempotent": true, "reads": ["rooms"], "writes": ["rooms"]},
             "input": {"title": "Stay", "type": "object", "required": ["id", "nights"],
                       "properties": {"id": {"type": "string"}, "nights": {"type": "integer"}},
                       "additionalProperties": false},
             "output": reservation_out},
            {"name": "Pay", "properties": {"idempotent": false, "retry_safe": ["GatewayBusy"], "writes": ["payments"]},
             "input": {"title": "Charge", "type": "object", "required": ["id", "amount"],
                       "properties": {"id": {"type": "string"}, "amount": {"type": "number"}}},
             "output": {"title": "Receipt", "type": "object", "required": ["transaction"],
                        "properties": {"transaction": {"type": "string"}}}},
            {"name": "Confirm", "properties": {"idempotent": true, "reads": ["rooms"], "consistent_reads": ["rooms"]},
             "input": {"type": "object", "required": ["id", "room"],
                       "properties": {"id": {"type": "string"}, "room": {"type": "integer"}}},
             "output": {"type": "object", "properties": {"reference": {"type": "string"}}, "required": ["reference"]}},
            {"name": "Quote", "properties": {"idempotent": true, "reads": ["rooms"]},
             "input": {"type": "object", "required": ["nights"], "properties": {"nights": {"type": "array", "items": {"type": "string"}}}},
             "output": {"type": "array", "items": {"type": "object", "required": ["rate"], "properties": {"rate": {"type": "number"}}}}},
            {"name": "Audit", "properties": {}, "input": true, "output": true},
        ],
        "types": {"BookingRequest": {"title": "BookingRequest", "type": "object",
            "required": ["id", "nights", "amount"],
            "properties": {"id": {"type": "string"}, "nights": {"type": "integer"}, "amount": {"type": "number"},
                           "guest": {"type": "string"}, "arrival": {"type": "string", "format": "date-time"}}}}
    })
}

fn registry() -> Registry {
    let (manifest, diags) = crate::manifest::parse(MANIFEST);
    assert!(diags.is_empty(), "{diags:#?}");
    let manifest = manifest.expect("the manifest parses");
    let cache = Cache::holding([("p".to_string(), describe())]);
    let files = BTreeMap::new();
    let (registry, diags) = assemble(&Inputs {
        manifest: &manifest,
        manifest_text: MANIFEST,
        cache: Some(&cache),
        schema_files: &files,
    });
    assert!(diags.is_empty(), "{diags:#?}");
    registry
}

fn known() -> KnownFunctions {
    let mut known = KnownFunctions::new("booking", ["Reserve", "Pay", "Confirm", "Quote", "Audit"]);
    known.registry = Some(Arc::new(registry()));
    known
}

/// The diagnostics of a flow whose body is `body`, as (code, title).
fn problems(header: &str, body: &str) -> Vec<(String, String, Severity)> {
    let src = format!("flow F({header}) {{\n{body}\n}}\n");
    let (file, diags) = parse(&src);
    assert!(diags.is_empty(), "parse errors: {diags:#?}");
    let (_, diags) = check(&file.expect("parsed"), &known());
    diags
        .into_iter()
        .map(|d: Diagnostic| (d.code.to_string(), d.title, d.severity))
        .collect()
}

fn codes(header: &str, body: &str) -> Vec<String> {
    problems(header, body)
        .into_iter()
        .map(|(c, _, _)| c)
        .collect()
}

const RESERVE: &str = r#"r = Reserve({"id": input.id, "nights": input.nights})"#;

#[test]
fn a_typed_flow_that_is_right_has_no_problem() {
    let body = format!(
        r#"{RESERVE}
  if and(eq(r.status, "available"), is_number(r.room)) {{
    p = Pay({{"id": r.id, "amount": input.amount}}) retry(on: ["GatewayBusy"])
    c = Confirm({{"id": r.id, "room": r.room}})
    return({{"ref": c.reference, "txn": p.transaction}})
  }}
  fail("NotAvailable", "none")"#
    );
    assert_eq!(problems("input: BookingRequest", &body), []);
}

#[test]
fn an_unknown_field_of_a_result_names_the_near_one() {
    let p = problems("input", &format!("{RESERVE}\n  return(r.roomm)"));
    assert_eq!(p[0].0, "C020");
    assert!(p[0].1.contains("`r` has no field `roomm`"), "{p:?}");
}

#[test]
fn a_typed_input_checks_its_fields() {
    assert_eq!(
        codes("input: BookingRequest", "return(input.arival)"),
        ["C020"]
    );
    assert_eq!(
        codes("input", "return(input.arival)"),
        Vec::<String>::new(),
        "untyped input"
    );
}

#[test]
fn an_unknown_input_type_is_an_error_once_the_registry_is_complete() {
    assert_eq!(codes("input: BookingReqest", "return(1)"), ["C027"]);
}

#[test]
fn call_arguments_are_checked_against_the_input_type() {
    assert_eq!(
        codes(
            "input",
            r#"r = Reserve({"id": "a"})
  return(r)"#
        ),
        ["C021"]
    );
    assert_eq!(
        codes(
            "input",
            r#"r = Reserve({"id": "a", "nights": 1, "nigths": 2})
  return(r)"#
        ),
        ["C022"]
    );
    assert_eq!(
        codes(
            "input",
            r#"r = Reserve({"id": 3, "nights": 1})
  return(r)"#
        ),
        ["C023"]
    );
    assert_eq!(
        codes(
            "input",
            r#"r = Reserve({"id": "a", "nights": 1.5})
  return(r)"#
        ),
        ["C023"],
        "a fraction where an integer goes"
    );
    // An untyped function and an untyped value pass anything.
    assert_eq!(
        codes(
            "input",
            r#"r = Audit({"x": 1})
  s = Reserve(input)
  return(r)"#
        ),
        Vec::<String>::new()
    );
}

#[test]
fn an_optional_value_passed_where_it_is_required_is_reported() {
    let p = problems(
        "input",
        &format!("{RESERVE}\n  c = Confirm({{\"id\": r.id, \"room\": r.room}})\n  return(c)"),
    );
    let mut codes: Vec<&str> = p.iter().map(|x| x.0.as_str()).collect();
    codes.sort();
    assert_eq!(codes, ["C023", "C026"], "{p:?}");
    let p = p.iter().find(|x| x.0 == "C026").expect("the warning");
    assert_eq!(p.2, Severity::Warning);
}

#[test]
fn comparisons_are_typed_by_the_schema() {
    // Typed paths need no is_* guard, and a literal outside the enum is named.
    assert_eq!(
        codes(
            "input",
            &format!("{RESERVE}\n  if eq(r.nights, input.nights) {{ return(1) }}\n  return(2)")
        ),
        Vec::<String>::new(),
        "one typed side decides"
    );
    assert_eq!(
        codes(
            "input: BookingRequest",
            &format!("{RESERVE}\n  if eq(r.nights, input.nights) {{ return(1) }}\n  return(2)")
        ),
        Vec::<String>::new()
    );
    let p = problems(
        "input",
        &format!("{RESERVE}\n  if eq(r.status, \"availble\") {{ return(1) }}\n  return(2)"),
    );
    assert_eq!(p[0].0, "C024", "{p:?}");
    assert_eq!(
        codes(
            "input",
            &format!("{RESERVE}\n  if eq(r.nights, \"2\") {{ return(1) }}\n  return(2)")
        ),
        ["C011"]
    );
    assert_eq!(
        codes(
            "input",
            &format!("{RESERVE}\n  if gt(r.room, 100) {{ return(1) }}\n  return(2)")
        ),
        ["C026"],
        "a null-able number compares as a number; absent is warned"
    );
}

#[test]
fn map_needs_a_list_and_types_its_items() {
    assert_eq!(
        codes(
            "input",
            &format!("{RESERVE}\n  xs = map x in r.id {{ return(x) }}\n  return(xs)")
        ),
        ["C025"]
    );
    assert_eq!(
        codes(
            "input",
            r#"q = Quote({"nights": ["a"]})
  xs = map x in q { return(x.rat) }
  return(xs)"#
        ),
        ["C020"]
    );
}

#[test]
fn parallel_results_and_caught_errors_are_typed() {
    assert_eq!(
        codes(
            "input",
            r#"both = parallel {
    branch {
      r = Reserve({"id": "a", "nights": 1})
      return(r)
    }
    branch {
      return("x")
    }
  }
  return(both[0].roomz)"#
        ),
        ["C020"]
    );
    assert_eq!(
        codes(
            "input",
            r#"r = Reserve({"id": "a", "nights": 1}) catch(err) {
    return(err.Kause)
  }
  return(r)"#
        ),
        ["C020"]
    );
}

#[test]
fn the_flow_output_is_the_union_of_its_returns() {
    let src = format!("flow F(input) {{\n{RESERVE}\n if eq(r.status, \"available\") {{ return(r) }}\n return(\"none\")\n}}\n");
    let (file, _) = parse(&src);
    let (flow, diags) = check(&file.expect("parsed"), &known());
    assert!(
        diags.iter().all(|d| d.severity == Severity::Warning),
        "{diags:#?}"
    );
    let flow = flow.expect("checked");
    assert_eq!(
        flow.output,
        Type::union([
            Type::Named("Reservation".into()),
            Type::literal_string("none")
        ])
    );
}

#[test]
fn retrying_an_effect_that_is_not_declared_safe_is_a_warning() {
    let p = problems(
        "input",
        r#"p = Pay({"id": "a", "amount": 1}) retry(on: ["GatewayTimeout", "GatewayBusy"])
  return(p)"#,
    );
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!((p[0].0.as_str(), p[0].2), ("C030", Severity::Warning));
    assert!(p[0].1.contains("`GatewayTimeout`"), "{p:?}");
    assert_eq!(
        codes(
            "input",
            r#"p = Pay({"id": "a", "amount": 1}) retry(max: 2)
  return(p)"#
        ),
        ["C030"],
        "every error"
    );
    assert_eq!(
        codes("input", &format!("{RESERVE} retry(max: 2)\n  return(r)")),
        Vec::<String>::new(),
        "idempotent"
    );
}

#[test]
fn reading_an_eventual_store_after_writing_it_is_a_warning() {
    let body = format!("{RESERVE}\n  q = Quote({{\"nights\": [\"a\"]}})\n  return(q)");
    let p = problems("input", &body);
    assert_eq!(
        p.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
        ["C031"],
        "{p:?}"
    );
    // Not on the same path: the write is in the other arm.
    let body = format!("if eq(input.a, 1) {{\n {RESERVE}\n return(r)\n }}\n  q = Quote({{\"nights\": [\"a\"]}})\n  return(q)");
    assert_eq!(codes("input", &body), Vec::<String>::new());
    // A consistent read is not stale.
    let body = format!("{RESERVE}\n  c = Confirm({{\"id\": \"a\", \"room\": 1}})\n  return(c)");
    assert_eq!(codes("input", &body), Vec::<String>::new());
}

#[test]
fn retrying_a_parallel_or_map_that_calls_an_effect_is_a_warning() {
    let p = problems(
        "input",
        r#"both = parallel {
    branch {
      p = Pay({"id": "a", "amount": 1})
      return(p)
    }
    branch {
      return(1)
    }
  } retry(max: 1)
  xs = map x in input.items {
    r = Reserve({"id": x, "nights": 1})
    return(r)
  } retry(max: 1)
  return(both)"#,
    );
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!((p[0].0.as_str(), p[0].2), ("C030", Severity::Warning));
    assert!(p[0].1.contains("this parallel runs Pay again"), "{p:?}");
}

#[test]
fn a_timestamp_comparison_does_not_depend_on_the_order_of_its_sides() {
    use crate::flow::ir::{Cond, Scalar, StmtKind};
    let decided = |cond: &str| {
        let src = format!("flow F(input: BookingRequest) {{\n  if {cond} {{\n    return(1)\n  }}\n  return(2)\n}}\n");
        let (file, _) = parse(&src);
        let (flow, diags) = check(&file.expect("parsed"), &known());
        // `arrival` and `guest` are optional here: C026 warns, and that is all.
        assert!(diags.iter().all(|d| d.code == "C026"), "{diags:#?}");
        match &flow.expect("checked").body.stmts[0].kind {
            StmtKind::If { arms, .. } => match &arms[0].0 {
                Cond::Compare { ty, .. } => *ty,
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    };
    // `arrival` is a date-time string, `guest` a plain one.
    assert_eq!(decided("eq(input.arrival, input.guest)"), Scalar::String);
    assert_eq!(decided("eq(input.guest, input.arrival)"), Scalar::String);
    assert_eq!(
        decided("lt(input.arrival, input.arrival)"),
        Scalar::Timestamp
    );
    assert_eq!(
        decided("lt(input.arrival, \"2026-01-01T00:00:00Z\")"),
        Scalar::Timestamp
    );
    assert_eq!(
        decided("lt(input.guest, \"2026-01-01T00:00:00Z\")"),
        Scalar::Timestamp
    );
    assert_eq!(decided("eq(input.arrival, \"soon\")"), Scalar::String);
}

#[test]
fn a_function_in_a_managed_runtime_is_typed_by_the_manifest_without_waiting_for_a_binary() {
    let text = "project: poly
functions:
  Score:
    runtime: python3.12
    handler: app.handler
    source: fns/score
    idempotent: true
    input: { type: object, required: [amount], properties: { amount: { type: number } } }
    output: { type: object, required: [score], properties: { score: { type: number } } }
";
    let (manifest, diags) = crate::manifest::parse(text);
    assert!(diags.is_empty(), "{diags:#?}");
    let manifest = manifest.unwrap();
    let files = BTreeMap::new();
    // No build has run (no cache), and none will describe it: the registry is complete.
    let (registry, diags) = assemble(&Inputs {
        manifest: &manifest,
        manifest_text: text,
        cache: None,
        schema_files: &files,
    });
    assert!(diags.is_empty(), "{diags:#?}");
    assert!(registry.complete);
    let score = registry.function("Score").unwrap();
    assert!(score.declared && score.properties.idempotent);
    assert!(!matches!(score.output, Type::Any), "{:?}", score.output);
    // A cache holding a package of the same name as nothing changes that.
    let cache = Cache::holding([("Score".to_string(), describe())]);
    let (again, _) = assemble(&Inputs {
        manifest: &manifest,
        manifest_text: text,
        cache: Some(&cache),
        schema_files: &files,
    });
    assert_eq!(again.function("Score").unwrap().input, score.input);
}
