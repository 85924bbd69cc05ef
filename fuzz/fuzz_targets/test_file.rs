//! Test files never panic: read any text (lossy UTF-8) as a flow's `.test.yaml` with a fixed
//! flow and function list, ask the mocks of whatever parses for their answers, and read the
//! same text as a snapshot file, writing back whatever reads (`fuzz/src/testing.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

// The other target's body is unused here.
#[allow(dead_code)]
#[path = "../src/testing.rs"]
mod testing;

fuzz_target!(|data: &[u8]| testing::test_file(data));
