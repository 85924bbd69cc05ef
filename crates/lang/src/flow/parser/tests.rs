//! One test per construct and per predicate; helpers keep each to a line or two.

use super::*;

/// Parses a statement list wrapped in a flow and returns its statements; panics on diagnostics.
fn stmts(body: &str) -> Vec<StmtKind> {
    let src = format!("flow F(input) {{\n{body}\n}}\n");
    let (file, diags) = parse(&src);
    assert!(
        diags.is_empty(),
        "unexpected diagnostics for {body:?}: {diags:#?}"
    );
    file.unwrap()
        .flow
        .body
        .stmts
        .into_iter()
        .map(|s| s.kind)
        .collect()
}

fn stmt(body: &str) -> StmtKind {
    stmts(body).remove(0)
}

/// The condition of `if <pred> { return(1) }`.
fn pred(p: &str) -> PredKind {
    match stmt(&format!("if {p} {{ return(1) }}")) {
        StmtKind::If { mut arms, .. } => arms.remove(0).cond.kind,
        other => panic!("not an if: {other:?}"),
    }
}

/// The value of `return(<e>)`.
fn expr(e: &str) -> ExprKind {
    match stmt(&format!("return({e})")) {
        StmtKind::Return(e) => e.kind,
        other => panic!("not a return: {other:?}"),
    }
}

/// The codes of the diagnostics for a whole file.
fn codes(src: &str) -> Vec<&'static str> {
    parse(src).1.iter().map(|d| d.code).collect()
}

fn sel_text(e: &ExprKind) -> String {
    match e {
        ExprKind::Select(s) => s.text(),
        other => panic!("not a selector: {other:?}"),
    }
}

#[test]
fn flow_header_names_flow_and_param() {
    let (file, diags) = parse("// hi\nflow Booking(order) {\n  return(order)\n}\n");
    assert!(diags.is_empty());
    let file = file.unwrap();
    assert_eq!(file.flow.name.name, "Booking");
    assert_eq!(file.flow.param.name, "order");
    assert_eq!(file.comments[0].text, " hi");
}

#[test]
fn call_binds_a_variable() {
    let StmtKind::Assign {
        target: Target::Var(v),
        action: Action::Call { function, arg, .. },
        ..
    } = stmt("x = F(input)")
    else {
        panic!()
    };
    assert_eq!((v.name.as_str(), function.text().as_str()), ("x", "F"));
    assert_eq!(sel_text(&arg.unwrap().kind), "input");
}

#[test]
fn discard_and_empty_call() {
    let StmtKind::Assign {
        target,
        action: Action::Call { arg, .. },
        ..
    } = stmt("_ = F()")
    else {
        panic!()
    };
    assert!(matches!(target, Target::Discard(_)) && arg.is_none());
}

#[test]
fn namespaced_call() {
    let StmtKind::Assign {
        action: Action::Call { function, .. },
        ..
    } = stmt("x = payments.Charge(input)")
    else {
        panic!()
    };
    assert_eq!(function.namespace.unwrap().name, "payments");
    assert_eq!(function.name.name, "Charge");
}

#[test]
fn modifiers_in_order_across_lines() {
    let StmtKind::Assign { modifiers, .. } = stmt(
        "x = F(input)\n  retry(max: 3, interval: 1, backoff: 2.0, max_delay: 30, on: [\"T\"])\n  timeout(5)\n  catch(e, on: [\"A\", \"B\"]) { fail(\"X\") }\n  catch(e2) { return(1) }",
    ) else { panic!() };
    let [Modifier::Retry(r), Modifier::Timeout { seconds, .. }, Modifier::Catch(c1), Modifier::Catch(c2)] =
        &modifiers.items[..]
    else {
        panic!("{modifiers:?}")
    };
    assert_eq!(r.max.as_ref().unwrap().text, "3");
    assert_eq!(r.backoff.as_ref().unwrap().text, "2.0");
    assert_eq!(r.max_delay.as_ref().unwrap().text, "30");
    assert_eq!(r.on.as_ref().unwrap()[0].value, "T");
    assert_eq!(seconds.text, "5");
    assert_eq!(c1.on.as_ref().unwrap().len(), 2);
    assert!(c2.on.is_none() && c2.binding.name == "e2");
}

#[test]
fn if_else_if_else() {
    let StmtKind::If { arms, otherwise } = stmt(
        "if eq(input.a, 1) { return(1) } else if eq(input.a, 2) { return(2) } else { return(3) }",
    ) else {
        panic!()
    };
    assert_eq!(arms.len(), 2);
    assert!(otherwise.is_some());
}

#[test]
fn if_without_else() {
    let StmtKind::If { arms, otherwise } = stmt("if exists(input.a) {\n return(1)\n}") else {
        panic!()
    };
    assert_eq!((arms.len(), otherwise.is_none()), (1, true));
}

#[test]
fn return_fail_wait() {
    assert!(matches!(
        stmt("return({\"ok\": true})"),
        StmtKind::Return(_)
    ));
    let StmtKind::Fail { error, cause } = stmt("fail(\"NotAvailable\", \"no rooms\")") else {
        panic!()
    };
    assert_eq!(error.value, "NotAvailable");
    assert!(matches!(cause.unwrap().kind, ExprKind::Str(_)));
    assert!(matches!(
        stmt("fail(\"E\")"),
        StmtKind::Fail { cause: None, .. }
    ));
    assert!(matches!(
        stmt("wait(10)"),
        StmtKind::Wait(Expr {
            kind: ExprKind::Num(_),
            ..
        })
    ));
    assert!(matches!(
        stmt("wait(input.delay)"),
        StmtKind::Wait(Expr {
            kind: ExprKind::Select(_),
            ..
        })
    ));
}

#[test]
fn parallel_with_branches() {
    let StmtKind::Assign {
        action: Action::Parallel { branches, .. },
        ..
    } = stmt("x = parallel {\n branch { return(1) }\n branch {\n y = F(input)\n return(y)\n }\n}")
    else {
        panic!()
    };
    assert_eq!(branches.len(), 2);
    assert_eq!(branches[1].stmts.len(), 2);
}

#[test]
fn map_with_concurrency() {
    let StmtKind::Assign {
        action:
            Action::Map {
                item,
                items,
                concurrency,
                body,
                ..
            },
        ..
    } = stmt("xs = map it in input.items (concurrency: 10) { return(it) }")
    else {
        panic!()
    };
    assert_eq!(
        (item.name.as_str(), items.text().as_str()),
        ("it", "input.items")
    );
    assert_eq!(concurrency.unwrap().text, "10");
    assert_eq!(body.stmts.len(), 1);
    let StmtKind::Assign {
        action: Action::Map { concurrency, .. },
        ..
    } = stmt("xs = map it in input.items { return(it) }")
    else {
        panic!()
    };
    assert!(concurrency.is_none());
}

#[test]
fn every_comparison() {
    for op in CmpOp::ALL {
        let PredKind::Compare { op: got, lhs, rhs } =
            pred(&format!("{}(input.a, 1)", op.keyword()))
        else {
            panic!()
        };
        assert_eq!(got, op);
        assert_eq!(sel_text(&lhs.kind), "input.a");
        assert!(matches!(rhs.kind, ExprKind::Num(_)));
    }
}

#[test]
fn and_or_not() {
    let PredKind::And(ps) =
        pred("and(eq(input.a, 1), or(exists(input.b), not(is_null(input.c))), gt(input.d, 2))")
    else {
        panic!()
    };
    assert_eq!(ps.len(), 3);
    let PredKind::Or(inner) = &ps[1].kind else {
        panic!()
    };
    assert!(matches!(inner[1].kind, PredKind::Not(_)));
}

#[test]
fn exists_and_every_type_test() {
    assert!(matches!(pred("exists(input.a)"), PredKind::Exists(_)));
    for test in TypeTest::ALL {
        let PredKind::Is { test: got, sel } = pred(&format!("{}(input.a[0])", test.keyword()))
        else {
            panic!()
        };
        assert_eq!((got, sel.text()), (test, "input.a[0]".to_string()));
    }
}

#[test]
fn matches_glob() {
    let PredKind::Matches { sel, pattern } = pred("matches(input.name, \"log-*.txt\")") else {
        panic!()
    };
    assert_eq!(
        (sel.text().as_str(), pattern.value.as_str()),
        ("input.name", "log-*.txt")
    );
}

#[test]
fn literals() {
    assert_eq!(expr("\"a\\n\""), ExprKind::Str("a\n".into()));
    assert!(matches!(expr("-1.5e3"), ExprKind::Num(n) if n.value.as_f64() == Some(-1500.0)));
    assert_eq!(expr("true"), ExprKind::Bool(true));
    assert_eq!(expr("false"), ExprKind::Bool(false));
    assert_eq!(expr("null"), ExprKind::Null);
}

#[test]
fn objects_lists_and_nested_selectors() {
    let ExprKind::Object(entries) =
        expr("{\"a\": [1, input.b[2][\"odd key\"].c], bare: {}, \"t\": true,}")
    else {
        panic!()
    };
    assert_eq!(
        entries
            .iter()
            .map(|(k, _)| k.value.as_str())
            .collect::<Vec<_>>(),
        ["a", "bare", "t"]
    );
    let ExprKind::List(items) = &entries[0].1.kind else {
        panic!()
    };
    assert_eq!(sel_text(&items[1].kind), "input.b[2][\"odd key\"].c");
}

#[test]
fn keywords_are_fine_as_field_names() {
    assert_eq!(sel_text(&expr("input.map.null")), "input.map.null");
}

#[test]
fn reports_several_errors_and_keeps_going() {
    let src = "flow F(input) {\n  x = F(input\n  y = G(input)\n  z == 3\n  return(y)\n}\n";
    let (file, diags) = parse(src);
    assert_eq!(diags.len(), 2, "{diags:#?}");
    // The good statements around the broken ones are still in the AST.
    let names: Vec<_> = file
        .unwrap()
        .flow
        .body
        .stmts
        .iter()
        .map(|s| format!("{:?}", std::mem::discriminant(&s.kind)))
        .collect();
    assert_eq!(names.len(), 2);
}

#[test]
fn error_codes_for_common_mistakes() {
    assert_eq!(codes("x = 1"), ["F011"]);
    assert_eq!(codes("flow F(input) {\n F(input)\n return(1)\n}"), ["F018"]);
    assert_eq!(
        codes("flow F(input) {\n if equals(input.a, 1) { return(1) }\n return(2)\n}"),
        ["F012"]
    );
    assert_eq!(
        codes("flow F(input) {\n x = F(input) retry(tries: 3)\n return(x)\n}"),
        ["F013"]
    );
    assert_eq!(
        codes("flow F(input) {\n map = F(input)\n return(1)\n}"),
        ["F014"]
    );
    assert_eq!(codes("flow F(input) {\n return(input[1.5])\n}"), ["F015"]);
    assert_eq!(
        codes("flow F(input) {\n return(1)\n}\nflow G(input) {}"),
        ["F016"]
    );
    assert_eq!(codes("flow F(input) {\n return(G(input))\n}"), ["F017"]);
    assert_eq!(codes("flow F(input) {\n return(1) ;\n}"), ["F001"]);
    assert_eq!(codes("flow F(input) {\n return(\"a)\n}"), ["F002", "F010"]);
    assert_eq!(codes("flow F(input) {\n return(1)\n"), ["F010"]);
}

#[test]
fn unclosed_block_points_at_the_open_brace() {
    let (_, diags) = parse("flow F(input) {\n return(1)\n");
    assert_eq!(diags[0].span, crate::diagnostic::Span::new(14, 15));
}

#[test]
fn never_panics_on_truncations_of_a_real_flow() {
    let src = include_str!("../../../../../examples/booking/flows/booking.flow");
    for end in 0..src.len() {
        if src.is_char_boundary(end) {
            let _ = parse(&src[..end]);
        }
    }
}
