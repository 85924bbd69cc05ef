//! The execution history: Step Functions' event types, with ids, the id of the event each one
//! follows (per branch of concurrent work), timestamps and details, recorded only when asked.

use serde_json::Value;
use std::fmt;
use std::sync::Mutex;
use std::time::SystemTime;

/// One event, as `GetExecutionHistory` lists it (details as JSON values, not JSON text).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEvent {
    pub id: u64,
    /// The event this one follows in its own line of work (0 for the first).
    pub previous_event_id: u64,
    pub timestamp: SystemTime,
    pub kind: EventKind,
    /// The state the event is about, if any.
    pub state: Option<String>,
    /// `input`/`output`/`error`/`cause`/`resource`/`index`/… as the event type has them.
    pub details: Value,
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
pub(crate) struct Recorder {
    events: Option<Mutex<Vec<HistoryEvent>>>,
}

impl Recorder {
    pub(crate) fn new(enabled: bool) -> Recorder {
        Recorder {
            events: enabled.then(|| Mutex::new(Vec::new())),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.events.is_some()
    }

    /// Appends an event after `previous` and returns its id (0 when disabled).
    pub(crate) fn record(
        &self,
        previous: u64,
        timestamp: impl FnOnce() -> SystemTime,
        kind: EventKind,
        state: Option<&str>,
        details: impl FnOnce() -> Value,
    ) -> u64 {
        let Some(events) = &self.events else {
            return 0;
        };
        let event = HistoryEvent {
            id: 0,
            previous_event_id: previous,
            timestamp: timestamp(),
            kind,
            state: state.map(String::from),
            details: details(),
        };
        let mut events = events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let id = events.len() as u64 + 1;
        events.push(HistoryEvent { id, ..event });
        id
    }

    pub(crate) fn into_events(self) -> Vec<HistoryEvent> {
        match self.events {
            Some(events) => events
                .into_inner()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
            None => Vec::new(),
        }
    }
}
