//! The sources: each turns its kind of change into `Incoming` messages for the `Intake`, and
//! acknowledges a message only once the intake has it on disk.

pub mod amqp;
pub mod nats;
pub mod poll;
pub mod postgres;
pub mod schedule;
pub mod webhook;

/// One human line per connection event ("connected", "connection lost; retrying in 2 s").
pub type Notes = std::sync::Arc<dyn Fn(String) + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("source `{source_name}`: {message}")]
    Config {
        source_name: String,
        message: String,
    },
}

impl SourceError {
    pub fn config(source_name: &str, message: impl Into<String>) -> SourceError {
        SourceError::Config {
            source_name: source_name.to_string(),
            message: message.into(),
        }
    }
}

/// Where a broker source connects: `url`, or the value of the environment variable
/// `url_env` (a missing variable is a configuration error naming it).
pub(crate) fn broker_url(
    source_name: &str,
    url: Option<&str>,
    url_env: Option<&str>,
) -> Result<String, SourceError> {
    match (url, url_env) {
        (Some(url), _) => Ok(url.to_string()),
        (None, Some(var)) => std::env::var(var).map_err(|_| {
            SourceError::config(
                source_name,
                format!("the environment variable `{var}` (its `url_env`) is not set"),
            )
        }),
        (None, None) => Err(SourceError::config(
            source_name,
            "neither `url` nor `url_env` is set",
        )),
    }
}

/// A URL as shown in notes: its host and port, without credentials or path.
pub(crate) fn shown_address(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    rest[..end].to_string()
}

/// The wait between reconnection attempts of a broker source: 0.5 s, doubling, at most 10 s;
/// back to 0.5 s once a connection works.
pub(crate) struct Backoff {
    next: std::time::Duration,
}

impl Backoff {
    const FIRST: std::time::Duration = std::time::Duration::from_millis(500);
    const MOST: std::time::Duration = std::time::Duration::from_secs(10);

    pub(crate) fn new() -> Backoff {
        Backoff {
            next: Backoff::FIRST,
        }
    }

    pub(crate) fn reset(&mut self) {
        self.next = Backoff::FIRST;
    }

    /// The wait to take now (the following one is twice as long, up to the cap).
    pub(crate) fn next(&mut self) -> std::time::Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(Backoff::MOST);
        wait
    }
}

/// Why a session of a broker source ended.
pub(crate) enum Failure {
    /// Retried after a back-off (the broker is down, the connection dropped).
    Transient(String),
    /// Ends the source (a setting that cannot work).
    Config(String),
}

/// One connection's life of a broker source: connect, consume until shutdown (`Ok`) or a
/// failure. `backoff` is reset once the connection works.
pub(crate) trait Session: Sync {
    fn session<'a>(
        &'a self,
        shutdown: &'a mut tokio::sync::watch::Receiver<bool>,
        backoff: &'a mut Backoff,
    ) -> crate::dispatch::BoxFuture<'a, Result<(), Failure>>;
}

/// Runs `session` until it ends cleanly (at shutdown) or with a configuration error; after a
/// transient failure, notes why, waits the back-off and connects again. The one reconnection
/// loop of every broker source.
pub(crate) async fn reconnecting(
    kind: &str,
    name: &str,
    notes: &Notes,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
    session: &impl Session,
) -> Result<(), SourceError> {
    let mut backoff = Backoff::new();
    loop {
        if stopping(shutdown) {
            return Ok(());
        }
        let failure = match session.session(shutdown, &mut backoff).await {
            Ok(()) => return Ok(()),
            Err(Failure::Config(message)) => return Err(SourceError::config(name, message)),
            Err(Failure::Transient(failure)) => failure,
        };
        let wait = backoff.next();
        notes(format!(
            "{kind} {name}: {failure}; retrying in {}",
            seconds(wait)
        ));
        if sleep_unless_shutdown(wait, shutdown).await {
            return Ok(());
        }
    }
}

/// `2 s`, `0.5 s`: a wait as shown in notes.
pub(crate) fn seconds(wait: std::time::Duration) -> String {
    format!("{} s", wait.as_secs_f64())
}

/// True once `shutdown` says stop (or its sender is gone).
pub(crate) fn stopping(shutdown: &tokio::sync::watch::Receiver<bool>) -> bool {
    *shutdown.borrow() || shutdown.has_changed().is_err()
}

/// Sleeps `wait`, or less when shutdown comes first; answers whether it did.
pub(crate) async fn sleep_unless_shutdown(
    wait: std::time::Duration,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) -> bool {
    if stopping(shutdown) {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(wait) => stopping(shutdown),
        _ = shutdown_signal(shutdown) => true,
    }
}

/// Resolves when `shutdown` becomes true (or its sender is dropped).
pub(crate) async fn shutdown_signal(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow_and_update() {
            return;
        }
        if shutdown.changed().await.is_err() {
            return;
        }
    }
}
