//! Snapshot tests: one per construct (the generated document, byte for byte, in
//! `snapshots/`), plus the limits, the naming rules and placeholder resolution.
//! The same documents are checked by asl-validator and run on moto in `tests/`.

use super::*;
use crate::flow::{check, parse, KnownFunctions};
use flowctl_protocol::sfn::{MAX_DEFINITION_BYTES, MAX_PAYLOAD_BYTES};
use serde_json::json;

const FUNCTIONS: [&str; 4] = ["F", "G", "H", "pay.Charge"];

fn ir_of(src: &str) -> ir::Flow {
    crate::flow::checked(src, &KnownFunctions::new("demo", FUNCTIONS))
}

fn opts() -> CompileOptions {
    CompileOptions::one_unit_per_function(FUNCTIONS.map(String::from), "flows/t.flow")
}

/// Compiles `flow T(input) { <body> }` and returns the canonical bytes.
fn asl(body: &str) -> String {
    let flow = ir_of(&format!("flow T(input) {{\n{body}\n}}\n"));
    let doc = compile(&flow, &opts()).unwrap_or_else(|d| panic!("compile errors: {d:#?}"));
    to_pretty_json(&doc)
}

fn codes(body: &str) -> Vec<&'static str> {
    let flow = ir_of(&format!("flow T(input) {{\n{body}\n}}\n"));
    compile(&flow, &opts())
        .err()
        .unwrap_or_default()
        .iter()
        .map(|d| d.code)
        .collect()
}

macro_rules! snap {
    ($name:ident, $body:expr) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(stringify!($name), asl($body));
        }
    };
}

snap!(return_input, "return(input)");
snap!(return_literals, "if eq(input.k, \"n\") { return(42) }\nif eq(input.k, \"s\") { return(\"text\") }\nreturn(null)");
snap!(return_object_with_nested_selectors, "return({\"a\": input.x.y, \"b\": {\"c\": input.list[1].name, \"d\": 1}, \"e\": [1, 2], \"f\": {\"g\": true}})");
snap!(
    return_list_with_dynamic_elements,
    "return([input.a, 1, \"it's {x}\", \"back\\\\slash\", true, null])"
);
snap!(
    return_list_with_nested_composites,
    "return([input.a, {\"k\": input.b, \"n\": [input.c, 2]}, [3, 4]])"
);
snap!(call_binds_result, "x = F(input)\nreturn(x)");
snap!(call_discard_and_no_argument, "_ = F()\nreturn(1)");
snap!(call_object_argument_reads_result, "x = F(input)\ny = G({\"id\": x.id, \"n\": input.n, \"fixed\": \"v\"})\nreturn({\"x\": x, \"y\": y.value})");
snap!(call_namespaced, "x = pay.Charge(input.order)\nreturn(x)");
snap!(
    if_else_if_else,
    "if eq(input.kind, \"a\") { return(1) } else if gt(input.n, 10) { return(2) } else { return(3) }"
);
snap!(
    if_without_else_continues,
    "if eq(input.flag, true) {\n _ = F(input)\n}\nreturn(input)"
);
snap!(
    compare_every_operator_and_type,
    "if and(eq(input.s, \"a\"), ne(input.s, \"b\"), lt(input.s, \"c\"), le(input.s, \"d\"), gt(input.s, \"0\"), ge(input.s, \"0\")) { return(1) }
if and(eq(input.n, 1), ne(input.n, 2), lt(input.n, 3), le(input.n, 4), gt(input.n, -1), ge(input.n, 0.5)) { return(2) }
if and(eq(input.b, true), ne(input.c, false)) { return(3) }
if and(eq(input.z, null), ne(input.y, null)) { return(4) }
if and(eq(input.t, \"2024-01-01T00:00:00Z\"), lt(input.t, \"2025-01-01T00:00:00Z\"), ge(input.t, \"2023-06-01T12:30:00.5+02:00\")) { return(5) }
if gt(3, input.n) { return(6) }
return(0)"
);
snap!(
    compare_path_with_path,
    "if and(is_number(input.a), lt(input.a, input.b)) { return(1) }
if and(is_string(input.s), eq(input.s, input.t)) { return(2) }
if and(is_bool(input.p), ne(input.p, input.q)) { return(3) }
if and(is_timestamp(input.t), ge(input.t, input.u)) { return(4) }
return(0)"
);
snap!(
    predicates,
    "if or(exists(input.a), not(is_null(input.b)), and(is_string(input.c), matches(input.c, \"ab*\"))) { return(1) }
if or(is_number(input.d), is_bool(input.e), is_timestamp(input.f)) { return(2) }
return(0)"
);
snap!(fail_static_and_dynamic_cause, "if exists(input.reason) { fail(\"Rejected\", input.reason) }\nif eq(input.k, 1) { fail(\"Bad\") }\nfail(\"Always\", \"static cause\")");
snap!(
    catch_and_retry,
    "x = F(input)
  retry(max: 5, interval: 2, backoff: 1.5, max_delay: 60, on: [\"Throttled\", \"Busy\"])
  retry()
  timeout(30)
  catch(e, on: [\"States.Timeout\"]) { fail(\"Slow\", e.Cause) }
  catch(err) { return({\"error\": err.Error}) }
return(x)"
);
snap!(
    catch_falls_through,
    "_ = F(input)\n  catch(e) {\n    _ = G(e)\n  }\nreturn(\"done\")"
);
snap!(
    wait_seconds_and_path,
    "wait(0)\nwait(input.delay)\nreturn(input)"
);
snap!(
    parallel_branches,
    "both = parallel {
  branch { a = F(input.a)
    return(a) }
  branch { return({\"b\": input.b}) }
}
  catch(e) { fail(\"Branch\", e.Cause) }
return({\"first\": both[0], \"second\": both[1].b})"
);
snap!(
    map_with_captures,
    "base = F(input)
ys = map item in input.items (concurrency: 3) {
  r = G({\"item\": item, \"base\": base, \"tag\": input.tag})
  return(r)
}
_ = map x in input.xs {
  return(x)
}
return(ys)"
);
snap!(
    nested_map_in_parallel,
    "out = parallel {
  branch { ys = map i in input.items { return({\"i\": i, \"n\": input.n}) }
    return(ys) }
  branch { return(input.n) }
}
return(out)"
);
snap!(
    duplicate_state_names_are_numbered,
    "if eq(input.a, 1) { _ = F(input)\n return(1) }\nif eq(input.b, 1) { _ = F(input)\n return(1) }\n_ = F(input)\nreturn(1)"
);
snap!(
    odd_keys_and_indexes,
    "return({\"v\": input[\"odd key\"][\"a.b\"][0], \"w\": input.list[2].k})"
);

#[test]
fn booking_example() {
    let src = include_str!("../../../../examples/booking/flows/booking.flow");
    let (file, _) = parse(src);
    let functions = [
        "ReserveAvailability",
        "ProcessPayment",
        "ReleaseReservation",
        "ConfirmReservation",
        "QuoteRate",
        "LookupLoyalty",
        "NotifyGuest",
    ];
    let (flow, diags) = check(&file.unwrap(), &KnownFunctions::new("booking", functions));
    assert!(diags.is_empty(), "{diags:#?}");
    let opts =
        CompileOptions::one_unit_per_function(functions.map(String::from), "flows/booking.flow");
    insta::assert_snapshot!(
        "booking",
        to_pretty_json(&compile(&flow.unwrap(), &opts).unwrap())
    );
}

#[test]
fn shared_units_get_an_envelope() {
    let flow =
        ir_of("flow T(input) {\n x = F(input.a)\n y = G()\n z = H(input)\n return([x, y, z])\n}\n");
    let mut opts = opts();
    opts.units.insert("F".into(), "shared".into());
    opts.units.insert("G".into(), "shared".into());
    insta::assert_snapshot!(
        "shared_units",
        to_pretty_json(&compile(&flow, &opts).unwrap())
    );
}

#[test]
fn output_is_byte_stable() {
    let body = "x = F({\"b\": input.b, \"a\": input.a})\nreturn({\"z\": x, \"y\": [x, 1]})";
    let first = asl(body);
    for _ in 0..3 {
        assert_eq!(asl(body), first);
    }
    assert!(first.ends_with("}\n"));
}

#[test]
fn state_names_are_unique_and_short() {
    let long = "a".repeat(90);
    let body = format!(
        "if eq(input.{long}, 1) {{ return(1) }}\nif eq(input.{long}, 1) {{ return(1) }}\nreturn(2)"
    );
    let doc: Value = serde_json::from_str(&asl(&body)).unwrap();
    let mut names = Vec::new();
    collect_names(&doc, &mut names);
    let unique: BTreeSet<_> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "{names:#?}");
    for n in &names {
        assert!(n.encode_utf16().count() <= 80, "{n}");
    }
}

fn collect_names(machine: &Value, out: &mut Vec<String>) {
    for (name, s) in machine["States"].as_object().unwrap() {
        out.push(name.clone());
        for b in s
            .get("Branches")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            collect_names(b, out);
        }
        if let Some(p) = s.get("ItemProcessor") {
            collect_names(p, out);
        }
    }
}

#[test]
fn resolve_units_replaces_function_names_only() {
    let doc = compile(
        &ir_of("flow T(input) {\n x = F(\"${unit:F}\")\n _ = pay.Charge(x)\n return(\"${unit:G}\")\n}\n"),
        &opts(),
    )
    .unwrap();
    assert_eq!(
        units_of(&doc).into_iter().collect::<Vec<_>>(),
        ["F", "pay-Charge"]
    );
    let arn = |u: &str| {
        Some(format!(
            "arn:aws:lambda:us-east-1:123456789012:function:demo-{u}"
        ))
    };
    let resolved = to_pretty_json(&resolve_units(&doc, arn).unwrap());
    assert!(resolved
        .contains("\"FunctionName\": \"arn:aws:lambda:us-east-1:123456789012:function:demo-F\""));
    assert!(resolved.contains("function:demo-pay-Charge\""));
    // user data that looks like a placeholder is data
    assert!(
        resolved.contains("\"Payload\": \"${unit:F}\""),
        "{resolved}"
    );
    assert!(resolved.contains("\"Result\": \"${unit:G}\""));
    assert_eq!(
        resolve_units(&doc, |u| (u == "F").then(|| "arn".to_string())),
        Err("pay-Charge".to_string())
    );
}

#[test]
fn one_unit_per_function_names_units_after_keys() {
    let o = CompileOptions::one_unit_per_function(["A".to_string(), "ns.B".to_string()], "f.flow");
    assert_eq!(o.units["ns.B"], "ns-B");
    assert_eq!(o.units["A"], "A");
    assert_eq!(o.source, "f.flow");
}

#[test]
fn unplaced_function_is_an_error() {
    let flow = ir_of("flow T(input) {\n x = F(input)\n return(x)\n}\n");
    let mut o = opts();
    o.units.remove("F");
    let d = compile(&flow, &o).unwrap_err();
    assert_eq!(d.iter().map(|d| d.code).collect::<Vec<_>>(), ["A005"]);
}

#[test]
fn a_constant_larger_than_a_state_may_carry_is_an_error() {
    let big = "x".repeat(MAX_PAYLOAD_BYTES);
    assert_eq!(
        codes(&format!(
            "return({{\"blob\": \"{big}\", \"id\": input.id}})"
        )),
        ["A002"]
    );
    assert_eq!(
        codes(&format!(
            "_ = F([input.id, {{\"blob\": \"{big}\"}}])\nreturn(1)"
        )),
        ["A002"]
    );
    let fits = "x".repeat(MAX_PAYLOAD_BYTES - 100);
    assert!(codes(&format!("return({{\"blob\": \"{fits}\"}})")).is_empty());
}

#[test]
fn a_definition_over_one_mebibyte_is_an_error_with_the_flow_span() {
    let chunk = "x".repeat(200_000);
    let body: String = (0..6)
        .map(|i| format!("_ = F({{\"k{i}\": \"{chunk}\"}})\n"))
        .collect::<String>()
        + "return(1)";
    let src = format!("flow T(input) {{\n{body}\n}}\n");
    let flow = ir_of(&src);
    let d = compile(&flow, &opts()).unwrap_err();
    assert_eq!(d.iter().map(|d| d.code).collect::<Vec<_>>(), ["A001"]);
    assert_eq!(d[0].span, flow.span);
}

#[test]
fn placeholders_count_as_full_arns_in_the_size() {
    let doc = "x".repeat(MAX_DEFINITION_BYTES - 1_000);
    let span = Default::default();
    assert!(limits::definition_size(&doc, &[], span, "T").is_none());
    let few = vec![unit_placeholder("F"); 5]; // 5 × (140 − 10) = 650 bytes more
    assert!(limits::definition_size(&doc, &few, span, "T").is_none());
    let many = vec![unit_placeholder("F"); 10]; // 1,300 bytes more
    assert!(limits::definition_size(&doc, &many, span, "T").is_some());
}

#[test]
fn waits_longer_than_a_year_are_an_error() {
    assert_eq!(codes("wait(20000000)\nwait(20000000)\nreturn(1)"), ["A004"]);
    // on different paths they do not add up
    assert!(
        codes("if eq(input.a, 1) { wait(20000000)\n return(1) }\nwait(20000000)\nreturn(2)")
            .is_empty()
    );
}

#[test]
fn parallels_nested_past_what_json_readers_take_back_are_an_error() {
    let nested = |n: usize| {
        let mut body = "v = F(input.a)\nreturn(v)".to_string();
        for d in 0..n {
            body = format!(
                "r{d} = parallel {{\nbranch {{\n{body}\n}}\nbranch {{\nreturn({d})\n}}\n}}\nreturn(r{d})"
            );
        }
        body
    };
    // Each parallel adds four levels of JSON: 30 of them still read back, 32 do not.
    assert!(codes(&nested(30)).is_empty());
    assert_eq!(codes(&nested(32)), ["A006"]);
}

#[test]
fn history_longer_than_25000_events_is_an_error() {
    // 13,000 waits (2 events each) on one path; built directly, the source would be long
    let wait = ir::Stmt {
        kind: ir::StmtKind::Wait(ir::WaitFor::Seconds(0)),
        span: Default::default(),
    };
    let ret = ir::Stmt {
        kind: ir::StmtKind::Return(ir::Expr::Literal(json!(1))),
        span: Default::default(),
    };
    let mut stmts = vec![wait; 13_000];
    stmts.push(ret);
    let flow = ir::Flow {
        name: "T".into(),
        param: "input".into(),
        input: crate::types::Type::Any,
        output: crate::types::Type::Any,
        body: ir::Block { stmts },
        span: Default::default(),
    };
    let codes: Vec<_> = limits::paths(&flow).iter().map(|d| d.code).collect();
    assert_eq!(codes, ["A003"]);
    let mut short = flow.clone();
    short.body.stmts.drain(..1_000);
    assert!(limits::paths(&short).is_empty());
}
