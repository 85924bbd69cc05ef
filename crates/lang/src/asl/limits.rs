//! The Step Functions quotas a flow can break by construction, checked at compile time
//! (<https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html>):
//!
//! | quota | value | how it is handled |
//! | --- | --- | --- |
//! | state name length | 80 characters | names are cut and made unique (`names`) |
//! | state machine definition | 1,048,576 bytes (hard) | A001, measured on the canonical bytes with every unit placeholder counted as the longest Lambda ARN |
//! | input/output of a task or state | 262,144 bytes (UTF-8) | A002 when the constant part of one payload or returned value alone is larger |
//! | execution history (Standard) | 25,000 events | A003 when some path through the flow (no retries, `map` with no items) already needs more |
//! | execution time (Standard) | 1 year | A004 when the fixed `wait`s on one path add up to more |
//! | nesting of the document's JSON | 127 arrays and objects (not a published quota: what serde_json, and so flowctl's own deploy and engine, read back) | A006 |
//!
//! The rest of that page is about accounts, rates and data (open executions, API throttling,
//! map item counts): nothing a flow's text decides.

use crate::diagnostic::{Diagnostic, Span};
use crate::flow::ir::{self, StmtKind, WaitFor};

use flowctl_protocol::sfn::{
    MAX_DEFINITION_BYTES, MAX_EXECUTION_SECONDS, MAX_FUNCTION_ARN_BYTES, MAX_HISTORY_EVENTS,
    MAX_PAYLOAD_BYTES,
};
use flowctl_protocol::{json_depth, MAX_JSON_DEPTH};
use serde_json::Value;

/// A001: the whole document, once every placeholder is a real ARN.
pub(super) fn definition_size(
    pretty: &str,
    placeholders: &[String],
    flow_span: Span,
    flow: &str,
) -> Option<Diagnostic> {
    let grown: usize = placeholders
        .iter()
        .map(|p| MAX_FUNCTION_ARN_BYTES.saturating_sub(p.len()))
        .sum();
    let size = pretty.len() + grown;
    (size > MAX_DEFINITION_BYTES).then(|| {
        Diagnostic::error("A001", format!("flow `{flow}` compiles to a state machine larger than Step Functions accepts"), flow_span)
            .text(format!("about {size} bytes; the limit is {MAX_DEFINITION_BYTES} bytes (1 MiB)"))
            .hint("split the flow into smaller flows, or move large constant values into a function's input data")
    })
}

/// A006: a document nested deeper than JSON read back from text can be. The parser's limit
/// (F019) bounds the flow, but each `parallel` adds four levels of JSON and each `map` three
/// (`Branches`, a branch, its `States`…), so nesting them enough still gets here.
pub(super) fn depth(doc: &Value, flow_span: Span, flow: &str) -> Option<Diagnostic> {
    let depth = json_depth(doc, MAX_JSON_DEPTH);
    (depth > MAX_JSON_DEPTH).then(|| {
        Diagnostic::error("A006", format!("flow `{flow}` compiles to a state machine nested too deeply"), flow_span)
            .text(format!("its JSON nests more than {MAX_JSON_DEPTH} levels deep (each `parallel` adds four, each `map` three), and JSON readers stop there: flowctl could not read it back to deploy or run it"))
            .hint("nest fewer `parallel` and `map` blocks inside each other: move an inner one into a flow or a function of its own")
    })
}

/// A002: a payload whose constant part alone is over the state input/output limit.
pub(super) fn payload_size(constant_bytes: usize, span: Span) -> Option<Diagnostic> {
    (constant_bytes > MAX_PAYLOAD_BYTES).then(|| {
        Diagnostic::error("A002", "value larger than a Step Functions state may carry", span)
            .text(format!("its constant part alone is {constant_bytes} bytes; the limit is {MAX_PAYLOAD_BYTES} bytes (256 KiB)"))
            .hint("keep large data in storage (S3, DynamoDB) and pass a reference to it")
    })
}

/// The most a path through `block` costs (`ended`: paths that reach `return`/`fail`;
/// `through`: paths that continue after the block).
#[derive(Debug, Clone, Copy)]
struct Cost {
    ended: Option<u64>,
    through: Option<u64>,
}

impl Cost {
    const EMPTY: Cost = Cost {
        ended: None,
        through: Some(0),
    };

    fn then(self, next: Cost) -> Cost {
        Cost {
            ended: max(
                self.ended,
                self.through.and_then(|t| next.ended.map(|e| t + e)),
            ),
            through: self.through.and_then(|t| next.through.map(|n| t + n)),
        }
    }

    fn plus(self, n: u64) -> Cost {
        Cost {
            ended: self.ended.map(|e| e + n),
            through: self.through.map(|t| t + n),
        }
    }

    fn either(self, other: Cost) -> Cost {
        Cost {
            ended: max(self.ended, other.ended),
            through: max(self.through, other.through),
        }
    }

    fn longest(self) -> u64 {
        self.ended.unwrap_or(0).max(self.through.unwrap_or(0))
    }
}

fn max(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// What one statement costs in a measure (history events or waited seconds), not counting
/// its nested blocks.
trait Measure {
    fn call(&self) -> u64;
    fn failed_call(&self) -> u64;
    fn parallel(&self) -> u64;
    fn map(&self) -> u64;
    fn choice(&self) -> u64;
    fn end(&self) -> u64;
    fn wait(&self, w: &WaitFor) -> u64;
    /// A parallel's branches together, from each branch's longest path.
    fn branches(&self, each: &[u64]) -> u64;
}

/// Events in a Standard workflow's history, per state type.
struct Events;

impl Measure for Events {
    fn call(&self) -> u64 {
        5 // TaskStateEntered, TaskScheduled, TaskStarted, TaskSucceeded, TaskStateExited
    }
    fn failed_call(&self) -> u64 {
        4 // TaskStateEntered, TaskScheduled, TaskStarted, TaskFailed
    }
    fn parallel(&self) -> u64 {
        4 // ParallelStateEntered, ParallelStateStarted, ParallelStateSucceeded, ParallelStateExited
    }
    fn map(&self) -> u64 {
        4 // MapStateEntered, MapStateStarted, MapStateSucceeded, MapStateExited
    }
    fn choice(&self) -> u64 {
        2
    }
    fn end(&self) -> u64 {
        2 // PassStateEntered/Exited, or FailStateEntered + ExecutionFailed
    }
    fn wait(&self, _: &WaitFor) -> u64 {
        2
    }
    fn branches(&self, each: &[u64]) -> u64 {
        each.iter().sum() // every branch's events land in the one history
    }
}

/// Seconds spent in fixed waits.
struct Waited;

impl Measure for Waited {
    fn call(&self) -> u64 {
        0
    }
    fn failed_call(&self) -> u64 {
        0
    }
    fn parallel(&self) -> u64 {
        0
    }
    fn map(&self) -> u64 {
        0
    }
    fn choice(&self) -> u64 {
        0
    }
    fn end(&self) -> u64 {
        0
    }
    fn wait(&self, w: &WaitFor) -> u64 {
        match w {
            WaitFor::Seconds(s) => *s,
            WaitFor::Path(_) => 0,
        }
    }
    fn branches(&self, each: &[u64]) -> u64 {
        each.iter().copied().max().unwrap_or(0) // branches wait side by side
    }
}

fn block_cost(block: &ir::Block, m: &dyn Measure) -> Cost {
    block
        .stmts
        .iter()
        .fold(Cost::EMPTY, |acc, stmt| acc.then(stmt_cost(stmt, m)))
}

fn stmt_cost(stmt: &ir::Stmt, m: &dyn Measure) -> Cost {
    let ends = |n: u64| Cost {
        ended: Some(n),
        through: None,
    };
    let through = |n: u64| Cost {
        ended: None,
        through: Some(n),
    };
    let with_catches = |ok: Cost, failed: u64, handlers: &ir::Handlers| {
        handlers.catches.iter().fold(ok, |acc, catch| {
            let body = block_cost(&catch.body, m).plus(failed);
            // a catch that does not end continues after the statement, like success does
            acc.either(body)
        })
    };
    match &stmt.kind {
        StmtKind::Call { handlers, .. } => {
            with_catches(through(m.call()), m.failed_call(), handlers)
        }
        StmtKind::Parallel {
            branches, handlers, ..
        } => {
            let each: Vec<u64> = branches
                .iter()
                .map(|b| block_cost(b, m).longest())
                .collect();
            let all = m.branches(&each);
            with_catches(through(m.parallel() + all), m.parallel(), handlers)
        }
        // a map may have no items: only its own events are certain
        StmtKind::Map { handlers, .. } => with_catches(through(m.map()), m.map(), handlers),
        StmtKind::If { arms, otherwise } => {
            let mut cost = otherwise.as_ref().map_or(Cost::EMPTY, |b| block_cost(b, m));
            for (_, body) in arms {
                cost = cost.either(block_cost(body, m));
            }
            cost.plus(m.choice())
        }
        StmtKind::Return(_) | StmtKind::Fail { .. } => ends(m.end()),
        StmtKind::Wait(w) => through(m.wait(w)),
    }
}

/// A003 and A004 for the whole flow.
pub(super) fn paths(flow: &ir::Flow) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    // ExecutionStarted + the Start pass (2) + the end of the execution
    let events = 2 + 2 + block_cost(&flow.body, &Events).longest();
    if events > MAX_HISTORY_EVENTS {
        out.push(
            Diagnostic::error("A003", format!("flow `{}` can need more than {MAX_HISTORY_EVENTS} history events", flow.name), flow.span)
                .text(format!("one path through it records at least {events} events; a Standard workflow fails at {MAX_HISTORY_EVENTS}"))
                .hint("split the flow: call a smaller flow's work from a function, or move repeated steps into a `map`"),
        );
    }
    let waited = block_cost(&flow.body, &Waited).longest();
    if waited > MAX_EXECUTION_SECONDS {
        out.push(
            Diagnostic::error("A004", format!("flow `{}` can wait longer than an execution may run", flow.name), flow.span)
                .text(format!("its waits add up to {waited} seconds on one path; executions stop after one year ({MAX_EXECUTION_SECONDS} seconds)"))
                .hint("shorten the waits; schedule long delays outside the flow (e.g. an EventBridge schedule that starts a new execution)"),
        );
    }
    out
}
