//! The consistency half of the checker, from the functions' properties in the registry:
//! a `retry` that can repeat an effect (a function that is not idempotent, retried on an
//! error it does not declare retry-safe), and a read of an eventually consistent store that
//! an earlier call on the same path wrote (a stale read). Both are warnings: the flow runs,
//! and may do what its author did not mean.

use super::{Checker, Diagnostic};
use crate::diagnostic::Span;
use crate::flow::ast::{self, Modifier};
use flowctl_protocol::sfn::errors;
use std::collections::BTreeMap;

/// After two paths meet (the arms of an `if`, the branches of a `parallel`), a store is
/// written if either path wrote it.
pub(super) fn join(into: &mut BTreeMap<String, Span>, from: &BTreeMap<String, Span>) {
    for (store, span) in from {
        into.entry(store.clone()).or_insert(*span);
    }
}

impl Checker<'_> {
    /// Every retried error of a call to `key` must be harmless to repeat.
    pub(super) fn retries(&mut self, key: &str, modifiers: &ast::Modifiers) {
        let Some(f) = self.known.registry.as_ref().and_then(|r| r.function(key)) else {
            return;
        };
        if !f.declared || f.properties.idempotent {
            return;
        }
        let safe = f.properties.retry_safe.clone();
        let mut found = Vec::new();
        for modifier in &modifiers.items {
            let Modifier::Retry(retry) = modifier else {
                continue;
            };
            match &retry.on {
                None => found.push((errors::ALL.to_string(), retry.span)),
                Some(on) => found.extend(on.iter().map(|e| (e.value.clone(), e.span))),
            }
        }
        for (error, span) in found {
            if safe.contains(&error) {
                continue;
            }
            let what = if error == errors::ALL {
                "every error".to_string()
            } else {
                format!("`{error}`")
            };
            self.error(
                Diagnostic::warning(
                    "C030",
                    format!("retrying {key} on {what} can repeat its effect"),
                    span,
                )
                .text(format!("{key} is not idempotent, and {what} is not declared retry-safe"))
                .hint(format!(
                    "if {key} raises {what} only when the call had no effect, declare it: `retry_safe: [\"{error}\"]` in its registry properties (or in flowctl.yaml for a function no binary describes); else make {key} idempotent (an idempotency key) or do not retry it"
                )),
            );
        }
    }

    /// A `retry` on a `parallel` or `map` runs every call inside again, those that succeeded
    /// too: whatever the error, a function inside that is not idempotent repeats its effect.
    pub(super) fn whole_retries(
        &mut self,
        what: &str,
        bodies: &[crate::flow::ir::Block],
        modifiers: &ast::Modifiers,
    ) {
        let Some(retry) = modifiers.items.iter().find_map(|m| match m {
            Modifier::Retry(retry) => Some(retry.span),
            _ => None,
        }) else {
            return;
        };
        let Some(registry) = self.known.registry.clone() else {
            return;
        };
        let mut called = std::collections::BTreeSet::new();
        for body in bodies {
            body.visit_stmts(&mut |stmt| {
                if let crate::flow::ir::StmtKind::Call { function, .. } = &stmt.kind {
                    called.insert(function.clone());
                }
            });
        }
        for key in called {
            let Some(f) = registry.function(&key) else {
                continue;
            };
            if !f.declared || f.properties.idempotent {
                continue;
            }
            self.error(
                Diagnostic::warning("C030", format!("retrying this {what} runs {key} again, which can repeat its effect"), retry)
                    .text(format!("{key} is not idempotent, and a retry of the {what} runs every call in it again, those that succeeded too"))
                    .hint(format!("put the retry on the calls inside the {what} instead (each retried only on its own errors), or make {key} idempotent")),
            );
        }
    }

    /// A call to `key` reads its stores (warning when one may be stale) and then writes its own.
    pub(super) fn reads_and_writes(&mut self, key: &str, span: Span) {
        let Some(registry) = self.known.registry.clone() else {
            return;
        };
        let Some(f) = registry.function(key) else {
            return;
        };
        for store in &f.properties.reads {
            if f.properties.consistent_reads.contains(store)
                || !registry.eventual_stores.contains(store)
            {
                continue;
            }
            if let Some(written) = self.written.get(store).copied() {
                self.error(
                    Diagnostic::warning(
                        "C031",
                        format!("{key} may read stale data from `{store}`"),
                        span,
                    )
                    .text(format!("reads `{store}`, whose reads are eventually consistent"))
                    .label(written, format!("`{store}` was written here, on the same path"))
                    .hint(format!(
                        "read `{store}` with a strongly consistent read and declare it (`consistent_reads: [\"{store}\"]`), or pass what was written to {key} instead of reading it back"
                    )),
                );
            }
        }
        for store in &f.properties.writes {
            self.written.insert(store.clone(), span);
        }
    }
}
