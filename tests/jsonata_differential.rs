//! Differential test of flowctl's JSONata evaluator (`flowctl_engine::jsonata::Expression`)
//! against the reference implementation, the `jsonata` npm package: every case of
//! `tests/jsonata/corpus.json` is evaluated by both (the reference once, for the whole corpus,
//! by `tests/support/jsonata_reference.mjs`), and the outcomes must agree (see
//! `flowctl_tests::jsonata_reference` for what agreeing means) unless
//! `tests/jsonata/divergences.json` records the case with both outcomes and the reason.
//!
//! The test also fails when a recorded divergence no longer diverges, or no longer gives the
//! recorded outcomes (the list stays honest); when the corpus has fewer than 300 cases; when an
//! operator of the language or a built-in function of the installed reference (its list read
//! from the package at run time) appears in no case (by the reference's parse tree); and when a
//! case of the Step Functions section (functions the reference does not have) does not give
//! the value AWS's documentation gives.

use flowctl_engine::jsonata::Expression;
use flowctl_tests::jsonata_reference::{self as reference, agrees, json_eq, Case, Outcome};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const MIN_CASES: usize = 300;

/// The operators every corpus must exercise: the labels `jsonata_reference.mjs` gives the
/// nodes of the reference's parse tree.
const OPERATORS: &[&str] = &[
    // path operators
    ".",
    "[filter]",
    "[]",
    "{group}",
    "^()",
    "#",
    "@",
    "*wildcard",
    "**descendants",
    "%parent",
    "~>",
    "~> composition",
    "$",
    "$$",
    // constructors
    "[array]",
    "{object}",
    "..",
    // numeric
    "+",
    "-",
    "*",
    "/",
    "%",
    "-x",
    // comparison
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "in",
    // boolean, string
    "and",
    "or",
    "&",
    // conditionals
    "? :",
    "?:",
    "??",
    // bindings and functions
    ":=",
    "(block)",
    "call",
    "function",
    "λ",
    "function signature",
    "? partial",
    "/regex/",
    "|transform|",
];

fn read_json(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Our evaluator's outcome (a panic inside it is reported as an error without a code, with
/// the panic's message, so that one bad case does not hide the others).
fn ours(expr: &str, input: &Value, bindings: &serde_json::Map<String, Value>) -> Outcome {
    let run = || match Expression::parse(expr) {
        Err(e) => Outcome::Error {
            code: e.code,
            message: e.message,
        },
        Ok(expression) => match expression.evaluate(input, &mut |name| bindings.get(name).cloned())
        {
            Ok(Some(v)) => Outcome::Value(v),
            Ok(None) => Outcome::Undefined,
            Err(e) => Outcome::Error {
                code: e.code,
                message: e.message,
            },
        },
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        Outcome::Error {
            code: None,
            message: format!("PANIC in our evaluator: {message}"),
        }
    })
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 160 {
        format!("{}…", text.chars().take(160).collect::<String>())
    } else {
        text
    }
}

fn describe_case(case: &Case) -> String {
    let input = match case.input_name.as_str() {
        "inline" => short(&case.input),
        "(none)" => "input null".to_string(),
        name => format!("shared input `{name}`"),
    };
    let bindings = if case.bindings.is_empty() {
        String::new()
    } else {
        format!(", bindings {}", Value::Object(case.bindings.clone()))
    };
    format!("{} `{}` on {input}{bindings}", case.id, case.expr)
}

/// A recorded divergence: the case (by expression, and by id when the expression is not
/// unique), both outcomes and why.
struct Divergence {
    expr: String,
    id: Option<String>,
    reference: Outcome,
    ours: Outcome,
}

fn divergences(list: &Value) -> Vec<Divergence> {
    list["divergences"]
        .as_array()
        .expect("divergences.json: {\"divergences\": [...]}")
        .iter()
        .map(|d| {
            let expr = d["expr"].as_str().expect("a divergence's expr").to_string();
            assert!(
                d["why"].as_str().is_some_and(|w| w.len() > 20),
                "divergence `{expr}` needs a `why`"
            );
            Divergence {
                id: d["id"].as_str().map(str::to_string),
                reference: Outcome::from_json(&d["reference"]),
                ours: Outcome::from_json(&d["ours"]),
                expr,
            }
        })
        .collect()
}

/// The same outcome as a record says (values equal, errors with the recorded code).
fn as_recorded(recorded: &Outcome, actual: &Outcome) -> bool {
    match (recorded, actual) {
        (Outcome::Error { code: a, .. }, Outcome::Error { code: b, .. }) => a == b,
        (Outcome::Value(a), Outcome::Value(b)) => json_eq(a, b),
        (a, b) => a == b,
    }
}

#[test]
fn jsonata_matches_the_reference() {
    let corpus = read_json(&reference::corpus_path());
    let cases = reference::cases(&corpus);
    let answer = reference::evaluate(&reference::corpus_path());
    let answers = answer["cases"].as_array().expect("the reference's cases");
    let version = answer["version"].as_str().unwrap_or("?");
    let mut failures: Vec<String> = Vec::new();

    assert_eq!(
        answers.len(),
        cases.len(),
        "the reference answered {} cases for {}",
        answers.len(),
        cases.len()
    );
    let mut ids = BTreeSet::new();
    for (case, answer) in cases.iter().zip(answers) {
        assert_eq!(
            answer["id"],
            case.id.as_str(),
            "the reference numbers cases as we do"
        );
        assert_eq!(answer["expr"], case.expr.as_str());
        assert!(ids.insert(case.id.clone()), "two cases with id {}", case.id);
    }
    if cases.len() < MIN_CASES {
        failures.push(format!(
            "the corpus has {} cases, fewer than {MIN_CASES}",
            cases.len()
        ));
    }

    // Coverage: every operator and every built-in function of the reference in some case.
    let mut features = BTreeSet::new();
    let mut variables = BTreeSet::new();
    for answer in answers {
        for f in answer["features"].as_array().into_iter().flatten() {
            features.insert(f.as_str().unwrap_or_default().to_string());
        }
        for v in answer["variables"].as_array().into_iter().flatten() {
            variables.insert(v.as_str().unwrap_or_default().to_string());
        }
    }
    for op in OPERATORS {
        if !features.contains(*op) {
            failures.push(format!("no case uses the operator `{op}`"));
        }
    }
    let functions: Vec<&str> = answer["functions"]
        .as_array()
        .expect("the reference's function list")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // The list is read from the package: a broken reading must not pass as full coverage.
    assert!(
        functions.len() >= 60
            && ["sum", "now", "millis", "formatNumber"]
                .iter()
                .all(|f| functions.contains(f)),
        "the reference's built-in functions were not all found: {functions:?}"
    );
    for function in &functions {
        if !variables.contains(*function) {
            failures.push(format!("no case uses the built-in function `${function}`"));
        }
    }

    // The comparison.
    let recorded = divergences(&read_json(&reference::divergences_path()));
    let mut by_case: BTreeMap<String, &Divergence> = BTreeMap::new();
    for d in &recorded {
        let matching: Vec<&Case> = cases
            .iter()
            .filter(|c| c.expr == d.expr && d.id.as_ref().is_none_or(|id| *id == c.id))
            .collect();
        match matching.as_slice() {
            [case] => {
                if by_case.insert(case.id.clone(), d).is_some() {
                    failures.push(format!("two divergences recorded for {}", case.id));
                }
            }
            [] => failures.push(format!(
                "divergence `{}` matches no corpus case (a case must not be dropped to hide a divergence)",
                d.expr
            )),
            _ => failures.push(format!(
                "divergence `{}` matches {} cases; give its `id`",
                d.expr,
                matching.len()
            )),
        }
    }
    let mut agreed = 0;
    let mut diverged = 0;
    for (case, answer) in cases.iter().zip(answers) {
        let theirs = Outcome::from_json(&answer["result"]);
        let mine = ours(&case.expr, &case.input, &case.bindings);
        let same = agrees(&theirs, &mine);
        match (same, by_case.get(&case.id)) {
            (true, None) => agreed += 1,
            (false, None) => failures.push(format!(
                "{}\n    reference: {}\n    ours:      {}\n    record, if acceptable: {}",
                describe_case(case),
                theirs.describe(),
                mine.describe(),
                json!({"expr": case.expr, "reference": theirs.record(), "ours": mine.record(), "why": "…"})
            )),
            (true, Some(_)) => failures.push(format!(
                "{}: recorded as a divergence but both now give {} — remove it from divergences.json",
                describe_case(case),
                mine.describe()
            )),
            (false, Some(d)) => {
                diverged += 1;
                if !as_recorded(&d.reference, &theirs) || !as_recorded(&d.ours, &mine) {
                    failures.push(format!(
                        "{}: diverges otherwise than recorded\n    reference: {} (recorded {})\n    ours:      {} (recorded {})",
                        describe_case(case),
                        theirs.describe(),
                        d.reference.record(),
                        mine.describe(),
                        d.ours.record()
                    ));
                }
            }
        }
    }

    // The functions Step Functions adds, against AWS's documented values.
    let sfn = &corpus["step_functions"];
    let mut sfn_cases = 0;
    for case in sfn["cases"].as_array().expect("step_functions.cases") {
        sfn_cases += 1;
        let expr = case["expr"].as_str().expect("expr");
        let mine = ours(expr, &Value::Null, &serde_json::Map::new());
        let ok = if case.get("expected_error").is_some() {
            matches!(mine, Outcome::Error { .. })
        } else {
            matches!(&mine, Outcome::Value(v) if json_eq(v, &case["expected"]))
        };
        if !ok {
            failures.push(format!(
                "step_functions `{expr}`: expected {}, ours {}",
                case.get("expected")
                    .map_or("an error".to_string(), Value::to_string),
                mine.describe()
            ));
        }
    }

    eprintln!(
        "jsonata {version}: {} cases ({agreed} agree, {diverged} recorded divergences), {} operators and {} functions covered, {sfn_cases} Step Functions cases",
        cases.len(),
        OPERATORS.len(),
        functions.len()
    );
    assert!(
        failures.is_empty(),
        "{} problem(s) against the reference jsonata {version}:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
