//! Where sources hand in messages: each is identified by its source's locators and either
//! appended to the log (then acknowledged) or kept as rejected with its reason.
//!
//! Architecture Invariant: `submit` sends to the log before it returns, so the order of
//! `submit` calls is the acceptance order even when the caller pipelines (a broker consumer
//! submits many messages, then acks each as its commit lands).

use crate::event::{identify, Incoming};
use crate::log::{Accepted, Log, LogError};
use flowctl_lang::manifest::events::Sources;
use serde_json::Value;
use std::future::Future;
use std::sync::Arc;

/// What became of one submitted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intook {
    Accepted(Accepted),
    /// Kept in the rejected list with this reason.
    Rejected {
        reason: String,
    },
}

/// The sources' door into the log.
#[derive(Clone)]
pub struct Intake {
    log: Log,
    sources: Arc<Sources>,
}

impl Intake {
    pub fn new(log: Log, sources: Sources) -> Intake {
        Intake {
            log,
            sources: Arc::new(sources),
        }
    }

    pub fn log(&self) -> &Log {
        &self.log
    }

    pub fn sources(&self) -> &Sources {
        &self.sources
    }

    /// Identifies and appends one message; resolves once it is on disk (accepted, a
    /// duplicate, or rejected with its reason).
    pub fn submit(
        &self,
        source: &str,
        incoming: Incoming,
    ) -> impl Future<Output = Result<Intook, LogError>> + Send + 'static {
        let step = self.enqueue(source, incoming);
        async move {
            match step {
                Step::Accept(wait) => {
                    Ok(Intook::Accepted(wait.await?.pop().ok_or(LogError::Closed)?))
                }
                Step::Reject(wait, reason) => {
                    wait.await?;
                    Ok(Intook::Rejected { reason })
                }
            }
        }
    }

    fn enqueue(&self, source: &str, incoming: Incoming) -> Step {
        // The payload as the log stores it, written once here (on the source's task, not on
        // the log's one writer thread) and kept for the rejected record, so the payload itself
        // is never copied.
        let data = incoming.payload.to_string();
        let headers = (!incoming.headers.is_empty()).then(|| incoming.headers.clone());
        let identified = match self.sources.get(source) {
            Some(config) => identify(source, config, incoming),
            None => Err(crate::event::Rejection {
                reason: format!("no source `{source}` in the manifest"),
            }),
        };
        match identified {
            Ok(event) => Step::Accept(Box::pin(self.log.accept_written(vec![(event, data)], None))),
            Err(rejection) => {
                let log = self.log.clone();
                let (source, reason) = (source.to_string(), rejection.reason);
                let headers = headers_json(headers.as_deref().unwrap_or_default());
                // Sent now (so in order), awaited later.
                let receiver = log.reject_now(&source, &reason, &data, headers);
                Step::Reject(Box::pin(receiver), reason)
            }
        }
    }

    /// A poller's answer: every message, then the source's new cursor, in one transaction
    /// (rejections are written first, so the cursor never passes a message not kept).
    pub async fn submit_batch(
        &self,
        source: &str,
        messages: Vec<Incoming>,
        cursor: Option<String>,
    ) -> Result<Vec<Intook>, LogError> {
        let config = self.sources.get(source);
        let mut events = Vec::new();
        let mut slots = Vec::new();
        let mut rejections = Vec::new();
        for incoming in messages {
            let data = incoming.payload.to_string();
            let headers = (!incoming.headers.is_empty()).then(|| incoming.headers.clone());
            let identified = match config {
                Some(c) => identify(source, c, incoming),
                None => Err(crate::event::Rejection {
                    reason: format!("no source `{source}` in the manifest"),
                }),
            };
            match identified {
                Ok(event) => {
                    slots.push(None);
                    events.push((event, data));
                }
                Err(r) => {
                    let wait = self.log.reject_now(
                        source,
                        &r.reason,
                        &data,
                        headers_json(headers.as_deref().unwrap_or_default()),
                    );
                    rejections.push(wait);
                    slots.push(Some(r.reason));
                }
            }
        }
        let accepted = self
            .log
            .accept_written(events, cursor.map(|c| (source.to_string(), c)));
        for wait in rejections {
            wait.await?;
        }
        let mut accepted = accepted.await?.into_iter();
        Ok(slots
            .into_iter()
            .map(|slot| match slot {
                Some(reason) => Intook::Rejected { reason },
                None => Intook::Accepted(accepted.next().unwrap_or(Accepted::Duplicate { seq: 0 })),
            })
            .collect())
    }
}

type Wait<T> = std::pin::Pin<Box<dyn Future<Output = Result<T, LogError>> + Send>>;

enum Step {
    Accept(Wait<Vec<Accepted>>),
    Reject(Wait<i64>, String),
}

/// Headers as the log keeps them with a rejected message: `{name: value}`, names lower-case.
pub(crate) fn headers_json(headers: &[(String, String)]) -> Value {
    Value::Object(
        headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), Value::String(v.clone())))
            .collect(),
    )
}
