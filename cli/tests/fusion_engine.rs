//! Fusion, across the compiler and the engine (so here, beside the crate that depends on
//! both): which calls fuse, the fused Task's document (snapshots), and that a fused
//! document gives the same outputs and errors as the unfused one on the engine.

use flowctl_engine::{self as engine, ExecutionOptions, InProcess, Status, TaskError, Units};
use flowctl_lang::asl::{compile, fused_chains, resolve_units, to_pretty_json, CompileOptions};
use flowctl_lang::flow::{ir, KnownFunctions};
use serde_json::json;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

const FUNCTIONS: [&str; 5] = ["A", "B", "C", "Solo", "Risky"];

/// `src` parsed and checked against `known`, or a panic listing the problems.
fn checked(src: &str, known: &KnownFunctions) -> ir::Flow {
    let (_, flow, diags) = flowctl_lang::flow::parse_and_check(src, known);
    assert!(diags.is_empty(), "{diags:#?}");
    flow.expect("checked")
}

fn ir_of(src: &str) -> ir::Flow {
    checked(src, &KnownFunctions::new("demo", FUNCTIONS))
}

/// A, B, C and Risky share unit `shared`; Solo is alone. All but Risky may fuse.
fn fused_opts() -> CompileOptions {
    let mut units: BTreeMap<String, String> = ["A", "B", "C", "Risky"]
        .into_iter()
        .map(|f| (f.to_string(), "shared".to_string()))
        .collect();
    units.insert("Solo".into(), "Solo".into());
    CompileOptions {
        units,
        fusable: ["A", "B", "C", "Solo"].map(String::from).into(),
        source: "flows/t.flow".into(),
    }
}

fn unfused_opts() -> CompileOptions {
    CompileOptions {
        fusable: BTreeSet::new(),
        ..fused_opts()
    }
}

fn flow(body: &str) -> ir::Flow {
    ir_of(&format!("flow T(input) {{\n{body}\n}}\n"))
}

fn doc(body: &str, opts: &CompileOptions) -> Value {
    compile(&flow(body), opts).unwrap_or_else(|d| panic!("compile errors: {d:#?}"))
}

fn chains(body: &str) -> Vec<Vec<String>> {
    fused_chains(&doc(body, &fused_opts()))
}

fn names(chains: &[&[&str]]) -> Vec<Vec<String>> {
    chains
        .iter()
        .map(|c| c.iter().map(|s| s.to_string()).collect())
        .collect()
}

#[test]
fn adjacent_idempotent_calls_in_one_shared_unit_fuse() {
    assert_eq!(
        chains("a = A(input)\nb = B(a)\n_ = C({\"x\": b, \"y\": input.y})\nreturn(b)"),
        names(&[&["A", "B", "C"]])
    );
}

#[test]
fn what_breaks_a_chain() {
    // A function that is not idempotent, a function in another unit, handlers, one call.
    assert!(chains("a = A(input)\nr = Risky(a)\nb = B(r)\nreturn(b)").is_empty());
    assert!(chains("a = A(input)\ns = Solo(a)\nb = B(s)\nreturn(b)").is_empty());
    assert!(chains("a = A(input) retry(max: 2)\nb = B(a)\nreturn(b)").is_empty());
    assert!(chains("a = A(input)\nb = B(a) timeout(5)\nreturn(b)").is_empty());
    assert!(
        chains("a = A(input)\nb = B(a) catch(e) { fail(\"X\", e.Cause) }\nreturn(b)").is_empty()
    );
    assert!(chains("a = A(input)\nreturn(a)").is_empty());
    // A computed object with a key the envelope reserves cannot be a template.
    assert!(chains("a = A({\"$var\": input.k})\nb = B(a)\nreturn(b)").is_empty());
    // Paths into earlier results and outside values are followed inside the chain.
    assert_eq!(
        chains("a = A(input)\nb = B(a.id)\nc = C({\"b\": b.x[0], \"k\": input.k})\nreturn(c)"),
        names(&[&["A", "B", "C"]])
    );
    // Statements between calls separate them; each block fuses on its own.
    assert_eq!(
        chains("a = A(input)\nif eq(a.k, 1) {\nb = B(a)\nc = C(b)\nreturn(c)\n}\nb2 = B(a)\nc2 = C(b2)\nreturn(c2)"),
        names(&[&["B", "C"], &["B", "C"]])
    );
}

#[test]
fn nothing_fuses_without_fusable_functions() {
    let body = "a = A(input)\nb = B(a)\nreturn(b)";
    assert!(fused_chains(&doc(body, &unfused_opts())).is_empty());
}

#[test]
fn a_chain_binding_one_variable_stores_it_like_a_call() {
    insta::assert_snapshot!(
        "fused_one_binding",
        to_pretty_json(&doc(
            "_ = A({\"id\": input.id, \"lit\": {\"$var\": \"not a reference\"}})\nb = B([input.list[0], 2])\nreturn(b)",
            &fused_opts()
        ))
    );
}

#[test]
fn a_chain_binding_several_variables_stores_them_together() {
    insta::assert_snapshot!(
        "fused_group",
        to_pretty_json(&doc(
            "a = A(input)\nb = B(a)\nif eq(b.ok, true) {\nxs = map x in input.items {\nc = C({\"x\": x, \"a\": a.id})\nreturn(c)\n}\nreturn({\"a\": a, \"b\": b.ok, \"xs\": xs})\n}\nreturn(a.id)",
            &fused_opts()
        ))
    );
}

/// Runs `doc` on the engine with A, B, C echoing `{"<name>": payload}` (C fails when the
/// payload has `"boom"`), Risky and Solo echoing.
fn run(doc: &Value, input: Value) -> (Status, Option<Value>, Option<TaskError>, Vec<String>) {
    let functions = InProcess::new()
        .sync("A", |v| Ok(json!({ "A": *v })))
        .sync("B", |v| Ok(json!({ "B": *v })))
        .sync("C", |v| {
            if v.get("boom").is_some() {
                Err(TaskError::from_lambda("Boom", "C blew up"))
            } else {
                Ok(json!({ "C": *v }))
            }
        })
        .sync("Risky", Ok)
        .sync("Solo", Ok);
    let invoker = Units::new(functions)
        .unit(
            "shared",
            ["A", "B", "C", "Risky"].map(String::from).to_vec(),
        )
        .unit("Solo", vec!["Solo".into()]);
    let resolved = resolve_units(doc, |u| Some(u.to_string())).unwrap();
    let machine = engine::load(&resolved).unwrap_or_else(|e| panic!("{e:?}"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let ex = runtime.block_on(engine::execute(
        &machine,
        input,
        &invoker,
        &ExecutionOptions::default(),
    ));
    let states = ex.entered_states();
    (
        ex.status,
        ex.output.map(Arc::unwrap_or_clone),
        ex.error,
        states,
    )
}

#[test]
fn fused_and_unfused_give_the_same_outputs_and_errors() {
    let bodies = [
        "a = A(input)\nb = B(a)\nc = C({\"a\": a, \"b\": b, \"k\": input.k})\nreturn({\"a\": a, \"b\": b, \"c\": c})",
        "a = A(input)\nb = B(a)\nxs = map x in input.items {\nc = C({\"x\": x, \"a\": a})\nd = A(c)\nreturn(d)\n}\nreturn({\"b\": b, \"xs\": xs})",
        // A failure inside a chain, caught by an enclosing parallel's catch and retried.
        "r = parallel {\nbranch {\na = A(input)\nc = C(input)\nreturn(c)\n}\nbranch {\nreturn(1)\n}\n} retry(max: 1, interval: 1) catch(e) {\nreturn({\"caught\": e.Error})\n}\nreturn(r)",
        // Data that looks like the envelope's markers stays data.
        "a = A({\"m\": {\"$var\": \"input\", \"deep\": {\"$literal\": 1}}, \"k\": input.k})\nb = B({\"a\": a, \"x\": {\"$var\": \"a\"}})\nreturn(b)",
        // The same failure, not caught: the execution fails with C's error.
        "a = A(input)\nc = C(input)\nreturn(c)",
        // A later call's path is missing and an earlier call fails: the earlier error comes
        // first, fused as unfused (the path is followed in the chain, not read up front).
        "a = C(input)\nb = B(input.missing)\nreturn(b)",
        "r = parallel {\nbranch {\na = C(input)\nb = B(input.missing)\nreturn(b)\n}\nbranch {\nreturn(1)\n}\n} catch(e) {\nreturn({\"caught\": e.Error})\n}\nreturn(r)",
        // A missing path alone: States.Runtime after the earlier calls ran, which no catch sees.
        "r = parallel {\nbranch {\na = A(input)\nb = B(a.A.missing)\nreturn(b)\n}\nbranch {\nreturn(1)\n}\n} catch(e) {\nreturn({\"caught\": e.Error})\n}\nreturn(r)",
    ];
    let inputs = [
        json!({"k": 1, "items": [1, 2]}),
        json!({"boom": true, "k": 2, "items": []}),
    ];
    for body in bodies {
        let fused = doc(body, &fused_opts());
        let unfused = doc(body, &unfused_opts());
        assert!(!fused_chains(&fused).is_empty(), "nothing fused in {body}");
        for input in &inputs {
            let (fs, fo, fe, f_states) = run(&fused, input.clone());
            let (us, uo, ue, u_states) = run(&unfused, input.clone());
            assert_eq!((&fs, &fo), (&us, &uo), "{body} with {input}");
            assert_eq!(
                fe.as_ref().map(|e| &e.error),
                ue.as_ref().map(|e| &e.error),
                "{body} with {input}"
            );
            // The cause too, but for `States.Runtime`, whose text names the path Step
            // Functions could not read: the missing one unfused, `complete` fused (with the
            // chain's answer, which says which path was missing, in the text).
            if fe.as_ref().is_some_and(|e| e.error != "States.Runtime") {
                assert_eq!(fe, ue, "{body} with {input}");
            }
            assert!(
                f_states.len() <= u_states.len(),
                "fusion never enters more states: {f_states:?} vs {u_states:?}"
            );
        }
    }
}
