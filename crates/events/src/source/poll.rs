//! Change data capture by polling a function: it is called with `{"cursor": <the stored
//! cursor, null at first>}` and answers `{"events": [...], "cursor": <the new cursor>}`. The
//! events and the new cursor are written in one transaction, so a restart neither loses nor
//! repeats a poll's events. A poll that found events is followed at once; otherwise the next
//! one waits `every` seconds.

use super::Notes;
use crate::dispatch::Invoke;
use crate::intake::Intake;
use crate::Incoming;
use flowctl_lang::manifest::events::{Poll, Target, DEFAULT_POLL_EVERY};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Polls until `shutdown` turns true.
pub async fn run(
    name: String,
    config: Poll,
    intake: Intake,
    invoker: Arc<dyn Invoke>,
    notes: Notes,
    mut shutdown: watch::Receiver<bool>,
) {
    let every = Duration::from_secs(config.every.unwrap_or(DEFAULT_POLL_EVERY).into());
    let target = Target::Function(config.function.clone());
    loop {
        if *shutdown.borrow() {
            return;
        }
        let found = match poll_once(&name, &target, &intake, invoker.as_ref()).await {
            Ok(found) => found,
            Err(why) => {
                notes(format!(
                    "poll {name}: {why}; next poll in {} s",
                    every.as_secs()
                ));
                0
            }
        };
        if found == 0 {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// One poll: answers how many events it handed in.
pub async fn poll_once(
    name: &str,
    target: &Target,
    intake: &Intake,
    invoker: &dyn Invoke,
) -> Result<usize, String> {
    let stored = intake.log().cursor(name).await.map_err(|e| e.to_string())?;
    let cursor = stored.as_deref().map_or(Value::Null, |c| {
        serde_json::from_str(c).unwrap_or(Value::Null)
    });
    let invocation = invoker.invoke(target, json!({ "cursor": cursor })).await;
    let answer = invocation
        .result
        .map_err(|f| format!("{target} failed: {}: {}", f.error, f.cause))?;
    let (Some(Value::Array(events)), Some(next)) = (answer.get("events"), answer.get("cursor"))
    else {
        // Kept, not dropped: the answer is what a developer needs to see to fix the function.
        let reason = format!(
            "the poll function must answer {{\"events\": [...], \"cursor\": ...}}; {target} answered something else"
        );
        intake
            .log()
            .reject_now(name, &reason, &answer.to_string(), json!({}))
            .await
            .map_err(|e| e.to_string())?;
        return Err(reason);
    };
    let found = events.len();
    if found == 0
        && Some(next)
            == stored
                .as_deref()
                .and_then(|c| serde_json::from_str::<Value>(c).ok())
                .as_ref()
    {
        return Ok(0);
    }
    let messages = events.iter().cloned().map(Incoming::new).collect();
    intake
        .submit_batch(name, messages, Some(next.to_string()))
        .await
        .map_err(|e| e.to_string())?;
    Ok(found)
}
