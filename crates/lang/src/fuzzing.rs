//! What the fuzz targets run (`fuzz/fuzz_targets/*.rs`), in one place so that
//! `cli/tests/fuzz_corpus.rs` replays their seed corpora through exactly the same calls on
//! every `cargo test`. Each function takes any bytes and must never panic.

/// The flow pipeline: parse any text, format it and draw it, check whatever parses, and for
/// a flow that checks, plan it, compile it unfused and fused, and walk the documents' routes.
pub fn flow(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (file, _) = crate::flow::parse(text);
    let Some(file) = file else {
        return;
    };
    let _ = crate::flow::fmt::format(text);
    let _ = crate::flow::graph::mermaid(&file.flow);
    let _ = crate::flow::graph::dot(&file.flow);
    let known = crate::flow::KnownFunctions::new("demo", ["A", "B"]);
    let (ir, _) = crate::flow::check(&file, &known);
    let Some(ir) = ir else {
        return;
    };
    let manifest = "project: fuzz\nnamespace: demo\nfunctions:\n  A: { package: p, idempotent: true }\n  B: { package: p, idempotent: true }\n";
    let (Some(manifest), _) = crate::manifest::parse(manifest) else {
        return;
    };
    let plan = crate::plan::plan(&manifest, &[&ir]);
    for fuse in [false, true] {
        let opts = plan.compile_options(&manifest, "fuzz.flow", fuse);
        if let Ok(doc) = crate::asl::compile(&ir, &opts) {
            // What the compiler writes must read back (deploy and the engine read the file).
            let text = crate::asl::to_pretty_json(&doc);
            assert!(
                serde_json::from_str::<serde_json::Value>(&text).is_ok(),
                "a compiled document does not read back"
            );
            let _ = crate::routes::routes(&doc);
            let _ = crate::asl::fused_chains(&doc);
        }
    }
}

/// The manifest loader: parse any text, check the flow files of whatever loads, locate a
/// key path in any text (the locator also answers on text that is not valid YAML), and plan
/// a manifest that loads (without flows).
pub fn manifest(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (manifest, _) = crate::manifest::parse(text);
    let _ = crate::manifest::locate::find(text, &["functions", "A", "env"]);
    if let Some(manifest) = manifest {
        let _ = crate::manifest::check_files(&manifest, text, |p| p.as_os_str().len() % 2 == 0);
        let _ = crate::plan::plan(&manifest, &[]);
    }
}
