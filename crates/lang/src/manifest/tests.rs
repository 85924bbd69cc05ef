use super::*;
use crate::diagnostic::line_col;
use serde_json::Value;

const EXAMPLE: &str = "\
project: booking                 # names every deployed resource: <project>-<unit>, <project>-<Flow>
functions:
  ReserveAvailability:
    package: booking-functions   # cargo package whose binary registers this function via the shim
    memory: 256                  # MB
    timeout: 10                  # seconds
    idempotent: true             # safe to retry / re-run; the planner may fuse it (see Colocation)
    colocate: reservations       # optional hint; `isolate: true` forbids sharing a Lambda
    env: { TABLE: bookings }
  ProcessPayment: { package: booking-functions, idempotent: false }
flows:
  Booking:
    source: flows/booking.flow
    kind: standard               # or express
deploy:
  region: eu-west-1
  architecture: x86_64           # or arm64
  role: null                     # existing role ARN, or flowctl creates least-privilege roles
";

/// (code, line, column) of every diagnostic.
fn codes(text: &str) -> Vec<(&'static str, usize, usize)> {
    let (_, diagnostics) = parse(text);
    diagnostics
        .iter()
        .map(|d| {
            let (line, col) = line_col(text, d.span.start as usize);
            (d.code, line, col)
        })
        .collect()
}

fn only(text: &str) -> Diagnostic {
    let (_, diagnostics) = parse(text);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    diagnostics.into_iter().next().unwrap()
}

fn spanned<'a>(text: &'a str, d: &Diagnostic) -> &'a str {
    &text[d.span.range()]
}

#[test]
fn design_example_parses_with_defaults() {
    let (manifest, diagnostics) = parse(EXAMPLE);
    assert_eq!(diagnostics, []);
    let m = manifest.unwrap();
    assert_eq!(m.project, "booking");
    assert_eq!(m.namespace(), "booking");
    assert_eq!(
        m.functions.keys().collect::<Vec<_>>(),
        ["ReserveAvailability", "ProcessPayment"]
    );
    let reserve = &m.functions["ReserveAvailability"];
    assert_eq!(
        reserve,
        &Function {
            package: "booking-functions".into(),
            memory: 256,
            timeout: 10,
            idempotent: true,
            colocate: Some("reservations".into()),
            isolate: false,
            env: [("TABLE".to_string(), "bookings".to_string())]
                .into_iter()
                .collect(),
        }
    );
    let pay = &m.functions["ProcessPayment"];
    assert_eq!(
        (pay.memory, pay.timeout, pay.idempotent, pay.isolate),
        (128, 3, false, false)
    );
    assert_eq!(pay.colocate, None);
    assert!(pay.env.is_empty());
    assert_eq!(
        m.flows["Booking"],
        FlowEntry {
            source: "flows/booking.flow".into(),
            kind: FlowKind::Standard
        }
    );
    assert_eq!(
        m.deploy,
        Deploy {
            region: Some("eu-west-1".into()),
            architecture: Architecture::X86_64,
            role: None
        }
    );
    // The serde derive (used by other code and the schema) agrees with the loader.
    let via_serde: Manifest = serde_yaml::from_str(EXAMPLE).unwrap();
    assert_eq!(via_serde, m);
}

#[test]
fn minimal_manifest_gets_all_defaults() {
    let text = "project: p\nnamespace: team\nfunctions:\n  A: { package: f }\n  other.B: { package: f }\nflows:\n  F: { source: f.flow, kind: express }\n";
    let (m, d) = parse(text);
    assert_eq!(d, []);
    let m = m.unwrap();
    assert_eq!(m.namespace(), "team");
    assert_eq!(m.deploy, Deploy::default());
    assert_eq!(m.flows["F"].kind, FlowKind::Express);
    assert_eq!(serde_yaml::from_str::<Manifest>(text).unwrap(), m);
    let (m, d) = parse("project: p\nfunctions:\nflows:\ndeploy:\n");
    assert_eq!(d, []);
    assert!(m.unwrap().functions.is_empty());
}

#[test]
fn env_values_keep_their_text() {
    let text = "project: p\nfunctions:\n  A:\n    package: f\n    env: { VERSION: 1.10, RETRIES: 3, DEBUG: true, NAME: 'x' }\n";
    let (m, d) = parse(text);
    assert_eq!(d, []);
    let env = &m.unwrap().functions["A"].env;
    assert_eq!(env["VERSION"], "1.10");
    assert_eq!(env["RETRIES"], "3");
    assert_eq!(env["DEBUG"], "true");
    assert_eq!(env["NAME"], "x");
}

#[test]
fn syntax_errors_point_at_the_place() {
    let text = "project: p\nfunctions: [a, b\nflows: {}\n";
    let d = only(text);
    assert_eq!(d.code, "M001");
    assert_eq!(d.title, "unclosed `[`");
    assert_eq!(line_col(text, d.labels[0].span.start as usize), (2, 12));

    let text = "project: p\nfunctions:\n\tA: {package: x}\n";
    let d = only(text);
    assert_eq!(
        (d.code, d.title.as_str()),
        ("M001", "tab character in indentation")
    );
    assert_eq!(line_col(text, d.span.start as usize), (3, 1));

    let text = "project: p\n  deploy: x\n";
    let d = only(text);
    assert_eq!(d.code, "M001");
    assert_eq!(line_col(text, d.span.start as usize), (2, 9));

    let text = "project: 'p\n";
    assert_eq!(only(text).title, "unterminated quoted string");

    let text = "project: p\n---\nproject: q\n";
    let d = only(text);
    assert_eq!(
        (d.code, line_col(text, d.span.start as usize)),
        ("M001", (2, 1))
    );
    for text in ["a: &x [*x, *x]\nb: *y\n", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["] {
        assert_eq!(only(text).code, "M001");
    }
}

#[test]
fn unknown_keys_suggest_and_list() {
    let text = "project: p\nfunctions:\n  ProcessPayment:\n    package: f\n    memroy: 256\n";
    let d = only(text);
    assert_eq!(d.code, "M002");
    assert_eq!(d.title, "unknown key `memroy` in function `ProcessPayment`");
    assert_eq!(line_col(text, d.span.start as usize), (5, 5));
    assert_eq!(spanned(text, &d), "memroy");
    let hint = d.hint.unwrap();
    assert!(hint.starts_with("did you mean `memory`?"), "{hint}");
    assert!(
        hint.contains("`package`, `memory`, `timeout`, `idempotent`, `colocate`, `isolate`, `env`"),
        "{hint}"
    );

    let text = "project: p\nregoin: x\ndeploy: { regoin: eu-west-1 }\n";
    assert_eq!(codes(text), [("M002", 2, 1), ("M002", 3, 11)]);
    let text = "project: p\nmemory: 256\n";
    assert!(only(text).hint.unwrap().contains("is a key of a function"));
    let text = "project: p\nflows:\n  F: { source: a.flow, knd: express }\n";
    assert_eq!(codes(text), [("M002", 3, 24)]);
}

#[test]
fn several_problems_are_reported_together() {
    let text = "\
project: p
functions:
  A:
    package: f
    memroy: 256
  B:
    package: f
    timeout: 9000
  C: { package: f, memory: lots }
flows:
  F: { source: f.flow, kind: slow }
deploy:
  architecture: amd64
  region: Ireland
";
    assert_eq!(
        codes(text),
        [
            ("M002", 5, 5),
            ("M009", 8, 14),
            ("M004", 9, 28),
            ("M010", 11, 30),
            ("M010", 13, 17),
            ("M014", 14, 11)
        ]
    );
    let (m, _) = parse(text);
    assert!(m.is_none());
}

#[test]
fn wrong_types() {
    let text =
        "project: p\nfunctions:\n  A: { package: f, memory: '256', idempotent: yes, isolate: 1 }\n";
    let (m, d) = parse(text);
    assert!(m.is_none());
    let got: Vec<_> = d
        .iter()
        .map(|d| (d.code, line_col(text, d.span.start as usize)))
        .collect();
    assert_eq!(
        got,
        [("M004", (3, 28)), ("M004", (3, 47)), ("M004", (3, 61))]
    );
    assert_eq!(
        d[0].title,
        "`memory` of function `A` must be a whole number of MB"
    );
    assert!(d[1].hint.as_deref().unwrap().contains("write `true`"));

    let d = only("project: p\nfunctions:\n  A: { package: f, memory: 1GB }\n");
    assert_eq!(
        d.hint.as_deref(),
        Some("write the number of MB alone: `memory: 1024`")
    );
    let d = only("project: p\nfunctions: [A, B]\n");
    assert_eq!(
        (d.code, d.title.as_str()),
        ("M004", "`functions` must be a mapping")
    );
    let d = only("project: [p]\n");
    assert_eq!(d.code, "M004");
    assert_eq!(only("- a\n- b\n").code, "M004");
    assert_eq!(only("just text\n").code, "M004");
    assert_eq!(
        only("project: p\nfunctions:\n  A:\n    package: f\n    env: { X1: }\n").code,
        "M004"
    );
}

#[test]
fn missing_keys() {
    let text = "# nothing yet\n";
    let d = only(text);
    assert_eq!(
        (d.code, d.title.as_str()),
        ("M003", "the manifest is empty")
    );
    let text = "functions: {}\n";
    assert_eq!(codes(text), [("M003", 1, 1)]);
    let text = "# my project\n\nfunctions: {}\n";
    assert_eq!(codes(text), [("M003", 3, 1)]);
    let text =
        "project: p\nfunctions:\n  A: { memory: 256 }\n  B:\nflows:\n  F: { kind: express }\n";
    assert_eq!(
        codes(text),
        [("M003", 3, 3), ("M003", 4, 3), ("M003", 6, 3)]
    );
}

#[test]
fn duplicates_are_found_with_both_places() {
    let text = "project: p\nfunctions:\n  A: { package: f }\n  A:\n    package: g\nflows:\n  F: { source: a.flow }\n  F: { source: b.flow }\n";
    let (m, d) = parse(text);
    let got: Vec<_> = d
        .iter()
        .map(|d| {
            (
                d.code,
                d.title.as_str(),
                line_col(text, d.span.start as usize),
                line_col(text, d.labels[0].span.start as usize),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("M005", "function `A` is defined twice", (4, 3), (3, 3)),
            ("M005", "flow `F` is defined twice", (8, 3), (7, 3))
        ]
    );
    // Like YAML loaders, the last one wins.
    let m = m.unwrap();
    assert_eq!(m.functions["A"].package, "g");
    assert_eq!(m.flows["F"].source, PathBuf::from("b.flow"));
    assert_eq!(codes("project: p\nproject: q\n"), [("M005", 2, 1)]);
    assert_eq!(
        codes("project: p\nfunctions:\n  A: { package: f, memory: 256, memory: 512 }\n"),
        [("M005", 3, 33)]
    );
}

#[test]
fn names_aws_would_reject() {
    let text = "project: my app\nfunctions:\n  A: { package: f }\n";
    let d = only(text);
    assert_eq!((d.code, spanned(text, &d)), ("M006", "my app"));
    assert!(d.hint.unwrap().contains("`project: my-app`"));
    let text = "project: p\nnamespace: my-team\nfunctions:\n  process-payment: { package: f }\n  a.b.C: { package: f }\n  if: { package: f }\nflows:\n  2fa: { source: a.flow }\n";
    assert_eq!(
        codes(text),
        [
            ("M006", 2, 12),
            ("M006", 4, 3),
            ("M006", 5, 3),
            ("M006", 6, 3),
            ("M006", 8, 3)
        ]
    );
    let (m, d) = parse(text);
    assert!(m.is_some(), "names do not change the shape");
    assert!(d[1].hint.as_deref().unwrap().contains("`process_payment`"));
}

#[test]
fn deployed_names_too_long() {
    let project = "a-rather-long-project-name-for-a-team";
    let function = "ReserveAvailabilityForTheWholeWeekend";
    let text = format!("project: {project}\nfunctions:\n  {function}: {{ package: f }}\n");
    assert!(names::lambda_name(project, function).len() > 64);
    let d = only(&text);
    assert_eq!(
        (d.code, line_col(&text, d.span.start as usize)),
        ("M007", (3, 3))
    );
    assert_eq!(line_col(&text, d.labels[0].span.start as usize), (1, 10));
    assert!(
        d.text
            .contains(&format!("`{project}-{function}` has 75 characters")),
        "{}",
        d.text
    );

    let flow = "F".repeat(60);
    let text = format!("project: {project}\nflows:\n  {flow}: {{ source: a.flow }}\n");
    assert_eq!(codes(&text), [("M007", 3, 3)]);

    let long = "p".repeat(53);
    let text = format!("project: {long}\n");
    assert_eq!(codes(&text), [("M007", 1, 10)]);
    let text = format!("project: {long}\ndeploy:\n  role: arn:aws:iam::123456789012:role/r\n");
    assert_eq!(codes(&text), []);
    let text = format!("project: {}\n", "p".repeat(52));
    assert_eq!(codes(&text), []);
}

#[test]
fn memory_and_timeout_ranges() {
    let text = "project: p\nfunctions:\n  A:\n    package: f\n    memory: 64\n    timeout: 0\n";
    assert_eq!(codes(text), [("M008", 5, 13), ("M009", 6, 14)]);
    let (m, _) = parse(text);
    assert!(
        m.is_some(),
        "a number out of range still has the manifest's shape"
    );
    let d = only("project: p\nfunctions:\n  A: { package: f, memory: 2 }\n");
    assert_eq!(
        d.hint.as_deref(),
        Some("memory is in MB: did you mean `memory: 2048`?")
    );
    let (m, d) = parse("project: p\nfunctions:\n  A: { package: f, memory: -1 }\n");
    assert_eq!((m, d[0].code), (None, "M008"));
}

#[test]
fn choices() {
    let d = only("project: p\ndeploy: { architecture: aarch64 }\n");
    assert_eq!(d.code, "M010");
    assert!(d.hint.unwrap().starts_with("did you mean `arm64`?"));
    let d = only("project: p\nflows:\n  F: { source: a.flow, kind: Express }\n");
    assert!(d.hint.unwrap().starts_with("did you mean `express`?"));
}

#[test]
fn env_rules() {
    let text = "project: p\nfunctions:\n  A:\n    package: f\n    env:\n      AWS_REGION: eu-west-1\n      my-var: x\n      X: y\n      OK_1: z\n";
    assert_eq!(
        codes(text),
        [("M012", 6, 7), ("M011", 7, 7), ("M011", 8, 7)]
    );
    let big = "v".repeat(4100);
    let text =
        format!("project: p\nfunctions:\n  A:\n    package: f\n    env:\n      BIG: {big}\n");
    assert_eq!(codes(&text), [("M013", 5, 5)]);
}

#[test]
fn region_role_package_and_placement() {
    let text = "project: p\ndeploy:\n  region: eu-west-1a\n  role: my-role\n";
    let (_, d) = parse(text);
    assert_eq!(
        d.iter().map(|d| d.code).collect::<Vec<_>>(),
        ["M014", "M015"]
    );
    assert!(d[0]
        .hint
        .as_deref()
        .unwrap()
        .contains("its region is `eu-west-1`"));
    assert!(d[1]
        .hint
        .as_deref()
        .unwrap()
        .contains("arn:aws:iam::<account id>:role/my-role"));
    assert_eq!(line_col(text, d[1].span.start as usize), (4, 9));
    let text = "project: p\nfunctions:\n  A: { package: 'my functions', colocate: shared, isolate: true }\n";
    assert_eq!(codes(text), [("M017", 3, 17), ("M018", 3, 43)]);
}

#[test]
fn flow_files() {
    let text = "project: p\nflows:\n  Booking:\n    source: flows/booking.flow\n  Other: { source: flows/other.flow }\n  Empty: { source: '' }\n";
    let (m, d) = parse(text);
    assert_eq!(d.iter().map(|d| d.code).collect::<Vec<_>>(), ["M016"]);
    let m = m.unwrap();
    let seen = std::cell::RefCell::new(Vec::new());
    let d = check_files(&m, text, |p| {
        seen.borrow_mut().push(p.to_path_buf());
        p == Path::new("flows/other.flow")
    });
    assert_eq!(
        seen.into_inner(),
        [
            PathBuf::from("flows/booking.flow"),
            PathBuf::from("flows/other.flow")
        ]
    );
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].code, line_col(text, d[0].span.start as usize)),
        ("M016", (4, 13))
    );
    assert_eq!(spanned(text, &d[0]), "flows/booking.flow");
}

#[test]
fn every_code_is_listed_once() {
    let mut seen = std::collections::HashSet::new();
    for (i, (code, meaning)) in CODES.iter().enumerate() {
        assert_eq!(*code, format!("M{:03}", i + 1));
        assert!(!meaning.is_empty() && seen.insert(code));
    }
    // Every code used in the sources is in the table.
    for source in [
        include_str!("validate.rs"),
        include_str!("syntax.rs"),
        include_str!("mod.rs"),
    ] {
        for (i, _) in source.match_indices("\"M0") {
            let code = &source[i + 1..i + 5];
            assert!(
                CODES.iter().any(|(c, _)| *c == code),
                "{code} missing from CODES"
            );
        }
    }
}

fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => root
            .pointer(r.trim_start_matches('#'))
            .expect("dangling $ref"),
        None => schema,
    }
}

/// A tiny JSON Schema check: types, required, additionalProperties, enums, ranges.
fn conforms(root: &Value, schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    let schema = resolve(root, schema);
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            conforms(root, s, value, path)?;
        }
    }
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        if !any.iter().any(|s| conforms(root, s, value, path).is_ok()) {
            return Err(format!("{path}: matches no anyOf"));
        }
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
        if one
            .iter()
            .filter(|s| conforms(root, s, value, path).is_ok())
            .count()
            != 1
        {
            return Err(format!("{path}: matches not exactly one oneOf"));
        }
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        if !types
            .iter()
            .any(|t| *t == actual || (*t == "number" && actual == "integer"))
        {
            return Err(format!("{path}: {actual} is not {types:?}"));
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        if !e.contains(value) {
            return Err(format!("{path}: {value} not in {e:?}"));
        }
    }
    if let (Some(min), Some(n)) = (
        schema.get("minimum").and_then(Value::as_f64),
        value.as_f64(),
    ) {
        if n < min {
            return Err(format!("{path}: {n} < {min}"));
        }
    }
    if let (Some(max), Some(n)) = (
        schema.get("maximum").and_then(Value::as_f64),
        value.as_f64(),
    ) {
        if n > max {
            return Err(format!("{path}: {n} > {max}"));
        }
    }
    if let Value::Object(object) = value {
        let properties = schema.get("properties").and_then(Value::as_object);
        for required in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !object.contains_key(required.as_str().unwrap_or_default()) {
                return Err(format!("{path}: missing {required}"));
            }
        }
        for (k, v) in object {
            match properties.and_then(|p| p.get(k)) {
                Some(s) => conforms(root, s, v, &format!("{path}.{k}"))?,
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => return Err(format!("{path}: unexpected {k}")),
                    Some(s @ Value::Object(_)) => conforms(root, s, v, &format!("{path}.{k}"))?,
                    _ => {}
                },
            }
        }
    }
    Ok(())
}

#[test]
fn schema_describes_every_field() {
    let schema = json_schema();
    assert_eq!(schema["title"], "flowctl.yaml");
    for (definition, keys) in validate::KEY_TABLES {
        let properties = if *definition == "Manifest" {
            &schema["properties"]
        } else {
            &schema["definitions"][definition]["properties"]
        };
        let properties = properties
            .as_object()
            .unwrap_or_else(|| panic!("no properties for {definition}"));
        let names: Vec<&str> = properties.keys().map(String::as_str).collect();
        assert_eq!(
            &names, keys,
            "{definition}: schema and loader disagree on keys"
        );
        for (name, property) in properties {
            assert!(
                property["title"].is_string(),
                "{definition}.{name} has no title"
            );
            assert!(
                property["description"].is_string(),
                "{definition}.{name} has no description"
            );
        }
    }
    assert_eq!(
        schema["definitions"]["Function"]["properties"]["memory"]["minimum"].as_f64(),
        Some(128.0)
    );
    assert_eq!(
        schema["definitions"]["Function"]["properties"]["memory"]["default"],
        128
    );
    assert_eq!(
        schema["properties"]["functions"]["propertyNames"]["pattern"],
        r"^([A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*$"
    );
    assert_eq!(schema["required"], serde_json::json!(["project"]));

    let example: Value = serde_yaml::from_str(EXAMPLE).unwrap();
    conforms(&schema, &schema, &example, "$").unwrap();
    let bad: Value =
        serde_yaml::from_str("project: p\nfunctions:\n  A: { package: f, memroy: 1 }\n").unwrap();
    assert!(conforms(&schema, &schema, &bad, "$").is_err());
    let bad: Value = serde_yaml::from_str("project: p\ndeploy: { architecture: arm }\n").unwrap();
    assert!(conforms(&schema, &schema, &bad, "$").is_err());
}

#[test]
fn never_panics_on_odd_input() {
    for text in [
        "",
        "~",
        "null",
        "[]",
        "{}",
        "project:",
        "project: ~\nfunctions: ~",
        "? [a]\n: b",
        "1: 2",
        "project: p\nfunctions:\n  1: {package: f}",
        "project: p\nfunctions:\n  ? [x]\n  : {package: f}",
        "project: !Tag p",
        "project: &a p\nnamespace: *a",
        "\u{feff}project: p",
        "project: p\r\nfunctions:\r\n  A: { package: f }\r\n",
        "project: \"\\u00e9\"",
        "project: é\nfunctions:\n  é: {package: é}",
        "project: p\nfunctions:\n  A: {package: f, env: [1]}",
        "project: p\nfunctions:\n  A: {package: f, env: {X1: [1]}}",
        "project: p\nflows:\n  F: []\n",
        "project: p\nflows:\n  F: {source: [a]}\n",
        "project: p\ndeploy: 3\n",
        "project: p\nfunctions:\n  A: {package: f, memory: 99999999999999999999999999}",
        "project: p\nfunctions:\n  A: {package: f, memory: .nan}",
        "project: p\nfunctions:\n  A: {package: f, memory: 1e400}",
        "project: p\nfunctions:\n  A: {package: f, timeout: 9999999999}",
    ] {
        let (m, d) = parse(text);
        for d in &d {
            assert!(
                d.span.end as usize <= text.len() && d.span.start <= d.span.end,
                "{text:?}: {d:?}"
            );
            assert!(
                text.is_char_boundary(d.span.start as usize)
                    && text.is_char_boundary(d.span.end as usize)
            );
        }
        if let Some(m) = m {
            let _ = check_files(&m, text, |_| false);
        }
    }
}

#[test]
fn a_colocation_unit_is_measured_as_deployed() {
    // Each environment fits alone, and the two together fit too, but not with the unit's
    // own FLOWCTL_FUNCTIONS list, which flowctl adds to every unit.
    let big = |c: char| c.to_string().repeat(2030);
    let text = format!(
        "project: p\nfunctions:\n  A: {{ package: f, colocate: core, env: {{ X1: {} }} }}\n  B: {{ package: f, colocate: core, env: {{ X2: {} }} }}\n",
        big('a'),
        big('b')
    );
    let d = only(&text);
    assert_eq!(d.code, "M019");
    assert!(d.title.contains("`core`"), "{}", d.title);
    assert!(d.text.contains("bytes"), "{}", d.text);
    assert_eq!(spanned(&text, &d), "core");
}
