//! Change data capture by polling a function: it is called with `{"cursor": <the stored
//! cursor, null at first>}` and answers `{"events": [...], "cursor": <the new cursor>}`. The
//! events and the new cursor are written in one transaction, so a restart neither loses nor
//! repeats a poll's events. A poll that found events is followed at once; otherwise the next
//! one waits `every` seconds. The request and how the reply is read are
//! `flowctl_protocol::poll`'s, shared with the deployed poller.

use super::Notes;
use crate::dispatch::Invoke;
use crate::intake::Intake;
use crate::Incoming;
use flowctl_lang::manifest::events::{Poll, Target, DEFAULT_POLL_EVERY};
use flowctl_protocol::poll::{poll_reply, poll_request, stored_poll_cursor};
use serde_json::json;
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
    let invocation = invoker
        .invoke(target, poll_request(&stored_poll_cursor(stored.as_deref())))
        .await;
    let answer = invocation
        .result
        .map_err(|f| format!("{target} failed: {}: {}", f.error, f.cause))?;
    let reply = match poll_reply(&answer, target) {
        Ok(reply) => reply,
        Err(reason) => {
            // Kept, not dropped: the answer is what a developer needs to see to fix the function.
            intake
                .log()
                .reject_now(name, &reason, &answer.to_string(), json!({}))
                .await
                .map_err(|e| e.to_string())?;
            return Err(reason);
        }
    };
    if reply.is_idle(stored.as_deref()) {
        return Ok(0);
    }
    let found = reply.events.len();
    let messages = reply.events.iter().cloned().map(Incoming::new).collect();
    intake
        .submit_batch(name, messages, Some(reply.cursor_text()))
        .await
        .map_err(|e| e.to_string())?;
    Ok(found)
}
