//! Checker rules: one-line helpers, one test per rule (the rendered messages are snapshot-tested
//! in `cli/tests/cases`).

use super::*;
use crate::flow::parse;

fn known() -> KnownFunctions {
    KnownFunctions::new("demo", ["F", "G", "ReserveAvailability", "pay.Charge"])
}

/// Checks `body` inside `flow T(input) { … }`; returns the codes of the diagnostics.
fn codes(body: &str) -> Vec<&'static str> {
    let src = format!("flow T(input) {{\n{body}\n}}\n");
    let (file, diags) = parse(&src);
    assert!(diags.is_empty(), "parse errors: {diags:#?}");
    check(&file.unwrap(), &known())
        .1
        .into_iter()
        .map(|d| d.code)
        .collect()
}

/// Checks `body` and returns the IR, panicking on diagnostics.
fn ir(body: &str) -> ir::Flow {
    let src = format!("flow T(input) {{\n{body}\n}}\n");
    let (file, diags) = parse(&src);
    assert!(diags.is_empty(), "parse errors: {diags:#?}");
    let (flow, diags) = check(&file.unwrap(), &known());
    assert!(diags.is_empty(), "check errors: {diags:#?}");
    flow.unwrap()
}

/// The first condition of the first `if`.
fn cond(p: &str) -> Cond {
    let flow = ir(&format!("if {p} {{ return(1) }}\nreturn(2)"));
    match &flow.body.stmts[0].kind {
        ir::StmtKind::If { arms, .. } => arms[0].0.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_booking_example_is_clean() {
    let src = include_str!("../../../../../examples/booking/flows/booking.flow");
    let (file, _) = parse(src);
    let known = KnownFunctions::new(
        "booking",
        [
            "ReserveAvailability",
            "ProcessPayment",
            "ReleaseReservation",
            "ConfirmReservation",
            "QuoteRate",
            "LookupLoyalty",
            "NotifyGuest",
        ],
    );
    let (flow, diags) = check(&file.unwrap(), &known);
    assert!(diags.is_empty(), "{diags:#?}");
    assert_eq!(flow.unwrap().name, "Booking");
}

#[test]
fn unknown_function_suggests_a_near_name() {
    let src = "flow T(input) {\n x = ReserveAvailabilty(input)\n return(x)\n}";
    let (diags, hint) = {
        let d = check(&parse(src).0.unwrap(), &known()).1;
        (
            d.iter().map(|d| d.code).collect::<Vec<_>>(),
            d[0].hint.clone().unwrap(),
        )
    };
    assert_eq!(diags, ["C001"]);
    assert!(hint.contains("ReserveAvailability"), "{hint}");
}

#[test]
fn namespaced_functions_resolve_to_their_manifest_key() {
    let flow = ir("x = pay.Charge(input)\ny = demo.F(x)\nreturn(y)");
    let names: Vec<_> = flow
        .body
        .stmts
        .iter()
        .filter_map(|s| match &s.kind {
            ir::StmtKind::Call { function, .. } => Some(function.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["pay.Charge", "F"]);
    assert_eq!(codes("x = other.F(input)\nreturn(x)"), ["C001"]);
}

#[test]
fn scope_rules() {
    assert_eq!(codes("return(nope)"), ["C003"]);
    assert_eq!(codes("y = F(x)\nx = G(input)\nreturn(y)"), ["C004"]);
    assert_eq!(
        codes("if exists(input.a) {\n x = F(input)\n}\nreturn(x)"),
        ["C005"]
    );
    assert_eq!(codes("x = F(input)\nx = G(input)\nreturn(x)"), ["C006"]);
    assert_eq!(codes("input = F(input)\nreturn(input)"), ["C006"]);
}

#[test]
fn catch_that_falls_through_leaves_the_result_unset() {
    assert_eq!(
        codes("x = F(input) catch(e) { _ = G(e) }\nreturn(x)"),
        ["C007"]
    );
    assert!(codes("x = F(input) catch(e) { _ = G(e) }\nreturn(input)").is_empty());
    assert!(codes("x = F(input) catch(e) { fail(\"E\", e.Cause) }\nreturn(x)").is_empty());
    // The error variable lives in the catch block only; the result is not visible inside it.
    assert_eq!(
        codes("x = F(input) catch(e) { fail(\"E\") }\nreturn(e)"),
        ["C005"]
    );
    assert_eq!(
        codes("x = F(input) catch(e) { return(x) }\nreturn(x)"),
        ["C004"]
    );
}

#[test]
fn every_path_must_end() {
    assert_eq!(codes("x = F(input)"), ["C008"]);
    assert_eq!(codes("if exists(input.a) { return(1) }"), ["C008"]);
    assert!(codes("if exists(input.a) { return(1) } else { fail(\"E\") }").is_empty());
    assert_eq!(
        codes("x = parallel {\n branch { return(1) }\n branch { _ = F(input) }\n}\nreturn(x)"),
        ["C008"]
    );
    assert_eq!(
        codes("x = map i in input.xs { _ = F(i) }\nreturn(x)"),
        ["C008"]
    );
}

#[test]
fn statements_after_return_are_unreachable() {
    assert_eq!(codes("return(1)\nx = F(input)"), ["C009"]);
    assert_eq!(
        codes("if exists(input.a) { return(1) } else { return(2) }\nreturn(3)"),
        ["C009"]
    );
}

#[test]
fn comparison_types() {
    assert_eq!(
        codes("if eq(input.a, input.b) { return(1) }\nreturn(2)"),
        ["C010"]
    );
    assert_eq!(codes("if eq(1, \"a\") { return(1) }\nreturn(2)"), ["C011"]);
    assert_eq!(
        codes("if lt(input.a, true) { return(1) }\nreturn(2)"),
        ["C012"]
    );
    assert_eq!(
        codes("if eq(input.a, {\"k\": 1}) { return(1) }\nreturn(2)"),
        ["C012"]
    );
    assert_eq!(codes("if eq(1, 1) { return(1) }\nreturn(2)"), ["C013"]);
}

#[test]
fn comparison_operand_types_pick_the_scalar() {
    let ty = |p: &str| match cond(p) {
        Cond::Compare { ty, .. } => ty,
        other => panic!("{other:?}"),
    };
    assert_eq!(ty("eq(input.a, \"x\")"), Scalar::String);
    assert_eq!(ty("lt(input.a, 2.5)"), Scalar::Number);
    assert_eq!(ty("eq(input.a, false)"), Scalar::Bool);
    assert_eq!(ty("ne(input.a, null)"), Scalar::Null);
    assert_eq!(
        ty("ge(input.at, \"2024-01-31T12:00:00Z\")"),
        Scalar::Timestamp
    );
}

#[test]
fn literal_on_the_left_is_swapped_and_flipped() {
    let Cond::Compare {
        left, op, right, ..
    } = cond("lt(3, input.n)")
    else {
        panic!()
    };
    assert_eq!((left.text.as_str(), op), ("input.n", CmpOp::Gt));
    assert_eq!(right, Operand::Literal(serde_json::json!(3)));
}

#[test]
fn type_tests_allow_path_to_path_comparisons() {
    let Cond::And(parts) = cond("and(is_number(input.a), lt(input.a, input.b))") else {
        panic!()
    };
    let Cond::Compare {
        ty,
        right: Operand::Path(r),
        ..
    } = &parts[1]
    else {
        panic!()
    };
    assert_eq!((*ty, r.text.as_str()), (Scalar::Number, "input.b"));
    // A type test around an if body proves the type inside it.
    assert!(codes(
        "if is_string(input.a) {\n if eq(input.a, input.b) { return(1) }\n return(2)\n}\nreturn(3)"
    )
    .is_empty());
}

#[test]
fn names_and_values_aws_would_reject() {
    assert_eq!(codes("fail(\"States.Timeout\")"), ["C014"]);
    assert_eq!(
        codes("x = F(input) catch(e, on: [\"States.Timout\"]) { fail(\"E\") }\nreturn(x)"),
        ["C014"]
    );
    assert_eq!(codes("return({\"a.$\": 1})"), ["C014"]);
    assert_eq!(codes("return(input[\"it's\"])"), ["C014"]);
    assert_eq!(
        codes("x = F(input) retry(backoff: 0.5)\nreturn(x)"),
        ["C015"]
    );
    assert_eq!(
        codes("x = F(input) retry(interval: 0)\nreturn(x)"),
        ["C015"]
    );
    assert_eq!(codes("x = F(input) timeout(0)\nreturn(x)"), ["C015"]);
    assert_eq!(codes("wait(-1)\nreturn(1)"), ["C015"]);
    assert_eq!(
        codes("x = F(input) retry(on: [\"States.ALL\", \"A\"])\nreturn(x)"),
        ["C017"]
    );
    assert_eq!(codes("x = F(input) catch(e) { fail(\"A\") } catch(e2, on: [\"B\"]) { fail(\"B\") }\nreturn(x)"), ["C017"]);
}

#[test]
fn wrong_kinds_of_value() {
    assert_eq!(codes("wait(\"soon\")\nreturn(1)"), ["C018"]);
    assert_eq!(codes("fail(\"E\", {\"a\": 1})"), ["C018"]);
    assert_eq!(
        codes("x = parallel {\n branch { return(1) }\n}\nreturn(x)"),
        ["C018"]
    );
}

#[test]
fn flow_name_must_match_the_manifest() {
    let mut known = known();
    known.flow_name = Some("Other".into());
    let d = check(&parse("flow T(input) { return(1) }").0.unwrap(), &known).1;
    assert_eq!(d[0].code, "C016");
}

#[test]
fn map_bodies_capture_the_outer_variables_they_read() {
    let flow = ir("cfg = F(input)\nunused = G(input)\nxs = map it in input.items {\n y = G({\"it\": it, \"c\": cfg.rate, \"i\": input.k})\n return(y)\n}\nreturn(xs)");
    let ir::StmtKind::Map { captures, item, .. } = &flow.body.stmts[2].kind else {
        panic!()
    };
    assert_eq!(captures, &["cfg", "input"]);
    assert_eq!(item, "it");
}

#[test]
fn nested_maps_pass_captures_through() {
    let flow = ir("c = F(input)\nxs = map a in input.xs {\n ys = map b in a.ys {\n return({\"a\": a, \"b\": b, \"c\": c})\n }\n return(ys)\n}\nreturn(xs)");
    let ir::StmtKind::Map { captures, body, .. } = &flow.body.stmts[1].kind else {
        panic!()
    };
    assert_eq!(captures, &["c"]);
    let ir::StmtKind::Map { captures, .. } = &body.stmts[0].kind else {
        panic!()
    };
    assert_eq!(captures, &["a", "c"]);
}

#[test]
fn catch_defaults_and_fall_through() {
    let flow = ir("x = F(input)\n retry(max: 2)\n catch(e, on: [\"A\"]) { _ = G(e) }\n catch(e2) { fail(\"E\") }\nreturn(input)");
    let ir::StmtKind::Call { handlers, .. } = &flow.body.stmts[0].kind else {
        panic!()
    };
    assert_eq!(handlers.retry[0].errors, ["States.ALL"]);
    assert_eq!(
        (
            handlers.retry[0].max_attempts,
            handlers.retry[0].interval,
            handlers.retry[0].backoff
        ),
        (2, 1, 2.0)
    );
    assert!(handlers.catches[0].falls_through);
    assert!(!handlers.catches[1].falls_through);
}

#[test]
fn origins_are_recorded_on_paths() {
    let flow =
        ir("x = F(input) catch(e) { fail(\"E\", e.Cause) }\nreturn({\"x\": x.a, \"i\": input})");
    let ir::StmtKind::Return(ir::Expr::Object(entries)) = &flow.body.stmts[1].kind else {
        panic!()
    };
    let origins: Vec<_> = entries
        .iter()
        .map(|(_, e)| match e {
            ir::Expr::Path(p) => p.origin,
            _ => panic!(),
        })
        .collect();
    assert_eq!(origins, [Origin::Result, Origin::Param]);
}

#[test]
fn timestamps_are_recognised_strictly() {
    assert!(is_timestamp("2024-01-31T12:00:00Z"));
    assert!(is_timestamp("2024-01-31T12:00:00.123+02:00"));
    assert!(!is_timestamp("2024-01-31"));
    assert!(!is_timestamp("2024-01-31T12:00:00"));
    assert!(!is_timestamp("2024-01-31T12:00:00ZZ"));
    assert!(
        !is_timestamp("2024-01-31t12:00:00z"),
        "AWS requires upper-case T and Z"
    );
}
