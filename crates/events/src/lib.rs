//! flowctl's events runtime: changes from other domains (webhooks, schedules, polled
//! functions and tables, brokers) turned into ordered invocations of flows and functions.
//!
//! The pipeline, one module per step: a source hands an [`Incoming`] message to the
//! [`Intake`], which reads its type, id and key (`event`) and appends it to the durable
//! [`Log`] (`log`: SQLite, group commit) together with one delivery per subscription that
//! takes it (`routes`); after the commit the source acknowledges, and the dispatcher
//! (`dispatch`) runs each subscription's deliveries per key in order through an [`Invoke`]
//! implementation. `query` reads the log for `flowctl events`. `source` holds the sources
//! themselves. The semantics are in `docs/events.md`.

pub mod dispatch;
pub mod event;
pub mod intake;
pub mod log;
pub mod query;
pub mod routes;
pub mod source;
pub mod time;

pub use dispatch::{Failure, Invocation, Invoke, Observe, Quiet, Report, Runtime, What};
pub use event::{Incoming, NewEvent};
pub use intake::{Intake, Intook};
pub use log::{Accepted, Log, LogError};
pub use routes::Routes;
