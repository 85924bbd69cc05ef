//! Fusion: adjacent calls into one shared unit compile into one `Task` that runs them
//! in-process, through the shim's chain envelope (`lambda-shim/README.md`, "Fused chain").
//!
//! A run of statements fuses when each one is a call that
//! - names a function in `CompileOptions::fusable` (the plan's idempotent functions),
//! - goes to the same unit as the others, and that unit serves two or more functions (a
//!   single-function unit takes bare payloads and never reads envelopes),
//! - carries no `retry`, `catch` or `timeout` of its own: Step Functions counts attempts and
//!   scopes a catch per state, and one state cannot keep a per-call budget or scope exactly,
//!
//! and the run has at least two calls. The Task's `Parameters` pass the variables the calls
//! read *whole* (a whole variable is always there); every path into them is followed inside
//! the chain, step by step, so a path the data lacks is met when its call's turn comes, as
//! it would be unfused: the chain stops there, its answer lacks `complete`, and the Task's
//! `ResultSelector` (which selects `complete`) fails it with `States.Runtime`, after the
//! earlier calls ran. A failing call's error, unchanged, is the Task's error, so an enclosing
//! `catch` or `retry` (of a `parallel`, a `map`, the execution) sees the same error; a retry
//! that re-runs the chain re-runs calls that already succeeded, which is safe only because
//! they are idempotent. ARCHITECTURE.md ("Fusion") gives the whole argument.
//!
//! Where results go: a chain binding one variable stores it as a call does
//! (`$.vars.<x>` = `{"value": …}`, plus `complete`); any other chain stores its results
//! together under a fresh variable (`$.vars.<group>.<x>.value`) — a state writes one
//! `ResultPath` — and the rest of the block reads them there (its paths are rewritten).

use super::storage::path;
use super::CompileOptions;
use crate::flow::ir::{self, Expr, Origin, PathSite, Seg, StmtKind};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

// The chain envelope's keys, from the shim that reads them: one definition of the format.
pub(super) use flowctl_protocol::envelope::{
    BIND, CHAIN, COMPLETE, FUNCTION, LITERAL, PAYLOAD, RESULTS, VARS, VAR_REF,
};

/// A block, with its fusable runs of calls grouped.
pub(super) enum Item {
    Stmt(ir::Stmt),
    Chain(Chain),
}

/// Calls that run as one Task.
pub(super) struct Chain {
    /// The calls, in order (each a `StmtKind::Call` without handlers).
    pub calls: Vec<ir::Stmt>,
    pub unit: String,
    /// Where the results go when the chain binds several variables.
    pub group: Option<String>,
}

impl Chain {
    /// The variables the chain binds, in order.
    pub fn binds(&self) -> Vec<&str> {
        self.calls
            .iter()
            .filter_map(|s| match &s.kind {
                StmtKind::Call { bind: Some(b), .. } => Some(b.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The Task's `Payload`: the chain envelope's constant steps, and its `vars` read by
    /// paths (`"input.id.$": "$.vars.input.id"`).
    pub fn payload(&self) -> (Value, Map<String, Value>) {
        let mut steps = Vec::new();
        let mut vars = Map::new();
        let mut bound: BTreeSet<&str> = BTreeSet::new();
        for call in &self.calls {
            let StmtKind::Call {
                bind,
                function,
                arg,
                ..
            } = &call.kind
            else {
                continue;
            };
            let payload = match arg {
                Some(e) => template(e, &bound, &mut vars),
                None => json!({}),
            };
            let mut step = Map::new();
            step.insert(FUNCTION.into(), Value::String(function.clone()));
            step.insert(PAYLOAD.into(), payload);
            if let Some(b) = bind {
                step.insert(BIND.into(), Value::String(b.clone()));
                bound.insert(b);
            }
            steps.push(Value::Object(step));
        }
        (Value::Array(steps), vars)
    }
}

/// A call argument as a chain step's template: a path is a `$var` reference (the variable,
/// then its fields and indexes), followed inside the chain; a variable from outside the chain
/// is passed whole in `vars` by the Task's `Parameters`.
fn template(e: &Expr, bound: &BTreeSet<&str>, vars: &mut Map<String, Value>) -> Value {
    if let Some(v) = e.as_constant() {
        return if has_reserved_key(&v) {
            json!({ LITERAL: v })
        } else {
            v
        };
    }
    match e {
        Expr::Literal(v) => v.clone(),
        Expr::Path(p) => {
            if !bound.contains(p.var.as_str()) {
                let whole = ir::Path {
                    segs: Vec::new(),
                    ..p.clone()
                };
                vars.insert(format!("{}.$", p.var), Value::String(path(&whole)));
            }
            if p.segs.is_empty() {
                json!({ VAR_REF: p.var })
            } else {
                let mut steps = vec![Value::String(p.var.clone())];
                steps.extend(p.segs.iter().map(|seg| match seg {
                    Seg::Field(f) => Value::String(f.clone()),
                    Seg::Index(i) => json!(i),
                }));
                json!({ VAR_REF: steps })
            }
        }
        Expr::Object(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, e)| (k.clone(), template(e, bound, vars)))
                .collect(),
        ),
        Expr::List(items) => Value::Array(items.iter().map(|e| template(e, bound, vars)).collect()),
    }
}

/// Whether a literal holds an object key the chain envelope reads as a template marker.
fn has_reserved_key(v: &Value) -> bool {
    match v {
        Value::Object(o) => o
            .iter()
            .any(|(k, v)| k == VAR_REF || k == LITERAL || has_reserved_key(v)),
        Value::Array(a) => a.iter().any(has_reserved_key),
        _ => false,
    }
}

/// Whether an argument could not be written as a template: a computed object with a key the
/// envelope reserves (a literal one is wrapped in `$literal` instead).
fn dynamic_reserved_key(e: &Expr) -> bool {
    match e {
        Expr::Literal(_) | Expr::Path(_) => false,
        Expr::Object(entries) => {
            let reserved = entries.iter().any(|(k, _)| k == VAR_REF || k == LITERAL);
            (reserved && e.as_constant().is_none())
                || entries.iter().any(|(_, e)| dynamic_reserved_key(e))
        }
        Expr::List(items) => items.iter().any(dynamic_reserved_key),
    }
}

/// The unit of a call that may join a chain, or `None`.
fn fusable_unit<'o>(
    stmt: &ir::Stmt,
    opts: &'o CompileOptions,
    functions_per_unit: &BTreeMap<&str, usize>,
) -> Option<&'o str> {
    let StmtKind::Call {
        function,
        arg,
        handlers,
        ..
    } = &stmt.kind
    else {
        return None;
    };
    if !opts.fusable.contains(function) || *handlers != ir::Handlers::default() {
        return None;
    }
    if arg.as_ref().is_some_and(dynamic_reserved_key) {
        return None;
    }
    let unit = opts.units.get(function)?;
    (functions_per_unit.get(unit.as_str()).copied().unwrap_or(0) >= 2).then_some(unit.as_str())
}

/// Groups the fusable runs of `block`; `None` when there is none (the block compiles as is).
/// `taken` holds every variable name of the flow; group names are added to it.
pub(super) fn group(
    block: &ir::Block,
    opts: &CompileOptions,
    functions_per_unit: &BTreeMap<&str, usize>,
    taken: &mut BTreeSet<String>,
) -> Option<Vec<Item>> {
    if opts.fusable.is_empty() {
        return None;
    }
    // Runs as index ranges.
    let mut runs: Vec<(usize, usize, String)> = Vec::new();
    let mut i = 0;
    while i < block.stmts.len() {
        let Some(unit) = fusable_unit(&block.stmts[i], opts, functions_per_unit) else {
            i += 1;
            continue;
        };
        let mut j = i;
        while j < block.stmts.len()
            && fusable_unit(&block.stmts[j], opts, functions_per_unit) == Some(unit)
        {
            j += 1;
        }
        if j - i >= 2 {
            runs.push((i, j, unit.to_string()));
            i = j;
        } else {
            i += 1;
        }
    }
    if runs.is_empty() {
        return None;
    }

    let mut items = Vec::new();
    let mut rest: Vec<ir::Stmt> = block.stmts.clone();
    let mut offset = 0;
    for (start, end, unit) in runs {
        let (start, end) = (start - offset, end - offset);
        items.extend(rest.drain(..start).map(Item::Stmt));
        let calls: Vec<ir::Stmt> = rest.drain(..end - start).collect();
        offset += end;
        let mut chain = Chain {
            calls,
            unit,
            group: None,
        };
        let binds: Vec<String> = chain.binds().into_iter().map(str::to_string).collect();
        // One bound variable is stored where a call would store it; otherwise the chain
        // gets a group (with no binding, it holds only `complete`).
        if binds.len() != 1 {
            let name = fresh_name(taken);
            let mut rest_block = ir::Block { stmts: rest };
            rename_into_group(&mut rest_block, &binds, &name);
            rest = rest_block.stmts;
            chain.group = Some(name);
        }
        items.push(Item::Chain(chain));
    }
    items.extend(rest.into_iter().map(Item::Stmt));
    Some(items)
}

/// `fused1`, `fused2`, … — the first not used by the flow.
fn fresh_name(taken: &mut BTreeSet<String>) -> String {
    let mut n = 1;
    loop {
        let name = format!("fused{n}");
        if taken.insert(name.clone()) {
            return name;
        }
        n += 1;
    }
}

/// Makes every path to one of `binds` read it in the group: `x.a` (at `$.vars.x.value.a`)
/// becomes `$.vars.<group>.x.value.a`; a `map` that captured `x` captures the group.
fn rename_into_group(block: &mut ir::Block, binds: &[String], group: &str) {
    block.visit_paths_mut(&mut |site| match site {
        PathSite::Path(p) => {
            if binds.contains(&p.var) {
                let mut segs = vec![Seg::Field(p.var.clone()), Seg::Field("value".into())];
                segs.append(&mut p.segs);
                p.segs = segs;
                p.var = group.to_string();
                // Stored as is: `path` adds nothing after the group's name.
                p.origin = Origin::Param;
            }
        }
        PathSite::Captures(captures) => {
            if captures.iter().any(|c| binds.contains(c)) {
                captures.retain(|c| !binds.contains(c));
                captures.push(group.to_string());
                captures.sort();
                captures.dedup();
            }
        }
    });
}

/// Every variable name a flow uses (parameter, results, map items, catch bindings).
pub(super) fn variable_names(flow: &ir::Flow) -> BTreeSet<String> {
    let mut out = BTreeSet::from([flow.param.clone()]);
    flow.body.visit_stmts(&mut |s| {
        let handlers = match &s.kind {
            StmtKind::Call { bind, handlers, .. } | StmtKind::Parallel { bind, handlers, .. } => {
                out.extend(bind.clone());
                handlers
            }
            StmtKind::Map {
                bind,
                item,
                handlers,
                ..
            } => {
                out.extend(bind.clone());
                out.insert(item.clone());
                handlers
            }
            _ => return,
        };
        out.extend(handlers.catches.iter().map(|c| c.binding.clone()));
    });
    out
}

/// The functions of every fused Task of a compiled document, chain by chain, in the order a
/// reader meets them (from `StartAt`, following `Next`, Choice rules, `Default` and `Catch`;
/// parallel branches and map bodies where their state is): what `flowctl plan` lists.
pub fn fused_chains(doc: &Value) -> Vec<Vec<String>> {
    fn machine(m: &Value, out: &mut Vec<Vec<String>>) {
        let Some(states) = m.get("States").and_then(Value::as_object) else {
            return;
        };
        let mut order: Vec<&str> = Vec::new();
        let mut todo: Vec<&str> = m
            .get("StartAt")
            .and_then(Value::as_str)
            .into_iter()
            .collect();
        while let Some(name) = todo.pop() {
            if order.contains(&name) || !states.contains_key(name) {
                continue;
            }
            order.push(name);
            let state = &states[name];
            let mut next: Vec<&str> = Vec::new();
            next.extend(state.get("Next").and_then(Value::as_str));
            for list in ["Choices", "Catch"] {
                for rule in state
                    .get(list)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    next.extend(rule.get("Next").and_then(Value::as_str));
                }
            }
            next.extend(state.get("Default").and_then(Value::as_str));
            // Depth first, in the order the document lists the ways on.
            todo.extend(next.into_iter().rev());
        }
        // States no path reaches still count (a hand-written document may have some).
        order.extend(
            states
                .keys()
                .map(String::as_str)
                .filter(|k| !order.contains(k))
                .collect::<Vec<_>>(),
        );
        for name in order {
            let state = &states[name];
            if let Some(chain) = state
                .pointer(&format!("/Parameters/Payload/{CHAIN}"))
                .and_then(Value::as_array)
            {
                out.push(
                    chain
                        .iter()
                        .filter_map(|s| s.get(FUNCTION).and_then(Value::as_str))
                        .map(str::to_string)
                        .collect(),
                );
            }
            if let Some(branches) = state.get("Branches").and_then(Value::as_array) {
                branches.iter().for_each(|b| machine(b, out));
            }
            for key in ["ItemProcessor", "Iterator"] {
                if let Some(p) = state.get(key) {
                    machine(p, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    machine(doc, &mut out);
    out
}
