//! flowctl's front-end: pure functions from text to checked values and documents.
//!
//! The pipeline, one module per step: `manifest` (flowctl.yaml → `Manifest`) → `flow`
//! (lex → parse → check: source → AST → IR; also `fmt` and `graph`) → `plan` (colocation:
//! which functions share a Lambda unit) → `asl` (IR → Amazon States Language, fusion) →
//! `routes` (the ways through a compiled document, counted and priced); `events_graph` draws
//! the manifest's sources and subscriptions. Every stage reports
//! problems as `diagnostic::Diagnostic` values; `render` is the one place that turns them
//! into text or JSON.
//!
//! Architecture Invariant: no I/O, no async runtime, no AWS. Reading files is the caller's
//! job (`flowctl`'s `project`); the same inputs give the same outputs.

pub mod asl;
pub mod diagnostic;
pub mod events_graph;
pub mod flow;
#[doc(hidden)]
pub mod fuzzing;
pub mod manifest;
pub mod plan;
pub mod registry;
pub mod render;
pub mod routes;
pub mod types;
