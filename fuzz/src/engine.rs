//! What the engine's fuzz targets run (`fuzz/fuzz_targets/asl_document.rs` and `jsonata.rs`),
//! in one place so that `cli/tests/fuzz_corpus.rs` replays their seed corpora through exactly
//! the same calls on every `cargo test`. Each function takes any bytes and must never panic
//! nor overflow its stack.

use flowctl_engine::jsonata::Expression;
use flowctl_engine::{load_with, LoadOptions};
use serde_json::{json, Value};

/// An ASL document: any text that is JSON is loaded both ways (Lambda Tasks only, and any
/// Task resource), JSONata expressions and variable names included.
pub fn asl_document(data: &[u8]) {
    let Ok(doc) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    for any_task_resource in [false, true] {
        let _ = load_with(&doc, &LoadOptions { any_task_resource });
    }
}

/// A JSONata expression: any text (lossy UTF-8) is parsed, and one that parses is evaluated
/// against a small document with a variable bound, under the engine's limits.
pub fn jsonata(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(expr) = Expression::parse(&text) else {
        return;
    };
    let input = json!({"order": {"lines": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}], "total": 27.5}, "name": "Ana"});
    let _ = expr.evaluate(&input, &mut |name| {
        (name == "x").then(|| json!([1, {"a": "b"}]))
    });
}
