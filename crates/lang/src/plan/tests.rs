//! The planner: the call graph, the constraints, the hints, the explanations, and (a property
//! test over generated manifests) that nothing that must stay apart ever shares a unit.

use super::*;
use crate::flow::KnownFunctions;
use proptest::prelude::*;

fn manifest(yaml: &str) -> Manifest {
    let (manifest, diags) = crate::manifest::parse(yaml);
    assert!(diags.is_empty(), "{diags:#?}");
    manifest.unwrap()
}

fn flow(manifest: &Manifest, src: &str) -> ir::Flow {
    let known = KnownFunctions::new(manifest.namespace(), manifest.functions.keys().cloned());
    crate::flow::checked(src, &known)
}

fn plan_of(yaml: &str, flows: &[&str]) -> Plan {
    let m = manifest(yaml);
    let flows: Vec<ir::Flow> = flows.iter().map(|src| flow(&m, src)).collect();
    plan(&m, &flows.iter().collect::<Vec<_>>())
}

fn members(plan: &Plan) -> Vec<(String, Vec<String>)> {
    plan.units
        .iter()
        .map(|u| (u.name.clone(), u.functions.clone()))
        .collect()
}

fn unit(name: &str, functions: &[&str]) -> (String, Vec<String>) {
    (
        name.to_string(),
        functions.iter().map(|f| f.to_string()).collect(),
    )
}

const SHOP: &str = "project: shop
functions:
  Quote: { package: fns }
  Check: { package: fns }
  Reserve: { package: fns, colocate: stock }
  Release: { package: fns, colocate: stock }
  Pay: { package: fns, isolate: true }
  Mail: { package: fns, memory: 512 }
  Audit: { package: other }
  Unused: { package: fns }
";

const ORDER: &str = "flow Order(input) {
  q = Quote(input)
  c = Check(q)
  r = Reserve(c)
  p = Pay(r) catch(e) {
    _ = Release(r)
    fail(\"Declined\", e.Cause)
  }
  _ = Mail(p)
  _ = Audit(p)
  return(p)
}";

#[test]
fn functions_called_in_sequence_with_compatible_settings_share_a_unit() {
    let plan = plan_of(SHOP, &[ORDER]);
    assert_eq!(
        members(&plan),
        [
            unit("stock", &["Quote", "Check", "Reserve", "Release"]),
            unit("Pay", &["Pay"]),
            unit("Mail", &["Mail"]),
            unit("Audit", &["Audit"]),
            unit("Unused", &["Unused"]),
        ]
    );
    let stock = &plan.units[0];
    assert_eq!(
        stock.env[FUNCTIONS_ENV], "Quote,Check,Reserve,Release",
        "the unit's process serves all its members"
    );
}

#[test]
fn every_unit_explains_itself() {
    let plan = plan_of(SHOP, &[ORDER]);
    let explain: Vec<(String, Vec<String>)> = plan
        .units
        .iter()
        .map(|u| {
            (
                u.name.clone(),
                u.reasons.iter().map(ToString::to_string).collect(),
            )
        })
        .collect();
    insta::assert_debug_snapshot!("shop_explained", explain);
    let why = |name: &str| &plan.units.iter().find(|u| u.name == name).unwrap().reasons;
    assert!(why("Pay").contains(&Reason::Isolated));
    assert!(why("Unused").contains(&Reason::NoNeighbour));
    assert!(why("Mail").iter().any(|r| matches!(r,
        Reason::Incompatible { neighbour, why, .. } if neighbour == "Pay" && why.contains("isolate"))));
    assert!(why("Audit").iter().any(|r| matches!(r,
        Reason::Incompatible { why, .. } if why.contains("package"))));
}

#[test]
fn the_call_graph_is_weighted_by_how_often_calls_follow_each_other() {
    let m = manifest(SHOP);
    let a = flow(&m, ORDER);
    let b = flow(
        &m,
        "flow Again(input) {\n  q = Quote(input)\n  c = Check(q)\n  if eq(c.ok, true) {\n    _ = Mail(c)\n  }\n  _ = Audit(c)\n  return(c)\n}",
    );
    let edges = successions(&[&a, &b]);
    let find = |from: &str, to: &str| {
        edges
            .iter()
            .find(|e| e.from == from && e.to == to)
            .map(|e| (e.weight, e.flows.clone()))
    };
    assert_eq!(
        find("Quote", "Check"),
        Some((2, vec!["Again".to_string(), "Order".to_string()]))
    );
    assert_eq!(
        find("Pay", "Release"),
        Some((1, vec!["Order".to_string()])),
        "a catch body follows the call"
    );
    // Both ways out of the `if` lead to Audit.
    assert_eq!(find("Check", "Audit").map(|e| e.0), Some(1));
    assert_eq!(find("Mail", "Audit").map(|e| e.0), Some(2));
    assert_eq!(
        find("Release", "Mail"),
        None,
        "the catch body ends in `fail`"
    );
}

#[test]
fn different_memory_or_timeouts_keep_functions_apart() {
    for setting in ["memory: 256", "timeout: 30"] {
        let plan = plan_of(
            &format!(
                "project: p\nfunctions:\n  A: {{ package: x }}\n  B: {{ package: x, {setting} }}\n"
            ),
            &["flow F(input) {\n  a = A(input)\n  b = B(a)\n  return(b)\n}"],
        );
        assert_eq!(
            members(&plan),
            [unit("A", &["A"]), unit("B", &["B"])],
            "{setting}"
        );
        let why = plan.units[1].reasons[0].to_string();
        assert!(why.contains(setting.split(':').next().unwrap()), "{why}");
    }
}

#[test]
fn different_hints_never_merge_and_say_so() {
    let plan = plan_of(
        "project: p\nfunctions:\n  A: { package: x, colocate: one }\n  B: { package: x, colocate: two }\n",
        &["flow F(input) {\n  a = A(input)\n  b = B(a)\n  return(b)\n}"],
    );
    assert_eq!(members(&plan), [unit("one", &["A"]), unit("two", &["B"])]);
    assert!(plan.units[0].reasons.contains(&Reason::OtherHint {
        neighbour: "B".into(),
        hint: "two".into()
    }));
}

#[test]
fn environments_that_disagree_or_grow_too_large_keep_functions_apart() {
    let plan = plan_of(
        "project: p\nfunctions:\n  A: { package: x, env: { MODE: a } }\n  B: { package: x, env: { MODE: b } }\n",
        &["flow F(input) {\n  a = A(input)\n  b = B(a)\n  return(b)\n}"],
    );
    assert_eq!(plan.units.len(), 2);
    assert!(plan.units[0].reasons[0].to_string().contains("MODE"));

    let big = "x".repeat(2100);
    let plan = plan_of(
        &format!("project: p\nfunctions:\n  A: {{ package: x, env: {{ ONE: {big} }} }}\n  B: {{ package: x, env: {{ TWO: {big} }} }}\n"),
        &["flow F(input) {\n  a = A(input)\n  b = B(a)\n  return(b)\n}"],
    );
    assert_eq!(plan.units.len(), 2);
    assert!(plan.units[0].reasons[0].to_string().contains("4096"));
}

#[test]
fn unit_names_are_unique() {
    // A hint named like a function that ends up alone.
    let plan = plan_of(
        "project: p\nfunctions:\n  A: { package: x, colocate: B }\n  B: { package: y }\n",
        &[],
    );
    assert_eq!(
        members(&plan),
        [unit("B", &["A"]), unit("B-2", &["B"])],
        "the hint's name is asked for: it wins"
    );
    let plan = plan_of(
        "project: p\nfunctions:\n  B: { package: y }\n  A: { package: x, colocate: B }\n",
        &[],
    );
    assert_eq!(
        members(&plan),
        [unit("B-2", &["B"]), unit("B", &["A"])],
        "whatever the manifest order"
    );
}

#[test]
fn without_flows_every_function_is_alone() {
    let plan = plan_of(SHOP, &[]);
    assert_eq!(plan.units.len(), 7, "only the `stock` hint joins two");
    assert_eq!(plan.units, plan_of(SHOP, &[]).units, "deterministic");
}

#[test]
fn compile_options_follow_the_plan() {
    let m = manifest(SHOP);
    let plan = plan_of(SHOP, &[ORDER]);
    let opts = plan.compile_options(&m, "flows/order.flow", true);
    assert_eq!(opts.units["Quote"], "stock");
    assert_eq!(opts.units["Pay"], "Pay");
    assert!(opts.fusable.is_empty(), "no function of SHOP is idempotent");
}

/// A generated function: package (2 and 3: a Python and a Node runtime), memory, timeout,
/// env value, isolate, hint (indexes into small sets, so that many are compatible and many
/// are not).
fn function_strategy() -> impl Strategy<Value = (u8, u8, u8, u8, bool, u8)> {
    (
        0..4u8,
        0..2u8,
        0..2u8,
        0..3u8,
        prop::bool::weighted(0.2),
        0..4u8,
    )
}

fn generated_manifest(functions: &[(u8, u8, u8, u8, bool, u8)]) -> String {
    let mut yaml = String::from("project: gen\nfunctions:\n");
    for (i, &(package, memory, timeout, env, isolate, hint)) in functions.iter().enumerate() {
        let code = match package {
            2 => format!("runtime: python3.12\n    handler: app.handler\n    source: fns/F{i}"),
            3 => format!("runtime: nodejs22.x\n    handler: index.handler\n    source: fns/F{i}"),
            _ => format!("package: pkg{package}"),
        };
        yaml.push_str(&format!(
            "  F{i}:\n    {code}\n    memory: {}\n    timeout: {}\n    idempotent: true\n",
            128 * (1 + u32::from(memory)),
            3 + u32::from(timeout)
        ));
        if env > 0 {
            yaml.push_str(&format!("    env: {{ MODE: m{env} }}\n"));
        }
        if isolate {
            yaml.push_str("    isolate: true\n");
        } else if hint > 1 && package < 2 {
            yaml.push_str(&format!("    colocate: h{hint}\n"));
        }
    }
    yaml
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Whatever the manifest and the flows, a unit never holds an isolated function with
    /// another, never two functions with incompatible settings, and every function is in
    /// exactly one unit.
    #[test]
    fn isolated_or_incompatible_functions_never_share_a_unit(
        functions in prop::collection::vec(function_strategy(), 1..9),
        calls in prop::collection::vec(prop::collection::vec(0..8usize, 1..7), 0..4),
    ) {
        let yaml = generated_manifest(&functions);
        let (m, diags) = crate::manifest::parse(&yaml);
        // Hinted groups must be compatible (M019); such manifests are rejected, not planned.
        prop_assume!(diags.is_empty());
        let m = m.unwrap();
        let n = functions.len();
        let flows: Vec<ir::Flow> = calls
            .iter()
            .enumerate()
            .map(|(i, seq)| {
                let body: String = seq
                    .iter()
                    .enumerate()
                    .map(|(j, f)| format!("  v{j} = F{}(input)\n", f % n))
                    .collect();
                flow(&m, &format!("flow G{i}(input) {{\n{body}  return(input)\n}}"))
            })
            .collect();
        let plan = plan(&m, &flows.iter().collect::<Vec<_>>());

        let mut seen: Vec<&String> = plan.units.iter().flat_map(|u| &u.functions).collect();
        seen.sort();
        prop_assert_eq!(seen.len(), n, "every function in exactly one unit");
        seen.dedup();
        prop_assert_eq!(seen.len(), n);
        let mut names: Vec<&String> = plan.units.iter().map(|u| &u.name).collect();
        names.sort();
        names.dedup();
        prop_assert_eq!(names.len(), plan.units.len(), "unit names are unique");

        for unit in &plan.units {
            for a in &unit.functions {
                let fa = &m.functions[a];
                if unit.functions.len() > 1 {
                    prop_assert!(!fa.isolate, "{} is isolated but shares {}", a, unit.name);
                    prop_assert!(fa.runtime.is_none(), "{} is in a managed runtime but shares {}", a, unit.name);
                }
                for b in &unit.functions {
                    if a != b {
                        let fb = &m.functions[b];
                        prop_assert!(
                            incompatibility((a, fa), (b, fb)).is_none(),
                            "{} and {} share {}: {:?}", a, b, unit.name,
                            incompatibility((a, fa), (b, fb))
                        );
                    }
                }
                prop_assert_eq!(fa.memory, unit.memory);
                prop_assert_eq!(fa.timeout, unit.timeout);
                prop_assert_eq!(fa.code(), unit.code.clone());
                for (k, v) in &fa.env {
                    prop_assert_eq!(Some(v), unit.env.get(k));
                }
            }
            prop_assert!(names::env_size(&unit.env) <= names::ENV_MAX_BYTES);
        }
        // The same input gives the same plan.
        prop_assert_eq!(&plan, &super::plan(&m, &flows.iter().collect::<Vec<_>>()));
    }
}

// The units as build instructions: one per function without colocation, with the settings and
// the function list the build gives each Lambda.

fn parsed(yaml: &str) -> crate::manifest::Manifest {
    let (manifest, diags) = crate::manifest::parse(yaml);
    assert!(diags.is_empty(), "{diags:#?}");
    manifest.unwrap()
}

#[test]
fn one_unit_per_function_with_its_settings_and_function_list() {
    let m = parsed(
        "project: shop\nfunctions:\n  Reserve:\n    package: shop-fns\n    memory: 256\n    timeout: 10\n    env: { TABLE: t, MODE: fast }\n  payments.Charge:\n    package: pay-fns\n",
    );
    let plan = one_unit_per_function(&m);
    let units = &plan.units;
    assert_eq!(units.len(), 2);
    let reserve = &units[0];
    assert_eq!(reserve.name, "Reserve");
    assert_eq!(reserve.functions, ["Reserve"]);
    assert_eq!(reserve.code.package(), Some("shop-fns"));
    assert_eq!((reserve.memory, reserve.timeout), (256, 10));
    let env: Vec<_> = reserve
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        env,
        [("TABLE", "t"), ("MODE", "fast"), (FUNCTIONS_ENV, "Reserve")]
    );

    let charge = &units[1];
    assert_eq!(
        charge.name, "payments-Charge",
        "as the compiled ASL names it"
    );
    assert_eq!(charge.functions, ["payments.Charge"]);
    assert_eq!(charge.env[FUNCTIONS_ENV], "payments.Charge");
    assert_eq!(
        (charge.memory, charge.timeout),
        (
            crate::manifest::DEFAULT_MEMORY,
            crate::manifest::DEFAULT_TIMEOUT
        )
    );
    assert_eq!(plan.packages(), ["pay-fns", "shop-fns"]);
}

#[test]
fn unit_names_match_the_compiled_documents() {
    let m = parsed(
        "project: p\nfunctions:\n  A: { package: x }\n  ns.B: { package: x }\n  C: { package: y }\n",
    );
    let compiled = CompileOptions::one_unit_per_function(m.functions.keys().cloned(), "").units;
    for unit in one_unit_per_function(&m).units {
        assert_eq!(compiled[&unit.functions[0]], unit.name);
    }
    assert_eq!(one_unit_per_function(&m).packages(), ["x", "y"]);
}

#[test]
fn a_manifest_value_for_the_function_list_is_replaced() {
    let m = parsed(
        "project: p\nfunctions:\n  A:\n    package: x\n    env: { FLOWCTL_FUNCTIONS: B, KEY: v }\n",
    );
    let unit = &one_unit_per_function(&m).units[0];
    let env: Vec<_> = unit
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(env, [("KEY", "v"), (FUNCTIONS_ENV, "A")]);
}

#[test]
fn no_functions_no_units() {
    let m = parsed("project: p\n");
    assert!(one_unit_per_function(&m).units.is_empty());
    assert!(one_unit_per_function(&m).packages().is_empty());
}

#[test]
fn a_function_in_a_managed_runtime_is_alone_and_the_plan_says_why() {
    let yaml = "project: shop
functions:
  Quote: { package: fns }
  Score: { runtime: python3.12, handler: app.handler, source: score }
  Check: { package: fns }
  Mail: { runtime: nodejs22.x, handler: index.handler, source: mail }
";
    let flow = "flow Order(input) {
  q = Quote(input)
  s = Score(q)
  m = Mail(s)
  c = Check(m)
  return(c)
}";
    let plan = plan_of(yaml, &[flow]);
    assert_eq!(
        members(&plan),
        [
            unit("Quote", &["Quote"]),
            unit("Score", &["Score"]),
            unit("Check", &["Check"]),
            unit("Mail", &["Mail"]),
        ]
    );
    let score = plan.unit_of("Score").unwrap();
    assert_eq!(
        score.reasons,
        [Reason::Runtime {
            runtime: "python3.12".into()
        }]
    );
    assert_eq!(
        score.reasons[0].to_string(),
        "`runtime: python3.12`: never shares a Lambda (only the Rust shim dispatches between the functions of one)"
    );
    // Its neighbour hears why it could not join.
    let quote = plan.unit_of("Quote").unwrap();
    assert!(
        quote.reasons.iter().any(|r| r.to_string()
            == "not with Score (called next to Quote): Score runs in the `python3.12` runtime, and a Lambda serving several functions needs the Rust shim's dispatch"),
        "{:?}",
        quote.reasons
    );
    // The build runs cargo for the cargo package only.
    assert_eq!(plan.packages(), ["fns"]);
    let json = serde_json::to_value(score).unwrap();
    assert_eq!(
        (
            &json["runtime"],
            &json["handler"],
            &json["source"],
            json.get("package")
        ),
        (
            &serde_json::json!("python3.12"),
            &serde_json::json!("app.handler"),
            &serde_json::json!("score"),
            None
        )
    );
    assert_eq!(serde_json::to_value(quote).unwrap()["package"], "fns");
}
