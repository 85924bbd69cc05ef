//! The flow pipeline never panics: parse any text, check whatever parses, plan and compile
//! (unfused and fused) whatever checks (`flowctl::fuzzing::flow`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| flowctl::fuzzing::flow(data));
