//! Functions run as real local processes through flowctl's Lambda Runtime API emulator: the
//! `lambda-fixture` binary (built on the real `lambda_runtime`) started as Lambda starts a
//! custom runtime, kept warm, restarted after crashes and timeouts, its failures turned into
//! the errors Step Functions reports.

use flowctl::local::{LocalOptions, LocalProcesses, UnitConfig};
use flowctl_engine::{Invoker, TaskError};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

const FIXTURE: &str = env!("CARGO_BIN_EXE_lambda-fixture");

fn quiet() -> LocalOptions {
    LocalOptions {
        forward_output: false,
        ..LocalOptions::default()
    }
}

fn fixture(name: &str) -> UnitConfig {
    UnitConfig::new(name, FIXTURE).timeout(Duration::from_secs(10))
}

fn local(unit: UnitConfig) -> LocalProcesses {
    LocalProcesses::with_options(quiet()).unit(unit)
}

async fn call(local: &LocalProcesses, function: &str, input: Value) -> Result<Value, TaskError> {
    local
        .invoke(function, Arc::new(input))
        .await
        .map(Arc::unwrap_or_clone)
}

async fn pid(local: &LocalProcesses, function: &str) -> u64 {
    call(local, function, json!({"pid": true}))
        .await
        .unwrap()
        .as_u64()
        .unwrap()
}

/// The process is gone and reaped: no `/proc` entry, or at least not a zombie.
fn reaped(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            // `pid (comm) S …`: the state follows the last parenthesis.
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !stat.contains("lambda-fixture")
        }
    }
}

/// The RequestId inside a Lambda runtime error message.
fn request_id_of(error: &TaskError) -> String {
    let cause: Value = serde_json::from_str(&error.cause).unwrap();
    let message = cause["errorMessage"].as_str().unwrap();
    message
        .strip_prefix("RequestId: ")
        .and_then(|m| m.split(' ').next())
        .unwrap_or_else(|| panic!("no request id in {message}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echoes_by_name_arn_and_placeholder() {
    let local = local(fixture("echo"));
    for name in [
        "echo",
        "arn:aws:lambda:us-east-1:123456789012:function:echo",
        "${unit:echo}",
    ] {
        let out = call(&local, name, json!({"echo": {"a": [1, 2], "s": "é"}})).await;
        assert_eq!(out, Ok(json!({"a": [1, 2], "s": "é"})), "{name}");
    }
    // A payload that is not an object goes through as is.
    assert_eq!(
        call(&local, "echo", json!([1, "two", null])).await,
        Ok(json!([1, "two", null]))
    );
    let missing = call(&local, "nope", json!({})).await.unwrap_err();
    assert_eq!(missing.error, "Lambda.ResourceNotFoundException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_process_serves_many_invocations() {
    let local = local(fixture("warm"));
    let first = pid(&local, "warm").await;
    for _ in 0..5 {
        assert_eq!(pid(&local, "warm").await, first);
    }
    assert_eq!(local.pids("warm"), vec![first as u32]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_start_more_processes_up_to_the_limit() {
    let local = local(fixture("busy"));
    let calls = (0..4).map(|_| call(&local, "busy", json!({"sleep_ms": 400, "pid": true})));
    let pids: BTreeSet<u64> = futures_join(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap().as_u64().unwrap())
        .collect();
    assert_eq!(
        pids.len(),
        4,
        "one process per concurrent invocation: {pids:?}"
    );

    // Every answer goes to its own caller.
    let calls = (0..8).map(|i| call(&local, "busy", json!({"sleep_ms": 50 * (i % 3), "echo": i})));
    let answers = futures_join(calls).await;
    for (i, answer) in answers.into_iter().enumerate() {
        assert_eq!(answer, Ok(json!(i)));
    }

    // With a limit of two, four calls share two processes.
    let local = LocalProcesses::with_options(quiet()).unit(fixture("two").max_processes(2));
    let calls = (0..4).map(|_| call(&local, "two", json!({"sleep_ms": 300, "pid": true})));
    let started = Instant::now();
    let pids: BTreeSet<u64> = futures_join(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap().as_u64().unwrap())
        .collect();
    assert_eq!(pids.len(), 2, "{pids:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "two rounds of 300 ms"
    );
}

/// Runs the futures concurrently on this task (no `futures::join_all` in the test crate).
async fn futures_join<F, T>(futures: impl IntoIterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = T>,
{
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<T>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, slot) in pinned.iter_mut().zip(results.iter_mut()) {
            if slot.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *slot = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    results.into_iter().map(Option::unwrap).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_error_becomes_the_task_error_and_the_process_stays_warm() {
    let local = local(fixture("pay"));
    let before = pid(&local, "pay").await;
    let error = call(
        &local,
        "pay",
        json!({"error": "PaymentDeclined", "message": "card refused"}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        error,
        TaskError::from_lambda("PaymentDeclined", "card refused")
    );
    assert_eq!(pid(&local, "pay").await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_is_reported_as_lambda_runtime_reports_it() {
    let local = local(fixture("panicky"));
    let error = call(&local, "panicky", json!({"panic": "boom"}))
        .await
        .unwrap_err();
    // lambda_runtime catches the panic and posts `/error` with the panic payload's type name
    // as the errorType and "Lambda panicked: <message>".
    assert!(
        error.error.contains("Box<dyn core::any::Any"),
        "{}",
        error.error
    );
    let cause: Value = serde_json::from_str(&error.cause).unwrap();
    assert_eq!(cause["errorMessage"], "Lambda panicked: boom");
    assert_eq!(
        call(&local, "panicky", json!({"echo": 1})).await,
        Ok(json!(1))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exit_is_a_runtime_exit_error_and_the_next_call_restarts() {
    let local = local(fixture("crashy"));
    let before = pid(&local, "crashy").await;
    let error = call(&local, "crashy", json!({"exit": 7}))
        .await
        .unwrap_err();
    assert_eq!(error.error, "Runtime.ExitError");
    let id = request_id_of(&error);
    assert_eq!(
        error,
        TaskError::from_lambda(
            "Runtime.ExitError",
            &format!("RequestId: {id} Error: Runtime exited with error: exit status 7")
        )
    );
    assert!(reaped(before), "the crashed process is reaped");
    let after = pid(&local, "crashy").await;
    assert_ne!(after, before);
    assert_eq!(local.pids("crashy"), vec![after as u32]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_function_is_killed_at_its_timeout() {
    let local = local(fixture("slow").timeout(Duration::from_secs(1)));
    let before = pid(&local, "slow").await;
    let started = Instant::now();
    let error = call(&local, "slow", json!({"sleep_ms": 20_000}))
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    let id = request_id_of(&error);
    assert_eq!(
        error,
        TaskError::from_lambda(
            "Sandbox.Timedout",
            &format!("RequestId: {id} Error: Task timed out after 1.00 seconds")
        )
    );
    assert!(reaped(before), "the timed-out process is killed and reaped");
    let after = pid(&local, "slow").await;
    assert_ne!(after, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_that_is_not_json_is_a_string_payload() {
    let local = local(fixture("text").env("FIXTURE_RAW", "text"));
    assert_eq!(
        call(&local, "text", json!({})).await,
        Ok(json!("this is not JSON"))
    );
    // The hand-written runtime keeps polling: a second call is served warm.
    assert_eq!(
        call(&local, "text", json!({})).await,
        Ok(json!("this is not JSON"))
    );
    assert_eq!(local.pids("text").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_over_six_mebibytes_is_refused() {
    let local = local(fixture("huge").env("FIXTURE_RAW", "huge"));
    let error = call(&local, "huge", json!({})).await.unwrap_err();
    assert_eq!(
        error,
        TaskError::from_lambda(
            "Function.ResponseSizeTooLarge",
            "Response payload size (7340032 bytes) exceeded maximum allowed payload size (6291556 bytes)."
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_init_error_is_the_posted_error() {
    let local = local(fixture("badinit").env("FIXTURE_RAW", "init_error"));
    let error = call(&local, "badinit", json!({})).await.unwrap_err();
    assert_eq!(
        error,
        TaskError::from_lambda("Fixture.InitFailed", "could not read the configuration")
    );
    // Each call starts afresh and fails the same way.
    let again = call(&local, "badinit", json!({})).await.unwrap_err();
    assert_eq!(again.error, "Fixture.InitFailed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exit_during_init_is_a_runtime_exit_error() {
    let local = local(fixture("noinit").env("FIXTURE_INIT", "exit"));
    let error = call(&local, "noinit", json!({})).await.unwrap_err();
    let id = request_id_of(&error);
    assert_eq!(
        error,
        TaskError::from_lambda(
            "Runtime.ExitError",
            &format!("RequestId: {id} Error: Runtime exited with error: exit status 3")
        )
    );
    // Its output is kept for diagnosis.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        local
            .output_tail("noinit")
            .iter()
            .any(|l| l.contains("exiting during init")),
        "{:?}",
        local.output_tail("noinit")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_that_does_not_exist() {
    let local = local(UnitConfig::new("ghost", "/nonexistent/bootstrap"));
    let error = call(&local, "ghost", json!({})).await.unwrap_err();
    assert_eq!(error.error, "Runtime.InvalidEntrypoint");
    assert!(
        error.cause.contains("/nonexistent/bootstrap"),
        "{}",
        error.cause
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_process_sees_lambdas_environment() {
    let options = LocalOptions {
        region: "eu-west-1".into(),
        ..quiet()
    };
    let local = LocalProcesses::with_options(options).unit(
        fixture("booking-reservations")
            .memory_mb(256)
            .env("TABLE", "bookings"),
    );
    let env = |name: &'static str| {
        let local = &local;
        async move {
            call(local, "booking-reservations", json!({"env": name}))
                .await
                .unwrap()
        }
    };
    assert_eq!(
        env("AWS_LAMBDA_FUNCTION_NAME").await,
        json!("booking-reservations")
    );
    assert_eq!(env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").await, json!("256"));
    assert_eq!(env("AWS_LAMBDA_FUNCTION_VERSION").await, json!("$LATEST"));
    assert_eq!(
        env("AWS_LAMBDA_LOG_GROUP_NAME").await,
        json!("/aws/lambda/booking-reservations")
    );
    assert!(env("AWS_LAMBDA_LOG_STREAM_NAME")
        .await
        .as_str()
        .unwrap()
        .contains("/[$LATEST]"));
    assert_eq!(env("AWS_REGION").await, json!("eu-west-1"));
    assert_eq!(env("AWS_DEFAULT_REGION").await, json!("eu-west-1"));
    assert_eq!(env("TZ").await, json!(":UTC"));
    assert_eq!(env("_HANDLER").await, json!("bootstrap"));
    assert_eq!(env("TABLE").await, json!("bookings"));
    let api = env("AWS_LAMBDA_RUNTIME_API").await;
    assert!(api.as_str().unwrap().starts_with("127.0.0.1:"), "{api}");
    let root = std::path::Path::new(FIXTURE).canonicalize().unwrap();
    assert_eq!(
        env("LAMBDA_TASK_ROOT").await,
        json!(root.parent().unwrap().display().to_string())
    );
    // Our own environment stays out, except the few variables passed on on purpose.
    let ours = std::env::vars()
        .map(|(k, _)| k)
        .find(|k| {
            !LocalOptions::default().pass_env.contains(k)
                && !k.starts_with("AWS_")
                && !k.starts_with("LAMBDA")
                && k != "TZ"
                && k != "LANG"
        })
        .expect("the test runs with some environment");
    let leaked = call(&local, "booking-reservations", json!({"env": ours}))
        .await
        .unwrap();
    assert_eq!(leaked, Value::Null, "{ours} leaked into the function");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_unit_gets_the_envelope_when_called_by_function_key() {
    let local = local(fixture("reservations").functions(["Reserve", "Release"]));
    // The fixture echoes an input it does not recognise.
    assert_eq!(
        call(&local, "Release", json!({"id": 1})).await,
        Ok(json!({"function": "Release", "payload": {"id": 1}}))
    );
    // Called by unit name, the payload is the caller's (compiled flows build the envelope).
    assert_eq!(
        call(&local, "reservations", json!({"id": 2})).await,
        Ok(json!({"id": 2}))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_kills_and_reaps_every_process() {
    let local = local(fixture("many"));
    let calls = (0..3).map(|_| call(&local, "many", json!({"sleep_ms": 200, "pid": true})));
    let pids: Vec<u64> = futures_join(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap().as_u64().unwrap())
        .collect();
    assert_eq!(local.pids("many").len(), 3);
    local.shutdown().await;
    assert!(local.pids("many").is_empty());
    for pid in pids {
        assert!(
            reaped(pid),
            "{pid} left behind: {:?}",
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_machine_runs_on_local_processes_and_retry_and_catch_see_their_errors() {
    use flowctl_engine::{execute, load, ExecutionOptions, Status};
    let doc = json!({
        "StartAt": "Echo",
        "States": {
            "Echo": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "${unit:fixture}", "Payload": {"echo.$": "$.value"}},
                "ResultSelector": {"v.$": "$.Payload"},
                "ResultPath": "$.echoed",
                "Next": "Crash"
            },
            "Crash": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:fixture", "Payload": {"exit": 2}},
                "Catch": [{"ErrorEquals": ["Runtime.ExitError"], "ResultPath": "$.crash", "Next": "Declined"}],
                "Next": "Declined"
            },
            "Declined": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "fixture", "Payload": {"error": "PaymentDeclined", "message": "no"}},
                "Retry": [{"ErrorEquals": ["PaymentDeclined"], "IntervalSeconds": 1, "MaxAttempts": 1}],
                "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.declined", "Next": "Fan out"}],
                "Next": "Fan out"
            },
            "Fan out": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Work",
                    "States": {
                        "Work": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::lambda:invoke",
                            "Parameters": {"FunctionName": "fixture", "Payload": {"sleep_ms": 300, "pid": true}},
                            "OutputPath": "$.Payload",
                            "End": true
                        }
                    }
                },
                "ResultPath": "$.pids",
                "End": true
            }
        }
    });
    let machine = load(&doc).unwrap_or_else(|errors| panic!("{errors:?}"));
    let local = local(fixture("fixture"));
    let input = json!({"value": {"n": 1}, "items": [1, 2, 3]});
    let run = execute(&machine, input, &local, &ExecutionOptions::default()).await;
    assert_eq!(run.status, Status::Succeeded, "{:?}", run.error);
    let output = run.output.unwrap();
    assert_eq!(output["echoed"], json!({"v": {"n": 1}}));
    assert_eq!(output["crash"]["Error"], "Runtime.ExitError");
    assert!(output["crash"]["Cause"]
        .as_str()
        .unwrap()
        .contains("Runtime exited with error: exit status 2"));
    assert_eq!(output["declined"]["Error"], "PaymentDeclined");
    assert_eq!(
        output["declined"]["Cause"],
        TaskError::from_lambda("PaymentDeclined", "no").cause
    );
    let failures = run
        .history
        .iter()
        .filter(|e| e.kind.to_string() == "TaskFailed" && e.state.as_deref() == Some("Declined"))
        .count();
    assert_eq!(failures, 2, "one try and one retry");
    let pids: BTreeSet<u64> = output["pids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect();
    assert_eq!(
        pids.len(),
        3,
        "the Map's iterations ran in parallel processes: {pids:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_while_idle_is_replaced_without_an_error() {
    let local = local(fixture("fragile"));
    let before = pid(&local, "fragile").await;
    let killed = std::process::Command::new("kill")
        .args(["-9", &before.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // `kill` returns once the signal is sent; wait until the kernel has ended the process
    // (a zombie or gone). A death at the very moment of a call is a crash during that call.
    let dead = |pid: u64| match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
    };
    let started = Instant::now();
    while !dead(before) {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "SIGKILL did not end {before}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Whether or not the pool has noticed the death yet, the call is served by a new process.
    assert_eq!(
        call(&local, "fragile", json!({"echo": "still here"})).await,
        Ok(json!("still here"))
    );
    assert_ne!(pid(&local, "fragile").await, before);
    assert!(reaped(before));
}

/// Issue 17's acceptance document (`tests/fixtures/jsonata/order.asl.json`: `Assign`,
/// `Output`, a Choice `Condition`, a Map with `Items`, a Task with `Arguments`) through
/// `flowctl invoke --asl`, its Task on the fixture as a real process (it echoes its payload):
/// the output AWS's documentation implies for each route of the Choice.
#[test]
fn invoke_asl_runs_a_jsonata_document_with_variables() {
    let doc = flowctl_tests::repo_root().join("tests/fixtures/jsonata/order.asl.json");
    let run = |qty: u64| {
        let input = json!({"currency": "EUR", "order": {"lines": [{"sku": "A", "qty": qty}, {"sku": "B", "qty": 1}]}});
        let out = std::process::Command::new(flowctl_tests::flowctl_bin())
            .args(["invoke", "--asl"])
            .arg(&doc)
            .args(["--input", &input.to_string()])
            .args(["--function-binary", &format!("Price={FIXTURE}")])
            .env("NO_COLOR", "1")
            .output()
            .expect("flowctl runs");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).expect("the output is JSON")
    };
    assert_eq!(
        run(3),
        json!({"total": 135, "currency": "EUR", "review": true, "lines": [1, 2], "flag": "review"})
    );
    assert_eq!(
        run(1),
        json!({"total": 75, "currency": "EUR", "review": false, "lines": [1, 2], "flag": "none"})
    );
}
