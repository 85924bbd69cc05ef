//! `flowctl deploy`, `status`, `invoke --target` and `destroy` end to end against a moto
//! server this test binary starts, through a recording (and, when asked, fault-injecting)
//! proxy. The example project is copied under `<repo>/target/flowctl-tests/<name>/` with its
//! own project name, so tests do not share resources and the copy may be edited; its
//! functions are built in release into the workspace's target directory, like tests/build.rs.
//!
//! What is checked is read back with boto3 (an independent client), not with flowctl's own
//! observer: functions (runtime, code hash, configuration, tags), roles and the Step
//! Functions policy's resources, state machines (definition = the built ASL with ARNs
//! resolved), and that nothing tagged for a project is left after `destroy`.

use flowctl_tests::moto::Moto;
use flowctl_tests::proxy::{self, Proxy};
use flowctl_tests::{booking_copy, flowctl_bin, python, repo_root, target_dir};
use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

#[path = "deploy/events_cli.rs"]
mod events_cli;
#[path = "deploy/hybrid.rs"]
mod hybrid;
#[path = "deploy/polyglot.rs"]
mod polyglot;

const REGION: &str = "eu-west-1";
const ACCOUNT: &str = "123456789012";

fn edit_manifest(dir: &Path, edit: impl FnOnce(String) -> String) {
    let path = dir.join("flowctl.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, edit(text)).unwrap();
}

/// Variables of the developer's environment the tests must not inherit.
const CLEARED_ENV: [&str; 5] = [
    "CARGO_BUILD_TARGET",
    "AWS_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
];

/// `flowctl -m DIR --color never ARGS…`, with `--localstack --endpoint-url ENDPOINT` when an
/// endpoint is given, in the tests' environment; not yet run.
fn flowctl_command(dir: &Path, endpoint: Option<&str>, args: &[&str]) -> Command {
    let mut command = Command::new(flowctl_bin());
    command
        .args(["-m", dir.to_str().unwrap(), "--color", "never"])
        .args(args)
        .env("CARGO_TARGET_DIR", target_dir());
    if let Some(endpoint) = endpoint {
        command.args(["--localstack", "--endpoint-url", endpoint]);
    }
    for name in CLEARED_ENV {
        command.env_remove(name);
    }
    command
}

fn flowctl(dir: &Path, endpoint: &str, args: &[&str]) -> Output {
    flowctl_command(dir, Some(endpoint), args)
        .output()
        .expect("flowctl runs")
}

/// Runs `flowctl` as [`flowctl`] does, but on a pseudo-terminal (its stdout and stderr both),
/// as someone at a terminal sees it: the exit code and every byte it wrote there.
fn flowctl_on_a_terminal(dir: &Path, endpoint: &str, args: &[&str]) -> (i32, String) {
    const SCRIPT: &str = r#"
import json, os, pty, sys
job = json.load(sys.stdin)
env = {k: v for k, v in os.environ.items() if k not in job["cleared"]}
env["CARGO_TARGET_DIR"] = job["target"]
env["TERM"] = "xterm"
pid, fd = pty.fork()
if pid == 0:
    os.execve(job["argv"][0], job["argv"], env)
seen = b""
while True:
    try:
        data = os.read(fd, 65536)
    except OSError:
        break
    if not data:
        break
    seen += data
_, status = os.waitpid(pid, 0)
print(json.dumps({"code": os.waitstatus_to_exitcode(status), "seen": seen.decode("utf-8", "replace")}))
"#;
    let command = flowctl_command(dir, Some(endpoint), args);
    let argv: Vec<String> = std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let job = json!({ "argv": argv, "target": target_dir(), "cleared": CLEARED_ENV });
    let answer = boto3(SCRIPT, &job);
    (
        answer["code"].as_i64().unwrap() as i32,
        answer["seen"].as_str().unwrap().to_string(),
    )
}

fn show(out: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(out: Output) -> Output {
    assert!(out.status.success(), "flowctl failed:\n{}", show(&out));
    out
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", show(out)))
}

/// Everything tagged `flowctl:project=<project>` in moto, read with boto3.
fn deployed(moto: &Moto, project: &str) -> Value {
    const SCRIPT: &str = r#"
import json, sys, urllib.parse
import boto3
job = json.load(sys.stdin)
kw = dict(endpoint_url=job["endpoint"], region_name=job["region"], aws_access_key_id="testing", aws_secret_access_key="testing")
lam, sfn, iam = boto3.client("lambda", **kw), boto3.client("stepfunctions", **kw), boto3.client("iam", **kw)
ours = lambda tags: tags.get("flowctl:project") == job["project"]
# Other tests deploy other projects to the same moto at the same time: skip what is not
# named for this project, and what another test deletes between a list and a read.
mine = lambda name: name.startswith(job["project"] + "-")
def gone(call):
    try:
        return call()
    except Exception as e:
        if type(e).__name__ in ("ResourceNotFoundException", "NoSuchEntityException", "StateMachineDoesNotExist"):
            return None
        raise
doc = lambda d: d if isinstance(d, dict) else json.loads(urllib.parse.unquote(d))
out = {"functions": {}, "machines": {}, "roles": {}}
for page in lam.get_paginator("list_functions").paginate():
    for f in page["Functions"]:
        tags = mine(f["FunctionName"]) and gone(lambda: lam.list_tags(Resource=f["FunctionArn"]).get("Tags", {}))
        if tags and ours(tags):
            out["functions"][f["FunctionName"]] = {
                "arn": f["FunctionArn"], "runtime": f.get("Runtime"), "handler": f.get("Handler"),
                "code_sha256": f["CodeSha256"], "memory": f["MemorySize"], "timeout": f["Timeout"],
                "env": f.get("Environment", {}).get("Variables", {}), "role": f["Role"],
                "architectures": f.get("Architectures"), "tags": tags}
for m in sfn.list_state_machines()["stateMachines"]:
    listed = mine(m["name"]) and gone(lambda: sfn.list_tags_for_resource(resourceArn=m["stateMachineArn"])["tags"])
    tags = {t["key"]: t["value"] for t in (listed or [])}
    if ours(tags):
        d = sfn.describe_state_machine(stateMachineArn=m["stateMachineArn"])
        out["machines"][m["name"]] = {"arn": m["stateMachineArn"], "definition": json.loads(d["definition"]),
                                      "role": d["roleArn"], "type": d["type"], "tags": tags,
                                      "logging": d.get("loggingConfiguration")}
for r in iam.list_roles()["Roles"]:
    listed = mine(r["RoleName"]) and gone(lambda: iam.list_role_tags(RoleName=r["RoleName"])["Tags"])
    tags = {t["Key"]: t["Value"] for t in (listed or [])}
    if ours(tags):
        policies = {p: doc(iam.get_role_policy(RoleName=r["RoleName"], PolicyName=p)["PolicyDocument"])
                    for p in iam.list_role_policies(RoleName=r["RoleName"])["PolicyNames"]}
        out["roles"][r["RoleName"]] = {"arn": r["Arn"], "trust": doc(r["AssumeRolePolicyDocument"]),
                                       "policies": policies, "tags": tags}
logs = boto3.client("logs", **kw)
out["log_groups"] = [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/aws/vendedlogs/states/" + job["project"] + "-")["logGroups"]]
print(json.dumps(out))
"#;
    boto3(
        SCRIPT,
        &json!({ "endpoint": moto.endpoint, "region": REGION, "project": project }),
    )
}

/// Runs a boto3 `script` against moto with `job` on its stdin; its stdout as JSON.
fn boto3(script: &str, job: &Value) -> Value {
    let mut child = Command::new(python())
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the test Python runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(job.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "boto3 against moto failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Changes a deployed function's timeout behind flowctl's back, as
/// `aws lambda update-function-configuration --timeout` would.
fn change_timeout(moto: &Moto, function: &str, seconds: u32) {
    const SCRIPT: &str = r#"
import json, sys
import boto3
job = json.load(sys.stdin)
lam = boto3.client("lambda", endpoint_url=job["endpoint"], region_name=job["region"], aws_access_key_id="testing", aws_secret_access_key="testing")
answer = lam.update_function_configuration(FunctionName=job["function"], Timeout=job["seconds"])
print(json.dumps({"timeout": answer["Timeout"]}))
"#;
    let job = json!({ "endpoint": moto.endpoint, "region": REGION, "function": function, "seconds": seconds });
    assert_eq!(boto3(SCRIPT, &job)["timeout"], seconds);
}

fn assert_nothing_tagged(state: &Value) {
    for kind in ["functions", "machines", "roles"] {
        assert_eq!(state[kind], json!({}), "{kind} left: {state:#}");
    }
}

fn lambda_arn(name: &str) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}")
}

fn build_record(project: &str) -> Value {
    let path = target_dir()
        .join("flowctl")
        .join(project)
        .join("build.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The built document of `flow` with its placeholders resolved as a deploy must resolve them.
fn resolved_asl(project: &str, flow: &str) -> Value {
    let path = target_dir()
        .join("flowctl")
        .join(project)
        .join("flows")
        .join(format!("{flow}.asl.json"));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    flowctl_lang::asl::resolve_units(&doc, |unit| Some(lambda_arn(&format!("{project}-{unit}"))))
        .unwrap()
}

/// Checks every resource of a deployed copy of the booking example against its build.
fn assert_booking_deployed(state: &Value, project: &str, functions: &[&str], flows: &[&str]) {
    let record = build_record(project);
    let names: Vec<String> = functions.iter().map(|f| format!("{project}-{f}")).collect();
    let mut deployed: Vec<&String> = state["functions"].as_object().unwrap().keys().collect();
    deployed.sort();
    let mut expected = names.clone();
    expected.sort();
    assert_eq!(deployed, expected.iter().collect::<Vec<_>>(), "{state:#}");
    for unit in record["units"].as_array().unwrap() {
        let unit_name = unit["name"].as_str().unwrap();
        let f = &state["functions"][format!("{project}-{unit_name}")];
        assert_eq!(f["runtime"], "provided.al2023");
        assert_eq!(f["handler"], "bootstrap");
        assert_eq!(f["code_sha256"], unit["code_sha256"], "{unit_name}");
        assert_eq!(f["memory"], unit["memory"]);
        assert_eq!(f["timeout"], unit["timeout"]);
        assert_eq!(f["env"], unit["env"]);
        assert_eq!(f["architectures"], json!(["x86_64"]));
        assert_eq!(
            f["role"],
            format!("arn:aws:iam::{ACCOUNT}:role/{project}-lambda-role")
        );
        assert_eq!(
            f["tags"],
            json!({ "flowctl:project": project, "flowctl:unit": unit_name })
        );
    }
    let roles = &state["roles"];
    let mut arns: Vec<String> = names.iter().map(|n| lambda_arn(n)).collect();
    arns.sort();
    let sfn = &roles[format!("{project}-sfn-role")];
    assert_eq!(
        sfn["trust"]["Statement"][0]["Principal"]["Service"],
        "states.amazonaws.com"
    );
    assert_eq!(
        sfn["policies"]["flowctl"]["Statement"][0]["Action"],
        "lambda:InvokeFunction"
    );
    assert_eq!(
        sfn["policies"]["flowctl"]["Statement"][0]["Resource"],
        json!(arns),
        "exactly the project's functions"
    );
    let lambda = &roles[format!("{project}-lambda-role")];
    assert_eq!(
        lambda["trust"]["Statement"][0]["Principal"]["Service"],
        "lambda.amazonaws.com"
    );
    assert!(lambda["policies"]["flowctl"]["Statement"][0]["Action"]
        .to_string()
        .contains("logs:PutLogEvents"));
    assert_eq!(lambda["tags"], json!({ "flowctl:project": project }));
    let mut machines: Vec<&String> = state["machines"].as_object().unwrap().keys().collect();
    machines.sort();
    let mut expected: Vec<String> = flows.iter().map(|f| format!("{project}-{f}")).collect();
    expected.sort();
    assert_eq!(machines, expected.iter().collect::<Vec<_>>());
    for flow in flows {
        let m = &state["machines"][format!("{project}-{flow}")];
        assert_eq!(
            m["definition"],
            resolved_asl(project, flow),
            "{flow}: the built ASL with ARNs resolved"
        );
        assert_eq!(
            m["type"],
            if *flow == "Reprice" && project.contains("express") {
                "EXPRESS"
            } else {
                "STANDARD"
            }
        );
        assert_eq!(
            m["role"],
            format!("arn:aws:iam::{ACCOUNT}:role/{project}-sfn-role")
        );
        assert_eq!(
            m["tags"],
            json!({ "flowctl:project": project, "flowctl:flow": flow })
        );
    }
}

/// The booking example's Lambda units, as `flowctl plan` places its seven functions:
/// everything but ProcessPayment (`isolate: true`) shares `reservations`.
const ALL_UNITS: [&str; 2] = ["reservations", "ProcessPayment"];

/// Queues answers for the next Lambda invocations on moto (its Lambda without Docker
/// answers from this queue, else echoes the payload).
fn queue_lambda_answers(moto: &Moto, answers: &[Value]) {
    let job = json!({
        "url": format!("{}/moto-api/static/lambda-simple/response", moto.endpoint),
        "body": { "results": answers.iter().map(Value::to_string).collect::<Vec<_>>(), "region": REGION },
    });
    let script = "import json, sys, urllib.request\n\
                  job = json.load(sys.stdin)\n\
                  req = urllib.request.Request(job['url'], data=json.dumps(job['body']).encode(), \
                  headers={'Content-Type': 'application/json'}, method='POST')\n\
                  urllib.request.urlopen(req, timeout=10).read()\n";
    let mut child = Command::new(python())
        .args(["-c", script])
        .stdin(Stdio::piped())
        .spawn()
        .expect("the test Python runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(job.to_string().as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "moto took the answers");
}

#[test]
fn booking_deploys_redeploys_without_writes_updates_one_function_prunes_and_is_destroyed() {
    let moto = Moto::shared();
    let proxy = Proxy::start(&moto.endpoint);
    let project = "deploye2e";
    let dir = booking_copy(project);
    let at = proxy.endpoint.as_str();

    // The plan of a first deploy: everything to create, and no write to get it.
    let plan = stdout_json(&ok(flowctl(
        &dir,
        at,
        &["--output", "json", "deploy", "--dry-run"],
    )));
    // Two roles, two Lambda units, two state machines.
    assert_eq!(plan["summary"]["create"], 6, "{plan:#}");
    assert_eq!(
        proxy::mutations(&proxy.take()),
        Vec::<String>::new(),
        "--dry-run writes nothing"
    );

    let first = ok(flowctl(&dir, at, &["deploy"]));
    // Not on a terminal: plain lines, one per step, and no terminal control codes.
    let lines = String::from_utf8_lossy(&first.stderr).into_owned();
    assert!(lines.contains("[6/6]"), "{}", show(&first));
    assert!(
        !lines.contains('\x1b') && !lines.contains('\r'),
        "{lines:?}"
    );
    assert_booking_deployed(
        &deployed(moto, project),
        project,
        &ALL_UNITS,
        &["Booking", "Reprice"],
    );
    proxy.take();

    // A second deploy of the unchanged project makes no mutating request.
    let again = ok(flowctl(&dir, at, &["--output", "json", "deploy"]));
    let recorded = proxy.take();
    assert_eq!(
        proxy::mutations(&recorded),
        Vec::<String>::new(),
        "{recorded:#?}"
    );
    assert_eq!(stdout_json(&again)["summary"]["unchanged"], 6);
    let status = stdout_json(&ok(flowctl(&dir, at, &["--output", "json", "status"])));
    assert_eq!(status["in_sync"], true, "{status:#}");

    // CI asks "is it deployed as built?": yes, and a deploy would change nothing.
    ok(flowctl(&dir, at, &["status", "--exit-code"]));
    ok(flowctl(&dir, at, &["deploy", "--dry-run", "--exit-code"]));
    // A function's timeout changed behind flowctl's back: drift, which fails CI and names it.
    let reservations = format!("{project}-reservations");
    change_timeout(moto, &reservations, 29);
    let drifted = flowctl(&dir, at, &["status", "--exit-code"]);
    assert_eq!(drifted.status.code(), Some(1), "{}", show(&drifted));
    let line = String::from_utf8_lossy(&drifted.stdout)
        .lines()
        .find(|l| l.contains(&reservations))
        .map(str::to_string);
    assert!(
        line.as_deref()
            .is_some_and(|l| l.contains("drift") && l.contains("configuration")),
        "{}",
        show(&drifted)
    );
    let would = flowctl(&dir, at, &["deploy", "--dry-run", "--exit-code"]);
    assert_eq!(would.status.code(), Some(1), "{}", show(&would));
    // The next deploy puts it back, and CI is satisfied again. At a terminal it draws a live
    // bar saying what it is doing; each finished step still gets its line.
    let (code, seen) = flowctl_on_a_terminal(&dir, at, &["deploy"]);
    assert_eq!(code, 0, "{seen}");
    assert!(seen.contains("\x1b["), "no live bar drawn: {seen:?}");
    assert!(
        seen.contains(&format!("updating function {reservations}"))
            || seen.contains(&format!("waiting for {reservations}")),
        "the bar does not say what it waits for: {seen:?}"
    );
    assert!(
        seen.contains(&format!("[1/1] updated function {reservations}")),
        "{seen:?}"
    );
    assert_eq!(
        deployed(moto, project)["functions"][&reservations]["timeout"],
        10
    );
    ok(flowctl(&dir, at, &["status", "--exit-code"]));
    proxy.take();

    // Remote invocation. moto's Lambda echoes its payload: Reprice's calls go to the shared
    // unit, so each answer is the echo of its envelope.
    let reprice = json!({"guest": "g-1", "nights": ["2026-01-01", "2026-01-02"], "currency": "EUR", "delay_seconds": 0, "channel": "none"});
    let out = ok(flowctl(
        &dir,
        at,
        &[
            "--output",
            "json",
            "invoke",
            "Reprice",
            "--target",
            "localstack",
            "--input",
            &reprice.to_string(),
        ],
    ));
    let execution = stdout_json(&out);
    assert_eq!(execution["status"], "SUCCEEDED", "{execution:#}");
    let call = |function: &str, payload: Value| json!({"function": function, "payload": payload});
    assert_eq!(
        execution["output"],
        json!({"notified": "none", "quotes": [
            call("LookupLoyalty", json!({"guest": "g-1"})),
            [call("QuoteRate", json!({"night": "2026-01-01", "currency": "EUR"})),
             call("QuoteRate", json!({"night": "2026-01-02", "currency": "EUR"}))]
        ]})
    );
    // Booking runs two fused chains and ProcessPayment: three Lambda invocations, answered
    // in order from moto's queue with what the functions would answer.
    let stay = json!({"id": "b-1", "nights": 2, "amount": 120, "arrival": "2026-01-01",
                      "currency": "EUR", "guest": "vip-ann"});
    let rate = json!({"night": "2026-01-01", "currency": "EUR", "rate": 110.0});
    let tier = json!({"guest": "vip-ann", "tier": "gold", "discount": 0.15});
    let held =
        json!({"id": "b-1", "nights": 2, "status": "available", "room": 101, "hold": "hold-b-1"});
    let paid = json!({"id": "b-1", "amount": 120.0, "status": "charged", "transaction": "txn-b-1"});
    let confirmed = json!({"id": "b-1", "room": 101, "transaction": "txn-b-1", "status": "confirmed", "reference": "conf-b-1"});
    queue_lambda_answers(
        moto,
        &[
            json!({"results": {"rate": rate, "tier": tier, "reservation": held}, "complete": true}),
            paid.clone(),
            json!({"results": {"confirmation": confirmed}, "complete": true}),
        ],
    );
    let out = ok(flowctl(
        &dir,
        at,
        &[
            "--output",
            "json",
            "invoke",
            "Booking",
            "--target",
            "localstack",
            "--input",
            &stay.to_string(),
        ],
    ));
    let execution = stdout_json(&out);
    assert_eq!(execution["status"], "SUCCEEDED", "{execution:#}");
    assert_eq!(
        execution["output"],
        json!({"ok": true, "reservation": held, "payment": paid, "confirmation": confirmed,
               "rate": rate, "tier": tier})
    );
    // No room: the failure, its cause and the failing state.
    queue_lambda_answers(
        moto,
        &[json!({"results": {"rate": rate, "tier": tier,
                   "reservation": {"id": "b-1", "nights": 2, "status": "unavailable"}},
                   "complete": true})],
    );
    let out = flowctl(
        &dir,
        at,
        &[
            "invoke",
            "Booking",
            "--target",
            "localstack",
            "--input",
            &stay.to_string(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("NotAvailable") && stderr.contains("no rooms for these dates"),
        "{stderr}"
    );
    assert!(
        stderr.contains("in state `"),
        "the failing state is named: {stderr}"
    );
    // One function by its manifest key: its unit is called with the envelope naming it.
    let out = ok(flowctl(
        &dir,
        at,
        &[
            "--output",
            "json",
            "invoke",
            "--function",
            "ReserveAvailability",
            "--target",
            "localstack",
            "--input",
            r#"{"id": "b-2"}"#,
        ],
    ));
    assert_eq!(
        stdout_json(&out)["payload"],
        json!({"function": "ReserveAvailability", "payload": {"id": "b-2"}})
    );
    assert_eq!(
        stdout_json(&out)["function"],
        format!("{project}-reservations")
    );
    proxy.take();

    // The reservations' table changes: only their unit is updated.
    edit_manifest(&dir, |m| {
        m.replace("env: { TABLE: bookings }", "env: { TABLE: bookings-v2 }")
    });
    let plan = stdout_json(&ok(flowctl(
        &dir,
        at,
        &["--output", "json", "deploy", "--dry-run"],
    )));
    assert_eq!(plan["summary"]["update"], 1, "{plan:#}");
    // status compares with the local build, which the dry run brought up to date.
    let status = stdout_json(&ok(flowctl(&dir, at, &["--output", "json", "status"])));
    assert_eq!(status["in_sync"], false);
    let drift: Vec<&Value> = status["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "drift")
        .collect();
    assert_eq!(drift.len(), 1, "{status:#}");
    assert_eq!(drift[0]["changes"], json!(["configuration"]));
    proxy.take();
    ok(flowctl(&dir, at, &["deploy"]));
    let writes = proxy::mutations(&proxy.take());
    assert!(!writes.is_empty());
    assert!(
        writes
            .iter()
            .all(|w| w.contains(&format!("{project}-reservations"))),
        "only the reservations unit is written: {writes:#?}"
    );
    let state = deployed(moto, project);
    assert_eq!(
        state["functions"][format!("{project}-reservations")]["env"]["TABLE"],
        "bookings-v2"
    );
    assert_booking_deployed(&state, project, &ALL_UNITS, &["Booking", "Reprice"]);

    // The Reprice flow leaves the manifest: its state machine is kept without --prune (and
    // said so), deleted with it.
    edit_manifest(&dir, |m| {
        let mut out = String::new();
        let mut skip = false;
        for line in m.lines() {
            let top = line.starts_with("  ") && !line.starts_with("    ");
            if top {
                skip = line == "  Reprice:";
            } else if !line.starts_with(' ') {
                skip = false;
            }
            if !skip {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    });
    let kept = ok(flowctl(&dir, at, &["deploy"]));
    assert!(
        String::from_utf8_lossy(&kept.stderr).contains("--prune"),
        "{}",
        show(&kept)
    );
    assert_eq!(
        deployed(moto, project)["machines"]
            .as_object()
            .unwrap()
            .len(),
        2
    );
    let pruned = stdout_json(&ok(flowctl(
        &dir,
        at,
        &["--output", "json", "deploy", "--prune"],
    )));
    assert_eq!(pruned["summary"]["delete"], 1, "{pruned:#}");
    assert_booking_deployed(&deployed(moto, project), project, &ALL_UNITS, &["Booking"]);

    // destroy leaves nothing tagged for the project.
    ok(flowctl(&dir, at, &["destroy"]));
    assert_nothing_tagged(&deployed(moto, project));
    let nothing = stdout_json(&ok(flowctl(&dir, at, &["--output", "json", "destroy"])));
    assert_eq!(nothing["steps"], json!([]));
}

#[test]
fn an_endpoint_that_does_not_answer_is_an_environment_error() {
    let dir = booking_copy("deploydown");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = flowctl(&dir, &format!("http://127.0.0.1:{port}"), &["deploy"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("does not answer") && stderr.contains("localstack start"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("Compiling"),
        "the endpoint is checked before the build: {stderr}"
    );
}

#[test]
fn deploys_converge_through_throttling_server_errors_and_a_target_that_dies_half_way() {
    let moto = Moto::shared();
    let proxy = Proxy::start(&moto.endpoint);
    let project = "deployfaults";
    let dir = booking_copy(project);
    let at = proxy.endpoint.as_str();

    // Every third request is answered 500 or ThrottlingException: the SDK retries them.
    proxy.fail_every(3);
    ok(flowctl(&dir, at, &["deploy"]));
    proxy.fail_every(0);
    let recorded = proxy.take();
    assert!(
        recorded.iter().filter(|r| r.fault.is_some()).count() >= 5,
        "{recorded:#?}"
    );
    assert_booking_deployed(
        &deployed(moto, project),
        project,
        &ALL_UNITS,
        &["Booking", "Reprice"],
    );
    ok(flowctl(&dir, at, &["deploy"]));
    assert_eq!(
        proxy::mutations(&proxy.take()),
        Vec::<String>::new(),
        "converged"
    );

    // The target goes away in the middle of a deploy: the failed step names the resource
    // and the error, exit 1; the next deploy finishes the job and leaves nothing half-made.
    ok(flowctl(&dir, at, &["destroy"]));
    assert_nothing_tagged(&deployed(moto, project));
    proxy.take();
    proxy.break_after(12, 1_000_000);
    let broken = flowctl(&dir, at, &["deploy"]);
    proxy.heal();
    assert_eq!(broken.status.code(), Some(1), "{}", show(&broken));
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(
        stderr.contains("error: ")
            && stderr.contains(&format!("{project}-"))
            && stderr.contains("failed"),
        "{stderr}"
    );
    let half = deployed(moto, project);
    assert!(
        half["machines"].as_object().unwrap().is_empty(),
        "no state machine before its functions: {half:#}"
    );
    ok(flowctl(&dir, at, &["deploy"]));
    assert_booking_deployed(
        &deployed(moto, project),
        project,
        &ALL_UNITS,
        &["Booking", "Reprice"],
    );
    proxy.take();
    ok(flowctl(&dir, at, &["deploy"]));
    assert_eq!(
        proxy::mutations(&proxy.take()),
        Vec::<String>::new(),
        "converged after the interrupted deploy"
    );
    ok(flowctl(&dir, at, &["destroy"]));
    assert_nothing_tagged(&deployed(moto, project));
}

/// A deploy killed with SIGKILL while a step is in flight (every request slowed by the proxy,
/// the kill sent while a function's creation is on its way), then run again: the second run
/// converges, and nothing is left half-made — every function tagged, every state machine
/// pointing at functions that exist.
#[test]
fn a_deploy_killed_mid_step_is_finished_by_the_next_one() {
    let moto = Moto::shared();
    let proxy = Proxy::start(&moto.endpoint);
    let project = "deploykill";
    let dir = booking_copy(project);
    let at = proxy.endpoint.as_str();
    ok(flowctl_command(&dir, None, &["build"])
        .output()
        .expect("flowctl runs"));
    proxy.take();

    proxy.latency(700);
    let mut deploy = flowctl_command(&dir, Some(at), &["deploy", "--no-build"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("flowctl runs");
    let started = std::time::Instant::now();
    let mut seen = Vec::new();
    let creating = loop {
        seen.extend(proxy.take());
        if let Some(r) = seen
            .iter()
            .find(|r| r.operation.starts_with("POST /2015-03-31/functions"))
        {
            break r.clone();
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "no function creation seen: {seen:#?}"
        );
        assert!(
            deploy.try_wait().unwrap().is_none(),
            "the deploy ended early: {seen:#?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    // The request is inside the proxy's delay: the kill lands with the step in flight.
    std::thread::sleep(std::time::Duration::from_millis(350));
    deploy.kill().expect("SIGKILL");
    let status = deploy.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "killed mid-step ({creating:?})"
    );
    proxy.heal();
    proxy.latency(0);

    let half = deployed(moto, project);
    assert!(
        half["machines"].as_object().unwrap().is_empty(),
        "no state machine before its functions: {half:#}"
    );
    ok(flowctl(&dir, at, &["deploy", "--no-build"]));
    assert_booking_deployed(
        &deployed(moto, project),
        project,
        &ALL_UNITS,
        &["Booking", "Reprice"],
    );
    proxy.take();
    ok(flowctl(&dir, at, &["deploy", "--no-build"]));
    assert_eq!(
        proxy::mutations(&proxy.take()),
        Vec::<String>::new(),
        "converged after the killed deploy"
    );
    ok(flowctl(&dir, at, &["destroy"]));
    assert_nothing_tagged(&deployed(moto, project));
}

#[test]
fn an_express_flow_is_deployed_with_its_log_group_and_logging() {
    let moto = Moto::shared();
    let project = "deployexpress";
    let dir = booking_copy(project);
    edit_manifest(&dir, |m| {
        m.replace(
            "reprice.flow\n    kind: standard",
            "reprice.flow\n    kind: express",
        )
    });
    let at = moto.endpoint.as_str();
    ok(flowctl(&dir, at, &["deploy"]));
    let state = deployed(moto, project);
    assert_booking_deployed(&state, project, &ALL_UNITS, &["Booking", "Reprice"]);
    let group = format!("/aws/vendedlogs/states/{project}-Reprice");
    assert_eq!(state["log_groups"], json!([group]));
    let logging = &state["machines"][format!("{project}-Reprice")]["logging"];
    assert_eq!(logging["level"], "ERROR", "{logging:#}");
    assert_eq!(
        logging["destinations"][0]["cloudWatchLogsLogGroup"]["logGroupArn"],
        format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:*")
    );
    let policy = &state["roles"][format!("{project}-sfn-role")]["policies"]["flowctl"];
    assert!(
        policy.to_string().contains("logs:CreateLogDelivery"),
        "{policy:#}"
    );
    // moto has no StartSyncExecution (it answers 500, "not implemented"), so the synchronous
    // run of an express flow is not exercised here; the request reaching moto at all shows
    // the `sync-` host prefix was dropped for the custom endpoint.
    let out = flowctl(
        &dir,
        at,
        &[
            "invoke",
            "Reprice",
            "--target",
            "localstack",
            "--input",
            "{}",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("StartSyncExecution failed: HTTP 500"),
        "{stderr}"
    );
    ok(flowctl(&dir, at, &["destroy"]));
    let state = deployed(moto, project);
    assert_nothing_tagged(&state);
    assert_eq!(
        state["log_groups"],
        json!([group]),
        "logs outlive the deployment"
    );
}

/// Benchmarks for BENCHMARKS.md (run with `cargo test -p flowctl-tests --test deploy --
/// --ignored --nocapture bench`): a no-op redeploy of the example against moto, and a
/// generated 20-function project deployed one resource at a time and 8 at a time.
#[test]
#[ignore = "a benchmark: run it on purpose"]
fn bench_deploy() {
    use std::time::Instant;
    let moto = Moto::shared();
    let at = moto.endpoint.as_str();

    let example = repo_root().join("examples/booking");
    ok(flowctl(&example, at, &["deploy"]));
    // Timed without the build (`--no-build`): the target dir is shared, and cargo's lock
    // waits on other builds would be measured too; the build's own no-op is in BENCHMARKS.md.
    let mut noop = Vec::new();
    for _ in 0..7 {
        let started = Instant::now();
        ok(flowctl(&example, at, &["deploy", "--no-build"]));
        noop.push(started.elapsed().as_secs_f64());
    }
    noop.sort_by(f64::total_cmp);
    println!(
        "no-op redeploy of examples/booking (10 resources, --no-build): median {:.3} s, min {:.3} s, max {:.3} s",
        noop[3], noop[0], noop[6]
    );
    ok(flowctl(&example, at, &["destroy"]));

    // The events example (its webhook, its outbox's poller, three subscriptions).
    let events = events_cli::events_copy("benchevents");
    ok(flowctl(&events, at, &["deploy"]));
    let mut noop = Vec::new();
    for _ in 0..7 {
        let started = Instant::now();
        ok(flowctl(&events, at, &["deploy", "--no-build"]));
        noop.push(started.elapsed().as_secs_f64());
    }
    noop.sort_by(f64::total_cmp);
    let plan = stdout_json(&ok(flowctl(
        &events,
        at,
        &["--output", "json", "deploy", "--dry-run", "--no-build"],
    )));
    println!(
        "no-op redeploy of examples/booking-events ({} resources, --no-build): median {:.3} s, min {:.3} s, max {:.3} s",
        plan["steps"].as_array().map_or(0, Vec::len),
        noop[3],
        noop[0],
        noop[6]
    );
    ok(flowctl(&events, at, &["destroy"]));

    // 20 functions in one package of their own (its own cargo workspace, the shared target dir).
    let root = repo_root().join("target/flowctl-tests/bench20");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("src")).unwrap();
    let shim = repo_root().join("lambda-shim");
    std::fs::write(
        root.join("Cargo.toml"),
        format!(
            "[workspace]\n\n[package]\nname = \"bench-fns\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n[dependencies]\nflowctl-shim = {{ path = {:?} }}\nserde_json = \"1\"\ntokio = {{ version = \"1\", features = [\"macros\", \"rt\"] }}\n",
            shim.to_str().unwrap()
        ),
    )
    .unwrap();
    std::fs::copy(repo_root().join("Cargo.lock"), root.join("Cargo.lock")).unwrap();
    std::fs::write(
        root.join("src/main.rs"),
        "//! Twenty echo functions.\nasync fn echo(v: serde_json::Value) -> Result<serde_json::Value, flowctl_shim::Error> {\n    Ok(v)\n}\n\n#[tokio::main(flavor = \"current_thread\")]\nasync fn main() {\n    let mut registry = flowctl_shim::Registry::new();\n    for i in 1..=20 {\n        registry = registry.function(format!(\"F{i:02}\"), echo);\n    }\n    registry.run().await;\n}\n",
    )
    .unwrap();
    let functions: String = (1..=20)
        .map(|i| format!("  F{i:02}:\n    package: bench-fns\n"))
        .collect();
    // Straight to moto, then through a proxy adding 50 ms per request (a round trip to a
    // region), where waiting on the network dominates as it does on AWS.
    let proxy = Proxy::start(&moto.endpoint);
    proxy.latency(50);
    let mut times = Vec::new();
    for (project, concurrency, at) in [
        ("benchseq", "1", at),
        ("benchpar", "8", at),
        ("benchseq50", "1", proxy.endpoint.as_str()),
        ("benchpar50", "8", proxy.endpoint.as_str()),
    ] {
        let dir = root.join(project);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("flowctl.yaml"),
            format!("project: {project}\nfunctions:\n{functions}deploy:\n  region: {REGION}\n"),
        )
        .unwrap();
        ok(flowctl(&dir, at, &["deploy", "--dry-run"])); // builds, so the timing below is the deploy
        let started = Instant::now();
        ok(flowctl(
            &dir,
            at,
            &["deploy", "--no-build", "--concurrency", concurrency],
        ));
        times.push((project, concurrency, started.elapsed().as_secs_f64()));
        ok(flowctl(&dir, at, &["destroy"]));
    }
    for (project, concurrency, secs) in &times {
        println!("first deploy of 20 functions + 2 roles ({project}, --concurrency {concurrency}): {secs:.2} s");
    }
}
