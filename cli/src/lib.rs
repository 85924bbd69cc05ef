//! flowctl: check, compile, build, deploy and run serverless flows.
//!
//! The pipeline, one module per step: `manifest` → `flow` (lex → parse → check) → `plan`
//! (colocation) → `asl` (codegen, fusion) → `engine` (runs the ASL) | `build` → `aws`
//! (deploy). `project` is the I/O edge that reads a project from disk; `render` turns
//! diagnostics into text or JSON; `cmd` (in the binary) holds one module per subcommand.

pub mod asl;
pub mod aws;
pub mod build;
pub mod diagnostic;
pub mod engine;
pub mod flow;
#[doc(hidden)]
pub mod fuzzing;
pub mod local;
pub mod manifest;
pub mod plan;
pub mod project;
pub mod render;
pub mod trace;
