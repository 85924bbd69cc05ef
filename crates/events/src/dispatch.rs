//! Runs the log's deliveries: per subscription and key one at a time in log order, keys
//! concurrently up to the subscription's `concurrency`, with retries, KO and parking, and
//! per-key state handed to the target and stored with the outcome.
//!
//! Each subscription is one task owning its keys' queues (no locks); invocations run as tasks
//! of their own and report back. A key is never in two invocations at once, and a key that is
//! running, retrying or parked holds only itself back.

use crate::log::{Delivery, Dispatch, Log, LogError, Outcome, Sink};
use crate::routes::{Plan, Routes};
use flowctl_lang::manifest::events::{KoAction, Target};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub use flowctl_protocol::ko::STATE_MISSING;

/// A failed invocation: `error` is the name a flow's `catch` would see, `cause` the detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub error: String,
    pub cause: String,
}

/// One invocation's result and, when the invoker keeps one, its execution trace.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub result: Result<Value, Failure>,
    pub trace: Option<Value>,
}

/// What runs a subscription's flow or function: the embedded engine in `flowctl dev`, the
/// AWS SDK in a deployed subscriber, closures in tests and benchmarks.
pub trait Invoke: Send + Sync {
    fn invoke<'a>(&'a self, target: &'a Target, input: Value) -> BoxFuture<'a, Invocation>;
}

/// A step in an event's life, for `flowctl dev`'s one line per event.
#[derive(Debug, Clone)]
pub struct Report {
    pub subscription: String,
    pub key: String,
    pub seq: i64,
    pub what: What,
}

#[derive(Debug, Clone)]
pub enum What {
    /// Accepted for the subscription, behind this many events of its key (the running one
    /// included; 0: it may start at once), or behind a parked key.
    Queued {
        behind: usize,
        parked: bool,
    },
    Started {
        attempt: u32,
    },
    Done {
        millis: u128,
    },
    Retrying {
        attempt: u32,
        error: String,
        delay: Duration,
    },
    Ko {
        error: String,
        cause: String,
        attempts: u32,
    },
    Parked,
    Released {
        rerun: bool,
    },
    /// The log could not record the outcome: the key stops until restart.
    LogFailed {
        error: String,
    },
}

/// Receives reports; `flowctl dev` prints them, benchmarks ignore them.
pub trait Observe: Send + Sync {
    fn report(&self, report: Report);
}

/// Ignores every report.
pub struct Quiet;

impl Observe for Quiet {
    fn report(&self, _: Report) {}
}

enum Msg {
    Deliver(Delivery),
    Parked(Delivery),
    States(HashMap<String, Value>),
    Released {
        key: String,
        seq: i64,
        rerun: Option<Delivery>,
    },
    Finished {
        key: String,
        state: Option<Value>,
        parked: bool,
        stop: bool,
    },
    Drain(oneshot::Sender<()>),
}

/// The running subscriptions over one log.
pub struct Runtime {
    log: Log,
    subscriptions: Vec<mpsc::UnboundedSender<Msg>>,
}

impl Runtime {
    /// Opens the log at `path` and starts every subscription of `routes`; queued work from a
    /// previous run starts at once, in its order. Call inside a tokio runtime.
    pub fn start(
        path: &Path,
        routes: Routes,
        invoker: Arc<dyn Invoke>,
        observer: Arc<dyn Observe>,
    ) -> Result<Runtime, LogError> {
        let mut senders = HashMap::new();
        let mut receivers = Vec::new();
        for plan in routes.plans() {
            let (tx, rx) = mpsc::unbounded_channel();
            senders.insert(plan.name.clone(), tx);
            receivers.push((plan.clone(), rx));
        }
        let subscriptions: Vec<_> = senders.values().cloned().collect();
        let sink: Sink = Box::new(move |dispatch| route(&senders, dispatch));
        let log = Log::open(path, routes, Some(sink))?;
        for (plan, rx) in receivers {
            let task = Subscription {
                plan: Arc::new(plan),
                log: log.clone(),
                invoker: invoker.clone(),
                observer: observer.clone(),
                keys: HashMap::new(),
                ready: VecDeque::new(),
                running: 0,
                drain: None,
            };
            tokio::spawn(task.run(rx));
        }
        Ok(Runtime { log, subscriptions })
    }

    pub fn log(&self) -> &Log {
        &self.log
    }

    /// Starts nothing new and waits for every running invocation to finish; queued work
    /// stays in the log for the next start.
    pub async fn drain(self) {
        let mut waits = Vec::new();
        for tx in &self.subscriptions {
            let (done, wait) = oneshot::channel();
            if tx.send(Msg::Drain(done)).is_ok() {
                waits.push(wait);
            }
        }
        for wait in waits {
            let _ = wait.await;
        }
    }
}

fn route(senders: &HashMap<String, mpsc::UnboundedSender<Msg>>, dispatch: Dispatch) {
    let send = |subscription: &str, msg| {
        // Work of a subscription no longer in the manifest stays queued in the log.
        if let Some(tx) = senders.get(subscription) {
            let _ = tx.send(msg);
        }
    };
    match dispatch {
        Dispatch::Deliver(deliveries) => {
            for d in deliveries {
                let sub = d.subscription.clone();
                send(&sub, Msg::Deliver(d));
            }
        }
        Dispatch::Parked(d) => {
            let sub = d.subscription.clone();
            send(&sub, Msg::Parked(d));
        }
        Dispatch::States {
            subscription,
            states,
        } => send(&subscription, Msg::States(states)),
        Dispatch::Released {
            subscription,
            key,
            seq,
            rerun,
        } => send(&subscription, Msg::Released { key, seq, rerun }),
    }
}

#[derive(Default)]
struct Key {
    queue: VecDeque<Delivery>,
    running: bool,
    parked: bool,
    /// In `ready` already.
    ready: bool,
    state: Option<Value>,
}

struct Subscription {
    plan: Arc<Plan>,
    log: Log,
    invoker: Arc<dyn Invoke>,
    observer: Arc<dyn Observe>,
    keys: HashMap<String, Key>,
    /// Keys with work that may start now, in the order they became ready.
    ready: VecDeque<String>,
    running: usize,
    drain: Option<oneshot::Sender<()>>,
}

impl Subscription {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Msg>) {
        // Finished invocations report on a channel of their own, read first.
        let (back_tx, mut back_rx) = mpsc::unbounded_channel::<Msg>();
        loop {
            let msg = tokio::select! {
                biased;
                Some(msg) = back_rx.recv() => msg,
                msg = rx.recv() => match msg {
                    Some(msg) => msg,
                    None => break,
                },
            };
            self.handle(msg);
            self.start_ready(&back_tx);
            if self.running == 0 {
                if let Some(done) = self.drain.take() {
                    let _ = done.send(());
                    // Drained: finish what was running, start nothing more.
                    break;
                }
            }
        }
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Deliver(d) => {
                let key = self.keys.entry(d.key.clone()).or_default();
                let behind = key.queue.len() + usize::from(key.running);
                let (seq, name) = (d.seq, d.key.clone());
                let parked = key.parked;
                key.queue.push_back(d);
                self.report(&name, seq, What::Queued { behind, parked });
                self.mark_ready(&name);
            }
            Msg::Parked(d) => {
                let key = self.keys.entry(d.key.clone()).or_default();
                key.parked = true;
                self.report(&d.key, d.seq, What::Parked);
            }
            Msg::States(states) => {
                for (name, state) in states {
                    self.keys.entry(name).or_default().state = Some(state);
                }
            }
            Msg::Released {
                key: name,
                seq,
                rerun,
            } => {
                let key = self.keys.entry(name.clone()).or_default();
                key.parked = false;
                let again = rerun.is_some();
                if let Some(d) = rerun {
                    key.queue.push_front(d);
                }
                self.report(&name, seq, What::Released { rerun: again });
                self.mark_ready(&name);
            }
            Msg::Finished {
                key: name,
                state,
                parked,
                stop,
            } => {
                self.running -= 1;
                let key = self.keys.entry(name.clone()).or_default();
                key.running = false;
                key.parked |= parked || stop;
                if state.is_some() {
                    key.state = state;
                }
                if key.queue.is_empty() && !key.parked && key.state.is_none() {
                    self.keys.remove(&name);
                } else {
                    self.mark_ready(&name);
                }
            }
            Msg::Drain(done) => self.drain = Some(done),
        }
    }

    fn mark_ready(&mut self, name: &str) {
        if let Some(key) = self.keys.get_mut(name) {
            if !key.ready && !key.running && !key.parked && !key.queue.is_empty() {
                key.ready = true;
                self.ready.push_back(name.to_string());
            }
        }
    }

    fn start_ready(&mut self, back: &mpsc::UnboundedSender<Msg>) {
        while self.drain.is_none() && self.running < self.plan.concurrency {
            let Some(name) = self.ready.pop_front() else {
                return;
            };
            let Some(key) = self.keys.get_mut(&name) else {
                continue;
            };
            key.ready = false;
            if key.running || key.parked {
                continue;
            }
            let Some(delivery) = key.queue.pop_front() else {
                continue;
            };
            key.running = true;
            self.running += 1;
            let state = key.state.clone();
            let job = Job {
                plan: self.plan.clone(),
                log: self.log.clone(),
                invoker: self.invoker.clone(),
                observer: self.observer.clone(),
            };
            let back = back.clone();
            tokio::spawn(async move {
                let key = delivery.key.clone();
                let finished = job.run(delivery, state).await;
                let _ = back.send(Msg::Finished {
                    key,
                    state: finished.state,
                    parked: finished.parked,
                    stop: finished.stop,
                });
            });
        }
    }

    fn report(&self, key: &str, seq: i64, what: What) {
        self.observer.report(Report {
            subscription: self.plan.name.clone(),
            key: key.to_string(),
            seq,
            what,
        });
    }
}

/// One delivery's run: attempts, the outcome written to the log, reports.
struct Job {
    plan: Arc<Plan>,
    log: Log,
    invoker: Arc<dyn Invoke>,
    observer: Arc<dyn Observe>,
}

struct Finished {
    state: Option<Value>,
    parked: bool,
    /// The outcome could not be written: hold the key.
    stop: bool,
}

impl Job {
    fn report(&self, delivery: &Delivery, what: What) {
        self.observer.report(Report {
            subscription: self.plan.name.clone(),
            key: delivery.key.clone(),
            seq: delivery.seq,
            what,
        });
    }

    async fn run(&self, delivery: Delivery, state: Option<Value>) -> Finished {
        let (retries, interval, backoff) = self.plan.retry;
        let mut input = if self.plan.state {
            json!({"event": &*delivery.event, "state": state.unwrap_or(Value::Null)})
        } else {
            (*delivery.event).clone()
        };
        let started = Instant::now();
        let mut attempt = 0u32;
        let (outcome, new_state, parked) = loop {
            attempt += 1;
            self.report(&delivery, What::Started { attempt });
            // The last possible attempt takes the input itself: one copy of the event per
            // delivery when it runs once.
            let this = if attempt <= retries {
                input.clone()
            } else {
                std::mem::take(&mut input)
            };
            let invocation = self.invoker.invoke(&self.plan.target, this).await;
            let result = invocation.result.and_then(|output| {
                if !self.plan.state {
                    return Ok((output, None));
                }
                match output.get("state") {
                    Some(s) => {
                        let s = s.clone();
                        Ok((output, Some(s)))
                    }
                    None => Err(Failure {
                        error: STATE_MISSING.into(),
                        cause: format!(
                            "subscription `{}` keeps state, so its {} must answer an object with `state`; it answered {}",
                            self.plan.name,
                            self.plan.target,
                            truncate(&output.to_string())
                        ),
                    }),
                }
            });
            match result {
                Ok((output, new_state)) => {
                    // Written as text here, on this task, not on the log's writer thread.
                    break (
                        Outcome::Done {
                            output: output.to_string(),
                            state: new_state.as_ref().map(Value::to_string),
                            attempts: attempt,
                            trace: invocation.trace.map(|t| t.to_string()),
                        },
                        new_state,
                        false,
                    );
                }
                Err(failure) if attempt <= retries => {
                    let delay = Duration::from_secs_f64(
                        (interval * backoff.powi(attempt as i32 - 1)).clamp(0.0, 3600.0),
                    );
                    self.report(
                        &delivery,
                        What::Retrying {
                            attempt,
                            error: failure.error,
                            delay,
                        },
                    );
                    tokio::time::sleep(delay).await;
                }
                Err(failure) => {
                    let park = self.plan.on_ko == KoAction::Park;
                    self.report(
                        &delivery,
                        What::Ko {
                            error: failure.error.clone(),
                            cause: failure.cause.clone(),
                            attempts: attempt,
                        },
                    );
                    break (
                        Outcome::Ko {
                            error: failure.error,
                            cause: failure.cause,
                            attempts: attempt,
                            park,
                            trace: invocation.trace,
                        },
                        None,
                        park,
                    );
                }
            }
        };
        let done = matches!(outcome, Outcome::Done { .. });
        match self.log.finish(delivery.clone(), outcome).await {
            Ok(()) => {
                if done {
                    self.report(
                        &delivery,
                        What::Done {
                            millis: started.elapsed().as_millis(),
                        },
                    );
                } else if parked {
                    self.report(&delivery, What::Parked);
                }
                Finished {
                    state: new_state,
                    parked,
                    stop: false,
                }
            }
            Err(e) => {
                self.report(
                    &delivery,
                    What::LogFailed {
                        error: e.to_string(),
                    },
                );
                Finished {
                    state: None,
                    parked: false,
                    stop: true,
                }
            }
        }
    }
}

fn truncate(text: &str) -> String {
    const MAX: usize = 200;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}
