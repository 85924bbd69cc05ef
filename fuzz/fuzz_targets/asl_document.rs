//! The engine never panics on an ASL document: any JSON is loaded, JSONata expressions and variables included (`fuzz/src/engine.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

// The other target's body is unused here.
#[allow(dead_code)]
#[path = "../src/engine.rs"]
mod engine;

fuzz_target!(|data: &[u8]| engine::asl_document(data));
