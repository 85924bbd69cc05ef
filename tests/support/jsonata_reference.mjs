// Evaluates the JSONata corpus (tests/jsonata/corpus.json) with the reference implementation,
// the `jsonata` npm package, for tests/jsonata_differential.rs.
//
// Usage: node jsonata_reference.mjs [corpus.json]   (without a path: the corpus JSON on stdin)
//
// The package is installed in tests/.tools by scripts/install-test-tools.sh and imported by
// path; FLOWCTL_JSONATA_DIR points elsewhere.
//
// Answer (JSON on stdout):
//   {"version": "2.2.2",
//    "functions": [the names of the reference's built-in functions, without `$`],
//    "cases": [{"id", "expr", "result", "features", "variables"}, … in corpus order]}
// where `result` is {"value": v}, {"undefined": true} or {"error": {"code"?, "message"}}.
// A value that JSON cannot hold is written as a marker object: a function as
// {"$function": "lambda" | "native"}, a non-finite number as {"$number": "Infinity" | …}, a
// string with a lone surrogate as {"$utf16": [its code points in hex]}.
// `features` are the operators the reference's parse tree of the expression holds (see
// `features` below: the labels the test requires), `variables` the `$names` it refers to
// (a function called, passed or applied with `~>` is one).
//
// A case's id is its own `id`, else `<group id>/<1-based index in the group>`; its input is
// its `data` (a value), else the shared input its `input` names, else the group's `data` or
// `input`, else null; its variables are its `bindings`.

import { readFileSync } from "node:fs";

const packageDir = process.env.FLOWCTL_JSONATA_DIR || new URL("../.tools/node_modules/jsonata/", import.meta.url).pathname;
const dir = packageDir.endsWith("/") ? packageDir : packageDir + "/";
let jsonata;
try {
  ({ default: jsonata } = await import(new URL("jsonata.js", `file://${dir}`).href));
} catch (e) {
  process.stderr.write(
    `the reference JSONata is not installed at ${dir} (${e.message}); run \`bash scripts/install-test-tools.sh\` or set FLOWCTL_JSONATA_DIR\n`,
  );
  process.exit(2);
}
const version = JSON.parse(readFileSync(`${dir}package.json`, "utf8")).version;

// The built-in functions: the names the package binds in its static frame and in each
// evaluation's environment ($now, $millis), kept if the reference says they are functions.
async function builtinFunctions() {
  const source = readFileSync(`${dir}jsonata.js`, "utf8");
  const names = new Set();
  for (const m of source.matchAll(/(?:staticFrame|environment)\.bind\('([A-Za-z_][A-Za-z0-9_]*)'/g)) names.add(m[1]);
  const out = [];
  for (const name of [...names].sort()) {
    if ((await jsonata(`$type($${name})`).evaluate(null)) === "function") out.push(name);
  }
  return out;
}

function flatten(corpus) {
  const cases = [];
  for (const group of corpus.groups) {
    group.cases.forEach((c, i) => {
      const input =
        "data" in c ? c.data
        : "input" in c ? corpus.inputs[c.input]
        : "data" in group ? group.data
        : "input" in group ? corpus.inputs[group.input]
        : null;
      if (input === undefined) throw new Error(`${group.id}/${i + 1}: no shared input named ${c.input ?? group.input}`);
      cases.push({ id: c.id ?? `${group.id}/${i + 1}`, expr: c.expr, input, bindings: c.bindings ?? {} });
    });
  }
  return cases;
}

// A result as JSON, with markers for what JSON cannot hold.
function encode(value) {
  if (value === undefined) return { undefined: true };
  const text = JSON.stringify(value, (key, v) => {
    if (typeof v === "function") return { $function: v._jsonata_lambda ? "lambda" : "native" };
    if (v && typeof v === "object" && v._jsonata_function) return { $function: "native" };
    if (v && typeof v === "object" && v._jsonata_lambda) return { $function: "lambda" };
    if (typeof v === "number" && !Number.isFinite(v)) return { $number: String(v) };
    // A JavaScript string is UTF-16: one with a lone surrogate (a string function cut a
    // character in two) has no JSON form other parsers read; its code units are written.
    if (typeof v === "string" && !v.isWellFormed()) return { $utf16: [...v].map((c) => c.codePointAt(0).toString(16)) };
    return v;
  });
  return { value: JSON.parse(text) };
}

function errorOf(e) {
  const out = { message: String(e?.message ?? e) };
  if (e && typeof e.code === "string") out.code = e.code;
  return { error: out };
}

// The labels of the operators in a parse tree. `text` is the expression: `?:` and `??` are
// parsed into conditions, told apart from `? :` by the token that ends at the node's position.
function features(ast, text, builtins) {
  const out = new Set();
  const isFunction = (n) =>
    n && (n.type === "lambda" || n.type === "partial" || (n.type === "variable" && builtins.has(n.value)) || (n.type === "apply" && isFunction(n.lhs) && isFunction(n.rhs)));
  const walk = (n) => {
    if (Array.isArray(n)) return n.forEach(walk);
    if (!n || typeof n !== "object") return;
    switch (n.type) {
      case "binary":
        out.add(n.value);
        break;
      case "unary":
        out.add(n.value === "-" ? "-x" : n.value === "[" ? "[array]" : n.value === "{" ? "{object}" : `unary ${n.value}`);
        break;
      case "path":
        if (n.steps.length > 1) out.add(".");
        if (n.keepSingletonArray) out.add("[]");
        if (n.group) out.add("{group}");
        break;
      case "condition": {
        const token = text.slice(n.position - 2, n.position);
        out.add(token === "?:" || token === "??" ? token : "? :");
        break;
      }
      case "apply":
        out.add("~>");
        // `f ~> g` with both sides functions composes them (a variable counts when it names a
        // built-in function).
        if (isFunction(n.lhs) && isFunction(n.rhs)) out.add("~> composition");
        break;
      case "bind":
        out.add(":=");
        break;
      case "lambda":
        out.add(/λ\s*\($/.test(text.slice(0, n.position)) ? "λ" : "function");
        if (n.signature) out.add("function signature");
        break;
      case "partial":
        out.add("? partial");
        break;
      case "regex":
        out.add("/regex/");
        break;
      case "transform":
        out.add("|transform|");
        break;
      case "sort":
        out.add("^()");
        break;
      case "wildcard":
        out.add("*wildcard");
        break;
      case "descendant":
        out.add("**descendants");
        break;
      case "parent":
        out.add("%parent");
        break;
      case "block":
        out.add("(block)");
        break;
      case "variable":
        if (n.value === "") out.add("$");
        if (n.value === "$") out.add("$$");
        break;
      case "function":
        out.add("call");
        break;
    }
    if (n.focus) out.add("@");
    if (n.index) out.add("#");
    for (const stage of n.stages ?? []) if (stage.type === "filter") out.add("[filter]");
    if (n.predicate) out.add("[filter]");
    for (const [k, v] of Object.entries(n)) if (k !== "position" && typeof v === "object") walk(v);
  };
  walk(ast);
  return [...out].sort();
}

function variables(ast) {
  const out = new Set();
  const walk = (n) => {
    if (Array.isArray(n)) return n.forEach(walk);
    if (!n || typeof n !== "object") return;
    if (n.type === "variable" && n.value !== "" && n.value !== "$") out.add(n.value);
    for (const [k, v] of Object.entries(n)) if (k !== "position" && typeof v === "object") walk(v);
  };
  walk(ast);
  return [...out].sort();
}

const text = process.argv[2] ? readFileSync(process.argv[2], "utf8") : readFileSync(0, "utf8");
const corpus = JSON.parse(text);
const answer = { version, functions: await builtinFunctions(), cases: [] };
const builtins = new Set(answer.functions);
for (const c of flatten(corpus)) {
  let result;
  let ast = null;
  try {
    const expression = jsonata(c.expr);
    ast = expression.ast();
    result = encode(await expression.evaluate(c.input, c.bindings));
  } catch (e) {
    result = errorOf(e);
  }
  answer.cases.push({
    id: c.id,
    expr: c.expr,
    result,
    features: ast ? features(ast, c.expr, builtins) : [],
    variables: ast ? variables(ast) : [],
  });
}
process.stdout.write(JSON.stringify(answer), () => process.exit(0));
