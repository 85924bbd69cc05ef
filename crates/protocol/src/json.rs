//! How deep JSON may nest. serde_json — flowctl's engine reading `invoke --asl` files, deploy
//! reading a built document back, most tools — stops at 128 nested arrays and objects, so the
//! deepest document that survives being written and read again has 127.

use serde_json::Value;

/// The deepest nesting of arrays and objects that serde_json reads back from text.
pub const MAX_JSON_DEPTH: usize = 127;

/// How deep `value` nests (a scalar is 0, `[]` is 1), measured without recursion; counting
/// stops as soon as it passes `limit`.
pub fn json_depth(value: &Value, limit: usize) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((value, at)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(fields) => Box::new(fields.values()),
            _ => continue,
        };
        deepest = deepest.max(at + 1);
        if deepest > limit {
            return deepest;
        }
        stack.extend(children.map(|child| (child, at + 1)));
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn depth_counts_containers_and_agrees_with_what_serde_json_reads_back() {
        assert_eq!(json_depth(&json!(1), 10), 0);
        assert_eq!(json_depth(&json!([]), 10), 1);
        assert_eq!(json_depth(&json!({"a": [1, {"b": 2}], "c": 3}), 10), 3);
        let nested = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let fits: Value = serde_json::from_str(&nested(MAX_JSON_DEPTH)).unwrap();
        assert_eq!(json_depth(&fits, usize::MAX), MAX_JSON_DEPTH);
        assert!(serde_json::from_str::<Value>(&nested(MAX_JSON_DEPTH + 1)).is_err());
        // Counting stops once past the limit.
        assert_eq!(json_depth(&fits, 5), 6);
    }
}
