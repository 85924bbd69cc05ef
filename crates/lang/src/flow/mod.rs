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

use crate::diagnostic::Diagnostic;

/// A flow source through the whole front-end, as `flowctl check` sees it: parsed, then checked
/// against `known` when it parsed without errors (checking a file with syntax errors would
/// only report their knock-on effects). The IR is there only for a flow without errors.
pub fn parse_and_check(
    source: &str,
    known: &KnownFunctions,
) -> (Option<ast::FlowFile>, Option<ir::Flow>, Vec<Diagnostic>) {
    let (ast, diags) = parse(source);
    let Some(file) = &ast else {
        return (ast, None, diags);
    };
    let (ir, check_diags) = check(file, known);
    if diags.is_empty() {
        (ast, ir, check_diags)
    } else {
        (ast, None, diags)
    }
}

/// Test helper: `src` parsed and checked against `known`, or a panic listing the problems.
#[cfg(test)]
pub(crate) fn checked(src: &str, known: &KnownFunctions) -> ir::Flow {
    let (file, diags) = parse(src);
    assert!(diags.is_empty(), "parse errors: {diags:#?}");
    let (flow, diags) = check(&file.expect("parsed"), known);
    assert!(diags.is_empty(), "check errors: {diags:#?}");
    flow.expect("checked")
}
