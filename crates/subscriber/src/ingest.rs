//! The ingest of a webhook source on AWS: a Lambda function URL request (payload format 2.0)
//! checked and read as `flowctl dev`'s webhook server reads it — the same signature check,
//! the same identification and the same answers — then put on the queue of every subscription
//! that takes it.
//!
//! Answers (JSON bodies): 202 accepted, on every route's queue (`{"accepted", "id",
//! "routes"}`); 400 the body is not JSON (or not base64 when flagged so); 401 a missing or bad
//! signature; 405 not a POST; 413 a body over `MAX_BODY`; 422 the event's type, id or key
//! cannot be read; 500 the function's secret variable is not set; 503 a queue did not take
//! the event (retry later).
//!
//! Where it differs from `flowctl dev`, because there is no log of ours in front of the
//! queues: a rejected request (422) is not kept — the caller gets the reason and its own
//! retry policy applies; a duplicate is not told apart (SQS drops a resent id within its
//! five-minute window, the subscriber's `done#` items later), so it is answered 202 again;
//! a subscription whose own key path finds nothing in the payload gets no message, and the
//! 202 lists it under `rejected` with the reason (`dev` keeps that delivery as rejected).

use crate::queue::{self, Event};
use base64::Engine;
use flowctl_protocol::calendar::rfc3339_millis;
use flowctl_protocol::event::{
    body_not_json, body_too_large, identify, Defaults, Incoming, Locators, MAX_BODY,
    WEBHOOK_TAKES_POST,
};
use flowctl_protocol::signature::{verify, Style};
use flowctl_protocol::subscriber::{IngestConfig, Route};
use serde_json::{json, Value};

/// An answer to a request: its HTTP status and JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    fn error(status: u16, message: impl Into<String>) -> Answer {
        Answer {
            status,
            body: json!({"error": message.into()}),
        }
    }

    /// The function URL response (`statusCode`, `headers`, `body`).
    pub fn response(&self) -> Value {
        json!({
            "statusCode": self.status,
            "headers": {"content-type": "application/json"},
            "body": self.body.to_string(),
        })
    }
}

/// The webhook's secret as this function has it: `None` when the source is not signed,
/// `Some(Err(variable))` when it is but the variable is not set.
pub type Secret<'a> = Option<Result<Vec<u8>, &'a str>>;

/// Serves one function URL request of the webhook source `config` describes: the secret is
/// read from the variable `config.secret_env` names, the clock is the function's. Returns
/// the function URL response.
pub async fn handle(config: &IngestConfig, request: Value, sqs: &aws_sdk_sqs::Client) -> Value {
    let secret = config
        .secret_env
        .as_deref()
        .map(|var| match std::env::var(var) {
            Ok(secret) => Ok(secret.into_bytes()),
            Err(_) => Err(var),
        });
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let answer = match read(config, &request, secret, now_ms) {
        Ok(event) => enqueue(config, &event, sqs).await,
        Err(answer) => answer,
    };
    answer.response()
}

/// Reads a request into the event it carries, accepted at `now_ms` (Unix milliseconds),
/// or the answer that refuses it. Pure: no AWS call.
pub fn read(
    config: &IngestConfig,
    request: &Value,
    secret: Secret<'_>,
    now_ms: i64,
) -> Result<Event, Answer> {
    let method = request["requestContext"]["http"]["method"]
        .as_str()
        .unwrap_or_default();
    if !method.eq_ignore_ascii_case("POST") {
        return Err(Answer::error(405, WEBHOOK_TAKES_POST));
    }
    // A signed source whose secret is missing refuses everything: never accept unsigned.
    let secret = match secret {
        None => None,
        Some(Ok(secret)) => Some(secret),
        Some(Err(var)) => {
            return Err(Answer::error(
                500,
                format!(
                    "the webhook secret variable {var} is not set on this function; set it to the secret the senders sign with"
                ),
            ))
        }
    };
    let headers = headers(request);
    let body = body(request)?;
    if let Some(secret) = secret {
        let style = Style::of_header(config.signature_header.as_deref());
        verify(&secret, style, &headers, &body, now_ms.div_euclid(1000))
            .map_err(|why| Answer::error(401, why))?;
    }
    let payload: Value =
        serde_json::from_slice(&body).map_err(|e| Answer::error(400, body_not_json(&e)))?;
    let incoming = Incoming {
        payload,
        headers,
        ..Incoming::default()
    };
    let locators = Locators {
        event_type: config.event_type.as_deref(),
        id: config.id.as_deref(),
        key: config.key.as_deref(),
    };
    let identity =
        identify(&config.source, locators, Defaults::Webhook, &incoming).map_err(|rejection| {
            Answer {
                status: 422,
                body: json!({"error": rejection.reason, "rejected": true}),
            }
        })?;
    Ok(Event {
        source: config.source.clone(),
        event_type: identity.event_type,
        id: identity.id,
        key: identity.key,
        accepted_at: rfc3339_millis(now_ms),
        data: incoming.payload,
        released: false,
    })
}

/// Puts `event` on the queue of every route that takes its type (deduplicated by its id),
/// answering 202 only once every queue has it; else 503 with the first failure, and the
/// caller's retry sends it again (the same deduplication id, so no queue holds it twice
/// within SQS's window, and the subscriber's `done#` items catch a later one).
pub async fn enqueue(config: &IngestConfig, event: &Event, sqs: &aws_sdk_sqs::Client) -> Answer {
    match deliver(&config.routes, event, sqs).await {
        Ok(delivered) => {
            let mut body =
                json!({"accepted": true, "id": event.id, "routes": delivered.sent.len()});
            if !delivered.unkeyed.is_empty() {
                let rejected = delivered
                    .unkeyed
                    .iter()
                    .map(|(route, reason)| {
                        json!({"subscription": route.subscription, "error": reason})
                    })
                    .collect();
                body["rejected"] = Value::Array(rejected);
            }
            Answer { status: 202, body }
        }
        Err(DeliveryError::TooLarge { bytes }) => Answer::error(
            413,
            format!(
                "{} with the event's own fields ({bytes} bytes)",
                body_too_large()
            ),
        ),
        Err(DeliveryError::Send(error)) => Answer::error(503, format!("{error}; retry later")),
    }
}

/// Where an event went: the routes whose queues have it, and the routes that take its type
/// but whose own key path finds nothing in it, with why (they got nothing).
#[derive(Debug)]
pub struct Delivered<'r> {
    pub sent: Vec<&'r Route>,
    pub unkeyed: Vec<(&'r Route, String)>,
}

/// Why an event is not on every queue that takes it.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The message of some route would be over [`MAX_BODY`]: nothing was sent.
    #[error("the event is {bytes} bytes with its own fields, over the {MAX_BODY} bytes of an SQS message")]
    TooLarge { bytes: usize },
    /// A queue refused it (the others may have it: send again, with the same deduplication id).
    #[error(transparent)]
    Send(queue::SendError),
}

/// Puts `event` on the queue of every route that takes it, all at once (its id as the
/// deduplication id, the route's key as the group), once it knows each message fits. How the
/// webhook and the Amazon MQ ingest both send.
pub async fn deliver<'r>(
    routes: &'r [Route],
    event: &Event,
    sqs: &aws_sdk_sqs::Client,
) -> Result<Delivered<'r>, DeliveryError> {
    let mut sends = Vec::new();
    let mut unkeyed = Vec::new();
    for route in routes {
        match queue::routed(route, event) {
            Ok(None) => {}
            Ok(Some(routed)) => sends.push((route, routed)),
            Err(reason) => unkeyed.push((route, reason)),
        }
    }
    if let Some(bytes) = sends
        .iter()
        .map(|(_, m)| m.body().len())
        .find(|&bytes| bytes > MAX_BODY)
    {
        return Err(DeliveryError::TooLarge { bytes });
    }
    let dedup = flowctl_protocol::subscriber::deduplication_id(&event.id);
    let results = futures_util::future::join_all(
        sends
            .iter()
            .map(|(route, message)| queue::send(sqs, &route.queue_url, message, &dedup)),
    )
    .await;
    if let Some(error) = results.into_iter().find_map(Result::err) {
        return Err(DeliveryError::Send(error));
    }
    Ok(Delivered {
        sent: sends.into_iter().map(|(route, _)| route).collect(),
        unkeyed,
    })
}

/// The request's headers as pairs. A function URL lower-cases their names and joins
/// repeated ones with commas; names are compared without regard to case anyway.
fn headers(request: &Value) -> Vec<(String, String)> {
    request["headers"]
        .as_object()
        .map(|headers| {
            headers
                .iter()
                .filter_map(|(name, value)| Some((name.clone(), value.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// The request's body as bytes: base64-decoded when the function URL says it encoded it
/// (it does for any body it does not take for text), at most [`MAX_BODY`].
fn body(request: &Value) -> Result<Vec<u8>, Answer> {
    let text = request["body"].as_str().unwrap_or_default();
    let body = if request["isBase64Encoded"].as_bool().unwrap_or(false) {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| Answer::error(400, format!("the body is not valid base64 ({e})")))?
    } else {
        text.as_bytes().to_vec()
    };
    if body.len() > MAX_BODY {
        return Err(Answer::error(413, body_too_large()));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    //! The pure reading of requests; what reaches the queues is tested against moto in
    //! `tests/ingest_aws.rs`.
    use super::*;
    use flowctl_protocol::signature::{sign, GITHUB_HEADER, STRIPE_HEADER};

    /// The unsigned webhook source `hooks`, its events' type read from the payload.
    fn config() -> IngestConfig {
        serde_json::from_value(json!({"source": "hooks", "event_type": "$.type", "routes": []}))
            .expect("an ingest configuration")
    }

    /// A function URL POST request as [`read`] reads it: its method, headers and body.
    fn post(headers: Value, body: &str) -> Value {
        json!({"requestContext": {"http": {"method": "POST"}}, "headers": headers, "body": body})
    }

    #[test]
    fn stripe_signatures_are_checked_against_the_functions_clock() {
        let mut signed = config();
        signed.signature_header = Some(STRIPE_HEADER.into());
        let body = r#"{"type":"t"}"#;
        let t = 1_700_000_000i64;
        let v1 = sign(b"whsec", &[t.to_string().as_bytes(), b".", body.as_bytes()]);
        let request = post(
            json!({"stripe-signature": format!("t={t},v1={v1}"), "idempotency-key": "i-1"}),
            body,
        );
        let event = read(&signed, &request, Some(Ok(b"whsec".to_vec())), t * 1000 + 5).unwrap();
        assert_eq!(event.accepted_at, "2023-11-14T22:13:20.005Z");
        let late = read(
            &signed,
            &request,
            Some(Ok(b"whsec".to_vec())),
            (t + 301) * 1000,
        );
        assert_eq!(late.unwrap_err().status, 401);
        let github = read(&config(), &request, Some(Ok(b"whsec".to_vec())), t * 1000);
        assert!(github.unwrap_err().body["error"]
            .as_str()
            .unwrap()
            .contains(GITHUB_HEADER));
    }
}
