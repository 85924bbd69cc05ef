//! What a unit that serves several functions receives: an envelope naming the function
//! (`{"function": NAME, "payload": …}`, the key names the compiler emits, see
//! `flowctl-lang`'s `asl` module), or a fused chain (`{"chain": [...], "vars": {...}}`) that runs
//! several calls in one invocation. The format is described in `lambda-shim/README.md`.

use crate::error::{names, Error};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::fmt::Write as _;

/// Key of the function name in a call envelope (the same as the compiler's
/// `asl::ENVELOPE_FUNCTION`); also the function of a chain step.
pub const FUNCTION: &str = "function";
/// Key of the function's input in a call envelope (the compiler's `asl::ENVELOPE_PAYLOAD`);
/// also the argument template of a chain step.
pub const PAYLOAD: &str = "payload";
/// Key of the steps of a chain envelope.
pub const CHAIN: &str = "chain";
/// Key of the values a chain reads from outside (the flow variables its arguments use).
pub const VARS: &str = "vars";
/// Key of the name a chain step's result is bound to.
pub const BIND: &str = "bind";
/// In a chain step's argument template, `{"$var": "x"}` or `{"$var": ["x", "field", 0]}`
/// stands for a variable (a `vars` entry or an earlier step's result), or a part of one.
pub const VAR_REF: &str = "$var";
/// In a chain step's argument template, `{"$literal": X}` stands for `X`, taken as is.
pub const LITERAL: &str = "$literal";
/// In a chain's answer: the bound results, by name.
pub const RESULTS: &str = "results";
/// In a chain's answer: `true` when every step ran; absent when the chain stopped at a
/// `$var` path its data lacks (see [`run_chain`]).
pub const COMPLETE: &str = "complete";
/// In a chain's answer: where and why the chain stopped, when it did.
pub const STOPPED: &str = "stopped";
/// The version of this protocol, printed by `describe`: it changes when an envelope's
/// meaning does (2: a chain answers `{"results", "complete"}` and stops at a missing path).
pub const PROTOCOL: u32 = 2;

/// A decoded envelope.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Call { function: String, payload: Value },
    Chain(Chain),
}

/// A fused chain: steps run in order, each argument built from `vars` and earlier results.
#[derive(Debug, Clone, PartialEq)]
pub struct Chain {
    pub steps: Vec<Step>,
    pub vars: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub function: String,
    /// The argument template (see [`resolve`]).
    pub payload: Value,
    pub bind: Option<String>,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(names::INVALID_ENVELOPE, message)
}

/// Decodes an envelope; anything but a well-formed call or chain envelope is an
/// `InvalidEnvelope` error.
pub fn parse(payload: Value) -> Result<Request, Error> {
    let Value::Object(mut object) = payload else {
        return Err(invalid(format!(
            "this unit serves several functions: the payload must be an object \
             {{\"{FUNCTION}\": NAME, \"{PAYLOAD}\": INPUT}} or a chain {{\"{CHAIN}\": [...]}}, \
             not {}",
            kind_of(&payload)
        )));
    };
    if object.contains_key(CHAIN) {
        return parse_chain(object).map(Request::Chain);
    }
    let function = match object.remove(FUNCTION) {
        Some(Value::String(name)) => name,
        Some(other) => {
            return Err(invalid(format!(
                "`{FUNCTION}` must be a function name (a string), not {}",
                kind_of(&other)
            )))
        }
        None => {
            return Err(invalid(format!(
                "this unit serves several functions: the payload must name one, as \
                 {{\"{FUNCTION}\": NAME, \"{PAYLOAD}\": INPUT}}"
            )))
        }
    };
    // A missing payload is `null`, so a function whose input is `()` can be called bare.
    let payload = object.remove(PAYLOAD).unwrap_or(Value::Null);
    reject_other_keys(&object, "a call envelope")?;
    Ok(Request::Call { function, payload })
}

fn parse_chain(mut object: Map<String, Value>) -> Result<Chain, Error> {
    let steps = match object.remove(CHAIN) {
        Some(Value::Array(steps)) if !steps.is_empty() => steps,
        Some(Value::Array(_)) => return Err(invalid("a chain needs at least one step")),
        other => {
            return Err(invalid(format!(
                "`{CHAIN}` must be an array of steps, not {}",
                kind_of(other.as_ref().unwrap_or(&Value::Null))
            )))
        }
    };
    let vars = match object.remove(VARS) {
        None => Map::new(),
        Some(Value::Object(vars)) => vars,
        Some(other) => {
            return Err(invalid(format!(
                "`{VARS}` must be an object, not {}",
                kind_of(&other)
            )))
        }
    };
    reject_other_keys(&object, "a chain envelope")?;
    let steps = steps
        .into_iter()
        .enumerate()
        .map(|(index, step)| parse_step(index + 1, step))
        .collect::<Result<Vec<_>, _>>()?;
    let chain = Chain { steps, vars };
    chain.check_names()?;
    Ok(chain)
}

fn parse_step(number: usize, step: Value) -> Result<Step, Error> {
    let Value::Object(mut step) = step else {
        return Err(invalid(format!(
            "chain step {number} must be an object {{\"{FUNCTION}\", \"{PAYLOAD}\", \"{BIND}\"}}, not {}",
            kind_of(&step)
        )));
    };
    let function = match step.remove(FUNCTION) {
        Some(Value::String(name)) => name,
        _ => {
            return Err(invalid(format!(
                "chain step {number} must name its function in `{FUNCTION}` (a string)"
            )))
        }
    };
    let payload = step.remove(PAYLOAD).unwrap_or(Value::Null);
    let bind = match step.remove(BIND) {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) if !name.is_empty() => Some(name),
        Some(_) => {
            return Err(invalid(format!(
                "chain step {number}: `{BIND}` must be a non-empty name"
            )))
        }
    };
    reject_other_keys(&step, &format!("chain step {number}"))?;
    Ok(Step {
        function,
        payload,
        bind,
    })
}

fn reject_other_keys(object: &Map<String, Value>, what: &str) -> Result<(), Error> {
    match object.keys().next() {
        None => Ok(()),
        Some(key) => Err(invalid(format!("{what} has an unknown key `{key}`"))),
    }
}

impl Chain {
    /// Every reference reads a `vars` entry or an earlier step's binding, and no name is
    /// bound twice: checked before any step runs, so a malformed chain has no effects.
    fn check_names(&self) -> Result<(), Error> {
        let mut known: HashSet<&str> = self.vars.keys().map(String::as_str).collect();
        for (index, step) in self.steps.iter().enumerate() {
            let number = index + 1;
            check_template(&step.payload, &known)
                .map_err(|message| invalid(format!("chain step {number}: {message}")))?;
            if let Some(bind) = &step.bind {
                if !known.insert(bind) {
                    return Err(invalid(format!(
                        "chain step {number} binds `{bind}`, which is already a variable of the chain"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Runs a chain's steps in order through `call`. `serves` is asked about every step's
/// function before any step runs, so a chain naming a function this process does not serve
/// has no effects.
///
/// The answer is `{"results": {<bind>: <result>, …}, "complete": true}`. A step that fails
/// is the chain's error, unchanged (as the unfused call would have failed). A step whose
/// argument reads a `$var` path the data lacks does not run, nor do the steps after it: the
/// answer then has the results so far and `"stopped": {"step", "function", "reason"}`
/// instead of `complete`. A compiled flow selects `complete`, so such an answer fails the
/// fused Task with `States.Runtime` after the earlier steps ran — where and how the separate
/// calls would have failed on the same missing path.
///
/// One runner serves the shim (`Registry::handle`) and flowctl's in-process engine, so a
/// fused chain means the same in tests as in a deployed Lambda.
pub async fn run_chain<E, F, Fut>(
    chain: Chain,
    serves: impl Fn(&str) -> Result<(), Error>,
    mut call: F,
) -> Result<Value, E>
where
    E: From<Error>,
    F: FnMut(&str, Value) -> Fut,
    Fut: std::future::Future<Output = Result<Value, E>>,
{
    for step in &chain.steps {
        serves(&step.function)?;
    }
    let mut vars = chain.vars;
    let mut results = Map::new();
    for (index, step) in chain.steps.iter().enumerate() {
        let input = match resolve(&step.payload, &vars) {
            Ok(input) => input,
            Err(e) if e.name() == names::PATH_NOT_FOUND => {
                let mut answer = Map::new();
                answer.insert(RESULTS.into(), Value::Object(results));
                let stopped = serde_json::json!({
                    "step": index + 1,
                    "function": step.function,
                    "reason": e.message(),
                });
                answer.insert(STOPPED.into(), stopped);
                return Ok(Value::Object(answer));
            }
            Err(e) => return Err(e.into()),
        };
        let output = call(&step.function, input).await?;
        if let Some(bind) = &step.bind {
            vars.insert(bind.clone(), output.clone());
            results.insert(bind.clone(), output);
        }
    }
    let mut answer = Map::new();
    answer.insert(RESULTS.into(), Value::Object(results));
    answer.insert(COMPLETE.into(), Value::Bool(true));
    Ok(Value::Object(answer))
}

/// A `$var` reference: the variable and the keys / indexes into it.
struct Reference<'a> {
    var: &'a str,
    path: &'a [Value],
}

/// Reads a template node as a `$var` reference, a `$literal`, or neither.
enum Node<'a> {
    Reference(Reference<'a>),
    Literal(&'a Value),
    Other,
}

fn node(template: &Value) -> Result<Node<'_>, String> {
    let Value::Object(object) = template else {
        return Ok(Node::Other);
    };
    let special = object
        .get(VAR_REF)
        .map(|v| (VAR_REF, v))
        .or_else(|| object.get(LITERAL).map(|v| (LITERAL, v)));
    let Some((key, value)) = special else {
        return Ok(Node::Other);
    };
    if object.len() != 1 {
        return Err(format!(
            "an object with `{key}` must have no other key (wrap data that has one in \
             {{\"{LITERAL}\": …}})"
        ));
    }
    if key == LITERAL {
        return Ok(Node::Literal(value));
    }
    let reference = match value {
        Value::String(var) => Reference { var, path: &[] },
        Value::Array(parts) => match parts.split_first() {
            Some((Value::String(var), path)) => {
                if let Some(bad) = path.iter().find(|step| !is_path_step(step)) {
                    return Err(format!(
                        "a `{VAR_REF}` path step must be a key (string) or an index (non-negative integer), not {bad}"
                    ));
                }
                Reference { var, path }
            }
            _ => {
                return Err(format!(
                    "`{VAR_REF}` must be a variable name or an array [NAME, key or index, …]"
                ))
            }
        },
        _ => {
            return Err(format!(
                "`{VAR_REF}` must be a variable name or an array [NAME, key or index, …]"
            ))
        }
    };
    Ok(Node::Reference(reference))
}

fn is_path_step(step: &Value) -> bool {
    step.is_string() || step.as_u64().is_some()
}

fn check_template(template: &Value, known: &HashSet<&str>) -> Result<(), String> {
    match node(template)? {
        Node::Reference(reference) if known.contains(reference.var) => Ok(()),
        Node::Reference(reference) => Err(format!(
            "`{VAR_REF}` reads `{}`, which is neither in `{VARS}` nor bound by an earlier step",
            reference.var
        )),
        Node::Literal(_) => Ok(()),
        Node::Other => match template {
            Value::Object(object) => object.values().try_for_each(|v| check_template(v, known)),
            Value::Array(items) => items.iter().try_for_each(|v| check_template(v, known)),
            _ => Ok(()),
        },
    }
}

/// Builds a step's argument: `$var` references are replaced by (a part of) the variable they
/// name, `$literal` wrappers by their content, everything else is kept. Data in `vars` is
/// never read as a template, so values from the flow cannot inject references.
pub fn resolve(template: &Value, vars: &Map<String, Value>) -> Result<Value, Error> {
    match node(template).map_err(invalid)? {
        Node::Reference(reference) => lookup(&reference, vars).cloned(),
        Node::Literal(value) => Ok(value.clone()),
        Node::Other => match template {
            Value::Object(object) => object
                .iter()
                .map(|(k, v)| Ok((k.clone(), resolve(v, vars)?)))
                .collect::<Result<Map<_, _>, Error>>()
                .map(Value::Object),
            Value::Array(items) => items
                .iter()
                .map(|v| resolve(v, vars))
                .collect::<Result<Vec<_>, Error>>()
                .map(Value::Array),
            scalar => Ok(scalar.clone()),
        },
    }
}

fn lookup<'v>(reference: &Reference<'_>, vars: &'v Map<String, Value>) -> Result<&'v Value, Error> {
    let mut value = vars.get(reference.var).ok_or_else(|| {
        invalid(format!(
            "`{VAR_REF}` reads `{}`, which is not a variable of the chain",
            reference.var
        ))
    })?;
    for (depth, step) in reference.path.iter().enumerate() {
        let next = match step {
            Value::String(key) => value.as_object().and_then(|o| o.get(key)),
            index => index
                .as_u64()
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| value.as_array().and_then(|a| a.get(i))),
        };
        value = next.ok_or_else(|| {
            Error::new(
                names::PATH_NOT_FOUND,
                format!(
                    "`{}` has no {} (it is {})",
                    display_path(reference.var, &reference.path[..depth]),
                    match step {
                        Value::String(key) => format!("field `{key}`"),
                        index => format!("index {index}"),
                    },
                    match value {
                        Value::Array(items) => format!("an array of {}", items.len()),
                        other => kind_of(other).to_string(),
                    }
                ),
            )
        })?;
    }
    Ok(value)
}

/// `reservation.status`, `nights[2]`: how a flow would write the path.
fn display_path(var: &str, path: &[Value]) -> String {
    let mut out = var.to_string();
    for step in path {
        match step {
            Value::String(key) => {
                let _ = write!(out, ".{key}");
            }
            index => {
                let _ = write!(out, "[{index}]");
            }
        }
    }
    out
}

pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
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

    fn vars(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn call_envelopes() {
        assert_eq!(
            parse(json!({"function": "A", "payload": {"x": 1}})).unwrap(),
            Request::Call {
                function: "A".into(),
                payload: json!({"x": 1})
            }
        );
        assert_eq!(
            parse(json!({"function": "Ping"})).unwrap(),
            Request::Call {
                function: "Ping".into(),
                payload: Value::Null
            }
        );
        for bad in [
            json!([1]),
            json!("A"),
            json!({"payload": 1}),
            json!({"function": 3, "payload": 1}),
            json!({"function": "A", "payload": 1, "extra": true}),
        ] {
            let error = parse(bad.clone()).unwrap_err();
            assert_eq!(error.name(), "InvalidEnvelope", "{bad}");
        }
    }

    #[test]
    fn chain_envelopes() {
        let request = parse(json!({
            "chain": [
                {"function": "A", "payload": {"id": {"$var": ["input", "id"]}}, "bind": "a"},
                {"function": "B", "payload": {"$var": "a"}},
            ],
            "vars": {"input": {"id": 7}},
        }))
        .unwrap();
        let Request::Chain(chain) = request else {
            panic!("not a chain")
        };
        assert_eq!(chain.steps.len(), 2);
        assert_eq!(chain.steps[0].bind.as_deref(), Some("a"));
        assert_eq!(chain.steps[1].bind, None);
    }

    #[test]
    fn malformed_chains_are_rejected_before_running() {
        for (bad, needle) in [
            (json!({"chain": []}), "at least one step"),
            (json!({"chain": {}}), "must be an array"),
            (json!({"chain": [1]}), "step 1 must be an object"),
            (json!({"chain": [{"payload": 1}]}), "must name its function"),
            (
                json!({"chain": [{"function": "A", "bind": 3}]}),
                "non-empty name",
            ),
            (
                json!({"chain": [{"function": "A", "oops": 1}]}),
                "unknown key `oops`",
            ),
            (
                json!({"chain": [{"function": "A"}], "vars": []}),
                "must be an object",
            ),
            (
                json!({"chain": [{"function": "A"}], "extra": 1}),
                "unknown key `extra`",
            ),
            (
                json!({"chain": [{"function": "A", "payload": {"$var": "later"}}, {"function": "B", "bind": "later"}]}),
                "neither in `vars` nor bound by an earlier step",
            ),
            (
                json!({"chain": [{"function": "A", "payload": {"$var": "me"}, "bind": "me"}]}),
                "neither in `vars`",
            ),
            (
                json!({"chain": [{"function": "A", "bind": "x"}], "vars": {"x": 1}}),
                "already a variable",
            ),
            (
                json!({"chain": [{"function": "A", "payload": {"$var": "x", "other": 1}}], "vars": {"x": 1}}),
                "no other key",
            ),
            (
                json!({"chain": [{"function": "A", "payload": {"$var": ["x", -1]}}], "vars": {"x": 1}}),
                "path step",
            ),
            (
                json!({"chain": [{"function": "A", "payload": {"$var": 3}}]}),
                "variable name or an array",
            ),
        ] {
            let error = parse(bad.clone()).unwrap_err();
            assert_eq!(error.name(), "InvalidEnvelope", "{bad}");
            assert!(
                error.message().contains(needle),
                "{bad}: {} does not say {needle}",
                error.message()
            );
        }
    }

    #[test]
    fn templates_resolve_references_and_literals() {
        let vars = vars(json!({
            "input": {"id": "abc", "nights": [3, 4]},
            "reservation": {"status": "available"},
        }));
        let template = json!({
            "id": {"$var": ["input", "id"]},
            "second": {"$var": ["input", "nights", 1]},
            "whole": {"$var": "reservation"},
            "list": [{"$var": ["reservation", "status"]}, 1, "text"],
            "data": {"$literal": {"$var": "not a reference"}},
        });
        assert_eq!(
            resolve(&template, &vars).unwrap(),
            json!({
                "id": "abc",
                "second": 4,
                "whole": {"status": "available"},
                "list": ["available", 1, "text"],
                "data": {"$var": "not a reference"},
            })
        );
    }

    #[test]
    fn values_in_vars_are_never_templates() {
        let vars = vars(json!({"input": {"$var": "secret"}, "secret": 1}));
        assert_eq!(
            resolve(&json!({"$var": "input"}), &vars).unwrap(),
            json!({"$var": "secret"})
        );
    }

    #[test]
    fn missing_paths_are_named() {
        let vars = vars(json!({"input": {"nights": [3]}}));
        let error = resolve(&json!({"$var": ["input", "nights", 5]}), &vars).unwrap_err();
        assert_eq!(error.name(), "PathNotFound");
        assert_eq!(
            error.message(),
            "`input.nights` has no index 5 (it is an array of 1)"
        );
        let error = resolve(&json!({"$var": ["input", "id"]}), &vars).unwrap_err();
        assert_eq!(
            error.message(),
            "`input` has no field `id` (it is an object)"
        );
    }
}
