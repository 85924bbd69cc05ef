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
            package: Some("booking-functions".into()),
            runtime: None,
            handler: None,
            source: None,
            memory: 256,
            timeout: 10,
            idempotent: Some(true),
            colocate: Some("reservations".into()),
            isolate: false,
            env: [("TABLE".to_string(), "bookings".to_string())]
                .into_iter()
                .collect(),
            retry_safe: Vec::new(),
            reads: Vec::new(),
            writes: Vec::new(),
            consistent_reads: Vec::new(),
            input: None,
            output: None,
        }
    );
    let pay = &m.functions["ProcessPayment"];
    assert_eq!(
        (pay.memory, pay.timeout, pay.idempotent, pay.isolate),
        (128, 3, Some(false), false)
    );
    assert!(reserve.is_idempotent() && !pay.is_idempotent());
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
        hint.contains("`package`, `runtime`, `handler`, `source`, `memory`, `timeout`, `idempotent`, `colocate`, `isolate`, `env`"),
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
    assert_eq!(m.functions["A"].package(), Some("g"));
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
    // In order, each once; a number may be left out (kept for work in progress elsewhere).
    let mut last = 0;
    for (code, meaning) in CODES {
        let n: u32 = code
            .strip_prefix('M')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{code} is not M and a number"));
        assert!(code.len() == 4 && n > last, "{code} after M{last:03}");
        assert!(!meaning.is_empty(), "{code} has no meaning");
        last = n;
    }
    // Every code used in the sources is in the table.
    for source in [
        include_str!("validate.rs"),
        include_str!("validate/events.rs"),
        include_str!("validate/typed.rs"),
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
        "project: p\nsources:\n  a: {webhook: , poll: }\nsubscriptions:\n  s: {source: 'ko:', flow: }",
        "project: p\nsources:\n  a: {schedule: {expression: 'cron(0 0 L-1 * ? *)', payload: {? [x] : 1}}}",
        "project: p\nsubscriptions:\n  s: {source: [ko:s, ko:s, ko:t], function: F, ko: {flow: , function: }}\n  t: {source: ko:s, flow: G, retry: {max: -1, interval: x, backoff: .nan}}",
        "project: p\nsources:\n  é: {amqp: {url: 'amqp://é', queue: [q], prefetch: 99999999999999999999}}",
        "project: p\nsources:\n  a: {nats: {url_env: , stream: 1, subject: true}, key: '$[99999999999999999999999]'}",
        "project: p\ntypes:\n  A: {type: [], properties: [x], items: [1, {type: 3}], oneOf: {}, required: [[a]], $ref: 1}\n  é: ''",
        "project: p\ntypes:\n  A: {properties: {x: {properties: {y: {type: {z: 1}}}}}, allOf: [[]], enum: 1e400}",
        "project: p\nstores:\n  s: ~\n  t: {consistency: [strong]}\nfunctions:\n  F: {package: f, reads: [s, s, ~], writes: {s: 1}, consistent_reads: [t, u], retry_safe: [States., '']}",
        "project: p\nfunctions:\n  F: {package: f, input: , output: {? [x] : y}, idempotent: ~}",
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

/// Every kind of source, and subscriptions using every option.
const EVENTS: &str = "\
project: booking
functions:
  ListRoomChanges: { package: f }
  RecordBookingKo: { package: f }
  Notify: { package: f }
flows:
  Booking: { source: flows/booking.flow }
sources:
  booking-requests:
    webhook: { path: /bookings, secret_env: BOOKING_WEBHOOK_SECRET, signature_header: stripe-signature }
    type: booking.requested
    id: header:Idempotency-Key
    key: $.booking.id
  payments:
    amqp: { url: \"amqp://guest:guest@127.0.0.1:5672/%2f\", queue: payments, prefetch: 100 }
    type: $.type
    key: $.booking_id
  room-changes:
    poll: { function: ListRoomChanges, every: 5 }
    id: $.change_id
    key: $.room
  outbox:
    postgres: { url_env: DATABASE_URL, table: app.booking_outbox, cursor_column: seq, every: 2 }
    key: $.booking_id
  nightly:
    schedule: { expression: \"cron(0 3 * * ? *)\", payload: { report: daily, days: [1, 2] } }
  orders:
    nats: { url: nats://127.0.0.1:4222, stream: ORDERS, subject: orders.> }
  github:
    webhook: {}
subscriptions:
  book:
    source: booking-requests
    types: [booking.requested]
    flow: Booking
    retry: { max: 3, interval: 1, backoff: 2.0 }
    ko: { function: RecordBookingKo, then: park }
    concurrency: 64
    state: true
  everything:
    source: [payments, room-changes, outbox, nightly, orders, github]
    key: $.id
    function: Notify
    ko: { then: skip }
  kos:
    source: ko:book
    function: Notify
";

#[test]
fn sources_and_subscriptions_parse() {
    let (m, d) = parse(EVENTS);
    assert_eq!(d, []);
    let m = m.unwrap();
    assert_eq!(
        m.sources.keys().collect::<Vec<_>>(),
        [
            "booking-requests",
            "payments",
            "room-changes",
            "outbox",
            "nightly",
            "orders",
            "github"
        ]
    );
    let kinds: Vec<&str> = m.sources.values().map(|s| s.kind.name()).collect();
    assert_eq!(
        kinds,
        ["webhook", "amqp", "poll", "postgres", "schedule", "nats", "webhook"]
    );
    let requests = &m.sources["booking-requests"];
    assert_eq!(requests.id.as_deref(), Some("header:Idempotency-Key"));
    assert_eq!(requests.event_type.as_deref(), Some("booking.requested"));
    let events::SourceKind::Schedule(nightly) = &m.sources["nightly"].kind else {
        panic!()
    };
    assert_eq!(
        nightly.payload,
        Some(serde_json::json!({"report": "daily", "days": [1, 2]}))
    );
    let book = &m.subscriptions["book"];
    assert_eq!(book.target, events::Target::Flow("Booking".into()));
    assert_eq!(book.on_ko(), events::KoAction::Park);
    assert_eq!(book.concurrency(), 64);
    assert_eq!(
        book.retry,
        Some(events::Retry {
            max: 3,
            interval: 1.0,
            backoff: 2.0
        })
    );
    assert!(book.state);
    let everything = &m.subscriptions["everything"];
    assert_eq!(everything.sources().len(), 6);
    assert_eq!(everything.ko.as_ref().unwrap().handler, None);
    assert_eq!(everything.concurrency(), events::DEFAULT_CONCURRENCY);
    assert_eq!(m.subscriptions["kos"].sources(), ["ko:book"]);
    // The serde derive (used by `flowctl_events` and the schema) agrees with the loader.
    let via_serde: Manifest = serde_yaml::from_str(EVENTS).unwrap();
    assert_eq!(via_serde, m);
    // So does the schema.
    let schema = json_schema();
    let value: Value = serde_yaml::from_str(EVENTS).unwrap();
    conforms(&schema, &schema, &value, "$").unwrap();
}

/// `EVENTS` with `from` replaced by `to` (once, exactly).
fn events_with(from: &str, to: &str) -> String {
    assert_eq!(EVENTS.matches(from).count(), 1, "{from}");
    EVENTS.replace(from, to)
}

/// Code, line and column of each diagnostic, and the manifest's shape kept or not.
fn event_codes(text: &str) -> (Vec<(&'static str, usize, usize)>, bool) {
    let (m, _) = parse(text);
    (codes(text), m.is_some())
}

#[test]
fn source_kinds_none_or_two() {
    let text = events_with(
        "    webhook: {}\nsubscriptions:",
        "    type: x\nsubscriptions:",
    );
    let d = only(&text);
    assert_eq!(
        (d.code, d.title.as_str()),
        ("M020", "source `github` has no kind")
    );
    assert_eq!(spanned(&text, &d), "github");
    assert!(d.hint.unwrap().contains("webhook: { path: /github }"));
    let text = events_with("    nats: {", "    poll: { function: Notify }\n    nats: {");
    let d = only(&text);
    assert_eq!(
        (d.code, d.title.as_str()),
        ("M020", "source `orders` has two kinds")
    );
    assert_eq!(spanned(&text, &d), "nats");
    assert_eq!(
        spanned(
            &text,
            &Diagnostic {
                span: d.labels[0].span,
                ..d.clone()
            }
        ),
        "poll"
    );
    assert!(
        parse(&text).0.is_none(),
        "a source of two kinds cannot be built"
    );
}

#[test]
fn event_names() {
    let text = events_with("  outbox:\n", "  out box!:\n")
        .replace("outbox, nightly", "'out box!', nightly");
    let d = only(&text);
    assert_eq!((d.code, spanned(&text, &d)), ("M021", "out box!"));
    assert!(d.hint.unwrap().contains("`out-box-`"));
    let long = "s".repeat(65);
    let text = events_with("  kos:\n", &format!("  {long}:\n"));
    let (got, shaped) = event_codes(&text);
    assert_eq!((got, shaped), (vec![("M021", 45, 3)], true));
    assert!(only(&text).text.contains("65 characters"));
    assert_eq!(
        codes(&events_with(
            "  kos:\n",
            &format!("  {}:\n", "s".repeat(64))
        )),
        []
    );
}

#[test]
fn locators() {
    for (from, to, says) in [
        (
            "key: $.booking.id",
            "key: $.booking..id",
            "is not a field name",
        ),
        (
            "key: $.booking_id\n  room",
            "key: header:X-Key\n  room",
            "only a webhook",
        ),
        ("id: $.change_id", "id: change_id", "same id"),
        ("key: $.room", "key: room", "one key"),
        (
            "id: header:Idempotency-Key",
            "id: 'header:'",
            "not a header name",
        ),
        ("type: $.type", "type: '$[x]'", "is not an index"),
        ("type: booking.requested", "type: ''", "empty"),
        ("    key: $.id\n", "    key: header:X-Id\n", "payload"),
        ("    key: $.id\n", "    key: id\n", "one key"),
        ("    key: $.id\n", "    key: $.a[\n", "not closed"),
    ] {
        let text = events_with(from, to);
        let d = only(&text);
        assert_eq!(d.code, "M022", "{to}");
        assert!(d.text.contains(says), "{to}: {}", d.text);
        assert!(d.hint.is_some());
        assert_eq!(
            spanned(&text, &d),
            to.split_once(": ").unwrap().1.split('\n').next().unwrap()
        );
    }
    // Literals are fine for `type`, headers for a webhook's `key`; a poll needs an `id`.
    assert_eq!(
        codes(&events_with("key: $.booking.id", "key: header:X-Booking")),
        []
    );
    let text = events_with("    id: $.change_id\n", "");
    let d = only(&text);
    assert_eq!((d.code, spanned(&text, &d)), ("M003", "room-changes"));
    assert!(parse(&text).0.is_some());
}

#[test]
fn schedules() {
    let text = events_with("cron(0 3 * * ? *)", "cron(0 3 * * * *)");
    let d = only(&text);
    assert_eq!(
        (d.code, spanned(&text, &d)),
        ("M023", "\"cron(0 3 * * * *)\"")
    );
    assert!(d.text.contains("must be `?`"), "{}", d.text);
    let text = events_with("cron(0 3 * * ? *)", "rate(1 hours)");
    assert!(only(&text).text.contains("rate(1 hour)"));
    let text = events_with("expression: \"cron(0 3 * * ? *)\", ", "");
    let d = only(&text);
    assert_eq!(d.code, "M003");
    assert!(parse(&text).0.is_none());
    let text = events_with("report: daily", "report: .nan");
    assert_eq!(only(&text).code, "M004");
}

#[test]
fn webhooks() {
    let text = events_with("path: /bookings", "path: bookings");
    let d = only(&text);
    assert_eq!((d.code, spanned(&text, &d)), ("M024", "bookings"));
    assert_eq!(d.hint.as_deref(), Some("write `path: /bookings`"));
    let text = events_with("path: /bookings", "path: /_flowctl/health");
    assert!(only(&text).text.contains("flowctl dev"));
    let text = events_with("path: /bookings", "path: '/a b?c'");
    assert_eq!(only(&text).code, "M024");
    // Two webhooks on one path, one of them the default `/events/<source>`.
    let text = events_with("path: /bookings", "path: /events/github");
    let d = only(&text);
    assert_eq!((d.code, spanned(&text, &d)), ("M024", "webhook"));
    assert_eq!(&text[d.labels[0].span.range()], "/events/github");
    assert!(
        d.title.contains("`booking-requests` and `github`"),
        "{}",
        d.title
    );
    let text = events_with(
        "    webhook: {}\nsub",
        "    webhook: { path: /bookings }\nsub",
    );
    assert_eq!(codes(&text), [("M024", 30, 22)]);
    // Environment variable names, signature headers.
    let text = events_with(
        "secret_env: BOOKING_WEBHOOK_SECRET",
        "secret_env: booking-secret",
    );
    let d = only(&text);
    assert_eq!((d.code, spanned(&text, &d)), ("M025", "booking-secret"));
    assert!(d.hint.unwrap().contains("BOOKING_SECRET"));
    let text = events_with(
        "signature_header: stripe-signature",
        "signature_header: X-Signature",
    );
    let d = only(&text);
    assert_eq!((d.code, spanned(&text, &d)), ("M026", "X-Signature"));
    let text = events_with("path: /bookings", "pth: /bookings");
    let d = only(&text);
    assert_eq!(d.code, "M002");
    assert!(d.hint.unwrap().starts_with("did you mean `path`?"));
}

#[test]
fn connections() {
    let text = events_with("url_env: DATABASE_URL, ", "");
    let d = only(&text);
    assert_eq!((d.code, spanned(&text, &d)), ("M027", "postgres"));
    assert!(d.title.contains("no `url` or `url_env`"));
    assert!(parse(&text).0.is_some());
    let text = events_with(
        "url_env: DATABASE_URL",
        "url_env: DATABASE_URL, url: postgres://db",
    );
    let d = only(&text);
    assert_eq!((d.code, spanned(&text, &d)), ("M027", "url"));
    let text = events_with("amqp://guest", "http://guest");
    let d = only(&text);
    assert_eq!(d.code, "M028");
    assert!(d.text.contains("`amqp://` or `amqps://`"));
    let text = events_with("url: nats://", "url: tls://");
    assert_eq!(only(&text).code, "M028");
    let text = events_with("url_env: DATABASE_URL", "url: mysql://db");
    assert_eq!(only(&text).code, "M028");
    assert_eq!(
        codes(&events_with(
            "url_env: DATABASE_URL",
            "url: PostgreSQL://db"
        )),
        []
    );
    let text = events_with("url_env: DATABASE_URL", "url_env: 1DB");
    assert_eq!(only(&text).code, "M025");
    // Tables and columns.
    let text = events_with("table: app.booking_outbox", "table: \"booking outbox\"");
    let d = only(&text);
    assert_eq!((d.code, spanned(&text, &d)), ("M029", "\"booking outbox\""));
    let text = events_with("table: app.booking_outbox", "table: a.b.c");
    assert_eq!(only(&text).code, "M029");
    let text = events_with("cursor_column: seq", "cursor_column: app.seq");
    assert_eq!(only(&text).code, "M029");
    let text = events_with("queue: payments, ", "");
    let d = only(&text);
    assert_eq!(
        (d.code, d.title.as_str()),
        ("M003", "the `amqp` of source `payments` has no `queue`")
    );
}

#[test]
fn polls_and_ranges() {
    let text = events_with("function: ListRoomChanges", "function: ListRoomChange");
    let d = only(&text);
    assert_eq!((d.code, spanned(&text, &d)), ("M030", "ListRoomChange"));
    assert_eq!(d.hint.as_deref(), Some("did you mean `ListRoomChanges`?"));
    assert!(parse(&text).0.is_some());
    for (from, to, code) in [
        ("every: 5 }", "every: 0 }", "M031"),
        ("every: 2 }", "every: 86401 }", "M031"),
        ("prefetch: 100", "prefetch: 0", "M031"),
        ("concurrency: 64", "concurrency: 0", "M036"),
        ("concurrency: 64", "concurrency: 10001", "M036"),
        ("max: 3", "max: 101", "M037"),
        ("interval: 1", "interval: -1", "M037"),
        ("interval: 1", "interval: .inf", "M037"),
        ("backoff: 2.0", "backoff: 0.5", "M037"),
    ] {
        let text = events_with(from, to);
        let d = only(&text);
        assert_eq!(d.code, code, "{to}");
        assert!(d.hint.is_some());
        assert!(
            parse(&text).0.is_some(),
            "{to}: a value out of range keeps the shape"
        );
    }
    let text = events_with("every: 5 }", "every: 5s }");
    let d = only(&text);
    assert_eq!(d.code, "M004");
    assert_eq!(
        d.hint.as_deref(),
        Some("write the number of seconds alone: `every: 5`")
    );
    let text = events_with("prefetch: 100", "prefetch: 70000");
    assert_eq!(parse(&text).0, None);
    let text = events_with("max: 3, ", "");
    assert_eq!(only(&text).code, "M003");
}

#[test]
fn subscription_sources() {
    let text = events_with("source: booking-requests", "source: booking-request");
    let d = only(&text);
    assert_eq!((d.code, spanned(&text, &d)), ("M032", "booking-request"));
    assert_eq!(d.hint.as_deref(), Some("did you mean `booking-requests`?"));
    let text = events_with("[payments, room-changes", "[payments, book, room-changes");
    let d = only(&text);
    assert_eq!((d.code, spanned(&text, &d)), ("M032", "book"));
    assert!(d.hint.unwrap().contains("`source: ko:book`"));
    let text = events_with("source: ko:book", "source: ko:bok");
    let d = only(&text);
    assert_eq!(
        (d.code, d.hint.as_deref()),
        ("M032", Some("did you mean `ko:book`?"))
    );
    let text = events_with(
        "[payments, room-changes",
        "[payments, payments, room-changes",
    );
    assert_eq!(codes(&text), [("M032", 41, 24)]);
    let text = events_with(
        "[payments, room-changes, outbox, nightly, orders, github]",
        "[]",
    );
    assert_eq!(only(&text).code, "M032");
    // KO chains.
    let text = events_with("source: ko:book", "source: ko:kos");
    let d = only(&text);
    assert_eq!(
        (d.code, d.title.as_str()),
        ("M033", "subscription `kos` takes its own KO events")
    );
    let text = events_with(
        "source: booking-requests",
        "source: [booking-requests, ko:kos]",
    );
    let d = only(&text);
    assert_eq!(d.code, "M033");
    assert_eq!(
        d.title,
        "subscriptions `book`, `kos` take each other's KO events in a cycle"
    );
    assert!(d.text.starts_with("book → kos → book"), "{}", d.text);
    assert_eq!(spanned(&text, &d), "ko:kos");
    assert_eq!(&text[d.labels[0].span.range()], "ko:book");
    // A longer cycle is reported once.
    let text = events_with("source: booking-requests", "source: [booking-requests, ko:b]")
        + "  a: { source: ko:kos, function: Notify }\n  b: { source: [ko:a, orders], function: Notify }\n";
    let d = only(&text);
    assert!(
        d.text.starts_with("book → kos → a → b → book"),
        "{}",
        d.text
    );
    assert!(parse(&text).0.is_some());
    let text = events_with("    source: booking-requests\n", "");
    let d = only(&text);
    assert_eq!((d.code, spanned(&text, &d)), ("M003", "book"));
}

#[test]
fn subscription_targets() {
    let text = events_with(
        "    function: Notify\n    ko: { then: skip }",
        "    ko: { then: skip }",
    );
    let d = only(&text);
    assert_eq!((d.code, spanned(&text, &d)), ("M034", "everything"));
    assert!(parse(&text).0.is_none());
    let text = events_with(
        "    flow: Booking\n",
        "    flow: Booking\n    function: Notify\n",
    );
    let d = only(&text);
    assert_eq!((d.code, spanned(&text, &d)), ("M034", "function"));
    let text = events_with(
        "{ function: RecordBookingKo, then: park }",
        "{ function: RecordBookingKo, flow: Booking }",
    );
    assert_eq!(only(&text).code, "M034");
    let text = events_with("    flow: Booking\n", "    flow: Bookng\n");
    let d = only(&text);
    assert_eq!((d.code, spanned(&text, &d)), ("M035", "Bookng"));
    assert_eq!(d.hint.as_deref(), Some("did you mean `Booking`?"));
    assert!(parse(&text).0.is_some());
    let text = events_with("    flow: Booking\n", "    flow: Notify\n");
    let d = only(&text);
    assert_eq!(
        d.hint.as_deref(),
        Some("`Notify` is a function: write `function: Notify`")
    );
    let text = events_with("function: RecordBookingKo", "function: RecordKo");
    let d = only(&text);
    assert_eq!((d.code, spanned(&text, &d)), ("M035", "RecordKo"));
    assert!(d.title.contains("KO handler"));
    let text = events_with("then: park", "then: hold");
    let d = only(&text);
    assert_eq!(d.code, "M010");
    assert!(d.hint.unwrap().starts_with("did you mean `park`?"));
    let text = events_with("ko: { then: skip }", "ko: park");
    assert_eq!(
        only(&text).hint.as_deref(),
        Some("write `ko: { then: park }`")
    );
}

#[test]
fn subscription_types_and_keys() {
    let text = events_with(
        "types: [booking.requested]",
        "types: [booking.requested, '', booking.requested]",
    );
    let (_, d) = parse(&text);
    assert_eq!(
        d.iter().map(|d| d.code).collect::<Vec<_>>(),
        ["M038", "M038"]
    );
    assert_eq!(spanned(&text, &d[0]), "''");
    assert!(d[1].title.contains("listed twice"));
    assert_eq!(line_col(&text, d[1].span.start as usize), (34, 36));
    let text = events_with("types: [booking.requested]", "types: booking.requested");
    let d = only(&text);
    assert_eq!(
        (d.code, d.hint.as_deref()),
        ("M004", Some("write `types: [booking.requested]`"))
    );
    // Misplaced and misspelt keys.
    let text = events_with("    state: true\n", "    stat: true\n    path: /x\n");
    let (_, d) = parse(&text);
    assert_eq!(
        d.iter().map(|d| d.code).collect::<Vec<_>>(),
        ["M002", "M002"]
    );
    assert!(d[0]
        .hint
        .as_deref()
        .unwrap()
        .starts_with("did you mean `state`?"));
    let text = events_with(
        "    id: $.change_id\n",
        "    id: $.change_id\n    source: x\n",
    );
    let d = only(&text);
    assert!(d
        .hint
        .unwrap()
        .contains("is a key of a function (under `functions: <Name>:`) or a flow (under `flows: <Name>:`) or a subscription"));
    let text = events_with("  kos:\n", "  kos:\n").replace(
        "sources:\n  booking",
        "sources:\n  booking-requests: { webhook: }\n  booking",
    );
    assert_eq!(codes(&text), [("M005", 10, 3)]);
}

#[test]
fn sources_of_the_wrong_shape() {
    for (text, code) in [
        ("project: p\nsources: [a]\n", "M004"),
        ("project: p\nsubscriptions: 3\n", "M004"),
        ("project: p\nsources:\n  a: webhook\n", "M004"),
        ("project: p\nsources:\n  a: { webhook: /x }\n", "M004"),
        (
            "project: p\nsources:\n  a: { schedule: { expression: [x] } }\n",
            "M004",
        ),
        (
            "project: p\nsubscriptions:\n  a: { source: [[x]], function: F }\n",
            "M004",
        ),
        (
            "project: p\nsubscriptions:\n  a: { source: x, function: [F] }\n",
            "M004",
        ),
        (
            "project: p\nsubscriptions:\n  a: { source: x, function: F, retry: 3 }\n",
            "M004",
        ),
        (
            "project: p\nsubscriptions:\n  a: { source: x, function: F, state: yes }\n",
            "M004",
        ),
    ] {
        let (m, d) = parse(text);
        assert_eq!(d.first().map(|d| d.code), Some(code), "{text}: {d:#?}");
        assert!(m.is_none(), "{text}");
    }
    // Null sections are empty; a subscription is checked even when `sources:` is not a mapping.
    let (m, d) = parse("project: p\nsources:\n  a: { webhook: }\nsubscriptions:\n");
    assert_eq!(d, []);
    assert_eq!(
        m.unwrap().sources["a"].kind,
        events::SourceKind::Webhook(Default::default())
    );
    let text = "project: p\nsources: [a]\nsubscriptions:\n  s: { source: a, function: F }\n";
    assert_eq!(codes(text), [("M004", 2, 10), ("M035", 4, 29)]);
}

/// Named types, stores, and every new function key.
const TYPED: &str = "\
project: booking
types:
  BookingRequest: schemas/booking-request.json
  Room:
    type: object
    required: [number]
    properties:
      number: { type: integer, minimum: 1 }
      view: { type: [string, 'null'], enum: [sea, garden, null] }
      tags: { type: array, items: { type: string } }
    additionalProperties: false
stores:
  bookings: { consistency: eventual }
  ledger:
    consistency: strong
functions:
  ReserveAvailability:
    package: booking-functions
    idempotent: true
    reads: [bookings]
    writes: [bookings]
    consistent_reads: [bookings]
  ProcessPayment:
    package: booking-functions
    idempotent: false
    retry_safe: [PaymentGatewayUnavailable, States.Timeout]
    writes: [ledger]
  QuoteRate:
    package: quotes-python
    input: schemas/quote-input.json
    output: { type: object, properties: { rate: { type: number } } }
";

/// `TYPED` with `from` replaced by `to` (once, exactly).
fn typed_with(from: &str, to: &str) -> String {
    assert_eq!(TYPED.matches(from).count(), 1, "{from}");
    TYPED.replace(from, to)
}

#[test]
fn types_stores_and_function_properties_parse() {
    let (m, d) = parse(TYPED);
    assert_eq!(d, []);
    let m = m.unwrap();
    assert_eq!(
        m.types["BookingRequest"],
        SchemaSource::File("schemas/booking-request.json".into())
    );
    let room = m.types["Room"].inline().unwrap();
    assert_eq!(room["properties"]["number"]["minimum"], 1);
    assert_eq!(
        room["properties"]["view"]["enum"],
        serde_json::json!(["sea", "garden", null])
    );
    assert_eq!(m.stores["bookings"].consistency, Consistency::Eventual);
    assert_eq!(m.stores["ledger"].consistency, Consistency::Strong);
    let reserve = &m.functions["ReserveAvailability"];
    assert_eq!(reserve.idempotent, Some(true));
    assert_eq!(
        (&reserve.reads, &reserve.writes, &reserve.consistent_reads),
        (
            &vec!["bookings".to_string()],
            &vec!["bookings".to_string()],
            &vec!["bookings".to_string()]
        )
    );
    let pay = &m.functions["ProcessPayment"];
    assert_eq!(
        pay.retry_safe,
        ["PaymentGatewayUnavailable", "States.Timeout"]
    );
    let quote = &m.functions["QuoteRate"];
    assert_eq!(quote.idempotent, None);
    assert!(!quote.is_idempotent());
    assert_eq!(
        quote.input,
        Some(SchemaSource::File("schemas/quote-input.json".into()))
    );
    assert_eq!(
        quote.output.as_ref().and_then(SchemaSource::inline),
        Some(&serde_json::json!({"type": "object", "properties": {"rate": {"type": "number"}}}))
    );
    assert_eq!(
        m.schema_files(),
        [
            (
                SchemaPlace::Type("BookingRequest".into()),
                PathBuf::from("schemas/booking-request.json")
            ),
            (
                SchemaPlace::Input("QuoteRate".into()),
                PathBuf::from("schemas/quote-input.json")
            ),
        ]
    );
    // The serde derive and the schema agree with the loader.
    let via_serde: Manifest = serde_yaml::from_str(TYPED).unwrap();
    assert_eq!(via_serde, m);
    let schema = json_schema();
    let value: Value = serde_yaml::from_str(TYPED).unwrap();
    conforms(&schema, &schema, &value, "$").unwrap();
    // Absent keys are not written back; `idempotent` only when declared.
    let back = serde_json::to_value(&m).unwrap();
    assert_eq!(
        back["functions"]["QuoteRate"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["package", "memory", "timeout", "input", "output"]
    );
    assert_eq!(back["functions"]["ProcessPayment"]["idempotent"], false);
    let (m, _) = parse("project: p\n");
    let back = serde_json::to_value(m.unwrap()).unwrap();
    assert!(back.get("types").is_none() && back.get("stores").is_none());
}

#[test]
fn type_and_store_names() {
    let text = typed_with("  Room:\n", "  my-room:\n");
    let d = only(&text);
    assert_eq!((d.code, spanned(&text, &d)), ("M040", "my-room"));
    assert_eq!(d.hint.as_deref(), Some("rename it, e.g. `my_room`"));
    let text = typed_with("  Room:\n", "  if:\n");
    assert!(only(&text).text.contains("keyword"));
    let text = typed_with("  ledger:\n", "  'ledger table':\n")
        .replace("writes: [ledger]", "writes: ['ledger table']");
    let d = only(&text);
    assert_eq!((d.code, spanned(&text, &d)), ("M040", "'ledger table'"));
    assert_eq!(d.hint.as_deref(), Some("rename it, e.g. `ledger-table`"));
    // Written twice.
    let text = typed_with("  ledger:\n", "  bookings:\n");
    let (_, d) = parse(&text);
    assert_eq!(d[0].code, "M005");
    assert!(d[0].title.contains("store `bookings` is defined twice"));
}

#[test]
fn stores_need_a_consistency() {
    let text = typed_with("    consistency: strong\n", "");
    let (m, d) = parse(&text);
    assert_eq!(codes(&text), [("M003", 14, 3)]);
    assert!(d[0]
        .hint
        .as_deref()
        .unwrap()
        .contains("consistency: eventual"));
    assert!(m.is_none());
    let text = typed_with("consistency: eventual", "consistency: eventually");
    let d = only(&text);
    assert_eq!(d.code, "M010");
    assert!(d.hint.unwrap().starts_with("did you mean `eventual`?"));
    let text = typed_with("consistency: eventual", "consistancy: eventual");
    let (_, d) = parse(&text);
    assert_eq!(d[0].code, "M002");
    assert!(d[0]
        .hint
        .as_deref()
        .unwrap()
        .starts_with("did you mean `consistency`?"));
    let text = "project: p\nstores: [a]\nfunctions:\n  F: { package: f, reads: [a] }\n";
    // Not a mapping: reported once, and `reads: [a]` is not called unknown for it.
    assert_eq!(codes(text), [("M004", 2, 9)]);
}

#[test]
fn schema_sources() {
    let text = typed_with("schemas/quote-input.json", "''");
    let d = only(&text);
    assert_eq!((d.code, spanned(&text, &d)), ("M041", "''"));
    assert!(d.title.contains("the input of function `QuoteRate`"));
    for (value, code) in [
        ("3", "M004"),
        ("[a.json]", "M004"),
        ("", "M004"),
        ("true", "M004"),
    ] {
        let text = typed_with(
            "input: schemas/quote-input.json",
            &format!("input: {value}"),
        );
        let (m, d) = parse(&text);
        assert_eq!(
            d.iter().map(|d| d.code).collect::<Vec<_>>(),
            [code],
            "{value}"
        );
        assert!(m.is_none());
    }
    let text = typed_with(
        "input: schemas/quote-input.json",
        "input: { properties: { ? [a] : 1 } }",
    );
    let (m, d) = parse(&text);
    assert_eq!(d.iter().map(|d| d.code).collect::<Vec<_>>(), ["M042"]);
    assert!(m.is_none());
}

#[test]
fn inline_schemas_of_the_wrong_shape() {
    let text = typed_with("{ type: integer, minimum: 1 }", "{ type: int, minimum: 1 }");
    let d = only(&text);
    assert_eq!((d.code, spanned(&text, &d)), ("M042", "int"));
    assert!(d.hint.unwrap().starts_with("did you mean `integer`?"));
    let text = typed_with("[string, 'null']", "[strng, 'null']");
    let d = only(&text);
    assert_eq!((d.code, spanned(&text, &d)), ("M042", "strng"));
    assert!(d.hint.unwrap().starts_with("did you mean `string`?"));
    let text = typed_with("required: [number]", "required: number");
    let d = only(&text);
    assert_eq!((d.code, spanned(&text, &d)), ("M042", "number"));
    let text = typed_with("items: { type: string }", "items: string");
    let d = only(&text);
    assert_eq!((d.code, spanned(&text, &d)), ("M042", "string"));
    assert!(d.title.contains("`items`"));
    let text = typed_with("enum: [sea, garden, null]", "enum: []");
    assert_eq!(only(&text).code, "M042");
    let text = typed_with("additionalProperties: false", "additionalProperties: no");
    assert_eq!(only(&text).code, "M042");
    let text = typed_with(
        "properties: { rate: { type: number } }",
        "properties: { rate: number }",
    );
    let d = only(&text);
    assert_eq!((d.code, spanned(&text, &d)), ("M042", "number"));
    assert!(d.title.contains("`properties.rate`"));
    // A value problem: the manifest is still built, with the schema as written.
    let (m, _) = parse(&text);
    assert!(m.unwrap().functions["QuoteRate"].output.is_some());
    // Keywords flowctl does not read are left alone.
    let text = typed_with(
        "{ type: integer, minimum: 1 }",
        "{ format: int32, x-anything: [1] }",
    );
    assert_eq!(parse(&text).1, []);
}

#[test]
fn retry_safe_errors() {
    let text = typed_with(
        "[PaymentGatewayUnavailable, States.Timeout]",
        "[PaymentGatewayUnavailable, '', States.Timeot, PaymentGatewayUnavailable]",
    );
    let (m, d) = parse(&text);
    assert_eq!(
        d.iter()
            .map(|d| (d.code, spanned(&text, d)))
            .collect::<Vec<_>>(),
        [
            ("M043", "''"),
            ("M043", "States.Timeot"),
            ("M043", "PaymentGatewayUnavailable")
        ]
    );
    assert_eq!(d[1].hint.as_deref(), Some("did you mean `States.Timeout`?"));
    assert!(d[2].title.contains("listed twice"));
    assert!(m.is_some());
    let text = typed_with(
        "retry_safe: [PaymentGatewayUnavailable, States.Timeout]",
        "retry_safe: PaymentGatewayUnavailable",
    );
    let d = only(&text);
    assert_eq!(
        (d.code, d.hint.as_deref()),
        (
            "M004",
            Some("write `retry_safe: [PaymentGatewayUnavailable]`")
        )
    );
    let text = typed_with(
        "retry_safe: [PaymentGatewayUnavailable, States.Timeout]",
        "retry_safe: [{ PaymentGatewayUnavailable: 1 }]",
    );
    assert_eq!(only(&text).code, "M004");
    // Misspelt.
    let text = typed_with("retry_safe:", "retry_save:");
    let d = only(&text);
    assert_eq!(d.code, "M002");
    assert!(d.hint.unwrap().starts_with("did you mean `retry_safe`?"));
}

#[test]
fn stores_read_and_written() {
    let text = typed_with("writes: [ledger]", "writes: [ledgr]");
    let d = only(&text);
    assert_eq!((d.code, spanned(&text, &d)), ("M044", "ledgr"));
    assert_eq!(
        d.title,
        "function `ProcessPayment` writes `ledgr`, which is not a store of the manifest"
    );
    assert!(d
        .hint
        .unwrap()
        .starts_with("did you mean `ledger`? Otherwise declare it under `stores:`"));
    let text = typed_with("    reads: [bookings]\n", "    reads: [bookings, rooms]\n");
    let d = only(&text);
    assert_eq!(d.code, "M044");
    assert_eq!(
        d.hint.as_deref(),
        Some("declare it under `stores:` with the consistency of its reads, e.g. `stores: { rooms: { consistency: eventual } }`")
    );
    // No `stores:` at all: every name is unknown.
    let text = "project: p\nfunctions:\n  F: { package: f, reads: [a], consistent_reads: [a] }\n";
    assert_eq!(codes(text), [("M044", 3, 28), ("M044", 3, 51)]);
    // Twice in one list; read consistently without being read.
    let text = typed_with("writes: [bookings]", "writes: [bookings, bookings]");
    let d = only(&text);
    assert_eq!(
        (d.code, line_col(&text, d.span.start as usize)),
        ("M045", (21, 24))
    );
    let text = typed_with("    reads: [bookings]\n", "");
    let d = only(&text);
    assert_eq!((d.code, spanned(&text, &d)), ("M045", "bookings"));
    assert_eq!(
        d.title,
        "function `ReserveAvailability` reads `bookings` consistently but does not list it in `reads`"
    );
    let text = typed_with("    reads: [bookings]", "    reads: bookings");
    let d = only(&text);
    assert_eq!(
        (d.code, d.hint.as_deref()),
        ("M004", Some("write `reads: [bookings]`"))
    );
    // Misplaced.
    let text = typed_with(
        "  ledger:\n    consistency: strong\n",
        "  ledger:\n    consistency: strong\n    reads: [x]\n",
    );
    let (_, d) = parse(&text);
    assert_eq!(d[0].code, "M002");
    assert!(d[0]
        .hint
        .as_deref()
        .unwrap()
        .contains("is a key of a function"));
}

#[test]
fn schema_files_are_checked() {
    let (m, d) = parse(TYPED);
    assert_eq!(d, []);
    let m = m.unwrap();
    let seen = std::cell::RefCell::new(Vec::new());
    let d = check_files(&m, TYPED, |p| {
        seen.borrow_mut().push(p.to_path_buf());
        p == Path::new("schemas/quote-input.json")
    });
    assert_eq!(
        seen.into_inner(),
        [
            PathBuf::from("schemas/booking-request.json"),
            PathBuf::from("schemas/quote-input.json")
        ]
    );
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].code, "M041");
    assert_eq!(
        d[0].title,
        "the JSON Schema file of type `BookingRequest` does not exist"
    );
    assert_eq!(spanned(TYPED, &d[0]), "schemas/booking-request.json");
    let d = check_files(&m, TYPED, |p| {
        p == Path::new("schemas/booking-request.json")
    });
    assert_eq!(spanned(TYPED, &d[0]), "schemas/quote-input.json");
    assert!(d[0].title.contains("the input of function `QuoteRate`"));
}

#[test]
fn amazon_mq_broker_and_secret() {
    const BROKER: &str =
        "arn:aws:mq:eu-west-1:123456789012:broker:orders:b-1234a5b6-78cd-901e-2fgh-3i45j6k178l9";
    const SECRET: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mq-AbCdEf";
    let both = events_with(
        "prefetch: 100 }",
        &format!("prefetch: 100, broker_arn: \"{BROKER}\", secret_arn: \"{SECRET}\" }}"),
    );
    let (m, d) = parse(&both);
    assert_eq!(d, []);
    let events::SourceKind::Amqp(amqp) = &m.unwrap().sources["payments"].kind else {
        panic!()
    };
    assert_eq!(
        (amqp.broker_arn.as_deref(), amqp.secret_arn.as_deref()),
        (Some(BROKER), Some(SECRET))
    );
    // The serde derive and the schema agree with the loader.
    let via_serde: Manifest = serde_yaml::from_str(&both).unwrap();
    assert_eq!(via_serde.sources["payments"], m_payments(&both));
    let schema = json_schema();
    let value: Value = serde_yaml::from_str(&both).unwrap();
    conforms(&schema, &schema, &value, "$").unwrap();

    // One without the other: at the key written, naming the missing one.
    let lone = events_with(
        "prefetch: 100 }",
        &format!("prefetch: 100, broker_arn: \"{BROKER}\" }}"),
    );
    let d = only(&lone);
    assert_eq!((d.code, spanned(&lone, &d)), ("M050", "broker_arn"));
    assert!(d
        .hint
        .as_deref()
        .unwrap()
        .contains("add `secret_arn: arn:aws:secretsmanager:"));
    assert!(parse(&lone).0.is_some());
    let lone = events_with(
        "prefetch: 100 }",
        &format!("prefetch: 100, secret_arn: \"{SECRET}\" }}"),
    );
    assert_eq!(only(&lone).code, "M050");

    // Malformed: at the value, with why.
    for (broker, why) in [
        ("orders", "six `:`-separated parts"),
        (
            "arn:aws:sqs:eu-west-1:123456789012:broker:o:b-1",
            "not of `mq`",
        ),
        ("arn:aws:mq:Ireland:123456789012:broker:o:b-1", "its region"),
        ("arn:aws:mq:eu-west-1:1234:broker:o:b-1", "not 12 digits"),
        (
            "arn:aws:mq:eu-west-1:123456789012:broker:o",
            "broker:<name>:<id>",
        ),
        (
            "arn:aws:mq:eu-west-1:123456789012:queue:o:b-1",
            "broker:<name>:<id>",
        ),
        (
            "arn:aws:mq:eu-west-1:123456789012:broker:o:x-1",
            "broker:<name>:<id>",
        ),
        (
            "arn:ews:mq:eu-west-1:123456789012:broker:o:b-1",
            "partition `ews`",
        ),
    ] {
        let text = events_with(
            "prefetch: 100 }",
            &format!("prefetch: 100, broker_arn: \"{broker}\", secret_arn: \"{SECRET}\" }}"),
        );
        let d = only(&text);
        assert_eq!(
            (d.code, spanned(&text, &d)),
            ("M051", format!("\"{broker}\"").as_str())
        );
        assert!(d.hint.as_deref().unwrap().contains(why), "{broker}: {d:?}");
        assert!(parse(&text).0.is_some());
    }
    for secret in [
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:",
        "arn:aws:secretsmanager:eu-west-1:123456789012:parameter:x",
        "arn:aws:ssm:eu-west-1:123456789012:secret:x",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:a b",
    ] {
        let text = events_with(
            "prefetch: 100 }",
            &format!("prefetch: 100, broker_arn: \"{BROKER}\", secret_arn: \"{secret}\" }}"),
        );
        let d = only(&text);
        assert_eq!(d.code, "M051", "{secret}");
        assert!(d.title.contains("Secrets Manager"), "{d:?}");
    }
    // A number is read as its text, which is no ARN.
    let text = events_with(
        "prefetch: 100 }",
        "prefetch: 100, broker_arn: 7, secret_arn: [8] }",
    );
    assert_eq!(
        codes(&text).iter().map(|(c, _, _)| *c).collect::<Vec<_>>(),
        ["M051", "M004"]
    );
    let china = events_with(
        "prefetch: 100 }",
        "prefetch: 100, broker_arn: \"arn:aws-cn:mq:cn-north-1:123456789012:broker:my_broker-1:b-0a1b2c3d\", secret_arn: \"arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:a/b_c+d=e.f@g-h\" }",
    );
    assert_eq!(codes(&china), []);
}

fn m_payments(text: &str) -> events::Source {
    parse(text).0.unwrap().sources["payments"].clone()
}

// Functions in other languages: `runtime`, `handler` and `source` instead of `package`.

#[test]
fn a_managed_function_is_read_with_its_runtime_handler_and_source() {
    let text = "project: p\nfunctions:\n  Quote: { runtime: python3.12, handler: app.handler, source: fns/quote }\n  Mail: { runtime: provided.al2023, source: fns/mail }\n";
    let (m, d) = parse(text);
    assert!(d.is_empty(), "{d:#?}");
    let m = m.unwrap();
    let quote = &m.functions["Quote"];
    assert_eq!(quote.package(), None);
    let code = quote.code();
    let managed = code.managed().unwrap();
    assert_eq!(
        (
            managed.runtime,
            managed.handler.as_str(),
            managed.source.as_path()
        ),
        (
            runtime::Runtime::Python312,
            "app.handler",
            Path::new("fns/quote")
        )
    );
    // Lambda's API wants a handler even for a `bootstrap`.
    assert_eq!(
        m.functions["Mail"].code().managed().unwrap().handler,
        "bootstrap"
    );
}

#[test]
fn a_function_is_either_a_package_or_a_runtime() {
    let both = "project: p\nfunctions:\n  A: { package: fns, runtime: python3.12, handler: app.handler, source: a }\n";
    let d = only(both);
    assert_eq!((d.code, spanned(both, &d)), ("M054", "python3.12"));
    let stray = "project: p\nfunctions:\n  A: { package: fns, handler: app.handler }\n";
    let d = only(stray);
    assert_eq!((d.code, spanned(stray, &d)), ("M054", "handler"));
    let neither = "project: p\nfunctions:\n  A: { memory: 256 }\n";
    let (m, d) = parse(neither);
    assert!(m.is_none());
    assert_eq!(d[0].code, "M003");
    assert!(
        d[0].title.contains("`package` or `runtime`"),
        "{}",
        d[0].title
    );
}

#[test]
fn a_runtimes_keys_are_checked_for_its_language() {
    let unknown =
        "project: p\nfunctions:\n  A: { runtime: python3.21, handler: app.handler, source: a }\n";
    let (m, d) = parse(unknown);
    assert!(m.is_none());
    assert_eq!((d[0].code, spanned(unknown, &d[0])), ("M052", "python3.21"));
    assert!(d[0]
        .hint
        .as_deref()
        .unwrap()
        .contains("did you mean `python3.12`?"));

    let shape = "project: p\nfunctions:\n  A: { runtime: nodejs22.x, handler: index, source: a }\n";
    let d = only(shape);
    assert_eq!((d.code, spanned(shape, &d)), ("M053", "index"));
    let provided =
        "project: p\nfunctions:\n  A: { runtime: provided.al2023, handler: main, source: a }\n";
    let d = only(provided);
    assert_eq!((d.code, spanned(provided, &d)), ("M053", "main"));

    let empty =
        "project: p\nfunctions:\n  A: { runtime: python3.12, handler: app.handler, source: '' }\n";
    let d = only(empty);
    assert_eq!((d.code, spanned(empty, &d)), ("M055", "''"));

    let missing = "project: p\nfunctions:\n  A: { runtime: python3.12 }\n";
    let (m, d) = parse(missing);
    assert!(m.is_none());
    let titles: Vec<&str> = d.iter().map(|d| d.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "function `A` has no `source`",
            "function `A` has no `handler`"
        ]
    );

    let colocated = "project: p\nfunctions:\n  A: { runtime: python3.12, handler: app.handler, source: a, colocate: u }\n  B: { package: fns, colocate: u }\n";
    // M058 alone: the runtime is the reason, not a clash in unit `u` (M019).
    let d = only(colocated);
    assert_eq!((d.code, spanned(colocated, &d)), ("M058", "u"));
}

#[test]
fn managed_sources_and_handler_files_are_checked_through_the_callback() {
    let text = "project: p
functions:
  Py: { runtime: python3.12, handler: pkg.app.handler, source: py }
  Node: { runtime: nodejs22.x, handler: index.handler, source: node }
  Gone: { runtime: python3.12, handler: app.handler, source: gone }
  Bin: { runtime: provided.al2023, source: bin }
  NoExec: { runtime: provided.al2023, source: noexec }
  Rust: { package: fns }
";
    let (m, d) = parse(text);
    assert!(d.is_empty(), "{d:#?}");
    let m = m.unwrap();
    let files = |p: &Path| match p.to_str().unwrap() {
        "py" | "node" | "bin" | "noexec" => PathKind::Directory,
        "py/pkg/app/__init__.py" | "noexec/bootstrap" => PathKind::File { executable: false },
        "bin/bootstrap" => PathKind::File { executable: true },
        _ => PathKind::Missing,
    };
    let d = check_sources(&m, text, files);
    let found: Vec<(&str, &str)> = d.iter().map(|d| (d.code, spanned(text, d))).collect();
    assert_eq!(
        found,
        [
            ("M056", "index.handler"),
            ("M055", "gone"),
            ("M057", "noexec")
        ]
    );
    assert!(d[0]
        .text
        .contains("`index.js` or `index.mjs` or `index.cjs`"));
    let with_node = |p: &Path| match p.to_str().unwrap() {
        "node/index.mjs" => PathKind::File { executable: false },
        other => files(Path::new(other)),
    };
    assert_eq!(check_sources(&m, text, with_node).len(), 2);
}
