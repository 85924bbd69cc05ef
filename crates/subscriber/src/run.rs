//! One subscription's semantics on AWS, per SQS record and per batch: skip what was applied,
//! hold what arrives while the key is parked, invoke the target, write the state and the
//! `done#` marker in one conditional transaction, schedule a retry by the message's
//! visibility, and on the last failure send the KO event to the KO routes and park or skip.
//! A batch's groups run concurrently, each group's records one by one, stopping at the
//! first failure (`batch` decides what is reported).

use crate::batch::{self, InvalidBatch, Record};
use crate::config::{self, Clients, ConfigError};
use crate::queue::{self, Event, SendError};
use crate::store::{KeyState, Store, StoreError, Write};
use crate::target::{Call, Failure, InProcess, Targets, STATE_MISSING};
use flowctl_protocol::ko;
use flowctl_protocol::subscriber::SubscriberConfig;
use serde_json::{json, Value};
use std::io::Write as _;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The error of a KO'd message whose body is not an event: it is kept (in the KO event, and
/// parked under its message group with `park`) rather than handed back to SQS forever.
pub const INVALID_EVENT: &str = "InvalidEvent";

/// How many times one record is read and run again after its write lost a race, before it
/// is handed back to SQS.
const ROUNDS: usize = 3;

/// Why a record is handed back to SQS.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The target failed; its retry is scheduled (or it ran out of time and will be resumed).
    #[error("{}: {}", .0.error, .0.cause)]
    Failed(Failure),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a KO event could not be sent: {0}")]
    Send(#[from] SendError),
    #[error("the key's state item kept changing under {ROUNDS} attempts to write it")]
    Conflict,
}

/// A subscription's runtime: its configuration and the clients it needs, built once per
/// process and shared by its batches.
#[derive(Clone)]
pub struct Subscriber {
    config: SubscriberConfig,
    sqs: aws_sdk_sqs::Client,
    store: Store,
    targets: Targets,
}

impl Subscriber {
    pub fn new(
        config: SubscriberConfig,
        clients: Clients,
        in_process: Option<Arc<dyn InProcess>>,
    ) -> Subscriber {
        Subscriber {
            store: Store::new(clients.dynamodb, config.table.clone()),
            targets: Targets::new(in_process, clients.lambda, clients.sfn),
            sqs: clients.sqs,
            config,
        }
    }

    /// The subscriber of this Lambda: `FLOWCTL_SUBSCRIBER` and clients over its environment.
    /// `in_process` runs the binary's own functions (a target `{"kind": "in_process"}`).
    pub async fn from_env(
        in_process: Option<Arc<dyn InProcess>>,
    ) -> Result<Subscriber, ConfigError> {
        let config = config::from_env()?;
        Ok(Subscriber::new(
            config,
            Clients::from_env().await,
            in_process,
        ))
    }

    pub fn config(&self) -> &SubscriberConfig {
        &self.config
    }

    /// Serves one SQS batch (Lambda's event for an SQS event source mapping) with `deadline`
    /// the invocation's; answers `{"batchItemFailures": […]}`. `Err` only when the payload is
    /// no SQS batch at all.
    pub async fn handle(&self, event: &Value, deadline: SystemTime) -> Result<Value, InvalidBatch> {
        let plan = batch::plan(event)?;
        for unusable in &plan.unusable {
            self.log(&format!(
                "record {} handed back: {}",
                unusable
                    .message_id
                    .as_deref()
                    .unwrap_or("(without messageId)"),
                unusable.reason
            ));
        }
        let runs = plan.groups.iter().map(|group| async move {
            for (i, record) in group.records.iter().enumerate() {
                if let Err(error) = self.run_record(record, deadline).await {
                    self.log(&format!(
                        "message {} (group {}) handed back with the {} after it: {error}",
                        record.message_id,
                        group.id,
                        group.records.len() - i - 1
                    ));
                    return Some(i);
                }
            }
            None
        });
        let outcomes = futures_util::future::join_all(runs).await;
        let failed: Vec<&str> = plan
            .unusable_ids()
            .chain(
                plan.groups
                    .iter()
                    .zip(outcomes)
                    .filter_map(|(group, first)| first.map(|i| group.failed_from(i)))
                    .flatten(),
            )
            .collect();
        Ok(batch::response(failed))
    }

    /// One record, as the spec writes it. `Ok` deletes it from the queue (applied, held,
    /// or KO'd); `Err` hands it back.
    pub async fn run_record(
        &self,
        record: &Record,
        deadline: SystemTime,
    ) -> Result<(), RecordError> {
        let event = match Event::parse(&record.body) {
            Ok(event) => event,
            Err(reason) => return self.invalid(record, reason).await,
        };
        let (key, id) = (event.key.as_str(), event.id.as_str());
        for _ in 0..ROUNDS {
            let (read, done) =
                futures_util::future::join(self.store.read(key), self.store.is_done(key, id)).await;
            let (read, done) = (read?, done?);
            if done || read.last_event.as_deref() == Some(id) {
                self.log(&format!(
                    "event {id} (key {key}) is done already (applied, or skipped after its KO): nothing run"
                ));
                return Ok(());
            }
            if read.parked && !event.released {
                if self.store.park(key, &read, &record.body).await? == Write::Written {
                    self.log(&format!(
                        "event {id} parked as #{} behind key {key}'s KO",
                        read.park_seq + 1
                    ));
                    return Ok(());
                }
                continue;
            }
            let attempt = read.attempts_of(id).saturating_add(1);
            let outcome = self.invoke(&event, &read, attempt, deadline).await;
            match outcome {
                Ok(new_state) => {
                    match self.store.apply(key, &read, id, new_state.as_ref()).await? {
                        Write::Written => return Ok(()),
                        Write::Conflict if self.store.is_done(key, id).await? => {
                            self.log(&format!(
                                "event {id} (key {key}) was applied by another delivery meanwhile"
                            ));
                            return Ok(());
                        }
                        Write::Conflict => continue,
                    }
                }
                Err(failure) if !failure.counts => return Err(RecordError::Failed(failure)),
                Err(failure) => return self.failed(record, &event, &read, attempt, failure).await,
            }
        }
        Err(RecordError::Conflict)
    }

    /// Invokes the target; with state, the new state it answers.
    async fn invoke(
        &self,
        event: &Event,
        read: &KeyState,
        attempt: u32,
        deadline: SystemTime,
    ) -> Result<Option<Value>, Failure> {
        let payload = if self.config.state {
            json!({ "event": event.for_target(), "state": read.state })
        } else {
            event.for_target()
        };
        let call = Call {
            event_id: &event.id,
            attempt,
            payload,
            deadline,
        };
        let answer = self.targets.invoke(&self.config.target, call).await?;
        if !self.config.state {
            return Ok(None);
        }
        match answer.get("state") {
            Some(state) => Ok(Some(state.clone())),
            None => Err(Failure::new(
                STATE_MISSING,
                format!(
                    "subscription {} keeps state, but its target answered without `state`",
                    self.config.subscription
                ),
            )),
        }
    }

    /// A counted failure: a retry later (the attempt recorded, the message's visibility set
    /// to the backoff), or KO when retries are spent.
    async fn failed(
        &self,
        record: &Record,
        event: &Event,
        read: &KeyState,
        attempt: u32,
        failure: Failure,
    ) -> Result<(), RecordError> {
        let (key, id) = (event.key.as_str(), event.id.as_str());
        let retry = self.config.retry;
        if attempt <= retry.max {
            if self.store.record_attempt(key, read, id, attempt).await? == Write::Conflict {
                // Another delivery wrote meanwhile; this one's count is lost, not its retry.
                self.log(&format!(
                    "attempt {attempt} of event {id} not recorded: the key changed"
                ));
            }
            let delay = retry.delay_seconds(attempt);
            self.back_off(record, delay).await;
            self.log(&format!(
                "event {id} (key {key}) failed (attempt {attempt} of {}): {}: {}; retrying in {delay} s",
                retry.max + 1,
                failure.error,
                failure.cause
            ));
            return Err(RecordError::Failed(failure));
        }
        self.send_ko(key, event.for_target(), &failure, attempt, id)
            .await?;
        let written = if self.config.park {
            self.store.park(key, read, &record.body).await?
        } else {
            self.store.skip(key, read, id).await?
        };
        if written == Write::Conflict {
            return Err(RecordError::Conflict);
        }
        self.log(&format!(
            "event {id} (key {key}) KO after {attempt} attempts: {}: {}; {}",
            failure.error,
            failure.cause,
            if self.config.park {
                "key parked"
            } else {
                "skipped"
            }
        ));
        Ok(())
    }

    /// A message whose body is no event: KO'd with [`INVALID_EVENT`] (the body in the KO
    /// event) and, with `park`, held under its message group; never handed back to loop.
    async fn invalid(&self, record: &Record, reason: String) -> Result<(), RecordError> {
        let failure = Failure::new(INVALID_EVENT, reason);
        let key = record.group.as_str();
        let body = Value::String(record.body.clone());
        self.send_ko(key, body, &failure, 0, &record.message_id)
            .await?;
        if self.config.park {
            let read = self.store.read(key).await?;
            if self.store.park(key, &read, &record.body).await? == Write::Conflict {
                return Err(RecordError::Conflict);
            }
        }
        self.log(&format!(
            "message {} is not an event ({}): KO{}; its body: {}",
            record.message_id,
            failure.cause,
            if self.config.park { ", parked" } else { "" },
            record.body
        ));
        Ok(())
    }

    /// The KO event (`{"event","error","cause","attempts","subscription"}`, source
    /// `ko:<subscription>`, type `ko`) on every KO route.
    async fn send_ko(
        &self,
        key: &str,
        event: Value,
        failure: &Failure,
        attempts: u32,
        id: &str,
    ) -> Result<(), SendError> {
        let ko = ko_event(
            &self.config.subscription,
            key,
            id,
            event,
            failure,
            attempts,
            now_ms(),
        );
        for route in &self.config.ko_routes {
            queue::send_to_route(&self.sqs, route, &ko).await?;
        }
        Ok(())
    }

    /// The message comes back after `seconds` (the retry's backoff). If SQS refuses, it comes
    /// back after the queue's visibility timeout instead: later, never lost.
    async fn back_off(&self, record: &Record, seconds: u32) {
        let result = self
            .sqs
            .change_message_visibility()
            .queue_url(&self.config.queue_url)
            .receipt_handle(&record.receipt_handle)
            .visibility_timeout(i32::try_from(seconds).unwrap_or(i32::MAX))
            .send()
            .await;
        if let Err(error) = result {
            self.log(&format!(
                "sqs:ChangeMessageVisibility on {} for message {}: {}",
                self.config.queue_url,
                record.message_id,
                aws_sdk_sqs::error::DisplayErrorContext(&error)
            ));
        }
    }

    /// One line in the function's log (CloudWatch through stderr); a closed stderr is ignored.
    fn log(&self, line: &str) {
        let _ = writeln!(
            std::io::stderr(),
            "flowctl-subscriber {}: {line}",
            self.config.subscription
        );
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The KO event of `subscription` for the event `id` of `key`, at `ms`: id
/// `<subscription>/<event id>@<unix ms>`, the same key.
pub fn ko_event(
    subscription: &str,
    key: &str,
    id: &str,
    event: Value,
    failure: &Failure,
    attempts: u32,
    ms: i64,
) -> Event {
    Event {
        source: ko::ko_source(subscription),
        event_type: ko::KO_TYPE.into(),
        id: ko::ko_event_id(subscription, id, ms),
        key: key.to_string(),
        accepted_at: flowctl_protocol::calendar::rfc3339_millis(ms),
        data: ko::ko_event_data(
            subscription,
            event,
            &failure.error,
            &failure.cause,
            attempts,
        ),
        released: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ko_events_carry_the_failure_and_keep_the_key() {
        let ko = ko_event(
            "book",
            "b-1",
            "r-17",
            json!({"id": "r-17"}),
            &Failure::new("PaymentDeclined", "card refused"),
            4,
            1_700_000_000_000,
        );
        assert_eq!(ko.source, "ko:book");
        assert_eq!(ko.event_type, "ko");
        assert_eq!(ko.id, "book/r-17@1700000000000");
        assert_eq!(ko.key, "b-1");
        assert_eq!(ko.accepted_at, "2023-11-14T22:13:20.000Z");
        assert_eq!(
            ko.data,
            json!({"event": {"id": "r-17"}, "error": "PaymentDeclined", "cause": "card refused",
                   "attempts": 4, "subscription": "book"})
        );
        assert_eq!(
            flowctl_protocol::subscriber::deduplication_id(&ko.id),
            ko.id
        );
    }
}
