use super::*;
use crate::coverage::{Branch, BranchKind};
use serde_json::json;

fn case(name: &str, verdict: Verdict) -> CaseResult {
    CaseResult {
        file: "flows/booking.test.yaml".into(),
        flow: "Booking".into(),
        case: name.into(),
        verdict,
        problems: Vec::new(),
        diff: String::new(),
        status: "SUCCEEDED".into(),
        output: Some(json!({"ok": true})),
        error: None,
        cause: None,
        failed_state: None,
        calls: vec!["QuoteRate".into()],
        path: vec!["Start".into()],
        seconds: 0.0012,
        trace: String::new(),
    }
}

type Suites = Vec<(String, Vec<CaseResult>)>;

fn sample() -> (Suites, Vec<(String, Coverage)>) {
    let mut failed = case("payment \"declined\" <twice>", Verdict::Failed);
    failed.problems = vec![
        "output differs".into(),
        "function `ProcessPayment` was called 3 times".into(),
    ];
    failed.diff = "-  \"ok\": true\n+  \"ok\": false\n".into();
    failed.trace = "0.000  Start\n1.000  p = Pay ✗ PaymentGatewayTimeout\n".into();
    let mut error = case("unmocked", Verdict::Error);
    error.problems = vec!["`NotifyGuest` is not mocked: add it to `mocks`".into()];
    let branch = |label: &str| Branch {
        state: "s".into(),
        kind: BranchKind::MapBody,
        target: None,
        label: label.into(),
    };
    let coverage = Coverage {
        branches: vec![
            (branch("\"if x\" → \"y = F\""), 2),
            (branch("\"p = Pay\" fails → \"release\""), 0),
        ],
    };
    let suites = vec![
        (
            "flows/booking.test.yaml".to_string(),
            vec![
                case("a free room is booked", Verdict::Passed),
                failed,
                error,
            ],
        ),
        ("flows/reprice.test.yaml".to_string(), Vec::new()),
    ];
    (suites, vec![("flows/booking.test.yaml".into(), coverage)])
}

fn attribute<'a>(node: roxmltree::Node<'a, '_>, name: &str) -> &'a str {
    node.attribute(name)
        .unwrap_or_else(|| panic!("<{}> lacks `{name}`", node.tag_name().name()))
}

#[test]
fn parses_as_xml_with_the_attributes_junit_requires() {
    let (suites, coverage) = sample();
    let xml = write(&suites, &coverage);
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    for name in ["tests", "failures", "errors", "time"] {
        attribute(root, name);
    }
    assert_eq!(
        ["tests", "failures", "errors"].map(|a| attribute(root, a)),
        ["3", "1", "1"]
    );
    let suites: Vec<_> = root.children().filter(|n| n.is_element()).collect();
    assert_eq!(suites.len(), 2);
    for suite in &suites {
        assert_eq!(suite.tag_name().name(), "testsuite");
        // The JUnit schema's required attributes of a testsuite.
        for name in ["name", "tests", "failures", "errors", "skipped", "time"] {
            attribute(*suite, name);
        }
        let cases: Vec<_> = suite
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(attribute(*suite, "tests"), cases.len().to_string());
        for case in &cases {
            for name in ["name", "classname", "time"] {
                attribute(*case, name);
            }
            assert!(attribute(*case, "time").parse::<f64>().is_ok());
            for outcome in case.children().filter(|n| n.is_element()) {
                assert!(["failure", "error"].contains(&outcome.tag_name().name()));
                attribute(outcome, "message");
                attribute(outcome, "type");
            }
        }
    }
    let booking = suites[0];
    assert_eq!(attribute(booking, "name"), "flows/booking.test.yaml");
    let cases: Vec<_> = booking
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(attribute(cases[0], "classname"), "Booking");
    assert_eq!(attribute(cases[0], "file"), "flows/booking.test.yaml");
    assert_eq!(attribute(cases[0], "time"), "0.001");
    assert_eq!(cases[0].children().filter(|n| n.is_element()).count(), 0);
    // The failed case: its name read back exactly, the first problem as the message, every
    // problem, the diff and the trace in the text.
    assert_eq!(attribute(cases[1], "name"), "payment \"declined\" <twice>");
    let failure = cases[1].first_element_child().unwrap();
    assert_eq!(failure.tag_name().name(), "failure");
    assert_eq!(attribute(failure, "message"), "output differs");
    let body = failure.text().unwrap();
    assert!(body.starts_with("output differs\nfunction `ProcessPayment` was called 3 times\n\n-  \"ok\": true\n+  \"ok\": false\n\n0.000  Start\n"));
    assert!(body.ends_with("p = Pay ✗ PaymentGatewayTimeout"));
    let error = cases[2].first_element_child().unwrap();
    assert_eq!(error.tag_name().name(), "error");
    assert_eq!(
        attribute(error, "message"),
        "`NotifyGuest` is not mocked: add it to `mocks`"
    );
    // Coverage: the missed branch by its label.
    let properties: Vec<(&str, &str)> = booking
        .descendants()
        .filter(|n| n.has_tag_name("property"))
        .map(|p| (attribute(p, "name"), attribute(p, "value")))
        .collect();
    assert_eq!(
        properties,
        [
            ("coverage.covered", "1"),
            ("coverage.total", "2"),
            ("coverage.missed.1", "\"p = Pay\" fails → \"release\""),
        ]
    );
    // A suite without coverage has no <properties>; an empty one is still a suite.
    assert_eq!(attribute(suites[1], "tests"), "0");
    assert!(!suites[1]
        .descendants()
        .any(|n| n.has_tag_name("properties")));
}

#[test]
fn escapes_everything_and_drops_what_xml_forbids() {
    let nasty =
        "a&b <c> \"d\" 'e' ]]> tab\there\nline\r\u{0}\u{1}\u{1b}[31m\u{7f}\u{fffe}\u{ffff} ok é 😀";
    let mut result = case(nasty, Verdict::Failed);
    result.flow = nasty.into();
    result.file = nasty.into();
    result.problems = vec![nasty.into()];
    result.trace = nasty.into();
    let xml = write(&[(nasty.into(), vec![result])], &[]);
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    // What XML can hold comes back exactly; the forbidden characters are gone.
    let kept = "a&b <c> \"d\" 'e' ]]> tab\there\nline\r[31m\u{7f} ok é 😀";
    let case = doc
        .descendants()
        .find(|n| n.has_tag_name("testcase"))
        .unwrap();
    for name in ["name", "classname", "file"] {
        assert_eq!(attribute(case, name), kept, "{name}");
    }
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(attribute(suite, "name"), kept);
    let failure = case.first_element_child().unwrap();
    assert_eq!(attribute(failure, "message"), kept);
    assert_eq!(
        failure.text(),
        Some(format!("{kept}\n\n{}", kept.trim_end()).as_str())
    );
    assert!(!xml.contains('\u{1b}') && !xml.contains('\u{0}'));
}

#[test]
fn odd_times_are_zero() {
    let mut result = case("t", Verdict::Passed);
    for seconds in [f64::NAN, f64::INFINITY, -1.0] {
        result.seconds = seconds;
        let xml = write(&[("s".into(), vec![result.clone()])], &[]);
        assert!(xml.contains("time=\"0.000\""), "{xml}");
    }
}

#[test]
fn a_report_reads_like_this() {
    let (suites, coverage) = sample();
    insta::assert_snapshot!("junit_sample", write(&suites, &coverage));
}
