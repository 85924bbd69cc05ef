//! Webhooks: an HTTP server taking `POST <path>` with a JSON body for each webhook source,
//! checking its HMAC-SHA256 signature when the source has a secret, and answering 202 only
//! once the event is in the log. The same server carries `flowctl dev`'s control endpoints
//! (`/_flowctl/…`, behind a bearer token), through which `flowctl events send|release|replay`
//! reach a running `dev`.
//!
//! Answers (JSON bodies): 202 accepted; 200 a duplicate (already accepted, not run again);
//! 400 the body is not JSON; 401 a missing or bad signature; 404 no such path; 405 not a
//! POST; 413 a body over `MAX_BODY`; 422 the event's id or key cannot be read (kept as
//! rejected with the reason); 503 the log cannot be written (retry later). Only 202, 200 and
//! 422 write to the log.

use super::{Notes, SourceError};
use crate::intake::{Intake, Intook};
use crate::log::{Accepted, Log};
use crate::Incoming;
use bytes::Bytes;
use flowctl_lang::manifest::events::SourceKind;
use flowctl_protocol::event::{body_not_json, body_too_large, WEBHOOK_TAKES_POST};
use flowctl_protocol::signature::{constant_time_eq, verify, Style};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming as Body;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use flowctl_protocol::event::MAX_BODY;
/// The signature check, shared with the deployed ingest.
pub use flowctl_protocol::signature::{sign, GITHUB_HEADER, STRIPE_HEADER, STRIPE_TOLERANCE};

/// Paths under this prefix are the control endpoints, never a webhook.
pub const CONTROL_PREFIX: &str = "/_flowctl/";

/// What the control endpoints do, beyond sending events (implemented by `flowctl dev`).
pub trait Control: Send + Sync {
    fn release<'a>(
        &'a self,
        subscription: &'a str,
        key: &'a str,
        skip: bool,
    ) -> crate::dispatch::BoxFuture<'a, Result<bool, crate::LogError>>;
}

impl Control for Log {
    fn release<'a>(
        &'a self,
        subscription: &'a str,
        key: &'a str,
        skip: bool,
    ) -> crate::dispatch::BoxFuture<'a, Result<bool, crate::LogError>> {
        Box::pin(Log::release(self, subscription, key, skip))
    }
}

/// A webhook source as served: its name and, when signed, its secret and header style.
#[derive(Clone)]
struct Hook {
    source: String,
    signature: Option<(Vec<u8>, Style)>,
}

/// The path each webhook source is served on.
pub fn path_of(name: &str, path: Option<&str>) -> String {
    path.map_or_else(|| format!("/events/{name}"), str::to_string)
}

struct Server {
    intake: Intake,
    hooks: HashMap<String, Hook>,
    token: String,
    notes: Notes,
}

/// Serves every webhook source of the intake's manifest, and the control endpoints, on
/// `listener` until `shutdown` turns true. Secrets are read from the environment first: a
/// missing one is an error before anything is served.
pub async fn serve(
    listener: TcpListener,
    intake: Intake,
    token: String,
    notes: Notes,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), SourceError> {
    let mut hooks = HashMap::new();
    for (name, source) in intake.sources() {
        let SourceKind::Webhook(hook) = &source.kind else {
            continue;
        };
        let signature = match &hook.secret_env {
            None => None,
            Some(var) => {
                let secret = std::env::var(var).map_err(|_| {
                    SourceError::config(
                        name,
                        format!("the webhook secret variable {var} is not set; export it (the senders sign with the same secret)"),
                    )
                })?;
                let style = Style::of_header(hook.signature_header.as_deref());
                Some((secret.into_bytes(), style))
            }
        };
        hooks.insert(
            path_of(name, hook.path.as_deref()),
            Hook {
                source: name.clone(),
                signature,
            },
        );
    }
    let server = Arc::new(Server {
        intake,
        hooks,
        token,
        notes,
    });
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return Ok(()),
        };
        let Ok((stream, _)) = accepted else {
            continue;
        };
        let server = server.clone();
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let service = hyper::service::service_fn(move |req| {
                let server = server.clone();
                async move { Ok::<_, std::convert::Infallible>(server.handle(req).await) }
            });
            let connection =
                hyper::server::conn::http1::Builder::new().serve_connection(io, service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stop.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
}

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

fn error(status: StatusCode, message: impl Into<String>) -> Response<Full<Bytes>> {
    reply(status, json!({"error": message.into()}))
}

impl Server {
    async fn handle(&self, req: Request<Body>) -> Response<Full<Bytes>> {
        let path = req.uri().path().to_string();
        if let Some(rest) = path.strip_prefix(CONTROL_PREFIX) {
            let rest = rest.to_string();
            return self.control(req, &rest).await;
        }
        let Some(hook) = self.hooks.get(&path).cloned() else {
            let mut paths: Vec<_> = self.hooks.keys().cloned().collect();
            paths.sort();
            return error(
                StatusCode::NOT_FOUND,
                format!(
                    "no webhook at {path}; the webhooks are {}",
                    paths.join(", ")
                ),
            );
        };
        if req.method() != Method::POST {
            return error(StatusCode::METHOD_NOT_ALLOWED, WEBHOOK_TAKES_POST);
        }
        let headers = header_pairs(&req);
        let body = match read_body(req).await {
            Ok(body) => body,
            Err(response) => return response,
        };
        if let Some((secret, style)) = &hook.signature {
            if let Err(why) = verify(
                secret,
                *style,
                &headers,
                &body,
                crate::time::now_ms() / 1000,
            ) {
                return error(StatusCode::UNAUTHORIZED, why);
            }
        }
        self.submit(&hook.source, &body, headers).await
    }

    async fn submit(
        &self,
        source: &str,
        body: &[u8],
        headers: Vec<(String, String)>,
    ) -> Response<Full<Bytes>> {
        let payload: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return error(StatusCode::BAD_REQUEST, body_not_json(&e)),
        };
        let incoming = Incoming {
            payload,
            headers,
            ..Incoming::default()
        };
        match self.intake.submit(source, incoming).await {
            Ok(Intook::Accepted(Accepted::New { seq, deliveries })) => reply(
                StatusCode::ACCEPTED,
                json!({"accepted": true, "seq": seq, "deliveries": deliveries}),
            ),
            Ok(Intook::Accepted(Accepted::Duplicate { seq })) => {
                reply(StatusCode::OK, json!({"duplicate": true, "seq": seq}))
            }
            Ok(Intook::Rejected { reason }) => reply(
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"error": reason, "rejected": true}),
            ),
            Err(e) => {
                (self.notes)(format!("webhook {source}: {e}"));
                error(StatusCode::SERVICE_UNAVAILABLE, format!("{e}; retry later"))
            }
        }
    }

    /// `POST /_flowctl/events/<source>` (any source kind), `POST /_flowctl/release`
    /// `{subscription, key, skip}`, `POST /_flowctl/replay` `{event}`.
    async fn control(&self, req: Request<Body>, rest: &str) -> Response<Full<Bytes>> {
        let authorized = req
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| constant_time_eq(t.as_bytes(), self.token.as_bytes()));
        if !authorized {
            return error(
                StatusCode::UNAUTHORIZED,
                "control endpoints need the token of .flowctl/dev.json",
            );
        }
        if req.method() != Method::POST {
            return error(
                StatusCode::METHOD_NOT_ALLOWED,
                "control endpoints take POST",
            );
        }
        let headers = header_pairs(&req);
        let body = match read_body(req).await {
            Ok(body) => body,
            Err(response) => return response,
        };
        if let Some(source) = rest.strip_prefix("events/") {
            if !self.intake.sources().contains_key(source) {
                return error(
                    StatusCode::NOT_FOUND,
                    format!("no source `{source}` in the manifest"),
                );
            }
            return self.submit(source, &body, headers).await;
        }
        let args: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let text = |k: &str| args[k].as_str().map(str::to_string);
        match rest {
            "release" => {
                let (Some(sub), Some(key)) = (text("subscription"), text("key")) else {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "release takes {subscription, key, skip}",
                    );
                };
                let skip = args["skip"].as_bool().unwrap_or(false);
                match self.intake.log().release(&sub, &key, skip).await {
                    Ok(released) => reply(StatusCode::OK, json!({"released": released})),
                    Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
                }
            }
            "replay" => {
                let Some(event) = text("event") else {
                    return error(StatusCode::BAD_REQUEST, "replay takes {event}");
                };
                match self.intake.log().replay(&event).await {
                    Ok(n) => reply(StatusCode::OK, json!({"deliveries": n})),
                    Err(e @ crate::LogError::NoSuchEvent(_)) => {
                        error(StatusCode::NOT_FOUND, e.to_string())
                    }
                    Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
                }
            }
            _ => error(
                StatusCode::NOT_FOUND,
                format!("no control endpoint {CONTROL_PREFIX}{rest}"),
            ),
        }
    }
}

fn header_pairs(req: &Request<Body>) -> Vec<(String, String)> {
    req.headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect()
}

async fn read_body(req: Request<Body>) -> Result<Bytes, Response<Full<Bytes>>> {
    match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(error(StatusCode::PAYLOAD_TOO_LARGE, body_too_large()))
        }
        Err(e) => Err(error(
            StatusCode::BAD_REQUEST,
            format!("cannot read the body: {e}"),
        )),
    }
}
