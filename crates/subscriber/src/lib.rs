//! The deployed subscriber: what runs a flowctl subscription on AWS, inside a unit's binary
//! (the shim's `subscriber` feature). Deploy writes its configuration
//! (`flowctl_protocol::subscriber`); this crate reads it and serves:
//!
//! - an SQS FIFO batch (`batch`, `run`): messages in order per key (message group), each key
//!   stopping at its first failure, reported as partial batch failures so one key never
//!   blocks or reorders another; per-key state in DynamoDB written with a conditional,
//!   versioned transaction that also marks the event applied (`store`); the target invoked
//!   in-process, through `lambda:Invoke` or Step Functions (`target`); retries, KO and park;
//! - a function URL request (`ingest`): a webhook checked and turned into events on the
//!   queues of the subscriptions that take them;
//! - an Amazon MQ for RabbitMQ event of an `amqp` source (`mq`): its messages read as
//!   `flowctl dev` reads them and put on the subscriptions' queues in the broker's order;
//! - a scheduled poll of a `poll` or `postgres` source (`poller`): polled as `flowctl dev`
//!   polls it, its events put on the subscriptions' queues, its cursor kept in DynamoDB.
//!
//! The shim calls [`run::Subscriber::from_env`] once per process and
//! [`run::Subscriber::handle`] per SQS batch; [`queue::send`] is how anything here puts an
//! event on a subscription's queue.

pub mod batch;
pub mod config;
pub mod ingest;
pub mod mq;
pub mod poller;
pub mod queue;
pub mod run;
pub mod store;
pub mod target;
