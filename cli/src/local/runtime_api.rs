//! flowctl's own Lambda Runtime API (version 2018-06-01): the HTTP endpoint a function's
//! runtime polls for invocations and posts results to, as AWS documents it in "Using the
//! Lambda runtime API for custom runtimes".
//!
//! One `RuntimeApi` serves one process, on its own loopback port, so the process's
//! `AWS_LAMBDA_RUNTIME_API` is a plain `127.0.0.1:PORT` exactly as on Lambda (any runtime
//! client, not only the Rust one, accepts that form) and the port alone says which process is
//! talking: no routing table, no path prefix that a client might drop. Like a Lambda execution
//! environment it holds at most one invocation at a time.
//!
//! Routes, status codes and error bodies follow the API's OpenAPI description and what
//! Lambda's runtime interface emulator answers:
//!
//! | request | answer |
//! | --- | --- |
//! | `GET /2018-06-01/runtime/invocation/next` | long poll; 200 with the event and the `Lambda-Runtime-*` headers |
//! | `POST …/invocation/{id}/response` | 202 `{"status":"OK"}`; 400 `InvalidRequestID` for an id that is not the one in flight; 413 `RequestEntityTooLarge` past 6 MiB + 100 bytes; 403 `InvalidStateTransition` with nothing in flight |
//! | `POST …/invocation/{id}/error` | the same, the body and `Lambda-Runtime-Function-Error-Type` kept for the caller |
//! | `POST /2018-06-01/runtime/init/error` | 202; the error is the answer to the first invocation |
//! | anything else | 404 (405 for a known path with the wrong method) |

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Notify};
use tokio::task::{JoinHandle, JoinSet};

/// The largest request or response body the API accepts: Lambda's synchronous payload quota,
/// 6 MiB, plus the 100 bytes of slack the runtime interface emulator allows.
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024 + 100;

const PREFIX: &str = "/2018-06-01/runtime/";

/// One event to hand to the runtime, with what goes into the `/next` response headers.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: String,
    /// The event, sent as the `/next` response body.
    pub payload: Bytes,
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    pub function_arn: String,
    /// `Lambda-Runtime-Trace-Id`.
    pub trace_id: String,
    /// `Lambda-Runtime-Client-Context`, when the caller sent one.
    pub client_context: Option<String>,
    /// `Lambda-Runtime-Cognito-Identity`, when the caller sent one.
    pub cognito_identity: Option<String>,
    /// The function's timeout: `Lambda-Runtime-Deadline-Ms` is the moment of delivery plus this.
    pub timeout: Duration,
}

/// How an invocation ended, as far as the runtime told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `POST …/{id}/response`: the body exactly as posted (JSON or not).
    Response(Bytes),
    /// `POST …/{id}/error`: the `Lambda-Runtime-Function-Error-Type` header and the body
    /// (normally `{"errorMessage", "errorType", "stackTrace"}`).
    Error {
        error_type: Option<String>,
        body: Bytes,
    },
    /// `POST /runtime/init/error` before or while the invocation waited for the runtime.
    InitError {
        error_type: Option<String>,
        body: Bytes,
    },
    /// The runtime posted a response larger than [`MAX_PAYLOAD_BYTES`] (its size in bytes).
    ResponseTooLarge { size: usize },
}

/// What the caller waits on after [`RuntimeApi::submit`].
pub struct Submitted {
    /// Fires when the runtime takes the invocation through `/next` (the deadline counts from then).
    pub delivered: oneshot::Receiver<Instant>,
    /// Fires when the runtime posts a result (or an init error).
    pub outcome: oneshot::Receiver<Outcome>,
}

/// [`RuntimeApi::submit`] refused: an invocation is already queued or in flight.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the runtime already has an invocation")]
pub struct Busy;

/// The Runtime API for one process: a loopback listener and the invocation it holds.
/// Dropping it stops the listener and closes its connections.
pub struct RuntimeApi {
    address: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the runtime's long-polling `/next` when an invocation is queued.
    queued: Notify,
}

#[derive(Default)]
struct State {
    queued: Option<Queued>,
    in_flight: Option<InFlight>,
    /// An `/init/error` that arrived with no invocation waiting: the answer to the next one.
    init_error: Option<Outcome>,
    polled: bool,
}

struct Queued {
    invocation: Invocation,
    delivered: oneshot::Sender<Instant>,
    outcome: oneshot::Sender<Outcome>,
}

struct InFlight {
    request_id: String,
    outcome: oneshot::Sender<Outcome>,
}

impl RuntimeApi {
    /// Listens on `127.0.0.1` on a port the system picks.
    pub async fn bind() -> std::io::Result<RuntimeApi> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            queued: Notify::new(),
        });
        let server = tokio::spawn(serve(listener, shared.clone()));
        Ok(RuntimeApi {
            address,
            shared,
            server,
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Whether the runtime has called `/next` at least once (its initialisation is over).
    pub fn polled(&self) -> bool {
        self.shared.lock().polled
    }

    /// Queues an invocation for the runtime's next `/next`. A stored init error answers it at
    /// once, as Lambda serves an init error in response to the first invoke.
    pub fn submit(&self, invocation: Invocation) -> Result<Submitted, Busy> {
        let (delivered_tx, delivered) = oneshot::channel();
        let (outcome_tx, outcome) = oneshot::channel();
        let mut state = self.shared.lock();
        // A queued invocation whose caller went away no longer counts.
        let queued_live = state
            .queued
            .as_ref()
            .is_some_and(|q| !q.outcome.is_closed());
        if queued_live || state.in_flight.is_some() {
            return Err(Busy);
        }
        if let Some(error) = state.init_error.clone() {
            let _ = outcome_tx.send(error);
            return Ok(Submitted { delivered, outcome });
        }
        state.queued = Some(Queued {
            invocation,
            delivered: delivered_tx,
            outcome: outcome_tx,
        });
        drop(state);
        self.shared.queued.notify_one();
        Ok(Submitted { delivered, outcome })
    }

    /// Forgets the queued or in-flight invocation (its process was killed): a late post for
    /// it then gets the answers for an unknown id.
    pub fn clear(&self) {
        let mut state = self.shared.lock();
        state.queued = None;
        state.in_flight = None;
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state half-updated in a way that
        // matters more than stopping would: keep serving.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    // Connections live in this set so that aborting the server task closes them all,
    // including a `/next` long poll that would otherwise wait forever.
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of file descriptors or similar: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let shared = shared.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(route(&shared, request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

type Reply = Response<Full<Bytes>>;

async fn route(shared: &Shared, request: Request<Incoming>) -> Reply {
    let path = request.uri().path().to_string();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return not_found();
    };
    let method = request.method().clone();
    match rest {
        "invocation/next" if method == Method::GET => next(shared).await,
        "init/error" if method == Method::POST => init_error(shared, request).await,
        "invocation/next" | "init/error" => method_not_allowed(),
        _ => {
            let Some((id, action)) = rest
                .strip_prefix("invocation/")
                .and_then(|tail| tail.split_once('/'))
            else {
                return not_found();
            };
            if id.is_empty() || !matches!(action, "response" | "error") {
                return not_found();
            }
            if method != Method::POST {
                return method_not_allowed();
            }
            if action == "response" {
                response(shared, id, request).await
            } else {
                invocation_error(shared, id, request).await
            }
        }
    }
}

async fn next(shared: &Shared) -> Reply {
    loop {
        let notified = shared.queued.notified();
        {
            let mut state = shared.lock();
            state.polled = true;
            if state.in_flight.is_some() {
                return invalid_state_transition(
                    "the runtime asked for the next invocation before answering the current one",
                );
            }
            if let Some(queued) = state.queued.take() {
                if queued.outcome.is_closed() {
                    // The caller gave up before the runtime asked: nothing to deliver.
                    continue;
                }
                let Queued {
                    invocation,
                    delivered,
                    outcome,
                } = queued;
                state.in_flight = Some(InFlight {
                    request_id: invocation.request_id.clone(),
                    outcome,
                });
                drop(state);
                let now = Instant::now();
                let _ = delivered.send(now);
                return event(&invocation);
            }
        }
        notified.await;
    }
}

fn event(invocation: &Invocation) -> Reply {
    let deadline = SystemTime::now() + invocation.timeout;
    let deadline_ms = deadline
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .header(
            "Lambda-Runtime-Aws-Request-Id",
            invocation.request_id.as_str(),
        )
        .header("Lambda-Runtime-Deadline-Ms", deadline_ms.to_string())
        .header(
            "Lambda-Runtime-Invoked-Function-Arn",
            invocation.function_arn.as_str(),
        )
        .header("Lambda-Runtime-Trace-Id", invocation.trace_id.as_str());
    if let Some(context) = &invocation.client_context {
        builder = builder.header("Lambda-Runtime-Client-Context", context.as_str());
    }
    if let Some(identity) = &invocation.cognito_identity {
        builder = builder.header("Lambda-Runtime-Cognito-Identity", identity.as_str());
    }
    builder
        .body(Full::new(invocation.payload.clone()))
        .unwrap_or_else(|_| {
            // Only a header value with a control character gets here; the ids we generate
            // have none, so answer like a broken container rather than panic.
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "invalid invocation headers",
            )
        })
}

/// Why a post for `id` is refused: nothing in flight (403) or another id in flight (400).
fn refusal(shared: &Shared, id: &str) -> Option<Reply> {
    match &shared.lock().in_flight {
        None => Some(invalid_state_transition("no invocation is in progress")),
        Some(in_flight) if in_flight.request_id != id => Some(invalid_request_id()),
        Some(_) => None,
    }
}

/// Takes the in-flight invocation's result channel if `id` is still the one in flight.
fn take_in_flight(shared: &Shared, id: &str) -> Option<oneshot::Sender<Outcome>> {
    let mut state = shared.lock();
    match &state.in_flight {
        Some(in_flight) if in_flight.request_id == id => state.in_flight.take().map(|f| f.outcome),
        _ => None,
    }
}

async fn response(shared: &Shared, id: &str, request: Request<Incoming>) -> Reply {
    if let Some(reply) = refusal(shared, id) {
        return reply;
    }
    let body = read_capped(request.into_body()).await;
    let Some(outcome) = take_in_flight(shared, id) else {
        return invalid_request_id();
    };
    match body {
        Capped::Fits(body) => {
            let _ = outcome.send(Outcome::Response(body));
            accepted()
        }
        Capped::TooLarge(size) => {
            let _ = outcome.send(Outcome::ResponseTooLarge { size });
            request_entity_too_large()
        }
        Capped::Broken => {
            let _ = outcome.send(Outcome::Error {
                error_type: Some("Runtime.TruncatedResponse".into()),
                body: Bytes::new(),
            });
            truncated_request()
        }
    }
}

async fn invocation_error(shared: &Shared, id: &str, request: Request<Incoming>) -> Reply {
    if let Some(reply) = refusal(shared, id) {
        return reply;
    }
    let error_type = error_type_header(&request);
    let body = match read_capped(request.into_body()).await {
        Capped::Fits(body) => body,
        // An error body too large or cut short still reports an error: keep what the
        // header says, drop the body.
        Capped::TooLarge(_) | Capped::Broken => Bytes::new(),
    };
    let Some(outcome) = take_in_flight(shared, id) else {
        return invalid_request_id();
    };
    let _ = outcome.send(Outcome::Error { error_type, body });
    accepted()
}

async fn init_error(shared: &Shared, request: Request<Incoming>) -> Reply {
    if shared.lock().in_flight.is_some() {
        return invalid_state_transition("an invocation is in progress");
    }
    let error_type = error_type_header(&request);
    let body = match read_capped(request.into_body()).await {
        Capped::Fits(body) => body,
        Capped::TooLarge(_) | Capped::Broken => Bytes::new(),
    };
    let error = Outcome::InitError { error_type, body };
    let mut state = shared.lock();
    match state.queued.take() {
        Some(queued) => {
            let _ = queued.outcome.send(error);
        }
        None => state.init_error = Some(error),
    }
    accepted()
}

fn error_type_header(request: &Request<Incoming>) -> Option<String> {
    request
        .headers()
        .get("Lambda-Runtime-Function-Error-Type")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

enum Capped {
    Fits(Bytes),
    /// Past the limit; the total size, counted to the end of the body.
    TooLarge(usize),
    /// The connection broke before the body ended.
    Broken,
}

async fn read_capped(mut body: Incoming) -> Capped {
    let mut kept = Vec::new();
    let mut total = 0usize;
    loop {
        match body.frame().await {
            None => break,
            Some(Err(_)) => return Capped::Broken,
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    total = total.saturating_add(data.len());
                    // Past the limit keep counting (the error message gives the size) but
                    // stop storing.
                    if total <= MAX_PAYLOAD_BYTES {
                        kept.extend_from_slice(&data);
                    }
                }
            }
        }
    }
    if total > MAX_PAYLOAD_BYTES {
        Capped::TooLarge(total)
    } else {
        Capped::Fits(Bytes::from(kept))
    }
}

fn json_reply(status: StatusCode, value: serde_json::Value) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

fn plain(status: StatusCode, text: &'static str) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn accepted() -> Reply {
    json_reply(StatusCode::ACCEPTED, json!({"status": "OK"}))
}

fn invalid_request_id() -> Reply {
    json_reply(
        StatusCode::BAD_REQUEST,
        json!({"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}),
    )
}

fn invalid_state_transition(why: &str) -> Reply {
    json_reply(
        StatusCode::FORBIDDEN,
        json!({"errorMessage": format!("State transition failed: {why}"), "errorType": "InvalidStateTransition"}),
    )
}

fn request_entity_too_large() -> Reply {
    json_reply(
        StatusCode::PAYLOAD_TOO_LARGE,
        json!({
            "errorMessage": format!("Exceeded maximum allowed payload size ({MAX_PAYLOAD_BYTES} bytes)."),
            "errorType": "RequestEntityTooLarge",
        }),
    )
}

fn truncated_request() -> Reply {
    json_reply(
        StatusCode::BAD_REQUEST,
        json!({"errorMessage": "The request body was cut short", "errorType": "TruncatedHTTPRequest"}),
    )
}

fn not_found() -> Reply {
    plain(StatusCode::NOT_FOUND, "404 page not found\n")
}

fn method_not_allowed() -> Reply {
    plain(StatusCode::METHOD_NOT_ALLOWED, "405 method not allowed\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    struct Answer {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    }

    impl Answer {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    /// One HTTP/1.1 exchange on a fresh connection (`Connection: close`, so the answer ends
    /// at EOF).
    async fn http(
        api: &RuntimeApi,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Answer {
        let mut stream = TcpStream::connect(api.address()).await.unwrap();
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            api.address(),
            body.len()
        );
        for (k, v) in headers {
            request.push_str(&format!("{k}: {v}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        stream.write_all(body).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        let text = String::from_utf8(raw).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let mut lines = head.lines();
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Answer {
            status,
            headers,
            body: body.to_string(),
        }
    }

    fn invocation(id: &str) -> Invocation {
        Invocation {
            request_id: id.to_string(),
            payload: Bytes::from_static(br#"{"hello":"world"}"#),
            function_arn: "arn:aws:lambda:us-east-1:123456789012:function:echo".into(),
            trace_id: "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=0"
                .into(),
            client_context: None,
            cognito_identity: None,
            timeout: Duration::from_secs(30),
        }
    }

    const NEXT: &str = "/2018-06-01/runtime/invocation/next";

    #[tokio::test]
    async fn next_delivers_the_event_with_its_headers_and_response_resolves_it() {
        let api = RuntimeApi::bind().await.unwrap();
        assert!(!api.polled());
        let submitted = api.submit(invocation("req-1")).unwrap();
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis();
        let event = http(&api, "GET", NEXT, &[], b"").await;
        assert_eq!(event.status, 200);
        assert_eq!(event.body, r#"{"hello":"world"}"#);
        assert_eq!(event.header("Lambda-Runtime-Aws-Request-Id"), Some("req-1"));
        assert_eq!(
            event.header("Lambda-Runtime-Invoked-Function-Arn"),
            Some("arn:aws:lambda:us-east-1:123456789012:function:echo")
        );
        assert!(event
            .header("Lambda-Runtime-Trace-Id")
            .unwrap()
            .starts_with("Root=1-"));
        assert_eq!(event.header("Lambda-Runtime-Client-Context"), None);
        let deadline: u128 = event
            .header("Lambda-Runtime-Deadline-Ms")
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            deadline >= before + 29_000 && deadline <= before + 31_000,
            "{deadline} vs {before}"
        );
        assert!(api.polled());
        submitted.delivered.await.unwrap();

        let posted = http(
            &api,
            "POST",
            "/2018-06-01/runtime/invocation/req-1/response",
            &[],
            b"[1,2]",
        )
        .await;
        assert_eq!(posted.status, 202);
        assert_eq!(posted.body, r#"{"status":"OK"}"#);
        assert_eq!(
            submitted.outcome.await.unwrap(),
            Outcome::Response(Bytes::from_static(b"[1,2]"))
        );
    }

    #[tokio::test]
    async fn next_long_polls_until_an_invocation_arrives() {
        let api = Arc::new(RuntimeApi::bind().await.unwrap());
        let poll = {
            let api = api.clone();
            tokio::spawn(async move { http(&api, "GET", NEXT, &[], b"").await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!poll.is_finished());
        let _submitted = api.submit(invocation("late")).unwrap();
        let event = poll.await.unwrap();
        assert_eq!(event.header("Lambda-Runtime-Aws-Request-Id"), Some("late"));
    }

    #[tokio::test]
    async fn unknown_request_ids_and_missing_invocations_are_refused() {
        let api = RuntimeApi::bind().await.unwrap();
        // Nothing in flight: the runtime is not in a state to answer anything.
        let early = http(
            &api,
            "POST",
            "/2018-06-01/runtime/invocation/req-1/response",
            &[],
            b"{}",
        )
        .await;
        assert_eq!(early.status, 403);
        assert!(early.body.contains("InvalidStateTransition"));

        let submitted = api.submit(invocation("req-1")).unwrap();
        assert_eq!(api.submit(invocation("req-2")).err(), Some(Busy));
        http(&api, "GET", NEXT, &[], b"").await;
        for action in ["response", "error"] {
            let wrong = http(
                &api,
                "POST",
                &format!("/2018-06-01/runtime/invocation/nope/{action}"),
                &[],
                b"{}",
            )
            .await;
            assert_eq!(wrong.status, 400, "{action}");
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(&wrong.body).unwrap(),
                json!({"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"})
            );
        }
        // Asking for more before answering is a state error too.
        assert_eq!(http(&api, "GET", NEXT, &[], b"").await.status, 403);
        // The right id still works afterwards, once.
        let ok = http(
            &api,
            "POST",
            "/2018-06-01/runtime/invocation/req-1/response",
            &[],
            b"1",
        )
        .await;
        assert_eq!(ok.status, 202);
        assert_eq!(
            submitted.outcome.await.unwrap(),
            Outcome::Response(Bytes::from_static(b"1"))
        );
        let again = http(
            &api,
            "POST",
            "/2018-06-01/runtime/invocation/req-1/response",
            &[],
            b"1",
        )
        .await;
        assert_eq!(again.status, 403);
    }

    #[tokio::test]
    async fn unknown_paths_and_methods() {
        let api = RuntimeApi::bind().await.unwrap();
        assert_eq!(http(&api, "GET", "/", &[], b"").await.status, 404);
        assert_eq!(
            http(
                &api,
                "GET",
                "/2018-06-01/runtime/invocation/x/bogus",
                &[],
                b""
            )
            .await
            .status,
            404
        );
        assert_eq!(
            http(&api, "GET", "/2020-01-01/runtime/invocation/next", &[], b"")
                .await
                .status,
            404
        );
        assert_eq!(http(&api, "POST", NEXT, &[], b"").await.status, 405);
        assert_eq!(
            http(&api, "GET", "/2018-06-01/runtime/init/error", &[], b"")
                .await
                .status,
            405
        );
        assert_eq!(
            http(
                &api,
                "GET",
                "/2018-06-01/runtime/invocation/x/response",
                &[],
                b""
            )
            .await
            .status,
            405
        );
    }

    #[tokio::test]
    async fn error_keeps_the_header_and_body() {
        let api = RuntimeApi::bind().await.unwrap();
        let submitted = api.submit(invocation("e1")).unwrap();
        http(&api, "GET", NEXT, &[], b"").await;
        let body = br#"{"errorMessage":"no","errorType":"Declined","stackTrace":[]}"#;
        let posted = http(
            &api,
            "POST",
            "/2018-06-01/runtime/invocation/e1/error",
            &[("Lambda-Runtime-Function-Error-Type", "Unhandled")],
            body,
        )
        .await;
        assert_eq!(posted.status, 202);
        assert_eq!(
            submitted.outcome.await.unwrap(),
            Outcome::Error {
                error_type: Some("Unhandled".into()),
                body: Bytes::from_static(body)
            }
        );
    }

    #[tokio::test]
    async fn init_error_answers_the_waiting_or_the_next_invocation() {
        let api = RuntimeApi::bind().await.unwrap();
        let submitted = api.submit(invocation("i1")).unwrap();
        let body = br#"{"errorMessage":"bad config","errorType":"Runtime.ConfigError"}"#;
        let headers = [("Lambda-Runtime-Function-Error-Type", "Runtime.ConfigError")];
        let posted = http(
            &api,
            "POST",
            "/2018-06-01/runtime/init/error",
            &headers,
            body,
        )
        .await;
        assert_eq!(posted.status, 202);
        let expected = Outcome::InitError {
            error_type: Some("Runtime.ConfigError".into()),
            body: Bytes::from_static(body),
        };
        assert_eq!(submitted.outcome.await.unwrap(), expected);

        let api = RuntimeApi::bind().await.unwrap();
        http(
            &api,
            "POST",
            "/2018-06-01/runtime/init/error",
            &headers,
            body,
        )
        .await;
        let submitted = api.submit(invocation("i2")).unwrap();
        assert_eq!(submitted.outcome.await.unwrap(), expected);
    }

    #[tokio::test]
    async fn oversize_response_is_413_and_reported() {
        let api = RuntimeApi::bind().await.unwrap();
        let submitted = api.submit(invocation("big")).unwrap();
        http(&api, "GET", NEXT, &[], b"").await;
        let body = vec![b'x'; MAX_PAYLOAD_BYTES + 1];
        let posted = http(
            &api,
            "POST",
            "/2018-06-01/runtime/invocation/big/response",
            &[],
            &body,
        )
        .await;
        assert_eq!(posted.status, 413);
        assert!(
            posted.body.contains("RequestEntityTooLarge"),
            "{}",
            posted.body
        );
        assert_eq!(
            submitted.outcome.await.unwrap(),
            Outcome::ResponseTooLarge {
                size: MAX_PAYLOAD_BYTES + 1
            }
        );
    }

    #[tokio::test]
    async fn optional_headers_are_sent_when_present() {
        let api = RuntimeApi::bind().await.unwrap();
        let mut inv = invocation("c1");
        inv.client_context = Some(r#"{"custom":{"a":"b"}}"#.into());
        inv.cognito_identity =
            Some(r#"{"cognitoIdentityId":"x","cognitoIdentityPoolId":"y"}"#.into());
        let _submitted = api.submit(inv).unwrap();
        let event = http(&api, "GET", NEXT, &[], b"").await;
        assert_eq!(
            event.header("Lambda-Runtime-Client-Context"),
            Some(r#"{"custom":{"a":"b"}}"#)
        );
        assert!(event
            .header("Lambda-Runtime-Cognito-Identity")
            .unwrap()
            .contains("cognitoIdentityId"));
    }

    #[tokio::test]
    async fn an_abandoned_invocation_is_not_delivered() {
        let api = Arc::new(RuntimeApi::bind().await.unwrap());
        drop(api.submit(invocation("gone")).unwrap());
        let poll = {
            let api = api.clone();
            tokio::spawn(async move { http(&api, "GET", NEXT, &[], b"").await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!poll.is_finished());
        let _submitted = api.submit(invocation("fresh")).unwrap();
        assert_eq!(
            poll.await.unwrap().header("Lambda-Runtime-Aws-Request-Id"),
            Some("fresh")
        );
    }
}
