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
    use super::*;
    use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
    use flowctl_protocol::signature::{sign, GITHUB_HEADER, STRIPE_HEADER};
    use flowctl_protocol::subscriber::{message_group_id, Route};
    use std::io::{BufRead, BufReader};
    use std::process::{Child, ChildStdin, Command, Stdio};
    use std::sync::OnceLock;

    /// A moto server for this test binary, started with the repository's
    /// `tests/support/moto_server.py`: it exits when its standard input closes, which
    /// this process holds until it ends.
    struct Moto {
        endpoint: String,
        _child: Child,
        _stdin: ChildStdin,
    }

    fn moto() -> &'static str {
        static MOTO: OnceLock<Moto> = OnceLock::new();
        let moto = MOTO.get_or_init(|| {
            let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
            let python = std::env::var_os("FLOWCTL_TEST_PYTHON")
                .filter(|p| !p.is_empty())
                .map_or_else(|| repo.join(".venv/bin/python"), Into::into);
            assert!(
                python.exists(),
                "the test Python (with moto) is missing at {}: run `bash scripts/install-test-tools.sh` or set FLOWCTL_TEST_PYTHON",
                python.display()
            );
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free loopback port")
                .port();
            let mut child = Command::new(&python)
                .arg(repo.join("tests/support/moto_server.py"))
                .arg(port.to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("moto starts");
            let mut line = String::new();
            let _ = BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line);
            assert_eq!(line.trim(), "ready", "moto did not start on port {port}");
            Moto {
                endpoint: format!("http://127.0.0.1:{port}"),
                _stdin: child.stdin.take().expect("piped"),
                _child: child,
            }
        });
        &moto.endpoint
    }

    /// A client of the test's own runtime (the SDK's connections belong to one).
    fn sqs() -> aws_sdk_sqs::Client {
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(moto())
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .build();
        aws_sdk_sqs::Client::from_conf(config)
    }

    async fn fifo_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
        sqs.create_queue()
            .queue_name(format!("{name}.fifo"))
            .attributes(QueueAttributeName::FifoQueue, "true")
            .send()
            .await
            .expect("moto creates the queue")
            .queue_url
            .expect("a queue URL")
    }

    /// Every message on a queue: (group id, deduplication id, body as JSON).
    async fn messages(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Vec<(String, String, Value)> {
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .expect("moto answers");
        received
            .messages()
            .iter()
            .map(|m| {
                let attribute = |name| {
                    m.attributes()
                        .and_then(|a| a.get(&name))
                        .cloned()
                        .unwrap_or_default()
                };
                (
                    attribute(MessageSystemAttributeName::MessageGroupId),
                    attribute(MessageSystemAttributeName::MessageDeduplicationId),
                    serde_json::from_str(m.body().unwrap_or_default()).expect("a JSON body"),
                )
            })
            .collect()
    }

    fn route(subscription: &str, queue_url: &str) -> Route {
        Route {
            subscription: subscription.into(),
            queue_url: queue_url.into(),
            types: vec![],
            key: None,
        }
    }

    fn config(routes: Vec<Route>) -> IngestConfig {
        IngestConfig {
            source: "hooks".into(),
            event_type: Some("$.type".into()),
            id: None,
            key: None,
            secret_env: None,
            signature_header: None,
            routes,
            kind: Default::default(),
        }
    }

    fn request(method: &str, headers: Value, body: &str) -> Value {
        json!({
            "version": "2.0",
            "rawPath": "/",
            "headers": headers,
            "requestContext": {"http": {"method": method, "path": "/"}},
            "body": body,
            "isBase64Encoded": false,
        })
    }

    /// The secret of the signed tests: `PATH`, a variable every test process has, so no test
    /// sets one (setting the environment races the other tests' threads).
    fn path_secret() -> Vec<u8> {
        std::env::var("PATH").expect("PATH is set").into_bytes()
    }

    fn status_and_body(response: &Value) -> (u64, Value) {
        let body = response["body"].as_str().expect("a text body");
        (
            response["statusCode"].as_u64().expect("a status"),
            serde_json::from_str(body).expect("a JSON body"),
        )
    }

    #[tokio::test]
    async fn a_signed_request_reaches_every_route_that_takes_its_type() {
        let sqs = sqs();
        let (all, by_booking, others) = (
            fifo_queue(&sqs, "ingest-all").await,
            fifo_queue(&sqs, "ingest-booking").await,
            fifo_queue(&sqs, "ingest-others").await,
        );
        let mut config = config(vec![
            route("all", &all),
            Route {
                key: Some("$.booking.id".into()),
                ..route("booking", &by_booking)
            },
            Route {
                types: vec!["other".into()],
                ..route("others", &others)
            },
        ]);
        config.secret_env = Some("PATH".into());
        let body = r#"{"type":"booking.requested","booking":{"id":"b-9"}}"#;
        let signature = format!("sha256={}", sign(&path_secret(), &[body.as_bytes()]));
        let headers = json!({"x-github-delivery": "d-1", "x-hub-signature-256": signature});
        let response = handle(&config, request("POST", headers, body), &sqs).await;
        assert_eq!(
            response["headers"]["content-type"], "application/json",
            "{response}"
        );
        assert_eq!(
            status_and_body(&response),
            (202, json!({"accepted": true, "id": "d-1", "routes": 2}))
        );
        let [(group, dedup, event)] = &messages(&sqs, &all).await[..] else {
            panic!("one message on the queue of `all`")
        };
        assert_eq!((group, dedup), (&message_group_id(""), &"d-1".to_string()));
        let accepted_at = event["accepted_at"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            accepted_at.len() == 24 && accepted_at.ends_with('Z'),
            "{accepted_at}"
        );
        assert_eq!(
            event,
            &json!({
                "source": "hooks", "type": "booking.requested", "id": "d-1", "key": "",
                "accepted_at": accepted_at,
                "data": {"type": "booking.requested", "booking": {"id": "b-9"}},
            })
        );
        let [(group, dedup, keyed)] = &messages(&sqs, &by_booking).await[..] else {
            panic!("one message on the queue of `booking`")
        };
        assert_eq!((group.as_str(), dedup.as_str()), ("b-9", "d-1"));
        assert_eq!(keyed["key"], "b-9");
        assert_eq!(keyed["data"], event["data"]);
        assert!(messages(&sqs, &others).await.is_empty());
    }

    #[tokio::test]
    async fn base64_bodies_are_decoded_and_odd_ids_hashed_for_deduplication() {
        let sqs = sqs();
        let queue_url = fifo_queue(&sqs, "ingest-base64").await;
        let mut config = config(vec![route("all", &queue_url)]);
        config.id = Some("$.id".into());
        config.key = Some("$.customer".into());
        let body = r#"{"type":"paid","id":"order 7","customer":"c-1"}"#;
        let mut request = request(
            "POST",
            json!({}),
            &base64::engine::general_purpose::STANDARD.encode(body),
        );
        request["isBase64Encoded"] = json!(true);
        let (status, answer) = status_and_body(&handle(&config, request.clone(), &sqs).await);
        assert_eq!(
            (status, &answer["id"]),
            (202, &json!("order 7")),
            "{answer}"
        );
        let [(group, dedup, event)] = &messages(&sqs, &queue_url).await[..] else {
            panic!("one message")
        };
        assert_eq!(group, "c-1");
        assert_eq!(
            dedup,
            &flowctl_protocol::subscriber::deduplication_id("order 7")
        );
        assert_eq!(dedup.len(), 64);
        assert_eq!(event["data"]["customer"], "c-1");
        request["body"] = json!("not base64!");
        let (status, answer) = status_and_body(&handle(&config, request, &sqs).await);
        assert_eq!(status, 400);
        assert!(answer["error"]
            .as_str()
            .unwrap()
            .contains("not valid base64"));
    }

    #[tokio::test]
    async fn refused_requests_put_nothing_on_the_queues() {
        let sqs = sqs();
        let queue_url = fifo_queue(&sqs, "ingest-refused").await;
        let mut signed = config(vec![route("all", &queue_url)]);
        signed.secret_env = Some("PATH".into());
        let body = r#"{"type":"t"}"#;
        let good = format!("sha256={}", sign(&path_secret(), &[body.as_bytes()]));
        let bad = format!("sha256={}", sign(b"not the secret", &[body.as_bytes()]));

        let answer = |config: IngestConfig, request: Value| {
            let sqs = sqs.clone();
            async move { status_and_body(&handle(&config, request, &sqs).await) }
        };
        let (status, body401) = answer(
            signed.clone(),
            request(
                "POST",
                json!({"x-hub-signature-256": bad, "idempotency-key": "i-1"}),
                body,
            ),
        )
        .await;
        assert_eq!(status, 401);
        assert_eq!(
            body401["error"],
            "bad signature: X-Hub-Signature-256 does not match the body"
        );
        let (status, body422) = answer(
            signed.clone(),
            request("POST", json!({"x-hub-signature-256": good}), body),
        )
        .await;
        assert_eq!(status, 422);
        assert_eq!(
            body422,
            json!({"error": "no event id: the request has none of the headers Idempotency-Key, X-GitHub-Delivery, X-Request-Id and the source names no `id` path", "rejected": true})
        );
        let (status, body405) = answer(signed.clone(), request("GET", json!({}), "")).await;
        assert_eq!(
            (status, body405),
            (405, json!({"error": "webhooks take POST"}))
        );
        let mut unset = signed.clone();
        unset.secret_env = Some("FLOWCTL_INGEST_TEST_SECRET_NEVER_SET".into());
        let (status, body500) = answer(
            unset,
            request("POST", json!({"x-hub-signature-256": "sha256=00"}), body),
        )
        .await;
        assert_eq!(status, 500);
        assert!(body500["error"]
            .as_str()
            .unwrap()
            .contains("FLOWCTL_INGEST_TEST_SECRET_NEVER_SET is not set"));
        let (status, body400) = answer(
            config(vec![route("all", &queue_url)]),
            request("POST", json!({"idempotency-key": "i-2"}), "{"),
        )
        .await;
        assert_eq!(status, 400);
        assert!(body400["error"]
            .as_str()
            .unwrap()
            .starts_with("the body is not JSON"));
        let big = format!(r#"{{"type":"t","pad":"{}"}}"#, "x".repeat(MAX_BODY));
        let (status, _) = answer(
            config(vec![route("all", &queue_url)]),
            request("POST", json!({"idempotency-key": "i-3"}), &big),
        )
        .await;
        assert_eq!(status, 413);
        assert!(messages(&sqs, &queue_url).await.is_empty());
    }

    #[tokio::test]
    async fn a_queue_that_refuses_is_a_503_with_its_reason() {
        let sqs = sqs();
        let queue_url = fifo_queue(&sqs, "ingest-exists").await;
        let missing = queue_url.replace("ingest-exists", "ingest-missing");
        let config = config(vec![route("all", &queue_url), route("gone", &missing)]);
        let response = handle(
            &config,
            request("POST", json!({"idempotency-key": "i-1"}), r#"{"type":"t"}"#),
            &sqs,
        )
        .await;
        let (status, body) = status_and_body(&response);
        assert_eq!(status, 503, "{body}");
        let error = body["error"].as_str().unwrap();
        assert!(
            error.starts_with(&format!("sqs:SendMessage to {missing} (event `i-1`)"))
                && error.ends_with("; retry later"),
            "{error}"
        );
    }

    #[test]
    fn stripe_signatures_are_checked_against_the_functions_clock() {
        let mut signed = config(vec![]);
        signed.signature_header = Some(STRIPE_HEADER.into());
        let body = r#"{"type":"t"}"#;
        let t = 1_700_000_000i64;
        let v1 = sign(b"whsec", &[t.to_string().as_bytes(), b".", body.as_bytes()]);
        let request = request(
            "POST",
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
        let github = read(
            &config(vec![]),
            &request,
            Some(Ok(b"whsec".to_vec())),
            t * 1000,
        );
        assert!(github.unwrap_err().body["error"]
            .as_str()
            .unwrap()
            .contains(GITHUB_HEADER));
    }
}
