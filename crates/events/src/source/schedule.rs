//! Schedules: an event at each time an EventBridge-style `rate(…)`/`cron(…)` expression
//! names (UTC). The event's id is `<source>@<scheduled time>`, so a restart within the same
//! second cannot fire twice; fires missed while `dev` was stopped are not made up (as
//! EventBridge Scheduler without a flexible window), only the next one is awaited.

use super::{Notes, SourceError};
use crate::intake::Intake;
use crate::time;
use crate::Incoming;
use flowctl_lang::manifest::events::Schedule;
use flowctl_lang::manifest::schedule::Expression;
use serde_json::{json, Value};
use tokio::sync::watch;

/// Fires until `shutdown` turns true.
pub async fn run(
    name: String,
    config: Schedule,
    intake: Intake,
    notes: Notes,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), SourceError> {
    let expression =
        Expression::parse(&config.expression).map_err(|why| SourceError::config(&name, why))?;
    let mut after = time::now_ms() / 1000;
    loop {
        let Some(next) = expression.next_after(after) else {
            notes(format!(
                "schedule {name}: `{}` fires no more",
                config.expression
            ));
            return Ok(());
        };
        let wait = (next * 1000 - time::now_ms()).max(0) as u64;
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_millis(wait)) => {}
            _ = shutdown.changed() => return Ok(()),
        }
        let at = time::rfc3339_millis(next * 1000);
        let mut incoming = Incoming::new(json!({
            "scheduled_time": at,
            "payload": config.payload.clone().unwrap_or(Value::Object(Default::default())),
        }));
        incoming.default_id = Some(format!("{name}@{at}"));
        if let Err(e) = intake.submit(&name, incoming).await {
            notes(format!(
                "schedule {name}: the fire at {at} could not be written: {e}"
            ));
        }
        after = next;
    }
}
