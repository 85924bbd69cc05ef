//! What a built function binary registers, asked through the shim's `describe` command, so
//! that a manifest function no package registers is a build error naming both — not a
//! `FunctionNotFound` at the first invocation.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a binary may take to describe itself.
const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(10);

/// The function names `binary describe` lists, or `None` when the binary does not answer
/// like a flowctl-shim binary (another Lambda runtime, or no answer in time): then nothing
/// can be checked.
pub fn registered(binary: &Path) -> Option<Vec<String>> {
    let mut child = Command::new(binary)
        .arg("describe")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env_remove(flowctl_protocol::FUNCTIONS_ENV)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() < DESCRIBE_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(5))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let output = child.wait_with_output().ok()?;
    if !output.status.success() {
        return None;
    }
    parse_describe(&output.stdout)
}

/// The names in a `describe` document (`{"shim": "flowctl-shim", "functions": [{"name"}…]}`).
pub fn parse_describe(bytes: &[u8]) -> Option<Vec<String>> {
    let doc: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    if doc.get("shim").and_then(|s| s.as_str()) != Some("flowctl-shim") {
        return None;
    }
    doc.get("functions")?
        .as_array()?
        .iter()
        .map(|f| f.get("name").and_then(|n| n.as_str()).map(str::to_string))
        .collect()
}

/// One message per manifest function of `package` that its binary does not register.
pub fn unregistered(package: &str, wanted: &[&str], registered: &[String]) -> Vec<String> {
    wanted
        .iter()
        .filter(|name| !registered.iter().any(|r| r == *name))
        .map(|name| {
            let near = flowctl_protocol::did_you_mean(name, registered.iter().map(String::as_str))
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            format!(
                "function `{name}`{near}: flowctl.yaml builds it from package `{package}`, whose binary does not register it (it registers {}); register it there with `Registry::new().function(\"{name}\", …)`, or correct the name or `package` in flowctl.yaml",
                if registered.is_empty() { "nothing".to_string() } else { registered.join(", ") }
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_names_of_a_shim_description() {
        let doc = br#"{"shim": "flowctl-shim", "version": "0.1.0", "functions": [{"name": "A"}, {"name": "B"}]}"#;
        assert_eq!(
            parse_describe(doc),
            Some(vec!["A".to_string(), "B".to_string()])
        );
        assert_eq!(
            parse_describe(br#"{"functions": [{"name": "A"}]}"#),
            None,
            "not the shim"
        );
        assert_eq!(parse_describe(b"usage: ..."), None);
    }

    #[test]
    fn names_the_function_the_package_and_a_near_miss() {
        let problems = unregistered(
            "pay",
            &["Charge", "Refund"],
            &["Charge".into(), "Refnud".into()],
        );
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("function `Refund` (did you mean `Refnud`?): flowctl.yaml builds it from package `pay`"), "{}", problems[0]);
    }

    #[test]
    fn a_binary_that_is_not_the_shim_is_not_checked() {
        assert_eq!(registered(Path::new("/bin/true")), None);
        assert_eq!(registered(Path::new("/no/such/binary")), None);
    }
}
