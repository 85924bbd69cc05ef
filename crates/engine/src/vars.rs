//! Workflow variables: the values `Assign` gives, one scope per line of work (the
//! execution's states, each Parallel branch, each Map iteration), read as `$name` by paths,
//! templates, intrinsic functions and JSONata.
//!
//! Step Functions' rules (https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html):
//! every reference in a state reads the value the variable had when the state was entered, so
//! a state's assignments are staged while it runs and take effect when it is done; a branch
//! or an iteration reads the variables of the scopes around it, never those of its siblings,
//! and its own go out of scope when it ends (a Distributed Map's children see none from
//! outside). That an inner scope never assigns an outer scope's name is checked at load.

use flowctl_protocol::sfn::MAX_PAYLOAD_BYTES;
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// The most bytes one variable may hold, and all the values one `Assign` gives together.
pub(crate) const MAX_ASSIGNED_BYTES: usize = MAX_PAYLOAD_BYTES;

/// The most bytes all variables of an execution may hold at once (counted here along one
/// line of work: its scope and the scopes around it).
pub(crate) const MAX_STORED_BYTES: usize = 10 * 1024 * 1024;

/// One scope's variables and the scopes around it.
#[derive(Default)]
pub(crate) struct Vars<'p> {
    parent: Option<&'p Vars<'p>>,
    own: Vec<Variable>,
    /// What the running state assigned, given when it is done (`commit`).
    staged: Mutex<Vec<Variable>>,
    /// The bytes held by this scope and those around it.
    stored: usize,
}

pub(crate) struct Variable {
    pub name: Arc<str>,
    pub value: Arc<Value>,
    pub bytes: usize,
}

impl<'p> Vars<'p> {
    /// The scope of a branch or an iteration inside this one.
    pub(crate) fn child(&'p self) -> Vars<'p> {
        Vars {
            parent: Some(self),
            stored: self.stored,
            ..Vars::default()
        }
    }

    /// The value `name` has, here or in a scope around.
    pub(crate) fn get(&self, name: &str) -> Option<&Arc<Value>> {
        let mut scope = Some(self);
        while let Some(vars) = scope {
            if let Some(v) = vars.own.iter().find(|v| &*v.name == name) {
                return Some(&v.value);
            }
            scope = vars.parent;
        }
        None
    }

    /// Stages the values a state assigned; they replace the current ones at `commit`.
    pub(crate) fn stage(&self, assigned: Vec<Variable>) {
        let mut staged = self.staged.lock().unwrap_or_else(|e| e.into_inner());
        for variable in assigned {
            staged.retain(|v| v.name != variable.name);
            staged.push(variable);
        }
    }

    /// Drops what the running state staged (an attempt that failed after assigning).
    pub(crate) fn unstage(&self) {
        self.staged
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Gives the staged values (the state is done). `Err` with the bytes the scope would
    /// hold when that is over `MAX_STORED_BYTES`.
    pub(crate) fn commit(&mut self) -> Result<(), usize> {
        let staged = std::mem::take(self.staged.get_mut().unwrap_or_else(|e| e.into_inner()));
        for variable in staged {
            match self.own.iter_mut().find(|v| v.name == variable.name) {
                Some(old) => {
                    self.stored = self.stored - old.bytes + variable.bytes;
                    *old = variable;
                }
                None => {
                    self.stored += variable.bytes;
                    self.own.push(variable);
                }
            }
        }
        if self.stored > MAX_STORED_BYTES {
            return Err(self.stored);
        }
        Ok(())
    }

    /// Whether the running state staged anything.
    pub(crate) fn has_staged(&mut self) -> bool {
        !self
            .staged
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn var(name: &str, value: Value) -> Variable {
        Variable {
            name: name.into(),
            value: Arc::new(value),
            bytes: 1,
        }
    }

    #[test]
    fn staged_values_take_effect_at_commit_and_children_read_outer_ones() {
        let mut outer = Vars::default();
        outer.stage(vec![var("x", json!(3))]);
        assert!(outer.get("x").is_none());
        outer.commit().unwrap();
        assert_eq!(outer.get("x").map(|v| &**v), Some(&json!(3)));
        let mut inner = outer.child();
        inner.stage(vec![var("y", json!(1))]);
        inner.commit().unwrap();
        assert_eq!(inner.get("x").map(|v| &**v), Some(&json!(3)));
        assert_eq!(inner.get("y").map(|v| &**v), Some(&json!(1)));
        assert!(outer.get("y").is_none());
    }
}
