//! A moto server for the tests: on a free loopback port, configured as the design asks
//! (`{"lambda":{"use_docker":false},"stepfunctions":{"execute_state_machine":true}}`),
//! driven in batches by `tests/support/moto_driver.py` (boto3), shared by the tests of one
//! test binary (`Moto::shared`).
//!
//! The server is `tests/support/moto_server.py`, which exits when its standard input closes:
//! this process holds that pipe, so the server never outlives the test binary, even when the
//! shared instance is never dropped.

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

pub struct Moto {
    child: Child,
    stdin: Option<ChildStdin>,
    pub port: u16,
    pub endpoint: String,
    pub log: PathBuf,
}

fn support_dir() -> PathBuf {
    super::repo_root().join("tests/support")
}

impl Moto {
    /// Starts a server and posts the test configuration; panics when it cannot.
    pub fn start() -> Moto {
        let python = super::python();
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let log = std::env::temp_dir().join(format!("flowctl-moto-{port}.log"));
        let log_file = std::fs::File::create(&log).expect("a log file for moto");
        let mut child = Command::new(&python)
            .arg(support_dir().join("moto_server.py"))
            .arg(port.to_string())
            .env("MOTO_PORT", port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start moto with {}: {e}", python.display()));
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let stdin = child.stdin.take();
        let mut moto = Moto {
            child,
            stdin,
            port,
            endpoint: format!("http://127.0.0.1:{port}"),
            log,
        };
        match rx.recv_timeout(Duration::from_secs(90)) {
            Ok(line) if line.trim() == "ready" => {}
            other => {
                let _ = moto.child.kill();
                let log = std::fs::read_to_string(&moto.log).unwrap_or_default();
                panic!("moto did not start on port {port} ({other:?}); its log:\n{log}");
            }
        }
        let config = moto.driver("config", &json!({ "endpoint": moto.endpoint }));
        assert_eq!(
            config["status"], 201,
            "moto refused the test configuration: {config}"
        );
        moto
    }

    /// One server for the whole test binary.
    pub fn shared() -> &'static Moto {
        static SHARED: OnceLock<Moto> = OnceLock::new();
        SHARED.get_or_init(Moto::start)
    }

    /// Runs `moto_driver.py COMMAND` with `job` (plus the endpoint) and returns its answer.
    pub fn driver(&self, command: &str, job: &Value) -> Value {
        let mut job = job.clone();
        job["endpoint"] = json!(self.endpoint);
        let mut child = Command::new(super::python())
            .arg(support_dir().join("moto_driver.py"))
            .arg(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the test Python runs");
        child
            .stdin
            .take()
            .expect("piped")
            .write_all(job.to_string().as_bytes())
            .expect("the driver reads its job");
        let out = child.wait_with_output().expect("the driver finishes");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "moto_driver.py {command} failed ({}):\n{stderr}",
            out.status
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "moto_driver.py {command} answered no JSON ({e}):\n{}\n{stderr}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Creates one Lambda function per unit (`<prefix>-<unit>`) and returns unit → ARN.
    pub fn lambdas(
        &self,
        region: &str,
        prefix: &str,
        units: &BTreeSet<String>,
    ) -> BTreeMap<String, String> {
        let answer = self.driver(
            "lambdas",
            &json!({ "region": region, "prefix": prefix, "units": units }),
        );
        serde_json::from_value(answer).expect("unit → ARN")
    }

    /// Creates `machines` (name → definition text) and runs `executions` one at a time
    /// (see moto_driver.py for both shapes). Runs of concurrent tests take turns: Lambda
    /// responses queued by one (`lambda_results`) must not be consumed by another's calls.
    pub fn run(&self, region: &str, machines: &[(String, String)], executions: &[Value]) -> Value {
        static TURN: Mutex<()> = Mutex::new(());
        let _turn = TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let machines: Vec<Value> = machines
            .iter()
            .map(|(n, d)| json!({ "name": n, "definition": d }))
            .collect();
        self.driver(
            "run",
            &json!({ "region": region, "machines": machines, "executions": executions }),
        )
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        drop(self.stdin.take()); // the server exits on end of input…
        let _ = self.child.kill(); // …and is killed in case it does not
        let _ = self.child.wait();
    }
}
