//! The unit binary as a command-line tool, for flowctl (which runs `describe` on every built
//! binary) and for authors debugging one function:
//!
//! | command | prints | exit |
//! | --- | --- | --- |
//! | `describe` | the registry as JSON (names, input/output JSON Schemas, properties, named types, shim version) | 0 |
//! | `describe --schema` | the JSON Schema of that document | 0 |
//! | `invoke NAME JSON` (`-` reads the JSON from stdin) | the result JSON on stdout | 0 |
//! | … when the function fails | `{"errorType", "errorMessage"}` on stderr | 1 |
//! | `help`, `-h`, `--help` | usage on stdout | 0 |
//! | anything else | usage on stderr | 2 |
//!
//! A registry with registration mistakes (a duplicate name, say) prints them and exits 1.

use crate::{describe_schema, Registry};
use serde_json::Value;
use std::io::Read;

/// The first arguments that make [`Registry::run`] a command-line tool even under Lambda.
pub const COMMANDS: &[&str] = &["describe", "invoke", "help", "-h", "--help"];

/// What a command printed, and its exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    fn ok(stdout: String) -> Outcome {
        Outcome {
            code: 0,
            stdout,
            stderr: String::new(),
        }
    }

    fn fail(code: i32, stderr: String) -> Outcome {
        Outcome {
            code,
            stdout: String::new(),
            stderr,
        }
    }
}

fn usage(program: &str) -> String {
    format!(
        "usage:\n  {program} describe            print the functions and their JSON Schemas\n  \
         {program} describe --schema   print the JSON Schema of `describe`'s output\n  \
         {program} invoke NAME JSON    call one function (JSON `-` reads standard input)\n\n\
         Under AWS Lambda (AWS_LAMBDA_RUNTIME_API set) it serves invocations instead.\n"
    )
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    text.push('\n');
    text
}

/// Runs one command; `stdin` is read only by `invoke NAME -`.
pub async fn main(registry: &Registry, args: &[String], stdin: &mut (dyn Read + Send)) -> Outcome {
    let program = std::env::args()
        .next()
        .and_then(|path| {
            std::path::Path::new(&path)
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "bootstrap".to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    if matches!(args.as_slice(), ["help" | "-h" | "--help"]) {
        return Outcome::ok(usage(&program));
    }
    let problems = registry.problems();
    let is_command = matches!(args.first(), Some(&"describe" | &"invoke"));
    if is_command && !problems.is_empty() {
        let mut text = String::new();
        for problem in problems {
            text.push_str(&format!("flowctl-shim: {problem}\n"));
        }
        return Outcome::fail(1, text);
    }
    match args.as_slice() {
        ["describe"] => match serde_json::to_value(registry.describe()) {
            Ok(description) => Outcome::ok(pretty(&description)),
            Err(error) => Outcome::fail(1, format!("flowctl-shim: describe: {error}\n")),
        },
        ["describe", "--schema"] => Outcome::ok(pretty(&describe_schema())),
        ["invoke", name, input] => {
            let text = if *input == "-" {
                let mut text = String::new();
                if let Err(error) = stdin.read_to_string(&mut text) {
                    return Outcome::fail(
                        2,
                        format!("flowctl-shim: invoke: cannot read standard input: {error}\n"),
                    );
                }
                text
            } else {
                input.to_string()
            };
            let input: Value = match serde_json::from_str(&text) {
                Ok(input) => input,
                Err(error) => {
                    return Outcome::fail(
                        2,
                        format!("flowctl-shim: invoke: the input is not JSON: {error}\n"),
                    )
                }
            };
            match registry.call(name, input).await {
                Ok(output) => Outcome::ok(pretty(&output)),
                Err(error) => Outcome::fail(1, pretty(&error.to_json())),
            }
        }
        _ => Outcome::fail(2, usage(&program)),
    }
}
