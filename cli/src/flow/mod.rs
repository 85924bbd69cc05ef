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
