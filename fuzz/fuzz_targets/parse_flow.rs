//! The flow pipeline never panics: parse any text, check whatever parses, plan and compile
//! (unfused and fused) whatever checks (`flowctl_lang::fuzzing::flow`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| flowctl_lang::fuzzing::flow(data));
