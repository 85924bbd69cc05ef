//! The checked IR of a flow: what codegen consumes. Names are resolved (calls name their
//! manifest function, paths know where their variable comes from), scopes are proven, and
//! every comparison has a decided operand type. Built only by `check`.

use super::ast::{CmpOp, TypeTest};
use crate::diagnostic::Span;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub name: String,
    /// The parameter's name (`input` in `flow Booking(input)`).
    pub param: String,
    /// The input's type (`Any` unless the flow declares one and the registry knows it).
    pub input: crate::types::Type,
    /// What the flow returns: the union of its `return`s' types.
    pub output: crate::types::Type,
    pub body: Block,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StmtKind {
    /// `bind = function(arg)`; `bind` is `None` for `_ =`.
    Call {
        bind: Option<String>,
        /// The function's key in the manifest (`ReserveAvailability`, `payments.Charge`).
        function: String,
        /// `None` for `F()`: the function receives `{}`.
        arg: Option<Expr>,
        handlers: Handlers,
    },
    /// `bind = parallel { branch { … } … }`: a list with each branch's return value.
    Parallel {
        bind: Option<String>,
        branches: Vec<Block>,
        handlers: Handlers,
    },
    /// `bind = map item in items (concurrency: n) { … }`: a list with each item's return value.
    Map {
        bind: Option<String>,
        item: String,
        items: Path,
        /// 0 (or absent) means as many as Step Functions allows.
        concurrency: Option<u32>,
        body: Block,
        /// Outer variables the body reads, sorted: they must be copied into each iteration.
        captures: Vec<String>,
        handlers: Handlers,
    },
    If {
        arms: Vec<(Cond, Block)>,
        otherwise: Option<Block>,
    },
    Return(Expr),
    Fail {
        error: String,
        /// A string literal or a path (`err.Cause`).
        cause: Option<Expr>,
    },
    Wait(WaitFor),
}

/// Retry, catch and timeout attached to a call, parallel or map.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Handlers {
    pub retry: Vec<Retry>,
    pub catches: Vec<Catch>,
    /// Seconds; only on calls.
    pub timeout: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Retry {
    /// Error names; `["States.ALL"]` when `on:` is absent.
    pub errors: Vec<String>,
    /// Retries after the first attempt (ASL `MaxAttempts`); default 3.
    pub max_attempts: u32,
    /// Seconds before the first retry; default 1.
    pub interval: u32,
    /// Multiplier per retry; default 2.0.
    pub backoff: f64,
    pub max_delay: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Catch {
    /// Error names; `["States.ALL"]` when `on:` is absent.
    pub errors: Vec<String>,
    /// The variable holding `{"Error": …, "Cause": …}` inside `body`.
    pub binding: String,
    pub body: Block,
    /// Whether `body` can finish without `return`/`fail`, continuing after the statement.
    pub falls_through: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum WaitFor {
    Seconds(u64),
    Path(Path),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Literal(Value),
    Path(Path),
    Object(Vec<(String, Expr)>),
    List(Vec<Expr>),
}

impl Expr {
    /// The JSON value when the expression has no paths in it.
    pub fn as_constant(&self) -> Option<Value> {
        match self {
            Expr::Literal(v) => Some(v.clone()),
            Expr::Path(_) => None,
            Expr::Object(entries) => entries
                .iter()
                .map(|(k, e)| e.as_constant().map(|v| (k.clone(), v)))
                .collect::<Option<serde_json::Map<_, _>>>()
                .map(Value::Object),
            Expr::List(items) => items
                .iter()
                .map(Expr::as_constant)
                .collect::<Option<Vec<_>>>()
                .map(Value::Array),
        }
    }
}

/// A variable and a path into it: `reservation.status`.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub var: String,
    pub origin: Origin,
    pub segs: Vec<Seg>,
    /// As written, for state names and messages.
    pub text: String,
}

/// Where a variable's value comes from; codegen stores each kind differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The flow's parameter (the execution input).
    Param,
    /// Bound by a call, parallel or map.
    Result,
    /// Bound by `catch(err)`: `{"Error": …, "Cause": …}`.
    Error,
    /// The item variable of the innermost enclosing `map`.
    Item,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Seg {
    Field(String),
    Index(u64),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// `left op right`, with literals always on the right (the checker swaps them there).
    Compare {
        left: Path,
        op: CmpOp,
        right: Operand,
        ty: Scalar,
    },
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    Exists(Path),
    Is(TypeTest, Path),
    Matches(Path, String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Literal(Value),
    Path(Path),
}

/// The type a comparison is made in; it picks the ASL operator (`StringEquals`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar {
    String,
    Number,
    Bool,
    Null,
    Timestamp,
}

impl Block {
    /// Calls `f` on every statement of the block, at any depth (parallel branches, map
    /// bodies, `if` arms, catch bodies), each before those inside it.
    pub fn visit_stmts(&self, f: &mut dyn FnMut(&Stmt)) {
        for stmt in &self.stmts {
            f(stmt);
            let handlers = match &stmt.kind {
                StmtKind::Call { handlers, .. } => Some(handlers),
                StmtKind::Parallel {
                    branches, handlers, ..
                } => {
                    branches.iter().for_each(|b| b.visit_stmts(f));
                    Some(handlers)
                }
                StmtKind::Map { body, handlers, .. } => {
                    body.visit_stmts(f);
                    Some(handlers)
                }
                StmtKind::If { arms, otherwise } => {
                    arms.iter().for_each(|(_, b)| b.visit_stmts(f));
                    if let Some(b) = otherwise {
                        b.visit_stmts(f);
                    }
                    None
                }
                StmtKind::Return(_) | StmtKind::Fail { .. } | StmtKind::Wait(_) => None,
            };
            for catch in handlers.into_iter().flat_map(|h| &h.catches) {
                catch.body.visit_stmts(f);
            }
        }
    }

    /// Calls `f` on every path in the block, at any depth (arguments, conditions, map items,
    /// returns, fail causes, waits, catch bodies), and on every map capture list, so a pass
    /// can rename where a variable lives.
    pub fn visit_paths_mut(&mut self, f: &mut dyn FnMut(PathSite<'_>)) {
        for stmt in &mut self.stmts {
            stmt.visit_paths_mut(f);
        }
    }
}

/// What [`Block::visit_paths_mut`] hands out.
pub enum PathSite<'a> {
    Path(&'a mut Path),
    /// The outer variables a `map` body reads (sorted, deduplicated by the visitor's user).
    Captures(&'a mut Vec<String>),
}

impl Stmt {
    pub fn visit_paths_mut(&mut self, f: &mut dyn FnMut(PathSite<'_>)) {
        fn handlers(h: &mut Handlers, f: &mut dyn FnMut(PathSite<'_>)) {
            for c in &mut h.catches {
                c.body.visit_paths_mut(f);
            }
        }
        match &mut self.kind {
            StmtKind::Call {
                arg, handlers: h, ..
            } => {
                if let Some(e) = arg {
                    e.visit_paths_mut(f);
                }
                handlers(h, f);
            }
            StmtKind::Parallel {
                branches,
                handlers: h,
                ..
            } => {
                for b in branches {
                    b.visit_paths_mut(f);
                }
                handlers(h, f);
            }
            StmtKind::Map {
                items,
                body,
                captures,
                handlers: h,
                ..
            } => {
                f(PathSite::Path(items));
                f(PathSite::Captures(captures));
                body.visit_paths_mut(f);
                handlers(h, f);
            }
            StmtKind::If { arms, otherwise } => {
                for (cond, block) in arms {
                    cond.visit_paths_mut(f);
                    block.visit_paths_mut(f);
                }
                if let Some(b) = otherwise {
                    b.visit_paths_mut(f);
                }
            }
            StmtKind::Return(e) => e.visit_paths_mut(f),
            StmtKind::Fail { cause, .. } => {
                if let Some(e) = cause {
                    e.visit_paths_mut(f);
                }
            }
            StmtKind::Wait(WaitFor::Path(p)) => f(PathSite::Path(p)),
            StmtKind::Wait(WaitFor::Seconds(_)) => {}
        }
    }
}

impl Expr {
    pub fn visit_paths_mut(&mut self, f: &mut dyn FnMut(PathSite<'_>)) {
        match self {
            Expr::Literal(_) => {}
            Expr::Path(p) => f(PathSite::Path(p)),
            Expr::Object(entries) => entries.iter_mut().for_each(|(_, e)| e.visit_paths_mut(f)),
            Expr::List(items) => items.iter_mut().for_each(|e| e.visit_paths_mut(f)),
        }
    }

    /// Every path in the expression.
    pub fn paths(&self) -> Vec<&Path> {
        fn go<'a>(e: &'a Expr, out: &mut Vec<&'a Path>) {
            match e {
                Expr::Literal(_) => {}
                Expr::Path(p) => out.push(p),
                Expr::Object(entries) => entries.iter().for_each(|(_, e)| go(e, out)),
                Expr::List(items) => items.iter().for_each(|e| go(e, out)),
            }
        }
        let mut out = Vec::new();
        go(self, &mut out);
        out
    }
}

impl Cond {
    pub fn visit_paths_mut(&mut self, f: &mut dyn FnMut(PathSite<'_>)) {
        match self {
            Cond::Compare { left, right, .. } => {
                f(PathSite::Path(left));
                if let Operand::Path(p) = right {
                    f(PathSite::Path(p));
                }
            }
            Cond::And(cs) | Cond::Or(cs) => cs.iter_mut().for_each(|c| c.visit_paths_mut(f)),
            Cond::Not(c) => c.visit_paths_mut(f),
            Cond::Exists(p) | Cond::Is(_, p) | Cond::Matches(p, _) => f(PathSite::Path(p)),
        }
    }
}
