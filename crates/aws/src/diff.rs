//! `compare(desired, observed)`: the full list of creates, updates, deletes and unchanged
//! resources, as data — a diff, not yet an action. Pure: `deploy --dry-run` prints it,
//! `apply` executes it, `status` reads the drift from it.

use super::model::{Desired, Observed};
use crate::names;
use flowctl_lang::manifest::FlowKind;
use flowctl_protocol::subscriber::table;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Role,
    LogGroup,
    Function,
    StateMachine,
    /// An SQS FIFO queue (a subscription's, or its dead-letter queue).
    Queue,
    /// A subscription's DynamoDB state table.
    Table,
    /// The event source mapping from a subscription's queue to its subscriber (named
    /// after the subscriber function).
    EventSourceMapping,
    /// A webhook's public function URL and the permission to call it (named after the
    /// ingest function).
    FunctionUrl,
    /// The project's EventBridge Scheduler group.
    ScheduleGroup,
    /// An EventBridge Scheduler schedule sending a schedule source's events to a queue.
    Schedule,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Role => "role",
            Kind::LogGroup => "log group",
            Kind::Function => "function",
            Kind::StateMachine => "state machine",
            Kind::Queue => "queue",
            Kind::Table => "table",
            Kind::EventSourceMapping => "event source mapping",
            Kind::FunctionUrl => "function url",
            Kind::ScheduleGroup => "schedule group",
            Kind::Schedule => "schedule",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    /// Deleted and created again: a state machine whose type changed, a mapping from
    /// another queue.
    Replace,
    Delete,
    Unchanged,
    /// Tagged for the project, gone from the manifest, kept because `--prune` was not given.
    Orphaned,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::Unchanged => "unchanged",
            Action::Orphaned => "orphaned",
        }
    }

    /// The action under way, for a progress display: `creating`, `deleting`…
    pub fn doing(self) -> &'static str {
        match self {
            Action::Create => "creating",
            Action::Update => "updating",
            Action::Replace => "replacing",
            Action::Delete => "deleting",
            Action::Unchanged => "checking",
            Action::Orphaned => "keeping",
        }
    }

    /// Whether applying it changes the account.
    pub fn mutates(self) -> bool {
        matches!(
            self,
            Action::Create | Action::Update | Action::Replace | Action::Delete
        )
    }
}

/// What differs on an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// The role's trust policy.
    Trust,
    /// The role's inline policy.
    Policy,
    /// A function's package (`CodeSha256`) or architecture.
    Code,
    /// A function's runtime, handler, memory, timeout, environment or role.
    Configuration,
    /// A state machine's document.
    Definition,
    /// A state machine's role.
    Role,
    /// A state machine's logging.
    Logging,
    /// A state machine's type (standard/express).
    Type,
    /// flowctl's tags are missing or differ.
    Tags,
    /// A queue's attributes (visibility, redrive, deduplication, retention).
    Attributes,
    /// A table's key schema: cannot be changed in place, and a table holding state is
    /// never replaced by deploy (applying it fails, saying so).
    KeySchema,
    /// A table's billing mode.
    Billing,
    /// A table's time to live.
    Ttl,
    /// A mapping's batch size or response types.
    Batching,
    /// A mapping's source (queue or broker) or an Amazon MQ mapping's queues: replaced.
    Queue,
    /// A function URL's auth type.
    Auth,
    /// The permission letting anyone call a function URL.
    Permission,
    /// A schedule's expression, target, role or event.
    Schedule,
    /// A function's reserved concurrency (a poller's 1).
    Concurrency,
    /// A function's asynchronous invocation settings (a poller's: no retry, 60 s at most).
    AsyncInvoke,
    /// How a mapping reaches its source (an Amazon MQ broker's secret).
    Access,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub kind: Kind,
    pub name: String,
    pub action: Action,
    /// For updates: what differs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Field>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Changes {
    pub steps: Vec<Step>,
}

impl Changes {
    /// The steps that change something.
    pub fn mutations(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.action.mutates())
    }

    pub fn is_noop(&self) -> bool {
        self.mutations().next().is_none()
    }

    pub fn count(&self, action: Action) -> usize {
        self.steps.iter().filter(|s| s.action == action).count()
    }
}

fn create(kind: Kind, name: &str) -> Step {
    Step {
        kind,
        name: name.to_string(),
        action: Action::Create,
        changes: vec![],
    }
}

fn step(kind: Kind, name: &str, changes: Vec<Field>) -> Step {
    let action = if changes.is_empty() {
        Action::Unchanged
    } else {
        Action::Update
    };
    Step {
        kind,
        name: name.to_string(),
        action,
        changes,
    }
}

/// Whether the function's environment is as wanted, the variables its owner sets aside.
fn same_env(
    seen: &std::collections::BTreeMap<String, String>,
    function: &super::model::FunctionSpec,
) -> bool {
    let mut seen = seen.clone();
    seen.retain(|k, _| !function.keep_env.contains(k));
    seen == function.env
}

/// Whether every tag in `wanted` is on the resource (other tags are the user's business).
fn has_tags(wanted: &super::model::Tags, actual: &super::model::Tags) -> bool {
    wanted.iter().all(|(k, v)| actual.get(k) == Some(v))
}

/// Compares the desired state with the observed one. Resources observed but not desired are
/// deleted when `prune`, else reported as orphaned. Steps come in the order apply runs them:
/// roles, log groups, functions, state machines, then deletions in reverse.
pub fn compare(desired: &Desired, observed: &Observed, prune: bool) -> Changes {
    let mut steps = Vec::new();
    for role in &desired.roles {
        steps.push(match observed.roles.get(&role.name) {
            None => Step {
                kind: Kind::Role,
                name: role.name.clone(),
                action: Action::Create,
                changes: vec![],
            },
            Some(seen) => {
                let mut changes = Vec::new();
                if seen.trust.as_ref() != Some(&role.trust) {
                    changes.push(Field::Trust);
                }
                if seen.policy.as_ref() != Some(&role.policy) {
                    changes.push(Field::Policy);
                }
                if !has_tags(&role.tags, &seen.tags) {
                    changes.push(Field::Tags);
                }
                step(Kind::Role, &role.name, changes)
            }
        });
    }
    for group in &desired.log_groups {
        let action = if observed.log_groups.contains(&group.name) {
            Action::Unchanged
        } else {
            Action::Create
        };
        steps.push(Step {
            kind: Kind::LogGroup,
            name: group.name.clone(),
            action,
            changes: vec![],
        });
    }
    for function in &desired.functions {
        steps.push(match observed.functions.get(&function.name) {
            None => Step {
                kind: Kind::Function,
                name: function.name.clone(),
                action: Action::Create,
                changes: vec![],
            },
            Some(seen) => {
                let mut changes = Vec::new();
                if seen.code_sha256 != function.code_sha256
                    || seen.architecture.as_deref() != Some(function.architecture.as_str())
                {
                    changes.push(Field::Code);
                }
                if seen.runtime.as_deref() != Some(function.runtime.as_str())
                    || seen.handler.as_deref() != Some(function.handler.as_str())
                    || seen.memory != Some(function.memory)
                    || seen.timeout != Some(function.timeout)
                    || !same_env(&seen.env, function)
                    || seen.role_arn != function.role_arn
                {
                    changes.push(Field::Configuration);
                }
                if !has_tags(&function.tags, &seen.tags) {
                    changes.push(Field::Tags);
                }
                // Compared only where flowctl sets them; elsewhere they are the owner's.
                if function.reserved_concurrency.is_some()
                    && seen.reserved_concurrency != function.reserved_concurrency
                {
                    changes.push(Field::Concurrency);
                }
                if function.async_invoke.is_some() && seen.async_invoke != function.async_invoke {
                    changes.push(Field::AsyncInvoke);
                }
                step(Kind::Function, &function.name, changes)
            }
        });
    }
    for machine in &desired.machines {
        steps.push(match observed.machines.get(&machine.name) {
            None => Step {
                kind: Kind::StateMachine,
                name: machine.name.clone(),
                action: Action::Create,
                changes: vec![],
            },
            Some(seen) if seen.kind.is_some_and(|k| k != machine.kind) => Step {
                kind: Kind::StateMachine,
                name: machine.name.clone(),
                action: Action::Replace,
                changes: vec![Field::Type],
            },
            Some(seen) => {
                let mut changes = Vec::new();
                if seen.definition.as_ref() != Some(&machine.definition) {
                    changes.push(Field::Definition);
                }
                if seen.role_arn != machine.role_arn {
                    changes.push(Field::Role);
                }
                if machine.kind == FlowKind::Express && seen.log_group_arn != machine.log_group_arn
                {
                    changes.push(Field::Logging);
                }
                if !has_tags(&machine.tags, &seen.tags) {
                    changes.push(Field::Tags);
                }
                step(Kind::StateMachine, &machine.name, changes)
            }
        });
    }
    compare_events(desired, observed, &mut steps);
    let gone = if prune {
        Action::Delete
    } else {
        Action::Orphaned
    };
    let mut left = |kind: Kind, names: Vec<&String>, wanted: &dyn Fn(&str) -> bool| {
        for name in names {
            if !wanted(name) {
                steps.push(Step {
                    kind,
                    name: name.clone(),
                    action: gone,
                    changes: vec![],
                });
            }
        }
    };
    left(Kind::Schedule, observed.schedules.keys().collect(), &|n| {
        desired.schedules.iter().any(|s| s.name == n)
    });
    left(
        Kind::EventSourceMapping,
        observed.mappings.keys().collect(),
        &|n| desired.mappings.iter().any(|m| m.function == n),
    );
    left(Kind::FunctionUrl, observed.urls.keys().collect(), &|n| {
        desired.urls.iter().any(|u| u.function == n)
    });
    left(
        Kind::ScheduleGroup,
        observed.schedule_group.iter().collect(),
        &|n| desired.schedule_group.as_ref().is_some_and(|g| g.name == n),
    );
    left(Kind::Queue, observed.queues.keys().collect(), &|n| {
        desired.queues.iter().any(|q| q.name == n)
    });
    left(Kind::Table, observed.tables.keys().collect(), &|n| {
        desired.tables.iter().any(|t| t.name == n)
    });
    for name in observed.machines.keys() {
        if !desired.machines.iter().any(|m| &m.name == name) {
            steps.push(Step {
                kind: Kind::StateMachine,
                name: name.clone(),
                action: gone,
                changes: vec![],
            });
        }
    }
    for name in observed.functions.keys() {
        if !desired.functions.iter().any(|f| &f.name == name) {
            steps.push(Step {
                kind: Kind::Function,
                name: name.clone(),
                action: gone,
                changes: vec![],
            });
        }
    }
    for name in observed.roles.keys() {
        if !desired.roles.iter().any(|r| &r.name == name) {
            steps.push(Step {
                kind: Kind::Role,
                name: name.clone(),
                action: gone,
                changes: vec![],
            });
        }
    }
    Changes { steps }
}

/// A queue attribute as compared: a redrive policy by its target and count (SQS may
/// answer the count as a number or a string, and with its own spacing), the rest as text.
fn attribute(name: &str, value: &str) -> String {
    if name != "RedrivePolicy" {
        return value.to_string();
    }
    let Ok(policy) = serde_json::from_str::<serde_json::Value>(value) else {
        return value.to_string();
    };
    let count = match &policy["maxReceiveCount"] {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    format!(
        "{}#{count}",
        policy["deadLetterTargetArn"].as_str().unwrap_or_default()
    )
}

/// The sources' and subscriptions' resources: queues, tables, mappings, URLs, the schedule
/// group and schedules (roles and functions are compared with the rest).
fn compare_events(desired: &Desired, observed: &Observed, steps: &mut Vec<Step>) {
    for queue in &desired.queues {
        steps.push(match observed.queues.get(&queue.name) {
            None => create(Kind::Queue, &queue.name),
            Some(seen) => {
                let mut changes = Vec::new();
                let differs = queue.attributes.iter().any(|(k, v)| {
                    seen.attributes.get(k).map(|s| attribute(k, s)) != Some(attribute(k, v))
                });
                if differs {
                    changes.push(Field::Attributes);
                }
                if !has_tags(&queue.tags, &seen.tags) {
                    changes.push(Field::Tags);
                }
                step(Kind::Queue, &queue.name, changes)
            }
        });
    }
    for wanted in &desired.tables {
        steps.push(match observed.tables.get(&wanted.name) {
            None => create(Kind::Table, &wanted.name),
            Some(seen) => {
                let mut changes = Vec::new();
                let key = |name: &str| Some((name.to_string(), "S".to_string()));
                if seen.hash_key != key(table::KEY) || seen.range_key != key(table::SORT) {
                    changes.push(Field::KeySchema);
                }
                if seen.billing.as_deref() != Some(BILLING) {
                    changes.push(Field::Billing);
                }
                if wanted.ttl.is_some() && seen.ttl != wanted.ttl {
                    changes.push(Field::Ttl);
                }
                if !has_tags(&wanted.tags, &seen.tags) {
                    changes.push(Field::Tags);
                }
                step(Kind::Table, &wanted.name, changes)
            }
        });
    }
    if let Some(group) = &desired.schedule_group {
        steps.push(if observed.schedule_group.as_ref() == Some(&group.name) {
            step(Kind::ScheduleGroup, &group.name, vec![])
        } else {
            create(Kind::ScheduleGroup, &group.name)
        });
    }
    for mapping in &desired.mappings {
        steps.push(match observed.mappings.get(&mapping.function) {
            None => create(Kind::EventSourceMapping, &mapping.function),
            // A mapping's source and an MQ mapping's queues are fixed when it is created.
            Some(seen)
                if seen.source_arn != mapping.source_arn || seen.queues != mapping.queues =>
            {
                Step {
                    kind: Kind::EventSourceMapping,
                    name: mapping.function.clone(),
                    action: Action::Replace,
                    changes: vec![Field::Queue],
                }
            }
            Some(seen) => {
                let mut changes = Vec::new();
                if seen.batch_size != Some(mapping.batch_size)
                    || seen.response_types != mapping.response_types
                {
                    changes.push(Field::Batching);
                }
                let mut access = mapping.source_access.clone();
                access.sort();
                if seen.source_access != access {
                    changes.push(Field::Access);
                }
                step(Kind::EventSourceMapping, &mapping.function, changes)
            }
        });
    }
    for url in &desired.urls {
        steps.push(match observed.urls.get(&url.function) {
            None => create(Kind::FunctionUrl, &url.function),
            Some(seen) => {
                let mut changes = Vec::new();
                if seen.auth.as_deref() != Some(url.auth.as_str()) {
                    changes.push(Field::Auth);
                }
                if !seen.public {
                    changes.push(Field::Permission);
                }
                step(Kind::FunctionUrl, &url.function, changes)
            }
        });
    }
    for schedule in &desired.schedules {
        steps.push(match observed.schedules.get(&schedule.name) {
            None => create(Kind::Schedule, &schedule.name),
            Some(seen) => {
                let same = seen.expression == schedule.expression
                    && seen.target_arn == schedule.target_arn
                    && seen.role_arn == schedule.role_arn
                    && seen.group == schedule.group
                    && seen.message_group_id == schedule.message_group_id
                    && seen
                        .input
                        .as_deref()
                        .and_then(|i| serde_json::from_str::<serde_json::Value>(i).ok())
                        == serde_json::from_str(&schedule.input).ok();
                let changes = if same { vec![] } else { vec![Field::Schedule] };
                step(Kind::Schedule, &schedule.name, changes)
            }
        });
    }
}

/// The billing mode of every state table.
pub const BILLING: &str = "PAY_PER_REQUEST";

/// Deletes everything observed (`flowctl destroy`), in reverse of the order a deploy
/// creates: schedules, mappings, URLs and state machines; the schedule group and functions;
/// queues and tables (the dead-letter queues last); roles. Log groups are kept: the logs
/// outlive the deployment.
pub fn destroy(observed: &Observed) -> Changes {
    let mut steps = Vec::new();
    let (dead, live): (Vec<&String>, Vec<&String>) = observed
        .queues
        .keys()
        .partition(|q| names::is_dead_letter_queue(q));
    for (kind, names) in [
        (
            Kind::Schedule,
            observed.schedules.keys().collect::<Vec<_>>(),
        ),
        (Kind::EventSourceMapping, observed.mappings.keys().collect()),
        (Kind::FunctionUrl, observed.urls.keys().collect()),
        (Kind::StateMachine, observed.machines.keys().collect()),
        (
            Kind::ScheduleGroup,
            observed.schedule_group.iter().collect(),
        ),
        (Kind::Function, observed.functions.keys().collect()),
        (Kind::Queue, live),
        (Kind::Table, observed.tables.keys().collect()),
        (Kind::Queue, dead),
        (Kind::Role, observed.roles.keys().collect()),
    ] {
        for name in names {
            steps.push(Step {
                kind,
                name: name.clone(),
                action: Action::Delete,
                changes: vec![],
            });
        }
    }
    Changes { steps }
}
