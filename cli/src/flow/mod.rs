//! The flow language front-end: `lexer` → `parser` (untyped `ast`) → `check` (checked `ir`).
//! Pure: nothing here reads files or talks to the network.

pub mod ast;
pub mod check;
pub mod fmt;
pub mod graph;
pub mod ir;
pub mod lexer;
pub mod parser;

pub use check::{check, KnownFunctions};
pub use parser::parse;

/// Test helper: `src` parsed and checked against `known`, or a panic listing the problems.
#[cfg(test)]
pub(crate) fn checked(src: &str, known: &KnownFunctions) -> ir::Flow {
    let (file, diags) = parse(src);
    assert!(diags.is_empty(), "parse errors: {diags:#?}");
    let (flow, diags) = check(&file.expect("parsed"), known);
    assert!(diags.is_empty(), "check errors: {diags:#?}");
    flow.expect("checked")
}
