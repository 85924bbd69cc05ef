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
