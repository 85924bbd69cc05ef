//! A NATS JetStream stream as a source, through a durable pull consumer
//! (`flowctl-<source>`, explicit acknowledgement).
//!
//! The stream is created over `subject` if it does not exist; the consumer is created (or
//! reused) with `subject` as its filter, so a restart goes on where the last acknowledged
//! message left off. Messages are pulled in batches and each is submitted to the intake as it
//! arrives (stream order is acceptance order) and acknowledged once its commit has landed;
//! submits are pipelined (as many as the consumer's `max_ack_pending` in flight). A message's
//! id is its `Nats-Msg-Id` header, else its stream sequence (which starts again if the stream
//! is deleted and created anew: give messages a `Nats-Msg-Id` or an `id` path when that can
//! happen). A payload that is not JSON is kept as rejected with the reason, and acknowledged.
//! A log failure naks the message (redelivered at once) and reconnects after a back-off; a
//! lost connection is retried forever (0.5 s doubling to 10 s), with a note each time.

use super::{
    broker_url, reconnecting, shown_address, Backoff, Failure, Notes, Session, SourceError,
};
use crate::event::Incoming;
use crate::intake::Intake;
use crate::log::LogError;
use async_nats::jetstream::{self, consumer, message::Acker, stream, AckKind};
use flowctl_lang::manifest::events::Nats;
use futures_util::stream::{FuturesOrdered, StreamExt};
use futures_util::FutureExt;
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use tokio::sync::watch;

/// Messages asked for by one pull.
pub const BATCH: usize = 500;

/// Consumes `config.subject` of the stream `config.stream` into `intake` as source `name`
/// until `shutdown` becomes true; then stops pulling, acknowledges what the log took, and
/// closes the connection.
pub async fn run(
    name: String,
    config: Nats,
    intake: Intake,
    notes: Notes,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), SourceError> {
    let url = broker_url(&name, config.url.as_deref(), config.url_env.as_deref())?;
    let address = shown_address(&url);
    let puller = Puller {
        url: &url,
        name: &name,
        config: &config,
        intake: &intake,
        notes: &notes,
        address: &address,
    };
    reconnecting("nats", &name, &notes, &mut shutdown, &puller).await
}

struct Puller<'a> {
    url: &'a str,
    name: &'a str,
    config: &'a Nats,
    intake: &'a Intake,
    notes: &'a Notes,
    address: &'a str,
}

impl Session for Puller<'_> {
    fn session<'a>(
        &'a self,
        shutdown: &'a mut watch::Receiver<bool>,
        backoff: &'a mut Backoff,
    ) -> crate::dispatch::BoxFuture<'a, Result<(), Failure>> {
        Box::pin(async move {
            self.connected(self.url, shutdown, backoff)
                .await
                .map_err(Failure::Transient)
        })
    }
}

/// A submitted message: its acker, and the commit to wait for.
type InFlight = Pin<Box<dyn Future<Output = (Acker, Result<(), LogError>)> + Send>>;

impl Puller<'_> {
    /// One connection's life: `Ok` on shutdown, `Err` says why it ended otherwise.
    async fn connected(
        &self,
        url: &str,
        shutdown: &mut watch::Receiver<bool>,
        backoff: &mut Backoff,
    ) -> Result<(), String> {
        let (name, address) = (self.name, self.address);
        let (stream_name, subject) = (&self.config.stream, &self.config.subject);
        // The client tries one reconnection of its own at most; then the lost connection ends
        // the session, and the source reconnects with its back-off (and says so).
        let client = async_nats::ConnectOptions::new()
            .name(format!("flowctl {name}"))
            .max_reconnects(1)
            .connect(url)
            .await
            .map_err(|e| format!("cannot connect to {address} ({e})"))?;
        let context = jetstream::new(client.clone());
        let stream = context
            .get_or_create_stream(stream::Config {
                name: stream_name.clone(),
                subjects: vec![subject.clone()],
                ..stream::Config::default()
            })
            .await
            .map_err(|e| format!("cannot get or create the stream `{stream_name}` ({e})"))?;
        let durable = format!("flowctl-{name}");
        let consumer: consumer::PullConsumer = stream
            .get_or_create_consumer(
                &durable,
                consumer::pull::Config {
                    durable_name: Some(durable.clone()),
                    ack_policy: consumer::AckPolicy::Explicit,
                    filter_subject: subject.clone(),
                    ..consumer::pull::Config::default()
                },
            )
            .await
            .map_err(|e| format!("cannot get or create the consumer `{durable}` ({e})"))?;
        let mut messages = consumer
            .stream()
            .max_messages_per_batch(BATCH)
            .messages()
            .await
            .map_err(|e| format!("cannot pull from `{durable}` ({e})"))?;
        (self.notes)(format!(
            "nats {name}: connected to {address}, consuming stream {stream_name} subject {subject} as {durable}"
        ));
        backoff.reset();

        let mut in_flight: FuturesOrdered<InFlight> = FuturesOrdered::new();
        let ended = loop {
            tokio::select! {
                biased;
                _ = super::shutdown_signal(shutdown) => break None,
                Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                    if let Err(reason) = acknowledge(done, &mut in_flight).await {
                        break Some(reason);
                    }
                }
                message = messages.next() => match message {
                    Some(Ok(message)) => in_flight.push_back(self.submit(message)),
                    Some(Err(e)) => break Some(format!("connection lost ({e})")),
                    None => break Some("the consumer's message stream ended".to_string()),
                },
            }
        };
        // No more pulls; what was submitted is acknowledged once committed (a message pulled
        // but not submitted is redelivered after the consumer's ack wait).
        drop(messages);
        let mut outcome = match ended {
            None => Ok(()),
            Some(reason) => Err(reason),
        };
        while let Some(done) = in_flight.next().await {
            if let Err(reason) = acknowledge(done, &mut in_flight).await {
                if outcome.is_ok() {
                    outcome = Err(reason);
                }
            }
        }
        let _ = client.flush().await;
        drop(client);
        match outcome {
            Ok(()) => {
                (self.notes)(format!("nats {name}: stopped"));
                Ok(())
            }
            Err(reason) if super::stopping(shutdown) => {
                (self.notes)(format!("nats {name}: stopped ({reason})"));
                Ok(())
            }
            Err(reason) => Err(reason),
        }
    }

    /// Sends one message to the log now (in arrival order); resolves with its acker once
    /// committed. A payload that is not JSON is kept as rejected, with the reason.
    fn submit(&self, message: jetstream::Message) -> InFlight {
        let sequence = message.info().ok().map(|info| info.stream_sequence);
        let (message, acker) = message.split();
        let mut headers = Vec::new();
        if let Some(map) = &message.headers {
            for (header, values) in map.iter() {
                for value in values {
                    headers.push((header.to_string(), value.as_str().to_string()));
                }
            }
        }
        let default_id = headers
            .iter()
            .find(|(k, v)| k.eq_ignore_ascii_case("Nats-Msg-Id") && !v.is_empty())
            .map(|(_, v)| v.clone())
            .or_else(|| sequence.map(|s| s.to_string()));
        match serde_json::from_slice::<Value>(&message.payload) {
            Ok(payload) => {
                let incoming = Incoming {
                    payload,
                    headers,
                    default_id,
                    default_key: None,
                };
                let committed = self.intake.submit(self.name, incoming);
                Box::pin(committed.map(move |result| (acker, result.map(drop))))
            }
            Err(e) => {
                let headers = Value::Object(
                    headers
                        .iter()
                        .map(|(k, v)| (k.to_ascii_lowercase(), Value::String(v.clone())))
                        .collect(),
                );
                let committed = self.intake.log().reject_now(
                    self.name,
                    &format!("the message payload is not JSON: {e}"),
                    &String::from_utf8_lossy(&message.payload),
                    headers,
                );
                Box::pin(committed.map(move |result| (acker, result.map(drop))))
            }
        }
    }
}

/// Acknowledges a resolved message and then every one after it that has resolved too. A
/// log failure naks that message (redelivered at once) and ends the connection.
async fn acknowledge(
    (acker, result): (Acker, Result<(), LogError>),
    in_flight: &mut FuturesOrdered<InFlight>,
) -> Result<(), String> {
    let mut next = Some((acker, result));
    while let Some((acker, result)) = next.take() {
        match result {
            Ok(()) => acker
                .ack()
                .await
                .map_err(|e| format!("connection lost while acknowledging ({e})"))?,
            Err(e) => {
                let _ = acker.ack_with(AckKind::Nak(None)).await;
                return Err(format!("the event log failed ({e})"));
            }
        }
        next = in_flight.next().now_or_never().flatten();
    }
    Ok(())
}
