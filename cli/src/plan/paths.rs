//! The ways through a compiled flow, with the state transitions and Lambda invocations each
//! one costs.
