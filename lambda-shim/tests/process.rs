//! The fixture registry (`src/bin/fixture.rs`) as a real process: its command line, and
//! serving through the real `lambda_runtime` against a small stand-in for Lambda's Runtime
//! API on a loopback port (bare payloads, envelopes, chains, named errors, panics).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};

const FIXTURE: &str = env!("CARGO_BIN_EXE_flowctl-shim-fixture");

fn fixture(args: &[&str], stdin: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut child = Command::new(FIXTURE)
        .args(args)
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env_remove("FLOWCTL_FUNCTIONS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the fixture starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn invoke_prints_the_result_or_the_named_error() {
    let (code, stdout, _) = fixture(&["invoke", "Add", r#"{"a": 2, "b": 40}"#], "");
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).unwrap(),
        json!({"sum": 42})
    );

    let (code, stdout, _) = fixture(&["invoke", "Add", "-"], r#"{"a": 1, "b": 1}"#);
    assert_eq!((code, stdout.trim()), (0, "{\n  \"sum\": 2\n}"));

    let (code, stdout, stderr) = fixture(
        &[
            "invoke",
            "Fail",
            r#"{"name": "PaymentDeclined", "message": "card refused"}"#,
        ],
        "",
    );
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert_eq!(
        serde_json::from_str::<Value>(&stderr).unwrap(),
        json!({"errorType": "PaymentDeclined", "errorMessage": "card refused"})
    );

    // A panic is a named error, on stderr after Rust's own panic message.
    let (code, _, stderr) = fixture(&["invoke", "Explode", r#""kaboom""#], "");
    assert_eq!(code, 1);
    let json_start = stderr.find("{\n  \"errorType\"").expect(&stderr);
    assert_eq!(
        serde_json::from_str::<Value>(&stderr[json_start..]).unwrap(),
        json!({"errorType": "Panic", "errorMessage": "Explode panicked: kaboom"})
    );

    let (code, _, stderr) = fixture(&["invoke", "Nope", "{}"], "");
    assert_eq!(code, 1);
    assert!(stderr.contains("FunctionNotFound"), "{stderr}");
}

#[test]
fn usage_and_describe() {
    let (code, _, stderr) = fixture(&[], "");
    assert_eq!(code, 2);
    assert!(stderr.starts_with("usage:"), "{stderr}");
    let (code, _, _) = fixture(&["frobnicate"], "");
    assert_eq!(code, 2);

    let (code, stdout, _) = fixture(&["describe"], "");
    assert_eq!(code, 0);
    let description: Value = serde_json::from_str(&stdout).unwrap();
    let names: Vec<&str> = description["functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Add", "Fail", "Explode", "Parse"]);
    assert_eq!(
        description["types"]["Pair"]["required"],
        serde_json::json!(["a", "b"]),
        "the named type is listed under its name"
    );

    let (code, stdout, _) = fixture(&["describe", "--schema"], "");
    assert_eq!(code, 0);
    let schema: Value = serde_json::from_str(&stdout).unwrap();
    let validator = jsonschema::draft7::new(&schema).unwrap();
    let problems: Vec<String> = validator
        .iter_errors(&description)
        .map(|e| e.to_string())
        .collect();
    assert_eq!(problems, Vec::<String>::new());
}

/// What the runtime posted back for one invocation.
#[derive(Debug, Clone, PartialEq)]
enum Posted {
    Response(Value),
    Error(Value),
}

/// Just enough of Lambda's Runtime API for `lambda_runtime`: `next` hands out queued events
/// (waiting while there are none), `response` and `error` are reported to the test.
struct RuntimeApi {
    queue: Mutex<VecDeque<(String, Value)>>,
    queued: Notify,
    posted: mpsc::UnboundedSender<(String, Posted)>,
}

async fn answer(
    api: Arc<RuntimeApi>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let path = request.uri().path().to_string();
    if path == "/2018-06-01/runtime/invocation/next" {
        let (id, payload) = loop {
            let waiting = api.queued.notified();
            if let Some(event) = api.queue.lock().unwrap().pop_front() {
                break event;
            }
            waiting.await;
        };
        let deadline =
            SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(60);
        return Ok(Response::builder()
            .header("lambda-runtime-aws-request-id", id)
            .header(
                "lambda-runtime-deadline-ms",
                deadline.as_millis().to_string(),
            )
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:eu-west-1:000000000000:function:fixture",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000",
            )
            .body(Full::new(Bytes::from(payload.to_string())))
            .unwrap());
    }
    let body = request.into_body().collect().await?.to_bytes();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if let ["2018-06-01", "runtime", "invocation", id, kind] = parts.as_slice() {
        let posted = match *kind {
            "response" => Posted::Response(body),
            _ => Posted::Error(body),
        };
        let _ = api.posted.send((id.to_string(), posted));
    } else {
        let _ = api
            .posted
            .send((path.clone(), Posted::Error(json!({"unexpected": path}))));
    }
    Ok(Response::builder()
        .status(StatusCode::ACCEPTED)
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap())
}

/// Starts the stand-in API and the fixture serving `functions`; sends each payload in turn
/// and returns what came back for each.
async fn serve(functions: Option<&str>, payloads: Vec<Value>) -> Vec<Posted> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (posted, mut results) = mpsc::unbounded_channel();
    let api = Arc::new(RuntimeApi {
        queue: Mutex::new(VecDeque::new()),
        queued: Notify::new(),
        posted,
    });
    let server_api = Arc::clone(&api);
    let server = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let api = Arc::clone(&server_api);
            tokio::spawn(async move {
                let service = service_fn(move |request| answer(Arc::clone(&api), request));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });

    let mut command = tokio::process::Command::new(FIXTURE);
    command
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "fixture")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env_remove("FLOWCTL_FUNCTIONS")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    if let Some(functions) = functions {
        command.env("FLOWCTL_FUNCTIONS", functions);
    }
    let mut child = command.spawn().expect("the fixture starts");

    let mut answers = Vec::new();
    for (index, payload) in payloads.into_iter().enumerate() {
        let id = format!("request-{index}");
        api.queue.lock().unwrap().push_back((id.clone(), payload));
        api.queued.notify_waiters();
        let (answered, posted) = tokio::time::timeout(Duration::from_secs(30), results.recv())
            .await
            .expect("the runtime answers (never a hang)")
            .expect("the stand-in API is running");
        assert_eq!(answered, id);
        answers.push(posted);
    }
    let _ = child.kill().await;
    server.abort();
    answers
}

#[tokio::test]
async fn one_function_serves_bare_payloads() {
    let answers = serve(
        Some("Add"),
        vec![
            json!({"a": 1, "b": 2}),
            json!({"a": "one"}),
            json!({"a": 5, "b": 5}),
        ],
    )
    .await;
    assert_eq!(answers[0], Posted::Response(json!({"sum": 3})));
    let Posted::Error(error) = &answers[1] else {
        panic!("{:?}", answers[1])
    };
    assert_eq!(error["errorType"], "InvalidInput");
    assert_eq!(answers[2], Posted::Response(json!({"sum": 10})));
}

#[tokio::test]
async fn several_functions_serve_envelopes_chains_errors_and_panics() {
    let answers = serve(
        Some("Add, Fail,Explode"),
        vec![
            json!({"function": "Add", "payload": {"a": 20, "b": 22}}),
            json!({"function": "Fail", "payload": {"name": "PaymentGatewayTimeout", "message": "slow"}}),
            json!({"function": "Explode", "payload": "boom"}),
            // After a panic the same process keeps serving.
            json!({"function": "Parse", "payload": "1"}),
            json!({
                "chain": [
                    {"function": "Add", "payload": {"a": {"$var": ["input", "x"]}, "b": 1}, "bind": "first"},
                    {"function": "Add", "payload": {"a": {"$var": ["first", "sum"]}, "b": 10}, "bind": "second"},
                ],
                "vars": {"input": {"x": 1}},
            }),
            json!({"a": 1, "b": 2}),
        ],
    )
    .await;
    assert_eq!(answers[0], Posted::Response(json!({"sum": 42})));
    assert_eq!(
        answers[1],
        Posted::Error(json!({"errorType": "PaymentGatewayTimeout", "errorMessage": "slow"}))
    );
    assert_eq!(
        answers[2],
        Posted::Error(json!({"errorType": "Panic", "errorMessage": "Explode panicked: boom"}))
    );
    assert_eq!(
        answers[3],
        Posted::Error(json!({
            "errorType": "FunctionNotFound",
            "errorMessage": "no function `Parse` here; this process serves Add, Fail, Explode",
        }))
    );
    assert_eq!(
        answers[4],
        Posted::Response(json!({
            "results": {"first": {"sum": 2}, "second": {"sum": 12}},
            "complete": true,
        }))
    );
    let Posted::Error(error) = &answers[5] else {
        panic!("{:?}", answers[5])
    };
    assert_eq!(error["errorType"], "InvalidEnvelope");
}

#[tokio::test]
async fn unset_functions_serve_every_registered_one() {
    let answers = serve(None, vec![json!({"function": "Parse", "payload": " 12 "})]).await;
    assert_eq!(answers[0], Posted::Response(json!(12)));
}

#[test]
fn an_unregistered_served_name_stops_the_process_at_start() {
    let output = Command::new(FIXTURE)
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .env("AWS_LAMBDA_FUNCTION_NAME", "fixture")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("FLOWCTL_FUNCTIONS", "Add,Ghost")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("FLOWCTL_FUNCTIONS names `Ghost`, which is not registered"),
        "{stderr}"
    );

    let output = Command::new(FIXTURE)
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .env_remove("AWS_LAMBDA_FUNCTION_NAME")
        .env_remove("FLOWCTL_FUNCTIONS")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not started by Lambda?"));
}

/// A function deploy made a subscriber (or an ingest) either plays that role or refuses to
/// start saying why: never serves function calls in its place.
#[test]
fn an_events_role_needs_the_subscriber_feature() {
    for role in ["FLOWCTL_SUBSCRIBER", "FLOWCTL_INGEST"] {
        let output = Command::new(FIXTURE)
            .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
            .env("AWS_LAMBDA_FUNCTION_NAME", "fixture")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env_remove("FLOWCTL_FUNCTIONS")
            .env(role, "{}")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{role}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        // With the feature, the (empty) configuration is read and refused; without it, the
        // binary says how to get it.
        let expected = if cfg!(feature = "subscriber") {
            format!("{role} is not a")
        } else {
            format!(
                "{role} is set, but this binary was built without the subscriber feature: run \
                 `flowctl build`, which enables it for projects with subscriptions"
            )
        };
        assert!(stderr.contains(&expected), "{role}: {stderr}");
    }
}
