//! The facts flowctl's compiler (`flowctl-lang`), engine (`flowctl-engine`) and Lambda shim
//! (`flowctl-shim`) must agree on, written once: Step Functions' error names, quotas and
//! resource ARNs ([`sfn`]), the envelopes a unit serving several functions reads
//! ([`envelope`]), the error a function answers with ([`Error`]), and the environment
//! variable that tells a unit which functions it serves ([`FUNCTIONS_ENV`]), how deep
//! JSON may nest to be read back ([`MAX_JSON_DEPTH`]), the calendar arithmetic behind
//! every timestamp ([`calendar`]), and what deploy and the deployed subscriber agree on
//! ([`subscriber`]: its configuration, its queue's messages, its table's items), how a
//! message becomes an event ([`event`]: locators, type, id and key) and how a webhook's
//! signature is checked ([`signature`]), which `flowctl dev` and the deployed ingest share,
//! and how the polled sources read ([`poll`]: a poll function's reply, a PostgreSQL
//! outbox's SQL and visibility rule), which `flowctl dev` and the deployed poller share.
//!
//! Architecture Invariant: this crate depends on `serde`, `serde_json`, `strsim`, `sha2` and
//! `hmac` only, so the compiler and the engine get the shim's envelope format without
//! `lambda_runtime`, and nothing here reaches tokio or the AWS SDK.

pub mod calendar;
pub mod envelope;
mod error;
pub mod event;
mod json;
pub mod ko;
pub mod poll;
pub mod sfn;
pub mod signature;
pub mod subscriber;
mod suggest;

pub use error::{name_of_type, names, Error};
pub use json::{json_depth, MAX_JSON_DEPTH};
pub use suggest::did_you_mean;

/// The environment variable flowctl sets on a unit: the comma-separated names of the
/// functions this process serves. Unset (or empty): every registered function.
pub const FUNCTIONS_ENV: &str = "FLOWCTL_FUNCTIONS";
