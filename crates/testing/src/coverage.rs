//! Path coverage: the branch items of a state machine document (the ways out of each `Choice`,
//! each `Catch`, each `Retry` rule running out, each `Parallel` branch, each `Map` body) and
//! how often the recorded executions took each one, read from their histories.
//!
//! What counts, per item:
//! - a `Choice`'s way to a state: the `…StateEntered` event that follows the Choice's
//!   `ChoiceStateExited` in the same line of work (`previous_event_id`) names the target.
//!   Rules (and `Default`) that lead to the same state are one item: the history cannot tell
//!   them apart, and neither can the reader of the flow;
//! - a `Choice` without `Default` where no rule matched: the Choice was entered, never exited,
//!   and a failure event of the execution carries `States.NoChoiceMatched` naming it;
//! - a `Catch`: the state's last attempt failed (its last `…Failed`/`…TimedOut` event) and it
//!   exited to a state; the catcher is the first whose `ErrorEquals` matches the error, as the
//!   engine chooses (a failure without an event, e.g. `States.ResultPathMatchFailure`, is
//!   credited to the catcher whose `Next` was entered);
//! - a `Retry` rule with `MaxAttempts > 0` running out: in one entry of the state, the rule
//!   (the first that matches each error, as the engine chooses) saw `MaxAttempts + 1` failures,
//!   the last of which ended the state (caught or not);
//! - a `Parallel` branch: its `StartAt` state entered right after `ParallelStateStarted`;
//! - a `Map` body: each iteration (`MapIterationStarted`; for a Distributed Map, whose
//!   iterations stay out of the history, the item count of `MapRunStarted`).
//!
//! States are named by their name, which Step Functions requires to be unique in a document;
//! when a document repeats a name in different scopes (the engine accepts it), such states are
//! named by their path (`States.P.Branches[0].States.A`) and each event is attributed to the
//! scope it runs in by following `previous_event_id` into branches and iterations.

use flowctl_engine::{EventKind, Execution, HistoryEvent};
use flowctl_protocol::MAX_JSON_DEPTH;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

/// One branch item of a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Branch {
    /// The state the item belongs to: its name, or its path when the name is not unique.
    pub state: String,
    pub kind: BranchKind,
    /// The state the item leads to (a Choice's way, a catcher's `Next`, a branch's or a
    /// body's `StartAt`); `None` for a retry rule running out and a Choice matching nothing.
    pub target: Option<String>,
    /// For people: `"if x" → "y = F"`, `"p = Pay" fails → "release"`,
    /// `"p = Pay" retries exhausted (PaymentGatewayTimeout, 3 retries)`.
    pub label: String,
}

/// What kind of item a [`Branch`] is. Indexes are 0-based, as in the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BranchKind {
    /// A Choice's way to `target`: the rules that lead there and whether `Default` does.
    Choice { rules: Vec<usize>, default: bool },
    /// A Choice without `Default` where no rule matches: the state fails with
    /// `States.NoChoiceMatched`.
    NoChoiceMatched,
    /// Catcher `index` of the state.
    Catch { index: usize, errors: Vec<String> },
    /// Retry rule `index` of the state ran out of attempts.
    RetriesExhausted {
        index: usize,
        errors: Vec<String>,
        max_attempts: u64,
    },
    /// Branch `index` of a Parallel state.
    ParallelBranch { index: usize },
    /// A Map state's body (at least one iteration).
    MapBody,
}

/// How often the executions took each branch item, in document order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coverage {
    pub branches: Vec<(Branch, u32)>,
}

impl Coverage {
    /// Items taken at least once.
    pub fn covered(&self) -> usize {
        self.branches.iter().filter(|(_, n)| *n > 0).count()
    }

    pub fn total(&self) -> usize {
        self.branches.len()
    }

    /// Items no execution took, in document order.
    pub fn missed(&self) -> Vec<&Branch> {
        self.branches
            .iter()
            .filter(|(_, n)| *n == 0)
            .map(|(b, _)| b)
            .collect()
    }
}

/// The branch items of `doc`, in document order (states in the order they are written; a
/// state's Choice ways, then no-match, catchers, retry rules, Parallel branches and Map body;
/// then the states nested in it). A document that is not a state machine has none.
pub fn branches(doc: &Value) -> Vec<Branch> {
    Model::new(doc).branches
}

/// How often `executions` (of `doc`, with their histories recorded) took each branch item.
pub fn measure(doc: &Value, executions: &[&Execution]) -> Coverage {
    let model = Model::new(doc);
    let mut counts = vec![0u32; model.branches.len()];
    for execution in executions {
        model.count(&execution.history, &mut counts);
    }
    Coverage {
        branches: model.branches.into_iter().zip(counts).collect(),
    }
}

/// `ErrorEquals`, matched as the engine matches it: `States.ALL` matches everything but the
/// terminal errors, `States.TaskFailed` everything but those and `States.Timeout`.
#[derive(Debug, Default)]
struct Errors {
    all: bool,
    task_failed: bool,
    names: Vec<String>,
}

impl Errors {
    fn of(rule: &Value) -> Errors {
        let mut errors = Errors::default();
        for name in rule["ErrorEquals"].as_array().into_iter().flatten() {
            match name.as_str() {
                Some("States.ALL") => errors.all = true,
                Some("States.TaskFailed") => errors.task_failed = true,
                Some(name) => errors.names.push(name.to_string()),
                None => {}
            }
        }
        errors
    }

    fn matches(&self, error: &str) -> bool {
        if flowctl_protocol::sfn::errors::is_terminal(error) {
            return false;
        }
        self.all
            || (self.task_failed && error != "States.Timeout")
            || self.names.iter().any(|n| n == error)
    }
}

fn error_names(rule: &Value) -> Vec<String> {
    rule["ErrorEquals"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str().map(String::from))
        .collect()
}

/// A state that has branch items, with what reading its events needs.
#[derive(Debug, Default)]
struct StateItems {
    /// The normal `Next` (`None` for `End`).
    next: Option<String>,
    has_default: bool,
    /// Choice: target state → item.
    ways: Vec<(String, usize)>,
    no_match: Option<usize>,
    /// Every catcher, in order: its errors, its `Next`, its item.
    catches: Vec<(Errors, String, usize)>,
    /// Every retrier, in order (first match wins): its errors, `MaxAttempts`, its item (none
    /// for `MaxAttempts: 0`).
    retries: Vec<(Errors, u64, Option<usize>)>,
    /// Parallel: each branch's `StartAt`, its scope and item.
    branches: Vec<(String, usize, usize)>,
    /// Map: the body's scope and item.
    body: Option<(usize, usize)>,
}

/// One set of states (the document, a Parallel branch, a Map body).
#[derive(Debug, Default)]
struct Scope {
    parent: Option<usize>,
    /// State name → its items (every state of the scope is listed).
    states: HashMap<String, StateItems>,
}

struct Model {
    branches: Vec<Branch>,
    scopes: Vec<Scope>,
}

impl Model {
    fn new(doc: &Value) -> Model {
        let mut names: HashMap<String, usize> = HashMap::new();
        for name in crate::state_names(doc) {
            *names.entry(name).or_default() += 1;
        }
        let mut model = Model {
            branches: Vec::new(),
            scopes: Vec::new(),
        };
        model.scope(doc, None, "", 0, &names);
        if model.scopes.is_empty() {
            model.scopes.push(Scope::default());
        }
        model
    }

    /// Adds the scope of `machine` (a document, branch or body) and its items; returns its
    /// index. `path` is the scope's path prefix (`""`, `States.P.Branches[0].`).
    fn scope(
        &mut self,
        machine: &Value,
        parent: Option<usize>,
        path: &str,
        depth: usize,
        names: &HashMap<String, usize>,
    ) -> usize {
        let index = self.scopes.len();
        self.scopes.push(Scope {
            parent,
            states: HashMap::new(),
        });
        let Some(states) = machine.get("States").and_then(Value::as_object) else {
            return index;
        };
        if depth > MAX_JSON_DEPTH {
            return index;
        }
        for (name, state) in states {
            let key = if names.get(name).copied().unwrap_or(0) > 1 {
                format!("{path}States.{name}")
            } else {
                name.clone()
            };
            let items = self.state(&key, name, state, index, path, depth, names);
            self.scopes[index].states.insert(name.clone(), items);
        }
        index
    }

    #[allow(clippy::too_many_arguments)]
    fn state(
        &mut self,
        key: &str,
        name: &str,
        state: &Value,
        scope: usize,
        path: &str,
        depth: usize,
        names: &HashMap<String, usize>,
    ) -> StateItems {
        let mut items = StateItems {
            next: state["Next"].as_str().map(String::from),
            has_default: state.get("Default").is_some(),
            ..StateItems::default()
        };
        let quoted = format!("{key:?}");
        let ty = state["Type"].as_str().unwrap_or_default();
        if ty == "Choice" {
            let mut ways: Vec<(String, Vec<usize>, bool)> = Vec::new();
            let rules = state["Choices"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let targets = rules
                .iter()
                .enumerate()
                .map(|(i, r)| (r["Next"].as_str(), Some(i)))
                .chain(std::iter::once((state["Default"].as_str(), None)));
            for (target, rule) in targets {
                let Some(target) = target else { continue };
                let at = match ways.iter().position(|(t, _, _)| t == target) {
                    Some(at) => at,
                    None => {
                        ways.push((target.to_string(), Vec::new(), false));
                        ways.len() - 1
                    }
                };
                match rule {
                    Some(i) => ways[at].1.push(i),
                    None => ways[at].2 = true,
                }
            }
            for (target, rules, default) in ways {
                let how = match (rules.is_empty(), default) {
                    (true, _) => " (default)",
                    (false, true) => " (a rule or default)",
                    (false, false) => "",
                };
                let label = format!("{quoted} → {target:?}{how}");
                let item = self.push(
                    key,
                    BranchKind::Choice { rules, default },
                    Some(&target),
                    label,
                );
                items.ways.push((target, item));
            }
            if !items.has_default {
                let label = format!("{quoted}: no rule matches (States.NoChoiceMatched)");
                items.no_match = Some(self.push(key, BranchKind::NoChoiceMatched, None, label));
            }
        }
        let catchers = state["Catch"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        for (index, catcher) in catchers.iter().enumerate() {
            let next = catcher["Next"].as_str().unwrap_or_default().to_string();
            let errors = error_names(catcher);
            let on = if errors.iter().any(|e| e == "States.ALL") {
                String::new()
            } else {
                format!(" with {}", errors.join(", "))
            };
            let label = format!("{quoted} fails{on} → {next:?}");
            let kind = BranchKind::Catch { index, errors };
            let item = self.push(key, kind, Some(&next), label);
            items.catches.push((Errors::of(catcher), next, item));
        }
        let retriers = state["Retry"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        for (index, retrier) in retriers.iter().enumerate() {
            // ASL's default is 3 attempts.
            let max_attempts = retrier.get("MaxAttempts").map_or(Some(3), Value::as_u64);
            let max_attempts = max_attempts.unwrap_or(0);
            let item = (max_attempts > 0).then(|| {
                let errors = error_names(retrier);
                let plural = if max_attempts == 1 {
                    "retry"
                } else {
                    "retries"
                };
                let label = format!(
                    "{quoted} retries exhausted ({}, {max_attempts} {plural})",
                    errors.join(", ")
                );
                let kind = BranchKind::RetriesExhausted {
                    index,
                    errors,
                    max_attempts,
                };
                self.push(key, kind, None, label)
            });
            items
                .retries
                .push((Errors::of(retrier), max_attempts, item));
        }
        let prefix = format!("{path}States.{name}.");
        if ty == "Parallel" {
            let branches = state["Branches"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            for (index, branch) in branches.iter().enumerate() {
                let start = branch["StartAt"].as_str().unwrap_or_default().to_string();
                let label = format!("{quoted} branch {} (from {start:?}) runs", index + 1);
                let item = self.push(
                    key,
                    BranchKind::ParallelBranch { index },
                    Some(&start),
                    label,
                );
                let inner = format!("{prefix}Branches[{index}].");
                let child = self.scope(branch, Some(scope), &inner, depth + 1, names);
                items.branches.push((start, child, item));
            }
        }
        if ty == "Map" {
            let (field, body) = match state.get("ItemProcessor") {
                Some(body) => ("ItemProcessor", body),
                None => ("Iterator", &state["Iterator"]),
            };
            let start = body["StartAt"].as_str().unwrap_or_default().to_string();
            let label = format!("{quoted} runs its body (from {start:?})");
            let item = self.push(key, BranchKind::MapBody, Some(&start), label);
            let inner = format!("{prefix}{field}.");
            let child = self.scope(body, Some(scope), &inner, depth + 1, names);
            items.body = Some((child, item));
        }
        items
    }

    fn push(
        &mut self,
        state: &str,
        kind: BranchKind,
        target: Option<&str>,
        label: String,
    ) -> usize {
        self.branches.push(Branch {
            state: state.to_string(),
            kind,
            target: target.map(String::from),
            label,
        });
        self.branches.len() - 1
    }

    /// Adds what one history took to `counts`.
    fn count(&self, history: &[HistoryEvent], counts: &mut [u32]) {
        let mut children: HashMap<u64, Vec<usize>> = HashMap::new();
        let mut at: HashMap<u64, usize> = HashMap::with_capacity(history.len());
        for (i, event) in history.iter().enumerate() {
            children.entry(event.previous_event_id).or_default().push(i);
            at.insert(event.id, i);
        }
        let scopes = self.scopes_of(history, &at);
        let bump = |counts: &mut [u32], item: usize| {
            if let Some(n) = counts.get_mut(item) {
                *n = n.saturating_add(1);
            }
        };
        let no_match_failures: Vec<String> = history
            .iter()
            .filter(|e| e.kind.name().ends_with("Failed"))
            .filter_map(|e| {
                let details = e.details();
                (details["error"] == "States.NoChoiceMatched")
                    .then(|| details["cause"].as_str().unwrap_or_default().to_string())
            })
            .collect();
        for (i, event) in history.iter().enumerate() {
            if !event.kind.is_state_entered() {
                continue;
            }
            let Some(name) = event.state.as_deref() else {
                continue;
            };
            let Some(items) = self.scopes[scopes[i]].states.get(name) else {
                continue;
            };
            let own = own_events(history, &children, i);
            let last = own.last().map(|&j| &history[j]);
            let exited = last.filter(|e| e.kind.name().ends_with("StateExited"));
            let entered_next = exited.and_then(|exit| {
                children
                    .get(&exit.id)
                    .into_iter()
                    .flatten()
                    .map(|&j| &history[j])
                    .find(|e| e.kind.is_state_entered())
                    .and_then(|e| e.state.as_deref())
            });
            // Choice.
            if event.kind == EventKind::ChoiceStateEntered {
                if let Some(next) = entered_next {
                    if let Some((_, item)) = items.ways.iter().find(|(t, _)| t == next) {
                        bump(counts, *item);
                    }
                } else if exited.is_none() {
                    if let Some(item) = items.no_match {
                        let quoted = format!("'{name}'");
                        if no_match_failures.iter().any(|c| c.contains(&quoted)) {
                            bump(counts, item);
                        }
                    }
                }
                continue;
            }
            // The failures of this entry's attempts, in order.
            let failures: Vec<String> = own
                .iter()
                .map(|&j| &history[j])
                .filter(|e| is_failure(e.kind))
                .map(|e| {
                    e.details()["error"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                })
                .collect();
            let ended_in_failure = match own.len() {
                0 => false,
                n if exited.is_some() => n >= 2 && is_failure(history[own[n - 2]].kind),
                n => is_failure(history[own[n - 1]].kind),
            };
            let final_error = failures.last().filter(|_| ended_in_failure);
            // Catch: the last attempt failed and the state went on, or it went elsewhere than
            // its `Next`.
            if let Some(next) = entered_next {
                let caught = final_error.is_some() || items.next.as_deref() != Some(next);
                if caught {
                    let by_error = final_error.and_then(|error| {
                        items
                            .catches
                            .iter()
                            .find(|(errors, _, _)| errors.matches(error))
                    });
                    let catcher = by_error
                        .filter(|(_, to, _)| to == next)
                        .or_else(|| items.catches.iter().find(|(_, to, _)| to == next));
                    if let Some((_, _, item)) = catcher {
                        bump(counts, *item);
                    }
                }
            }
            // Retries exhausted.
            if let Some(error) = final_error {
                let rule_of = |error: &str| {
                    items
                        .retries
                        .iter()
                        .position(|(errors, _, _)| errors.matches(error))
                };
                if let Some(rule) = rule_of(error) {
                    let (_, max_attempts, item) = &items.retries[rule];
                    let seen = failures.iter().filter(|e| rule_of(e) == Some(rule)).count();
                    if let Some(item) = item {
                        if seen as u64 > *max_attempts {
                            bump(counts, *item);
                        }
                    }
                }
            }
            // Parallel branches and Map bodies.
            for &j in &own {
                let started = &history[j];
                match started.kind {
                    EventKind::ParallelStateStarted => {
                        let firsts = children.get(&started.id).into_iter().flatten();
                        for first in firsts.map(|&k| &history[k]) {
                            if !first.kind.is_state_entered() {
                                continue;
                            }
                            let start = first.state.as_deref().unwrap_or_default();
                            if let Some((_, _, item)) =
                                items.branches.iter().find(|(s, _, _)| s == start)
                            {
                                bump(counts, *item);
                            }
                        }
                    }
                    EventKind::MapStateStarted => {
                        let iterations = children
                            .get(&started.id)
                            .into_iter()
                            .flatten()
                            .filter(|&&k| history[k].kind == EventKind::MapIterationStarted)
                            .count();
                        if let Some((_, item)) = items.body {
                            for _ in 0..iterations {
                                bump(counts, item);
                            }
                        }
                    }
                    EventKind::MapRunStarted => {
                        let length = started.details()["length"].as_u64().unwrap_or(0);
                        if let Some((_, item)) = items.body {
                            if let Some(n) = counts.get_mut(item) {
                                let length = u32::try_from(length).unwrap_or(u32::MAX);
                                *n = n.saturating_add(length);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// The scope each event runs in: its predecessor's, except that the first state of a
    /// Parallel branch or a Map iteration runs in the branch's or body's scope, and an event
    /// of a state the scope lacks (a Parallel or Map state's own events after its children's)
    /// belongs to the nearest enclosing scope that has it.
    fn scopes_of(&self, history: &[HistoryEvent], at: &HashMap<u64, usize>) -> Vec<usize> {
        let mut scopes = vec![0usize; history.len()];
        for (i, event) in history.iter().enumerate() {
            let previous = at.get(&event.previous_event_id).copied();
            let mut scope = previous.map_or(0, |p| scopes[p]);
            let Some(name) = event.state.as_deref() else {
                scopes[i] = scope;
                continue;
            };
            if let (Some(p), true) = (previous, event.kind.is_state_entered()) {
                let parent = &history[p];
                let owner = parent
                    .state
                    .as_deref()
                    .and_then(|owner| self.scopes[scopes[p]].states.get(owner));
                match (parent.kind, owner) {
                    (EventKind::ParallelStateStarted, Some(owner)) => {
                        if let Some((_, child, _)) =
                            owner.branches.iter().find(|(start, _, _)| start == name)
                        {
                            scope = *child;
                        }
                    }
                    (EventKind::MapIterationStarted, Some(owner)) => {
                        if let Some((child, _)) = owner.body {
                            scope = child;
                        }
                    }
                    _ => {}
                }
            }
            let mut found = Some(scope);
            while let Some(s) = found {
                if self.scopes[s].states.contains_key(name) {
                    break;
                }
                found = self.scopes[s].parent;
            }
            scopes[i] = found.unwrap_or(scope);
        }
        scopes
    }
}

/// The events of one entry of a state, from its `…StateEntered` (index `entered`) to its
/// `…StateExited` or its last event: each the follower with the same state name (not a Map
/// iteration's, which belong to the body's line of work).
fn own_events(
    history: &[HistoryEvent],
    children: &HashMap<u64, Vec<usize>>,
    entered: usize,
) -> Vec<usize> {
    let name = history[entered].state.as_deref();
    let mut own = Vec::new();
    let mut current = entered;
    // A state's events are few; the bound only guards against a malformed history.
    for _ in 0..history.len() {
        let event = &history[current];
        if current != entered && event.kind.name().ends_with("StateExited") {
            break;
        }
        let next = children
            .get(&event.id)
            .into_iter()
            .flatten()
            .copied()
            .find(|&k| {
                let e = &history[k];
                e.state.as_deref() == name
                    && !e.kind.is_state_entered()
                    && !matches!(
                        e.kind,
                        EventKind::MapIterationStarted
                            | EventKind::MapIterationSucceeded
                            | EventKind::MapIterationFailed
                    )
            });
        match next {
            Some(k) => {
                own.push(k);
                current = k;
            }
            None => break,
        }
    }
    own
}

/// Events that end an attempt of a Task, Parallel or Map state with an error.
fn is_failure(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::TaskFailed
            | EventKind::TaskTimedOut
            | EventKind::LambdaFunctionFailed
            | EventKind::LambdaFunctionTimedOut
            | EventKind::ParallelStateFailed
            | EventKind::MapStateFailed
            | EventKind::MapRunFailed
    )
}

#[cfg(test)]
mod tests;
