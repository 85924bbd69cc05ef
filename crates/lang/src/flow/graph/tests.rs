//! Snapshots of both renderings on the example flows and on a flow with parallel/map/catch.

use super::*;
use crate::flow::parse;

macro_rules! snap {
    ($name:expr, $value:expr) => {
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => true }, {
            insta::assert_snapshot!($name, $value);
        })
    };
}

fn flow(src: &str) -> Flow {
    let (file, diags) = parse(src);
    assert!(diags.is_empty(), "{diags:#?}");
    file.unwrap().flow
}

const BOOKING: &str = include_str!("../../../../../examples/booking/flows/booking.flow");
const REPRICE: &str = include_str!("../../../../../examples/booking/flows/reprice.flow");

/// Parallel with a nested map, catches (with and without `on`, one falling through), retry,
/// timeout, wait, `if` without `else`, and every kind of condition.
const FANOUT: &str = r#"flow Fanout(input) {
  checked = Validate(input)
    timeout(10)
    catch(err, on: ["States.Timeout", "Invalid"]) {
      fail("ValidationFailed", err.Cause)
    }
  results = parallel {
    branch {
      profile = LoadProfile({"id": input.id})
        retry(max: 2, interval: 1)
      return(profile)
    }
    branch {
      items = map item in input.items (concurrency: 4) {
        priced = Price(item)
        if and(gt(priced.amount, 0), not(is_null(priced.currency))) {
          return(priced)
        }
        fail("Unpriced")
      }
      return(items)
    }
  }
    catch(err) {
      _ = Alert({"error": err.Error})
    }
  if or(matches(input.name, "test-*"), lt(input.total, 1)) {
    wait(input.delay)
  }
  _ = Record(results)
    retry()
  return({"ok": true})
}
"#;

#[test]
fn booking_mermaid() {
    snap!("booking_mermaid", mermaid(&flow(BOOKING)));
}

#[test]
fn booking_dot() {
    snap!("booking_dot", dot(&flow(BOOKING)));
}

#[test]
fn reprice_mermaid() {
    snap!("reprice_mermaid", mermaid(&flow(REPRICE)));
}

#[test]
fn reprice_dot() {
    snap!("reprice_dot", dot(&flow(REPRICE)));
}

#[test]
fn fanout_mermaid() {
    snap!("fanout_mermaid", mermaid(&flow(FANOUT)));
}

#[test]
fn fanout_dot() {
    snap!("fanout_dot", dot(&flow(FANOUT)));
}

#[test]
fn ids_are_numbered_in_source_order() {
    let out = mermaid(&flow(BOOKING));
    let ids: Vec<usize> = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix('n'))
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let after = &rest[digits.len()..];
            (!after.starts_with(' ')).then(|| digits.parse().unwrap())
        })
        .collect();
    assert_eq!(ids, (1..=ids.len()).collect::<Vec<_>>());
}

#[test]
fn mermaid_labels_escape_markup() {
    let src = r#"flow F(input) {
  if eq(input["a|b"], "x<y> & \"q\" #1 \\n") {
    fail("E")
  }
  return(1)
}
"#;
    let out = mermaid(&flow(src));
    let edge = out.lines().find(|l| l.contains("-->|")).unwrap();
    assert_eq!(
        edge.trim(),
        r#"n2 -->|"input[#quot;a#124;b#quot;] == #quot;x#lt;y#gt; #amp; #92;#quot;q#92;#quot; #35;1 #92;#92;n#quot;"| n3"#
    );
    // Inside every label, no raw quote is left.
    for line in out.lines() {
        if let Some((_, rest)) = line.split_once('"') {
            let inner = &rest[..rest.rfind('"').unwrap()];
            assert!(!inner.contains('"'), "{line}");
        }
    }
}

#[test]
fn dot_labels_are_quoted_and_escaped() {
    let src = r#"flow F(input) {
  if eq(input.a, "say \"hi\" \\ bye") {
    fail("E")
  }
  return(1)
}
"#;
    let out = dot(&flow(src));
    assert!(
        out.contains(r#"n2 -> n3 [label="input.a == \"say \\\"hi\\\" \\\\ bye\""];"#),
        "{out}"
    );
    for line in out.lines().filter(|l| l.contains("label=")) {
        assert!(line.contains("label=\""), "{line}");
    }
}

#[test]
fn a_flow_that_falls_off_the_end_gets_an_end_node() {
    let out = mermaid(&flow("flow F(input) {\n  _ = F(input)\n}\n"));
    assert!(
        out.contains("n3((\"End\"))") && out.contains("n2 --> n3"),
        "{out}"
    );
}
