//! Routes: the ways through a compiled state machine, and what one execution along each costs in Step
//! Functions state transitions and Lambda invocations (the figures `flowctl plan` prints before
//! and after fusion).
//!
//! # What a path is
//!
//! A walk from `StartAt` to an end — `"End": true`, a `Succeed` state or a `Fail` state — that
//! takes one decision wherever the machine could go more than one way:
//!
//! - at a `Choice`, one rule's `Next`, or the `Default`; without a `Default` the last way is "no
//!   rule matches", which fails the execution with `States.NoChoiceMatched`;
//! - at a state with `Catch`, either the normal way on, or one catcher's `Next` (the path is then
//!   `caught`). The failing state still counts as entered once, and a Lambda `Task` as invoked
//!   once. Failures of states without a `Catch` are not enumerated.
//! - Retries are not counted: every path is one attempt at each state.
//!
//! Routes come in document order: rules in order, the `Default` last, the normal way on before the
//! catchers, and within a `Parallel` the first branch's ways vary slowest.
//!
//! # What is counted
//!
//! `transitions` follows the Step Functions pricing page for standard workflows
//! (<https://aws.amazon.com/step-functions/pricing/>): "Step Functions counts a state transition
//! each time a step of your workflow is executed … including retries". So every state entered
//! counts once, whatever its type — `Pass`, `Choice`, `Wait`, `Succeed`, `Fail`, the `Parallel`
//! or `Map` state itself, and every state entered inside a branch or an iteration.
//!
//! `invocations` counts the `Task` states entered whose `Resource` is a Lambda: the
//! `arn:aws:states:::lambda:invoke` integration (any partition, any suffix such as
//! `.waitForTaskToken`) or a Lambda function ARN `arn:aws:lambda:…`. Other Tasks are transitions
//! only.
//!
//! - `Parallel`: 1 + the walk of every branch. The branches' own decisions combine as a product:
//!   one path per combination. A combination in which a branch reaches a `Fail` fails the
//!   `Parallel` with the first such branch's error (then the `Parallel`'s catchers apply); it is
//!   counted as if the other branches ran to their end (Step Functions stops them early, so this
//!   is an upper bound).
//! - `Map`: 1 + its body (`ItemProcessor`, or the legacy `Iterator`) counted for **one** item; the
//!   path has `per_map_item` set, and each further item adds the body's counts again. A
//!   distributed Map runs its items as child executions, which are billed as such.
//! - A `Parallel` or `Map` whose body never fails explicitly but which has a `Catch` gets one
//!   caught path per catcher counting only the state itself (where its body failed is unknown).
//!
//! # Hand-written documents
//!
//! Any JSON is accepted. A state already on the current walk (a loop) ends that walk, as does a
//! `Next` naming no state or a state with neither `Next` nor `End`: such a path's outcome is
//! [`Outcome::Unfinished`], counted up to that point. The enumeration stops after [`MAX_ROUTES`]
//! paths (and sets `truncated`); nesting deeper than [`MAX_NESTING`] is not followed.

use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// At most this many paths are listed; the rest are dropped and `Routes::truncated` is set.
pub const MAX_ROUTES: usize = 256;

/// Parallel/Map bodies nested deeper than this are not walked (their path is unfinished).
pub const MAX_NESTING: usize = 32;

/// Step Functions standard workflows, price per state transition in USD: $0.025 per 1,000 state
/// transitions in US East (N. Virginia), above the free tier of 4,000 per month.
/// Source: <https://aws.amazon.com/step-functions/pricing/>.
pub const STANDARD_TRANSITION_USD: f64 = 0.025 / 1_000.0;

/// AWS Lambda, price per request in USD: $0.20 per 1 million requests, above the free tier of
/// 1 million per month. Source: <https://aws.amazon.com/lambda/pricing/>.
pub const LAMBDA_REQUEST_USD: f64 = 0.20 / 1_000_000.0;

/// One way through the state machine and what one execution along it costs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Route {
    /// The decisions taken, e.g. `"if x == 1" → "y = F"; "y = F" fails → "cleanup"`, or
    /// "the only path" when there were none.
    pub label: String,
    pub outcome: Outcome,
    /// States entered, as Step Functions standard workflows bill them.
    pub transitions: u64,
    /// Lambda `Task` states entered.
    pub invocations: u64,
    /// A `Catch` was taken somewhere on the path.
    pub caught: bool,
    /// The path goes through a `Map`, whose body is counted for one item.
    pub per_map_item: bool,
}

/// How the execution ends along a path.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Succeeds,
    /// `error` is the `Fail` state's `Error`, its `ErrorPath` text when the error comes from the
    /// state input, `States.NoChoiceMatched` for a `Choice` no rule matches, or "unnamed error".
    Fails {
        error: String,
    },
    /// The walk could not go on (a loop, a dangling `Next`, an unknown state type…): `reason`.
    Unfinished {
        reason: String,
    },
}

/// The paths of a document, in document order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Routes {
    pub routes: Vec<Route>,
    /// More than [`MAX_ROUTES`] paths exist; only the first are listed.
    pub truncated: bool,
}

/// Every path through `doc` (an ASL document in the JSONPath query language). A value that is
/// not an object with a `StartAt` has no paths.
pub fn routes(doc: &Value) -> Routes {
    if doc.get("StartAt").is_none() {
        return Routes::default();
    }
    let mut walker = Walker::default();
    let (walks, truncated) = walker.machine(doc, 0);
    Routes {
        routes: walks.into_iter().map(Walk::into_route).collect(),
        truncated,
    }
}

/// What a run pays: the price of a transition and of a Lambda request. Duration charges
/// (Lambda GB-seconds, Express workflow duration), free tiers and other services are not
/// included.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Prices {
    pub per_transition_usd: f64,
    pub per_request_usd: f64,
}

impl Default for Prices {
    /// The us-east-1 list prices: [`STANDARD_TRANSITION_USD`] and [`LAMBDA_REQUEST_USD`].
    fn default() -> Self {
        Prices {
            per_transition_usd: STANDARD_TRANSITION_USD,
            per_request_usd: LAMBDA_REQUEST_USD,
        }
    }
}

impl Prices {
    /// USD per 1,000,000 executions that each make `transitions` state transitions and
    /// `invocations` Lambda requests.
    pub fn per_million(&self, transitions: u64, invocations: u64) -> f64 {
        1_000_000.0
            * (transitions as f64 * self.per_transition_usd
                + invocations as f64 * self.per_request_usd)
    }
}

/// A path, or the part of one inside a branch, as it is being built.
#[derive(Debug, Clone)]
struct Walk {
    decisions: Vec<String>,
    transitions: u64,
    invocations: u64,
    caught: bool,
    per_map_item: bool,
    outcome: Outcome,
}

impl Default for Walk {
    fn default() -> Self {
        Walk {
            decisions: Vec::new(),
            transitions: 0,
            invocations: 0,
            caught: false,
            per_map_item: false,
            outcome: Outcome::Succeeds,
        }
    }
}

impl Walk {
    fn unfinished(reason: String) -> Self {
        Walk {
            outcome: Outcome::Unfinished { reason },
            ..Walk::default()
        }
    }

    /// Adds the counts and decisions of `inner` (a branch or map body walk); its outcome is
    /// handled by the caller.
    fn absorb(&mut self, inner: &Walk) {
        self.decisions.extend(inner.decisions.iter().cloned());
        self.transitions = self.transitions.saturating_add(inner.transitions);
        self.invocations = self.invocations.saturating_add(inner.invocations);
        self.caught |= inner.caught;
        self.per_map_item |= inner.per_map_item;
    }

    fn decided(&self, decision: String) -> Walk {
        let mut next = self.clone();
        next.decisions.push(decision);
        next
    }

    fn ends(mut self, outcome: Outcome) -> Walk {
        self.outcome = outcome;
        self
    }

    fn into_route(self) -> Route {
        let label = if self.decisions.is_empty() {
            "the only path".to_string()
        } else {
            self.decisions.join("; ")
        };
        Route {
            label,
            outcome: self.outcome,
            transitions: self.transitions,
            invocations: self.invocations,
            caught: self.caught,
            per_map_item: self.per_map_item,
        }
    }
}

/// What a pending walk does next: enter a state, or end with the walk's outcome.
enum Step<'a> {
    Enter(&'a str),
    Done,
}

/// One way on, waiting on the depth-first stack. The states entered and decisions taken
/// before it are shared by every way on from the same point, so they live once, in the
/// walker's trail, and a pending way records only how much of the trail it continues from
/// (cloning them into every way made long documents quadratic).
struct Pending<'a> {
    step: Step<'a>,
    /// Counts so far, and in `decisions` only the decisions taken since `trail`.
    walk: Walk,
    trail: TrailLen,
}

/// How long the walk's trail of states and of decisions was at a branching point.
#[derive(Clone, Copy)]
struct TrailLen {
    states: usize,
    decisions: usize,
}

#[derive(Default)]
struct Walker {
    /// The walks of each (sub-)machine already enumerated, by address: a branch is walked once
    /// however many outer paths reach it.
    memo: HashMap<usize, (Vec<Walk>, bool)>,
}

impl Walker {
    /// The walks through `machine` (a document, a branch or a map body) and whether they were
    /// cut at [`MAX_ROUTES`].
    fn machine(&mut self, machine: &Value, depth: usize) -> (Vec<Walk>, bool) {
        let key = machine as *const Value as usize;
        if let Some(done) = self.memo.get(&key) {
            return done.clone();
        }
        let result = self.enumerate(machine, depth);
        self.memo.insert(key, result.clone());
        result
    }

    /// Depth first, so paths come out in document order and the current walk is always the
    /// trail: popping a pending way cuts the trail back to where that way branched off.
    fn enumerate(&mut self, machine: &Value, depth: usize) -> (Vec<Walk>, bool) {
        if depth > MAX_NESTING {
            return (
                vec![Walk::unfinished(format!(
                    "nested more than {MAX_NESTING} deep"
                ))],
                false,
            );
        }
        let Some(start) = machine.get("StartAt").and_then(Value::as_str) else {
            return (vec![Walk::unfinished("no StartAt".to_string())], false);
        };
        let mut out = Vec::new();
        let mut truncated = false;
        let mut states: Vec<&str> = Vec::new();
        let mut on_walk: HashSet<&str> = HashSet::new();
        let mut decisions: Vec<String> = Vec::new();
        let mut stack = vec![Pending {
            step: Step::Enter(start),
            walk: Walk::default(),
            trail: TrailLen {
                states: 0,
                decisions: 0,
            },
        }];
        while let Some(Pending {
            step,
            mut walk,
            trail,
        }) = stack.pop()
        {
            if out.len() >= MAX_ROUTES {
                truncated = true;
                break;
            }
            for left in states.drain(trail.states.min(states.len())..) {
                on_walk.remove(left);
            }
            decisions.truncate(trail.decisions);
            decisions.append(&mut walk.decisions);
            let name = match step {
                Step::Enter(name) if on_walk.insert(name) => name,
                Step::Enter(name) => {
                    let reason = format!("loops back to \"{name}\"");
                    walk.outcome = Outcome::Unfinished { reason };
                    walk.decisions = decisions.clone();
                    out.push(walk);
                    continue;
                }
                Step::Done => {
                    walk.decisions = decisions.clone();
                    out.push(walk);
                    continue;
                }
            };
            states.push(name);
            let here = TrailLen {
                states: states.len(),
                decisions: decisions.len(),
            };
            let mut ways = Vec::new();
            truncated |= self.enter(machine, name, walk, here, depth, &mut ways);
            // Reversed so that the first way is walked (and listed) first.
            stack.extend(ways.into_iter().rev());
        }
        (out, truncated)
    }

    /// Enters state `name` (`walk` holds the counts before it, `trail` the trail including it)
    /// and lists the ways on from it, in document order; returns whether a nested enumeration
    /// was truncated.
    fn enter<'a>(
        &mut self,
        machine: &'a Value,
        name: &'a str,
        mut walk: Walk,
        trail: TrailLen,
        depth: usize,
        ways: &mut Vec<Pending<'a>>,
    ) -> bool {
        let done = |walk: Walk, outcome: Outcome| Pending {
            step: Step::Done,
            walk: walk.ends(outcome),
            trail,
        };
        let goto = |walk: Walk, next: &'a str| Pending {
            step: Step::Enter(next),
            walk,
            trail,
        };
        let unfinished = |reason: String| Outcome::Unfinished { reason };
        let Some(state) = machine
            .get("States")
            .and_then(|states| states.get(name))
            .filter(|s| s.is_object())
        else {
            ways.push(done(walk, unfinished(format!("no state \"{name}\""))));
            return false;
        };
        walk.transitions = walk.transitions.saturating_add(1);
        // The normal way on from a state that finished without error.
        let onward = |walk: Walk| {
            if state.get("End").and_then(Value::as_bool) == Some(true) {
                done(walk, Outcome::Succeeds)
            } else if let Some(next) = state.get("Next").and_then(Value::as_str) {
                goto(walk, next)
            } else {
                done(
                    walk,
                    unfinished(format!("\"{name}\" has neither Next nor End")),
                )
            }
        };
        let catchers: Vec<&'a str> = state
            .get("Catch")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|c| c.get("Next").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        // The ways on when the state fails: through each catcher, or out of the execution.
        let failing = |walk: Walk, error: Option<String>, ways: &mut Vec<Pending<'a>>| {
            for target in &catchers {
                let mut caught = walk.decided(format!("\"{name}\" fails → \"{target}\""));
                caught.caught = true;
                ways.push(goto(caught, target));
            }
            if let (true, Some(error)) = (catchers.is_empty(), error) {
                ways.push(done(walk, Outcome::Fails { error }));
            }
        };

        match state.get("Type").and_then(Value::as_str).unwrap_or("") {
            "Succeed" => ways.push(done(walk, Outcome::Succeeds)),
            "Fail" => {
                let error = fail_error(state);
                ways.push(done(walk, Outcome::Fails { error }));
            }
            "Choice" => {
                let rules = state.get("Choices").and_then(Value::as_array);
                for next in rules
                    .into_iter()
                    .flatten()
                    .filter_map(|rule| rule.get("Next").and_then(Value::as_str))
                {
                    ways.push(goto(walk.decided(format!("\"{name}\" → \"{next}\"")), next));
                }
                match state.get("Default").and_then(Value::as_str) {
                    Some(next) => {
                        let chosen = walk.decided(format!("\"{name}\" → default \"{next}\""));
                        ways.push(goto(chosen, next));
                    }
                    None => {
                        let error = flowctl_protocol::sfn::errors::NO_CHOICE_MATCHED.to_string();
                        let chosen = walk.decided(format!("\"{name}\": no rule matches"));
                        ways.push(done(chosen, Outcome::Fails { error }));
                    }
                }
            }
            kind @ ("Task" | "Pass" | "Wait") => {
                if kind == "Task" && invokes_lambda(state) {
                    walk.invocations = walk.invocations.saturating_add(1);
                }
                ways.push(onward(walk.clone()));
                failing(walk, None, ways);
            }
            kind @ ("Parallel" | "Map") => {
                let (bodies, truncated) = self.bodies(state, kind == "Map", depth);
                let mut inner_failure = false;
                for body in &bodies {
                    let mut through = walk.clone();
                    through.absorb(body);
                    match &body.outcome {
                        Outcome::Succeeds => ways.push(onward(through)),
                        Outcome::Fails { error } => {
                            inner_failure = true;
                            failing(through, Some(error.clone()), ways);
                        }
                        Outcome::Unfinished { .. } => {
                            let outcome = body.outcome.clone();
                            ways.push(done(through, outcome));
                        }
                    }
                }
                if !inner_failure {
                    failing(walk, None, ways);
                }
                return truncated;
            }
            other => {
                let reason = if other.is_empty() {
                    format!("\"{name}\" has no Type")
                } else {
                    format!("\"{name}\" has unknown Type \"{other}\"")
                };
                ways.push(done(walk, unfinished(reason)));
            }
        }
        false
    }

    /// The combined walks of a `Parallel`'s branches (one per combination, the outcome being
    /// the first branch's failure, if any) or of a `Map`'s body for one item; and whether they
    /// were cut at [`MAX_ROUTES`].
    fn bodies(&mut self, state: &Value, is_map: bool, depth: usize) -> (Vec<Walk>, bool) {
        if is_map {
            let Some(body) = state.get("ItemProcessor").or_else(|| state.get("Iterator")) else {
                return (
                    vec![Walk::unfinished(
                        "Map has no ItemProcessor or Iterator".to_string(),
                    )],
                    false,
                );
            };
            let (mut walks, truncated) = self.machine(body, depth + 1);
            for walk in &mut walks {
                walk.per_map_item = true;
            }
            return (walks, truncated);
        }
        let branches: &[Value] = state
            .get("Branches")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let mut combos = vec![Walk::default()];
        let mut truncated = false;
        for branch in branches {
            let (walks, cut) = self.machine(branch, depth + 1);
            truncated |= cut;
            let mut next = Vec::new();
            'product: for combo in &combos {
                for walk in &walks {
                    if next.len() >= MAX_ROUTES {
                        truncated = true;
                        break 'product;
                    }
                    let mut joined = combo.clone();
                    joined.absorb(walk);
                    if joined.outcome == Outcome::Succeeds {
                        joined.outcome = walk.outcome.clone();
                    }
                    next.push(joined);
                }
            }
            combos = next;
        }
        (combos, truncated)
    }
}

/// Whether a `Task` state calls Lambda: the `lambda:invoke` integration or a function ARN.
fn invokes_lambda(task: &Value) -> bool {
    task.get("Resource")
        .and_then(Value::as_str)
        .and_then(flowctl_protocol::sfn::lambda_resource)
        .is_some()
}

/// The error a `Fail` state ends the execution with, as the user would recognise it.
fn fail_error(state: &Value) -> String {
    if let Some(error) = state.get("Error").and_then(Value::as_str) {
        return error.to_string();
    }
    if let Some(path) = state.get("ErrorPath").and_then(Value::as_str) {
        return path.to_string();
    }
    "unnamed error".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn only(doc: &Value) -> Route {
        let found = routes(doc);
        assert_eq!(found.routes.len(), 1, "{found:#?}");
        found.routes[0].clone()
    }

    fn labels(found: &Routes) -> Vec<&str> {
        found.routes.iter().map(|p| p.label.as_str()).collect()
    }

    const LAMBDA: &str = "arn:aws:states:::lambda:invoke";

    #[test]
    fn a_straight_line_counts_every_state_and_each_lambda_task() {
        let doc = json!({
            "StartAt": "A",
            "States": {
                "A": {"Type": "Pass", "Next": "B"},
                "B": {"Type": "Task", "Resource": LAMBDA, "Next": "C"},
                "C": {"Type": "Task", "Resource": "arn:aws:lambda:eu-west-1:123456789012:function:F", "Next": "D"},
                "D": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem", "Next": "E"},
                "E": {"Type": "Wait", "Seconds": 1, "Next": "F"},
                "F": {"Type": "Succeed"}
            }
        });
        let path = only(&doc);
        assert_eq!(path.label, "the only path");
        assert_eq!(path.outcome, Outcome::Succeeds);
        assert_eq!((path.transitions, path.invocations), (6, 2));
        assert!(!path.caught && !path.per_map_item);
    }

    #[test]
    fn lambda_resources_in_any_partition_and_with_suffixes_are_invocations() {
        for resource in [
            "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "arn:aws-cn:states:::lambda:invoke",
            "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:F:live",
        ] {
            let doc = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "End": true}}});
            assert_eq!(only(&doc).invocations, 1, "{resource}");
        }
        for resource in ["arn:aws:states:::sqs:sendMessage", "lambda", "arn:aws"] {
            let doc = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "End": true}}});
            assert_eq!(only(&doc).invocations, 0, "{resource}");
        }
    }

    #[test]
    fn choice_rules_come_in_order_and_the_default_last() {
        let doc = json!({
            "StartAt": "pick",
            "States": {
                "pick": {"Type": "Choice", "Default": "other", "Choices": [
                    {"Variable": "$.x", "NumericEquals": 1, "Next": "one"},
                    {"Variable": "$.x", "NumericEquals": 2, "Next": "two"}
                ]},
                "one": {"Type": "Task", "Resource": LAMBDA, "Next": "done"},
                "two": {"Type": "Pass", "Next": "done"},
                "other": {"Type": "Fail", "Error": "Unknown", "Cause": "no such x"},
                "done": {"Type": "Succeed"}
            }
        });
        let found = routes(&doc);
        assert!(!found.truncated);
        assert_eq!(
            labels(&found),
            [
                "\"pick\" → \"one\"",
                "\"pick\" → \"two\"",
                "\"pick\" → default \"other\""
            ]
        );
        let counts: Vec<_> = found
            .routes
            .iter()
            .map(|p| (p.transitions, p.invocations, p.outcome.clone()))
            .collect();
        assert_eq!(
            counts,
            [
                (3, 1, Outcome::Succeeds),
                (3, 0, Outcome::Succeeds),
                (
                    2,
                    0,
                    Outcome::Fails {
                        error: "Unknown".into()
                    }
                ),
            ]
        );
    }

    #[test]
    fn a_choice_without_default_can_fail_with_no_choice_matched() {
        let doc = json!({
            "StartAt": "pick",
            "States": {
                "pick": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "done"}]},
                "done": {"Type": "Pass", "End": true}
            }
        });
        let found = routes(&doc);
        assert_eq!(found.routes.len(), 2);
        let last = &found.routes[1];
        assert_eq!(last.label, "\"pick\": no rule matches");
        assert_eq!(
            last.outcome,
            Outcome::Fails {
                error: "States.NoChoiceMatched".into()
            }
        );
        assert_eq!(last.transitions, 1);
    }

    #[test]
    fn a_catch_adds_a_caught_path_after_the_normal_one() {
        let doc = json!({
            "StartAt": "pay",
            "States": {
                "pay": {"Type": "Task", "Resource": LAMBDA, "Next": "ok",
                        "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 5}],
                        "Catch": [
                            {"ErrorEquals": ["Declined"], "Next": "refuse"},
                            {"ErrorEquals": ["States.ALL"], "Next": "undo"}
                        ]},
                "ok": {"Type": "Succeed"},
                "refuse": {"Type": "Fail", "Error": "Declined"},
                "undo": {"Type": "Task", "Resource": LAMBDA, "Next": "failed"},
                "failed": {"Type": "Fail", "ErrorPath": "$.err.Error"}
            }
        });
        let found = routes(&doc);
        let summary: Vec<_> = found
            .routes
            .iter()
            .map(|p| {
                (
                    p.label.as_str(),
                    p.transitions,
                    p.invocations,
                    p.caught,
                    p.outcome.clone(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("the only path", 2, 1, false, Outcome::Succeeds),
                (
                    "\"pay\" fails → \"refuse\"",
                    2,
                    1,
                    true,
                    Outcome::Fails {
                        error: "Declined".into()
                    }
                ),
                (
                    "\"pay\" fails → \"undo\"",
                    3,
                    2,
                    true,
                    Outcome::Fails {
                        error: "$.err.Error".into()
                    }
                ),
            ]
        );
    }

    #[test]
    fn parallel_branches_combine_as_a_product() {
        let branch_with_choice = json!({
            "StartAt": "c",
            "States": {
                "c": {"Type": "Choice", "Choices": [{"Variable": "$.a", "BooleanEquals": true, "Next": "call"}], "Default": "skip"},
                "call": {"Type": "Task", "Resource": LAMBDA, "End": true},
                "skip": {"Type": "Pass", "End": true}
            }
        });
        let branch_with_two_ways = json!({
            "StartAt": "d",
            "States": {
                "d": {"Type": "Choice", "Choices": [{"Variable": "$.b", "BooleanEquals": true, "Next": "fine"}], "Default": "broken"},
                "fine": {"Type": "Succeed"},
                "broken": {"Type": "Fail", "Error": "Broken"}
            }
        });
        let doc = json!({
            "StartAt": "both",
            "States": {
                "both": {"Type": "Parallel", "Branches": [branch_with_choice, branch_with_two_ways], "Next": "after"},
                "after": {"Type": "Pass", "End": true}
            }
        });
        let found = routes(&doc);
        let summary: Vec<_> = found
            .routes
            .iter()
            .map(|p| {
                (
                    p.label.as_str(),
                    p.transitions,
                    p.invocations,
                    p.outcome.clone(),
                )
            })
            .collect();
        let broken = || Outcome::Fails {
            error: "Broken".into(),
        };
        // both(1) + branch 1 (2) + branch 2 (2) [+ after(1) when both succeed]
        assert_eq!(
            summary,
            [
                (
                    "\"c\" → \"call\"; \"d\" → \"fine\"",
                    6,
                    1,
                    Outcome::Succeeds
                ),
                (
                    "\"c\" → \"call\"; \"d\" → default \"broken\"",
                    5,
                    1,
                    broken()
                ),
                (
                    "\"c\" → default \"skip\"; \"d\" → \"fine\"",
                    6,
                    0,
                    Outcome::Succeeds
                ),
                (
                    "\"c\" → default \"skip\"; \"d\" → default \"broken\"",
                    5,
                    0,
                    broken()
                ),
            ]
        );
    }

    #[test]
    fn a_failing_branch_is_caught_by_the_parallels_catch() {
        let doc = json!({
            "StartAt": "par",
            "States": {
                "par": {"Type": "Parallel", "Next": "ok",
                        "Branches": [{"StartAt": "x", "States": {"x": {"Type": "Fail", "Error": "E"}}}],
                        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "handle"}]},
                "ok": {"Type": "Succeed"},
                "handle": {"Type": "Pass", "End": true}
            }
        });
        let path = only(&doc);
        assert_eq!(path.label, "\"par\" fails → \"handle\"");
        assert!(path.caught);
        assert_eq!(path.outcome, Outcome::Succeeds);
        assert_eq!(path.transitions, 3);
    }

    #[test]
    fn a_map_counts_its_body_for_one_item() {
        let doc = json!({
            "StartAt": "each",
            "States": {
                "each": {"Type": "Map", "ItemsPath": "$.items", "End": true,
                         "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "work", "States": {
                             "work": {"Type": "Task", "Resource": LAMBDA, "Next": "shape"},
                             "shape": {"Type": "Pass", "End": true}
                         }}}
            }
        });
        let path = only(&doc);
        assert_eq!((path.transitions, path.invocations), (3, 1));
        assert!(path.per_map_item);

        let legacy = json!({
            "StartAt": "each",
            "States": {"each": {"Type": "Map", "End": true, "Iterator": {"StartAt": "w", "States": {"w": {"Type": "Pass", "End": true}}}}}
        });
        assert_eq!(only(&legacy).transitions, 2);
    }

    #[test]
    fn a_loop_ends_the_walk_where_it_comes_back() {
        let doc = json!({
            "StartAt": "poll",
            "States": {
                "poll": {"Type": "Task", "Resource": LAMBDA, "Next": "ready?"},
                "ready?": {"Type": "Choice", "Choices": [{"Variable": "$.ready", "BooleanEquals": true, "Next": "done"}], "Default": "wait"},
                "wait": {"Type": "Wait", "Seconds": 10, "Next": "poll"},
                "done": {"Type": "Succeed"}
            }
        });
        let found = routes(&doc);
        assert_eq!(found.routes.len(), 2);
        let looping = &found.routes[1];
        assert_eq!(looping.label, "\"ready?\" → default \"wait\"");
        assert_eq!(
            looping.outcome,
            Outcome::Unfinished {
                reason: "loops back to \"poll\"".into()
            }
        );
        assert_eq!((looping.transitions, looping.invocations), (3, 1));
    }

    #[test]
    fn enumeration_stops_at_the_cap() {
        // Nine two-way choices in a row: 512 paths.
        let mut states = serde_json::Map::new();
        for i in 0..9 {
            let next = if i == 8 {
                "end".to_string()
            } else {
                format!("c{}", i + 1)
            };
            states.insert(
                format!("c{i}"),
                json!({"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": true, "Next": next}], "Default": next}),
            );
        }
        states.insert("end".into(), json!({"Type": "Succeed"}));
        let doc = json!({"StartAt": "c0", "States": states});
        let found = routes(&doc);
        assert!(found.truncated);
        assert_eq!(found.routes.len(), MAX_ROUTES);
        assert!(found.routes.iter().all(|p| p.transitions == 10));
    }

    #[test]
    fn a_parallel_of_many_ways_is_capped_too() {
        let two_ways = json!({"StartAt": "c", "States": {
            "c": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": true, "Next": "e"}], "Default": "e"},
            "e": {"Type": "Succeed"}
        }});
        let branches: Vec<Value> = (0..12).map(|_| two_ways.clone()).collect();
        let doc = json!({"StartAt": "p", "States": {"p": {"Type": "Parallel", "Branches": branches, "End": true}}});
        let found = routes(&doc);
        assert!(found.truncated);
        assert_eq!(found.routes.len(), MAX_ROUTES);
    }

    #[test]
    fn malformed_documents_give_empty_or_unfinished_paths() {
        for junk in [
            json!(null),
            json!(42),
            json!("StartAt"),
            json!([1, 2]),
            json!({}),
            json!({"States": {}}),
        ] {
            assert_eq!(routes(&junk), Routes::default(), "{junk}");
        }
        let unfinished = |doc: Value| match only(&doc).outcome {
            Outcome::Unfinished { reason } => reason,
            other => panic!("{other:?} for {doc}"),
        };
        assert_eq!(
            unfinished(json!({"StartAt": "A", "States": 3})),
            "no state \"A\""
        );
        assert_eq!(
            unfinished(json!({"StartAt": 7, "States": {}})),
            "no StartAt"
        );
        assert_eq!(
            unfinished(json!({"StartAt": "A", "States": {"A": {"Type": "Pass"}}})),
            "\"A\" has neither Next nor End"
        );
        assert_eq!(
            unfinished(json!({"StartAt": "A", "States": {"A": {"Type": "Teleport"}}})),
            "\"A\" has unknown Type \"Teleport\""
        );
        assert_eq!(
            unfinished(json!({"StartAt": "A", "States": {"A": {"Type": "Map", "End": true}}})),
            "Map has no ItemProcessor or Iterator"
        );
        // Odd shapes inside otherwise valid states are ignored rather than trusted.
        let odd = json!({"StartAt": "A", "States": {
            "A": {"Type": "Choice", "Choices": [1, {"Next": 2}, null], "Default": "B"},
            "B": {"Type": "Task", "Resource": 5, "Catch": "x", "Next": "C"},
            "C": {"Type": "Parallel", "Branches": {"not": "a list"}, "End": true}
        }});
        let path = only(&odd);
        assert_eq!((path.transitions, path.invocations), (3, 0));
    }

    #[test]
    fn deeply_nested_bodies_stop_at_the_nesting_limit() {
        let mut body =
            json!({"StartAt": "leaf", "States": {"leaf": {"Type": "Pass", "End": true}}});
        for _ in 0..(MAX_NESTING + 5) {
            body = json!({"StartAt": "p", "States": {"p": {"Type": "Parallel", "Branches": [body], "End": true}}});
        }
        let path = only(&body);
        assert_eq!(
            path.outcome,
            Outcome::Unfinished {
                reason: format!("nested more than {MAX_NESTING} deep")
            }
        );
    }

    #[test]
    fn price_per_million_executions() {
        let prices = Prices::default();
        // 6 × $0.000025 + 2 × $0.0000002 = $0.0001504 per execution.
        assert!((prices.per_million(6, 2) - 150.40).abs() < 1e-9);
        assert_eq!(prices.per_million(0, 0), 0.0);
        let discounted = Prices {
            per_transition_usd: 0.00001,
            per_request_usd: 0.0,
        };
        assert!((discounted.per_million(3, 9) - 30.0).abs() < 1e-9);
    }

    #[test]
    fn booking_example_paths() {
        let example =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/booking");
        let text = std::fs::read_to_string(example.join("flowctl.yaml")).unwrap();
        let (manifest, diags) = crate::manifest::parse(&text);
        let manifest = manifest.unwrap_or_else(|| panic!("{diags:#?}"));
        let source = std::fs::read_to_string(example.join("flows/booking.flow")).unwrap();
        let (_, ir, diags) =
            crate::flow::parse_and_check(&source, &manifest.known_functions("Booking"));
        assert!(diags.is_empty(), "{diags:#?}");
        let opts = crate::asl::CompileOptions::one_unit_per_function(
            manifest.functions.keys().cloned(),
            "flows/booking.flow",
        );
        let doc = crate::asl::compile(ir.as_ref().expect("checked"), &opts)
            .unwrap_or_else(|d| panic!("{d:#?}"));
        let found = routes(&doc);
        assert!(!found.truncated);

        let check = "if reservation.status == 'available' and exists(reservation.room)";
        let quote = "rate = QuoteRate";
        let loyalty = "tier = LookupLoyalty";
        let reserve = "reservation = ReserveAvailability";
        let pay = "payment = ProcessPayment";
        let confirm = "confirmation = ConfirmReservation";
        let notify = "_ = NotifyGuest";
        let release = "_ = ReleaseReservation";
        let happy = [
            "Start",
            quote,
            loyalty,
            reserve,
            check,
            pay,
            confirm,
            notify,
            "return {ok, reservation, payment, confirmation, rate, tier}",
        ];
        let payment_fails = [
            "Start",
            quote,
            loyalty,
            reserve,
            check,
            pay,
            release,
            "fail PaymentFailed",
        ];
        let no_rooms = ["Start", quote, loyalty, reserve, check, "fail NotAvailable"];
        for state in happy.iter().chain(&payment_fails).chain(&no_rooms) {
            assert!(doc["States"].get(*state).is_some(), "no state {state:?}");
        }
        let summary: Vec<_> = found
            .routes
            .iter()
            .map(|p| {
                (
                    p.label.clone(),
                    p.outcome.clone(),
                    p.transitions,
                    p.invocations,
                    p.caught,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    format!("\"{check}\" → \"{pay}\""),
                    Outcome::Succeeds,
                    happy.len() as u64,
                    6, // quote, loyalty, reserve, pay, confirm, notify
                    false
                ),
                (
                    format!("\"{check}\" → \"{pay}\"; \"{pay}\" fails → \"{release}\""),
                    Outcome::Fails {
                        error: "PaymentFailed".into()
                    },
                    payment_fails.len() as u64,
                    5, // quote, loyalty, reserve, pay, release
                    true
                ),
                (
                    format!("\"{check}\" → default \"fail NotAvailable\""),
                    Outcome::Fails {
                        error: "NotAvailable".into()
                    },
                    no_rooms.len() as u64,
                    3, // quote, loyalty, reserve
                    false
                ),
            ]
        );
        let prices = Prices::default();
        assert!((prices.per_million(5, 2) - 125.40).abs() < 1e-9);
    }
}
