//! Payload templates (`Parameters`, `ResultSelector`, `ItemSelector`, `Assign`, and in
//! JSONata states `Arguments`, `Output`, `Items`…): JSON whose keys ending in `.$` take their
//! value from a path, a context path, a variable or an intrinsic function call, or (JSONata)
//! whose `"{% … %}"` strings are expressions; compiled once at load so that running one is a
//! walk over prepared nodes.

use super::intrinsics;
use super::jsonata::{self, Expression};
use super::path::Path;
use super::vars::Vars;
use super::TaskError;
use flowctl_protocol::sfn::errors;
use jsonata_core::value::JValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::cell::OnceCell;

/// What a template, a path or an intrinsic reads: the input (`$`; in JSONata `$states.input`),
/// the context object (`$$`; `$states.context`), which is only built if something asks for
/// it, the workflow variables, and in JSONata a Task's result or a catcher's error output.
pub(crate) struct Scope<'a> {
    pub input: &'a Value,
    context: OnceCell<Value>,
    build_context: &'a dyn Fn() -> Value,
    pub vars: &'a Vars<'a>,
    /// `$states.result`.
    pub result: Option<&'a Value>,
    /// `$states.errorOutput`.
    pub error_output: Option<&'a Value>,
}

impl<'a> Scope<'a> {
    pub(crate) fn new(
        input: &'a Value,
        build_context: &'a dyn Fn() -> Value,
        vars: &'a Vars<'a>,
    ) -> Scope<'a> {
        Scope {
            input,
            context: OnceCell::new(),
            build_context,
            vars,
            result: None,
            error_output: None,
        }
    }

    /// The same context (built once for both) over another input.
    fn over<'b>(&'b self, input: &'b Value) -> Scope<'b> {
        let context = OnceCell::new();
        if let Some(built) = self.context.get() {
            let _ = context.set(built.clone());
        }
        Scope {
            input,
            context,
            build_context: self.build_context,
            vars: self.vars,
            result: self.result,
            error_output: self.error_output,
        }
    }

    pub(crate) fn context(&self) -> &Value {
        self.context.get_or_init(self.build_context)
    }

    pub(crate) fn select(&self, path: &Path) -> Option<Cow<'_, Value>> {
        if path.is_context() {
            path.select(self.input, self.context())
        } else if let Some(name) = path.variable() {
            path.select_from(self.vars.get(name)?)
        } else {
            path.select(self.input, &Value::Null)
        }
    }

    /// What a path that found nothing looked into, for the message.
    pub(crate) fn root_of(&self, path: &Path) -> &Value {
        if path.is_context() {
            self.context()
        } else if let Some(name) = path.variable() {
            self.vars.get(name).map_or(&Value::Null, |v| &**v)
        } else {
            self.input
        }
    }

    /// `$states` as a JSONata value: what the expression reads of it.
    fn states(&self, expr: &Expression) -> JValue {
        let mut states = indexmap::IndexMap::new();
        states.insert("input".to_string(), jsonata::to_jvalue(self.input));
        if expr.text().contains("context") {
            states.insert("context".to_string(), jsonata::to_jvalue(self.context()));
        }
        if let Some(result) = self.result {
            states.insert("result".to_string(), jsonata::to_jvalue(result));
        }
        if let Some(error) = self.error_output {
            states.insert("errorOutput".to_string(), jsonata::to_jvalue(error));
        }
        JValue::object(states)
    }

    /// Evaluates a JSONata expression of the field `at`: `Ok(None)` when it yields nothing.
    pub(crate) fn jsonata(&self, expr: &Expression, at: &str) -> Result<Option<Value>, TaskError> {
        if let Some((part, field)) = expr.states_field() {
            let whole = match part {
                "input" => Some(self.input),
                "result" => self.result,
                _ => self.error_output,
            };
            if let Some(Value::Object(fields)) = whole {
                match fields.get(field) {
                    Some(Value::Array(_)) => {}
                    found => return Ok(found.cloned()),
                }
            }
        }
        expr.evaluate_in(&mut |name| match name {
            "states" => Some(self.states(expr)),
            _ => self.vars.get(name).map(|v| jsonata::to_jvalue(v)),
        })
        .map_err(|e| {
            jsonata::query_evaluation_error(format!(
                "The JSONata expression '{}' specified for the field '{at}' threw an error: {}",
                shortened(expr.text().to_string()),
                e.message
            ))
        })
    }

    /// A JSONata expression whose field needs a value: nothing is an error.
    pub(crate) fn jsonata_value(&self, expr: &Expression, at: &str) -> Result<Value, TaskError> {
        self.jsonata(expr, at)?.ok_or_else(|| {
            jsonata::query_evaluation_error(format!(
                "The JSONata expression '{}' specified for the field '{at}' returned nothing (undefined)",
                shortened(expr.text().to_string())
            ))
        })
    }
}

/// `States.Runtime`: the terminal error for a broken path or payload at run time.
pub(crate) fn runtime(cause: impl Into<String>) -> TaskError {
    TaskError::new(errors::RUNTIME, cause)
}

/// JSON text of a value for an error message, shortened so a large payload cannot flood it.
pub(crate) fn preview(v: &Value) -> String {
    shortened(v.to_string())
}

/// `text` cut at 1,000 bytes (with `…`), for quoting the user's input in an error message.
pub(crate) fn shortened(mut text: String) -> String {
    const MAX: usize = 1000;
    if text.len() > MAX {
        let mut cut = MAX;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// A compiled intrinsic function call (`States.Format(…)`, …), its path arguments compiled
/// too.
pub(crate) struct Intrinsic {
    text: Box<str>,
    call: intrinsics::Call,
    paths: Vec<(Box<str>, Path)>,
}

impl std::fmt::Debug for Intrinsic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl Intrinsic {
    pub(crate) fn parse(text: &str) -> Result<Intrinsic, String> {
        let call = intrinsics::parse(text).map_err(|e| e.to_string())?;
        let mut paths: Vec<(Box<str>, Path)> = Vec::new();
        for p in call.paths() {
            if !paths.iter().any(|(t, _)| &**t == p) {
                paths.push((p.into(), Path::parse(p)?));
            }
        }
        Ok(Intrinsic {
            text: text.into(),
            call,
            paths,
        })
    }

    pub(crate) fn uses_context(&self) -> bool {
        self.paths.iter().any(|(_, p)| p.is_context())
    }

    fn reads_input(&self) -> bool {
        self.paths.iter().any(|(_, p)| p.reads_input())
    }

    /// The same call reading its input paths one level down (see `Path::below_first_key`).
    fn below_first_key(&self) -> Option<Intrinsic> {
        let mut paths = Vec::with_capacity(self.paths.len());
        for (text, path) in &self.paths {
            let path = if !path.reads_input() {
                Path::parse(text).ok()?
            } else {
                path.below_first_key()?
            };
            paths.push((text.clone(), path));
        }
        Some(Intrinsic {
            text: self.text.clone(),
            call: self.call.clone(),
            paths,
        })
    }

    pub(crate) fn eval(&self, scope: &Scope) -> Result<Value, TaskError> {
        let mut resolve = |path_text: &str| -> Result<Value, TaskError> {
            let compiled;
            let path = match self.paths.iter().find(|(t, _)| &**t == path_text) {
                Some((_, p)) => p,
                None => {
                    compiled = Path::parse(path_text).map_err(runtime)?;
                    &compiled
                }
            };
            match scope.select(path) {
                Some(v) => Ok(v.into_owned()),
                None => Err(runtime(format!(
                    "The JSONPath '{path_text}' in the intrinsic function '{}' could not be found in the input '{}'",
                    self.text,
                    preview(scope.root_of(path))
                ))),
            }
        };
        self.call.eval(&mut resolve)
    }
}

/// One value of a template: copied as is, built from its parts, or taken from the scope.
#[derive(Debug)]
pub(crate) enum Template {
    Static(Value),
    Object(Vec<(Box<str>, Template)>),
    Array(Vec<Template>),
    /// `"key.$": "$.path"`; the key is kept for the error message.
    Path {
        key: Box<str>,
        path: Path,
    },
    Intrinsic(Box<Intrinsic>),
    /// `"{% … %}"` in a JSONata state; `at` is where, for messages (`Arguments/Input/x`).
    Jsonata {
        at: Box<str>,
        expr: Box<Expression>,
    },
}

impl Template {
    /// Compiles the value of a field of a JSONata state: every string that is one
    /// `{% … %}` expression, at any depth, is evaluated; everything else (keys included) is
    /// literal. `at` names the field (`Arguments`).
    pub(crate) fn compile_jsonata(v: &Value, at: &str) -> Result<Template, String> {
        match v {
            Value::String(text) => match jsonata::body_of(text) {
                // The whole input, as `"….$": "$"` reads it (and may take it rather than copy).
                Some(body) if body.trim() == "$states.input" => Ok(Template::Path {
                    key: at.into(),
                    path: Path::parse("$")?,
                }),
                Some(body) => Expression::parse(body)
                    .map(|expr| Template::Jsonata {
                        at: at.into(),
                        expr: Box::new(expr),
                    })
                    .map_err(|e| {
                        format!(
                            "`{at}`: `{}` is not a JSONata expression: {e}",
                            shortened(text.clone())
                        )
                    }),
                None => Ok(Template::Static(v.clone())),
            },
            Value::Object(map) => {
                let fields = map
                    .iter()
                    .map(|(key, value)| {
                        Ok((
                            key.as_str().into(),
                            Self::compile_jsonata(value, &format!("{at}/{key}"))?,
                        ))
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                Ok(
                    if fields.iter().all(|(_, t)| matches!(t, Template::Static(_))) {
                        Template::Static(v.clone())
                    } else {
                        Template::Object(fields)
                    },
                )
            }
            Value::Array(items) => {
                let items = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| Self::compile_jsonata(item, &format!("{at}[{i}]")))
                    .collect::<Result<Vec<_>, String>>()?;
                Ok(if items.iter().all(|t| matches!(t, Template::Static(_))) {
                    Template::Static(v.clone())
                } else {
                    Template::Array(items)
                })
            }
            other => Ok(Template::Static(other.clone())),
        }
    }

    /// Compiles a template. Errors name the offending key (dotted from the template's root).
    pub(crate) fn compile(v: &Value) -> Result<Template, String> {
        Self::compile_at(v, "")
    }

    fn compile_at(v: &Value, at: &str) -> Result<Template, String> {
        if !has_dynamic(v) {
            return Ok(Template::Static(v.clone()));
        }
        match v {
            Value::Object(map) => {
                let mut fields = Vec::with_capacity(map.len());
                for (key, value) in map {
                    let here = if at.is_empty() {
                        key.clone()
                    } else {
                        format!("{at}.{key}")
                    };
                    match key.strip_suffix(".$") {
                        Some(name) => {
                            if map.contains_key(name) {
                                return Err(format!(
                                    "`{here}` and `{name}` both set the field `{name}`"
                                ));
                            }
                            let Value::String(text) = value else {
                                return Err(format!("`{here}` must be a string (a path, a context path or an intrinsic function), not {}", kind(value)));
                            };
                            fields.push((name.into(), Self::dynamic(&here, text)?));
                        }
                        None => fields.push((key.as_str().into(), Self::compile_at(value, &here)?)),
                    }
                }
                Ok(Template::Object(fields))
            }
            Value::Array(items) => Ok(Template::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| Self::compile_at(item, &format!("{at}[{i}]")))
                    .collect::<Result<_, _>>()?,
            )),
            other => Ok(Template::Static(other.clone())),
        }
    }

    fn dynamic(key: &str, text: &str) -> Result<Template, String> {
        if text.starts_with('$') {
            let path = Path::parse(text).map_err(|e| format!("`{key}`: {e}"))?;
            Ok(Template::Path {
                key: key.into(),
                path,
            })
        } else if text.starts_with("States.") {
            let call = Intrinsic::parse(text).map_err(|e| {
                let text = shortened(text.to_string());
                format!("`{key}`: intrinsic function `{text}`: {e}")
            })?;
            Ok(Template::Intrinsic(Box::new(call)))
        } else {
            Err(format!("`{key}` is `{text}`, which is neither a path (`$…`, `$$…`) nor an intrinsic function (`States.…`)"))
        }
    }

    /// Whether every path this template reads (its own and its intrinsics') satisfies `f`.
    pub(crate) fn all_paths(&self, f: &dyn Fn(&Path) -> bool) -> bool {
        match self {
            Template::Static(_) => true,
            Template::Object(fields) => fields.iter().all(|(_, t)| t.all_paths(f)),
            Template::Array(items) => items.iter().all(|t| t.all_paths(f)),
            Template::Path { path, .. } => f(path),
            Template::Intrinsic(call) => call.paths.iter().all(|(_, p)| f(p)),
            Template::Jsonata { .. } => false,
        }
    }

    /// Whether running this template reads the context object.
    pub(crate) fn uses_context(&self) -> bool {
        match self {
            Template::Static(_) => false,
            Template::Object(fields) => fields.iter().any(|(_, t)| t.uses_context()),
            Template::Array(items) => items.iter().any(Template::uses_context),
            Template::Path { path, .. } => path.is_context(),
            Template::Intrinsic(call) => call.uses_context(),
            Template::Jsonata { expr, .. } => expr.mentions("states"),
        }
    }

    /// Whether the template is `"….$": "$"`: the input itself.
    pub(crate) fn is_input_itself(&self) -> bool {
        matches!(self, Template::Path { path, .. } if path.is_root())
    }

    /// How many parts of this template read the input (`$…` paths, intrinsic functions with
    /// a `$…` argument).
    pub(crate) fn input_reads(&self) -> usize {
        match self {
            Template::Static(_) => 0,
            Template::Object(fields) => fields.iter().map(|(_, t)| t.input_reads()).sum(),
            Template::Array(items) => items.iter().map(Template::input_reads).sum(),
            Template::Path { path, .. } => usize::from(path.reads_input()),
            Template::Intrinsic(call) => usize::from(call.reads_input()),
            // Reads the input through `$states`: never from a taken one.
            Template::Jsonata { .. } => 2,
        }
    }

    /// The same template for a value that is the `Payload` member of what it was written for:
    /// every input path loses its first step. `None` unless every input path starts with a
    /// name (the caller checks it is `Payload`).
    pub(crate) fn below_first_key(&self) -> Option<Template> {
        Some(match self {
            Template::Static(v) => Template::Static(v.clone()),
            Template::Object(fields) => Template::Object(
                fields
                    .iter()
                    .map(|(k, t)| Some((k.clone(), t.below_first_key()?)))
                    .collect::<Option<_>>()?,
            ),
            Template::Array(items) => Template::Array(
                items
                    .iter()
                    .map(Template::below_first_key)
                    .collect::<Option<_>>()?,
            ),
            Template::Path { key, path } if !path.reads_input() => Template::Path {
                key: key.clone(),
                path: Path::parse(path.text()).ok()?,
            },
            Template::Path { key, path } => Template::Path {
                key: key.clone(),
                path: path.below_first_key()?,
            },
            Template::Intrinsic(call) => Template::Intrinsic(Box::new(call.below_first_key()?)),
            Template::Jsonata { .. } => return None,
        })
    }

    /// Evaluates on an input nothing else needs: when only one part of the template reads it,
    /// that part takes what it selects out of the input instead of copying it.
    pub(crate) fn eval_owned(
        &self,
        input: Value,
        build_context: &dyn Fn() -> Value,
        vars: &Vars,
    ) -> Result<Value, TaskError> {
        if self.input_reads() > 1 {
            return self.eval(&Scope::new(&input, build_context, vars));
        }
        let nothing = Value::Null;
        self.eval_taking(&mut Some(input), &Scope::new(&nothing, build_context, vars))
    }

    /// `eval` for a template with at most one input-reading part, which takes `input` (the
    /// others read only `scope`'s context).
    pub(crate) fn eval_taking(
        &self,
        input: &mut Option<Value>,
        scope: &Scope,
    ) -> Result<Value, TaskError> {
        match self {
            Template::Object(fields) => {
                let mut out = Map::with_capacity(fields.len());
                for (key, t) in fields {
                    out.insert(String::from(&**key), t.eval_taking(input, scope)?);
                }
                Ok(Value::Object(out))
            }
            Template::Array(items) => items
                .iter()
                .map(|t| t.eval_taking(input, scope))
                .collect::<Result<_, _>>()
                .map(Value::Array),
            Template::Path { key, path } if path.reads_input() => {
                let Some(value) = input.take() else {
                    return self.eval(scope);
                };
                match path.select(&value, &Value::Null) {
                    Some(_) => Ok(path
                        .select_owned(value, &Value::Null)
                        .unwrap_or(Value::Null)),
                    None => Err(missing_in(key, path, &value)),
                }
            }
            Template::Intrinsic(call) if call.reads_input() => match input {
                Some(value) => call.eval(&scope.over(value)),
                None => call.eval(scope),
            },
            other => other.eval(scope),
        }
    }

    pub(crate) fn eval(&self, scope: &Scope) -> Result<Value, TaskError> {
        match self {
            Template::Static(v) => Ok(v.clone()),
            Template::Object(fields) => {
                let mut out = Map::with_capacity(fields.len());
                for (key, t) in fields {
                    out.insert(String::from(&**key), t.eval(scope)?);
                }
                Ok(Value::Object(out))
            }
            Template::Array(items) => items
                .iter()
                .map(|t| t.eval(scope))
                .collect::<Result<_, _>>()
                .map(Value::Array),
            Template::Path { key, path } => match scope.select(path) {
                Some(v) => Ok(v.into_owned()),
                None => Err(missing(key, path, scope)),
            },
            Template::Intrinsic(call) => call.eval(scope),
            Template::Jsonata { at, expr } => scope.jsonata_value(expr, at),
        }
    }
}

fn missing(key: &str, path: &Path, scope: &Scope) -> TaskError {
    match path.variable() {
        Some(name) if scope.vars.get(name).is_none() => runtime(format!(
            "The variable '${name}' read by the JSONPath '{}' specified for the field '{key}' has no value: no state before this one assigned it",
            path.text()
        )),
        _ => missing_in(key, path, scope.root_of(path)),
    }
}

fn missing_in(key: &str, path: &Path, input: &Value) -> TaskError {
    runtime(format!(
        "The JSONPath '{}' specified for the field '{key}' could not be found in the input '{}'",
        path.text(),
        preview(input)
    ))
}

fn has_dynamic(v: &Value) -> bool {
    match v {
        Value::Object(map) => map.iter().any(|(k, v)| k.ends_with(".$") || has_dynamic(v)),
        Value::Array(items) => items.iter().any(has_dynamic),
        _ => false,
    }
}

/// "a string", "an object", … for messages about a field's type.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(t: Value, input: Value) -> Result<Value, TaskError> {
        let ctx = || json!({"Execution": {"Name": "run-1"}});
        Template::compile(&t)
            .unwrap()
            .eval(&Scope::new(&input, &ctx, &Vars::default()))
    }

    #[test]
    fn fills_paths_and_keeps_static_parts() {
        let out = eval(
            json!({"a.$": "$.x", "b": {"c.$": "$$.Execution.Name", "d": [1, {"e.$": "$.y[0]"}]}, "f": "$.not-a-path"}),
            json!({"x": {"k": 1}, "y": [true]}),
        );
        assert_eq!(
            out.unwrap(),
            json!({"a": {"k": 1}, "b": {"c": "run-1", "d": [1, {"e": true}]}, "f": "$.not-a-path"})
        );
    }

    #[test]
    fn missing_path_is_a_runtime_error() {
        let err = eval(json!({"a.$": "$.nope"}), json!({})).unwrap_err();
        assert_eq!(err.error, errors::RUNTIME);
        assert!(
            err.cause.contains("'$.nope'") && err.cause.contains("'a.$'"),
            "{}",
            err.cause
        );
    }

    #[test]
    fn bad_templates_are_rejected_at_compile() {
        for bad in [
            json!({"a.$": 1}),
            json!({"a.$": "x"}),
            json!({"a.$": "$.["}),
            json!({"a": 1, "a.$": "$"}),
        ] {
            assert!(Template::compile(&bad).is_err(), "{bad}");
        }
    }
}
