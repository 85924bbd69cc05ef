//! JSON Schema ↔ type never panics nor recurses without bound: read any JSON as a schema,
//! write it back, validate values against it, assign it to itself and to an object type
//! (`flowctl_lang::fuzzing::schema`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| flowctl_lang::fuzzing::schema(data));
