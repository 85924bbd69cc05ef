use super::*;
use flowctl_lang::render::{self, FileDiagnostics};
use serde_json::json;

use crate::test_support::booking_functions as functions;

fn parsed(text: &str) -> TestFile {
    parse(text, "Booking", &functions()).unwrap_or_else(|d| panic!("{}", rendered(text, &d)))
}

fn rendered(text: &str, diagnostics: &[Diagnostic]) -> String {
    render::text(
        &[FileDiagnostics {
            path: "flows/booking.test.yaml".into(),
            source: text.to_string(),
            diagnostics: diagnostics.to_vec(),
        }],
        false,
    )
}

/// The rendered diagnostics of a file that must not parse.
fn errors(text: &str) -> String {
    match parse(text, "Booking", &functions()) {
        Ok(file) => panic!("parsed: {file:#?}"),
        Err(d) => rendered(text, &d),
    }
}

fn codes(text: &str) -> Vec<&'static str> {
    match parse(text, "Booking", &functions()) {
        Ok(_) => Vec::new(),
        Err(d) => d.iter().map(|d| d.code).collect(),
    }
}

const EXAMPLE: &str = r#"# The cases of flow Booking (flowctl test)
flow: Booking
cases:
  - name: a free room is booked
    input: { id: "b-1", guest: "ada", nights: 2, amount: 240, arrival: "2026-01-01", currency: EUR }
    mocks:
      QuoteRate: { return: { rate: 120 } }
      ProcessPayment:
        - throw: { error: PaymentGatewayTimeout, cause: "gateway timed out" }
          times: 2
        - return: { transaction: "t-1" }
    expect:
      output_includes: { ok: true }
      calls: [QuoteRate, LookupLoyalty, ProcessPayment, ProcessPayment]
  - name: no room
    mocks:
      NotifyGuest:
        - return:
    expect:
      error: NotAvailable
      cause: no rooms for these dates
      path: [a, b]
  - name: recorded
    snapshot: true
    real: true
"#;

#[test]
fn the_example_parses_with_defaults() {
    let file = parsed(EXAMPLE);
    assert_eq!(file.flow.as_deref(), Some("Booking"));
    let names: Vec<&str> = file.cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["a free room is booked", "no room", "recorded"]);

    let booked = &file.cases[0];
    assert_eq!(booked.input["nights"], json!(2));
    assert_eq!(booked.input["currency"], json!("EUR"));
    assert_eq!(
        booked.mocks["QuoteRate"],
        FunctionMock::Always(Answer::Return(Arc::new(json!({"rate": 120}))))
    );
    let pay = &booked.mocks["ProcessPayment"];
    assert_eq!(pay.calls(), Some(3));
    let timeout = Answer::Throw {
        error: "PaymentGatewayTimeout".into(),
        cause: "gateway timed out".into(),
    };
    assert_eq!(pay.answer(0), Some(&timeout));
    assert_eq!(pay.answer(1), Some(&timeout));
    assert_eq!(
        pay.answer(2),
        Some(&Answer::Return(Arc::new(json!({"transaction": "t-1"}))))
    );
    assert_eq!(pay.answer(3), None);
    assert_eq!(booked.expect.output_includes, Some(json!({"ok": true})));
    assert_eq!(booked.expect.calls.as_ref().map(Vec::len), Some(4));
    assert!(!booked.expect.expects_failure());
    assert_eq!(
        &EXAMPLE[booked.span.range()][..28],
        "name: a free room is booked\n"
    );

    let no_room = &file.cases[1];
    assert_eq!(no_room.input, json!({}), "the input defaults to {{}}");
    assert_eq!(
        no_room.mocks["NotifyGuest"].answer(0),
        Some(&Answer::Return(Arc::new(Value::Null)))
    );
    assert!(no_room.expect.expects_failure());
    assert_eq!(no_room.expect.path, Some(vec!["a".into(), "b".into()]));

    let recorded = &file.cases[2];
    assert!(recorded.snapshot && recorded.real);
    assert_eq!(recorded.expect, Expect::default());
}

#[test]
fn a_thrown_answer_reaches_the_engine_as_a_lambda_error() {
    let answer = Answer::Throw {
        error: "Declined".into(),
        cause: "no money".into(),
    };
    assert_eq!(
        answer.result(),
        Err(TaskError::from_lambda("Declined", "no money"))
    );
}

#[test]
fn huge_times_are_not_expanded() {
    let file = parsed(
        "cases:\n  - name: n\n    mocks:\n      QuoteRate:\n        - return: 1\n          times: 4000000000\n        - return: 2\n",
    );
    let mock = &file.cases[0].mocks["QuoteRate"];
    assert_eq!(mock.calls(), Some(4_000_000_001));
    assert_eq!(
        mock.answer(3_999_999_999),
        Some(&Answer::Return(Arc::new(json!(1))))
    );
    assert_eq!(
        mock.answer(4_000_000_000),
        Some(&Answer::Return(Arc::new(json!(2))))
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = r#"flow: Bookings
cases:
  - name: one
    inptu: {}
    mocks:
      QuoteRat: { return: 1 }
      ProcessPayment: []
    expect:
      output: 1
      error: E
  - name: one
"#;
    assert_eq!(
        codes(text),
        ["T007", "T002", "T008", "T009", "T010", "T006"]
    );
}

#[test]
fn unknown_keys_suggest_and_list_the_known_ones() {
    insta::assert_snapshot!(errors(
        "cases:\n  - name: a\n    inptu: {}\n    expect: { outptu: 1, ok: true }\n"
    ));
}

#[test]
fn unknown_functions_suggest_the_nearest() {
    insta::assert_snapshot!(errors(
        "cases:\n  - name: a\n    mocks:\n      QuoteRat: { return: 1 }\n      Nothing: { return: 1 }\n    expect:\n      calls: [QuoteRate, ProcesPayment]\n"
    ));
}

#[test]
fn malformed_answers() {
    insta::assert_snapshot!(errors(
        r#"cases:
  - name: a
    mocks:
      QuoteRate: { return: 1, throw: { error: E } }
      LookupLoyalty: { return: 1, times: 2 }
      ProcessPayment:
        - { times: 2 }
        - throw: { cause: x }
        - throw: Declined
        - return: 1
          times: 0
      NotifyGuest: []
"#
    ));
}

#[test]
fn contradictory_expectations() {
    insta::assert_snapshot!(errors(
        r#"cases:
  - name: both kinds
    expect: { output: 1, output_includes: 1, error: E }
  - name: snapshot and output
    snapshot: true
    expect: { output: 1 }
  - name: snapshot and failure
    snapshot: true
    expect: { cause: x }
"#
    ));
}

#[test]
fn names_flow_and_structure() {
    insta::assert_snapshot!(errors(
        r#"flow: Reprice
cases:
  - name: ""
  - input: {}
  - name: twice
  - name: twice
  - just text
"#
    ));
}

#[test]
fn wrong_types() {
    insta::assert_snapshot!(errors(
        r#"cases:
  - name: a
    mocks: [QuoteRate]
    snapshot: yes please
    expect: { calls: QuoteRate, error: [x] }
  - name: b
    mocks:
      QuoteRate: 12
"#
    ));
}

#[test]
fn values_without_a_json_form() {
    insta::assert_snapshot!(errors(
        r#"cases:
  - name: a
    input: { x: .nan, y: 99999999999999999999999, [1]: 2, z: 1, z: 2 }
"#
    ));
}

#[test]
fn syntax_errors_and_empty_files() {
    insta::assert_snapshot!(errors("cases:\n  - name: a\n   input: {}\n"));
    assert_eq!(codes(""), ["T003"]);
    assert_eq!(codes("flow: Booking\n"), ["T003"]);
    assert_eq!(codes("- a\n"), ["T004"]);
    assert_eq!(codes("cases: 1\n"), ["T004"]);
    assert_eq!(codes("cases: []\n---\ncases: []\n"), ["T001"]);
    assert!(parsed("cases:\n").cases.is_empty());
}

#[test]
fn deep_values_are_refused_not_overflowed() {
    let deep = format!(
        "cases:\n  - name: a\n    input: {}1{}\n",
        "[".repeat(200),
        "]".repeat(200)
    );
    assert_eq!(codes(&deep), ["T001"]);
    // serde_yaml's own limit (128 levels, the file's included) comes before JSON's.
    let deep = format!(
        "cases:\n  - name: a\n    input: {}1{}\n",
        "[".repeat(120),
        "]".repeat(120)
    );
    assert_eq!(codes(&deep), Vec::<&str>::new());
}

#[test]
fn odd_text_never_panics() {
    for text in [
        "cases:\n  - name: a\n    mocks:\n      QuoteRate:\n        - &x { return: 1 }\n        - *x\n",
        "cases:\n  - !tag { name: a }\n",
        "cases:\n  - name: é\n    input: \"\\u00e9\"\n    expect: { output: \"\\t\" }\n",
        "\t",
        "cases: [{name: a, mocks: {QuoteRate: {return: }}}]",
        "? [a]\n: b\n",
    ] {
        let _ = parse(text, "Booking", &functions());
    }
}

#[test]
fn the_schema_describes_every_field_and_matches_the_parser() {
    let schema = json_schema();
    assert_eq!(schema["title"], "flowctl test file");
    let case = &schema["definitions"]["Case"];
    let mut keys: Vec<&str> = case["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    let mut expected = CASE_KEYS.to_vec();
    expected.sort_unstable();
    assert_eq!(keys, expected);
    assert_eq!(case["required"], json!(["name"]));
    assert_eq!(case["additionalProperties"], json!(false));
    let expect = &schema["definitions"]["Expect"]["properties"];
    assert_eq!(expect.as_object().unwrap().len(), EXPECT_KEYS.len());
    // Every property has a description.
    fn walk(v: &Value, path: &str, missing: &mut Vec<String>) {
        if let Some(props) = v.get("properties").and_then(Value::as_object) {
            for (k, p) in props {
                if p.get("description").is_none() {
                    missing.push(format!("{path}.{k}"));
                }
            }
        }
        if let Some(defs) = v.get("definitions").and_then(Value::as_object) {
            for (k, d) in defs {
                walk(d, k, missing);
            }
        }
    }
    let mut missing = Vec::new();
    walk(&schema, "", &mut missing);
    assert_eq!(missing, Vec::<String>::new());
    let answer = serde_json::to_string(&schema["definitions"]["ListReturn"]).unwrap();
    assert!(answer.contains("\"required\":[\"return\"]"), "{answer}");
    assert_eq!(
        schema["definitions"]["FunctionMock"]["anyOf"][1]["minItems"],
        1
    );
}
