//! One test per construct and per comment position. Every successful format is also checked
//! to be idempotent and to parse to the same AST as its input (spans aside).

use super::*;

/// Snapshots live in `crates/lang/src/flow/snapshots/` with the other flow snapshots.
macro_rules! snap {
    ($name:expr, $value:expr) => {
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => true }, {
            insta::assert_snapshot!($name, $value);
        })
    };
}

fn ast_of(src: &str) -> String {
    let (file, diags) = parse(src);
    assert!(diags.is_empty(), "does not parse: {diags:#?}\n{src}");
    erase_spans(&format!("{:?}", file.unwrap().flow))
}

fn comments_of(src: &str) -> Vec<String> {
    parse(src)
        .0
        .unwrap()
        .comments
        .into_iter()
        .map(|c| c.text.trim_end().to_string())
        .collect()
}

/// Formats `src`, checking idempotence and that program and comments are unchanged.
fn fmt(src: &str) -> String {
    let out = match format(src) {
        Ok(out) => out,
        Err(diags) => panic!("format failed: {diags:#?}\n{src}"),
    };
    assert_eq!(
        format(&out).as_deref(),
        Ok(out.as_str()),
        "not idempotent:\n{out}"
    );
    assert_eq!(ast_of(src), ast_of(&out), "the program changed:\n{out}");
    assert_eq!(
        comments_of(src),
        comments_of(&out),
        "comments changed:\n{out}"
    );
    assert!(out.ends_with('\n') && !out.ends_with("\n\n"));
    assert_eq!(is_formatted(&out), Ok(true));
    out
}

/// Formats a flow made of `body`, returning only the formatted body lines (indent kept).
fn body(body: &str) -> String {
    let out = fmt(&format!("flow F(input) {{\n{body}\n}}\n"));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "flow F(input) {");
    assert_eq!(*lines.last().unwrap(), "}");
    lines[1..lines.len() - 1].join("\n")
}

/// The codes of `format`'s diagnostics for `src`, which must not format.
fn errors(src: &str) -> Vec<&'static str> {
    match format(src) {
        Ok(out) => panic!("expected errors, formatted as:\n{out}"),
        Err(diags) => diags.iter().map(|d| d.code).collect(),
    }
}

fn wrap(body: &str) -> String {
    format!("flow F(input) {{\n{body}\n}}\n")
}

// ---- constructs --------------------------------------------------------------------------

#[test]
fn messy_file_snapshot() {
    let src = r#"// A flow with every construct, badly laid out.
flow   Messy( input ){
x=F( input )
    _ =ns.G()
      y = H({a:1, "b" : [1,2 , 3,], "c":{}, "d" : "quote\"and\u0041", "e": -1.5e3, f: true, g: null,})
        retry(on:["E"], backoff:2.0, max:3, max_delay: 30, interval:1) timeout( 5 )
   catch(e, on:["A","B"]){ fail("Failed", e.Cause) }
  catch( e2 ) { _ = Release(x)
  }
if and(eq(x.status,"ok"), or(exists(x.a), not(is_null(x.b[0]))), matches(x["odd key"], "a*")) { wait(10) }
else if gt(x.n, 1) {wait(input.delay)}
else { _ = K() }
zs = parallel { branch { a = A(input)
return(a) } branch { return(1) } }
ws = map it in input.items(concurrency:10){ w = W(it)
 return(w) }
return({"x": x, "y": y, "zs": zs, "ws": ws})
}"#;
    snap!("messy_file", fmt(src));
}

#[test]
fn assignment_spacing_and_calls() {
    assert_eq!(body("x=F( input )"), "  x = F(input)");
    assert_eq!(body("_ =F()"), "  _ = F()");
    assert_eq!(
        body("x = payments . Charge(input)"),
        "  x = payments.Charge(input)"
    );
}

#[test]
fn literals_are_canonical() {
    assert_eq!(
        body(
            r#"return({a: 1, "b": [1,2,], "s": "x\u0041\/", "n": -1.50e3, "t": true, "f": false, "z": null})"#
        ),
        r#"  return({"a": 1, "b": [1, 2], "s": "xA/", "n": -1.50e3, "t": true, "f": false, "z": null})"#
    );
    assert_eq!(
        body("return({o: {}, l: [ ]})"),
        r#"  return({"o": {}, "l": []})"#
    );
    assert_eq!(
        body(r#"return("tab\tnl\nquote\"back\\")"#),
        r#"  return("tab\tnl\nquote\"back\\")"#
    );
    assert_eq!(
        body(r#"return(input.a[0]["odd key"].map)"#),
        r#"  return(input.a[0]["odd key"].map)"#
    );
}

#[test]
fn modifiers_one_per_line_in_canonical_order() {
    assert_eq!(
        body(r#"x = F(input) retry(on: ["T"], max_delay: 30, backoff: 2.0, interval: 1, max: 3) timeout(5) catch(e, on: ["A"]) { fail("X") }"#),
        "  x = F(input)\n    retry(max: 3, interval: 1, backoff: 2.0, max_delay: 30, on: [\"T\"])\n    timeout(5)\n    catch(e, on: [\"A\"]) {\n      fail(\"X\")\n    }"
    );
    assert_eq!(body("x = F(input) retry()"), "  x = F(input)\n    retry()");
}

#[test]
fn if_else_chain_on_closing_brace_lines() {
    snap!(
        "if_else_chain",
        body("if eq(input.a, 1) { return(1) }\nelse if lt(input.a, 0) {\n\n return(2)\n\n}\n   else { fail(\"E\") }")
    );
}

#[test]
fn parallel_and_map() {
    snap!(
        "parallel_and_map",
        body("x = parallel {\nbranch { return(1) }\n  branch {} }\nys = map y in input.ys (concurrency: 3) { return(y) }\nzs = map z in input.zs { return(z) }\nreturn(x)")
    );
}

#[test]
fn empty_blocks_stay_on_one_line() {
    assert_eq!(
        body("x = F(input) catch(e) {   }\ny = parallel {   }\nreturn(x)"),
        "  x = F(input)\n    catch(e) {}\n  y = parallel {}\n  return(x)"
    );
    assert_eq!(fmt("flow F(input) {   }"), "flow F(input) {}\n");
}

#[test]
fn long_objects_break_one_entry_per_line() {
    let out = body(
        r#"payment = ProcessPayment({"id": input.id, "amount": input.amount, "currency": input.currency, "card": {"token": input.card.token, "holder": input.card.holder, "expiry": input.card.expiry}, "tags": ["a", "b"]})
  retry(max: 3)"#,
    );
    snap!("long_object", out.clone());
    assert!(out.lines().all(|l| l.chars().count() <= MAX_WIDTH), "{out}");
}

#[test]
fn line_of_exactly_100_columns_stays_flat() {
    let fill = "x".repeat(100 - r#"  return({"k": ""})"#.len());
    let line = format!(r#"  return({{"k": "{fill}"}})"#);
    assert_eq!(line.len(), 100);
    assert_eq!(body(&line), line);
    let longer = format!(r#"  return({{"k": "{fill}y"}})"#);
    assert_eq!(
        body(&longer),
        format!("  return({{\n    \"k\": \"{fill}y\",\n  }})")
    );
}

#[test]
fn long_lists_and_fail_causes_break_too() {
    let items: Vec<String> = (0..30).map(|i| format!("input.item{i}")).collect();
    let out = body(&format!("fail(\"E\", [{}])", items.join(", ")));
    assert!(
        out.starts_with("  fail(\"E\", [\n    input.item0,\n"),
        "{out}"
    );
    assert!(out.ends_with("    input.item29,\n  ])"), "{out}");
}

#[test]
fn blank_lines_kept_once_and_dropped_at_block_edges() {
    assert_eq!(
        body("\n\n  x = F(input)\n\n\n\n  y = G(x)\n  z = H(y)\n\n\n  return(z)\n\n"),
        "  x = F(input)\n\n  y = G(x)\n  z = H(y)\n\n  return(z)"
    );
}

#[test]
fn ends_with_exactly_one_newline() {
    assert_eq!(
        fmt("flow F(input) {\n  return(1)\n}"),
        "flow F(input) {\n  return(1)\n}\n"
    );
    assert_eq!(
        fmt("\n\nflow F(input) {\n  return(1)\n}\n\n\n"),
        "flow F(input) {\n  return(1)\n}\n"
    );
}

#[test]
fn crlf_input_becomes_lf() {
    assert_eq!(
        fmt("// c\r\nflow F(input) {\r\n  return(1) // d\r\n}\r\n"),
        "// c\nflow F(input) {\n  return(1) // d\n}\n"
    );
}

#[test]
fn broken_files_are_not_formatted() {
    assert_eq!(
        errors("flow F(input) {\n  x = F(input\n  return(1)\n}\n"),
        ["F010"]
    );
    assert_eq!(errors("x = 1"), ["F011"]);
    assert!(is_formatted("flow F(input) {").is_err());
}

#[test]
fn is_formatted_tells_canonical_from_not() {
    assert_eq!(is_formatted("flow F(input) {\n  return(1)\n}\n"), Ok(true));
    assert_eq!(
        is_formatted("flow F(input) {\n    return(1)\n}\n"),
        Ok(false)
    );
    assert_eq!(is_formatted("flow F(input) {\n  return(1)\n}"), Ok(false));
}

#[test]
fn examples_are_canonical() {
    for (name, src) in [
        (
            "booking",
            include_str!("../../../../../examples/booking/flows/booking.flow"),
        ),
        (
            "reprice",
            include_str!("../../../../../examples/booking/flows/reprice.flow"),
        ),
    ] {
        assert_eq!(fmt(src), src, "{name}.flow is not in canonical form");
    }
}

// ---- comments: one test per position ------------------------------------------------------

#[test]
fn comment_before_the_flow_header() {
    let src = "// one\n\n\n// two\n\nflow F(input) {\n  return(1)\n}\n";
    assert_eq!(
        fmt(src),
        "// one\n\n// two\n\nflow F(input) {\n  return(1)\n}\n"
    );
    assert_eq!(
        fmt("// one\nflow F(input) {\n  return(1)\n}\n"),
        "// one\nflow F(input) {\n  return(1)\n}\n"
    );
}

#[test]
fn comment_on_its_own_line_before_a_statement() {
    assert_eq!(
        body("x = F(input)\n      // why G\n// and more\n  y = G(x)\n\n  // after a blank\n\n  return(y)"),
        "  x = F(input)\n  // why G\n  // and more\n  y = G(x)\n\n  // after a blank\n\n  return(y)"
    );
}

#[test]
fn comment_at_the_end_of_a_statement_line() {
    assert_eq!(
        body("x = F(a)   // why\nreturn(x)//done"),
        "  x = F(a) // why\n  return(x) //done"
    );
    assert_eq!(
        body("wait(1) // w\nfail(\"E\", input) // f"),
        "  wait(1) // w\n  fail(\"E\", input) // f"
    );
}

#[test]
fn comment_at_the_end_of_a_call_line_before_modifiers() {
    assert_eq!(
        body("x = F(a) // why\n  retry(max: 1) // tries\n  // before catch\n  catch(e) { // caught\n    fail(\"E\") // f\n  } // after catch\nreturn(x)"),
        "  x = F(a) // why\n    retry(max: 1) // tries\n    // before catch\n    catch(e) { // caught\n      fail(\"E\") // f\n    } // after catch\n  return(x)"
    );
}

#[test]
fn comment_after_modifiers_on_the_call_line_stays_with_the_last_one() {
    assert_eq!(
        body("x = F(a) retry(max: 1) // c\nreturn(x)"),
        "  x = F(a)\n    retry(max: 1) // c\n  return(x)"
    );
}

#[test]
fn comments_at_the_end_of_blocks() {
    assert_eq!(
        body("if exists(input.a) { // open\n  return(1)\n  // end of then\n} else {\n  return(2)\n\n  // end of else\n} // after if"),
        "  if exists(input.a) { // open\n    return(1)\n    // end of then\n  } else {\n    return(2)\n\n    // end of else\n  } // after if"
    );
    assert_eq!(
        fmt("flow F(input) {\n  // nothing yet\n}\n"),
        "flow F(input) {\n  // nothing yet\n}\n"
    );
    assert_eq!(
        body("x = F(a) catch(e) {\n // ignore\n}\nreturn(x)"),
        "  x = F(a)\n    catch(e) {\n      // ignore\n    }\n  return(x)"
    );
}

#[test]
fn comments_after_the_flow() {
    assert_eq!(
        fmt("flow F(input) { // open\n  return(1)\n} // closed\n// after\n\n\n// last\n"),
        "flow F(input) { // open\n  return(1)\n} // closed\n// after\n\n// last\n"
    );
}

#[test]
fn comments_in_parallel_and_map() {
    snap!(
        "comments_in_parallel_and_map",
        body("x = parallel { // fan out\n  // first\n  branch { // b1\n    return(1)\n  } // end b1\n  branch {\n    return(2)\n  }\n  // no more branches\n} // joined\nys = map y in input.ys { // each\n  return(y)\n}\nreturn(x)")
    );
}

#[test]
fn comments_inside_object_literals_break_them() {
    snap!(
        "comments_in_object",
        body("x = F({ // the order\n  // its id\n  \"id\": input.id, // trailing\n  \"lines\": [ // each line\n    1,\n    // two\n    2 // no comma\n  ],\n  \"n\": 3 // last, no comma\n  // closing\n})\nreturn(x)")
    );
}

#[test]
fn comment_in_a_condition_is_an_error() {
    let src = wrap("if and(exists(input.a), // why\n exists(input.b)) {\n return(1)\n}\nreturn(2)");
    let Err(diags) = format(&src) else { panic!() };
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].code, "F020");
    assert_eq!(&src[diags[0].span.range()], "// why");
    assert_eq!(
        diags[0].hint.as_deref(),
        Some("move the comment onto its own line above the statement")
    );
}

#[test]
fn comments_in_unsupported_places_are_errors() {
    // Between `}` and `else`.
    assert_eq!(
        errors(&wrap(
            "if exists(input.a) {\n return(1)\n} // then\nelse {\n return(2)\n}"
        )),
        ["F020"]
    );
    // Inside a retry, a map header, a call's parentheses, a flow header, an assignment.
    assert_eq!(
        errors(&wrap(
            "x = F(a) retry(max: 3, // three\n interval: 1)\nreturn(x)"
        )),
        ["F020"]
    );
    assert_eq!(
        errors(&wrap(
            "x = map y in input.ys // each\n { return(y) }\nreturn(x)"
        )),
        ["F020"]
    );
    assert_eq!(errors(&wrap("x = F( // arg\n a)\nreturn(x)")), ["F020"]);
    assert_eq!(errors(&wrap("x = F(a // arg\n)\nreturn(x)")), ["F020"]);
    assert_eq!(
        errors("flow F(input) // header\n{\n return(1)\n}\n"),
        ["F020"]
    );
    assert_eq!(errors(&wrap("x = // value\n F(a)\nreturn(x)")), ["F020",]);
    assert_eq!(errors(&wrap("return({\"a\": // value\n 1})")), ["F020"]);
    assert_eq!(
        errors(&wrap(
            "x = parallel { branch // b\n { return(1) } }\nreturn(x)"
        )),
        ["F020"]
    );
    // Every such comment is reported, not only the first.
    assert_eq!(
        errors(&wrap("x = F( // a\n a // b\n)\nreturn(x)")),
        ["F020", "F020"]
    );
}

#[test]
fn comment_text_is_kept_verbatim_except_trailing_spaces() {
    assert_eq!(
        body("//no space\n//   indented  \n//\nreturn(1)"),
        "  //no space\n  //   indented\n  //\n  return(1)"
    );
}
