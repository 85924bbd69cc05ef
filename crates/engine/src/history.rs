//! The execution history: Step Functions' event types, with ids, the id of the event each one
//! follows (per branch of concurrent work), timestamps and details, recorded only when asked.
//!
//! Recording is cheap: an event's details keep the values the run had (a state's input or
//! output, shared with the run and with neighbouring events through `Arc`, never copied) and
//! become JSON only when `HistoryEvent::details` is called.

use super::model::Service;
use serde_json::{Map, Value};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// One event, as `GetExecutionHistory` lists it (details as JSON values, not JSON text).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEvent {
    pub id: u64,
    /// The event this one follows in its own line of work (0 for the first).
    pub previous_event_id: u64,
    pub timestamp: SystemTime,
    pub kind: EventKind,
    /// The state the event is about, if any (its name, shared with the loaded machine).
    pub state: Option<Arc<str>>,
    /// Read with `details()`.
    pub(crate) details: Details,
}

impl HistoryEvent {
    /// `input`/`output`/`error`/`cause`/`resource`/`index`/… as the event type has them. Built
    /// on each call from the values the engine kept.
    pub fn details(&self) -> Value {
        self.details.to_json(self.state.as_deref())
    }

    /// The function a `…Scheduled` event of a Lambda Task calls, as the invoker was asked for
    /// it (a `lambda:invoke`'s `FunctionName`, a Task's Lambda ARN), without building details.
    pub fn called_function(&self) -> Option<&str> {
        match &self.details {
            Details::InvokeScheduled { function, .. } => Some(function),
            Details::LambdaScheduled { resource, .. } => Some(resource),
            _ => None,
        }
    }
}

/// What an event's details are made of; `to_json` gives them Step Functions' shape.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Details {
    /// `{}`.
    Empty,
    /// Built as JSON when recorded (rarer events: failures, Map and Parallel bookkeeping).
    /// Boxed, like every large part: events are moved into the history one by one, and a
    /// small event is moved without a call to `memcpy`.
    Json(Box<Value>),
    /// `{"name": <the state>, <key>: value}`: `…StateEntered` (`input`), `…StateExited`
    /// (`output`).
    State {
        key: &'static str,
        value: Arc<Value>,
    },
    ExecutionStarted {
        input: Arc<Value>,
        name: String,
        virtual_time: bool,
    },
    /// `{"output": value}`: `ExecutionSucceeded`, `LambdaFunctionSucceeded`.
    Output(Arc<Value>),
    /// `LambdaFunctionScheduled`.
    LambdaScheduled {
        resource: Arc<str>,
        input: Arc<Value>,
        timeout: Option<u64>,
    },
    /// `TaskScheduled` of a `lambda:invoke`.
    InvokeScheduled {
        function: Arc<str>,
        payload: Arc<Value>,
        timeout: Option<u64>,
    },
    /// `TaskStarted` of a `lambda:invoke`.
    InvokeStarted,
    /// `TaskSucceeded` of a `lambda:invoke`: the Invoke response around `payload`.
    InvokeSucceeded {
        payload: Arc<Value>,
        /// A `u128` in two halves: as one, it would align every event to 16 bytes.
        request_id: [u64; 2],
    },
    /// `TaskSucceeded` of a `lambda:invoke` whose whole response the run built already (or
    /// a mock answered).
    InvokeResponse(Arc<Value>),
    /// `TaskScheduled` of another service's Task (a mocked one): its request.
    ServiceScheduled {
        service: Arc<Service>,
        parameters: Arc<Value>,
        timeout: Option<u64>,
    },
    /// `TaskStarted` of another service's Task.
    ServiceStarted(Arc<Service>),
    /// `TaskSucceeded` of another service's Task: its response.
    ServiceSucceeded {
        service: Arc<Service>,
        output: Arc<Value>,
    },
}

/// A JSON object from `key => value` pairs, the values moved in.
macro_rules! object {
    ($($key:literal => $value:expr),* $(,)?) => {{
        let mut map = Map::new();
        $(map.insert(String::from($key), Value::from($value));)*
        Value::Object(map)
    }};
}

impl Details {
    pub(crate) fn json(value: Value) -> Details {
        Details::Json(Box::new(value))
    }

    fn to_json(&self, state: Option<&str>) -> Value {
        let value = |v: &Arc<Value>| Value::clone(v);
        match self {
            Details::Empty => Value::Object(Map::new()),
            Details::Json(v) => Value::clone(v),
            Details::State { key, value: v } => {
                let mut map = Map::new();
                map.insert("name".into(), Value::from(state.unwrap_or_default()));
                map.insert(String::from(*key), value(v));
                Value::Object(map)
            }
            Details::ExecutionStarted {
                input,
                name,
                virtual_time,
            } => object! {
                "input" => value(input),
                "roleArn" => ROLE_ARN,
                "name" => name.as_str(),
                "virtualTime" => *virtual_time
            },
            Details::Output(v) => object! {"output" => value(v)},
            Details::LambdaScheduled {
                resource,
                input,
                timeout,
            } => {
                object! {"resource" => &**resource, "input" => value(input), "timeoutInSeconds" => *timeout}
            }
            Details::InvokeScheduled {
                function,
                payload,
                timeout,
            } => object! {
                "resourceType" => "lambda",
                "resource" => "invoke",
                "region" => REGION,
                "parameters" => object! {"FunctionName" => &**function, "Payload" => value(payload)},
                "timeoutInSeconds" => *timeout
            },
            Details::InvokeStarted => object! {"resourceType" => "lambda", "resource" => "invoke"},
            Details::InvokeSucceeded {
                payload,
                request_id,
            } => object! {
                "resourceType" => "lambda",
                "resource" => "invoke",
                "output" => invoke_response(value(payload), u128::from(request_id[0]) << 64 | u128::from(request_id[1]))
            },
            Details::InvokeResponse(response) => object! {
                "resourceType" => "lambda",
                "resource" => "invoke",
                "output" => value(response)
            },
            Details::ServiceScheduled {
                service,
                parameters,
                timeout,
            } => object! {
                "resourceType" => &*service.resource_type,
                "resource" => &*service.resource,
                "region" => REGION,
                "parameters" => value(parameters),
                "timeoutInSeconds" => *timeout
            },
            Details::ServiceStarted(service) => object! {
                "resourceType" => &*service.resource_type,
                "resource" => &*service.resource
            },
            Details::ServiceSucceeded { service, output } => object! {
                "resourceType" => &*service.resource_type,
                "resource" => &*service.resource,
                "output" => value(output)
            },
        }
    }
}

/// The account and region the local engine's ARNs name (AWS documentation's example account).
pub(crate) const ACCOUNT: &str = "123456789012";
pub(crate) const REGION: &str = "us-east-1";
pub(crate) const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/flowctl-local";

/// A version-4 UUID in its text form, from 128 random bits (request ids, execution names).
pub(crate) fn uuid_text(random: u128) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut bytes = random.to_be_bytes();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut text = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        text.push(char::from(HEX[usize::from(b >> 4)]));
        text.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    text
}

/// What the Lambda `Invoke` API answers, as the optimised integration passes it on.
pub(crate) fn invoke_response(payload: Value, request_id: u128) -> Value {
    let id = uuid_text(request_id);
    object! {
        "ExecutedVersion" => "$LATEST",
        "Payload" => payload,
        "SdkHttpMetadata" => object! {
            "HttpHeaders" => object! {"Content-Type" => "application/json", "X-Amz-Executed-Version" => "$LATEST", "x-amzn-RequestId" => id.as_str()},
            "HttpStatusCode" => 200
        },
        "SdkResponseMetadata" => object! {"RequestId" => id},
        "StatusCode" => 200
    }
}

macro_rules! event_kinds {
    ($($name:ident),* $(,)?) => {
        /// Step Functions' history event types that the local engine produces.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventKind { $($name),* }

        impl EventKind {
            /// Step Functions' name of the type, e.g. `TaskStateEntered`.
            pub fn name(self) -> &'static str {
                match self { $(EventKind::$name => stringify!($name)),* }
            }
        }
    };
}

event_kinds!(
    ExecutionStarted,
    ExecutionSucceeded,
    ExecutionFailed,
    ExecutionTimedOut,
    PassStateEntered,
    PassStateExited,
    TaskStateEntered,
    TaskStateExited,
    ChoiceStateEntered,
    ChoiceStateExited,
    WaitStateEntered,
    WaitStateExited,
    SucceedStateEntered,
    SucceedStateExited,
    FailStateEntered,
    ParallelStateEntered,
    ParallelStateExited,
    ParallelStateStarted,
    ParallelStateSucceeded,
    ParallelStateFailed,
    MapStateEntered,
    MapStateExited,
    MapStateStarted,
    MapStateSucceeded,
    MapStateFailed,
    MapIterationStarted,
    MapIterationSucceeded,
    MapIterationFailed,
    MapRunStarted,
    MapRunSucceeded,
    MapRunFailed,
    TaskScheduled,
    TaskStarted,
    TaskSucceeded,
    TaskFailed,
    TaskTimedOut,
    LambdaFunctionScheduled,
    LambdaFunctionStarted,
    LambdaFunctionSucceeded,
    LambdaFunctionFailed,
    LambdaFunctionTimedOut,
);

impl EventKind {
    /// `<Type>StateEntered` for a state type name.
    pub(crate) fn entered(type_name: &str) -> EventKind {
        match type_name {
            "Pass" => EventKind::PassStateEntered,
            "Task" => EventKind::TaskStateEntered,
            "Choice" => EventKind::ChoiceStateEntered,
            "Wait" => EventKind::WaitStateEntered,
            "Succeed" => EventKind::SucceedStateEntered,
            "Fail" => EventKind::FailStateEntered,
            "Parallel" => EventKind::ParallelStateEntered,
            _ => EventKind::MapStateEntered,
        }
    }

    /// `<Type>StateExited` (a Fail state never exits: the execution fails).
    pub(crate) fn exited(type_name: &str) -> EventKind {
        match type_name {
            "Pass" => EventKind::PassStateExited,
            "Task" => EventKind::TaskStateExited,
            "Choice" => EventKind::ChoiceStateExited,
            "Wait" => EventKind::WaitStateExited,
            "Succeed" => EventKind::SucceedStateExited,
            "Parallel" => EventKind::ParallelStateExited,
            _ => EventKind::MapStateExited,
        }
    }

    /// Whether this is a `<Type>StateEntered` event.
    pub fn is_state_entered(self) -> bool {
        self.name().ends_with("StateEntered")
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Collects events; when disabled, recording is a branch and nothing else (details are built
/// by a closure that is then never called).
///
/// The execution's own line of work (its top-level states, most events) appends to a vector
/// it owns, without a lock; Parallel branches and Map iterations, which run concurrently,
/// append to a shared one under a lock. Ids come from one counter, so `into_events` merges
/// the two in order.
pub(crate) struct Recorder {
    enabled: bool,
    last_id: AtomicU64,
    shared: Mutex<Vec<HistoryEvent>>,
}

impl Recorder {
    pub(crate) fn new(enabled: bool) -> Recorder {
        Recorder {
            enabled,
            last_id: AtomicU64::new(0),
            shared: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Appends an event after `previous` to `own` (the vector of the line of work that records
    /// it, if it has one) or to the shared vector; returns its id (0 when disabled).
    pub(crate) fn record(
        &self,
        own: Option<&mut Vec<HistoryEvent>>,
        previous: u64,
        timestamp: SystemTime,
        kind: EventKind,
        state: Option<&Arc<str>>,
        details: impl FnOnce() -> Details,
    ) -> u64 {
        if !self.enabled {
            return 0;
        }
        // A load and a store, not `fetch_add`: all futures of an execution are polled by the
        // one task that runs it, never at once.
        let id = self.last_id.load(Relaxed) + 1;
        self.last_id.store(id, Relaxed);
        let event = HistoryEvent {
            id,
            previous_event_id: previous,
            timestamp,
            kind,
            state: state.cloned(),
            details: details(),
        };
        match own {
            Some(events) => events.push(event),
            None => self
                .shared
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(event),
        }
        id
    }

    /// All events in the order of their ids, given the execution's own.
    pub(crate) fn into_events(self, mut own: Vec<HistoryEvent>) -> Vec<HistoryEvent> {
        let shared = self
            .shared
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !shared.is_empty() {
            // Two runs in id order: the stable sort merges them in linear time.
            own.extend(shared);
            own.sort_by_key(|event| event.id);
        }
        own
    }
}
