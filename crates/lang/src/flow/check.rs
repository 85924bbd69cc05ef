//! Untyped AST → checked IR: resolves functions and variables, proves every path ends in
//! `return`/`fail`, decides the type of every comparison, and rejects what AWS would reject.
//! Given a registry (`KnownFunctions::registry`), it also infers every variable's type from
//! the functions' schemas and checks fields, call arguments, comparisons and `map`s against
//! them (`typing`), and retries and reads against the functions' properties (`effects`).
//!
//! Architecture Invariant: `check` returns every problem it finds (not just the first) and
//! produces IR only for a flow without errors (warnings do not count). It does no I/O.

use super::ast::{self, CmpOp, ExprKind, Modifier, PathSeg, PredKind, StmtKind, Target, TypeTest};
use super::ir::{self, Cond, Handlers, Operand, Origin, Scalar};
use crate::diagnostic::{Diagnostic, Severity, Span};
use crate::registry::Registry;
use crate::types::{Type, Types};
use flowctl_protocol::did_you_mean;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

mod effects;
mod typing;

use typing::{arg_expr, Read};

/// What the checker needs to know about the project around the flow.
#[derive(Debug, Clone, Default)]
pub struct KnownFunctions {
    /// The namespace of functions declared without one (the manifest's `namespace`, else its `project`).
    pub namespace: String,
    /// Fully qualified name (`ns.Name`) → the function's key in the manifest.
    pub functions: BTreeMap<String, String>,
    /// The name the manifest gives the flow; the `flow` header must match it.
    pub flow_name: Option<String>,
    /// The functions' types and properties; `None` checks untyped (as before any build).
    pub registry: Option<Arc<Registry>>,
}

impl KnownFunctions {
    /// From manifest keys: `Name` is in `namespace`, `ns.Name` names its own.
    pub fn new(
        namespace: &str,
        keys: impl IntoIterator<Item = impl Into<String>>,
    ) -> KnownFunctions {
        let functions = keys
            .into_iter()
            .map(Into::into)
            .map(|key: String| {
                let qualified = if key.contains('.') {
                    key.clone()
                } else {
                    format!("{namespace}.{key}")
                };
                (qualified, key)
            })
            .collect();
        KnownFunctions {
            namespace: namespace.to_string(),
            functions,
            flow_name: None,
            registry: None,
        }
    }
}

use flowctl_protocol::sfn::{errors, MAX_SECONDS};

pub fn check(file: &ast::FlowFile, known: &KnownFunctions) -> (Option<ir::Flow>, Vec<Diagnostic>) {
    let flow = &file.flow;
    let untyped = Types::default();
    let mut checker = Checker {
        known,
        types: known.registry.as_ref().map_or(&untyped, |r| &r.types),
        scopes: Vec::new(),
        maps: Vec::new(),
        narrowed: Vec::new(),
        present: Vec::new(),
        returns: Vec::new(),
        written: BTreeMap::new(),
        definitions: Vec::new(),
        pending: Vec::new(),
        diagnostics: Vec::new(),
    };
    collect_definitions(&flow.body, &mut checker.definitions);
    if let Some(expected) = &known.flow_name {
        if &flow.name.name != expected {
            checker.diagnostics.push(
                Diagnostic::error("C016", format!("flow `{}` is listed as `{expected}` in the manifest", flow.name.name), flow.name.span)
                    .text("the name here differs from the manifest's")
                    .hint(format!("rename the flow to `{expected}`, or rename its entry under `flows:` in flowctl.yaml")),
            );
        }
    }
    checker.scopes.push(Scope::default());
    let input = checker.input_type(flow.input_type.as_ref());
    checker.define(&flow.param, Origin::Param, input.clone());
    checker.returns.push(Vec::new());
    let body = checker.block(&flow.body);
    let output = Type::union(checker.returns.pop().unwrap_or_default());
    checker.require_end(&flow.body, "the flow");
    let mut diagnostics = checker.diagnostics;
    diagnostics.sort_by_key(|d| d.span.start);
    let ok = !diagnostics.iter().any(|d| d.severity == Severity::Error);
    let flow = ir::Flow {
        name: flow.name.name.clone(),
        param: flow.param.name.clone(),
        input,
        output,
        body,
        span: flow.span,
    };
    (ok.then_some(flow), diagnostics)
}

fn collect_definitions(block: &ast::Block, out: &mut Vec<(String, Span)>) {
    for stmt in &block.stmts {
        match &stmt.kind {
            StmtKind::Assign {
                target,
                action,
                modifiers,
            } => {
                if let Target::Var(ident) = target {
                    out.push((ident.name.clone(), ident.span));
                }
                match action {
                    ast::Action::Parallel { branches, .. } => {
                        branches.iter().for_each(|b| collect_definitions(b, out))
                    }
                    ast::Action::Map { item, body, .. } => {
                        out.push((item.name.clone(), item.span));
                        collect_definitions(body, out);
                    }
                    ast::Action::Call { .. } => {}
                }
                for modifier in &modifiers.items {
                    if let Modifier::Catch(catch) = modifier {
                        out.push((catch.binding.name.clone(), catch.binding.span));
                        collect_definitions(&catch.body, out);
                    }
                }
            }
            StmtKind::If { arms, otherwise } => {
                arms.iter()
                    .for_each(|arm| collect_definitions(&arm.body, out));
                if let Some(block) = otherwise {
                    collect_definitions(block, out);
                }
            }
            _ => {}
        }
    }
}

#[derive(Default)]
struct Scope {
    vars: BTreeMap<String, Var>,
}

#[derive(Clone)]
struct Var {
    origin: Origin,
    /// What the checker knows of its value (`Any` when untyped).
    ty: Type,
    span: Span,
    /// Set when a `catch` that falls through may have skipped the assignment.
    unset_by_catch: Option<Span>,
}

/// A `map` body being checked: outer variables it reads must be copied into it.
struct MapFrame {
    /// Index of the body's scope; variables from scopes below it are captures.
    first_scope: usize,
    captures: BTreeSet<String>,
}

struct Checker<'a> {
    known: &'a KnownFunctions,
    /// The registry's named types (empty when untyped).
    types: &'a Types,
    scopes: Vec<Scope>,
    maps: Vec<MapFrame>,
    /// Selector text → type proven by an enclosing `is_*` test.
    narrowed: Vec<(String, Scalar)>,
    /// Selector texts proven present by an enclosing `exists`/`is_*` test.
    present: Vec<String>,
    /// The types returned so far, one list per body being checked (flow, branch, map body).
    returns: Vec<Vec<Type>>,
    /// Store → the call that wrote it on the path being checked (for stale reads).
    written: BTreeMap<String, Span>,
    /// Every variable bound anywhere in the flow, to explain out-of-scope uses.
    definitions: Vec<(String, Span)>,
    /// Targets of the assignments being checked (not yet assigned).
    pending: Vec<(String, Span)>,
    diagnostics: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn lookup(&self, name: &str) -> Option<(usize, &Var)> {
        self.scopes
            .iter()
            .enumerate()
            .rev()
            .find_map(|(i, scope)| scope.vars.get(name).map(|var| (i, var)))
    }

    fn define(&mut self, ident: &ast::Ident, origin: Origin, ty: Type) {
        if let Some((_, previous)) = self.lookup(&ident.name) {
            let previous = previous.span;
            self.error(
                Diagnostic::error(
                    "C006",
                    format!("`{}` is assigned twice", ident.name),
                    ident.span,
                )
                .text("assigned again here")
                .label(previous, "first assigned here")
                .hint(format!(
                    "variables are assigned once; give this value another name, e.g. `{}2`",
                    ident.name
                )),
            );
            return;
        }
        if super::parser::KEYWORDS.contains(&ident.name.as_str()) {
            return; // the parser has reported it
        }
        let var = Var {
            origin,
            ty,
            span: ident.span,
            unset_by_catch: None,
        };
        self.scopes
            .last_mut()
            .expect("a scope is open")
            .vars
            .insert(ident.name.clone(), var);
    }

    fn scoped<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        self.scopes.push(Scope::default());
        let (narrowed, present) = (self.narrowed.len(), self.present.len());
        let out = f(self);
        self.narrowed.truncate(narrowed);
        self.present.truncate(present);
        self.scopes.pop();
        out
    }

    /// Records what an enclosing condition proves, for the scope being checked.
    fn guard(&mut self, guards: Vec<(String, Option<Scalar>)>) {
        for (text, scalar) in guards {
            if let Some(scalar) = scalar {
                self.narrowed.push((text.clone(), scalar));
            }
            self.present.push(text);
        }
    }

    // ---- blocks and termination -------------------------------------------------------

    fn block(&mut self, block: &ast::Block) -> ir::Block {
        let mut stmts = Vec::new();
        let mut ended_at: Option<Span> = None;
        for stmt in &block.stmts {
            if let Some(end) = ended_at {
                self.error(
                    Diagnostic::error("C009", "unreachable statement", stmt.span)
                        .text("this never runs")
                        .label(end, "every path ends here")
                        .hint("remove the statement, or move it before the return/fail"),
                );
                ended_at = None; // one report per block is enough
                let _ = ended_at;
                break;
            }
            if let Some(stmt) = self.stmt(stmt) {
                stmts.push(stmt);
            }
            if ends(stmt) {
                ended_at = Some(stmt.span);
            }
        }
        ir::Block { stmts }
    }

    /// `block` must end every path with `return` or `fail` (flow body, branch, map body).
    fn require_end(&mut self, block: &ast::Block, what: &str) {
        if !block_ends(block) {
            let close = Span::new(
                block.span.end.saturating_sub(1) as usize,
                block.span.end as usize,
            );
            let mut d = Diagnostic::error(
                "C008",
                format!("{what} can finish without `return` or `fail`"),
                close,
            )
            .text("a path reaches this `}`");
            if let Some(last) = block.stmts.last() {
                d = d.label(last.span, "the path continues after this statement");
            }
            self.error(
                d.hint("end every path with `return(value)` or `fail(\"Error\", \"cause\")`"),
            );
        }
    }

    // ---- statements ------------------------------------------------------------------

    fn stmt(&mut self, stmt: &ast::Stmt) -> Option<ir::Stmt> {
        let kind = match &stmt.kind {
            StmtKind::Assign {
                target,
                action,
                modifiers,
            } => self.assign(target, action, modifiers)?,
            StmtKind::If { arms, otherwise } => {
                let mut out = Vec::new();
                // Stores written after the `if`: those of every arm that carries on past it.
                let before = self.written.clone();
                let mut joined = BTreeMap::new();
                for arm in arms {
                    let cond = self.cond(&arm.cond);
                    let guards = guards_of(&arm.cond);
                    self.written = before.clone();
                    let body = self.scoped(|c| {
                        c.guard(guards);
                        c.block(&arm.body)
                    });
                    if !block_ends(&arm.body) {
                        effects::join(&mut joined, &self.written);
                    }
                    if let Some(cond) = cond {
                        out.push((cond, body));
                    }
                }
                self.written = before;
                let otherwise_ends = otherwise.as_ref().is_some_and(block_ends);
                let otherwise = otherwise.as_ref().map(|b| self.scoped(|c| c.block(b)));
                if otherwise_ends {
                    self.written.clear();
                }
                effects::join(&mut self.written, &joined);
                if out.len() != arms.len() {
                    return None;
                }
                ir::StmtKind::If {
                    arms: out,
                    otherwise,
                }
            }
            StmtKind::Return(expr) => {
                let (expr, ty) = self.typed_expr(expr)?;
                if let Some(returns) = self.returns.last_mut() {
                    returns.push(ty);
                }
                ir::StmtKind::Return(expr)
            }
            StmtKind::Fail { error, cause } => {
                self.error_name(error, "fail");
                if error.value.chars().count() > 256 {
                    self.error(
                        Diagnostic::error(
                            "C014",
                            "error name longer than 256 characters",
                            error.span,
                        )
                        .text("Step Functions rejects error names this long")
                        .hint("shorten the error name; put details in the cause"),
                    );
                }
                let cause = match cause {
                    None => None,
                    Some(expr) => match &expr.kind {
                        ExprKind::Str(_) | ExprKind::Select(_) => Some(self.expr(expr)?),
                        _ => {
                            self.error(
                                Diagnostic::error("C018", "the cause of a failure must be a string or a selector", expr.span)
                                    .text("not a string")
                                    .hint("write a message (`\"no rooms\"`) or point at one (`err.Cause`)"),
                            );
                            return None;
                        }
                    },
                };
                ir::StmtKind::Fail {
                    error: error.value.clone(),
                    cause,
                }
            }
            StmtKind::Wait(expr) => match &expr.kind {
                ExprKind::Num(n) => {
                    ir::StmtKind::Wait(ir::WaitFor::Seconds(
                        self.whole(n, 0, "wait seconds")? as u64
                    ))
                }
                ExprKind::Select(sel) => ir::StmtKind::Wait(ir::WaitFor::Path(self.path(sel)?)),
                _ => {
                    self.error(
                        Diagnostic::error(
                            "C018",
                            "`wait` takes a number of seconds or a selector",
                            expr.span,
                        )
                        .text("not a number of seconds")
                        .hint("write `wait(30)` or `wait(input.delay_seconds)`"),
                    );
                    return None;
                }
            },
        };
        Some(ir::Stmt {
            kind,
            span: stmt.span,
        })
    }

    fn assign(
        &mut self,
        target: &Target,
        action: &ast::Action,
        modifiers: &ast::Modifiers,
    ) -> Option<ir::StmtKind> {
        // The target is assigned only once the action is done: uses inside it are too early.
        if let Target::Var(ident) = target {
            self.pending.push((ident.name.clone(), ident.span));
        }
        let (action_ir, ty) = self.action(action);
        let is_call = matches!(action, ast::Action::Call { .. });
        match &action_ir {
            Some(Action::Call(function, _)) => self.retries(function, modifiers),
            Some(Action::Parallel(branches)) => self.whole_retries("parallel", branches, modifiers),
            Some(Action::Map { body, .. }) => {
                self.whole_retries("map", std::slice::from_ref(body), modifiers)
            }
            None => {}
        }
        let (handlers, catch_falls_through) = self.handlers(modifiers, is_call);
        if let Target::Var(_) = target {
            self.pending.pop();
        }
        let bind = match target {
            Target::Var(ident) => {
                self.define(ident, Origin::Result, ty);
                if let (Some(catch), Some(scope)) = (catch_falls_through, self.scopes.last_mut()) {
                    if let Some(var) = scope.vars.get_mut(&ident.name) {
                        var.unset_by_catch = Some(catch);
                    }
                }
                Some(ident.name.clone())
            }
            Target::Discard(_) => None,
        };
        let handlers = handlers?;
        Some(match action_ir? {
            Action::Call(function, arg) => ir::StmtKind::Call {
                bind,
                function,
                arg,
                handlers,
            },
            Action::Parallel(branches) => ir::StmtKind::Parallel {
                bind,
                branches,
                handlers,
            },
            Action::Map {
                item,
                items,
                concurrency,
                body,
                captures,
            } => ir::StmtKind::Map {
                bind,
                item,
                items,
                concurrency,
                body,
                captures,
                handlers,
            },
        })
    }

    /// The action checked, and the type of what it produces (`Any` when unknown).
    fn action(&mut self, action: &ast::Action) -> (Option<Action>, Type) {
        match action {
            ast::Action::Call {
                function,
                arg,
                span,
            } => {
                let resolved = self.function(function);
                let arg = match arg {
                    Some(arg) => self.typed_expr(arg).map(|(ir, ty)| (Some(ir), ty)),
                    None => Some((None, Type::empty_object())),
                };
                let Some(key) = resolved else {
                    return (None, Type::Any);
                };
                if let Some((_, ty)) = &arg {
                    self.argument(&key, ty, arg_expr(action), *span);
                }
                self.reads_and_writes(&key, function.span);
                let output = self.output_of(&key);
                match arg {
                    Some((arg, _)) => (Some(Action::Call(key, arg)), output),
                    None => (None, output),
                }
            }
            ast::Action::Parallel { branches, span } => {
                if branches.len() < 2 {
                    self.error(
                        Diagnostic::error("C018", "a parallel needs at least two branches", *span)
                            .text(format!("{} branch here", branches.len()))
                            .hint("add another `branch { … }`, or call the function directly"),
                    );
                }
                let before = self.written.clone();
                let mut joined = before.clone();
                let mut results = Vec::new();
                let branches: Vec<_> = branches
                    .iter()
                    .map(|b| {
                        self.written = before.clone();
                        self.returns.push(Vec::new());
                        let block = self.scoped(|c| c.block(b));
                        results.push(Type::union(self.returns.pop().unwrap_or_default()));
                        effects::join(&mut joined, &self.written);
                        self.require_end(b, "this branch");
                        block
                    })
                    .collect();
                self.written = joined;
                (Some(Action::Parallel(branches)), Type::Tuple(results))
            }
            ast::Action::Map {
                item,
                items,
                concurrency,
                body,
                ..
            } => {
                let items_sel = items;
                let (items, item_ty) = match self.path_typed(items_sel, Read::Value) {
                    Some((path, ty)) => {
                        let item_ty = self.items_type(items_sel, &ty);
                        (Some(path), item_ty)
                    }
                    None => (None, Type::Any),
                };
                let concurrency = match concurrency {
                    Some(n) => self.whole(n, 0, "map concurrency").map(Some),
                    None => Some(None),
                };
                self.maps.push(MapFrame {
                    first_scope: self.scopes.len(),
                    captures: BTreeSet::new(),
                });
                self.returns.push(Vec::new());
                let block = self.scoped(|c| {
                    c.define(item, Origin::Item, item_ty);
                    c.block(body)
                });
                let result = Type::List(Box::new(Type::union(
                    self.returns.pop().unwrap_or_default(),
                )));
                let frame = self.maps.pop().expect("pushed above");
                self.require_end(body, "the map body");
                let action = (|| {
                    Some(Action::Map {
                        item: item.name.clone(),
                        items: items?,
                        concurrency: concurrency?,
                        body: block,
                        captures: frame.captures.into_iter().collect(),
                    })
                })();
                (action, result)
            }
        }
    }

    fn function(&mut self, name: &ast::QualName) -> Option<String> {
        let qualified = match &name.namespace {
            Some(ns) => format!("{}.{}", ns.name, name.name.name),
            None => format!("{}.{}", self.known.namespace, name.name.name),
        };
        if let Some(key) = self.known.functions.get(&qualified) {
            return Some(key.clone());
        }
        let written = name.text();
        let candidates: Vec<&str> = self.known.functions.values().map(String::as_str).collect();
        let hint = match did_you_mean(&written, candidates.iter().copied()) {
            Some(near) => format!("did you mean `{near}`?"),
            None if candidates.is_empty() => {
                format!("add `{written}` under `functions:` in flowctl.yaml")
            }
            None => format!(
                "add `{written}` under `functions:` in flowctl.yaml; known functions: {}",
                candidates
                    .iter()
                    .take(8)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        self.error(
            Diagnostic::error("C001", format!("unknown function `{written}`"), name.span)
                .text("no function with this name in the manifest")
                .hint(hint),
        );
        None
    }

    /// Returns the handlers and, when a catch can fall through, that catch's span.
    fn handlers(
        &mut self,
        modifiers: &ast::Modifiers,
        is_call: bool,
    ) -> (Option<Handlers>, Option<Span>) {
        let mut handlers = Handlers::default();
        let mut ok = true;
        let mut falls_through = None;
        let mut catch_all: Option<Span> = None;
        for modifier in &modifiers.items {
            match modifier {
                Modifier::Retry(retry) => {
                    let errors = self.error_list(retry.on.as_deref(), retry.span);
                    let max = retry
                        .max
                        .as_ref()
                        .map_or(Some(3), |n| self.whole(n, 0, "retry max"));
                    let interval = retry
                        .interval
                        .as_ref()
                        .map_or(Some(1), |n| self.whole(n, 1, "retry interval"));
                    let max_delay = match &retry.max_delay {
                        Some(n) => self.whole(n, 1, "retry max_delay").map(Some),
                        None => Some(None),
                    };
                    let backoff = match &retry.backoff {
                        None => Some(2.0),
                        Some(n) => {
                            match n.value.as_f64() {
                                Some(b) if (1.0..=MAX_SECONDS as f64).contains(&b) => Some(b),
                                _ => {
                                    self.error(
                                    Diagnostic::error("C015", "retry backoff must be at least 1.0", n.span)
                                        .text(format!("{} is out of range", n.text))
                                        .hint("use 1.0 for a fixed interval, 2.0 to double it each time"),
                                );
                                    None
                                }
                            }
                        }
                    };
                    match (errors, max, interval, backoff, max_delay) {
                        (
                            Some(errors),
                            Some(max_attempts),
                            Some(interval),
                            Some(backoff),
                            Some(max_delay),
                        ) => handlers.retry.push(ir::Retry {
                            errors,
                            max_attempts,
                            interval,
                            backoff,
                            max_delay,
                        }),
                        _ => ok = false,
                    }
                }
                Modifier::Catch(catch) => {
                    if let Some(all) = catch_all {
                        self.error(
                            Diagnostic::error("C017", "this catch can never run", catch.span)
                                .text("an earlier catch already handles every error")
                                .label(all, "catches every error")
                                .hint("move the catch without `on:` last"),
                        );
                        ok = false;
                    }
                    let errors = self.error_list(catch.on.as_deref(), catch.span);
                    if errors
                        .as_ref()
                        .is_some_and(|e| e.iter().any(|n| n == errors::ALL))
                    {
                        catch_all = Some(catch.span);
                    }
                    let before = self.written.clone();
                    let body = self.scoped(|c| {
                        c.define(&catch.binding, Origin::Error, Type::caught_error());
                        c.block(&catch.body)
                    });
                    let ends = block_ends(&catch.body);
                    // A catch that ends the path writes nothing for what follows.
                    if ends {
                        self.written = before;
                    } else {
                        let caught = std::mem::replace(&mut self.written, before);
                        effects::join(&mut self.written, &caught);
                    }
                    if !ends {
                        falls_through = Some(catch.span);
                    }
                    match errors {
                        Some(errors) => handlers.catches.push(ir::Catch {
                            errors,
                            binding: catch.binding.name.clone(),
                            body,
                            falls_through: !ends,
                        }),
                        None => ok = false,
                    }
                }
                Modifier::Timeout { seconds, span } => {
                    if !is_call {
                        self.error(
                            Diagnostic::error(
                                "C018",
                                "`timeout` applies to function calls only",
                                *span,
                            )
                            .text("on a parallel or map")
                            .hint("put `timeout(…)` on the calls inside"),
                        );
                        ok = false;
                    } else if handlers.timeout.is_some() {
                        self.error(
                            Diagnostic::error("C018", "two timeouts on one call", *span)
                                .text("second timeout")
                                .hint("keep one `timeout(…)`"),
                        );
                        ok = false;
                    } else {
                        match self.whole(seconds, 1, "timeout seconds") {
                            Some(t) => handlers.timeout = Some(t),
                            None => ok = false,
                        }
                    }
                }
            }
        }
        (ok.then_some(handlers), falls_through)
    }

    /// `on: [...]` of retry/catch; absent means every error.
    fn error_list(&mut self, on: Option<&[ast::StrLit]>, span: Span) -> Option<Vec<String>> {
        let Some(on) = on else {
            return Some(vec![errors::ALL.to_string()]);
        };
        if on.is_empty() {
            self.error(
                Diagnostic::error("C014", "empty list of error names", span)
                    .text("matches no error")
                    .hint("name at least one error, or leave out `on:` to match every error"),
            );
            return None;
        }
        let mut ok = true;
        for name in on {
            ok &= self.error_name(name, "match");
            if name.value == errors::ALL && on.len() > 1 {
                self.error(
                    Diagnostic::error("C017", "`States.ALL` must be alone in its list", name.span)
                        .text("States.ALL already matches every error")
                        .hint("leave out `on:` to match every error, or remove States.ALL"),
                );
                ok = false;
            }
        }
        ok.then(|| on.iter().map(|s| s.value.clone()).collect())
    }

    /// Error names: `States.*` only from the defined list (and never raised by `fail`).
    fn error_name(&mut self, name: &ast::StrLit, usage: &str) -> bool {
        let value = name.value.as_str();
        if value.is_empty() {
            self.error(
                Diagnostic::error("C014", "empty error name", name.span)
                    .text("Step Functions needs a name here")
                    .hint("name the error, e.g. \"PaymentFailed\""),
            );
            return false;
        }
        if !value.starts_with(errors::PREFIX) {
            return true;
        }
        if usage == "fail" {
            self.error(
                Diagnostic::error(
                    "C014",
                    format!("`{value}` is reserved by Step Functions"),
                    name.span,
                )
                .text("flows cannot raise States.* errors")
                .hint(format!(
                    "name your own error, e.g. \"{}\"",
                    value.trim_start_matches(errors::PREFIX)
                )),
            );
            return false;
        }
        if errors::KNOWN.contains(&value) {
            return true;
        }
        let hint = match did_you_mean(value, errors::KNOWN.iter().copied()) {
            Some(near) => format!("did you mean \"{near}\"?"),
            None => format!("Step Functions defines {}", errors::KNOWN.join(", ")),
        };
        self.error(
            Diagnostic::error("C014", format!("unknown error name `{value}`"), name.span)
                .text("Step Functions never raises this error")
                .hint(hint),
        );
        false
    }

    /// A whole number in `min..=MAX_SECONDS`.
    fn whole(&mut self, n: &ast::NumLit, min: u64, what: &str) -> Option<u32> {
        match n.value.as_u64() {
            Some(v) if v >= min && v <= MAX_SECONDS => Some(v as u32),
            _ => {
                self.error(
                    Diagnostic::error(
                        "C015",
                        format!("{what} must be a whole number from {min} to {MAX_SECONDS}"),
                        n.span,
                    )
                    .text(format!("{} is not allowed here", n.text))
                    .hint(format!("write a whole number, at least {min}")),
                );
                None
            }
        }
    }

    // ---- expressions -----------------------------------------------------------------

    fn expr(&mut self, expr: &ast::Expr) -> Option<ir::Expr> {
        self.typed_expr(expr).map(|(e, _)| e)
    }

    /// The expression checked, and its type (`Any` parts where nothing is known).
    fn typed_expr(&mut self, expr: &ast::Expr) -> Option<(ir::Expr, Type)> {
        let literal = |v: Value| {
            let ty = Type::of_literal(&v);
            (ir::Expr::Literal(v), ty)
        };
        Some(match &expr.kind {
            ExprKind::Select(sel) => {
                let (path, ty) = self.path_typed(sel, Read::Value)?;
                (ir::Expr::Path(path), ty)
            }
            ExprKind::Str(s) => literal(Value::String(s.clone())),
            ExprKind::Num(n) => literal(Value::Number(n.value.clone())),
            ExprKind::Bool(b) => literal(Value::Bool(*b)),
            ExprKind::Null => literal(Value::Null),
            ExprKind::Object(entries) => {
                let mut fields = BTreeMap::new();
                let mut out = Vec::new();
                let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
                let mut ok = true;
                for (key, value) in entries {
                    if key.value.ends_with(".$") {
                        self.error(
                            Diagnostic::error(
                                "C014",
                                format!("key `{}` ends with `.$`", key.value),
                                key.span,
                            )
                            .text("Step Functions reads keys ending in `.$` as paths")
                            .hint("rename the key without the trailing `.$`"),
                        );
                        ok = false;
                    }
                    if let Some(first) = seen.insert(&key.value, key.span) {
                        self.error(
                            Diagnostic::error(
                                "C014",
                                format!("key `{}` appears twice", key.value),
                                key.span,
                            )
                            .text("duplicate key")
                            .label(first, "first here")
                            .hint("keep one entry per key"),
                        );
                        ok = false;
                    }
                    match self.typed_expr(value) {
                        Some((v, ty)) => {
                            fields.insert(key.value.clone(), ty);
                            out.push((key.value.clone(), v));
                        }
                        None => ok = false,
                    }
                }
                let ty = Type::closed_object(fields);
                (ok.then_some(ir::Expr::Object(out))?, ty)
            }
            ExprKind::List(items) => {
                let items: Vec<_> = items.iter().map(|e| self.typed_expr(e)).collect();
                let items = items.into_iter().collect::<Option<Vec<_>>>()?;
                let ty = Type::List(Box::new(Type::union(items.iter().map(|(_, t)| t.clone()))));
                (
                    ir::Expr::List(items.into_iter().map(|(e, _)| e).collect()),
                    ty,
                )
            }
        })
    }

    fn path(&mut self, sel: &ast::Selector) -> Option<ir::Path> {
        self.path_typed(sel, Read::Value).map(|(p, _)| p)
    }

    /// The selector resolved, and the type of the value it reads. `Read::Test` is for
    /// `exists`/`is_*`, which may read what is not there.
    fn path_typed(&mut self, sel: &ast::Selector, read: Read) -> Option<(ir::Path, Type)> {
        for seg in &sel.path {
            if let PathSeg::Key(key) = seg {
                if key.value.contains('\'') {
                    self.error(
                        Diagnostic::error("C014", "a key with `'` cannot be read", key.span)
                            .text("Step Functions paths quote keys with `'`")
                            .hint("rename the key in the data, or pass the whole object and read it inside the function"),
                    );
                    return None;
                }
            }
        }
        let name = &sel.root.name;
        let Some((scope_index, var)) = self.lookup(name) else {
            self.unresolved(&sel.root);
            return None;
        };
        let var = var.clone();
        if let Some(catch) = var.unset_by_catch {
            self.error(
                Diagnostic::error("C007", format!("`{name}` is not set when the catch handled an error"), sel.root.span)
                    .text("may be unset here")
                    .label(catch, "this catch can continue after the failed call")
                    .label(var.span, "assigned only when the call succeeds")
                    .hint("end the catch block with `return(…)` or `fail(…)`, or read this variable only on the success path"),
            );
            return None;
        }
        for frame in &mut self.maps {
            if scope_index < frame.first_scope {
                frame.captures.insert(name.clone());
            }
        }
        let segs = sel
            .path
            .iter()
            .map(|seg| match seg {
                PathSeg::Field(f) => ir::Seg::Field(f.name.clone()),
                PathSeg::Key(k) => ir::Seg::Field(k.value.clone()),
                PathSeg::Index { index, .. } => ir::Seg::Index(*index),
            })
            .collect();
        let ty = self.read(sel, &var.ty, read);
        Some((
            ir::Path {
                var: name.clone(),
                origin: var.origin,
                segs,
                text: sel.text(),
            },
            ty,
        ))
    }

    fn unresolved(&mut self, ident: &ast::Ident) {
        let name = &ident.name;
        if let Some((_, pending)) = self.pending.iter().rev().find(|(n, _)| n == name) {
            let pending = *pending;
            self.error(
                Diagnostic::error(
                    "C004",
                    format!("`{name}` is used before it is assigned"),
                    ident.span,
                )
                .text("not assigned yet")
                .label(pending, "assigned only when this statement has succeeded")
                .hint("use the value after the statement, or pass what you need from before it"),
            );
            return;
        }
        let later = self
            .definitions
            .iter()
            .find(|(n, s)| n == name && s.start > ident.span.start)
            .map(|d| d.1);
        let earlier = self
            .definitions
            .iter()
            .find(|(n, s)| n == name && s.start < ident.span.start)
            .map(|d| d.1);
        let diagnostic = if let Some(earlier) = earlier {
            Diagnostic::error("C005", format!("`{name}` is not visible here"), ident.span)
                .text("used outside the block that defined it")
                .label(earlier, "defined inside this block only")
                .hint(format!("assign `{name}` before the block so both places can see it, or use it inside the block"))
        } else if let Some(later) = later {
            Diagnostic::error(
                "C004",
                format!("`{name}` is used before it is assigned"),
                ident.span,
            )
            .text("not assigned yet")
            .label(later, "assigned here, later")
            .hint("move the assignment above this use")
        } else {
            let visible: Vec<String> = self
                .scopes
                .iter()
                .flat_map(|s| s.vars.keys().cloned())
                .collect();
            let hint = match did_you_mean(name, visible.iter().map(String::as_str)) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("variables here: {}", visible.join(", ")),
            };
            Diagnostic::error("C003", format!("unknown variable `{name}`"), ident.span)
                .text("not defined")
                .hint(hint)
        };
        self.error(diagnostic);
    }

    // ---- conditions ------------------------------------------------------------------

    fn cond(&mut self, pred: &ast::Pred) -> Option<Cond> {
        Some(match &pred.kind {
            PredKind::Compare { op, lhs, rhs } => self.compare(*op, lhs, rhs, pred.span)?,
            PredKind::And(preds) => {
                let (narrowed, present) = (self.narrowed.len(), self.present.len());
                let mut out = Vec::new();
                let mut ok = true;
                for p in preds {
                    match self.cond(p) {
                        Some(c) => out.push(c),
                        None => ok = false,
                    }
                    // `and(is_number(x), lt(x, y))`: later operands may rely on earlier tests.
                    self.guard(guards_of(p));
                }
                self.narrowed.truncate(narrowed);
                self.present.truncate(present);
                ok.then_some(Cond::And(out))?
            }
            PredKind::Or(preds) => {
                let out: Vec<_> = preds.iter().map(|p| self.cond(p)).collect();
                Cond::Or(out.into_iter().collect::<Option<Vec<_>>>()?)
            }
            PredKind::Not(p) => Cond::Not(Box::new(self.cond(p)?)),
            PredKind::Exists(sel) => Cond::Exists(self.path_typed(sel, Read::Test)?.0),
            PredKind::Is { test, sel } => Cond::Is(*test, self.path_typed(sel, Read::Test)?.0),
            PredKind::Matches { sel, pattern } => {
                Cond::Matches(self.path(sel)?, pattern.value.clone())
            }
        })
    }

    fn compare(&mut self, op: CmpOp, lhs: &ast::Expr, rhs: &ast::Expr, span: Span) -> Option<Cond> {
        let (lt, rt) = (self.type_of(lhs), self.type_of(rhs));
        let (left, right) = (self.expr(lhs), self.expr(rhs));
        let (left, right) = (left?, right?);
        let kw = op.keyword();
        for (ty, e) in [(&lt, lhs), (&rt, rhs)] {
            if ty
                .as_ref()
                .is_some_and(|t| !t.is_empty() && t.iter().all(|x| *x == Ty::Composite))
            {
                self.error(
                    Diagnostic::error("C012", "objects and lists cannot be compared", e.span)
                        .text("Step Functions compares strings, numbers, booleans, timestamps and null only")
                        .hint("compare a field inside it, e.g. `eq(x.id, \"a\")`"),
                );
                return None;
            }
        }
        let scalars = |t: Option<Vec<Ty>>| {
            t.map(|v| {
                v.into_iter()
                    .filter_map(|x| match x {
                        Ty::Scalar(s) => Some(s),
                        Ty::Composite => None,
                    })
                    .collect::<Vec<_>>()
            })
        };
        let ty = match decide(scalars(lt), scalars(rt)) {
            Decision::Decided(t) => t,
            Decision::Unknown => {
                self.error(
                    Diagnostic::error("C010", "cannot tell what type this comparison is in", span)
                        .text("neither side has a known type")
                        .hint(format!(
                            "compare against a literal (`{kw}(x, \"text\")`), or prove a type first: `and(is_number({}), {kw}(…))`",
                            expr_text(lhs)
                        )),
                );
                return None;
            }
            Decision::Ambiguous(options) => {
                self.error(
                    Diagnostic::error("C010", "cannot tell what type this comparison is in", span)
                        .text(format!(
                            "the values compared can be {}",
                            scalar_names(&options)
                        ))
                        .hint(format!(
                            "prove a type first: `and(is_number({}), {kw}(…))`",
                            expr_text(lhs)
                        )),
                );
                return None;
            }
            Decision::Disagree(a, b) => {
                let (a, b) = (scalar_names(&a), scalar_names(&b));
                self.error(
                    Diagnostic::error("C011", format!("compares a {a} with a {b}"), span)
                        .text("the two sides have different types")
                        .label(lhs.span, a)
                        .label(rhs.span, b)
                        .hint(
                            "compare values of one type; quote numbers only if the data holds strings",
                        ),
                );
                return None;
            }
        };
        if ty == Scalar::String && !self.enum_literal(lhs, rhs) {
            return None;
        }
        if matches!(ty, Scalar::Bool | Scalar::Null) && !matches!(op, CmpOp::Eq | CmpOp::Ne) {
            self.error(
                Diagnostic::error(
                    "C012",
                    format!("`{kw}` cannot order {}", scalar_name(ty)),
                    span,
                )
                .text(format!("{} has no order", scalar_name(ty)))
                .hint("use eq or ne"),
            );
            return None;
        }
        let (left, op, right) = match (left, right) {
            (ir::Expr::Path(l), ir::Expr::Path(r)) => {
                if ty == Scalar::Null {
                    self.error(
                        Diagnostic::error("C012", "two values cannot be compared as null", span)
                            .text("Step Functions has no null comparison between two paths")
                            .hint("test each side with is_null(…)"),
                    );
                    return None;
                }
                (l, op, Operand::Path(r))
            }
            (ir::Expr::Path(l), ir::Expr::Literal(v)) => (l, op, Operand::Literal(v)),
            (ir::Expr::Literal(v), ir::Expr::Path(r)) => (r, op.flipped(), Operand::Literal(v)),
            _ => {
                self.error(
                    Diagnostic::error("C013", "compares two constants", span)
                        .text("the answer never changes")
                        .hint("compare a value from the flow's data, e.g. `eq(input.kind, \"a\")`"),
                );
                return None;
            }
        };
        Some(Cond::Compare {
            left,
            op,
            right,
            ty,
        })
    }
}

enum Action {
    Call(String, Option<ir::Expr>),
    Parallel(Vec<ir::Block>),
    Map {
        item: String,
        items: ir::Path,
        concurrency: Option<u32>,
        body: ir::Block,
        captures: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Scalar(Scalar),
    Composite,
}

/// What a comparison is made in, given what each side can be (`None`: unknown).
enum Decision {
    Decided(Scalar),
    Unknown,
    Ambiguous(Vec<Scalar>),
    Disagree(Vec<Scalar>, Vec<Scalar>),
}

fn decide(left: Option<Vec<Scalar>>, right: Option<Vec<Scalar>>) -> Decision {
    let options = match (left, right) {
        (None, None) => return Decision::Unknown,
        (Some(only), None) | (None, Some(only)) => only,
        (Some(a), Some(b)) => {
            let mut common: Vec<Scalar> = a.iter().copied().filter(|s| b.contains(s)).collect();
            if common.is_empty() {
                return Decision::Disagree(a, b);
            }
            // Two strings compare as timestamps only when both sides prefer it (both are
            // `date-time`, or one is a timestamp literal), whichever side is written first.
            let prefers_timestamp = |side: &[Scalar]| {
                side.iter().find(|s| **s != Scalar::Null) == Some(&Scalar::Timestamp)
            };
            if !(prefers_timestamp(&a) && prefers_timestamp(&b)) {
                if let Some(i) = common.iter().position(|s| *s == Scalar::String) {
                    common.swap(0, i);
                }
            }
            common
        }
    };
    // A value that may be null compares as its other type (a null simply does not match).
    let mut options: Vec<Scalar> = if options.len() > 1 {
        options.into_iter().filter(|s| *s != Scalar::Null).collect()
    } else {
        options
    };
    // A string can be compared as a timestamp: the first of the two is the preferred one.
    if options.len() == 2
        && options.contains(&Scalar::String)
        && options.contains(&Scalar::Timestamp)
    {
        options.truncate(1);
    }
    match options.as_slice() {
        [one] => Decision::Decided(*one),
        [] => Decision::Unknown,
        _ => Decision::Ambiguous(options),
    }
}

fn scalar_names(scalars: &[Scalar]) -> String {
    let mut names: Vec<&str> = scalars.iter().map(|s| scalar_name(*s)).collect();
    names.dedup();
    names.join(" or ")
}

fn scalar_name(s: Scalar) -> &'static str {
    match s {
        Scalar::String => "string",
        Scalar::Number => "number",
        Scalar::Bool => "boolean",
        Scalar::Null => "null",
        Scalar::Timestamp => "timestamp",
    }
}

fn expr_text(e: &ast::Expr) -> String {
    match &e.kind {
        ExprKind::Select(sel) => sel.text(),
        _ => "x".into(),
    }
}

/// What holds when `pred` holds: `is_number(x)` proves x is there and a number, `exists(x)`
/// that it is there (also inside `and`).
fn guards_of(pred: &ast::Pred) -> Vec<(String, Option<Scalar>)> {
    match &pred.kind {
        PredKind::Exists(sel) => vec![(sel.text(), None)],
        PredKind::Is { test, sel } => {
            let scalar = match test {
                TypeTest::Null => Scalar::Null,
                TypeTest::String => Scalar::String,
                TypeTest::Number => Scalar::Number,
                TypeTest::Bool => Scalar::Bool,
                TypeTest::Timestamp => Scalar::Timestamp,
            };
            vec![(sel.text(), Some(scalar))]
        }
        PredKind::And(preds) => preds.iter().flat_map(guards_of).collect(),
        _ => Vec::new(),
    }
}

/// An RFC 3339 timestamp as Step Functions accepts it: `2024-01-31T12:00:00Z`, with optional
/// fraction and offset. A string literal of this shape makes a comparison a timestamp one.
pub fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
    {
        return false;
    }
    if b[10] != b'T'
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match &b[i..] {
        [b'Z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()),
        _ => false,
    }
}

/// Whether this statement ends every path through it.
fn ends(stmt: &ast::Stmt) -> bool {
    match &stmt.kind {
        StmtKind::Return(_) | StmtKind::Fail { .. } => true,
        StmtKind::If { arms, otherwise } => {
            otherwise.as_ref().is_some_and(block_ends)
                && arms.iter().all(|arm| block_ends(&arm.body))
        }
        _ => false,
    }
}

fn block_ends(block: &ast::Block) -> bool {
    block.stmts.iter().any(ends)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod typed_tests;
