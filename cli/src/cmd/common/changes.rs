//! The changes `deploy` and `destroy` make, for people and for CI: the list before applying
//! (`--dry-run`), a line per step as it finishes, and the outcome (`--output json`: the steps,
//! counts per action, failures and skipped steps).

use crate::cmd::out::{self, note};
use crate::cmd::progress::Progress;
use crate::cmd::{Exit, Global, Output};
use flowctl_aws::apply::{Event, Outcome};
use flowctl_aws::diff::{Action, Changes, Step};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Every action, in the order summaries list them.
const ACTIONS: [Action; 6] = [
    Action::Create,
    Action::Update,
    Action::Replace,
    Action::Delete,
    Action::Unchanged,
    Action::Orphaned,
];

/// One line per step on stderr: `+ create function shop-Reserve (code)`.
pub fn print(changes: &Changes) {
    for step in &changes.steps {
        let sign = match step.action {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "±",
            Action::Delete => "-",
            Action::Unchanged => "=",
            Action::Orphaned => "!",
        };
        let fields = if step.changes.is_empty() {
            String::new()
        } else {
            let names: Vec<String> = step
                .changes
                .iter()
                .map(|c| {
                    serde_json::to_value(c)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                })
                .collect();
            format!(" ({})", names.join(", "))
        };
        let orphaned = if step.action == Action::Orphaned {
            "  — not in the manifest; --prune deletes it"
        } else {
            ""
        };
        note!(
            "  {sign} {:<9} {:<13} {}{fields}{orphaned}",
            step.action.as_str(),
            step.kind.as_str(),
            step.name
        );
    }
}

/// How many steps of each action, by name (`--output json`).
pub fn summary(changes: &Changes) -> Value {
    let counts = ACTIONS
        .into_iter()
        .map(|action| (action.as_str().to_string(), json!(changes.count(action))))
        .collect();
    Value::Object(counts)
}

/// `2 to create, 1 to update, 5 unchanged`, or `nothing to do`.
pub fn summary_line(changes: &Changes) -> String {
    let parts: Vec<String> = ACTIONS
        .into_iter()
        .filter_map(|a| match changes.count(a) {
            0 => None,
            n => Some(
                format!("{n} to {}", a.as_str())
                    .replace("to unchanged", "unchanged")
                    .replace("to orphaned", "orphaned"),
            ),
        })
        .collect();
    if parts.is_empty() {
        "nothing to do".into()
    } else {
        parts.join(", ")
    }
}

/// The step's action, done: `created`, `deleted`…
fn past(step: &Step) -> &'static str {
    match step.action {
        Action::Create => "created",
        Action::Update => "updated",
        Action::Replace => "replaced",
        Action::Delete => "deleted",
        Action::Unchanged => "unchanged",
        Action::Orphaned => "kept",
    }
}

/// What `apply` calls as it goes: on a terminal, a bar saying what each step in flight is
/// doing (`waiting for shop-Reserve to become Active`); otherwise a line per finished step,
/// `[3/7] created function shop-Reserve (1.2 s)`, on stderr. `progress` must live
/// until `apply` returns; dropping it clears the bar.
pub fn reporter(progress: &Progress) -> impl Fn(Event<'_>) + Send + Sync + '_ {
    let finished = AtomicUsize::new(0);
    let total = progress.total();
    move |event: Event<'_>| match event {
        Event::Working { step, doing } => progress.working(&step.name, doing),
        Event::Done(done) => {
            let n = finished.fetch_add(1, Ordering::SeqCst) + 1;
            let line = match done.result {
                Ok(()) => format!(
                    "  [{n}/{total}] {} {} {} ({:.1} s)",
                    past(done.step),
                    done.step.kind.as_str(),
                    done.step.name,
                    done.elapsed.as_secs_f64()
                ),
                Err(err) => format!(
                    "  [{n}/{total}] FAILED {} {}: {err}",
                    done.step.kind.as_str(),
                    done.step.name
                ),
            };
            progress.finished(&done.step.name, line);
        }
    }
}

/// Prints the result of applying `changes`; exit 1 when a step failed. `extra` fields join
/// the JSON answer.
pub fn report(
    global: &Global,
    changes: &Changes,
    outcome: &Outcome,
    extra: Value,
) -> anyhow::Result<Exit> {
    match global.output {
        Output::Json => {
            let failed: Vec<Value> = outcome
                .failed
                .iter()
                .map(|(s, e)| json!({ "kind": s.kind, "name": s.name, "action": s.action, "operation": e.operation, "code": e.code, "error": e.message }))
                .collect();
            let mut answer = json!({
                "ok": outcome.ok(),
                "steps": changes.steps,
                "summary": summary(changes),
                "failed": failed,
                "skipped": outcome.skipped,
            });
            if let (Value::Object(answer), Value::Object(extra)) = (&mut answer, extra) {
                answer.extend(extra);
            }
            out::json(&answer)?;
        }
        Output::Text => {
            for (step, err) in &outcome.failed {
                note!(
                    "error: {} {} was not {}: {err}",
                    step.kind.as_str(),
                    step.name,
                    past(step)
                );
            }
            if !outcome.skipped.is_empty() {
                note!("{} step(s) not attempted after the failure; run the command again once it is fixed (it picks up where this run stopped)", outcome.skipped.len());
            } else if outcome.ok() && !changes.is_noop() {
                note!("done: {}", summary_line(changes));
            }
        }
    }
    Ok(if outcome.ok() {
        Exit::Success
    } else {
        Exit::Failure
    })
}
