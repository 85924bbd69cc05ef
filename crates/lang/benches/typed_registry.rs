//! The typed registry the front-end benchmark checks the generated flow against: `F` and `G`
//! described as a build's cache would hold them, with schemas that type every call argument,
//! field read and comparison of `generated_flow.rs`.
//!
//! - `F`'s input: an object of optional `id`, `n`, `tags`, `w`, `first` and `count` (every
//!   argument the flow passes it), `additionalProperties: false`.
//! - `F`'s output, `Record`: `status` (a `$ref` to the enum `Status`: `ok`, `retry`,
//!   `failed`), `count` (integer or null), `items` (a list of `$ref` `Item`, with a required
//!   `name`), `kind` (a string); all required, no other fields.
//! - `G`'s input is `Record` too (the flow passes it `v{i}`, and its untyped `input`); its
//!   output has a required string `value`.
//! - Properties: `F` is idempotent and writes the store `ledger`; `G` is not idempotent, is
//!   retry-safe on `Timeout` (the error the flow retries it on) and reads `ledger`, which is
//!   strongly consistent.

use flowctl_lang::registry::{assemble, Cache, Inputs, Registry};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub const MANIFEST: &str = "project: bench
namespace: bench
functions:
  F: { package: p }
  G: { package: p }
stores:
  ledger: { consistency: strong }
";

fn record() -> Value {
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Record",
        "type": "object",
        "required": ["status", "count", "items", "kind"],
        "properties": {
            "status": {"$ref": "#/definitions/Status"},
            "count": {"type": ["integer", "null"], "format": "int64"},
            "items": {"type": "array", "items": {"$ref": "#/definitions/Item"}},
            "kind": {"type": "string"}
        },
        "additionalProperties": false,
        "definitions": {
            "Status": {"type": "string", "enum": ["ok", "retry", "failed"]},
            "Item": {"type": "object", "required": ["name"],
                     "properties": {"name": {"type": "string"}, "price": {"type": "number"}}}
        }
    })
}

/// What the package's binary would `describe`.
pub fn describe() -> Value {
    json!({
        "shim": "flowctl-shim", "version": "0.1.0", "protocol": 2,
        "functions": [
            {"name": "F", "properties": {"idempotent": true, "writes": ["ledger"]},
             "input": {
                 "$schema": "http://json-schema.org/draft-07/schema#",
                 "title": "FInput", "type": "object",
                 "properties": {
                     "id": {"type": "string"},
                     "n": {"type": "integer"},
                     "tags": {"type": "array", "items": {"type": "string"}},
                     "w": {"type": "string"},
                     "first": {"type": "string"},
                     "count": {"type": ["integer", "null"]}
                 },
                 "additionalProperties": false
             },
             "output": record()},
            {"name": "G", "properties": {"idempotent": false, "retry_safe": ["Timeout"], "reads": ["ledger"]},
             "input": record(),
             "output": {"title": "GOutput", "type": "object", "required": ["value"],
                        "properties": {"value": {"type": "string"}}}}
        ]
    })
}

/// The registry `flowctl check` would assemble from [`MANIFEST`] and a cache holding
/// [`describe`]; panics on a problem (the benchmark measures a clean check).
pub fn registry() -> Registry {
    let (manifest, diags) = flowctl_lang::manifest::parse(MANIFEST);
    assert!(diags.is_empty(), "{diags:?}");
    let manifest = manifest.expect("the benchmark manifest parses");
    let cache = Cache::holding([("p".to_string(), describe())]);
    let (registry, diags) = assemble(&Inputs {
        manifest: &manifest,
        manifest_text: MANIFEST,
        cache: Some(&cache),
        schema_files: &BTreeMap::new(),
    });
    assert!(diags.is_empty(), "{diags:?}");
    assert!(registry.complete);
    registry
}
