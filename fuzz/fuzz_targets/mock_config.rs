//! AWS's MockConfigFile never panics: parse any text (lossy UTF-8), check whatever parses
//! against a small state list, ask its mocked responses for their answers and build the mocks
//! of every test case (`fuzz/src/testing.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

// The other target's body is unused here.
#[allow(dead_code)]
#[path = "../src/testing.rs"]
mod testing;

fuzz_target!(|data: &[u8]| testing::mock_config(data));
