//! A loopback HTTP proxy between flowctl and moto that records every AWS request (its
//! operation, and whether it changes anything) and can inject faults: every Nth request
//! answered with HTTP 500 or a throttling error without reaching moto, or a window of
//! requests all answered 500 (a deploy that dies half-way).
//!
//! Operations are read the way the AWS protocols carry them: `X-Amz-Target` (Step Functions,
//! CloudWatch Logs), `Action=` in a form body (IAM, STS), or the method and path (Lambda's
//! REST API). Reads are `Get*`, `List*`, `Describe*` and REST `GET`s.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One request that went through the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// `CreateRole`, `StartExecution`, or `PUT /2015-03-31/functions/NAME/configuration`.
    pub operation: String,
    pub mutating: bool,
    /// The fault answered instead of forwarding, if any.
    pub fault: Option<&'static str>,
}

#[derive(Debug, Default)]
struct State {
    log: Mutex<Vec<Recorded>>,
    count: AtomicU64,
    /// Every Nth request fails (0: none).
    every: AtomicU64,
    /// Requests numbered in [from, to) are all answered 500 (to == 0: none).
    broken_from: AtomicU64,
    broken_to: AtomicU64,
    /// Milliseconds added before each request is forwarded (a network round trip).
    latency_ms: AtomicU64,
}

pub struct Proxy {
    pub endpoint: String,
    state: Arc<State>,
}

impl Proxy {
    /// Starts a proxy to `upstream` (`http://127.0.0.1:PORT`) on a free loopback port; it
    /// serves on its own thread until the test process ends.
    pub fn start(upstream: &str) -> Proxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let endpoint = format!("http://{}", listener.local_addr().expect("bound"));
        let state = Arc::new(State::default());
        let shared = state.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let listener =
                    tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let state = shared.clone();
                    let upstream = upstream.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req| {
                            let state = state.clone();
                            let upstream = upstream.clone();
                            async move { handle(req, &state, &upstream).await }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        });
        Proxy { endpoint, state }
    }

    /// The requests recorded since the last call.
    pub fn take(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.state.log.lock().unwrap())
    }

    /// Every `n`th request from now on fails (alternately HTTP 500 and a throttling error); 0 stops.
    pub fn fail_every(&self, n: u64) {
        self.state.every.store(n, Ordering::SeqCst);
    }

    /// Adds `ms` milliseconds before each forwarded request, as a round trip to a region would.
    pub fn latency(&self, ms: u64) {
        self.state.latency_ms.store(ms, Ordering::SeqCst);
    }

    /// Ends a [`Proxy::break_after`] window.
    pub fn heal(&self) {
        self.state.broken_to.store(0, Ordering::SeqCst);
    }

    /// The `len` requests after the next `after` all fail with HTTP 500 (a target that goes away mid-deploy).
    pub fn break_after(&self, after: u64, len: u64) {
        let now = self.state.count.load(Ordering::SeqCst);
        self.state.broken_from.store(now + after, Ordering::SeqCst);
        self.state
            .broken_to
            .store(now + after + len, Ordering::SeqCst);
    }
}

/// The mutating operations among `recorded`.
pub fn mutations(recorded: &[Recorded]) -> Vec<String> {
    recorded
        .iter()
        .filter(|r| r.mutating && r.fault.is_none())
        .map(|r| r.operation.clone())
        .collect()
}

fn operation(req: &hyper::http::request::Parts, body: &[u8]) -> (String, bool) {
    let read = |op: &str| {
        ["Get", "List", "Describe"]
            .iter()
            .any(|p| op.starts_with(p))
    };
    if let Some(target) = req
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
    {
        let op = target.rsplit('.').next().unwrap_or(target).to_string();
        let mutating = !read(&op);
        return (op, mutating);
    }
    let body = String::from_utf8_lossy(body);
    if let Some(action) = body.split('&').find_map(|kv| kv.strip_prefix("Action=")) {
        return (action.to_string(), !read(action));
    }
    let op = format!("{} {}", req.method, req.uri.path());
    (op, req.method != hyper::Method::GET)
}

fn fault_response(kind: &'static str, query_protocol: bool) -> Response<Full<Bytes>> {
    let builder = Response::builder();
    match kind {
        "throttle" if query_protocol => builder
            .status(400)
            .header("content-type", "text/xml")
            .body(Full::new(Bytes::from_static(
                b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>proxy</RequestId></ErrorResponse>",
            ))),
        "throttle" => builder
            .status(400)
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amzn-errortype", "ThrottlingException")
            .body(Full::new(Bytes::from_static(br#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#))),
        _ => builder.status(500).body(Full::new(Bytes::from_static(b"injected by the test proxy"))),
    }
    .expect("a valid response")
}

async fn handle(
    req: Request<Incoming>,
    state: &State,
    upstream: &str,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    let (op, mutating) = operation(&parts, &body);
    let n = state.count.fetch_add(1, Ordering::SeqCst) + 1;
    let every = state.every.load(Ordering::SeqCst);
    let broken =
        n >= state.broken_from.load(Ordering::SeqCst) && n < state.broken_to.load(Ordering::SeqCst);
    let fault = if broken {
        Some("500")
    } else if every > 0 && n.is_multiple_of(every) {
        Some(if (n / every).is_multiple_of(2) {
            "throttle"
        } else {
            "500"
        })
    } else {
        None
    };
    state.log.lock().unwrap().push(Recorded {
        operation: op,
        mutating,
        fault,
    });
    if let Some(kind) = fault {
        let query = parts
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        return Ok(fault_response(kind, query));
    }
    let latency = state.latency_ms.load(Ordering::SeqCst);
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    let stream = match tokio::net::TcpStream::connect(upstream).await {
        Ok(stream) => stream,
        Err(_) => return Ok(fault_response("500", false)),
    };
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let forwarded = Request::from_parts(parts, Full::new(body));
    let answer = sender.send_request(forwarded).await?;
    let (parts, body) = answer.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(Response::from_parts(parts, Full::new(body)))
}
