//! A large, valid flow for benchmarks: `blocks` repetitions of a ~10-line pattern using
//! calls, retries, if / else if / else, comparisons and object literals.

pub const FUNCTIONS: [&str; 2] = ["F", "G"];

pub fn generated_flow(lines: usize) -> String {
    let mut src = String::from("// generated for the front-end benchmark\nflow Big(input) {\n");
    let mut i = 0;
    while src.lines().count() + 12 < lines {
        src.push_str(&format!(
            "  v{i} = F({{\"id\": input.id, \"n\": {i}, \"tags\": [input.a, \"x\"]}})\n\
             \x20 if and(eq(v{i}.status, \"ok\"), gt(v{i}.count, {i})) {{\n\
             \x20   w{i} = G(v{i})\n\
             \x20     retry(max: 3, interval: 1, backoff: 2.0, on: [\"Timeout\"])\n\
             \x20   _ = F({{\"w\": w{i}.value, \"first\": v{i}.items[0].name}})\n\
             \x20 }} else if or(is_null(v{i}.count), matches(v{i}.kind, \"tmp-*\")) {{\n\
             \x20   _ = F({{\"count\": v{i}.count}})\n\
             \x20 }} else {{\n\
             \x20   _ = G(input)\n\
             \x20 }}\n"
        ));
        i += 1;
    }
    src.push_str("  return({\"done\": true, \"first\": v0})\n}\n");
    src
}
