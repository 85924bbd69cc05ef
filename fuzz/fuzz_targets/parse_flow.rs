//! The flow front-end never panics: parse any text, and check whatever parses.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let (file, _) = flowctl::flow::parse(text);
        if let Some(file) = file {
            let _ = flowctl::flow::check(
                &file,
                &flowctl::flow::KnownFunctions::new("demo", ["A", "B"]),
            );
        }
    }
});
