//! State names: what a reader sees in the Step Functions console, so they read like the flow.
//!
//! - `Start` — the first state (moves the execution input to `$.vars.<param>`);
//! - `x = F`, `_ = payments.Charge` — a call; `x = parallel`; `xs = map item in input.items`;
//! - `if reservation.status == 'available'` — one `Choice` per `if` (with its `else if`s);
//! - `return payment`, `return {ok, reservation}`, `fail NotAvailable`, `wait 30s`;
//! - `x = F (prepare)` — a `Pass` assembling a nested list value before the call.
//!
//! Names are made unique across the whole document (Step Functions wants that even across
//! branches): in source order, the first holder keeps the name, later ones get ` (2)`, ` (3)`…
//! A name longer than 80 characters (counted in UTF-16 units, the stricter count) is cut
//! and ends in `...`; control characters become spaces. String literals are shown in single
//! quotes and `\\` as `/`: a name needs no JSON escapes (which some tools, moto among them,
//! show doubled in execution histories).

use crate::flow::ast::TypeTest;
use crate::flow::ir::{Cond, Expr, Operand};
use flowctl_protocol::sfn::MAX_STATE_NAME_CHARS;
use std::collections::BTreeSet;

/// Unique, length-limited names for `hints`, decided in the order of `order` keys
/// (source position first) so that editing one part of a flow renames as little as possible.
pub(super) fn assign(hints: &[(String, (u32, u32))]) -> Vec<String> {
    let mut order: Vec<usize> = (0..hints.len()).collect();
    order.sort_by_key(|&i| hints[i].1);
    let mut taken = BTreeSet::new();
    let mut names = vec![String::new(); hints.len()];
    for i in order {
        let base = sanitize(&hints[i].0);
        let mut name = fit(&base, "");
        let mut n = 2;
        while taken.contains(&name) {
            name = fit(&base, &format!(" ({n})"));
            n += 1;
        }
        taken.insert(name.clone());
        names[i] = name;
    }
    names
}

fn sanitize(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| match c {
            c if c.is_control() => ' ',
            '"' => '\'',
            '\\' => '/',
            c => c,
        })
        .collect();
    if out.trim().is_empty() {
        "state".to_string()
    } else {
        out
    }
}

fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// `base` + `suffix`, cutting `base` (and marking the cut with `...`) to stay within the limit.
fn fit(base: &str, suffix: &str) -> String {
    if utf16_len(base) + utf16_len(suffix) <= MAX_STATE_NAME_CHARS {
        return format!("{base}{suffix}");
    }
    let budget = MAX_STATE_NAME_CHARS - utf16_len(suffix) - 3;
    let mut cut = String::new();
    let mut used = 0;
    for c in base.chars() {
        if used + c.len_utf16() > budget {
            break;
        }
        used += c.len_utf16();
        cut.push(c);
    }
    format!("{}...{suffix}", cut.trim_end())
}

/// A condition as one readable line: `a < b and not (exists(c))`.
pub(super) fn cond_text(c: &Cond) -> String {
    match c {
        Cond::Compare {
            left, op, right, ..
        } => {
            let right = match right {
                Operand::Literal(v) => literal_text(v),
                Operand::Path(p) => p.text.clone(),
            };
            format!("{} {} {}", left.text, op.symbol(), right)
        }
        Cond::And(cs) => joined(cs, " and "),
        Cond::Or(cs) => joined(cs, " or "),
        Cond::Not(c) => format!("not {}", grouped(c)),
        Cond::Exists(p) => format!("exists({})", p.text),
        Cond::Is(test, p) => format!("{}({})", type_test(*test), p.text),
        Cond::Matches(p, pattern) => format!(
            "{} matches {}",
            p.text,
            serde_json::Value::from(pattern.as_str())
        ),
    }
}

fn type_test(t: TypeTest) -> &'static str {
    t.keyword()
}

fn joined(cs: &[Cond], sep: &str) -> String {
    if cs.len() == 1 {
        return cond_text(&cs[0]);
    }
    cs.iter().map(grouped).collect::<Vec<_>>().join(sep)
}

fn grouped(c: &Cond) -> String {
    match c {
        Cond::And(cs) | Cond::Or(cs) if cs.len() > 1 => format!("({})", cond_text(c)),
        _ => cond_text(c),
    }
}

/// A literal: strings in single quotes, the rest as JSON.
fn literal_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    }
}

/// An expression, short: paths as written, literals as JSON, objects by their keys.
pub(super) fn expr_text(e: &Expr) -> String {
    match e {
        Expr::Literal(v) => literal_text(v),
        Expr::Path(p) => p.text.clone(),
        Expr::Object(entries) => {
            format!(
                "{{{}}}",
                entries
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
        Expr::List(items) => format!(
            "[{}]",
            items.iter().map(expr_text).collect::<Vec<_>>().join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hints(names: &[&str]) -> Vec<(String, (u32, u32))> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.to_string(), (i as u32, 0)))
            .collect()
    }

    #[test]
    fn duplicates_get_numbered_in_source_order() {
        let h = vec![
            ("return".to_string(), (50, 0)),
            ("return".to_string(), (10, 1)),
            ("return".to_string(), (30, 2)),
        ];
        assert_eq!(assign(&h), ["return (3)", "return", "return (2)"]);
    }

    #[test]
    fn long_names_are_cut_to_80_and_stay_unique() {
        let long = format!("if {} == 1", "input.a".repeat(20));
        let names = assign(&hints(&[&long, &long, &long]));
        for n in &names {
            assert!(utf16_len(n) <= 80, "{n}");
        }
        assert!(names[0].ends_with("..."), "{}", names[0]);
        assert!(names[1].ends_with("... (2)"), "{}", names[1]);
        assert_eq!(names.iter().collect::<BTreeSet<_>>().len(), 3);
    }

    #[test]
    fn wide_characters_count_as_two() {
        let emoji = "😀".repeat(50); // 100 UTF-16 units
        let name = &assign(&hints(&[&emoji]))[0];
        assert!(utf16_len(name) <= 80);
        assert!(name.ends_with("..."));
    }

    #[test]
    fn control_characters_become_spaces() {
        assert_eq!(assign(&hints(&["if x == 'a\nb'"]))[0], "if x == 'a b'");
    }

    #[test]
    fn names_need_no_json_escapes() {
        assert_eq!(
            assign(&hints(&["return input[\"k\"] \\ x"]))[0],
            "return input['k'] / x"
        );
    }
}
