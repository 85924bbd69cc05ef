//! `compare(desired, observed)`: the full list of creates, updates, deletes and unchanged
//! resources, as data — a diff, not yet an action. Pure: `deploy --dry-run` prints it,
//! `apply` executes it, `status` reads the drift from it.

use super::model::{Desired, Observed, HANDLER, RUNTIME};
use flowctl_lang::manifest::FlowKind;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Role,
    LogGroup,
    Function,
    StateMachine,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Role => "role",
            Kind::LogGroup => "log group",
            Kind::Function => "function",
            Kind::StateMachine => "state machine",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    /// Deleted and created again: a state machine whose type changed.
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
                if seen.runtime.as_deref() != Some(RUNTIME)
                    || seen.handler.as_deref() != Some(HANDLER)
                    || seen.memory != Some(function.memory)
                    || seen.timeout != Some(function.timeout)
                    || seen.env != function.env
                    || seen.role_arn != function.role_arn
                {
                    changes.push(Field::Configuration);
                }
                if !has_tags(&function.tags, &seen.tags) {
                    changes.push(Field::Tags);
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
    let gone = if prune {
        Action::Delete
    } else {
        Action::Orphaned
    };
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

/// Deletes everything observed (`flowctl destroy`): state machines, then functions, then roles.
/// Log groups are kept: the logs outlive the deployment.
pub fn destroy(observed: &Observed) -> Changes {
    let mut steps = Vec::new();
    for (kind, names) in [
        (
            Kind::StateMachine,
            observed.machines.keys().collect::<Vec<_>>(),
        ),
        (Kind::Function, observed.functions.keys().collect()),
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
