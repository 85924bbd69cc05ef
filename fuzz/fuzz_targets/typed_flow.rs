//! Typed checking never panics: parse any text, check it against a fixed typed registry
//! (records, enums, null-able fields, unions, tuples, recursive types, a non-idempotent
//! function, stores), write the types of whatever checks as JSON Schemas and validate values
//! against its input type (`flowctl_lang::fuzzing::typed_flow`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| flowctl_lang::fuzzing::typed_flow(data));
