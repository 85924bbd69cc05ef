//! A RabbitMQ (AMQP 0-9-1) queue as a source: one consumer with manual acknowledgement.
//!
//! Each delivery is submitted to the intake as it arrives (so the queue's order is the
//! acceptance order) and acknowledged once its commit has landed: the broker keeps every
//! message the log does not have yet. Submits are pipelined: up to `prefetch` deliveries are
//! in flight, and the acknowledgements of the commits that resolved together go out as one
//! `basic.ack` with `multiple`. A log failure nacks the message (requeued) and reconnects
//! after a back-off, so nothing after it is acknowledged out of order; a lost connection is
//! retried forever (0.5 s doubling to 10 s), with a note each time. Redeliveries of messages
//! the log already has are deduplicated by the intake (source, id) and acknowledged.

use super::{
    broker_url, reconnecting, shown_address, Backoff, Failure, Notes, Session, SourceError,
};
use crate::event::Incoming;
use crate::intake::{headers_json, Intake};
use crate::log::LogError;
use futures_util::stream::{FuturesOrdered, StreamExt};
use futures_util::FutureExt;
use lapin::acker::Acker;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use tokio::sync::watch;

use flowctl_lang::manifest::events::Amqp;

/// Unacknowledged messages the broker may send ahead, unless the manifest says otherwise.
pub const DEFAULT_PREFETCH: u16 = 1000;

/// Consumes `config.queue` into `intake` as source `name` until `shutdown` becomes true; then
/// stops consuming, acknowledges what the log took, and closes the connection.
pub async fn run(
    name: String,
    config: Amqp,
    intake: Intake,
    notes: Notes,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), SourceError> {
    let url = broker_url(&name, config.url.as_deref(), config.url_env.as_deref())?;
    let address = shown_address(&url);
    let consumer = Consumer {
        url: &url,
        name: &name,
        config: &config,
        intake: &intake,
        notes: &notes,
        address: &address,
    };
    reconnecting("amqp", &name, &notes, &mut shutdown, &consumer).await
}

/// lapin's connection settings on tokio (its executor and reactor): every AMQP connection of
/// flowctl's, its tests' and its benchmark's.
pub fn connection_properties() -> ConnectionProperties {
    ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio::current())
}

struct Consumer<'a> {
    url: &'a str,
    name: &'a str,
    config: &'a Amqp,
    intake: &'a Intake,
    notes: &'a Notes,
    address: &'a str,
}

impl Session for Consumer<'_> {
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

/// A submitted delivery: its acker, and the commit to wait for.
type InFlight = Pin<Box<dyn Future<Output = (Acker, Result<(), LogError>)> + Send>>;

impl Consumer<'_> {
    /// One connection's life: `Ok` on shutdown, `Err` says why it ended otherwise.
    async fn connected(
        &self,
        url: &str,
        shutdown: &mut watch::Receiver<bool>,
        backoff: &mut Backoff,
    ) -> Result<(), String> {
        let (name, queue, address) = (self.name, self.config.queue.as_str(), self.address);
        let properties =
            connection_properties().with_connection_name(format!("flowctl {name}").into());
        let connection = Connection::connect(url, properties)
            .await
            .map_err(|e| format!("cannot connect to {address} ({e})"))?;
        let lost = |e: lapin::Error| format!("connection lost ({e})");
        let mut channel = connection.create_channel().await.map_err(lost)?;
        // Passive first: an existing queue is used as it is (whatever its arguments); a
        // missing one is declared durable. The failed passive declare closes its channel.
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        if channel
            .queue_declare(queue, passive, FieldTable::default())
            .await
            .is_err()
        {
            channel = connection.create_channel().await.map_err(lost)?;
            let durable = QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            };
            channel
                .queue_declare(queue, durable, FieldTable::default())
                .await
                .map_err(|e| format!("cannot declare the queue `{queue}` ({e})"))?;
        }
        let prefetch = self.config.prefetch.unwrap_or(DEFAULT_PREFETCH);
        channel
            .basic_qos(prefetch, BasicQosOptions::default())
            .await
            .map_err(lost)?;
        let tag = format!("flowctl-{name}");
        let mut deliveries = channel
            .basic_consume(
                queue,
                &tag,
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| format!("cannot consume the queue `{queue}` ({e})"))?;
        (self.notes)(format!(
            "amqp {name}: connected to {address}, consuming queue {queue}"
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
                delivery = deliveries.next() => match delivery {
                    Some(Ok(delivery)) => in_flight.push_back(self.submit(delivery)),
                    Some(Err(e)) => break Some(lost(e)),
                    None => break Some("the broker cancelled the consumer".to_string()),
                },
            }
        };
        if let Some(reason) = ended {
            // Whatever is still unacknowledged goes back to the queue when the connection
            // closes; what the log already has is deduplicated when it comes again.
            let _ = connection.close(320, "flowctl: reconnecting").await;
            return Err(reason);
        }
        // Shutdown: no new deliveries; the ones submitted are acknowledged once committed
        // (those received but not submitted are requeued by the broker on close).
        let _ = channel
            .basic_cancel(&tag, BasicCancelOptions::default())
            .await;
        let mut outcome = Ok(());
        while let Some(done) = in_flight.next().await {
            if let Err(reason) = acknowledge(done, &mut in_flight).await {
                outcome = Err(reason);
                break;
            }
        }
        let _ = channel.close(200, "flowctl: stopping").await;
        let _ = connection.close(200, "flowctl: stopping").await;
        if let Err(reason) = outcome {
            (self.notes)(format!("amqp {name}: stopped ({reason})"));
        } else {
            (self.notes)(format!("amqp {name}: stopped"));
        }
        Ok(())
    }

    /// Sends one delivery to the log now (in arrival order); resolves with its acker once
    /// committed. A body that is not JSON is kept as rejected, with the reason.
    fn submit(&self, delivery: Delivery) -> InFlight {
        let Delivery {
            properties,
            data,
            acker,
            ..
        } = delivery;
        let headers = headers(&properties);
        match serde_json::from_slice::<Value>(&data) {
            Ok(payload) => {
                let incoming = Incoming {
                    payload,
                    default_id: properties
                        .message_id()
                        .as_ref()
                        .map(|id| id.as_str().to_string())
                        .filter(|id| !id.is_empty()),
                    default_key: None,
                    headers,
                };
                let committed = self.intake.submit(self.name, incoming);
                Box::pin(committed.map(move |result| (acker, result.map(drop))))
            }
            Err(e) => {
                let committed = self.intake.log().reject_now(
                    self.name,
                    &format!("the message body is not JSON: {e}"),
                    &String::from_utf8_lossy(&data),
                    headers_json(&headers),
                );
                Box::pin(committed.map(move |result| (acker, result.map(drop))))
            }
        }
    }
}

/// Acknowledges a resolved delivery together with every one after it that has resolved too
/// (one `basic.ack` with `multiple`: they are consecutive, in delivery order). A log failure
/// nacks that delivery (requeued) and ends the connection, so nothing later is acknowledged
/// before it.
async fn acknowledge(
    (mut acker, mut result): (Acker, Result<(), LogError>),
    in_flight: &mut FuturesOrdered<InFlight>,
) -> Result<(), String> {
    let mut several = false;
    while result.is_ok() {
        match in_flight.next().now_or_never() {
            Some(Some((next_acker, next_result))) => {
                if next_result.is_err() {
                    // Acknowledge what came before it, then nack it.
                    ack(&acker, several).await?;
                    (acker, result) = (next_acker, next_result);
                    several = false;
                    break;
                }
                (acker, result, several) = (next_acker, next_result, true);
            }
            _ => break,
        }
    }
    match result {
        Ok(()) => ack(&acker, several).await,
        Err(e) => {
            let requeue = BasicNackOptions {
                requeue: true,
                multiple: false,
            };
            let _ = acker.nack(requeue).await;
            Err(format!("the event log failed ({e})"))
        }
    }
}

async fn ack(acker: &Acker, multiple: bool) -> Result<(), String> {
    acker
        .ack(BasicAckOptions { multiple })
        .await
        .map(drop)
        .map_err(|e| format!("connection lost while acknowledging ({e})"))
}

/// A message's properties as headers: `message_id`, `type`, `correlation_id`, `app_id`, and
/// the headers table's entries that are text or numbers.
fn headers(properties: &BasicProperties) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    for (name, value) in [
        ("message_id", properties.message_id()),
        ("type", properties.kind()),
        ("correlation_id", properties.correlation_id()),
        ("app_id", properties.app_id()),
    ] {
        if let Some(value) = value {
            headers.push((name.to_string(), value.as_str().to_string()));
        }
    }
    if let Some(table) = properties.headers() {
        for (name, value) in table.inner() {
            let text = match value {
                AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
                AMQPValue::ShortString(s) => s.as_str().to_string(),
                AMQPValue::ShortShortInt(n) => n.to_string(),
                AMQPValue::ShortShortUInt(n) => n.to_string(),
                AMQPValue::ShortInt(n) => n.to_string(),
                AMQPValue::ShortUInt(n) => n.to_string(),
                AMQPValue::LongInt(n) => n.to_string(),
                AMQPValue::LongUInt(n) => n.to_string(),
                AMQPValue::LongLongInt(n) => n.to_string(),
                _ => continue,
            };
            headers.push((name.as_str().to_string(), text));
        }
    }
    headers
}
