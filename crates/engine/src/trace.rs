//! An execution history → an indented timeline people can read (`flowctl invoke --trace`),
//! or JSON records (`--output json`).

use crate::HistoryEvent;
use serde_json::{json, Value};
use std::time::{Duration, SystemTime};

/// Where a called function ran, for a trace to mark (`local`, `lambda shop-pay`): given the
/// function a Task called, as [`HistoryEvent::called_function`] names it. `None`: unmarked.
pub type Placed<'a> = &'a dyn Fn(&str) -> Option<String>;

/// One line per state entered (with its duration), failures and retries under it, and the
/// execution's end. States inside a Parallel or Map are indented under it.
pub fn timeline(history: &[HistoryEvent], color: bool) -> String {
    timeline_placed(history, color, &|_| None)
}

/// [`timeline`], each Task's line marked with where its function ran (a hybrid run).
pub fn timeline_placed(history: &[HistoryEvent], color: bool, placed: Placed<'_>) -> String {
    let Some(first) = history.first() else {
        return String::new();
    };
    let paint = |code: &str, text: &str| {
        if color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    };
    let since = |t: SystemTime| t.duration_since(first.timestamp).unwrap_or_default();
    let mut out = String::new();
    let mut open_containers: Vec<&str> = Vec::new();
    let mut consumed_exits = vec![false; history.len()];
    for (i, event) in history.iter().enumerate() {
        let kind = event.kind.to_string();
        let depth = open_containers.len();
        let indent = "  ".repeat(depth);
        let at = format_duration(since(event.timestamp));
        if let Some(state_type) = kind.strip_suffix("StateEntered") {
            let name = event.state.as_deref().unwrap_or_default();
            // The matching exit: the first unconsumed `<Type>StateExited` of the same state.
            let exit = (i + 1..history.len()).find(|&j| {
                !consumed_exits[j]
                    && history[j].kind.to_string() == format!("{state_type}StateExited")
                    && history[j].state == event.state
            });
            let took = match exit {
                Some(j) => {
                    consumed_exits[j] = true;
                    format_duration(
                        history[j]
                            .timestamp
                            .duration_since(event.timestamp)
                            .unwrap_or_default(),
                    )
                }
                // A Fail state has no exit event; any other state without one failed.
                None if state_type == "Fail" => String::new(),
                None => paint("31", "failed"),
            };
            let attempts = exit.filter(|_| state_type == "Task").map_or(0, |j| {
                history[i..j]
                    .iter()
                    // Only this state's own: concurrent branches interleave their events.
                    .filter(|e| e.state == event.state)
                    .filter(|e| {
                        matches!(
                            e.kind.to_string().as_str(),
                            "TaskScheduled" | "LambdaFunctionScheduled"
                        )
                    })
                    .count()
            });
            let retries = if attempts > 1 {
                format!("  ({attempts} attempts)")
            } else {
                String::new()
            };
            // The state's first call says where it ran (a function has one placement).
            let ran = (state_type == "Task")
                .then(|| {
                    history[i + 1..]
                        .iter()
                        .filter(|e| e.state == event.state)
                        .find_map(HistoryEvent::called_function)
                })
                .flatten()
                .and_then(placed)
                .map(|label| format!("  {}", paint("36", &format!("@ {label}"))))
                .unwrap_or_default();
            out.push_str(&format!(
                "{at:>10}  {indent}{}  {}  {took}{retries}{ran}\n",
                paint("1", name),
                paint("2", state_type)
            ));
            if matches!(state_type, "Parallel" | "Map") {
                open_containers.push(name);
            }
        } else if kind.ends_with("StateExited") {
            if matches!(kind.as_str(), "ParallelStateExited" | "MapStateExited")
                && event.state.as_deref() == open_containers.last().copied()
            {
                open_containers.pop();
            }
        } else if kind.ends_with("Failed")
            || kind.ends_with("TimedOut")
            || kind == "ExecutionAborted"
        {
            let details = event.details();
            let error = details.get("error").and_then(Value::as_str).unwrap_or("");
            let cause = details.get("cause").and_then(Value::as_str).unwrap_or("");
            let cause = if cause.chars().count() > 160 {
                format!("{}…", cause.chars().take(160).collect::<String>())
            } else {
                cause.to_string()
            };
            let line = format!(
                "✗ {kind}: {error}{}",
                if cause.is_empty() {
                    String::new()
                } else {
                    format!(" — {cause}")
                }
            );
            out.push_str(&format!("{at:>10}  {indent}  {}\n", paint("31", &line)));
        } else if kind == "ExecutionSucceeded" {
            out.push_str(&format!(
                "{at:>10}  {}\n",
                paint("32", "✓ ExecutionSucceeded")
            ));
        }
    }
    out
}

/// The history as JSON records: `{id, previous_event_id, type, state, elapsed_ms, details}`.
pub fn events_json(history: &[HistoryEvent]) -> Value {
    events_json_placed(history, &|_| None)
}

/// [`events_json`], each Lambda `…Scheduled` record with `ran`: where its function ran.
pub fn events_json_placed(history: &[HistoryEvent], placed: Placed<'_>) -> Value {
    let start = history.first().map(|e| e.timestamp);
    Value::Array(
        history
            .iter()
            .map(|e| {
                let elapsed = start
                    .and_then(|s| e.timestamp.duration_since(s).ok())
                    .unwrap_or_default();
                let mut record = json!({
                    "id": e.id,
                    "previous_event_id": e.previous_event_id,
                    "type": e.kind.to_string(),
                    "state": e.state.as_deref(),
                    "elapsed_ms": elapsed.as_secs_f64() * 1000.0,
                    "details": e.details(),
                });
                if let Some(ran) = e.called_function().and_then(placed) {
                    record["ran"] = Value::String(ran);
                }
                record
            })
            .collect(),
    )
}

/// `+12.3ms`, `+1.20s`.
fn format_duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1000.0 {
        format!("{ms:.1}ms")
    } else {
        format!("{:.2}s", ms / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{execute, load, ExecutionOptions, InProcess, TaskError};
    use serde_json::json;

    /// Runs `doc` with a function `F` that fails twice with `Flaky`, then answers.
    fn history(doc: serde_json::Value) -> Vec<HistoryEvent> {
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let invoker = InProcess::new().sync("G", Ok).sync("F", move |v| {
            if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2 {
                Err(TaskError::from_lambda("Flaky", "try again"))
            } else {
                Ok(v)
            }
        });
        let machine = load(&doc).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(execute(
            &machine,
            json!({"a": 1}),
            &invoker,
            &ExecutionOptions::default(),
        ))
        .history
    }

    #[test]
    fn a_placed_timeline_marks_each_task_with_where_its_function_ran() {
        let doc = json!({
            "StartAt": "Call",
            "States": {
                "Call": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:F",
                    "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1}], "Next": "Other"},
                "Other": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": "G", "Payload.$": "$"}, "Next": "Done"},
                "Done": {"Type": "Pass", "End": true}
            }
        });
        let history = history(doc);
        let placed = |function: &str| {
            Some(
                if function.ends_with(":F") {
                    "lambda shop-F"
                } else {
                    "local"
                }
                .to_string(),
            )
        };
        let text = timeline_placed(&history, false, &placed);
        let line = |state: &str| {
            text.lines()
                .find(|l| l.contains(state))
                .unwrap()
                .to_string()
        };
        assert!(
            line("Call  Task").ends_with("(3 attempts)  @ lambda shop-F"),
            "{text}"
        );
        assert!(line("Other  Task").ends_with("@ local"), "{text}");
        assert!(!line("Done  Pass").contains('@'), "{text}");
        assert_eq!(timeline(&history, false).matches('@').count(), 0);
        let records = events_json_placed(&history, &placed);
        let ran: Vec<(&str, &str)> = records
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| Some((r["type"].as_str()?, r.get("ran")?.as_str()?)))
            .collect();
        assert_eq!(
            ran,
            [
                ("LambdaFunctionScheduled", "lambda shop-F"),
                ("LambdaFunctionScheduled", "lambda shop-F"),
                ("LambdaFunctionScheduled", "lambda shop-F"),
                ("TaskScheduled", "local")
            ]
        );
    }

    #[test]
    fn timeline_shows_states_retries_nesting_and_the_end() {
        let doc = json!({
            "StartAt": "Both",
            "States": {
                "Both": {
                    "Type": "Parallel",
                    "Branches": [
                        {"StartAt": "Call", "States": {"Call": {
                            "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:F",
                            "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 2, "BackoffRate": 1.0}],
                            "End": true}}},
                        {"StartAt": "Quiet", "States": {"Quiet": {"Type": "Pass", "End": true}}},
                        {"StartAt": "Other", "States": {"Other": {
                            "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:G", "End": true}}}
                    ],
                    "Next": "Stop"
                },
                "Stop": {"Type": "Fail", "Error": "Done", "Cause": "on purpose"}
            }
        });
        let text = timeline(&history(doc), false);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].ends_with("  Both  Parallel  4.00s"), "{text}");
        assert!(
            text.contains("    Call  Task  4.00s  (3 attempts)"),
            "{text}"
        );
        assert!(text.contains("    Quiet  Pass"), "{text}");
        // A concurrent branch's attempts are not counted as another state's.
        let other = text.lines().find(|l| l.contains("Other  Task")).unwrap();
        assert!(!other.contains("attempts"), "{text}");
        assert_eq!(
            text.matches("✗ LambdaFunctionFailed: Flaky").count(),
            2,
            "{text}"
        );
        assert!(
            text.contains("  Stop  Fail  \n"),
            "a Fail state has no duration: {text}"
        );
        assert!(
            text.contains("✗ ExecutionFailed: Done — on purpose"),
            "{text}"
        );
        assert!(!text.contains("\x1b["), "no colour codes when color is off");
        assert!(timeline(&[], true).is_empty());
    }

    #[test]
    fn json_events_carry_type_state_and_elapsed_time() {
        let doc = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
        let events = events_json(&history(doc));
        let types: Vec<&str> = events
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            [
                "ExecutionStarted",
                "PassStateEntered",
                "PassStateExited",
                "ExecutionSucceeded"
            ]
        );
        assert_eq!(events[1]["state"], "P");
        assert_eq!(events[0]["elapsed_ms"], 0.0);
    }
}
