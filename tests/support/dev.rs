//! Running `flowctl dev` in a test: a free loopback port, the running process (stopped when
//! the test ends, even by a panic), and a plain HTTP POST to its webhooks.

use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// A loopback port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `flowctl dev`: SIGTERM (then SIGKILL after 30 s) when dropped.
pub struct Dev {
    child: Child,
    stderr: PathBuf,
}

impl Dev {
    /// Spawns `command` (its stderr already sent to the file `stderr`) and waits until it
    /// answers on `port` and, if given, `ready` exists; panics with its stderr when it exits
    /// or takes longer than `startup`.
    pub fn start(
        mut command: Command,
        port: u16,
        stderr: &Path,
        ready: Option<&Path>,
        startup: Duration,
    ) -> Dev {
        let child = command.spawn().expect("flowctl dev starts");
        let mut dev = Dev {
            child,
            stderr: stderr.to_path_buf(),
        };
        let deadline = Instant::now() + startup;
        while !(ready.is_none_or(Path::is_file) && TcpStream::connect(("127.0.0.1", port)).is_ok())
        {
            if let Some(status) = dev.child.try_wait().unwrap() {
                panic!(
                    "flowctl dev exited ({status}) before it was ready:\n{}",
                    dev.stderr()
                );
            }
            assert!(
                Instant::now() < deadline,
                "flowctl dev was not ready on {port} in {startup:?}:\n{}",
                dev.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        dev
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// SIGKILL, as a crash: nothing drains.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, as Ctrl-C: `dev` drains and exits (SIGKILL after 30 s). Its status.
    pub fn terminate(&mut self) -> ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return self.child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.terminate();
        }
    }
}

/// POSTs a JSON body to `path` on the loopback `port`: (status, JSON answer), or `None`
/// when nothing answers there.
pub fn post(port: u16, path: &str, body: &str, headers: &[(&str, String)]) -> Option<(u16, Value)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let answer = response
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    Some((status, answer))
}
