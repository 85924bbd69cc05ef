//! Running functions locally as real processes: flowctl's own Lambda Runtime API
//! (`runtime_api`) and the pool of warm unit processes behind it (`process`), which the engine
//! uses as an `Invoker`; and hybrid runs, where some units are called on their deployed
//! Lambdas instead (`remote`).

pub mod by_function;
pub mod interpreters;
pub mod process;
pub mod remote;
pub mod runtime_api;
pub mod targets;

pub use by_function::ByFunction;
pub use process::{LocalOptions, LocalProcesses, UnitConfig};
pub use remote::{Hybrid, Placement};
pub use runtime_api::{Invocation, Outcome, RuntimeApi};
pub use targets::LocalTargets;
