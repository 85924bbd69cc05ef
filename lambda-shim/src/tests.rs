//! Dispatch (bare payload, call envelope, chain, unknown names), errors and panics, and the
//! `describe` document against its own schema.

use super::*;
use serde::Deserialize;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Deserialize, JsonSchema)]
struct Booking {
    id: String,
    nights: u32,
}

#[derive(Serialize, JsonSchema)]
struct Reservation {
    id: String,
    nights: u32,
    status: String,
}

async fn reserve(input: Booking) -> Result<Reservation, Error> {
    let status = if input.nights == 0 {
        "unavailable"
    } else {
        "available"
    };
    Ok(Reservation {
        id: input.id,
        nights: input.nights,
        status: status.into(),
    })
}

#[derive(Deserialize, JsonSchema)]
struct Payment {
    id: String,
    amount: f64,
}

async fn pay(input: Payment) -> Result<Value, Error> {
    if input.amount > 1000.0 {
        return Err(Error::new("PaymentDeclined", "card refused"));
    }
    Ok(json!({"id": input.id, "charged": input.amount}))
}

async fn parse(text: String) -> Result<i64, Error> {
    Ok(text.parse::<i64>()?)
}

async fn panics_while_running(_: Value) -> Result<Value, Error> {
    tokio::task::yield_now().await;
    panic!("the ledger is gone")
}

fn panics_before_running(_: Value) -> std::future::Ready<Result<Value, Error>> {
    let reason = String::from("no future for you");
    std::panic::panic_any(reason)
}

async fn unit_input(_: ()) -> Result<&'static str, Error> {
    Ok("pong")
}

fn registry() -> Registry {
    Registry::new()
        .function_with(
            "ReserveAvailability",
            reserve,
            Props {
                idempotent: true,
                description: Some("Holds a room".into()),
                reads: vec!["rooms".into()],
                writes: vec!["rooms".into()],
                consistent_reads: vec!["rooms".into()],
                ..Props::default()
            },
        )
        .function("ProcessPayment", pay)
        .named_type::<Booking>()
        .function("Parse", parse)
        .function("Boom", panics_while_running)
        .function("EarlyBoom", panics_before_running)
        .function("payments.Ping", unit_input)
}

#[tokio::test]
async fn a_single_function_takes_its_bare_input() {
    let registry = registry().serving(["ReserveAvailability"]);
    assert_eq!(registry.served(), vec!["ReserveAvailability"]);
    let output = registry
        .handle(json!({"id": "r1", "nights": 2}))
        .await
        .unwrap();
    assert_eq!(
        output,
        json!({"id": "r1", "nights": 2, "status": "available"})
    );
    // An envelope is just a (wrong) input here.
    let error = registry
        .handle(json!({"function": "ReserveAvailability", "payload": {"id": "r1", "nights": 2}}))
        .await
        .unwrap_err();
    assert_eq!(error.name(), "InvalidInput");
    assert!(error.message().contains("missing field `id`"), "{error}");
}

#[tokio::test]
async fn a_single_registered_function_needs_no_narrowing() {
    let registry = Registry::new().function("Parse", parse);
    assert_eq!(registry.handle(json!("42")).await.unwrap(), json!(42));
}

#[tokio::test]
async fn several_functions_take_an_envelope() {
    let registry = registry().serving(["ReserveAvailability", "ProcessPayment"]);
    let output = registry
        .handle(json!({"function": "ProcessPayment", "payload": {"id": "p", "amount": 10}}))
        .await
        .unwrap();
    assert_eq!(output, json!({"id": "p", "charged": 10.0}));

    let error = registry
        .handle(json!({"id": "p", "amount": 10}))
        .await
        .unwrap_err();
    assert_eq!(error.name(), "InvalidEnvelope");

    // Registered but not served by this process: not found, listing what is served.
    let error = registry
        .handle(json!({"function": "Parse", "payload": "1"}))
        .await
        .unwrap_err();
    assert_eq!(error.name(), "FunctionNotFound");
    assert_eq!(
        error.message(),
        "no function `Parse` here; this process serves ReserveAvailability, ProcessPayment"
    );
}

#[tokio::test]
async fn envelope_keys_agree_with_the_compiler() {
    // flowctl-lang's asl module: ENVELOPE_FUNCTION = "function", ENVELOPE_PAYLOAD = "payload".
    assert_eq!(envelope::FUNCTION, "function");
    assert_eq!(envelope::PAYLOAD, "payload");
}

#[tokio::test]
async fn unset_serving_means_every_function() {
    let registry = registry();
    assert_eq!(registry.served().len(), 6);
    let output = registry
        .handle(json!({"function": "payments.Ping"}))
        .await
        .unwrap();
    assert_eq!(output, json!("pong"));
}

#[tokio::test]
async fn a_chain_runs_in_process_and_returns_every_binding() {
    let registry = registry();
    let output = registry
        .handle(json!({
            "chain": [
                {
                    "function": "ReserveAvailability",
                    "payload": {"id": {"$var": ["input", "id"]}, "nights": {"$var": ["input", "nights"]}},
                    "bind": "reservation",
                },
                {
                    "function": "ProcessPayment",
                    "payload": {"id": {"$var": ["reservation", "id"]}, "amount": 99.5},
                    "bind": "payment",
                },
                {"function": "Parse", "payload": "7"},
            ],
            "vars": {"input": {"id": "c1", "nights": 3}},
        }))
        .await
        .unwrap();
    assert_eq!(
        output,
        json!({
            "results": {
                "reservation": {"id": "c1", "nights": 3, "status": "available"},
                "payment": {"id": "c1", "charged": 99.5},
            },
            "complete": true,
        })
    );
}

#[tokio::test]
async fn a_chain_fails_as_its_failing_step_would() {
    let registry = registry();
    let chain = |amount: f64| {
        json!({
            "chain": [
                {"function": "ReserveAvailability", "payload": {"$var": "input"}, "bind": "r"},
                {"function": "ProcessPayment", "payload": {"id": "x", "amount": amount}, "bind": "p"},
            ],
            "vars": {"input": {"id": "c2", "nights": 1}},
        })
    };
    let error = registry.handle(chain(5000.0)).await.unwrap_err();
    assert_eq!(
        error,
        Error::new("PaymentDeclined", "card refused"),
        "the same error as the unfused call"
    );
    let unfused = registry
        .call("ProcessPayment", json!({"id": "x", "amount": 5000.0}))
        .await
        .unwrap_err();
    assert_eq!(error, unfused);
}

#[tokio::test]
async fn a_chain_checks_every_function_before_running_any() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    async fn counted(_: Value) -> Result<Value, Error> {
        CALLS.fetch_add(1, Ordering::SeqCst);
        Ok(Value::Null)
    }
    let registry = Registry::new()
        .function("Counted", counted)
        .function("Other", counted)
        .serving(["Counted", "Other"]);
    let error = registry
        .handle(json!({"chain": [
            {"function": "Counted"},
            {"function": "Missing"},
        ]}))
        .await
        .unwrap_err();
    assert_eq!(error.name(), "FunctionNotFound");
    assert_eq!(CALLS.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_chain_stops_before_a_step_whose_path_the_data_lacks() {
    let answer = registry()
        .handle(json!({
            "chain": [
                {"function": "Parse", "payload": "7", "bind": "n"},
                {"function": "Parse", "payload": {"$var": ["input", "text"]}, "bind": "m"},
                {"function": "Parse", "payload": "8", "bind": "o"},
            ],
            "vars": {"input": {}},
        }))
        .await
        .unwrap();
    assert_eq!(
        answer["results"],
        json!({"n": 7}),
        "the steps before it ran"
    );
    assert!(answer.get("complete").is_none(), "{answer}");
    assert_eq!(answer["stopped"]["step"], 2);
    assert_eq!(answer["stopped"]["function"], "Parse");
    assert!(
        answer["stopped"]["reason"]
            .as_str()
            .unwrap()
            .contains("no field `text`"),
        "{answer}"
    );
}

#[tokio::test]
async fn errors_keep_their_names() {
    let registry = registry();
    let error = registry
        .call("ProcessPayment", json!({"id": "p", "amount": 2000}))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_json(),
        json!({"errorType": "PaymentDeclined", "errorMessage": "card refused"})
    );

    let error = registry.call("Parse", json!("seven")).await.unwrap_err();
    assert_eq!(error.name(), "ParseIntError");

    let error = registry
        .call("ReserveAvailability", json!({"id": "r", "nights": -1}))
        .await
        .unwrap_err();
    assert_eq!(error.name(), "InvalidInput");
    assert!(error
        .message()
        .starts_with("the input of ReserveAvailability"));

    let error = registry.call("Nope", json!({})).await.unwrap_err();
    assert_eq!(error.name(), "FunctionNotFound");
}

#[tokio::test]
async fn panics_become_named_errors_and_the_registry_goes_on() {
    let registry = registry();
    let error = registry.call("Boom", json!({})).await.unwrap_err();
    assert_eq!(
        error,
        Error::new("Panic", "Boom panicked: the ledger is gone")
    );
    let error = registry.call("EarlyBoom", json!({})).await.unwrap_err();
    assert_eq!(
        error,
        Error::new("Panic", "EarlyBoom panicked: no future for you")
    );
    // Still serving afterwards.
    assert_eq!(registry.call("Parse", json!("1")).await.unwrap(), json!(1));
}

#[tokio::test]
async fn a_panic_inside_a_chain_is_the_chain_error() {
    let error = registry()
        .handle(json!({"chain": [
            {"function": "Parse", "payload": "1", "bind": "n"},
            {"function": "Boom", "payload": {"$var": "n"}},
        ]}))
        .await
        .unwrap_err();
    assert_eq!(error.name(), "Panic");
}

#[test]
fn registration_mistakes_are_reported() {
    let broken = Registry::new()
        .function("Parse", parse)
        .function("Parse", parse)
        .function("bad name", parse)
        .function("", parse)
        .serving(["Parse", "Ghost"]);
    let problems = broken.problems();
    assert_eq!(problems.len(), 4, "{problems:#?}");
    assert!(problems[0].contains("registered twice"));
    assert!(problems[1].contains("`bad name` cannot name a function"));
    assert!(problems[3].contains("`Ghost`, which is not registered (registered: Parse)"));
    assert!(Registry::new().problems()[0].contains("no function is registered"));
    assert!(registry().problems().is_empty());
}

#[derive(JsonSchema)]
#[schemars(rename = "not a name")]
struct Spaced {}

#[test]
fn a_type_registered_twice_and_incoherent_properties_are_mistakes() {
    let props = Props {
        retry_safe: vec!["Timeout".into(), " ".into(), "Timeout".into()],
        reads: vec!["a".into()],
        consistent_reads: vec!["a".into(), "b".into()],
        ..Props::default()
    };
    let broken = Registry::new()
        .function_with("Parse", parse, props)
        .named_type::<Booking>()
        .named_type::<Booking>()
        .named_type::<Vec<Booking>>()
        .named_type::<Spaced>();
    assert_eq!(
        broken.problems(),
        vec![
            "the `retry_safe` of `Parse` has a blank entry: each names an error",
            "the `retry_safe` of `Parse` lists `Timeout` twice",
            "`Parse` reads `b` consistently (`consistent_reads`) but does not list it in \
             `reads`: add it there",
            "the type `Booking` is registered twice",
            "`not a name` cannot name a type: a flow names it after `input:`, so it must be an \
             identifier (letters, digits and `_`; give the type a `#[schemars(rename = …)]`)",
        ],
    );
    // A generic type's schema name is still an identifier.
    assert_eq!(
        broken.describe().types.keys().collect::<Vec<_>>(),
        ["Array_of_Booking", "Booking"]
    );
}

#[test]
fn function_lists_parse_like_the_env_var() {
    assert_eq!(parse_function_list("A, B,,C ,"), vec!["A", "B", "C"]);
    assert!(parse_function_list(" , ").is_empty());
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::draft7::new(schema).expect("a valid draft-07 schema")
}

fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn describe_validates_against_its_own_schema() {
    let schema = describe_schema();
    assert!(
        jsonschema::meta::is_valid(&schema),
        "the describe schema is itself a valid JSON Schema"
    );
    let validator = validator(&schema);
    let description = serde_json::to_value(registry().describe()).unwrap();
    assert_eq!(errors(&validator, &description), Vec::<String>::new());

    // The schema is strict enough to catch a wrong document.
    let mut wrong = description.clone();
    wrong["functions"][0]["properties"]["idempotent"] = json!("yes");
    assert!(!errors(&validator, &wrong).is_empty());
    let mut wrong = description.clone();
    wrong["functions"][0]["colour"] = json!("blue");
    assert!(!errors(&validator, &wrong).is_empty());
    let mut wrong = description.clone();
    wrong["functions"][0]["properties"]["reads"] = json!("rooms");
    assert!(!errors(&validator, &wrong).is_empty());
    let mut wrong = description.clone();
    wrong["types"]["Booking"] = json!(42);
    assert!(!errors(&validator, &wrong).is_empty(), "a type is a schema");
    let mut wrong = description.clone();
    wrong["types"]["not a name"] = json!({});
    assert!(!errors(&validator, &wrong).is_empty(), "a type's name");

    // And it reads back.
    let back: Description = serde_json::from_value(description).unwrap();
    assert_eq!(back, registry().describe());
}

#[test]
fn describe_lists_names_properties_and_schemas() {
    let description = serde_json::to_value(registry().describe()).unwrap();
    assert_eq!(description["shim"], "flowctl-shim");
    assert_eq!(description["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(description["protocol"], 2);
    let reserve = &description["functions"][0];
    assert_eq!(reserve["name"], "ReserveAvailability");
    assert_eq!(
        reserve["properties"],
        json!({
            "idempotent": true,
            "reads": ["rooms"],
            "writes": ["rooms"],
            "consistent_reads": ["rooms"],
            "description": "Holds a room",
        })
    );
    assert_eq!(
        description["functions"][1]["properties"],
        json!({"idempotent": false}),
        "what is not declared is left out"
    );
    assert_eq!(reserve["input"]["required"], json!(["id", "nights"]));

    // Each function's schemas are valid and accept what the function accepts / returns.
    let input = validator(&reserve["input"]);
    assert!(errors(&input, &json!({"id": "r", "nights": 2})).is_empty());
    assert!(!errors(&input, &json!({"id": "r", "nights": -2})).is_empty());
    let output = validator(&reserve["output"]);
    assert!(errors(
        &output,
        &json!({"id": "r", "nights": 2, "status": "available"})
    )
    .is_empty());
    // Named types: their schema under their name, a draft-07 document of its own.
    let types = description["types"].as_object().unwrap();
    assert_eq!(types.keys().collect::<Vec<_>>(), ["Booking"]);
    assert_eq!(
        types["Booking"], reserve["input"],
        "the same type, the same schema"
    );
    assert_eq!(
        types["Booking"]["$schema"],
        "http://json-schema.org/draft-07/schema#"
    );
    let without = serde_json::to_value(Registry::new().function("Parse", parse).describe());
    assert!(
        without.unwrap().get("types").is_none(),
        "no named type, no `types`"
    );

    for function in description["functions"].as_array().unwrap() {
        assert!(jsonschema::meta::is_valid(&function["input"]), "{function}");
        assert!(
            jsonschema::meta::is_valid(&function["output"]),
            "{function}"
        );
    }
}

async fn cli_run(registry: &Registry, args: &[&str], stdin: &str) -> cli::Outcome {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let mut stdin = std::io::Cursor::new(stdin.as_bytes().to_vec());
    cli::main(registry, &args, &mut stdin).await
}

#[tokio::test]
async fn the_command_line() {
    let registry = registry();
    let out = cli_run(&registry, &["invoke", "Parse", "\"12\""], "").await;
    assert_eq!((out.code, out.stdout.as_str()), (0, "12\n"));

    let out = cli_run(
        &registry,
        &["invoke", "ProcessPayment", "-"],
        r#"{"id":"p","amount":5000}"#,
    )
    .await;
    assert_eq!(out.code, 1);
    let error: Value = serde_json::from_str(&out.stderr).unwrap();
    assert_eq!(
        error,
        json!({"errorType": "PaymentDeclined", "errorMessage": "card refused"})
    );

    let out = cli_run(&registry, &["invoke", "Parse", "{oops"], "").await;
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("not JSON"));

    for args in [
        &[][..],
        &["describe", "--nope"],
        &["invoke", "Parse"],
        &["serve"],
    ] {
        let out = cli_run(&registry, args, "").await;
        assert_eq!(out.code, 2, "{args:?}");
        assert!(out.stderr.starts_with("usage:"), "{args:?}");
    }
    let out = cli_run(&registry, &["--help"], "").await;
    assert_eq!(out.code, 0);
    assert!(out.stdout.starts_with("usage:"));

    let out = cli_run(&registry, &["describe"], "").await;
    assert_eq!(out.code, 0);
    let description: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        description,
        serde_json::to_value(registry.describe()).unwrap()
    );

    let out = cli_run(&registry, &["describe", "--schema"], "").await;
    assert_eq!(
        serde_json::from_str::<Value>(&out.stdout).unwrap(),
        describe_schema()
    );

    let broken = Registry::new()
        .function("Parse", parse)
        .function("Parse", parse);
    let out = cli_run(&broken, &["describe"], "").await;
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("registered twice"));
}
