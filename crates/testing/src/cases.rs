//! A flow's test file (`flows/booking.flow` → `flows/booking.test.yaml`): its cases, each an
//! input, the answers of the functions it mocks (by manifest function key, per call), and what
//! the execution must come to. `parse` reads the text and reports every problem at once, with a
//! place in the file and a fix; `json_schema` describes the format for editors.
//!
//! How `parse` works, as the manifest loader does: serde_yaml reads the text into a loose tree
//! (`node`, duplicate keys kept), `flowctl_lang::manifest::locate` scans the same text for the
//! place of every key and value, and the validator walks both together, key by key, so one
//! mistake does not hide the next. Values (`input`, `return`, `expect.output`) become JSON.
//!
//! Diagnostic codes (stable; CI may match on them), listed in [`CODES`]:
//!
//! | code | meaning |
//! | --- | --- |
//! | T001 | the file is not valid YAML (syntax error, several documents, nesting too deep) |
//! | T002 | unknown key (did-you-mean, and the keys allowed there) |
//! | T003 | a required key is missing (`cases`, a case's `name`, a `throw`'s `error`) |
//! | T004 | a value has the wrong type |
//! | T005 | a key is written twice in one mapping |
//! | T006 | a case's name is empty, or another case of the file has it |
//! | T007 | `flow:` names another flow than the one whose source the file sits beside |
//! | T008 | `mocks` or `expect.calls` names a function the project does not have |
//! | T009 | a mock answer is malformed: neither or both of `return`/`throw`, `times` below 1 or outside a list, an empty list of answers, an empty error name |
//! | T010 | contradictory expectations: success (`output`, `output_includes`, `snapshot`) and failure (`error`, `cause`), or `output` with `output_includes` |
//! | T011 | `snapshot: true` together with `expect.output` |
//! | T012 | a value has no JSON form (`.nan`, `.inf`, a number beyond 64 bits, a key that is a list or a mapping, nesting deeper than JSON readers accept) |
//! | T020 | the snapshot file (`<flow>.test.snap.json`) is not a JSON object (from `snapshot::Snapshots::parse`) |

use flowctl_engine::TaskError;
use flowctl_lang::diagnostic::{Diagnostic, Span};
use flowctl_lang::manifest::locate::{self, LEntry, LKind, LNode};
use flowctl_lang::manifest::node::Node;
use flowctl_protocol::{did_you_mean, MAX_JSON_DEPTH};
use schemars::JsonSchema;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Every diagnostic code `parse` emits, with its meaning (for the README and `--explain`).
pub const CODES: &[(&str, &str)] = &[
    ("T001", "the test file is not valid YAML (syntax error, several documents, nesting too deep)"),
    ("T002", "unknown key (a typo, or a key that belongs elsewhere)"),
    ("T003", "a required key is missing (`cases`, a case's `name`, a `throw`'s `error`)"),
    ("T004", "a value has the wrong type (e.g. a list where a mapping is expected)"),
    ("T005", "a key is written twice in the same mapping"),
    ("T006", "a case's name is empty, or two cases of the file have the same name"),
    ("T007", "`flow:` names another flow than the one whose source the test file sits beside"),
    ("T008", "`mocks` or `expect.calls` names a function the project does not have"),
    ("T009", "a mock answer is malformed (neither or both of `return` and `throw`, `times` below 1 or outside a list, an empty list, an empty error name)"),
    ("T010", "contradictory expectations (an output and an error, or `output` with `output_includes`)"),
    ("T011", "`snapshot: true` together with `expect.output`"),
    ("T012", "a value has no JSON form (`.nan`, `.inf`, a number beyond 64 bits, a list or mapping as a key, nesting too deep)"),
    ("T020", "the snapshot file (`<flow>.test.snap.json`) is not valid JSON or not an object"),
];

/// A test file: the cases of one flow.
#[derive(Debug, Clone, PartialEq)]
pub struct TestFile {
    /// The flow named by `flow:` (when given, the flow whose source the file sits beside).
    pub flow: Option<String>,
    /// The cases, in file order (names unique).
    pub cases: Vec<Case>,
}

/// One case: an input, the functions' answers, and what the execution must come to.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Non-empty, unique in the file.
    pub name: String,
    /// The execution input (`{}` when not written).
    pub input: Value,
    /// Answers by manifest function key.
    pub mocks: BTreeMap<String, FunctionMock>,
    pub expect: Expect,
    /// The expected output is the one recorded in the snapshot file (see `snapshot`).
    pub snapshot: bool,
    /// Integration: functions without a mock run for real.
    pub real: bool,
    /// The case's list item (`- name: …`), for reports that point at it.
    pub span: Span,
}

impl Case {
    /// A case with no mock and no expectation but success (e.g. for a case that comes from
    /// elsewhere than a test file, such as a MockConfigFile test case run through
    /// `run::run_case`).
    pub fn new(name: impl Into<String>, input: Value) -> Case {
        Case {
            name: name.into(),
            input,
            mocks: BTreeMap::new(),
            expect: Expect::default(),
            snapshot: false,
            real: false,
            span: Span::default(),
        }
    }
}

/// What a function answers in one case.
#[derive(Debug, Clone, PartialEq)]
pub enum FunctionMock {
    /// One answer, for every call.
    Always(Answer),
    /// Answers in call order, each for the number of calls beside it (at least 1). The list is
    /// kept as written, not expanded, so `times: 4000000000` costs nothing.
    Calls(Vec<(Answer, u32)>),
}

impl FunctionMock {
    /// The answer to call number `call` (0 for the first), or `None` past the last one.
    pub fn answer(&self, call: u64) -> Option<&Answer> {
        match self {
            FunctionMock::Always(answer) => Some(answer),
            FunctionMock::Calls(answers) => {
                let mut first = 0u64;
                for (answer, times) in answers {
                    first += u64::from(*times);
                    if call < first {
                        return Some(answer);
                    }
                }
                None
            }
        }
    }

    /// How many calls the list answers (`None`: every call).
    pub fn calls(&self) -> Option<u64> {
        match self {
            FunctionMock::Always(_) => None,
            FunctionMock::Calls(answers) => {
                Some(answers.iter().map(|(_, times)| u64::from(*times)).sum())
            }
        }
    }
}

/// One answer of a mocked function.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The function returns this value (shared: every call hands out the same `Arc`).
    Return(Arc<Value>),
    /// The function fails as a Rust function returning `Err(Error::new(error, cause))` does on
    /// Lambda: Step Functions sees the error name `error` and, as the cause, the error object
    /// `{"errorMessage": cause, "errorType": error}` as text (see [`Answer::result`]).
    Throw { error: String, cause: String },
}

impl Answer {
    /// What the engine receives: the value, or the error as Lambda reports a function's error
    /// (`TaskError::from_lambda`), so a mocked failure reaches `Retry`, `Catch` and `err.Cause`
    /// exactly as the real function's would.
    pub fn result(&self) -> Result<Arc<Value>, TaskError> {
        match self {
            Answer::Return(value) => Ok(Arc::clone(value)),
            Answer::Throw { error, cause } => Err(TaskError::from_lambda(error, cause)),
        }
    }
}

/// What the execution must come to. With none of `output`, `output_includes`, `error` and
/// `cause` (and no snapshot), it must succeed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Expect {
    /// The output, exactly (JSON equality).
    pub output: Option<Value>,
    /// A subset of the output: objects may have more keys; lists are compared element by
    /// element and must have the same length.
    pub output_includes: Option<Value>,
    /// The execution fails with this error.
    pub error: Option<String>,
    /// The execution fails with this cause: exactly, or, when the cause is a Lambda error
    /// object (`{"errorMessage","errorType"}` as text), its `errorMessage` exactly.
    pub cause: Option<String>,
    /// The functions called, in order, every attempt counted.
    pub calls: Option<Vec<String>>,
    /// The states entered, in order (ASL state names, nested states included).
    pub path: Option<Vec<String>>,
    /// Any outcome will do: the case checks only that it runs as written (a MockConfigFile
    /// test case, which says nothing of what it should come to). Never set by a test file.
    pub any_outcome: bool,
}

impl Expect {
    /// Whether the case expects the execution to fail (`error` or `cause` given).
    pub fn expects_failure(&self) -> bool {
        self.error.is_some() || self.cause.is_some()
    }
}

const TOP_KEYS: &[&str] = &["flow", "cases"];
const CASE_KEYS: &[&str] = &["name", "input", "mocks", "expect", "snapshot", "real"];
const ANSWER_KEYS: &[&str] = &["return", "throw", "times"];
const THROW_KEYS: &[&str] = &["error", "cause"];
const EXPECT_KEYS: &[&str] = &[
    "output",
    "output_includes",
    "error",
    "cause",
    "calls",
    "path",
];

/// Reads a test file. `flow` is the flow whose source the file sits beside; `functions` the
/// project's function keys (what `mocks` and `expect.calls` may name). Every problem is
/// reported, not only the first.
pub fn parse(text: &str, flow: &str, functions: &[String]) -> Result<TestFile, Vec<Diagnostic>> {
    let node = match serde_yaml::from_str::<Node>(text) {
        Ok(node) => node,
        Err(err) => return Err(vec![syntax_error(text, &err)]),
    };
    let root = locate::tree(text);
    let mut v = Validator {
        flow,
        functions,
        diagnostics: Vec::new(),
    };
    let file = v.file(At {
        node: &node,
        loc: Some(&root),
        span: root.span,
    });
    match file {
        Some(file) if v.diagnostics.is_empty() => Ok(file),
        _ => Err(v.diagnostics),
    }
}

/// A node with its place: the located node when the scanner found it, else the nearest
/// enclosing span.
#[derive(Clone, Copy)]
struct At<'n> {
    node: &'n Node,
    loc: Option<&'n LNode>,
    span: Span,
}

impl<'n> At<'n> {
    fn item(&self, index: usize, node: &'n Node) -> At<'n> {
        let loc = self.loc.and_then(|l| match &l.kind {
            LKind::Seq(items) => items.get(index),
            _ => None,
        });
        At {
            node,
            loc,
            span: loc.map_or(self.span, |l| l.span),
        }
    }
}

/// One `key: value` of a mapping with its places.
struct Entry<'n> {
    key: String,
    key_span: Span,
    value: At<'n>,
}

fn get<'e, 'n>(entries: &'e [Entry<'n>], key: &str) -> Option<&'e Entry<'n>> {
    entries.iter().find(|e| e.key == key)
}

/// The located entry of the `index`-th of `pairs` pairs of a mapping, whose key is `key`: the
/// entry at the same index when the scanner saw as many entries, else the same occurrence of `key`
/// (the scanner may miss entries it cannot read, e.g. a `[1]: x` key, which shifts indices).
fn located_entry<'n>(
    loc: Option<&'n LNode>,
    pairs: usize,
    index: usize,
    key: &str,
    occurrences: &mut HashMap<String, usize>,
) -> Option<&'n LEntry> {
    let occurrence = occurrences.entry(key.to_string()).or_insert(0);
    let nth = *occurrence;
    *occurrence += 1;
    let entries = loc?.entries();
    match entries.get(index) {
        Some(e) if e.key == key && entries.len() == pairs => Some(e),
        _ => entries.iter().filter(|e| e.key == key).nth(nth),
    }
}

struct Validator<'a> {
    flow: &'a str,
    functions: &'a [String],
    diagnostics: Vec<Diagnostic>,
}

fn list(keys: &[&str]) -> String {
    keys.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Validator<'_> {
    fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// The entries of a mapping, with keys that are not text, duplicates and (when `keys` is
    /// given) unknown keys reported. The last of duplicates is kept (as YAML loaders do);
    /// unknown keys are dropped.
    fn entries<'n>(&mut self, at: At<'n>, what: &str, keys: Option<&[&str]>) -> Vec<Entry<'n>> {
        let Node::Map(pairs) = at.node else {
            return Vec::new();
        };
        let mut out: Vec<Entry<'n>> = Vec::with_capacity(pairs.len());
        let mut seen: HashMap<String, Span> = HashMap::new();
        let mut occurrences: HashMap<String, usize> = HashMap::new();
        for (index, (key, value)) in pairs.iter().enumerate() {
            let Some(key_text) = key.scalar_text() else {
                let span = at
                    .loc
                    .and_then(|l| l.entries().get(index))
                    .map_or(at.span, |e| e.key_span);
                self.error(
                    Diagnostic::error(
                        "T004",
                        format!("a key in {what} is {}", key.describe()),
                        span,
                    )
                    .text("keys must be plain names")
                    .hint("write a name followed by `:`, e.g. `name: a free room is booked`"),
                );
                continue;
            };
            let located = located_entry(at.loc, pairs.len(), index, &key_text, &mut occurrences);
            let key_span = located.map_or(at.span, |e| e.key_span);
            let value = At {
                node: value,
                loc: located.map(|e| &e.value),
                span: located.map_or(key_span, |e| e.value.span),
            };
            if let Some(&first) = seen.get(&key_text) {
                self.error(
                    Diagnostic::error(
                        "T005",
                        format!("`{key_text}` is written twice in {what}"),
                        key_span,
                    )
                    .text("written again here")
                    .label(first, "first written here")
                    .hint("remove one of the two (YAML would silently keep only the last)"),
                );
                out.retain(|e| e.key != key_text);
            }
            seen.insert(key_text.clone(), key_span);
            if let Some(allowed) = keys {
                if !allowed.contains(&key_text.as_str()) {
                    let hint = match did_you_mean(&key_text, allowed.iter().copied()) {
                        Some(best) => format!(
                            "did you mean `{best}`? The keys of {what} are {}",
                            list(allowed)
                        ),
                        None => format!("the keys of {what} are {}", list(allowed)),
                    };
                    self.error(
                        Diagnostic::error(
                            "T002",
                            format!("unknown key `{key_text}` in {what}"),
                            key_span,
                        )
                        .text("not a key of this mapping")
                        .hint(hint),
                    );
                    continue;
                }
            }
            out.push(Entry {
                key: key_text,
                key_span,
                value,
            });
        }
        out
    }

    fn wrong_type(&mut self, at: At, title: String, expected: &str, hint: impl Into<String>) {
        self.error(
            Diagnostic::error("T004", title, at.span)
                .text(format!("expected {expected}, found {}", at.node.describe()))
                .hint(hint),
        );
    }

    /// A scalar as text (`name: 2 nights`, `error: 404`).
    fn text(&mut self, entry: &Entry, what: &str) -> Option<String> {
        match entry.value.node.scalar_text() {
            Some(text) => Some(text),
            None => {
                self.wrong_type(
                    entry.value,
                    format!("`{}` of {what} must be text", entry.key),
                    "text",
                    format!("write `{}: <text>`", entry.key),
                );
                None
            }
        }
    }

    fn boolean(&mut self, entry: &Entry, what: &str) -> Option<bool> {
        match entry.value.node {
            Node::Bool(b) => Some(*b),
            _ => {
                self.wrong_type(
                    entry.value,
                    format!("`{}` of {what} must be `true` or `false`", entry.key),
                    "a boolean",
                    format!("write `{}: true` or `{}: false`", entry.key, entry.key),
                );
                None
            }
        }
    }

    fn texts(&mut self, entry: &Entry, what: &str) -> Option<Vec<(String, Span)>> {
        let Node::Seq(items) = entry.value.node else {
            self.wrong_type(
                entry.value,
                format!("`{}` of {what} must be a list of names", entry.key),
                "a list",
                format!("write `{}: [A, B]`", entry.key),
            );
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (index, item) in items.iter().enumerate() {
            let at = entry.value.item(index, item);
            match item.scalar_text() {
                Some(text) => out.push((text, at.span)),
                None => {
                    ok = false;
                    self.wrong_type(
                        at,
                        format!(
                            "item {} of `{}` in {what} must be a name",
                            index + 1,
                            entry.key
                        ),
                        "text",
                        "write each item as a name",
                    );
                }
            }
        }
        ok.then_some(out)
    }

    /// A YAML value as JSON (every problem reported).
    fn json(&mut self, at: At, depth: usize) -> Option<Value> {
        if depth > MAX_JSON_DEPTH {
            self.error(
                Diagnostic::error("T012", "a value is nested too deeply", at.span)
                    .text(format!("more than {MAX_JSON_DEPTH} nested lists or mappings"))
                    .hint("JSON readers (serde_json, Step Functions) stop at this depth: flatten the value"),
            );
            return None;
        }
        match at.node {
            Node::Null => Some(Value::Null),
            Node::Bool(b) => Some(Value::Bool(*b)),
            Node::Str(s) => Some(Value::String(s.clone())),
            Node::Int(i) => {
                if let Ok(i) = i64::try_from(*i) {
                    Some(Value::from(i))
                } else if let Ok(u) = u64::try_from(*i) {
                    Some(Value::from(u))
                } else {
                    self.error(
                        Diagnostic::error("T012", "a number is too large", at.span)
                            .text("beyond 64 bits")
                            .hint("write it as a string, or as a decimal number (e.g. `1.0e30`)"),
                    );
                    None
                }
            }
            Node::Float(f) => match serde_json::Number::from_f64(*f) {
                Some(n) => Some(Value::Number(n)),
                None => {
                    self.error(
                        Diagnostic::error("T012", "a number has no JSON form", at.span)
                            .text("JSON has no infinity and no NaN")
                            .hint("write a finite number, or the text in quotes"),
                    );
                    None
                }
            },
            Node::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for (index, item) in items.iter().enumerate() {
                    match self.json(at.item(index, item), depth + 1) {
                        Some(v) if ok => out.push(v),
                        Some(_) => {}
                        None => ok = false,
                    }
                }
                ok.then_some(Value::Array(out))
            }
            Node::Map(pairs) => {
                let mut out = Map::with_capacity(pairs.len());
                let mut ok = true;
                let mut seen: HashMap<String, Span> = HashMap::new();
                let mut occurrences: HashMap<String, usize> = HashMap::new();
                for (index, (key, value)) in pairs.iter().enumerate() {
                    let Some(key) = key.scalar_text() else {
                        let key_span = at
                            .loc
                            .and_then(|l| l.entries().get(index))
                            .map_or(at.span, |e| e.key_span);
                        ok = false;
                        self.error(
                            Diagnostic::error(
                                "T012",
                                format!("a key is {}", key.describe()),
                                key_span,
                            )
                            .text("JSON object keys are text")
                            .hint("write the key as text"),
                        );
                        continue;
                    };
                    let located = located_entry(at.loc, pairs.len(), index, &key, &mut occurrences);
                    let key_span = located.map_or(at.span, |e| e.key_span);
                    if let Some(&first) = seen.get(&key) {
                        ok = false;
                        self.error(
                            Diagnostic::error(
                                "T005",
                                format!("`{key}` is written twice in a mapping"),
                                key_span,
                            )
                            .text("written again here")
                            .label(first, "first written here")
                            .hint("remove one of the two (YAML would silently keep only the last)"),
                        );
                    }
                    seen.insert(key.clone(), key_span);
                    let value = At {
                        node: value,
                        loc: located.map(|e| &e.value),
                        span: located.map_or(key_span, |e| e.value.span),
                    };
                    match self.json(value, depth + 1) {
                        Some(v) if ok => {
                            out.insert(key, v);
                        }
                        Some(_) => {}
                        None => ok = false,
                    }
                }
                ok.then_some(Value::Object(out))
            }
        }
    }

    fn file(&mut self, at: At) -> Option<TestFile> {
        let start = Span::new(at.span.start as usize, at.span.start as usize);
        match at.node {
            Node::Map(_) => {}
            Node::Null => {
                self.error(
                    Diagnostic::error("T003", "the test file has no cases", start)
                        .text("`cases:` is missing")
                        .hint("start with `cases:` and a list of cases, e.g. `cases:\\n  - name: a free room is booked\\n    input: {}`"),
                );
                return None;
            }
            other => {
                self.error(
                    Diagnostic::error("T004", "a test file is a mapping with `cases:`", at.span)
                        .text(format!("expected a mapping, found {}", other.describe()))
                        .hint("start with `cases:` and a list of cases"),
                );
                return None;
            }
        }
        let entries = self.entries(at, "the test file", Some(TOP_KEYS));
        let mut flow = None;
        if let Some(entry) = get(&entries, "flow") {
            if let Some(name) = self.text(entry, "the test file") {
                if name != self.flow {
                    self.error(
                        Diagnostic::error(
                            "T007",
                            format!("this test file is for flow `{}`, not `{name}`", self.flow),
                            entry.value.span,
                        )
                        .text(format!("the file sits beside the source of flow `{}`", self.flow))
                        .hint(format!(
                            "write `flow: {}`, or remove the line (it is optional); a test file is named after its flow's source (`x.flow` → `x.test.yaml`)",
                            self.flow
                        )),
                    );
                }
                flow = Some(name);
            }
        }
        let Some(cases_entry) = get(&entries, "cases") else {
            self.error(
                Diagnostic::error("T003", "the test file has no `cases`", start)
                    .text("`cases:` is missing")
                    .hint("add `cases:` with a list of cases, each with a `name`"),
            );
            return None;
        };
        let items: &[Node] = match cases_entry.value.node {
            Node::Seq(items) => items,
            Node::Null => &[],
            _ => {
                self.wrong_type(
                    cases_entry.value,
                    "`cases` must be a list".into(),
                    "a list",
                    "write each case as a list item: `- name: …`",
                );
                return None;
            }
        };
        let mut names: HashMap<String, Span> = HashMap::new();
        let mut cases = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            if let Some(case) = self.case(cases_entry.value.item(index, item), index, &mut names) {
                cases.push(case);
            }
        }
        Some(TestFile { flow, cases })
    }

    fn case(&mut self, at: At, index: usize, names: &mut HashMap<String, Span>) -> Option<Case> {
        let number = index + 1;
        if !matches!(at.node, Node::Map(_)) {
            self.wrong_type(
                at,
                format!("case {number} must be a mapping"),
                "a mapping",
                "write a case as `- name: …` with `input`, `mocks` and `expect` under it",
            );
            return None;
        }
        // Named in messages when it has a name, even before the name is checked.
        let written_name = match at.node {
            Node::Map(pairs) => pairs
                .iter()
                .rev()
                .find(|(k, _)| k.scalar_text().as_deref() == Some("name"))
                .and_then(|(_, v)| v.scalar_text())
                .filter(|name| !name.trim().is_empty()),
            _ => None,
        };
        let what = match &written_name {
            Some(name) => format!("case `{name}`"),
            None => format!("case {number}"),
        };
        let entries = self.entries(at, &what, Some(CASE_KEYS));
        let errors_before = self.diagnostics.len();

        let name = match get(&entries, "name") {
            Some(entry) => self.text(entry, &what).and_then(|name| {
                if name.trim().is_empty() {
                    self.error(
                        Diagnostic::error("T006", format!("case {number} has an empty name"), entry.value.span)
                            .text("an empty name")
                            .hint("name the case after what it checks, e.g. `name: a free room is booked`"),
                    );
                    return None;
                }
                if let Some(&first) = names.get(&name) {
                    self.error(
                        Diagnostic::error("T006", format!("two cases are named `{name}`"), entry.value.span)
                            .text("named again here")
                            .label(first, "first named here")
                            .hint("give each case of the file its own name (reports and snapshots find cases by name)"),
                    );
                    return None;
                }
                names.insert(name.clone(), entry.value.span);
                Some(name)
            }),
            None => {
                self.error(
                    Diagnostic::error("T003", format!("case {number} has no `name`"), at.span)
                        .text("`name:` is missing")
                        .hint("add `name: …`, unique in the file (reports and snapshots find cases by name)"),
                );
                None
            }
        };

        let input = match get(&entries, "input") {
            Some(entry) => self.json(entry.value, 1),
            None => Some(Value::Object(Map::new())),
        };

        let mocks = match get(&entries, "mocks") {
            Some(entry) => self.mocks(entry, &what),
            None => BTreeMap::new(),
        };

        let snapshot = get(&entries, "snapshot").and_then(|e| self.boolean(e, &what));
        let real = get(&entries, "real").and_then(|e| self.boolean(e, &what));

        let expect = match get(&entries, "expect") {
            Some(entry) => self.expect(entry, &what),
            None => Expect::default(),
        };

        if snapshot == Some(true) {
            let snapshot_span = get(&entries, "snapshot").map_or(at.span, |e| e.key_span);
            let expect_entries = get(&entries, "expect")
                .map(|e| self.located_keys(e))
                .unwrap_or_default();
            if expect.output.is_some() {
                let output = expect_entries.get("output").copied().unwrap_or(at.span);
                self.error(
                    Diagnostic::error("T011", format!("{what} has both `snapshot: true` and `expect.output`"), snapshot_span)
                        .text("the expected output comes from the snapshot file")
                        .label(output, "and from here")
                        .hint("keep one: `snapshot: true` (the output is recorded by `flowctl test --update`) or `expect.output` (written by hand)"),
                );
            } else if expect.expects_failure() {
                let key = if expect.error.is_some() {
                    "error"
                } else {
                    "cause"
                };
                let failure = expect_entries.get(key).copied().unwrap_or(at.span);
                self.error(
                    Diagnostic::error(
                        "T010",
                        format!("{what} expects an output snapshot and a failure"),
                        snapshot_span,
                    )
                    .text("a snapshot records the output of a successful execution")
                    .label(failure, "but the case expects the execution to fail")
                    .hint("remove `snapshot: true`, or the expected `error`/`cause`"),
                );
            }
        }

        if self.diagnostics.len() > errors_before {
            return None;
        }
        Some(Case {
            name: name?,
            input: input?,
            mocks,
            expect,
            snapshot: snapshot.unwrap_or(false),
            real: real.unwrap_or(false),
            span: at.span,
        })
    }

    /// Key → key span of a mapping entry's value, without reporting anything again.
    fn located_keys(&self, entry: &Entry) -> HashMap<String, Span> {
        entry
            .value
            .loc
            .map(|l| {
                l.entries()
                    .iter()
                    .map(|e| (e.key.clone(), e.key_span))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn unknown_function(&mut self, name: &str, span: Span, place: &str) {
        let known = self.functions.iter().map(String::as_str);
        let hint = match did_you_mean(name, known) {
            Some(best) => format!("did you mean `{best}`?"),
            None if self.functions.is_empty() => "the project has no functions".to_string(),
            None => {
                let mut names: Vec<&str> = self.functions.iter().map(String::as_str).collect();
                names.sort_unstable();
                format!("the project's functions are {}", list(&names))
            }
        };
        self.error(
            Diagnostic::error(
                "T008",
                format!("{place} names `{name}`, which is not a function of the project"),
                span,
            )
            .text("no function with this key in flowctl.yaml")
            .hint(hint),
        );
    }

    fn mocks(&mut self, entry: &Entry, what: &str) -> BTreeMap<String, FunctionMock> {
        let mut out = BTreeMap::new();
        match entry.value.node {
            Node::Map(_) => {}
            Node::Null => return out,
            _ => {
                self.wrong_type(
                    entry.value,
                    format!("`mocks` of {what} must be a mapping of functions"),
                    "a mapping",
                    "write `mocks:` then one line per function: `QuoteRate: { return: { rate: 120 } }`",
                );
                return out;
            }
        }
        let place = format!("`mocks` of {what}");
        for function in self.entries(entry.value, &place, None) {
            if !self.functions.contains(&function.key) {
                self.unknown_function(&function.key, function.key_span, &place);
            }
            let mock = match function.value.node {
                Node::Map(_) => self
                    .answer(function.value, &function.key, None)
                    .map(|(answer, _)| FunctionMock::Always(answer)),
                Node::Seq(items) if items.is_empty() => {
                    self.error(
                        Diagnostic::error("T009", format!("the mock of `{}` has no answer", function.key), function.value.span)
                            .text("an empty list answers no call")
                            .hint("give at least one answer (`- return: …`), or remove the mock; to check a function is not called, use `expect.calls`"),
                    );
                    None
                }
                Node::Seq(items) => {
                    let mut answers = Vec::with_capacity(items.len());
                    let mut ok = true;
                    for (index, item) in items.iter().enumerate() {
                        let at = function.value.item(index, item);
                        match self.answer(at, &function.key, Some(index)) {
                            Some(answer) => answers.push(answer),
                            None => ok = false,
                        }
                    }
                    ok.then_some(FunctionMock::Calls(answers))
                }
                _ => {
                    self.wrong_type(
                        function.value,
                        format!("the mock of `{}` must be an answer or a list of answers", function.key),
                        "a mapping or a list",
                        "write `{ return: VALUE }`, `{ throw: { error: NAME, cause: TEXT } }`, or a list of them (one per call, with `times: N`)",
                    );
                    None
                }
            };
            if let Some(mock) = mock {
                out.insert(function.key, mock);
            }
        }
        out
    }

    /// One answer; `index` is its place in a list (`None`: the single answer for every call).
    fn answer(&mut self, at: At, function: &str, index: Option<usize>) -> Option<(Answer, u32)> {
        let what = match index {
            Some(i) => format!("answer {} of `{function}`", i + 1),
            None => format!("the answer of `{function}`"),
        };
        if !matches!(at.node, Node::Map(_)) {
            self.wrong_type(
                at,
                format!("{what} must be a mapping"),
                "a mapping",
                "write `{ return: VALUE }` or `{ throw: { error: NAME, cause: TEXT } }`",
            );
            return None;
        }
        let errors_before = self.diagnostics.len();
        let entries = self.entries(at, &what, Some(ANSWER_KEYS));
        let returned = get(&entries, "return");
        let thrown = get(&entries, "throw");
        let answer = match (returned, thrown) {
            (Some(r), Some(t)) => {
                let (first, second) = if r.key_span.start <= t.key_span.start {
                    (r, t)
                } else {
                    (t, r)
                };
                self.error(
                    Diagnostic::error("T009", format!("{what} both returns and throws"), second.key_span)
                        .text(format!("`{}` here", second.key))
                        .label(first.key_span, format!("and `{}` here", first.key))
                        .hint("an answer is either `return` or `throw`; for different calls, write a list of answers"),
                );
                None
            }
            (None, None) => {
                // An unknown key already explains an answer without either.
                if self.diagnostics.len() == errors_before {
                    self.error(
                        Diagnostic::error("T009", format!("{what} neither returns nor throws"), at.span)
                            .text("no `return` or `throw`")
                            .hint("write `{ return: VALUE }` or `{ throw: { error: NAME, cause: TEXT } }`"),
                    );
                }
                None
            }
            (Some(r), None) => self.json(r.value, 1).map(|v| Answer::Return(Arc::new(v))),
            (None, Some(t)) => self.throw(t, &what),
        };
        let times = match get(&entries, "times") {
            None => Some(1),
            Some(entry) if index.is_none() => {
                self.error(
                    Diagnostic::error("T009", format!("`times` in {what}, which answers every call"), entry.key_span)
                        .text("a single answer already answers every call")
                        .hint(format!("to answer a number of calls, write a list: `{function}:` then `- return: …` with `times: N`, one item per answer")),
                );
                None
            }
            Some(entry) => {
                match entry.value.node {
                    Node::Int(n) if *n >= 1 => match u32::try_from(*n) {
                        Ok(n) => Some(n),
                        Err(_) => {
                            self.error(
                            Diagnostic::error("T009", format!("`times` of {what} is too large"), entry.value.span)
                                .text(format!("at most {}", u32::MAX))
                                .hint("a smaller number; a single answer (not a list) answers every call"),
                        );
                            None
                        }
                    },
                    Node::Int(_) => {
                        self.error(
                            Diagnostic::error(
                                "T009",
                                format!("`times` of {what} is below 1"),
                                entry.value.span,
                            )
                            .text("an answer stands for at least one call")
                            .hint("write `times: 1` or more, or remove the answer"),
                        );
                        None
                    }
                    _ => {
                        self.wrong_type(
                            entry.value,
                            format!("`times` of {what} must be a whole number"),
                            "a whole number",
                            "write `times: 2` (the answer for 2 calls)",
                        );
                        None
                    }
                }
            }
        };
        Some((answer?, times?))
    }

    fn throw(&mut self, entry: &Entry, what: &str) -> Option<Answer> {
        if !matches!(entry.value.node, Node::Map(_)) {
            self.wrong_type(
                entry.value,
                format!("`throw` of {what} must be a mapping"),
                "a mapping",
                "write `throw: { error: NAME, cause: TEXT }` (`cause` optional)",
            );
            return None;
        }
        let place = format!("`throw` of {what}");
        let entries = self.entries(entry.value, &place, Some(THROW_KEYS));
        let cause = match get(&entries, "cause") {
            Some(e) => self.text(e, &place),
            None => Some(String::new()),
        };
        let error = match get(&entries, "error") {
            Some(e) => match self.text(e, &place) {
                Some(error) if error.is_empty() => {
                    self.error(
                        Diagnostic::error("T009", format!("the error name of {what} is empty"), e.value.span)
                            .text("an empty error name")
                            .hint("name the error as the function would (`errorType`), e.g. `PaymentGatewayTimeout`"),
                    );
                    None
                }
                other => other,
            },
            None => {
                self.error(
                    Diagnostic::error("T003", format!("{place} has no `error`"), entry.key_span)
                        .text("`error:` is missing")
                        .hint("write `throw: { error: NAME, cause: TEXT }`: `error` is what `retry`/`catch` match"),
                );
                None
            }
        };
        Some(Answer::Throw {
            error: error?,
            cause: cause?,
        })
    }

    fn expect(&mut self, entry: &Entry, what: &str) -> Expect {
        let mut expect = Expect::default();
        match entry.value.node {
            Node::Map(_) => {}
            Node::Null => return expect,
            _ => {
                self.wrong_type(
                    entry.value,
                    format!("`expect` of {what} must be a mapping"),
                    "a mapping",
                    "write `expect:` then `output`, `output_includes`, `error`, `cause`, `calls` or `path` under it",
                );
                return expect;
            }
        }
        let place = format!("`expect` of {what}");
        let entries = self.entries(entry.value, &place, Some(EXPECT_KEYS));
        for e in &entries {
            match e.key.as_str() {
                "output" => expect.output = self.json(e.value, 1),
                "output_includes" => expect.output_includes = self.json(e.value, 1),
                "error" => expect.error = self.text(e, &place),
                "cause" => expect.cause = self.text(e, &place),
                "calls" => {
                    expect.calls = self.texts(e, &place).map(|calls| {
                        for (name, span) in &calls {
                            if !self.functions.contains(name) {
                                self.unknown_function(
                                    name,
                                    *span,
                                    &format!("`expect.calls` of {what}"),
                                );
                            }
                        }
                        calls.into_iter().map(|(name, _)| name).collect()
                    })
                }
                "path" => {
                    expect.path = self
                        .texts(e, &place)
                        .map(|path| path.into_iter().map(|(name, _)| name).collect())
                }
                _ => {}
            }
        }
        // Contradictions, pointed at the later key with the earlier one labelled.
        let success = entries
            .iter()
            .filter(|e| matches!(e.key.as_str(), "output" | "output_includes"))
            .collect::<Vec<_>>();
        let failure = entries
            .iter()
            .find(|e| matches!(e.key.as_str(), "error" | "cause"));
        if let [first, second] = success[..] {
            self.error(
                Diagnostic::error("T010", format!("{place} has both `output` and `output_includes`"), second.key_span)
                    .text(format!("`{}` here", second.key))
                    .label(first.key_span, format!("and `{}` here", first.key))
                    .hint("keep one: `output` (the whole output, exactly) or `output_includes` (the parts that matter)"),
            );
        }
        if let (Some(ok), Some(failed)) = (success.first(), failure) {
            let (first, second) = if ok.key_span.start <= failed.key_span.start {
                (*ok, failed)
            } else {
                (failed, *ok)
            };
            self.error(
                Diagnostic::error("T010", format!("{place} expects both an output and a failure"), second.key_span)
                    .text(format!("`{}` here", second.key))
                    .label(first.key_span, format!("and `{}` here", first.key))
                    .hint("an execution either succeeds with an output (`output`, `output_includes`) or fails (`error`, `cause`): split this into two cases"),
            );
        }
        expect
    }
}

/// A serde_yaml syntax error → T001 at its place, in plain words.
fn syntax_error(text: &str, err: &serde_yaml::Error) -> Diagnostic {
    let raw = err.to_string();
    let at = err
        .location()
        .map(|loc| loc.index())
        .filter(|&i| i <= text.len() && text.is_char_boundary(i))
        .unwrap_or(0);
    let end = text[at..]
        .char_indices()
        .find(|&(_, c)| c.is_whitespace())
        .map_or(text.len(), |(i, _)| at + i)
        .max(at + text[at..].chars().next().map_or(0, char::len_utf8));
    let span = Span::new(at, end);
    // serde_yaml appends the position, which the span already shows.
    let message = match raw.find(" at line ") {
        Some(i) => &raw[..i],
        None => raw.as_str(),
    };
    if raw.contains("more than one document") {
        return Diagnostic::error(
            "T001",
            "the test file holds more than one YAML document",
            span,
        )
        .text("a second document starts here")
        .hint("keep one document: remove the `---` line and put every case under one `cases:`");
    }
    let (title, hint) = if text[at..].starts_with('\t') {
        (
            "tab character in indentation",
            "indent with spaces instead of tabs",
        )
    } else if message.starts_with("recursion limit exceeded") {
        ("the test file is nested too deeply", "flatten this value")
    } else if message.contains("mapping values are not allowed in this context") {
        (
            "unexpected `:`",
            "check the indentation of this line (it must line up with its sibling keys); if a value contains `: `, put it in quotes",
        )
    } else if message.contains("did not find expected key") {
        (
            "bad indentation",
            "indent each key exactly like its siblings (with spaces)",
        )
    } else if message.contains("did not find expected '-' indicator") {
        (
            "bad indentation in a list",
            "start each item with `- ` at the same indentation",
        )
    } else {
        (
            "invalid YAML",
            "fix the YAML syntax here (the whole file must be valid YAML before its cases can run)",
        )
    };
    Diagnostic::error("T001", title, span)
        .text(message.to_string())
        .hint(hint)
}

/// The JSON Schema of a test file (draft 7), for `flowctl schema --tests` and editors.
pub fn json_schema() -> Value {
    let schema = schemars::schema_for!(schema::TestFile);
    let mut value = serde_json::to_value(schema).unwrap_or(Value::Null);
    // What schemars cannot say from the types: a list of answers has at least one.
    if let Some(Value::Object(list)) = value.pointer_mut("/definitions/FunctionMock/anyOf/1") {
        list.insert("minItems".into(), Value::from(1));
    }
    value
}

/// The file's format for schemars only: the parser above reads the text itself (to locate
/// every problem), so these types are never deserialized.
#[allow(dead_code)]
mod schema {
    use super::JsonSchema;
    use serde_json::Value;
    use std::collections::BTreeMap;

    /// The cases of one flow, run by `flowctl test`. The file sits beside the flow's source:
    /// `flows/booking.flow` → `flows/booking.test.yaml`.
    #[derive(JsonSchema)]
    #[schemars(title = "flowctl test file", deny_unknown_fields)]
    pub struct TestFile {
        /// The flow these cases test: when given, the flow whose source this file sits beside.
        pub flow: Option<String>,
        /// The cases, each run on its own execution.
        pub cases: Vec<Case>,
    }

    /// One case: an input, the answers of the functions it mocks, and what must happen.
    #[derive(JsonSchema)]
    #[schemars(deny_unknown_fields)]
    pub struct Case {
        /// What the case checks, in words; unique in the file (reports and snapshots find
        /// cases by name).
        #[schemars(length(min = 1))]
        pub name: String,
        /// The execution input (default `{}`).
        pub input: Option<Value>,
        /// Answers of functions, by manifest function key. A function the case calls without a
        /// mock is an error of the case (unless `real: true`).
        pub mocks: Option<BTreeMap<String, FunctionMock>>,
        /// What the execution must come to. Without `output`, `output_includes`, `error` and
        /// `cause`, it must succeed.
        pub expect: Option<Expect>,
        /// The expected output is the one recorded in `<flow>.test.snap.json` by
        /// `flowctl test --update` (not together with `expect.output`).
        pub snapshot: Option<bool>,
        /// Integration: functions without a mock run for real (built units).
        pub real: Option<bool>,
    }

    /// A function's answers: one answer for every call, or a list answering calls 1, 2, … in
    /// order (a call past the end is an error of the case).
    #[derive(JsonSchema)]
    #[schemars(untagged)]
    pub enum FunctionMock {
        /// The answer to every call.
        Always(Answer),
        /// Answers in call order (at least one).
        Calls(Vec<ListAnswer>),
    }

    /// An answer: `return` or `throw`.
    #[derive(JsonSchema)]
    #[schemars(untagged)]
    pub enum Answer {
        Return(Return),
        Throw(Throw),
    }

    /// The function returns a value.
    #[derive(JsonSchema)]
    #[schemars(deny_unknown_fields)]
    pub struct Return {
        /// The function's result (any JSON; empty for `null`).
        #[schemars(rename = "return")]
        pub value: Value,
    }

    /// The function fails.
    #[derive(JsonSchema)]
    #[schemars(deny_unknown_fields)]
    pub struct Throw {
        /// The function's error, as Lambda reports it: Step Functions sees `error` as the
        /// error name and `{"errorMessage": cause, "errorType": error}` as the cause.
        pub throw: Error,
    }

    /// An error a function returns.
    #[derive(JsonSchema)]
    #[schemars(deny_unknown_fields)]
    pub struct Error {
        /// The error name (`errorType`): what `retry(on: …)` and `catch` match.
        #[schemars(length(min = 1))]
        pub error: String,
        /// The message (`errorMessage`); default empty.
        pub cause: Option<String>,
    }

    /// An answer in a list, for one or more calls.
    #[derive(JsonSchema)]
    #[schemars(untagged)]
    pub enum ListAnswer {
        Return(ListReturn),
        Throw(ListThrow),
    }

    /// The function returns a value, for `times` calls.
    #[derive(JsonSchema)]
    #[schemars(deny_unknown_fields)]
    pub struct ListReturn {
        /// The function's result (any JSON; empty for `null`).
        #[schemars(rename = "return")]
        pub value: Value,
        /// How many consecutive calls get this answer (default 1).
        #[schemars(range(min = 1, max = 4294967295u32))]
        pub times: Option<u32>,
    }

    /// The function fails, for `times` calls.
    #[derive(JsonSchema)]
    #[schemars(deny_unknown_fields)]
    pub struct ListThrow {
        /// The function's error, as Lambda reports it.
        pub throw: Error,
        /// How many consecutive calls get this answer (default 1).
        #[schemars(range(min = 1, max = 4294967295u32))]
        pub times: Option<u32>,
    }

    /// What the execution must come to: an output (`output` or `output_includes`) or a
    /// failure (`error`, `cause`), and optionally the calls and the path.
    #[derive(JsonSchema)]
    #[schemars(deny_unknown_fields)]
    pub struct Expect {
        /// The output, exactly (JSON equality). Not with `output_includes`, `error`, `cause`.
        pub output: Option<Value>,
        /// A subset of the output: objects may have more keys; lists are compared element by
        /// element and must have the same length.
        pub output_includes: Option<Value>,
        /// The execution fails with this error name.
        pub error: Option<String>,
        /// The execution fails with this cause: exactly, or the `errorMessage` of a Lambda
        /// error object.
        pub cause: Option<String>,
        /// The functions called, in order, every attempt counted (manifest function keys).
        pub calls: Option<Vec<String>>,
        /// The states entered, in order (state names of the compiled document).
        pub path: Option<Vec<String>>,
    }
}

#[cfg(test)]
mod tests;
