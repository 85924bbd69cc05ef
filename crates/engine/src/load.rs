//! `load`: validates an ASL document as Step Functions would (every problem reported, each
//! naming its state and field) and compiles it into the `model` the interpreter runs.
//!
//! Everything is checked against the JSON as given, so no document can make this panic: a
//! value of the wrong type is an error, never an assumption.

use super::choice::{self, Rule};
use super::model::*;
use super::path::{Path, ResultPath};
use super::template::{kind, Intrinsic, Template};
use super::time::parse_timestamp;
use super::{AslError, LoadOptions, StateMachine};
use flowctl_protocol::sfn::{self, errors, LambdaResource, LAMBDA_INVOKE, MAX_SECONDS};
use flowctl_protocol::{did_you_mean, json_depth, MAX_JSON_DEPTH};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

const STATE_TYPES: &[&str] = &[
    "Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map",
];

/// Fields of the ASL that this engine knows but does not run, with the reason.
fn unsupported(field: &str) -> Option<&'static str> {
    Some(match field {
        "ItemReader" | "ResultWriter" | "ItemBatcher" | "Label" => "Distributed Map's S3 reading, writing and batching are not supported by the local engine",
        "Credentials" => "cross-account task credentials are not supported by the local engine",
        _ => return None,
    })
}

pub(crate) fn load(doc: &Value, options: &LoadOptions) -> Result<StateMachine, Vec<AslError>> {
    // A document built in memory can be deeper than one read from text; the loader's
    // recursion must never meet it.
    if json_depth(doc, MAX_JSON_DEPTH) > MAX_JSON_DEPTH {
        return Err(vec![AslError::new(
            None,
            "",
            format!("the document nests more than {MAX_JSON_DEPTH} levels deep, deeper than JSON read from text can be; flatten it"),
        )]);
    }
    let mut loader = Loader {
        errors: Vec::new(),
        saw_context: false,
        any_task_resource: options.any_task_resource,
        jsonata_machine: false,
        jsonata: false,
        scopes: vec![AssignScope::default()],
        scope: 0,
    };
    let Value::Object(top) = doc else {
        return Err(vec![AslError::new(
            None,
            "",
            format!("a state machine must be a JSON object, not {}", kind(doc)),
        )]);
    };
    let mut timeout = None;
    for (key, value) in top {
        match key.as_str() {
            "StartAt" | "States" | "Comment" => {}
            "Version" => {
                loader.string(None, "Version", value);
            }
            "TimeoutSeconds" => {
                timeout = loader
                    .uint(None, "TimeoutSeconds", value, 1, MAX_SECONDS)
                    .map(Duration::from_secs)
            }
            "QueryLanguage" => loader.jsonata_machine = loader.query_language(None, value),
            other => loader.unknown(
                None,
                other,
                &[
                    "StartAt",
                    "States",
                    "Comment",
                    "Version",
                    "TimeoutSeconds",
                    "QueryLanguage",
                ],
            ),
        }
    }
    let root = loader.machine(top, None, "");
    loader.check_variable_scopes();
    let uses_context = loader.saw_context;
    match root {
        Some(root) if loader.errors.is_empty() => Ok(StateMachine {
            root,
            timeout,
            name: "StateMachine".into(),
            uses_context,
        }),
        _ => Err(loader.errors),
    }
}

struct Loader {
    errors: Vec<AslError>,
    /// Set when anything compiled reads `$$`; per state, saved and restored around it.
    saw_context: bool,
    /// `LoadOptions::any_task_resource`.
    any_task_resource: bool,
    /// The machine's `QueryLanguage` is JSONata (then every state's is).
    jsonata_machine: bool,
    /// The state being loaded is a JSONata state.
    jsonata: bool,
    /// The variables each scope assigns (0: the machine's states; then each Parallel
    /// branch and Map body), for the rule that an inner scope never reuses an outer name.
    scopes: Vec<AssignScope>,
    /// The scope of the states being loaded.
    scope: usize,
}

#[derive(Default)]
struct AssignScope {
    outer: Option<usize>,
    /// Each variable name and the state (path) that assigns it.
    names: Vec<(String, String)>,
}

impl Loader {
    fn err(&mut self, state: Option<&str>, field: impl Into<String>, message: impl Into<String>) {
        self.errors
            .push(AslError::new(state.map(String::from), field, message));
    }

    /// An unknown field; `field` may carry a prefix (`Retry[0].Foo`), the last part is the key.
    fn unknown(&mut self, state: Option<&str>, field: &str, allowed: &[&str]) {
        let key = field.rsplit('.').next().unwrap_or(field);
        if let Some(reason) = unsupported(key) {
            return self.err(state, field, reason);
        }
        let hint = match did_you_mean(key, allowed.iter().copied()) {
            Some(near) => format!("; did you mean `{near}`?"),
            None => format!(" (allowed: {})", allowed.join(", ")),
        };
        self.err(state, field, format!("unknown field{hint}"));
    }

    fn string<'v>(&mut self, state: Option<&str>, field: &str, v: &'v Value) -> Option<&'v str> {
        match v {
            Value::String(s) => Some(s),
            other => {
                self.err(
                    state,
                    field,
                    format!("must be a string, not {}", kind(other)),
                );
                None
            }
        }
    }

    fn uint(
        &mut self,
        state: Option<&str>,
        field: &str,
        v: &Value,
        min: u64,
        max: u64,
    ) -> Option<u64> {
        match v.as_u64() {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                let range = if max == u64::MAX {
                    format!("at least {min}")
                } else {
                    format!("from {min} to {max}")
                };
                self.err(state, field, format!("must be an integer {range}, not {v}"));
                None
            }
        }
    }

    /// Whether `QueryLanguage` says JSONata.
    fn query_language(&mut self, state: Option<&str>, v: &Value) -> bool {
        match v.as_str() {
            Some("JSONPath") => false,
            Some("JSONata") => true,
            _ => {
                self.err(
                    state,
                    "QueryLanguage",
                    format!("must be \"JSONPath\" or \"JSONata\", not {v}"),
                );
                false
            }
        }
    }

    /// A field of a JSONata state: any JSON, its `{% … %}` strings expressions.
    fn jsonata_template(
        &mut self,
        state: &str,
        field: &str,
        v: Option<&Value>,
    ) -> Option<Template> {
        let compiled = Template::compile_jsonata(v?, field);
        self.compiled(state, field, compiled)
    }

    /// A compiled template, noting whether it reads the context; or its error, reported.
    fn compiled(
        &mut self,
        state: &str,
        field: &str,
        compiled: Result<Template, String>,
    ) -> Option<Template> {
        match compiled {
            Ok(t) => {
                self.saw_context |= t.uses_context();
                Some(t)
            }
            Err(e) => {
                self.err(Some(state), field, e);
                None
            }
        }
    }

    /// `Assign` (of a state, a Choice rule or a catcher at `field`): an object whose fields
    /// name variables (in JSONPath, `name.$` takes a path or an intrinsic function).
    fn assign(&mut self, state: &str, field: &str, v: Option<&Value>) -> Option<Assign> {
        let v = v?;
        let sp = Some(state);
        let Value::Object(fields) = v else {
            self.err(
                sp,
                field,
                format!(
                    "must be an object whose fields name the variables to assign, not {}",
                    kind(v)
                ),
            );
            return None;
        };
        for key in fields.keys() {
            let name = if self.jsonata {
                key.as_str()
            } else {
                key.strip_suffix(".$").unwrap_or(key)
            };
            let problem = if name == "states" {
                Some(
                    "`states` is reserved (`$states` holds the state's input, result and context)"
                        .to_string(),
                )
            } else if name.chars().count() > MAX_VARIABLE_NAME_CHARS {
                Some(format!(
                    "a variable name is at most {MAX_VARIABLE_NAME_CHARS} characters"
                ))
            } else if !is_variable_name(name) {
                Some(format!(
                    "`{name}` is not a variable name: a letter, then letters, digits or `_`"
                ))
            } else {
                None
            };
            match problem {
                Some(problem) => self.err(sp, format!("{field}.{key}"), problem),
                None => self.scopes[self.scope]
                    .names
                    .push((name.to_string(), state.to_string())),
            }
        }
        let template = if self.jsonata {
            self.jsonata_template(state, field, Some(v))
        } else {
            self.template(state, field, Some(v))
        };
        template.map(Assign)
    }

    /// Step Functions' rule that a Parallel branch or a Map body never assigns a variable
    /// an outer scope assigns (so no state reads a name that means two things).
    fn check_variable_scopes(&mut self) {
        let mut clashes = Vec::new();
        for scope in &self.scopes {
            let mut outer = scope.outer;
            while let Some(o) = outer {
                for (name, state) in &scope.names {
                    if let Some((_, outer_state)) =
                        self.scopes[o].names.iter().find(|(n, _)| n == name)
                    {
                        clashes.push((state.clone(), name.clone(), outer_state.clone()));
                    }
                }
                outer = self.scopes[o].outer;
            }
        }
        clashes.sort();
        clashes.dedup();
        for (state, name, outer_state) in clashes {
            self.err(Some(&state), "Assign", format!("`{name}` is assigned in an outer scope too (by `{outer_state}`); a variable of a Parallel branch or Map body needs a name of its own"));
        }
    }

    fn path(&mut self, state: Option<&str>, field: &str, v: &Value) -> Option<Path> {
        let text = self.string(state, field, v)?;
        match Path::parse(text) {
            Ok(p) => {
                self.saw_context |= p.is_context();
                Some(p)
            }
            Err(e) => {
                self.err(state, field, e);
                None
            }
        }
    }

    fn io_path(&mut self, state: &str, field: &str, v: Option<&Value>) -> IoPath {
        match v {
            None => IoPath::Root,
            Some(Value::Null) => IoPath::Empty,
            Some(Value::String(s)) if s == "$" => IoPath::Root,
            Some(v) => self
                .path(Some(state), field, v)
                .map_or(IoPath::Root, IoPath::Path),
        }
    }

    fn result_path(&mut self, state: &str, field: &str, v: Option<&Value>) -> ResultPath {
        let text = match v {
            None => return ResultPath::Replace,
            Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(other) => {
                self.err(
                    Some(state),
                    field,
                    format!("must be a reference path or null, not {}", kind(other)),
                );
                return ResultPath::Replace;
            }
        };
        ResultPath::parse(text).unwrap_or_else(|e| {
            self.err(Some(state), field, e);
            ResultPath::Replace
        })
    }

    fn template(&mut self, state: &str, field: &str, v: Option<&Value>) -> Option<Template> {
        let v = v?;
        if !v.is_object() {
            self.err(
                Some(state),
                field,
                format!(
                    "must be a JSON object (a payload template), not {}",
                    kind(v)
                ),
            );
            return None;
        }
        let compiled = Template::compile(v);
        self.compiled(state, field, compiled)
    }

    /// A machine: `StartAt` and `States` of `obj` (the top level, a branch or a Map body).
    /// `owner` is the state path holding it, `at` the field prefix inside that state.
    fn machine(
        &mut self,
        obj: &Map<String, Value>,
        owner: Option<&str>,
        at: &str,
    ) -> Option<Machine> {
        let field = |f: &str| format!("{at}{f}");
        let prefix = match owner {
            Some(owner) => format!("{owner}.{at}States."),
            None => "States.".to_string(),
        };
        let states_obj = match obj.get("States") {
            Some(Value::Object(m)) if !m.is_empty() => Some(m),
            Some(Value::Object(_)) => {
                self.err(owner, field("States"), "must have at least one state");
                None
            }
            Some(other) => {
                self.err(
                    owner,
                    field("States"),
                    format!("must be an object of states, not {}", kind(other)),
                );
                None
            }
            None => {
                self.err(owner, field("States"), "is required");
                None
            }
        };
        let start_name = match obj.get("StartAt") {
            Some(v) => self.string(owner, &field("StartAt"), v),
            None => {
                self.err(owner, field("StartAt"), "is required");
                None
            }
        };
        if let Some(Value::String(_)) | None = obj.get("Comment") {
        } else {
            self.err(owner, field("Comment"), "must be a string");
        }
        let states_obj = states_obj?;
        let index: HashMap<&str, usize> = states_obj
            .keys()
            .enumerate()
            .map(|(i, k)| (k.as_str(), i))
            .collect();
        let names: Vec<&str> = states_obj.keys().map(String::as_str).collect();
        let start = start_name.and_then(|s| match index.get(s) {
            Some(&i) => Some(i),
            None => {
                self.missing_state(owner, &field("StartAt"), s, &names);
                None
            }
        });
        let outer_scope = self.scope;
        if owner.is_some() {
            self.scopes.push(AssignScope {
                outer: Some(outer_scope),
                names: Vec::new(),
            });
            self.scope = self.scopes.len() - 1;
        }
        let mut states = Vec::with_capacity(states_obj.len());
        for (name, value) in states_obj {
            let path = format!("{prefix}{name}");
            if name.chars().count() > 80 {
                self.err(Some(&path), "", "a state name is at most 80 characters");
            }
            if name.is_empty() {
                self.err(Some(&path), "", "a state name cannot be empty");
            }
            let saved = std::mem::replace(&mut self.saw_context, false);
            let state = self.state(name, &path, value, &index, &names);
            let uses_context = self.saw_context;
            self.saw_context |= saved;
            if let Some(mut state) = state {
                state.uses_context = uses_context;
                states.push(state);
            }
        }
        self.scope = outer_scope;
        let start = start?;
        if states.len() != states_obj.len() {
            return None;
        }
        self.check_reachable(&states, start, &prefix);
        if !states
            .iter()
            .any(|s| s.next.is_none() && !matches!(s.kind, Kind::Choice(_)))
        {
            self.err(
                owner,
                field("States"),
                "no state ends the machine: one needs `\"End\": true` or the type Succeed or Fail",
            );
        }
        Some(Machine { states, start })
    }

    fn missing_state(&mut self, state: Option<&str>, field: &str, target: &str, names: &[&str]) {
        let hint = match did_you_mean(target, names.iter().copied()) {
            Some(near) => format!("; did you mean `{near}`?"),
            None => String::new(),
        };
        self.err(
            state,
            field,
            format!("there is no state named `{target}`{hint}"),
        );
    }

    fn check_reachable(&mut self, states: &[State], start: usize, prefix: &str) {
        let mut seen = vec![false; states.len()];
        let mut stack = vec![start];
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            let s = &states[i];
            stack.extend(s.next);
            match &s.kind {
                Kind::Choice(c) => {
                    stack.extend(c.branches.iter().map(|b| b.next));
                    stack.extend(c.default);
                }
                Kind::Task(t) => stack.extend(t.common.catch.iter().map(|c| c.next)),
                Kind::Parallel(p) => stack.extend(p.common.catch.iter().map(|c| c.next)),
                Kind::Map(m) => stack.extend(m.common.catch.iter().map(|c| c.next)),
                _ => {}
            }
        }
        for (s, reached) in states.iter().zip(seen) {
            if !reached {
                self.err(
                    Some(&format!("{prefix}{}", s.name)),
                    "",
                    "this state is not reachable from `StartAt`",
                );
            }
        }
    }

    fn state(
        &mut self,
        name: &str,
        path: &str,
        value: &Value,
        index: &HashMap<&str, usize>,
        names: &[&str],
    ) -> Option<State> {
        let sp = Some(path);
        let Value::Object(obj) = value else {
            self.err(
                sp,
                "",
                format!("a state must be a JSON object, not {}", kind(value)),
            );
            return None;
        };
        let type_name = match obj.get("Type") {
            Some(Value::String(t)) if STATE_TYPES.contains(&t.as_str()) => t.as_str(),
            Some(Value::String(t)) => {
                let hint = did_you_mean(t, STATE_TYPES.iter().copied())
                    .map_or(String::new(), |n| format!("; did you mean `{n}`?"));
                self.err(sp, "Type", format!("`{t}` is not a state type (Pass, Task, Choice, Wait, Succeed, Fail, Parallel, Map){hint}"));
                return None;
            }
            Some(other) => {
                self.err(sp, "Type", format!("must be a string, not {}", kind(other)));
                return None;
            }
            None => {
                self.err(sp, "Type", "is required");
                return None;
            }
        };
        self.jsonata = match obj.get("QueryLanguage") {
            Some(q) => {
                let jsonata = self.query_language(sp, q);
                if self.jsonata_machine && !jsonata && q.is_string() {
                    self.err(sp, "QueryLanguage", "a state cannot be JSONPath in a JSONata state machine (the machine's `QueryLanguage` is JSONata); remove the field or make it \"JSONata\"");
                }
                jsonata || self.jsonata_machine
            }
            None => self.jsonata_machine,
        };
        let allowed = allowed_fields(type_name, self.jsonata);
        for key in obj.keys() {
            if !allowed.contains(&key.as_str())
                && !matches!(key.as_str(), "Type" | "Comment" | "QueryLanguage")
            {
                if matches!(key.as_str(), "Next" | "End")
                    && matches!(type_name, "Choice" | "Succeed" | "Fail")
                {
                    self.err(
                        sp,
                        key.as_str(),
                        format!("a {type_name} state cannot have `{key}`"),
                    );
                } else if let Some(why) = other_language_field(key, self.jsonata) {
                    self.err(sp, key.as_str(), why);
                } else {
                    let mut all: Vec<&str> = allowed.to_vec();
                    all.extend(["Type", "Comment"]);
                    self.unknown(sp, key, &all);
                }
            }
        }
        if let Some(c) = obj.get("Comment") {
            self.string(sp, "Comment", c);
        }
        let errors_before = self.errors.len();
        let next = if matches!(type_name, "Choice" | "Succeed" | "Fail") {
            None
        } else {
            self.transition(path, obj, index, names)
        };
        let input_path = if type_name == "Fail" || self.jsonata {
            IoPath::Root
        } else {
            self.io_path(path, "InputPath", obj.get("InputPath"))
        };
        let output_path = if type_name == "Fail" || self.jsonata {
            IoPath::Root
        } else {
            self.io_path(path, "OutputPath", obj.get("OutputPath"))
        };
        let assign = self.assign(path, "Assign", obj.get("Assign"));
        let output = self.jsonata_template(path, "Output", obj.get("Output"));
        let kind = match type_name {
            "Pass" => Some(Kind::Pass(Pass {
                parameters: self.template(path, "Parameters", obj.get("Parameters")),
                result: obj.get("Result").cloned().map(Arc::new),
                result_path: self.result_path(path, "ResultPath", obj.get("ResultPath")),
            })),
            "Task" => self
                .task(path, obj, index, names)
                .map(|t| Kind::Task(Box::new(t))),
            "Choice" => self
                .choice(path, obj, index, names)
                .map(|c| Kind::Choice(Box::new(c))),
            "Wait" => self.wait(path, obj).map(Kind::Wait),
            "Succeed" => Some(Kind::Succeed),
            "Fail" => Some(Kind::Fail(Box::new(self.fail(path, obj)))),
            "Parallel" => self
                .parallel(path, obj, index, names)
                .map(|p| Kind::Parallel(Box::new(p))),
            _ => self
                .map(path, obj, index, names)
                .map(|m| Kind::Map(Box::new(m))),
        };
        if self.errors.len() > errors_before {
            return None;
        }
        let mut kind = kind?;
        let mut output_path = output_path;
        if let (Kind::Task(task), IoPath::Path(out)) = (&mut kind, &output_path) {
            // The whole response becomes the state's output, of which `OutputPath` keeps only
            // (part of) the payload: the task applies it to the payload.
            if matches!(task.resource, Resource::LambdaInvoke(_))
                && assign.is_none()
                && task.payload_only.is_none()
                && task.common.result_selector.is_none()
                && task.common.result_path == ResultPath::Replace
                && out.first_key() == Some("Payload")
            {
                if let Some(below) = out.below_first_key() {
                    task.payload_only = Some(PayloadOnly::Output(below));
                    output_path = IoPath::Root;
                }
            }
        }
        let mut output = output;
        if let Kind::Task(task) = &mut kind {
            // JSONata's way of writing the same call: `Output` `$states.result.Payload` keeps
            // the payload, which JSONata gives as it is (arrays included), so the Invoke
            // response need not be built nor converted; with no `Output`, `Assign` or catcher
            // reading `$states`, nothing needs the input afterwards either.
            let payload_output = matches!(&output, Some(Template::Jsonata { expr, .. })
                if expr.states_field() == Some(("result", "Payload")));
            if self.jsonata
                && matches!(task.resource, Resource::LambdaInvoke(_))
                && assign.is_none()
                && payload_output
            {
                task.payload_only = Path::parse("$").ok().map(PayloadOnly::Output);
                output = None;
            }
            if self.jsonata {
                task.consumes_input = output.is_none()
                    && assign.is_none()
                    && task.common.retry.is_empty()
                    && task
                        .common
                        .catch
                        .iter()
                        .all(|c| c.output.is_none() && c.assign.is_none());
            }
        }
        Some(State {
            name: name.into(),
            measure_output: self.jsonata
                || State::measures_output(&kind, &input_path, &output_path),
            kind,
            input_path,
            output_path,
            next: next.flatten(),
            uses_context: false,
            jsonata: self.jsonata,
            assign,
            output,
        })
    }

    /// `Next` xor `End`; `Some(None)` for the end, `None` when invalid.
    fn transition(
        &mut self,
        path: &str,
        obj: &Map<String, Value>,
        index: &HashMap<&str, usize>,
        names: &[&str],
    ) -> Option<Option<usize>> {
        let sp = Some(path);
        match (obj.get("Next"), obj.get("End")) {
            (Some(_), Some(_)) => {
                self.err(
                    sp,
                    "End",
                    "a state has either `Next` or `\"End\": true`, not both",
                );
                None
            }
            (Some(next), None) => {
                let target = self.string(sp, "Next", next)?;
                match index.get(target) {
                    Some(&i) => Some(Some(i)),
                    None => {
                        self.missing_state(sp, "Next", target, names);
                        None
                    }
                }
            }
            (None, Some(Value::Bool(true))) => Some(None),
            (None, Some(other)) => {
                self.err(
                    sp,
                    "End",
                    format!("must be true (or use `Next`), not {other}"),
                );
                None
            }
            (None, None) => {
                self.err(sp, "Next", "a state needs `Next` or `\"End\": true`");
                None
            }
        }
    }

    fn common(
        &mut self,
        path: &str,
        obj: &Map<String, Value>,
        index: &HashMap<&str, usize>,
        names: &[&str],
        parameters_field: Option<&str>,
    ) -> Common {
        let parameters = match (self.jsonata, parameters_field) {
            (true, Some(_)) => self.jsonata_template(path, "Arguments", obj.get("Arguments")),
            (false, Some(f)) => self.template(path, f, obj.get(f)),
            (_, None) => None,
        };
        Common {
            parameters,
            result_selector: self.template(path, "ResultSelector", obj.get("ResultSelector")),
            result_path: self.result_path(path, "ResultPath", obj.get("ResultPath")),
            retry: self.retriers(path, obj.get("Retry")),
            catch: self.catchers(path, obj.get("Catch"), index, names),
        }
    }

    fn error_equals(
        &mut self,
        path: &str,
        field: &str,
        v: Option<&Value>,
        is_last: bool,
    ) -> Option<Errors> {
        let sp = Some(path);
        let field = format!("{field}.ErrorEquals");
        let Some(Value::Array(items)) = v else {
            self.err(
                sp,
                &field,
                match v {
                    None => "is required".to_string(),
                    Some(other) => format!(
                        "must be a non-empty array of error names, not {}",
                        kind(other)
                    ),
                },
            );
            return None;
        };
        if items.is_empty() {
            self.err(sp, &field, "must name at least one error");
            return None;
        }
        let mut errors = Errors {
            names: Vec::new(),
            all: false,
            task_failed: false,
        };
        for item in items {
            let Some(name) = item.as_str() else {
                self.err(
                    sp,
                    &field,
                    format!("error names are strings, not {}", kind(item)),
                );
                continue;
            };
            if name.starts_with(errors::PREFIX) && !errors::KNOWN.contains(&name) {
                let hint = did_you_mean(name, errors::KNOWN.iter().copied())
                    .map_or(String::new(), |n| format!("; did you mean `{n}`?"));
                self.err(
                    sp,
                    &field,
                    format!("`{name}` is not an error Step Functions defines{hint}"),
                );
            }
            match name {
                errors::ALL => errors.all = true,
                errors::TASK_FAILED => errors.task_failed = true,
                _ => errors.names.push(name.into()),
            }
        }
        if errors.all && items.len() > 1 {
            self.err(
                sp,
                &field,
                "`States.ALL` must appear alone in `ErrorEquals`",
            );
        }
        if errors.all && !is_last {
            self.err(
                sp,
                &field,
                "the retrier or catcher with `States.ALL` must be the last one",
            );
        }
        Some(errors)
    }

    fn retriers(&mut self, path: &str, v: Option<&Value>) -> Vec<Retrier> {
        let sp = Some(path);
        let Some(v) = v else { return Vec::new() };
        let Value::Array(items) = v else {
            self.err(
                sp,
                "Retry",
                format!("must be an array of retriers, not {}", kind(v)),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let at = format!("Retry[{i}]");
            let Value::Object(r) = item else {
                self.err(
                    sp,
                    &at,
                    format!("a retrier is an object, not {}", kind(item)),
                );
                continue;
            };
            const FIELDS: &[&str] = &[
                "ErrorEquals",
                "IntervalSeconds",
                "MaxAttempts",
                "BackoffRate",
                "MaxDelaySeconds",
                "JitterStrategy",
                "Comment",
            ];
            for key in r.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
                self.unknown(sp, &format!("{at}.{key}"), FIELDS);
            }
            let errors = self.error_equals(path, &at, r.get("ErrorEquals"), i + 1 == items.len());
            let interval = r.get("IntervalSeconds").map_or(Some(1), |v| {
                self.uint(sp, &format!("{at}.IntervalSeconds"), v, 1, MAX_SECONDS)
            });
            let max_attempts = r.get("MaxAttempts").map_or(Some(3), |v| {
                self.uint(sp, &format!("{at}.MaxAttempts"), v, 0, MAX_SECONDS)
            });
            let backoff_rate = match r.get("BackoffRate") {
                None => Some(2.0),
                Some(v) => match v.as_f64() {
                    Some(rate) if (1.0..=1e9).contains(&rate) => Some(rate),
                    _ => {
                        self.err(
                            sp,
                            format!("{at}.BackoffRate"),
                            format!("must be a number of at least 1.0, not {v}"),
                        );
                        None
                    }
                },
            };
            let max_delay = match r.get("MaxDelaySeconds") {
                None => Some(None),
                Some(v) => self
                    .uint(sp, &format!("{at}.MaxDelaySeconds"), v, 1, 31_622_400)
                    .map(|s| Some(Duration::from_secs(s))),
            };
            let jitter = match r.get("JitterStrategy") {
                None => Some(Jitter::None),
                Some(v) => match v.as_str() {
                    Some("FULL") => Some(Jitter::Full),
                    Some("NONE") => Some(Jitter::None),
                    _ => {
                        self.err(
                            sp,
                            format!("{at}.JitterStrategy"),
                            format!("must be \"FULL\" or \"NONE\", not {v}"),
                        );
                        None
                    }
                },
            };
            if let (
                Some(errors),
                Some(interval),
                Some(max_attempts),
                Some(backoff_rate),
                Some(max_delay),
                Some(jitter),
            ) = (
                errors,
                interval,
                max_attempts,
                backoff_rate,
                max_delay,
                jitter,
            ) {
                out.push(Retrier {
                    errors,
                    interval: Duration::from_secs(interval),
                    max_attempts,
                    backoff_rate,
                    max_delay,
                    jitter,
                });
            }
        }
        out
    }

    fn catchers(
        &mut self,
        path: &str,
        v: Option<&Value>,
        index: &HashMap<&str, usize>,
        names: &[&str],
    ) -> Vec<Catcher> {
        let sp = Some(path);
        let Some(v) = v else { return Vec::new() };
        let Value::Array(items) = v else {
            self.err(
                sp,
                "Catch",
                format!("must be an array of catchers, not {}", kind(v)),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let at = format!("Catch[{i}]");
            let Value::Object(c) = item else {
                self.err(
                    sp,
                    &at,
                    format!("a catcher is an object, not {}", kind(item)),
                );
                continue;
            };
            let fields: &[&str] = if self.jsonata {
                &["ErrorEquals", "Next", "Output", "Assign", "Comment"]
            } else {
                &["ErrorEquals", "Next", "ResultPath", "Assign", "Comment"]
            };
            for key in c.keys().filter(|k| !fields.contains(&k.as_str())) {
                match other_language_field(key, self.jsonata) {
                    Some(why) => self.err(sp, format!("{at}.{key}"), why),
                    None => self.unknown(sp, &format!("{at}.{key}"), fields),
                }
            }
            let assign = self.assign(path, &format!("{at}.Assign"), c.get("Assign"));
            let output = self.jsonata_template(path, &format!("{at}.Output"), c.get("Output"));
            let errors = self.error_equals(path, &at, c.get("ErrorEquals"), i + 1 == items.len());
            let result_path =
                self.result_path(path, &format!("{at}.ResultPath"), c.get("ResultPath"));
            let next = match c.get("Next") {
                None => {
                    self.err(sp, format!("{at}.Next"), "is required");
                    None
                }
                Some(v) => {
                    self.string(sp, &format!("{at}.Next"), v)
                        .and_then(|t| match index.get(t) {
                            Some(&i) => Some(i),
                            None => {
                                self.missing_state(sp, &format!("{at}.Next"), t, names);
                                None
                            }
                        })
                }
            };
            if let (Some(errors), Some(next)) = (errors, next) {
                out.push(Catcher {
                    errors,
                    result_path,
                    next,
                    assign,
                    output,
                });
            }
        }
        out
    }

    fn seconds(
        &mut self,
        path: &str,
        obj: &Map<String, Value>,
        fixed: &str,
        dynamic: &str,
        min: u64,
    ) -> Option<Option<Seconds>> {
        let sp = Some(path);
        match (obj.get(fixed), obj.get(dynamic)) {
            (Some(_), Some(_)) => {
                self.err(
                    sp,
                    dynamic,
                    format!("use either `{fixed}` or `{dynamic}`, not both"),
                );
                None
            }
            (Some(v @ Value::String(_)), None) if self.jsonata => self
                .jsonata_template(path, fixed, Some(v))
                .map(|t| Some(Seconds::Expr(t))),
            (Some(v), None) => self
                .uint(sp, fixed, v, min, MAX_SECONDS)
                .map(|s| Some(Seconds::Fixed(s))),
            (None, Some(v)) => self.path(sp, dynamic, v).map(|p| Some(Seconds::Path(p))),
            (None, None) => Some(None),
        }
    }

    fn task(
        &mut self,
        path: &str,
        obj: &Map<String, Value>,
        index: &HashMap<&str, usize>,
        names: &[&str],
    ) -> Option<Task> {
        let sp = Some(path);
        let resource_text = match obj.get("Resource") {
            Some(v) => self.string(sp, "Resource", v),
            None => {
                self.err(sp, "Resource", "is required");
                None
            }
        };
        let common = self.common(path, obj, index, names, Some("Parameters"));
        let timeout = self.seconds(path, obj, "TimeoutSeconds", "TimeoutSecondsPath", 1);
        let heartbeat = self.seconds(path, obj, "HeartbeatSeconds", "HeartbeatSecondsPath", 1);
        if let (Some(Some(Seconds::Fixed(t))), Some(Some(Seconds::Fixed(h)))) =
            (&timeout, &heartbeat)
        {
            if h >= t {
                self.err(
                    sp,
                    "HeartbeatSeconds",
                    format!("must be smaller than TimeoutSeconds ({t})"),
                );
            }
        }
        let resource_text = resource_text?;
        let resource = match sfn::lambda_resource(resource_text) {
            Some(LambdaResource::Invoke) => {
                let field = if self.jsonata {
                    "Arguments"
                } else {
                    "Parameters"
                };
                let has_function = obj.get(field).and_then(Value::as_object).is_some_and(|p| {
                    p.contains_key("FunctionName") || p.contains_key("FunctionName.$")
                });
                if !has_function {
                    self.err(
                        sp,
                        field,
                        format!("`{resource_text}` needs `{field}` with `FunctionName`"),
                    );
                    return None;
                }
                Resource::LambdaInvoke(InvokeParameters {
                    fields: Vec::new(),
                    single_reader: false,
                })
            }
            // Loaded for a mock to answer (`Invoker::mocked`); the engine cannot call them.
            Some(LambdaResource::InvokeWaitForTaskToken) | None
                if self.any_task_resource && resource_text.starts_with("arn:") =>
            {
                Resource::Service(Arc::new(Service::of(resource_text)))
            }
            Some(LambdaResource::InvokeWaitForTaskToken) => {
                self.err(sp, "Resource", format!("not supported by the local engine: `{resource_text}` (callbacks with a task token need Step Functions to receive the token)"));
                return None;
            }
            Some(LambdaResource::FunctionArn) => Resource::LambdaArn,
            None if self.any_task_resource => {
                self.err(
                    sp,
                    "Resource",
                    format!("`{resource_text}` is not an ARN (`arn:aws:states:::service:action`, a Lambda function or an activity)"),
                );
                return None;
            }
            None => {
                self.err(sp, "Resource", format!("not supported by the local engine: `{resource_text}` (it runs Lambda functions: `{LAMBDA_INVOKE}` or a Lambda function ARN)"));
                return None;
            }
        };
        let (mut resource, mut common) = (resource, common);
        let mut payload_only = None;
        if let Resource::LambdaInvoke(invoke) = &mut resource {
            // The call reads them field by field (`Common::parameters` stays unset).
            *invoke = invoke_parameters(common.parameters.take());
            // `Assign` reads the whole response.
            payload_only = common
                .result_selector
                .as_ref()
                .filter(|t| t.all_paths(&|p| p.first_key() == Some("Payload")))
                .and_then(Template::below_first_key)
                .map(PayloadOnly::Selector)
                .filter(|_| !obj.contains_key("Assign"));
        }
        // (A JSONata task's is decided in `state`, which knows its `Output` and `Assign`.)
        let consumes_input = common.result_path == ResultPath::Replace
            && common.retry.is_empty()
            && common
                .catch
                .iter()
                .all(|c| c.result_path == ResultPath::Replace);
        Some(Task {
            resource,
            resource_text: resource_text.into(),
            common,
            timeout: timeout?,
            payload_only,
            consumes_input,
        })
    }

    fn choice(
        &mut self,
        path: &str,
        obj: &Map<String, Value>,
        index: &HashMap<&str, usize>,
        names: &[&str],
    ) -> Option<Choice> {
        let sp = Some(path);
        let default = match obj.get("Default") {
            None => Some(None),
            Some(v) => self
                .string(sp, "Default", v)
                .and_then(|t| match index.get(t) {
                    Some(&i) => Some(Some(i)),
                    None => {
                        self.missing_state(sp, "Default", t, names);
                        None
                    }
                }),
        };
        let rules = match obj.get("Choices") {
            Some(Value::Array(rules)) if !rules.is_empty() => rules,
            Some(Value::Array(_)) => {
                self.err(sp, "Choices", "must have at least one rule");
                return None;
            }
            Some(other) => {
                self.err(
                    sp,
                    "Choices",
                    format!("must be an array of rules, not {}", kind(other)),
                );
                return None;
            }
            None => {
                self.err(sp, "Choices", "is required");
                return None;
            }
        };
        let mut branches = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            let at = format!("Choices[{i}]");
            let compiled = if self.jsonata {
                self.condition(path, &at, rule)
            } else {
                self.rule(path, &at, rule, true)
            };
            let assign = self.assign(path, &format!("{at}.Assign"), rule.get("Assign"));
            let output = self.jsonata_template(path, &format!("{at}.Output"), rule.get("Output"));
            let next = match rule.get("Next") {
                Some(v) => {
                    self.string(sp, &format!("{at}.Next"), v)
                        .and_then(|t| match index.get(t) {
                            Some(&i) => Some(i),
                            None => {
                                self.missing_state(sp, &format!("{at}.Next"), t, names);
                                None
                            }
                        })
                }
                None => {
                    if rule.is_object() {
                        self.err(
                            sp,
                            format!("{at}.Next"),
                            "a top-level choice rule needs `Next`",
                        );
                    }
                    None
                }
            };
            if let (Some(rule), Some(next)) = (compiled, next) {
                branches.push(Branch {
                    rule,
                    next,
                    assign,
                    output,
                });
            }
        }
        Some(Choice {
            branches,
            default: default?,
        })
    }

    /// A choice rule's fields (it must be an object).
    fn rule_object<'v>(
        &mut self,
        path: &str,
        at: &str,
        v: &'v Value,
    ) -> Option<&'v Map<String, Value>> {
        let Value::Object(obj) = v else {
            self.err(
                Some(path),
                at,
                format!("a choice rule is an object, not {}", kind(v)),
            );
            return None;
        };
        Some(obj)
    }

    fn rule(&mut self, path: &str, at: &str, v: &Value, top: bool) -> Option<Rule> {
        let sp = Some(path);
        let obj = self.rule_object(path, at, v)?;
        let mut operator = None;
        for key in obj.keys() {
            match key.as_str() {
                "Variable" | "Comment" => {}
                "Next" | "Assign" if top => {}
                "Next" => self.err(
                    sp,
                    format!("{at}.Next"),
                    "only a top-level choice rule has `Next`",
                ),
                k if choice::OPERATORS.contains(&k) => {
                    if let Some(first) = operator.replace(k) {
                        self.err(
                            sp,
                            format!("{at}.{k}"),
                            format!("a rule has one operator; this one already has `{first}`"),
                        );
                    }
                }
                k => {
                    let mut all = choice::OPERATORS.to_vec();
                    all.extend(["Variable", "Comment", "Next"]);
                    self.unknown(sp, &format!("{at}.{k}"), &all);
                }
            }
        }
        let Some(op) = operator else {
            self.err(
                sp,
                at,
                "a choice rule needs an operator (`StringEquals`, `And`, `IsPresent`, …)",
            );
            return None;
        };
        let operand = obj.get(op).unwrap_or(&Value::Null);
        let field = format!("{at}.{op}");
        match op {
            "And" | "Or" => {
                if obj.contains_key("Variable") {
                    self.err(
                        sp,
                        format!("{at}.Variable"),
                        format!("`{op}` combines rules and takes no `Variable`"),
                    );
                }
                let Value::Array(rules) = operand else {
                    self.err(
                        sp,
                        &field,
                        format!("must be a non-empty array of rules, not {}", kind(operand)),
                    );
                    return None;
                };
                if rules.is_empty() {
                    self.err(sp, &field, "must have at least one rule");
                    return None;
                }
                let compiled: Vec<Option<Rule>> = rules
                    .iter()
                    .enumerate()
                    .map(|(i, r)| self.rule(path, &format!("{field}[{i}]"), r, false))
                    .collect();
                let compiled: Option<Vec<Rule>> = compiled.into_iter().collect();
                let compiled = compiled?;
                Some(if op == "And" {
                    Rule::And(compiled)
                } else {
                    Rule::Or(compiled)
                })
            }
            "Not" => {
                if obj.contains_key("Variable") {
                    self.err(
                        sp,
                        format!("{at}.Variable"),
                        "`Not` wraps a rule and takes no `Variable`",
                    );
                }
                self.rule(path, &field, operand, false)
                    .map(|r| Rule::Not(Box::new(r)))
            }
            _ => {
                let variable = match obj.get("Variable") {
                    Some(v) => self.path(sp, &format!("{at}.Variable"), v),
                    None => {
                        self.err(
                            sp,
                            format!("{at}.Variable"),
                            format!("`{op}` needs a `Variable`"),
                        );
                        None
                    }
                };
                let test = match choice::compile_test(op, operand) {
                    Ok(t) => Some(t),
                    Err(e) => {
                        self.err(sp, &field, e);
                        None
                    }
                };
                let rule = Rule::Test {
                    variable: variable?,
                    test: test?,
                };
                self.saw_context |= rule.uses_context();
                Some(rule)
            }
        }
    }

    /// A JSONata Choice rule: `Condition` (a boolean or an expression giving one), `Next`,
    /// `Assign`, `Output`.
    fn condition(&mut self, path: &str, at: &str, v: &Value) -> Option<Rule> {
        let sp = Some(path);
        let obj = self.rule_object(path, at, v)?;
        const FIELDS: &[&str] = &["Condition", "Next", "Assign", "Output", "Comment"];
        for key in obj.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
            match other_language_field(key, true) {
                Some(why) => self.err(sp, format!("{at}.{key}"), why),
                None => self.unknown(sp, &format!("{at}.{key}"), FIELDS),
            }
        }
        match obj.get("Condition") {
            None => {
                self.err(
                    sp,
                    format!("{at}.Condition"),
                    "a JSONata choice rule needs `Condition` (a boolean, or `{% … %}` giving one)",
                );
                None
            }
            Some(Value::Bool(b)) => Some(Rule::Condition(Template::Static(Value::Bool(*b)))),
            Some(v @ Value::String(_)) => self
                .jsonata_template(path, &format!("{at}.Condition"), Some(v))
                .map(Rule::Condition),
            Some(other) => {
                self.err(
                    sp,
                    format!("{at}.Condition"),
                    format!(
                        "must be a boolean or a `{{% … %}}` expression, not {}",
                        kind(other)
                    ),
                );
                None
            }
        }
    }

    /// A Wait's literal `Timestamp` (the same in both query languages): an RFC 3339 time.
    fn fixed_timestamp(&mut self, sp: Option<&str>, v: &Value) -> Option<Wait> {
        let text = self.string(sp, "Timestamp", v)?;
        match parse_timestamp(text) {
            Some(t) => Some(Wait::Timestamp(t)),
            None => {
                self.err(
                    sp,
                    "Timestamp",
                    format!("`{text}` is not an RFC 3339 timestamp (like `2024-01-31T12:00:00Z`)"),
                );
                None
            }
        }
    }

    fn wait(&mut self, path: &str, obj: &Map<String, Value>) -> Option<Wait> {
        let sp = Some(path);
        if self.jsonata {
            return match (obj.get("Seconds"), obj.get("Timestamp")) {
                (Some(v @ Value::String(_)), None) => self
                    .jsonata_template(path, "Seconds", Some(v))
                    .map(Wait::SecondsExpr),
                (None, Some(v)) if v.as_str().and_then(super::jsonata::body_of).is_some() => self
                    .jsonata_template(path, "Timestamp", Some(v))
                    .map(Wait::TimestampExpr),
                (Some(v), None) => self
                    .uint(sp, "Seconds", v, 0, MAX_SECONDS)
                    .map(Wait::Seconds),
                (None, Some(v)) => self.fixed_timestamp(sp, v),
                _ => {
                    self.err(
                        sp,
                        "Seconds",
                        "a JSONata Wait state has exactly one of `Seconds` and `Timestamp`",
                    );
                    None
                }
            };
        }
        let given: Vec<&str> = ["Seconds", "SecondsPath", "Timestamp", "TimestampPath"]
            .into_iter()
            .filter(|f| obj.contains_key(*f))
            .collect();
        match given.as_slice() {
            [one] => {
                let v = obj.get(*one)?;
                match *one {
                    "Seconds" => self
                        .uint(sp, "Seconds", v, 0, MAX_SECONDS)
                        .map(Wait::Seconds),
                    "SecondsPath" => self.path(sp, "SecondsPath", v).map(Wait::SecondsPath),
                    "Timestamp" => self.fixed_timestamp(sp, v),
                    _ => self.path(sp, "TimestampPath", v).map(Wait::TimestampPath),
                }
            }
            [] => {
                self.err(sp, "Seconds", "a Wait state needs one of `Seconds`, `SecondsPath`, `Timestamp`, `TimestampPath`");
                None
            }
            [_, second, ..] => {
                self.err(sp, *second, format!("a Wait state has exactly one of `Seconds`, `SecondsPath`, `Timestamp`, `TimestampPath`; found {}", given.join(", ")));
                None
            }
        }
    }

    fn text(
        &mut self,
        path: &str,
        obj: &Map<String, Value>,
        fixed: &str,
        dynamic: &str,
    ) -> Option<Text> {
        let sp = Some(path);
        match (obj.get(fixed), obj.get(dynamic)) {
            (Some(_), Some(_)) => {
                self.err(
                    sp,
                    dynamic,
                    format!("use either `{fixed}` or `{dynamic}`, not both"),
                );
                None
            }
            (Some(v), None)
                if self.jsonata && v.as_str().and_then(super::jsonata::body_of).is_some() =>
            {
                self.jsonata_template(path, fixed, Some(v)).map(Text::Expr)
            }
            (Some(v), None) => self
                .string(sp, fixed, v)
                .map(|s| Text::Fixed(s.to_string())),
            (None, Some(v)) => {
                let text = self.string(sp, dynamic, v)?;
                if text.starts_with("States.") {
                    match Intrinsic::parse(text) {
                        Ok(call) => {
                            self.saw_context |= call.uses_context();
                            Some(Text::Intrinsic(Box::new(call)))
                        }
                        Err(e) => {
                            let text = super::template::shortened(text.to_string());
                            self.err(sp, dynamic, format!("intrinsic function `{text}`: {e}"));
                            None
                        }
                    }
                } else {
                    self.path(sp, dynamic, v).map(Text::Path)
                }
            }
            (None, None) => None,
        }
    }

    fn fail(&mut self, path: &str, obj: &Map<String, Value>) -> Fail {
        Fail {
            error: self.text(path, obj, "Error", "ErrorPath"),
            cause: self.text(path, obj, "Cause", "CausePath"),
        }
    }

    fn parallel(
        &mut self,
        path: &str,
        obj: &Map<String, Value>,
        index: &HashMap<&str, usize>,
        names: &[&str],
    ) -> Option<Parallel> {
        let sp = Some(path);
        let common = self.common(path, obj, index, names, Some("Parameters"));
        let branches = match obj.get("Branches") {
            Some(Value::Array(b)) if !b.is_empty() => b,
            Some(Value::Array(_)) => {
                self.err(sp, "Branches", "must have at least one branch");
                return None;
            }
            Some(other) => {
                self.err(
                    sp,
                    "Branches",
                    format!("must be an array of state machines, not {}", kind(other)),
                );
                return None;
            }
            None => {
                self.err(sp, "Branches", "is required");
                return None;
            }
        };
        let mut compiled = Vec::new();
        for (i, branch) in branches.iter().enumerate() {
            let at = format!("Branches[{i}].");
            let Value::Object(b) = branch else {
                self.err(
                    sp,
                    format!("Branches[{i}]"),
                    format!("a branch is a state machine object, not {}", kind(branch)),
                );
                continue;
            };
            for key in b
                .keys()
                .filter(|k| !matches!(k.as_str(), "StartAt" | "States" | "Comment"))
            {
                self.unknown(sp, &format!("{at}{key}"), &["StartAt", "States", "Comment"]);
            }
            compiled.extend(self.machine(b, sp, &at));
        }
        (compiled.len() == branches.len()).then_some(Parallel {
            branches: compiled,
            common,
        })
    }

    fn map(
        &mut self,
        path: &str,
        obj: &Map<String, Value>,
        index: &HashMap<&str, usize>,
        names: &[&str],
    ) -> Option<MapState> {
        let sp = Some(path);
        let selector_field = match (
            obj.contains_key("ItemSelector"),
            obj.contains_key("Parameters"),
        ) {
            (true, true) => {
                self.err(
                    sp,
                    "Parameters",
                    "use `ItemSelector` (or the older `Parameters`), not both",
                );
                None
            }
            (false, true) => Some("Parameters"),
            _ => Some("ItemSelector"),
        };
        let item_selector = if self.jsonata {
            self.jsonata_template(path, "ItemSelector", obj.get("ItemSelector"))
        } else {
            selector_field.and_then(|f| self.template(path, f, obj.get(f)))
        };
        let common = self.common(path, obj, index, names, None);
        let items_path = obj
            .get("ItemsPath")
            .and_then(|v| self.path(sp, "ItemsPath", v));
        let items = match obj.get("Items") {
            Some(v @ (Value::Array(_) | Value::String(_))) => {
                self.jsonata_template(path, "Items", Some(v))
            }
            Some(other) => {
                self.err(
                    sp,
                    "Items",
                    format!(
                        "must be an array or a `{{% … %}}` expression giving one, not {}",
                        kind(other)
                    ),
                );
                None
            }
            None => None,
        };
        let expr = |this: &mut Self, field: &str| -> Option<Template> {
            match obj.get(field) {
                Some(v)
                    if this.jsonata && v.as_str().and_then(super::jsonata::body_of).is_some() =>
                {
                    this.jsonata_template(path, field, Some(v))
                }
                _ => None,
            }
        };
        let concurrency_expr = expr(self, "MaxConcurrency");
        let count_expr = expr(self, "ToleratedFailureCount");
        let percentage_expr = expr(self, "ToleratedFailurePercentage");
        let max_concurrency = match (obj.get("MaxConcurrency"), obj.get("MaxConcurrencyPath")) {
            (Some(_), Some(_)) => {
                self.err(
                    sp,
                    "MaxConcurrencyPath",
                    "use either `MaxConcurrency` or `MaxConcurrencyPath`, not both",
                );
                None
            }
            (Some(_), None) if concurrency_expr.is_some() => concurrency_expr.map(Count::Expr),
            (Some(v), None) => self
                .uint(sp, "MaxConcurrency", v, 0, u64::MAX)
                .map(Count::Fixed),
            (None, Some(v)) => self.path(sp, "MaxConcurrencyPath", v).map(Count::Path),
            (None, None) => Some(Count::Fixed(0)),
        };
        let tolerated_count = match (
            obj.get("ToleratedFailureCount"),
            obj.get("ToleratedFailureCountPath"),
        ) {
            (Some(_), Some(_)) => {
                self.err(
                    sp,
                    "ToleratedFailureCountPath",
                    "use either `ToleratedFailureCount` or `ToleratedFailureCountPath`, not both",
                );
                None
            }
            (Some(_), None) if count_expr.is_some() => Some(count_expr.map(Count::Expr)),
            (Some(v), None) => self
                .uint(sp, "ToleratedFailureCount", v, 0, u64::MAX)
                .map(|n| Some(Count::Fixed(n))),
            (None, Some(v)) => self
                .path(sp, "ToleratedFailureCountPath", v)
                .map(|p| Some(Count::Path(p))),
            (None, None) => Some(None),
        };
        let tolerated_percentage = match (
            obj.get("ToleratedFailurePercentage"),
            obj.get("ToleratedFailurePercentagePath"),
        ) {
            (Some(_), Some(_)) => {
                self.err(sp, "ToleratedFailurePercentagePath", "use either `ToleratedFailurePercentage` or `ToleratedFailurePercentagePath`, not both");
                None
            }
            (Some(_), None) if percentage_expr.is_some() => {
                Some(percentage_expr.map(Percentage::Expr))
            }
            (Some(v), None) => match v.as_f64() {
                Some(p) if (0.0..=100.0).contains(&p) => Some(Some(Percentage::Fixed(p))),
                _ => {
                    self.err(
                        sp,
                        "ToleratedFailurePercentage",
                        format!("must be a number from 0 to 100, not {v}"),
                    );
                    None
                }
            },
            (None, Some(v)) => self
                .path(sp, "ToleratedFailurePercentagePath", v)
                .map(|p| Some(Percentage::Path(p))),
            (None, None) => Some(None),
        };
        let (field, processor) = match (obj.get("ItemProcessor"), obj.get("Iterator")) {
            (Some(_), Some(_)) => {
                self.err(
                    sp,
                    "Iterator",
                    "use `ItemProcessor` (or the older `Iterator`), not both",
                );
                return None;
            }
            (Some(p), None) => ("ItemProcessor", p),
            (None, Some(p)) => ("Iterator", p),
            (None, None) => {
                self.err(sp, "ItemProcessor", "is required");
                return None;
            }
        };
        let Value::Object(processor) = processor else {
            self.err(
                sp,
                field,
                format!("must be a state machine object, not {}", kind(processor)),
            );
            return None;
        };
        let mut distributed = false;
        for (key, value) in processor {
            match key.as_str() {
                "StartAt" | "States" | "Comment" => {}
                "ProcessorConfig" if field == "ItemProcessor" => {
                    distributed = self.processor_config(path, value)
                }
                other => self.unknown(
                    sp,
                    &format!("{field}.{other}"),
                    &["StartAt", "States", "Comment", "ProcessorConfig"],
                ),
            }
        }
        let processor = self.machine(processor, sp, &format!("{field}."));
        Some(MapState {
            processor: processor?,
            items_path,
            items,
            item_selector,
            max_concurrency: max_concurrency?,
            tolerated_count: tolerated_count?,
            tolerated_percentage: tolerated_percentage?,
            distributed,
            common,
        })
    }

    /// Checks `ProcessorConfig`; whether the Map is distributed.
    fn processor_config(&mut self, path: &str, v: &Value) -> bool {
        let sp = Some(path);
        let Value::Object(cfg) = v else {
            self.err(
                sp,
                "ItemProcessor.ProcessorConfig",
                format!("must be an object, not {}", kind(v)),
            );
            return false;
        };
        for (key, value) in cfg {
            match (key.as_str(), value.as_str()) {
                // A Distributed Map without ItemReader runs like an inline one here, its
                // children's states kept out of the history as AWS keeps them out.
                ("Mode", Some("INLINE" | "DISTRIBUTED"))
                | ("ExecutionType", Some("STANDARD" | "EXPRESS")) => {}
                ("Mode", _) => self.err(
                    sp,
                    "ItemProcessor.ProcessorConfig.Mode",
                    format!("must be \"INLINE\" or \"DISTRIBUTED\", not {value}"),
                ),
                ("ExecutionType", _) => self.err(
                    sp,
                    "ItemProcessor.ProcessorConfig.ExecutionType",
                    format!("must be \"STANDARD\" or \"EXPRESS\", not {value}"),
                ),
                (other, _) => self.unknown(
                    sp,
                    &format!("ItemProcessor.ProcessorConfig.{other}"),
                    &["Mode", "ExecutionType"],
                ),
            }
        }
        cfg.get("Mode").and_then(Value::as_str) == Some("DISTRIBUTED")
    }
}

/// The most characters in a variable name.
const MAX_VARIABLE_NAME_CHARS: usize = 80;

/// Step Functions' variable names: Unicode identifiers (a letter first, then letters, digits
/// or `_`), as `$name` references read them.
fn is_variable_name(name: &str) -> bool {
    super::path::variable_name(&format!("${name}")) == Some(name)
}

/// Why `field` is refused in a state of the other query language, when that is why.
fn other_language_field(field: &str, jsonata: bool) -> Option<String> {
    const JSONPATH_ONLY: &[&str] = &[
        "InputPath",
        "OutputPath",
        "Parameters",
        "ResultSelector",
        "ResultPath",
        "Result",
        "ItemsPath",
        "TimeoutSecondsPath",
        "HeartbeatSecondsPath",
        "SecondsPath",
        "TimestampPath",
        "ErrorPath",
        "CausePath",
        "MaxConcurrencyPath",
        "ToleratedFailureCountPath",
        "ToleratedFailurePercentagePath",
        "Variable",
        "And",
        "Or",
        "Not",
    ];
    const JSONATA_ONLY: &[&str] = &["Arguments", "Output", "Items", "Condition"];
    if jsonata && (JSONPATH_ONLY.contains(&field) || choice::OPERATORS.contains(&field)) {
        Some(format!("`{field}` is a JSONPath field, and this is a JSONata state: use `Arguments` for the input of the work, `Output` for the state's output, `Assign` for variables, `{{% … %}}` expressions for values"))
    } else if !jsonata && JSONATA_ONLY.contains(&field) {
        Some(format!("`{field}` is a JSONata field, and this is a JSONPath state: add `\"QueryLanguage\": \"JSONata\"` to the state (or the machine)"))
    } else {
        None
    }
}

fn allowed_fields(type_name: &str, jsonata: bool) -> &'static [&'static str] {
    if jsonata {
        return match type_name {
            "Pass" => &["Next", "End", "Output", "Assign"],
            "Task" => &[
                "Next",
                "End",
                "Resource",
                "Arguments",
                "Output",
                "Assign",
                "Retry",
                "Catch",
                "TimeoutSeconds",
                "HeartbeatSeconds",
            ],
            "Choice" => &["Choices", "Default", "Output", "Assign"],
            "Wait" => &["Next", "End", "Seconds", "Timestamp", "Output", "Assign"],
            "Succeed" => &["Output"],
            "Fail" => &["Error", "Cause"],
            "Parallel" => &[
                "Next",
                "End",
                "Arguments",
                "Output",
                "Assign",
                "Retry",
                "Catch",
                "Branches",
            ],
            _ => &[
                "Next",
                "End",
                "Items",
                "ItemSelector",
                "ItemProcessor",
                "Iterator",
                "Output",
                "Assign",
                "Retry",
                "Catch",
                "MaxConcurrency",
                "ToleratedFailurePercentage",
                "ToleratedFailureCount",
            ],
        };
    }
    match type_name {
        "Pass" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "Parameters",
            "ResultPath",
            "Result",
            "Assign",
        ],
        "Task" => &[
            "Next",
            "End",
            "Resource",
            "InputPath",
            "OutputPath",
            "Parameters",
            "ResultSelector",
            "ResultPath",
            "Retry",
            "Catch",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
            "Assign",
        ],
        "Choice" => &["Choices", "Default", "InputPath", "OutputPath", "Assign"],
        "Wait" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "Seconds",
            "SecondsPath",
            "Timestamp",
            "TimestampPath",
            "Assign",
        ],
        "Succeed" => &["InputPath", "OutputPath"],
        "Fail" => &["Error", "ErrorPath", "Cause", "CausePath"],
        "Parallel" => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "Parameters",
            "ResultSelector",
            "ResultPath",
            "Retry",
            "Catch",
            "Branches",
            "Assign",
        ],
        _ => &[
            "Next",
            "End",
            "InputPath",
            "OutputPath",
            "ItemsPath",
            "ItemSelector",
            "Parameters",
            "ItemProcessor",
            "Iterator",
            "ResultSelector",
            "ResultPath",
            "Retry",
            "Catch",
            "MaxConcurrency",
            "MaxConcurrencyPath",
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
            "Assign",
        ],
    }
}

/// A `lambda:invoke`'s `Parameters` field by field (the template is an object: `load`
/// requires one with `FunctionName`).
fn invoke_parameters(parameters: Option<Template>) -> InvokeParameters {
    let field = |key: &str, template: Template| {
        let role = match key {
            "FunctionName" => InvokeField::FunctionName(match &template {
                Template::Static(Value::String(name)) => Some(Arc::from(name.as_str())),
                _ => None,
            }),
            "Payload" => InvokeField::Payload,
            other => InvokeField::Other(other.into()),
        };
        (role, template)
    };
    let fields: Vec<(InvokeField, Template)> = match parameters {
        Some(Template::Object(fields)) => {
            fields.into_iter().map(|(key, t)| field(&key, t)).collect()
        }
        Some(Template::Static(Value::Object(map))) => map
            .into_iter()
            .map(|(key, v)| field(&key, Template::Static(v)))
            .collect(),
        _ => Vec::new(),
    };
    let reads: usize = fields.iter().map(|(_, t)| t.input_reads()).sum();
    InvokeParameters {
        fields,
        single_reader: reads <= 1,
    }
}
