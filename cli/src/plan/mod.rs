//! Colocation: which functions share a Lambda unit, and what that saves per execution.
//!
//! Architecture Invariant: pure — manifest and checked flows in, a plan out; no I/O.

pub mod paths;
