//! The one place the commands write. Answers go to stdout ([`print`], [`json`]); progress,
//! notes and diagnostics go to stderr ([`note!`]). A reader that goes away — `flowctl plan
//! --output json | head -c 10` — is not a failure: writing stdout then returns [`ClosedPipe`],
//! which `main` turns into a quiet exit 0 (as ripgrep does), and stderr lines that cannot be
//! written are dropped. Nothing here can panic, where `println!` would.

use serde_json::Value;
use std::fmt;
use std::io::{self, Write as _};

/// Stdout's reader went away: stop quietly.
#[derive(Debug)]
pub struct ClosedPipe;

impl fmt::Display for ClosedPipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stdout was closed")
    }
}

impl std::error::Error for ClosedPipe {}

/// Writes `text` to stdout as is.
pub fn print(text: impl fmt::Display) -> anyhow::Result<()> {
    let mut stdout = io::stdout().lock();
    match write!(stdout, "{text}").and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Err(ClosedPipe.into()),
        Err(err) => Err(anyhow::Error::new(err).context("cannot write to stdout")),
    }
}

/// Writes `text` and a newline to stdout.
pub fn println(text: impl fmt::Display) -> anyhow::Result<()> {
    print(format_args!("{text}\n"))
}

/// Writes `value` to stdout as pretty JSON (the `--output json` answers).
pub fn json(value: &Value) -> anyhow::Result<()> {
    println(serde_json::to_string_pretty(value)?)
}

/// Writes to stderr; a failure to write is ignored (the work goes on, only its report is lost).
pub fn stderr(args: fmt::Arguments<'_>) {
    let _ = io::stderr().lock().write_fmt(args);
}

/// An error and its causes, each said once: `cannot read x: No such file or directory (os
/// error 2)`. Many errors already include their source in their own message (thiserror's
/// `{source}`); a cause whose text is already there is not repeated.
pub fn error_chain(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let message = cause.to_string();
        if message.is_empty() || text.contains(&message) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&message);
    }
    text
}

/// `eprintln!` that cannot panic: one line on stderr.
macro_rules! note {
    () => { $crate::cmd::out::stderr(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cmd::out::stderr(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprint!` that cannot panic.
macro_rules! note_raw {
    ($($arg:tt)*) => { $crate::cmd::out::stderr(format_args!($($arg)*)) };
}

pub(crate) use {note, note_raw};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cause_is_said_once() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let inner = format!("cannot read /nonexistent: {io}");
        let error = anyhow::Error::new(io).context(inner);
        assert_eq!(
            error_chain(&error),
            "cannot read /nonexistent: entity not found"
        );
        let layered = anyhow::anyhow!("connection refused")
            .context("the endpoint does not answer")
            .context("cannot deploy");
        assert_eq!(
            error_chain(&layered),
            "cannot deploy: the endpoint does not answer: connection refused"
        );
    }
}
