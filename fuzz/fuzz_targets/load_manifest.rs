//! The manifest loader never panics: parse any text, check flow files of whatever loads,
//! locate a key path in any text, plan what loads (`flowctl_lang::fuzzing::manifest`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| flowctl_lang::fuzzing::manifest(data));
