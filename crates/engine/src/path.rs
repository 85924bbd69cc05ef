//! JSONPath as ASL uses it: `Path`s that select from the state input or the context object
//! (`$$`), and `ReferencePath`s that say where `ResultPath` writes.
//!
//! Definite paths (`$.a.b`, `$['a b'][0]`), which are nearly all paths in practice, are
//! compiled to a list of steps and walked directly; anything else (wildcards, filters, slices,
//! descendants) goes to `serde_json_path` and yields the array of its matches, as Step
//! Functions does for an indefinite path.

use serde_json::{Map, Value};
use serde_json_path::JsonPath;

/// How deep a JSONPath's brackets and parentheses may nest (filters nest a few levels at most).
const MAX_BRACKETS: usize = 32;
use std::borrow::Cow;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    Key(Box<str>),
    /// Negative counts from the end, as in JSONPath.
    Index(i64),
}

#[derive(Debug)]
enum Query {
    Definite(Box<[Step]>),
    Indefinite(JsonPath),
}

/// A compiled path. `context` paths (`$$…`) select from the context object, `variable`
/// paths (`$name…`) from a workflow variable.
#[derive(Debug)]
pub(crate) struct Path {
    text: Box<str>,
    context: bool,
    variable: Option<Box<str>>,
    query: Query,
}

/// The name a variable path starts with (`order` in `$order.items[0]`), if it is one: `$`
/// then an identifier, as Step Functions names variables (Unicode identifiers).
pub(crate) fn variable_name(text: &str) -> Option<&str> {
    let rest = text.strip_prefix('$')?;
    let first = rest.chars().next()?;
    if !(first.is_alphabetic() || first == '_') {
        return None;
    }
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

impl Path {
    /// Compiles `$…` or `$$…`; the error says what is wrong.
    pub(crate) fn parse(text: &str) -> Result<Path, String> {
        let variable = variable_name(text);
        let (context, rest) = match (text.strip_prefix("$$"), variable) {
            (Some(rest), _) => (true, rest),
            (None, Some(name)) => (false, &text[1 + name.len()..]),
            (None, None) => match text.strip_prefix('$') {
                Some(rest) => (false, rest),
                None => return Err(format!("`{text}` is not a path: a path starts with `$`")),
            },
        };
        let variable = variable.map(Box::from);
        if let Some(steps) = parse_definite(rest) {
            return Ok(Path {
                text: text.into(),
                context,
                variable,
                query: Query::Definite(steps.into()),
            });
        }
        // serde_json_path's parser recurses into every `(` and `[` of a filter: refuse a path
        // that nests them past any real query before it can exhaust the stack.
        let deepest = rest
            .bytes()
            .scan(0usize, |open, b| {
                match b {
                    b'(' | b'[' => *open += 1,
                    b')' | b']' => *open = open.saturating_sub(1),
                    _ => {}
                }
                Some(*open)
            })
            .max()
            .unwrap_or(0);
        if deepest > MAX_BRACKETS {
            return Err(format!(
                "`{}` nests brackets and parentheses {deepest} deep; a path may nest at most {MAX_BRACKETS}",
                super::template::shortened(text.to_string())
            ));
        }
        match JsonPath::parse(&format!("${rest}")) {
            Ok(path) => Ok(Path {
                text: text.into(),
                context,
                variable,
                query: Query::Indefinite(path),
            }),
            Err(e) => Err(format!("`{text}` is not a valid JSONPath: {}", e.message())),
        }
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    pub(crate) fn is_context(&self) -> bool {
        self.context
    }

    /// The workflow variable it reads (`$name…`), if it reads one.
    pub(crate) fn variable(&self) -> Option<&str> {
        self.variable.as_deref()
    }

    /// Whether it reads the state's input (not the context object or a variable).
    pub(crate) fn reads_input(&self) -> bool {
        !self.context && self.variable.is_none()
    }

    /// Whether it selects (at most) one part of the input: definite (no wildcard, filter,
    /// slice or descent, which may list a value many times) and not from the context object.
    pub(crate) fn selects_part_of_input(&self) -> bool {
        matches!(&self.query, Query::Definite(_)) && self.reads_input()
    }

    /// Whether this is `$`: the whole input.
    pub(crate) fn is_root(&self) -> bool {
        matches!(&self.query, Query::Definite(steps) if steps.is_empty()) && self.reads_input()
    }

    /// The first member name of a definite input path (`Payload` for `$.Payload.x`).
    pub(crate) fn first_key(&self) -> Option<&str> {
        match (&self.query, self.reads_input()) {
            (Query::Definite(steps), true) => match steps.first() {
                Some(Step::Key(k)) => Some(k),
                _ => None,
            },
            _ => None,
        }
    }

    /// Selects from `input` (or from `context` for a `$$` path; a variable path selects
    /// from `input`, which the caller made the variable's value). `None` when a definite
    /// path matches nothing; an indefinite path always yields its (maybe empty) array.
    pub(crate) fn select<'v>(
        &self,
        input: &'v Value,
        context: &'v Value,
    ) -> Option<Cow<'v, Value>> {
        let root = if self.context { context } else { input };
        self.select_from(root)
    }

    /// Selects from `root`, whatever the path's own root is.
    pub(crate) fn select_from<'v>(&self, root: &'v Value) -> Option<Cow<'v, Value>> {
        match &self.query {
            Query::Definite(steps) => walk(root, steps).map(Cow::Borrowed),
            Query::Indefinite(path) => Some(Cow::Owned(Value::Array(
                path.query(root).all().into_iter().cloned().collect(),
            ))),
        }
    }

    /// The same path one level down, for a value that is the member named by this path's
    /// first step (`$.Payload.x` read from the `Payload` itself is `$.x`); the text stays, for
    /// messages. `None` unless this is a definite input path that starts with a name.
    pub(crate) fn below_first_key(&self) -> Option<Path> {
        match (&self.query, self.reads_input()) {
            (Query::Definite(steps), true) if matches!(steps.first(), Some(Step::Key(_))) => {
                Some(Path {
                    text: self.text.clone(),
                    context: false,
                    variable: None,
                    query: Query::Definite(steps[1..].into()),
                })
            }
            _ => None,
        }
    }

    /// Like `select`, but takes ownership of the input so that a definite match is moved out
    /// instead of copied.
    pub(crate) fn select_owned(&self, input: Value, context: &Value) -> Option<Value> {
        match (&self.query, self.context) {
            (Query::Definite(steps), false) if self.variable.is_none() => take(input, steps),
            _ => self.select(&input, context).map(Cow::into_owned),
        }
    }
}

fn walk<'v>(mut value: &'v Value, steps: &[Step]) -> Option<&'v Value> {
    for step in steps {
        value = match (step, value) {
            (Step::Key(k), Value::Object(map)) => field(map, k)?,
            (Step::Index(i), Value::Array(items)) => items.get(resolve_index(*i, items.len())?)?,
            _ => return None,
        };
    }
    Some(value)
}

/// A member of an object. Small objects (most state payloads) are scanned: comparing a few
/// keys is cheaper than hashing one.
fn field<'v>(map: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    if map.len() <= 8 {
        map.iter().find_map(|(k, v)| (k == key).then_some(v))
    } else {
        map.get(key)
    }
}

fn take(mut value: Value, steps: &[Step]) -> Option<Value> {
    for step in steps {
        value = match (step, value) {
            // Found by a scan rather than `remove`, which would hash the key: the rest of the
            // object is dropped anyway.
            (Step::Key(k), Value::Object(map)) => map
                .into_iter()
                .find_map(|(key, v)| (*key == **k).then_some(v))?,
            (Step::Index(i), Value::Array(mut items)) => {
                let at = resolve_index(*i, items.len())?;
                if at >= items.len() {
                    return None;
                }
                items.swap_remove(at)
            }
            _ => return None,
        };
    }
    Some(value)
}

fn resolve_index(i: i64, len: usize) -> Option<usize> {
    if i >= 0 {
        usize::try_from(i).ok()
    } else {
        len.checked_sub(usize::try_from(i.unsigned_abs()).ok()?)
    }
}

/// Where `ResultPath` (and a catcher's `ResultPath`) puts a value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ResultPath {
    /// `null`: keep the input, drop the result.
    Discard,
    /// `$`: the result replaces the input.
    Replace,
    /// `$.a.b`: the result is written there, creating missing objects on the way.
    At(Box<[Step]>),
}

impl ResultPath {
    /// `None` (JSON null) discards; otherwise a definite, non-context path.
    pub(crate) fn parse(text: Option<&str>) -> Result<ResultPath, String> {
        let Some(text) = text else {
            return Ok(ResultPath::Discard);
        };
        let not_reference = || {
            format!("`{text}` is not a reference path (like `$`, `$.a.b`, `$['a b']`, `$.a[0]`)")
        };
        if text.starts_with("$$") {
            return Err(format!(
                "`{text}`: a result cannot be written to the context object"
            ));
        }
        if let Some(name) = variable_name(text) {
            return Err(format!(
                "`{text}`: a result cannot be written to the variable `{name}`; use `Assign` to set a variable"
            ));
        }
        let rest = text.strip_prefix('$').ok_or_else(not_reference)?;
        let steps = parse_definite(rest).ok_or_else(not_reference)?;
        Ok(if steps.is_empty() {
            ResultPath::Replace
        } else {
            ResultPath::At(steps.into())
        })
    }

    /// Writes `result` into `input`. When the path cannot be written (it runs through a
    /// value that is not an object, or an array index that does not exist), the input is
    /// handed back unchanged as the error.
    pub(crate) fn apply(&self, input: Value, result: Value) -> Result<Value, Value> {
        match self {
            ResultPath::Discard => Ok(input),
            ResultPath::Replace => Ok(result),
            ResultPath::At(steps) => {
                if !writable(&input, steps) {
                    return Err(input);
                }
                let mut root = input;
                let mut slot = &mut root;
                for step in steps.iter() {
                    slot = match (step, slot) {
                        (Step::Key(k), Value::Object(map)) => {
                            map.entry(&**k).or_insert_with(|| Value::Object(Map::new()))
                        }
                        (Step::Index(i), Value::Array(items)) => {
                            let len = items.len();
                            match resolve_index(*i, len).and_then(|at| items.get_mut(at)) {
                                Some(item) => item,
                                None => return Ok(root),
                            }
                        }
                        // `writable` has ruled this out.
                        _ => return Ok(root),
                    };
                }
                *slot = result;
                Ok(root)
            }
        }
    }
}

/// Whether `apply` can write along `steps`: names through objects (missing ones are created),
/// indexes only into existing array elements.
fn writable(root: &Value, steps: &[Step]) -> bool {
    let mut current = Some(root);
    for step in steps {
        current = match (step, current) {
            (Step::Key(k), Some(Value::Object(map))) => map.get(&**k),
            (Step::Key(_), None) => None,
            (Step::Index(i), Some(Value::Array(items))) => {
                match resolve_index(*i, items.len()).and_then(|at| items.get(at)) {
                    Some(item) => Some(item),
                    None => return false,
                }
            }
            _ => return false,
        };
    }
    true
}

/// Characters that end a dot-notation name or make the path something other than a plain
/// chain of names and indexes.
fn ends_name(c: char) -> bool {
    matches!(
        c,
        '.' | '['
            | ']'
            | '*'
            | '?'
            | '@'
            | '('
            | ')'
            | ','
            | ':'
            | '\''
            | '"'
            | '\\'
            | '$'
            | '!'
            | '='
            | '<'
            | '>'
            | '&'
            | '|'
    ) || c.is_whitespace()
}

/// The steps of a definite path after its `$`, or `None` when it is not a plain chain of
/// `.name`, `['name']`, `["name"]` and `[index]`.
pub(crate) fn parse_definite(rest: &str) -> Option<Vec<Step>> {
    let mut steps = Vec::new();
    let mut chars = rest.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '.' => {
                let start = at + 1;
                let mut end = start;
                while let Some(&(i, c)) = chars.peek() {
                    if ends_name(c) {
                        break;
                    }
                    end = i + c.len_utf8();
                    chars.next();
                }
                if end == start {
                    return None;
                }
                steps.push(Step::Key(rest.get(start..end)?.into()));
            }
            '[' => match chars.next()?.1 {
                quote @ ('\'' | '"') => {
                    let mut name = String::new();
                    loop {
                        match chars.next()?.1 {
                            c if c == quote => break,
                            '\\' => name.push(match chars.next()?.1 {
                                'b' => '\u{8}',
                                'f' => '\u{c}',
                                'n' => '\n',
                                'r' => '\r',
                                't' => '\t',
                                'u' => {
                                    let hex: String = (0..4)
                                        .map(|_| chars.next().map(|(_, c)| c))
                                        .collect::<Option<_>>()?;
                                    char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?
                                }
                                other => other,
                            }),
                            c => name.push(c),
                        }
                    }
                    if chars.next()?.1 != ']' {
                        return None;
                    }
                    steps.push(Step::Key(name.into()));
                }
                first => {
                    let mut digits = String::from(first);
                    loop {
                        match chars.next()?.1 {
                            ']' => break,
                            c => digits.push(c),
                        }
                    }
                    let valid = digits.strip_prefix('-').unwrap_or(&digits);
                    if valid.is_empty()
                        || !valid.bytes().all(|b| b.is_ascii_digit())
                        || (valid.len() > 1 && valid.starts_with('0'))
                    {
                        return None;
                    }
                    steps.push(Step::Index(digits.parse().ok()?));
                }
            },
            _ => return None,
        }
    }
    Some(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sel(path: &str, v: &Value) -> Option<Value> {
        Path::parse(path)
            .unwrap()
            .select(v, &json!({"Execution": {"Id": "x"}}))
            .map(Cow::into_owned)
    }

    #[test]
    fn definite_paths_walk() {
        let v = json!({"a": {"b c": [1, {"d": 2}], "it's": 3}, "x-y": 4});
        assert_eq!(sel("$", &v), Some(v.clone()));
        assert_eq!(sel("$.a['b c'][1].d", &v), Some(json!(2)));
        assert_eq!(sel("$.a[\"b c\"][-1]", &v), Some(json!({"d": 2})));
        assert_eq!(sel("$.a['it\\'s']", &v), Some(json!(3)));
        assert_eq!(sel("$.x-y", &v), Some(json!(4)));
        assert_eq!(sel("$.a.missing", &v), None);
        assert_eq!(sel("$.a['b c'][7]", &v), None);
        assert_eq!(sel("$$.Execution.Id", &v), Some(json!("x")));
    }

    #[test]
    fn indefinite_paths_yield_arrays() {
        let v = json!({"xs": [{"k": 1}, {"k": 2}, {"j": 3}]});
        assert_eq!(sel("$.xs[*].k", &v), Some(json!([1, 2])));
        assert_eq!(sel("$..nothing", &v), Some(json!([])));
        assert_eq!(sel("$.xs[?@.k > 1].k", &v), Some(json!([2])));
    }

    #[test]
    fn a_filter_nested_past_any_real_query_is_refused_not_recursed_into() {
        let deep = format!(
            "$.xs[?{}@.k > 1{}]",
            "(".repeat(100_000),
            ")".repeat(100_000)
        );
        let Err(error) = Path::parse(&deep) else {
            panic!("a 100,000-deep filter was accepted");
        };
        assert!(
            error.contains("a path may nest at most 32"),
            "{}",
            &error[..200]
        );
        let fine = format!("$.xs[?{}@.k > 1{}].k", "(".repeat(8), ")".repeat(8));
        let v = json!({"xs": [{"k": 1}, {"k": 2}]});
        assert_eq!(sel(&fine, &v), Some(json!([2])));
    }

    #[test]
    fn bad_paths_are_errors() {
        for bad in ["", "a.b", "$.", "$[", "$['a", "$.a[01]", "$.a[?", "$[1"] {
            assert!(Path::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn result_path_writes_and_creates() {
        let rp = ResultPath::parse(Some("$.a.b")).unwrap();
        assert_eq!(
            rp.apply(json!({"x": 1}), json!(2)).ok(),
            Some(json!({"x": 1, "a": {"b": 2}}))
        );
        assert!(rp.apply(json!({"a": "str"}), json!(2)).is_err());
        assert!(rp.apply(json!("str"), json!(2)).is_err());
        let rp = ResultPath::parse(Some("$.xs[1]")).unwrap();
        assert_eq!(
            rp.apply(json!({"xs": [0, 0]}), json!(5)).ok(),
            Some(json!({"xs": [0, 5]}))
        );
        assert!(rp.apply(json!({"xs": [0]}), json!(5)).is_err());
        assert_eq!(ResultPath::parse(Some("$")).unwrap(), ResultPath::Replace);
        assert_eq!(ResultPath::parse(None).unwrap(), ResultPath::Discard);
        for bad in ["$.a[*]", "$$.Execution", "a", "$..a"] {
            assert!(ResultPath::parse(Some(bad)).is_err(), "{bad}");
        }
    }
}
