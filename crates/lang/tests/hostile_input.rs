//! Hostile input, generated: flows nested far deeper and written far wider than anyone writes
//! them, and manifests likewise, through every front-end stage (the fuzz targets' own calls,
//! `flowctl_lang::fuzzing`). Nothing may panic or exhaust the stack; a flow nested past the
//! limit is refused with F019, and one well inside it checks cleanly.

use flowctl_lang::flow::{self, KnownFunctions};
use flowctl_lang::{fuzzing, manifest};
use proptest::prelude::*;

#[derive(Debug, Clone, Copy)]
enum Block {
    If,
    Map,
    Parallel,
}

#[derive(Debug, Clone, Copy)]
enum Cond {
    Not,
    And,
    Or,
}

#[derive(Debug, Clone, Copy)]
enum Value {
    Object,
    List,
}

/// A flow: `blocks` nested around an innermost body whose condition is wrapped in `conds`
/// and whose call argument is wrapped in `values`, with `width` more statements beside it.
#[derive(Debug, Clone)]
struct Shape {
    blocks: Vec<Block>,
    conds: Vec<Cond>,
    values: Vec<Value>,
    width: usize,
}

fn shape(deepest: usize) -> impl Strategy<Value = Shape> {
    let block = prop_oneof![Just(Block::If), Just(Block::Map), Just(Block::Parallel)];
    let cond = prop_oneof![Just(Cond::Not), Just(Cond::And), Just(Cond::Or)];
    let value = prop_oneof![Just(Value::Object), Just(Value::List)];
    (
        prop::collection::vec(block, 0..deepest),
        prop::collection::vec(cond, 0..deepest),
        prop::collection::vec(value, 0..deepest),
        0usize..60,
    )
        .prop_map(|(blocks, conds, values, width)| Shape {
            blocks,
            conds,
            values,
            width,
        })
}

impl Shape {
    /// The deepest point, counted as the parser counts: the flow's block, every block (a
    /// `parallel`'s own braces only group its `branch` blocks), then the condition or value
    /// inside.
    fn nesting(&self) -> usize {
        let blocks = 1 + self.blocks.len();
        let condition = self.conds.len() + 2; // the innermost `eq(…)` and its operands
        let value = self.values.len() + 1; // the innermost selector
        blocks + condition.max(value)
    }

    fn text(&self) -> String {
        let mut argument = "input.a".to_string();
        for (i, value) in self.values.iter().enumerate() {
            argument = match value {
                Value::Object => format!("{{\"k{i}\": {argument}, \"n\": {i}}}"),
                Value::List => format!("[{argument}, {i}]"),
            };
        }
        let mut condition = "eq(input.n, 1)".to_string();
        for cond in &self.conds {
            condition = match cond {
                Cond::Not => format!("not({condition})"),
                Cond::And => format!("and({condition}, exists(input.b))"),
                Cond::Or => format!("or(exists(input.c), {condition})"),
            };
        }
        let mut body = vec![format!("v = A({argument})")];
        for i in 0..self.width {
            body.push(format!("w{i} = B({{\"i\": {i}, \"v\": v}})"));
        }
        body.push(format!("if {condition} {{\nreturn(v)\n}}"));
        body.push("return(v)".to_string());
        for (depth, block) in self.blocks.iter().enumerate().rev() {
            let inner = body.join("\n");
            body = match block {
                Block::If => vec![
                    format!("if exists(input.k{depth}) {{\n{inner}\n}}"),
                    "return(null)".to_string(),
                ],
                Block::Map => vec![
                    format!("r{depth} = map item{depth} in input.items {{\n{inner}\n}}"),
                    format!("return(r{depth})"),
                ],
                Block::Parallel => vec![
                    format!(
                        "r{depth} = parallel {{\nbranch {{\n{inner}\n}}\nbranch {{\nreturn({depth})\n}}\n}}"
                    ),
                    format!("return(r{depth})"),
                ],
            };
        }
        format!("flow Deep(input) {{\n{}\n}}\n", body.join("\n"))
    }
}

fn codes(text: &str) -> Vec<&'static str> {
    let known = KnownFunctions::new("demo", ["A", "B"]);
    flow::parse_and_check(text, &known)
        .2
        .iter()
        .map(|d| d.code)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(160))]

    #[test]
    fn deep_and_wide_flows_never_crash_and_the_limit_is_exact(shape in shape(110)) {
        let text = shape.text();
        fuzzing::flow(text.as_bytes());
        let codes = codes(&text);
        let nesting = shape.nesting();
        if nesting > flow::parser::MAX_NESTING {
            // One F019 for each statement that goes too deep, and nothing else.
            prop_assert!(!codes.is_empty() && codes.iter().all(|c| *c == "F019"), "nesting {nesting}: {codes:?}");
        } else {
            prop_assert!(codes.is_empty(), "nesting {nesting}: {codes:?}\n{text}");
        }
    }

    #[test]
    fn deep_and_wide_manifests_never_crash(depth in 0usize..400, width in 0usize..150, flow_style in any::<bool>()) {
        let mut value = "x".to_string();
        for i in 0..depth {
            value = if flow_style {
                format!("{{k{i}: {value}}}")
            } else {
                format!("\n{}k{i}: {}", "  ".repeat(depth - i + 2), value.trim_start())
            };
        }
        let mut text = String::from("project: wide\nfunctions:\n");
        for i in 0..width {
            text.push_str(&format!("  F{i}: {{ package: p, memory: {} }}\n", 128 + i));
        }
        text.push_str(&format!("  Deep:\n    package: p\n    env:\n      V: {value}\n"));
        fuzzing::manifest(text.as_bytes());
        let (parsed, diagnostics) = manifest::parse(&text);
        // A manifest that does not load says why.
        prop_assert!(parsed.is_some() || !diagnostics.is_empty());
    }
}
