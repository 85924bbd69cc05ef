//! Canonical JSON: the bytes flowctl writes and deploys. Object keys sorted (by their UTF-8
//! bytes), two-space indentation, a final newline. `serde_json` keeps insertion order in this
//! workspace (`preserve_order`), so the sort is done here, recursively.

use serde_json::{Map, Value};

/// A copy of `v` with every object's keys in sorted order.
pub fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::with_capacity(map.len());
            for key in keys {
                out.insert(key.clone(), canonical(&map[key]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// Sorted keys, two-space indent, trailing newline: byte-stable for equal documents.
pub fn to_pretty_json(doc: &Value) -> String {
    let mut out =
        serde_json::to_string_pretty(&canonical(doc)).expect("a JSON value always serialises");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_at_every_depth_and_arrays_keep_their_order() {
        let doc = json!({"b": 1, "a": {"z": [3, {"y": 1, "x": 2}], "c": null}});
        assert_eq!(
            to_pretty_json(&doc),
            "{\n  \"a\": {\n    \"c\": null,\n    \"z\": [\n      3,\n      {\n        \"x\": 2,\n        \"y\": 1\n      }\n    ]\n  },\n  \"b\": 1\n}\n"
        );
    }

    #[test]
    fn insertion_order_does_not_change_the_bytes() {
        let a = json!({"x": 1, "y": {"q": true, "p": 2.5}});
        let mut b = Map::new();
        b.insert("y".into(), json!({"p": 2.5, "q": true}));
        b.insert("x".into(), json!(1));
        assert_eq!(to_pretty_json(&a), to_pretty_json(&Value::Object(b)));
    }
}
