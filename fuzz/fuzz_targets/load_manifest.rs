//! The manifest loader never panics: parse any text, check flow files of whatever loads, and
//! locate a key path in any text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let (manifest, _) = flowctl::manifest::parse(text);
        // The locator also answers on text that is not valid YAML.
        let _ = flowctl::manifest::locate::find(text, &["functions", "A", "env"]);
        if let Some(manifest) = manifest {
            let _ =
                flowctl::manifest::check_files(&manifest, text, |p| p.as_os_str().len() % 2 == 0);
        }
    }
});
