//! The translation itself: one IR statement → one state (plus, rarely, `Pass` states that
//! assemble a nested list first). States refer to each other by numeric id while the
//! document is built; names are decided at the end (`names::assign`) so that they can be
//! made unique in source order, then the ids are replaced by names.

use super::storage::{field, path};
use super::{
    fuse, limits, names, unit_placeholder, CompileOptions, ENVELOPE_FUNCTION, ENVELOPE_PAYLOAD,
    LAMBDA_INVOKE,
};
use crate::diagnostic::{Diagnostic, Span};
use crate::flow::ast::{CmpOp, TypeTest};
use crate::flow::ir::{self, Cond, Expr, Operand, Scalar, StmtKind, WaitFor};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

type Id = usize;

/// Marks a state reference inside the document while it is being built. Only the fields
/// that hold state names (`StartAt`, `Next`, `Default`, the keys of `States`) carry it.
const REF: &str = "\u{0}state:";

fn reference(id: Id) -> Value {
    Value::String(format!("{REF}{id}"))
}

/// Where the scratch values assembled by `prepare` states go.
const TMP: &str = "$.tmp";

pub(super) fn compile(
    flow: &ir::Flow,
    opts: &CompileOptions,
) -> Result<(Value, super::SourceMap), Vec<Diagnostic>> {
    let mut functions_per_unit: BTreeMap<&str, usize> = BTreeMap::new();
    for unit in opts.units.values() {
        *functions_per_unit.entry(unit.as_str()).or_default() += 1;
    }
    let mut gen = Gen {
        opts,
        functions_per_unit,
        slots: Vec::new(),
        placeholders: Vec::new(),
        diagnostics: Vec::new(),
        taken: super::fuse::variable_names(flow),
    };
    let mut machine = Machine::default();
    let start = gen.alloc_at("Start", Span::new(0, 0), flow.span);
    let body = gen.block(&mut machine, &flow.body, None);
    let mut first = state("Pass");
    first.insert(
        "Parameters".into(),
        json!({ "vars": { format!("{}.$", flow.param): "$" } }),
    );
    Gen::link(&mut first, body);
    machine.push(start, first);

    let comment = if opts.source.is_empty() {
        format!("flow {}({}), compiled by flowctl", flow.name, flow.param)
    } else {
        format!(
            "flow {}({}), compiled by flowctl from {}",
            flow.name, flow.param, opts.source
        )
    };
    let mut doc = Map::new();
    doc.insert("Comment".into(), Value::String(comment));
    let Value::Object(m) = machine.into_json(start) else {
        unreachable!()
    };
    doc.extend(m);

    let hints: Vec<(String, (u32, u32))> = gen
        .slots
        .iter()
        .map(|s| (s.hint.clone(), s.order))
        .collect();
    let names = names::assign(&hints);
    rename_machine(&mut doc, &names);
    let sources: super::SourceMap = names
        .iter()
        .zip(&gen.slots)
        .map(|(name, slot)| (name.clone(), slot.span))
        .collect();
    let doc = Value::Object(doc);

    let mut diagnostics = gen.diagnostics;
    diagnostics.extend(limits::paths(flow));
    diagnostics.extend(limits::depth(&doc, flow.span, &flow.name));
    if diagnostics.is_empty() {
        let pretty = super::to_pretty_json(&doc);
        diagnostics.extend(limits::definition_size(
            &pretty,
            &gen.placeholders,
            flow.span,
            &flow.name,
        ));
    }
    if diagnostics.is_empty() {
        Ok((doc, sources))
    } else {
        diagnostics.sort_by_key(|d| d.span.start);
        Err(diagnostics)
    }
}

struct Slot {
    hint: String,
    /// (source offset, allocation number): the order names are handed out in.
    order: (u32, u32),
    /// The statement the state comes from.
    span: Span,
}

/// One `States` object being built (the flow, a parallel branch or a map body).
#[derive(Default)]
struct Machine {
    states: Vec<(Id, Map<String, Value>)>,
}

impl Machine {
    fn push(&mut self, id: Id, state: Map<String, Value>) {
        self.states.push((id, state));
    }

    fn into_json(mut self, start: Id) -> Value {
        self.states.sort_by_key(|(id, _)| *id);
        let states: Map<String, Value> = self
            .states
            .into_iter()
            .map(|(id, s)| (format!("{REF}{id}"), Value::Object(s)))
            .collect();
        json!({ "StartAt": reference(start), "States": states })
    }
}

fn state(ty: &str) -> Map<String, Value> {
    let mut s = Map::new();
    s.insert("Type".into(), Value::String(ty.into()));
    s
}

struct Gen<'a> {
    opts: &'a CompileOptions,
    functions_per_unit: BTreeMap<&'a str, usize>,
    slots: Vec<Slot>,
    /// Every unit placeholder written (for the definition size check).
    placeholders: Vec<String>,
    diagnostics: Vec<Diagnostic>,
    /// Every variable name of the flow, and the names given to fused chains' groups.
    taken: BTreeSet<String>,
}

/// A value as a payload template: what goes under a key of `Parameters`.
#[derive(Debug, Clone)]
enum Tpl {
    /// Written as is.
    Const(Value),
    /// A JSONPath (`"key.$": "$.vars.x"`).
    Path(String),
    /// An intrinsic function call (`"key.$": "States.Array(…)"`).
    Intrinsic(String),
    /// An object with some dynamic entries.
    Object(Vec<(String, Tpl)>),
}

impl Tpl {
    /// Bytes of the constant parts: a lower bound of the value's size.
    fn constant_bytes(&self) -> usize {
        match self {
            Tpl::Const(v) => serde_json::to_string(v).map_or(0, |s| s.len()),
            Tpl::Path(_) | Tpl::Intrinsic(_) => 0,
            Tpl::Object(entries) => entries
                .iter()
                .map(|(k, t)| k.len() + t.constant_bytes())
                .sum(),
        }
    }
}

/// Writes `t` under `key` in a `Parameters`-like object.
fn put(into: &mut Map<String, Value>, key: &str, t: &Tpl) {
    match t {
        Tpl::Const(v) => {
            into.insert(key.to_string(), v.clone());
        }
        Tpl::Path(p) | Tpl::Intrinsic(p) => {
            into.insert(format!("{key}.$"), Value::String(p.clone()));
        }
        Tpl::Object(entries) => {
            into.insert(key.to_string(), Value::Object(object(entries)));
        }
    }
}

fn object(entries: &[(String, Tpl)]) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, t) in entries {
        put(&mut m, k, t);
    }
    m
}

/// Values that must be assembled before the state that uses them: `States.Array` takes
/// only paths and scalars, so an object or list inside a list with dynamic elements is built
/// by a `Pass` first and referred to as `$.tmp.tN`. `levels[0]` is built last (right before
/// the state), `levels[1]` before it, and so on.
#[derive(Default)]
struct Staging {
    levels: Vec<Vec<(String, Tpl)>>,
    count: usize,
}

impl Staging {
    fn lower(&mut self, e: &Expr, depth: usize) -> Tpl {
        match e {
            Expr::Literal(v) => Tpl::Const(v.clone()),
            Expr::Path(p) => Tpl::Path(path(p)),
            Expr::Object(entries) => {
                let entries: Vec<(String, Tpl)> = entries
                    .iter()
                    .map(|(k, e)| (k.clone(), self.lower(e, depth)))
                    .collect();
                if entries.iter().all(|(_, t)| matches!(t, Tpl::Const(_))) {
                    Tpl::Const(Value::Object(
                        entries
                            .into_iter()
                            .map(|(k, t)| match t {
                                Tpl::Const(v) => (k, v),
                                _ => unreachable!(),
                            })
                            .collect(),
                    ))
                } else {
                    Tpl::Object(entries)
                }
            }
            Expr::List(items) => {
                if let Some(v) = e.as_constant() {
                    return Tpl::Const(v);
                }
                let args: Vec<String> = items
                    .iter()
                    .map(|item| match item {
                        // A backslash is escaped as `\\` in an intrinsic string, as AWS
                        // documents, but asl-validator's grammar rejects that escape: such a
                        // string is staged like a composite (it is then plain JSON).
                        Expr::Literal(Value::String(s)) if s.contains('\\') => {
                            self.stage(item, depth)
                        }
                        Expr::Literal(v) => intrinsic_literal(v),
                        Expr::Path(p) => path(p),
                        Expr::Object(_) | Expr::List(_) => self.stage(item, depth),
                    })
                    .collect();
                Tpl::Intrinsic(format!("States.Array({})", args.join(", ")))
            }
        }
    }

    /// Builds `e` in the `prepare` state `depth` and returns the path it will be at.
    fn stage(&mut self, e: &Expr, depth: usize) -> String {
        let t = self.lower(e, depth + 1);
        let name = format!("t{}", self.count);
        self.count += 1;
        if self.levels.len() <= depth {
            self.levels.resize_with(depth + 1, Vec::new);
        }
        self.levels[depth].push((name.clone(), t));
        format!("{TMP}.{name}")
    }
}

/// A scalar as an intrinsic function argument: strings in single quotes with `' { } \`
/// escaped by a backslash (as the intrinsic function grammar requires).
fn intrinsic_literal(v: &Value) -> String {
    match v {
        Value::String(s) => {
            let mut out = String::from("'");
            for c in s.chars() {
                if matches!(c, '\'' | '{' | '}' | '\\') {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('\'');
            out
        }
        other => other.to_string(),
    }
}

fn var_path(name: &str) -> String {
    format!("$.vars{}", field(name))
}

impl Gen<'_> {
    fn alloc(&mut self, hint: impl Into<String>, at: Span) -> Id {
        self.alloc_at(hint, at, at)
    }

    /// A state named in the order of `at` that comes from the statement at `source`.
    fn alloc_at(&mut self, hint: impl Into<String>, at: Span, source: Span) -> Id {
        let id = self.slots.len();
        self.slots.push(Slot {
            hint: hint.into(),
            order: (at.start, id as u32),
            span: source,
        });
        id
    }

    fn internal(&mut self, what: &str, span: Span) {
        self.diagnostics.push(
            Diagnostic::error("A900", format!("internal compiler error: {what}"), span)
                .text("flowctl could not compile this")
                .hint("please report this flow to the flowctl maintainers"),
        );
    }

    /// `Next` to `next`, or `End` when the path ends here.
    fn link(s: &mut Map<String, Value>, next: Option<Id>) {
        match next {
            Some(id) => {
                s.insert("Next".into(), reference(id));
            }
            None => {
                s.insert("End".into(), Value::Bool(true));
            }
        }
    }

    /// Compiles `block` into `m`, continuing at `next`; returns its first state (or `next`
    /// for an empty block).
    fn block(&mut self, m: &mut Machine, block: &ir::Block, next: Option<Id>) -> Option<Id> {
        let mut next = next;
        let grouped = fuse::group(block, self.opts, &self.functions_per_unit, &mut self.taken);
        match grouped {
            None => {
                for stmt in block.stmts.iter().rev() {
                    next = Some(self.stmt(m, stmt, next));
                }
            }
            Some(items) => {
                for item in items.iter().rev() {
                    next = Some(match item {
                        fuse::Item::Stmt(stmt) => self.stmt(m, stmt, next),
                        fuse::Item::Chain(chain) => self.chain(m, chain, next),
                    });
                }
            }
        }
        next
    }

    /// One `Task` running several calls in their unit (see `fuse`).
    fn chain(&mut self, m: &mut Machine, chain: &fuse::Chain, next: Option<Id>) -> Id {
        let span = match (chain.calls.first(), chain.calls.last()) {
            (Some(a), Some(b)) => a.span.to(b.span),
            _ => Span::default(),
        };
        let functions: Vec<&str> = chain
            .calls
            .iter()
            .filter_map(|s| match &s.kind {
                StmtKind::Call { function, .. } => Some(function.as_str()),
                _ => None,
            })
            .collect();
        let hint = format!("fused {}", functions.join(" + "));
        let id = self.alloc(hint, span);
        let (steps, vars) = chain.payload();
        let mut payload = Map::new();
        payload.insert(fuse::CHAIN.into(), steps);
        payload.insert(fuse::VARS.into(), Value::Object(vars));
        let constant = Tpl::Const(Value::Object(payload.clone()));
        self.check_payload(&constant, &Staging::default(), span);
        let placeholder = unit_placeholder(&chain.unit);
        self.placeholders.push(placeholder.clone());
        let mut params = Map::new();
        params.insert("FunctionName".into(), Value::String(placeholder));
        params.insert("Payload".into(), Value::Object(payload));
        let mut s = state("Task");
        s.insert("Resource".into(), Value::String(LAMBDA_INVOKE.into()));
        s.insert("Parameters".into(), Value::Object(params));
        // `complete` is selected so that a chain that stopped at a missing path fails here
        // with `States.Runtime` (see `fuse`).
        let complete = (
            fuse::COMPLETE.to_string(),
            json!(format!("$.Payload.{}", fuse::COMPLETE)),
        );
        let result = |b: &str| json!(format!("$.Payload.{}{}", fuse::RESULTS, field(b)));
        let binds = chain.binds();
        match (&chain.group, binds.as_slice()) {
            (None, [one]) => {
                let mut selector = Map::new();
                selector.insert("value.$".into(), result(one));
                selector.insert(format!("{}.$", complete.0), complete.1);
                s.insert("ResultSelector".into(), Value::Object(selector));
                s.insert("ResultPath".into(), Value::String(var_path(one)));
            }
            (group, binds) => {
                let mut selector: Map<String, Value> = binds
                    .iter()
                    .map(|b| (b.to_string(), json!({ "value.$": result(b) })))
                    .collect();
                selector.insert(format!("{}.$", complete.0), complete.1);
                s.insert("ResultSelector".into(), Value::Object(selector));
                let group = group.clone().unwrap_or_else(|| {
                    self.internal("a fused chain without a place for its results", span);
                    String::new()
                });
                s.insert("ResultPath".into(), Value::String(var_path(&group)));
            }
        }
        Gen::link(&mut s, next);
        m.push(id, s);
        id
    }

    /// Compiles a block that must start somewhere (a branch, a map body, a catch, an arm).
    fn target(
        &mut self,
        m: &mut Machine,
        block: &ir::Block,
        next: Option<Id>,
        span: Span,
    ) -> Value {
        match self.block(m, block, next) {
            Some(id) => reference(id),
            None => {
                self.internal("a block with no statement and nothing after it", span);
                Value::Null
            }
        }
    }

    fn stmt(&mut self, m: &mut Machine, stmt: &ir::Stmt, next: Option<Id>) -> Id {
        let span = stmt.span;
        match &stmt.kind {
            StmtKind::Call {
                bind,
                function,
                arg,
                handlers,
            } => {
                let hint = format!("{} = {}", bind.as_deref().unwrap_or("_"), function);
                let id = self.alloc(hint.clone(), span);
                let mut staging = Staging::default();
                let mut payload = match arg {
                    Some(e) => staging.lower(e, 0),
                    None => Tpl::Const(json!({})),
                };
                let unit = match self.opts.units.get(function) {
                    Some(unit) => unit.clone(),
                    None => {
                        self.diagnostics.push(
                            Diagnostic::error(
                                "A005",
                                format!("function `{function}` is not placed in any Lambda unit"),
                                span,
                            )
                            .text("no unit hosts this function")
                            .hint("list the function under `functions:` in flowctl.yaml"),
                        );
                        String::new()
                    }
                };
                if self
                    .functions_per_unit
                    .get(unit.as_str())
                    .copied()
                    .unwrap_or(0)
                    > 1
                {
                    payload = Tpl::Object(vec![
                        (
                            ENVELOPE_FUNCTION.to_string(),
                            Tpl::Const(Value::String(function.clone())),
                        ),
                        (ENVELOPE_PAYLOAD.to_string(), payload),
                    ]);
                }
                self.check_payload(&payload, &staging, span);
                let placeholder = unit_placeholder(&unit);
                self.placeholders.push(placeholder.clone());
                let mut params = Map::new();
                params.insert("FunctionName".into(), Value::String(placeholder));
                put(&mut params, "Payload", &payload);
                let mut s = state("Task");
                s.insert("Resource".into(), Value::String(LAMBDA_INVOKE.into()));
                s.insert("Parameters".into(), Value::Object(params));
                self.result(&mut s, bind.as_deref(), "$.Payload");
                if let Some(t) = handlers.timeout {
                    s.insert("TimeoutSeconds".into(), json!(t));
                }
                self.handlers(m, &mut s, handlers, next, span);
                Gen::link(&mut s, next);
                m.push(id, s);
                self.staged(m, staging, id, &hint, span)
            }
            StmtKind::Parallel {
                bind,
                branches,
                handlers,
            } => {
                let id = self.alloc(
                    format!("{} = parallel", bind.as_deref().unwrap_or("_")),
                    span,
                );
                let branches: Vec<Value> = branches
                    .iter()
                    .map(|b| {
                        let mut bm = Machine::default();
                        let start = self.block(&mut bm, b, None);
                        match start {
                            Some(start) => bm.into_json(start),
                            None => {
                                self.internal("an empty parallel branch", span);
                                Value::Null
                            }
                        }
                    })
                    .collect();
                let mut s = state("Parallel");
                s.insert("Branches".into(), Value::Array(branches));
                self.result(&mut s, bind.as_deref(), "$");
                self.handlers(m, &mut s, handlers, next, span);
                Gen::link(&mut s, next);
                m.push(id, s);
                id
            }
            StmtKind::Map {
                bind,
                item,
                items,
                concurrency,
                body,
                captures,
                handlers,
            } => {
                let id = self.alloc(
                    format!(
                        "{} = map {} in {}",
                        bind.as_deref().unwrap_or("_"),
                        item,
                        items.text
                    ),
                    span,
                );
                let mut vars = Map::new();
                vars.insert(
                    format!("{item}.$"),
                    Value::String("$$.Map.Item.Value".into()),
                );
                for name in captures {
                    vars.insert(format!("{name}.$"), Value::String(var_path(name)));
                }
                let mut bm = Machine::default();
                let start = self.block(&mut bm, body, None);
                let processor = match start {
                    Some(start) => {
                        let Value::Object(mut p) = bm.into_json(start) else {
                            unreachable!()
                        };
                        p.insert("ProcessorConfig".into(), json!({ "Mode": "INLINE" }));
                        Value::Object(p)
                    }
                    None => {
                        self.internal("an empty map body", span);
                        Value::Null
                    }
                };
                let mut s = state("Map");
                s.insert("ItemsPath".into(), Value::String(path(items)));
                s.insert("ItemSelector".into(), json!({ "vars": vars }));
                s.insert("ItemProcessor".into(), processor);
                if let Some(n) = concurrency.filter(|n| *n > 0) {
                    s.insert("MaxConcurrency".into(), json!(n));
                }
                self.result(&mut s, bind.as_deref(), "$");
                self.handlers(m, &mut s, handlers, next, span);
                Gen::link(&mut s, next);
                m.push(id, s);
                id
            }
            StmtKind::If { arms, otherwise } => {
                let first = arms
                    .first()
                    .map(|(c, _)| names::cond_text(c))
                    .unwrap_or_default();
                let id = self.alloc(format!("if {first}"), span);
                let mut choices = Vec::new();
                for (cond, body) in arms {
                    let mut rule = choice_rule(cond);
                    let target = self.target(m, body, next, span);
                    rule.insert("Next".into(), target);
                    choices.push(Value::Object(rule));
                }
                let default = match otherwise {
                    Some(b) => self.block(m, b, next),
                    None => next,
                };
                let mut s = state("Choice");
                s.insert("Choices".into(), Value::Array(choices));
                if let Some(d) = default {
                    s.insert("Default".into(), reference(d));
                }
                m.push(id, s);
                id
            }
            StmtKind::Return(e) => {
                let hint = format!("return {}", names::expr_text(e));
                let id = self.alloc(hint.clone(), span);
                let mut staging = Staging::default();
                let value = staging.lower(e, 0);
                self.check_payload(&value, &staging, span);
                let mut s = state("Pass");
                match &value {
                    Tpl::Const(v) => {
                        s.insert("Result".into(), v.clone());
                    }
                    Tpl::Path(p) => {
                        s.insert("OutputPath".into(), Value::String(p.clone()));
                    }
                    Tpl::Intrinsic(_) => {
                        let mut params = Map::new();
                        put(&mut params, "value", &value);
                        s.insert("Parameters".into(), Value::Object(params));
                        s.insert("OutputPath".into(), Value::String("$.value".into()));
                    }
                    Tpl::Object(entries) => {
                        s.insert("Parameters".into(), Value::Object(object(entries)));
                    }
                }
                s.insert("End".into(), Value::Bool(true));
                m.push(id, s);
                self.staged(m, staging, id, &hint, span)
            }
            StmtKind::Fail { error, cause } => {
                let id = self.alloc(format!("fail {error}"), span);
                let mut s = state("Fail");
                s.insert("Error".into(), Value::String(error.clone()));
                match cause {
                    Some(Expr::Path(p)) => {
                        s.insert("CausePath".into(), Value::String(path(p)));
                    }
                    Some(Expr::Literal(Value::String(c))) => {
                        s.insert("Cause".into(), Value::String(c.clone()));
                    }
                    Some(other) => {
                        // the checker allows strings and selectors only
                        self.internal(
                            &format!(
                                "a failure cause that is not a string: {}",
                                names::expr_text(other)
                            ),
                            span,
                        );
                    }
                    None => {}
                }
                m.push(id, s);
                id
            }
            StmtKind::Wait(w) => {
                let hint = match w {
                    WaitFor::Seconds(n) => format!("wait {n}s"),
                    WaitFor::Path(p) => format!("wait {}", p.text),
                };
                let id = self.alloc(hint, span);
                let mut s = state("Wait");
                match w {
                    WaitFor::Seconds(n) => s.insert("Seconds".into(), json!(n)),
                    WaitFor::Path(p) => s.insert("SecondsPath".into(), Value::String(path(p))),
                };
                Gen::link(&mut s, next);
                m.push(id, s);
                id
            }
        }
    }

    /// Where a call, parallel or map puts its result: wrapped as `{"value": …}` at
    /// `$.vars.<bind>`, or nowhere for `_ =`.
    fn result(&mut self, s: &mut Map<String, Value>, bind: Option<&str>, from: &str) {
        match bind {
            Some(x) => {
                s.insert("ResultSelector".into(), json!({ "value.$": from }));
                s.insert("ResultPath".into(), Value::String(var_path(x)));
            }
            None => {
                s.insert("ResultPath".into(), Value::Null);
            }
        }
    }

    fn handlers(
        &mut self,
        m: &mut Machine,
        s: &mut Map<String, Value>,
        h: &ir::Handlers,
        next: Option<Id>,
        span: Span,
    ) {
        if !h.retry.is_empty() {
            let retry: Vec<Value> = h
                .retry
                .iter()
                .map(|r| {
                    let mut o = Map::new();
                    o.insert("ErrorEquals".into(), json!(r.errors));
                    o.insert("IntervalSeconds".into(), json!(r.interval));
                    o.insert("MaxAttempts".into(), json!(r.max_attempts));
                    o.insert("BackoffRate".into(), json!(r.backoff));
                    if let Some(d) = r.max_delay {
                        o.insert("MaxDelaySeconds".into(), json!(d));
                    }
                    Value::Object(o)
                })
                .collect();
            s.insert("Retry".into(), Value::Array(retry));
        }
        if !h.catches.is_empty() {
            let mut catches = Vec::new();
            for c in &h.catches {
                let after = if c.falls_through { next } else { None };
                let target = self.target(m, &c.body, after, span);
                catches.push(json!({
                    "ErrorEquals": c.errors,
                    "ResultPath": var_path(&c.binding),
                    "Next": target,
                }));
            }
            s.insert("Catch".into(), Value::Array(catches));
        }
    }

    /// Adds the `prepare` states `staging` needs in front of `id`; returns the entry state.
    fn staged(&mut self, m: &mut Machine, staging: Staging, id: Id, hint: &str, span: Span) -> Id {
        let mut entry = id;
        for (level, entries) in staging.levels.into_iter().enumerate() {
            let label = if level == 0 {
                format!("{hint} (prepare)")
            } else {
                format!("{hint} (prepare {})", level + 1)
            };
            let pid = self.alloc(label, span);
            let mut s = state("Pass");
            s.insert("Parameters".into(), Value::Object(object(&entries)));
            s.insert("ResultPath".into(), Value::String(TMP.into()));
            s.insert("Next".into(), reference(entry));
            m.push(pid, s);
            entry = pid;
        }
        entry
    }

    fn check_payload(&mut self, t: &Tpl, staging: &Staging, span: Span) {
        let staged: usize = staging
            .levels
            .iter()
            .flatten()
            .map(|(_, t)| t.constant_bytes())
            .sum();
        let bytes = t.constant_bytes() + staged;
        self.diagnostics.extend(limits::payload_size(bytes, span));
    }
}

/// A `Choice` rule (without `Next`) for a condition.
fn choice_rule(c: &Cond) -> Map<String, Value> {
    let mut r = Map::new();
    match c {
        Cond::Compare {
            left,
            op,
            right,
            ty,
        } => {
            r.insert("Variable".into(), Value::String(path(left)));
            if *ty == Scalar::Null {
                // the checker allows eq/ne against a null literal only
                r.insert("IsNull".into(), Value::Bool(*op == CmpOp::Eq));
                return r;
            }
            let kind = match ty {
                Scalar::String => "String",
                Scalar::Number => "Numeric",
                Scalar::Bool => "Boolean",
                Scalar::Timestamp => "Timestamp",
                Scalar::Null => unreachable!(),
            };
            let relation = match op {
                CmpOp::Eq | CmpOp::Ne => "Equals",
                CmpOp::Lt => "LessThan",
                CmpOp::Le => "LessThanEquals",
                CmpOp::Gt => "GreaterThan",
                CmpOp::Ge => "GreaterThanEquals",
            };
            match right {
                Operand::Literal(v) => r.insert(format!("{kind}{relation}"), v.clone()),
                Operand::Path(p) => {
                    r.insert(format!("{kind}{relation}Path"), Value::String(path(p)))
                }
            };
            if *op == CmpOp::Ne {
                let mut not = Map::new();
                not.insert("Not".into(), Value::Object(r));
                return not;
            }
        }
        Cond::And(cs) | Cond::Or(cs) if cs.len() == 1 => return choice_rule(&cs[0]),
        Cond::And(cs) => {
            r.insert(
                "And".into(),
                Value::Array(cs.iter().map(|c| Value::Object(choice_rule(c))).collect()),
            );
        }
        Cond::Or(cs) => {
            r.insert(
                "Or".into(),
                Value::Array(cs.iter().map(|c| Value::Object(choice_rule(c))).collect()),
            );
        }
        Cond::Not(c) => {
            r.insert("Not".into(), Value::Object(choice_rule(c)));
        }
        Cond::Exists(p) => {
            r.insert("Variable".into(), Value::String(path(p)));
            r.insert("IsPresent".into(), Value::Bool(true));
        }
        Cond::Is(test, p) => {
            r.insert("Variable".into(), Value::String(path(p)));
            let op = match test {
                TypeTest::Null => "IsNull",
                TypeTest::String => "IsString",
                TypeTest::Number => "IsNumeric",
                TypeTest::Bool => "IsBoolean",
                TypeTest::Timestamp => "IsTimestamp",
            };
            r.insert(op.into(), Value::Bool(true));
        }
        Cond::Matches(p, pattern) => {
            r.insert("Variable".into(), Value::String(path(p)));
            r.insert("StringMatches".into(), Value::String(pattern.clone()));
        }
    }
    r
}

// ---- naming: ids → names ---------------------------------------------------------------

fn rename_ref(v: &mut Value, names: &[String]) {
    if let Value::String(s) = v {
        if let Some(id) = s.strip_prefix(REF).and_then(|n| n.parse::<usize>().ok()) {
            *s = names[id].clone();
        }
    }
}

fn rename_machine(m: &mut Map<String, Value>, names: &[String]) {
    if let Some(v) = m.get_mut("StartAt") {
        rename_ref(v, names);
    }
    if let Some(Value::Object(states)) = m.get_mut("States") {
        let old = std::mem::take(states);
        for (key, mut s) in old {
            let name = key
                .strip_prefix(REF)
                .and_then(|n| n.parse::<usize>().ok())
                .map_or(key.clone(), |id| names[id].clone());
            if let Value::Object(s) = &mut s {
                rename_state(s, names);
            }
            states.insert(name, s);
        }
    }
}

fn rename_state(s: &mut Map<String, Value>, names: &[String]) {
    for key in ["Next", "Default"] {
        if let Some(v) = s.get_mut(key) {
            rename_ref(v, names);
        }
    }
    for key in ["Choices", "Catch"] {
        if let Some(Value::Array(rules)) = s.get_mut(key) {
            for rule in rules {
                if let Some(v) = rule.get_mut("Next") {
                    rename_ref(v, names);
                }
            }
        }
    }
    if let Some(Value::Array(branches)) = s.get_mut("Branches") {
        for b in branches {
            if let Value::Object(b) = b {
                rename_machine(b, names);
            }
        }
    }
    if let Some(Value::Object(p)) = s.get_mut("ItemProcessor") {
        rename_machine(p, names);
    }
}
