//! The engine never panics on a JSONata expression: any text is parsed and, when it parses, evaluated (`fuzz/src/engine.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

// The other target's body is unused here.
#[allow(dead_code)]
#[path = "../src/engine.rs"]
mod engine;

fuzz_target!(|data: &[u8]| engine::jsonata(data));
