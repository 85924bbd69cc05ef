//! The loose YAML tree + the located tree → `Manifest` and every problem found on the way.
//!
//! Each entry is checked on its own (keys, then types, then values), so one mistake does not
//! hide the next. A key or type problem ("structural") means no `Manifest` can be built; a value
//! problem (a range, a name) still lets it be built.

use super::locate::{LEntry, LNode};
use super::names::{self, EnvKeyProblem};
use super::node::Node;
use super::runtime::{self, Language, Runtime};
use super::{
    Architecture, Deploy, FlowEntry, FlowKind, Function, Manifest, DEFAULT_MEMORY, DEFAULT_TIMEOUT,
    MEMORY_RANGE, TIMEOUT_RANGE,
};
use crate::diagnostic::{Diagnostic, Span};
use flowctl_protocol::did_you_mean;
use indexmap::IndexMap;
use std::path::PathBuf;

mod events;
mod typed;

pub(crate) use events::MAX_NAME as MAX_EVENT_NAME;
use events::{EventPlaces, SOURCE_KEYS, SUBSCRIPTION_KEYS};
#[cfg(test)]
use events::{
    AMQP_KEYS, KO_KEYS, NATS_KEYS, POLL_KEYS, POSTGRES_KEYS, RETRY_KEYS, SCHEDULE_KEYS,
    WEBHOOK_KEYS,
};
use typed::{StoreRef, STORE_KEYS};

const TOP_KEYS: &[&str] = &[
    "project",
    "namespace",
    "functions",
    "flows",
    "deploy",
    "sources",
    "subscriptions",
    "types",
    "stores",
];
const FUNCTION_KEYS: &[&str] = &[
    "package",
    "runtime",
    "handler",
    "source",
    "memory",
    "timeout",
    "idempotent",
    "colocate",
    "isolate",
    "env",
    "retry_safe",
    "reads",
    "writes",
    "consistent_reads",
    "input",
    "output",
];
const FLOW_KEYS: &[&str] = &["source", "kind"];
const DEPLOY_KEYS: &[&str] = &["region", "architecture", "role"];

/// The allowed keys of each mapping, for tests that compare them with the JSON Schema.
#[cfg(test)]
pub(crate) const KEY_TABLES: &[(&str, &[&str])] = &[
    ("Manifest", TOP_KEYS),
    ("Function", FUNCTION_KEYS),
    ("FlowEntry", FLOW_KEYS),
    ("Deploy", DEPLOY_KEYS),
    ("Store", STORE_KEYS),
    ("Source", SOURCE_KEYS),
    ("Webhook", WEBHOOK_KEYS),
    ("Schedule", SCHEDULE_KEYS),
    ("Poll", POLL_KEYS),
    ("Amqp", AMQP_KEYS),
    ("Postgres", POSTGRES_KEYS),
    ("Nats", NATS_KEYS),
    ("Subscription", SUBSCRIPTION_KEYS),
    ("Retry", RETRY_KEYS),
    ("Ko", KO_KEYS),
];

pub(crate) fn validate(
    text: &str,
    root: &LNode,
    node: &Node,
) -> (Option<Manifest>, Vec<Diagnostic>) {
    let mut v = Validator {
        text,
        diagnostics: Vec::new(),
        structural: false,
        store_refs: Vec::new(),
    };
    let manifest = v.manifest(node, root);
    let ok = !v.structural;
    (manifest.filter(|_| ok), v.diagnostics)
}

struct Validator<'t> {
    text: &'t str,
    diagnostics: Vec<Diagnostic>,
    /// A key or type problem: the typed manifest cannot be built.
    structural: bool,
    /// The stores functions name, checked once `stores:` is read.
    store_refs: Vec<StoreRef>,
}

/// One `key: value` of a mapping with its places.
struct Entry<'n> {
    key: String,
    key_span: Span,
    value: &'n Node,
    value_span: Span,
    located: Option<&'n LNode>,
}

/// A function's key, its span, and its `colocate` unit with that value's span.
type FunctionPlace = (String, Span, Option<(String, Span)>);

/// Where a mapping is, for messages: "in function `X`", "at the top level".
struct Place<'a> {
    /// "function `ReserveAvailability`", "the top level", "`deploy`".
    what: String,
    /// The allowed keys (None: any name, e.g. function names).
    keys: Option<&'a [&'a str]>,
    /// For mappings of names: appended to "`X` is defined twice", e.g. " in function `F`".
    suffix: String,
}

impl<'t> Validator<'t> {
    fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn structural_error(&mut self, diagnostic: Diagnostic) {
        self.structural = true;
        self.diagnostics.push(diagnostic);
    }

    /// The entries of a mapping value, with duplicate keys and unknown keys reported. Later
    /// duplicates are kept (the last wins, as in YAML loaders); unknown keys are dropped.
    fn entries<'n>(
        &mut self,
        node: &'n Node,
        located: Option<&'n LNode>,
        fallback: Span,
        place: &Place,
    ) -> Vec<Entry<'n>> {
        let Node::Map(pairs) = node else {
            return Vec::new();
        };
        let mut out: Vec<Entry<'n>> = Vec::new();
        let mut seen: IndexMap<String, Span> = IndexMap::new();
        for (index, (key, value)) in pairs.iter().enumerate() {
            let Some(key_text) = key.scalar_text() else {
                let span = located
                    .and_then(|l| l.entries().get(index))
                    .map_or(fallback, |e| e.key_span);
                self.structural_error(
                    Diagnostic::error(
                        "M004",
                        format!("a key in {} is {}", place.what, key.describe()),
                        span,
                    )
                    .text("keys must be plain names")
                    .hint("write a name followed by `:`, e.g. `memory: 256`"),
                );
                continue;
            };
            let entry: Option<&'n LEntry> = located.and_then(|l| l.entry(index, &key_text));
            let key_span = entry.map_or(fallback, |e| e.key_span);
            let value_span = entry.map_or(key_span, |e| e.value.span);
            if let Some(&first) = seen.get(&key_text) {
                let title = match place.keys {
                    None => format!(
                        "{} `{key_text}` is defined twice{}",
                        place.what, place.suffix
                    ),
                    Some(_) => format!("`{key_text}` is set twice in {}", place.what),
                };
                self.error(
                    Diagnostic::error("M005", title, key_span)
                        .text("written again here")
                        .label(first, "first written here")
                        .hint("remove one of the two (YAML would silently keep only the last)"),
                );
                out.retain(|e| e.key != key_text);
            }
            seen.insert(key_text.clone(), key_span);
            if let Some(allowed) = place.keys {
                if !allowed.contains(&key_text.as_str()) {
                    let list = allowed
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let near = did_you_mean(&key_text, allowed.iter().copied());
                    let hint = match (near, misplaced_key_homes(&key_text)) {
                        // `flow:` at the top level is `flows` misspelt more likely than a
                        // subscription's key astray: say both, the near one first.
                        (Some(best), Some(homes)) => format!(
                            "did you mean `{best}`? `{key_text}` is also a key of {homes}. The keys of {} are {list}",
                            place.what
                        ),
                        (Some(best), None) => format!(
                            "did you mean `{best}`? The keys of {} are {list}",
                            place.what
                        ),
                        (None, Some(homes)) => format!(
                            "`{key_text}` is a key of {homes}, not of {}: move it there",
                            place.what
                        ),
                        (None, None) => {
                            format!("remove it; the keys of {} are {list}", place.what)
                        }
                    };
                    self.structural_error(
                        Diagnostic::error(
                            "M002",
                            format!("unknown key `{key_text}` in {}", place.what),
                            key_span,
                        )
                        .text("not a known key here")
                        .hint(hint),
                    );
                    continue;
                }
            }
            out.push(Entry {
                key: key_text,
                key_span,
                value,
                value_span,
                located: entry.map(|e| &e.value),
            });
        }
        out
    }

    /// A mapping value (or null, read as empty); anything else is a type error.
    fn expect_map(&mut self, entry: &Entry, what: &str, example: &str) -> bool {
        match entry.value {
            Node::Map(_) | Node::Null => true,
            other => {
                self.structural_error(
                    Diagnostic::error(
                        "M004",
                        format!("{what} must be a mapping"),
                        entry.value_span,
                    )
                    .text(format!("found {}", other.describe()))
                    .hint(format!(
                        "write it as indented `key: value` lines, e.g. {example}"
                    )),
                );
                false
            }
        }
    }

    fn wrong_type(&mut self, entry: &Entry, owner: &str, expected: &str, hint: String) {
        self.structural_error(
            Diagnostic::error(
                "M004",
                format!("`{}`{owner} must be {expected}", entry.key),
                entry.value_span,
            )
            .text(format!("found {}", entry.value.describe()))
            .hint(hint),
        );
    }

    /// A string value; numbers and booleans are read as their text, as serde_yaml does.
    fn string(&mut self, entry: &Entry, owner: &str, example: &str) -> Option<String> {
        match entry.value {
            Node::Str(s) => Some(s.clone()),
            Node::Null => {
                self.structural_error(
                    Diagnostic::error(
                        "M004",
                        format!("`{}`{owner} has no value", entry.key),
                        entry.key_span,
                    )
                    .text("nothing follows the `:`")
                    .hint(format!("give it a value, e.g. `{}: {example}`", entry.key)),
                );
                None
            }
            Node::Seq(_) | Node::Map(_) => {
                self.wrong_type(
                    entry,
                    owner,
                    "a string",
                    format!("write a single value, e.g. `{}: {example}`", entry.key),
                );
                None
            }
            scalar => Some(
                self.raw_scalar(entry)
                    .unwrap_or_else(|| scalar.scalar_text().unwrap_or_default()),
            ),
        }
    }

    /// `null` or a string.
    fn optional_string(
        &mut self,
        entry: &Entry,
        owner: &str,
        example: &str,
    ) -> Option<Option<String>> {
        match entry.value {
            Node::Null => Some(None),
            _ => self.string(entry, owner, example).map(Some),
        }
    }

    /// The text of a plain (unquoted) scalar as written, e.g. `1.10` rather than `1.1`.
    fn raw_scalar(&self, entry: &Entry) -> Option<String> {
        let located = entry.located?;
        let raw = self.text.get(located.span.range())?;
        let plain = !raw.is_empty()
            && !raw.starts_with(['"', '\'', '&', '!', '*', '|', '>', '[', '{'])
            && !raw.contains('\n');
        plain.then(|| raw.to_string())
    }

    fn boolean(&mut self, entry: &Entry, owner: &str) -> Option<bool> {
        match entry.value {
            Node::Bool(b) => Some(*b),
            Node::Str(s) => {
                let hint = match s.to_ascii_lowercase().as_str() {
                    "yes" | "on" | "y" | "true" => {
                        "write `true` (YAML reads `yes`/`on` as text)".to_string()
                    }
                    "no" | "off" | "n" | "false" => {
                        "write `false` (YAML reads `no`/`off` as text)".to_string()
                    }
                    _ => format!("write `{}: true` or `{}: false`", entry.key, entry.key),
                };
                self.wrong_type(entry, owner, "`true` or `false`", hint);
                None
            }
            _ => {
                let key = &entry.key;
                self.wrong_type(
                    entry,
                    owner,
                    "`true` or `false`",
                    format!("write `{key}: true` or `{key}: false`"),
                );
                None
            }
        }
    }

    /// A whole number in `range`; `unit` is "MB" or "seconds".
    fn number(
        &mut self,
        entry: &Entry,
        owner: &str,
        range: std::ops::RangeInclusive<u32>,
        code: &'static str,
        unit: &str,
    ) -> Option<u32> {
        let key = &entry.key;
        let (min, max) = (*range.start(), *range.end());
        match entry.value {
            Node::Int(n) => {
                let n = *n;
                if (min as i128..=max as i128).contains(&n) {
                    return Some(n as u32);
                }
                let fits = u32::try_from(n).is_ok();
                let hint = if *key == "memory" && n > 0 && n <= 10 {
                    format!("memory is in MB: did you mean `memory: {}`?", n * 1024)
                } else if *key == "timeout" && n > max as i128 {
                    format!("Lambda stops a function after at most {max} seconds (15 minutes); split longer work into several calls of a flow")
                } else {
                    format!("use a value from {min} to {max} {unit}")
                };
                let diagnostic = Diagnostic::error(
                    code,
                    format!("`{key}`{owner} is out of range"),
                    entry.value_span,
                )
                .text(format!("{n} is not within {min}..={max} {unit}"))
                .hint(hint);
                if fits {
                    self.error(diagnostic);
                    Some(n as u32)
                } else {
                    self.structural_error(diagnostic);
                    None
                }
            }
            Node::Float(f) => {
                let rounded = f.round().clamp(min as f64, max as f64) as u32;
                self.wrong_type(
                    entry,
                    owner,
                    &format!("a whole number of {unit}"),
                    format!("write `{key}: {rounded}`"),
                );
                None
            }
            Node::Str(s) => {
                let example = match key.as_str() {
                    "memory" => 256,
                    "timeout" => 30,
                    _ => default_of(key).unwrap_or(min),
                };
                let hint = match unit_suggestion(s, key) {
                    Some(n) => format!("write the number of {unit} alone: `{key}: {n}`"),
                    None => format!("write a whole number of {unit}, e.g. `{key}: {example}`"),
                };
                self.wrong_type(entry, owner, &format!("a whole number of {unit}"), hint);
                None
            }
            Node::Null => {
                let hint = match default_of(key) {
                    Some(default) => format!(
                        "give a value, or remove the key to use the default ({default} {unit})"
                    ),
                    None => format!("give a value, e.g. `{key}: {min}`"),
                };
                self.wrong_type(entry, owner, &format!("a whole number of {unit}"), hint);
                None
            }
            _ => {
                self.wrong_type(
                    entry,
                    owner,
                    &format!("a whole number of {unit}"),
                    format!("write a single number, e.g. `{key}: {min}`"),
                );
                None
            }
        }
    }

    /// One of `choices` (their spelling in YAML).
    fn choice<'c>(
        &mut self,
        entry: &Entry,
        owner: &str,
        choices: &[&'c str],
        aliases: &[(&str, &'c str)],
    ) -> Option<&'c str> {
        let list = choices
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(" or ");
        let key = &entry.key;
        let Node::Str(s) = entry.value else {
            self.wrong_type(
                entry,
                owner,
                &list,
                format!("write `{key}: {}`", choices[0]),
            );
            return None;
        };
        if let Some(c) = choices.iter().find(|c| **c == s) {
            return Some(c);
        }
        let lower = s.to_ascii_lowercase();
        let suggestion = choices
            .iter()
            .copied()
            .find(|c| *c == lower)
            .or_else(|| aliases.iter().find(|(a, _)| *a == lower).map(|(_, c)| *c))
            .or_else(|| did_you_mean(s, choices.iter().copied()));
        let hint = match suggestion {
            Some(best) => format!("did you mean `{best}`? The choices are {list}"),
            None => format!("the choices are {list}"),
        };
        self.structural_error(
            Diagnostic::error(
                "M010",
                format!("`{s}` is not a valid `{key}`{owner}"),
                entry.value_span,
            )
            .text(format!("expected {list}"))
            .hint(hint),
        );
        None
    }

    fn manifest(&mut self, node: &Node, root: &LNode) -> Option<Manifest> {
        let start = super::document_start(self.text);
        match node {
            // Point at the first key rather than at a leading comment.
            Node::Map(_) => {
                let start = Span::new(root.span.start as usize, root.span.start as usize);
                self.top_level(node, root, start)
            }
            Node::Null => {
                self.structural_error(
                    Diagnostic::error("M003", "the manifest is empty", start)
                        .text("no `project` here")
                        .hint("start with `project: my-app`, then list `functions:` and `flows:`"),
                );
                None
            }
            other => {
                self.structural_error(
                    Diagnostic::error("M004", "the manifest must be a mapping of keys", root.span)
                        .text(format!("found {}", other.describe()))
                        .hint("start with `project: my-app` on its own line, then `functions:`, `flows:` and `deploy:`"),
                );
                None
            }
        }
    }

    fn top_level(&mut self, node: &Node, root: &LNode, start: Span) -> Option<Manifest> {
        let place = Place {
            what: "the manifest".into(),
            keys: Some(TOP_KEYS),
            suffix: String::new(),
        };
        let entries = self.entries(node, Some(root), start, &place);
        let mut project = None;
        let mut project_span = start;
        let mut namespace = Some(None);
        let mut functions = Some(IndexMap::new());
        let mut function_spans = Vec::new();
        let mut flows = Some(IndexMap::new());
        let mut flow_spans = Vec::new();
        let mut deploy = Some(Deploy::default());
        let mut sources = Some(IndexMap::new());
        let mut subscriptions = Some(IndexMap::new());
        let mut event_places = EventPlaces::default();
        let mut types = Some(IndexMap::new());
        let mut stores = Some(IndexMap::new());
        for entry in &entries {
            match entry.key.as_str() {
                "project" => {
                    project_span = entry.value_span;
                    project = self.string(entry, "", "my-app");
                    if let Some(p) = &project {
                        self.project_name(p, entry.value_span);
                    }
                }
                "namespace" => {
                    namespace = self.optional_string(entry, "", "payments");
                    if let Some(Some(ns)) = &namespace {
                        self.namespace_name(ns, entry.value_span);
                    }
                }
                "functions" => functions = self.functions(entry, &mut function_spans),
                "flows" => flows = self.flows(entry, &mut flow_spans),
                "deploy" => deploy = self.deploy(entry),
                "sources" => sources = self.sources(entry, &mut event_places),
                "subscriptions" => subscriptions = self.subscriptions(entry, &mut event_places),
                "types" => types = self.named_types(entry),
                "stores" => stores = self.stores(entry),
                _ => {}
            }
        }
        // The names a source or subscription may refer to; `None` when not a mapping
        // (reported above), so that nothing is called unknown for it.
        let names = |key: &str| match entries.iter().find(|e| e.key == key).map(|e| e.value) {
            None | Some(Node::Null) => Some(Vec::new()),
            Some(Node::Map(pairs)) => {
                Some(pairs.iter().filter_map(|(k, _)| k.scalar_text()).collect())
            }
            Some(_) => None,
        };
        self.event_references(&event_places, names("functions"), names("flows"));
        self.store_references(names("stores"));
        let Some(project) = project else {
            if !entries.iter().any(|e| e.key == "project") {
                self.structural_error(
                    Diagnostic::error("M003", "the manifest has no `project`", start)
                        .text("`project` is required")
                        .hint("add `project: my-app` at the top: it names every deployed resource"),
                );
            }
            return None;
        };
        if names::is_aws_name(&project) {
            self.name_lengths(
                &project,
                project_span,
                &function_spans,
                &flow_spans,
                deploy.as_ref(),
            );
        }
        if let Some(functions) = &functions {
            self.colocation_groups(functions, &function_spans);
        }
        Some(Manifest {
            project,
            namespace: namespace?,
            functions: functions?,
            flows: flows?,
            deploy: deploy?,
            sources: sources?,
            subscriptions: subscriptions?,
            types: types?,
            stores: stores?,
        })
    }

    /// Functions with the same `colocate` must be able to share one Lambda (M019): the
    /// planner honours hints, so a hint it could not honour is the manifest's mistake.
    fn colocation_groups(
        &mut self,
        functions: &IndexMap<String, Function>,
        places: &[FunctionPlace],
    ) {
        let mut groups: IndexMap<&str, Vec<(&String, &Function, Span)>> = IndexMap::new();
        for (key, function) in functions {
            let Some(hint) = function.colocate.as_deref() else {
                continue;
            };
            if function.runtime.is_some() {
                continue; // never colocated (M058)
            }
            let span = places
                .iter()
                .find(|(k, _, _)| k == key)
                .and_then(|(_, _, c)| c.as_ref().map(|(_, s)| *s))
                .unwrap_or_default();
            groups.entry(hint).or_default().push((key, function, span));
        }
        for (hint, members) in groups {
            let mut env = IndexMap::new();
            let mut joined: Vec<&str> = Vec::new();
            for (i, &(key, function, span)) in members.iter().enumerate() {
                let clash = members[..i].iter().find_map(|&(other, f, other_span)| {
                    super::incompatibility((other, f), (key, function))
                        .map(|why| (other, other_span, why))
                });
                if let Some((other, other_span, why)) = clash {
                    self.error(
                        Diagnostic::error(
                            "M019",
                            format!("`{key}` cannot share colocation unit `{hint}` with `{other}`"),
                            span,
                        )
                        .text(why)
                        .label(other_span, format!("`{other}` is in unit `{hint}` too"))
                        .hint("functions of one unit run in one Lambda: give them the same package, memory, timeout and environment values, or remove this `colocate`"),
                    );
                    continue;
                }
                for (k, v) in &function.env {
                    env.entry(k.clone()).or_insert_with(|| v.clone());
                }
                joined.push(key);
                // As deployed: flowctl adds the unit's function list.
                let size = names::env_size(&names::unit_env([&env], &joined));
                if size > names::ENV_MAX_BYTES {
                    self.error(
                        Diagnostic::error(
                            "M019",
                            format!("the environment of colocation unit `{hint}` is too large"),
                            span,
                        )
                        .text(format!(
                            "with `{key}` its functions' variables take {size} bytes (as JSON); Lambda allows {}",
                            names::ENV_MAX_BYTES
                        ))
                        .hint("move large values out of the environment (e.g. into SSM Parameter Store), or remove this `colocate`"),
                    );
                }
            }
        }
    }

    fn project_name(&mut self, project: &str, span: Span) {
        if names::is_aws_name(project) {
            return;
        }
        let suggestion = names::name_suggestion(project.trim()).to_ascii_lowercase();
        let hint = if project.is_empty() || suggestion.chars().all(|c| c == '-') {
            "use letters, digits, `-` and `_`, e.g. `project: my-app`".to_string()
        } else {
            format!("use letters, digits, `-` and `_` only, e.g. `project: {suggestion}`")
        };
        self.error(
            Diagnostic::error(
                "M006",
                format!("project name `{project}` would be rejected by AWS"),
                span,
            )
            .text("Lambda functions, state machines and IAM roles are named `<project>-…`")
            .hint(hint),
        );
    }

    fn namespace_name(&mut self, ns: &str, span: Span) {
        if names::is_identifier(ns) && !names::is_keyword(ns) {
            return;
        }
        let why = if names::is_keyword(ns) {
            "it is a keyword of the flow language"
        } else {
            "flows write it as `namespace.Function`"
        };
        self.error(
            Diagnostic::error(
                "M006",
                format!("namespace `{ns}` is not a valid name"),
                span,
            )
            .text(why)
            .hint(format!(
                "use letters, digits and `_`, not starting with a digit, e.g. `namespace: {}`",
                identifier_suggestion(ns, "payments")
            )),
        );
    }

    /// Deployed names (project + function/flow/role) that would exceed AWS's limits.
    fn name_lengths(
        &mut self,
        project: &str,
        project_span: Span,
        functions: &[FunctionPlace],
        flows: &[(String, Span)],
        deploy: Option<&Deploy>,
    ) {
        for (key, span, colocate) in functions {
            if !function_key_valid(key) {
                continue;
            }
            let name = names::lambda_name(project, key);
            if name.len() > names::LAMBDA_NAME_MAX {
                self.too_long(
                    &format!("function `{key}`"),
                    "Lambda function",
                    &name,
                    names::LAMBDA_NAME_MAX,
                    *span,
                    project_span,
                );
            }
            if let Some((unit, unit_span)) = colocate {
                let name = names::unit_lambda_name(project, unit);
                if names::is_aws_name(unit) && name.len() > names::LAMBDA_NAME_MAX {
                    self.too_long(
                        &format!("colocation unit `{unit}`"),
                        "Lambda function",
                        &name,
                        names::LAMBDA_NAME_MAX,
                        *unit_span,
                        project_span,
                    );
                }
            }
        }
        for (flow, span) in flows {
            if !names::is_identifier(flow) {
                continue;
            }
            let name = names::state_machine_name(project, flow);
            if name.len() > names::STATE_MACHINE_NAME_MAX {
                self.too_long(
                    &format!("flow `{flow}`"),
                    "state machine",
                    &name,
                    names::STATE_MACHINE_NAME_MAX,
                    *span,
                    project_span,
                );
            }
        }
        if deploy.is_some_and(|d| d.role.is_none()) {
            let longest = names::role_names(project)
                .into_iter()
                .max_by_key(String::len)
                .unwrap_or_default();
            if longest.len() > names::ROLE_NAME_MAX {
                let max_project = project.len() - (longest.len() - names::ROLE_NAME_MAX);
                self.error(
                    Diagnostic::error("M007", format!("project name `{project}` is too long for the IAM roles flowctl creates"), project_span)
                        .text(format!("the role `{longest}` would have {} characters; IAM allows {}", longest.len(), names::ROLE_NAME_MAX))
                        .hint(format!("shorten the project name to at most {max_project} characters, or set `deploy.role` to an existing role ARN")),
                );
            }
        }
    }

    fn too_long(
        &mut self,
        what: &str,
        resource: &str,
        name: &str,
        max: usize,
        span: Span,
        project_span: Span,
    ) {
        let excess = name.len() - max;
        self.error(
            Diagnostic::error(
                "M007",
                format!("the {resource} name for {what} is too long"),
                span,
            )
            .text(format!(
                "`{name}` has {} characters; AWS allows {max}",
                name.len()
            ))
            .label(
                project_span,
                "the project name is part of every deployed name",
            )
            .hint(format!(
                "shorten this name or the project name by {excess} character{}",
                if excess == 1 { "" } else { "s" }
            )),
        );
    }

    fn functions(
        &mut self,
        entry: &Entry,
        spans: &mut Vec<FunctionPlace>,
    ) -> Option<IndexMap<String, Function>> {
        if !self.expect_map(
            entry,
            "`functions`",
            "`ProcessPayment: { package: my-functions }`",
        ) {
            return None;
        }
        let place = Place {
            what: "function".into(),
            keys: None,
            suffix: String::new(),
        };
        let mut out = Some(IndexMap::new());
        for function in self.entries(entry.value, entry.located, entry.key_span, &place) {
            let name = function.key.clone();
            self.function_name(&name, function.key_span);
            let colocate = function_colocate(&function);
            spans.push((name.clone(), function.key_span, colocate));
            let parsed = self.function(&function);
            match (parsed, out.as_mut()) {
                (Some(f), Some(map)) => {
                    map.insert(name, f);
                }
                _ => out = None,
            }
        }
        out
    }

    fn function_name(&mut self, name: &str, span: Span) {
        if function_key_valid(name) {
            return;
        }
        let parts: Vec<&str> = name.split('.').collect();
        let (why, hint) = if parts.len() > 2 {
            (
                "a function name has at most one `.`, between its namespace and its name"
                    .to_string(),
                format!(
                    "write `namespace.Name`, e.g. `{}`",
                    parts[parts.len() - 2..].join(".")
                ),
            )
        } else if let Some(keyword) = parts.iter().find(|p| names::is_keyword(p)) {
            (
                format!("`{keyword}` is a keyword of the flow language"),
                "choose another name, e.g. in PascalCase like `ProcessPayment`".to_string(),
            )
        } else {
            (
                "flows call functions by name, so it must be a flow-language identifier: letters, digits and `_`, not starting with a digit (optionally `namespace.Name`)".to_string(),
                format!("rename it, e.g. `{}`", parts.iter().map(|p| identifier_suggestion(p, "Function")).collect::<Vec<_>>().join(".")),
            )
        };
        self.error(
            Diagnostic::error("M006", format!("function name `{name}` is not valid"), span)
                .text(why)
                .hint(hint),
        );
    }

    fn function(&mut self, function: &Entry) -> Option<Function> {
        let name = &function.key;
        let example = format!("`{name}: {{ package: my-functions }}`");
        if !self.expect_map(function, &format!("function `{name}`"), &example) {
            return None;
        }
        let place = Place {
            what: format!("function `{name}`"),
            keys: Some(FUNCTION_KEYS),
            suffix: String::new(),
        };
        let owner = format!(" of function `{name}`");
        let entries = self.entries(function.value, function.located, function.key_span, &place);
        let mut package = None;
        let mut runtime = Some(None);
        let mut handler = Some(None);
        let mut source = Some(None);
        let mut memory = Some(DEFAULT_MEMORY);
        let mut timeout = Some(DEFAULT_TIMEOUT);
        let mut idempotent = Some(None);
        let mut colocate = Some(None);
        let mut colocate_span = function.key_span;
        let mut isolate = Some(false);
        let mut isolate_span = function.key_span;
        let mut env = Some(IndexMap::new());
        let mut retry_safe = Some(Vec::new());
        let mut store_lists: [Option<Vec<(String, Span)>>; 3] =
            [Some(Vec::new()), Some(Vec::new()), Some(Vec::new())];
        let mut reads_span = None;
        let mut input = Some(None);
        let mut output = Some(None);
        let mut ok = true;
        for entry in &entries {
            match entry.key.as_str() {
                "package" => {
                    package = self.string(entry, &owner, "my-functions");
                    if let Some(p) = &package {
                        self.package_name(p, entry.value_span);
                    }
                    ok &= package.is_some();
                }
                "runtime" => runtime = self.runtime(entry, &owner).map(Some),
                "handler" => {
                    handler = self
                        .string(entry, &owner, "app.handler")
                        .map(|h| Some((h, entry.value_span)))
                }
                "source" => {
                    source = self.string(entry, &owner, "src").map(|path| {
                        if path.is_empty() {
                            self.error(
                                Diagnostic::error("M055", format!("the `source` of function `{name}` is empty"), entry.value_span)
                                    .text("no directory named")
                                    .hint("name the directory of the function's code, relative to flowctl.yaml, e.g. `source: functions/quote`"),
                            );
                        }
                        Some(PathBuf::from(path))
                    })
                }
                "memory" => memory = self.number(entry, &owner, MEMORY_RANGE, "M008", "MB"),
                "timeout" => timeout = self.number(entry, &owner, TIMEOUT_RANGE, "M009", "seconds"),
                "idempotent" => idempotent = self.boolean(entry, &owner).map(Some),
                "isolate" => {
                    isolate = self.boolean(entry, &owner);
                    isolate_span = entry.key_span;
                }
                "colocate" => {
                    colocate = self.optional_string(entry, &owner, "reservations");
                    colocate_span = entry.value_span;
                    if let Some(Some(unit)) = &colocate {
                        if !names::is_aws_name(unit) {
                            self.error(
                                Diagnostic::error("M006", format!("colocation unit `{unit}` of function `{name}` is not a valid name"), entry.value_span)
                                    .text("the unit becomes the Lambda function `<project>-<unit>`")
                                    .hint("use letters, digits, `-` and `_`, e.g. `colocate: reservations`"),
                            );
                        }
                    }
                }
                "env" => env = self.env(entry, name),
                "retry_safe" => retry_safe = self.retry_safe(entry, &owner),
                "reads" | "writes" | "consistent_reads" => {
                    let i = ["reads", "writes", "consistent_reads"]
                        .iter()
                        .position(|k| *k == entry.key)
                        .unwrap_or(0);
                    if i == 0 {
                        reads_span = Some(entry.key_span);
                    }
                    store_lists[i] = self.store_list(entry, &owner, name);
                }
                "input" => {
                    input = self
                        .schema_source(entry, &format!("the input of function `{name}`"))
                        .map(Some)
                }
                "output" => {
                    output = self
                        .schema_source(entry, &format!("the output of function `{name}`"))
                        .map(Some)
                }
                _ => {}
            }
        }
        ok &= self.code_keys(
            function,
            &entries,
            runtime.flatten(),
            handler.as_ref().and_then(|h| h.as_ref()),
        );
        if let (Some(Some(_)), Some(Some(runtime))) = (&colocate, runtime) {
            self.error(
                Diagnostic::error(
                    "M058",
                    format!("function `{name}` runs in `{}` and cannot be colocated", runtime.as_str()),
                    colocate_span,
                )
                .text("a managed runtime's function always has a Lambda of its own")
                .hint("remove `colocate`: only functions of one cargo package share a Lambda (the Rust shim dispatches between them)"),
            );
        }
        if let (Some(Some(unit)), Some(true)) = (&colocate, isolate) {
            self.error(
                Diagnostic::error(
                    "M018",
                    format!("function `{name}` asks to be colocated and isolated"),
                    colocate_span,
                )
                .text(format!(
                    "`colocate: {unit}` shares a Lambda with other functions"
                ))
                .label(isolate_span, "`isolate: true` forbids sharing")
                .hint("keep one of the two: remove `colocate` or `isolate`"),
            );
        }
        if let [Some(reads), _, Some(consistent)] = &store_lists {
            self.consistent_reads_are_reads(name, reads, reads_span, consistent);
        }
        if !ok {
            return None;
        }
        let [reads, writes, consistent_reads] =
            store_lists.map(|l| l.map(|l| l.into_iter().map(|(s, _)| s).collect::<Vec<_>>()));
        Some(Function {
            package,
            runtime: runtime?,
            handler: handler?.map(|(h, _)| h),
            source: source?,
            memory: memory?,
            timeout: timeout?,
            idempotent: idempotent?,
            colocate: colocate?,
            isolate: isolate?,
            env: env?,
            retry_safe: retry_safe?,
            reads: reads?,
            writes: writes?,
            consistent_reads: consistent_reads?,
            input: input?,
            output: output?,
        })
    }

    /// `runtime`, checked against [`Runtime::ALL`] (M052).
    fn runtime(&mut self, entry: &Entry, owner: &str) -> Option<Runtime> {
        let name = self.string(entry, owner, "python3.12")?;
        if let Some(runtime) = Runtime::from_name(&name) {
            return Some(runtime);
        }
        let hint = match Runtime::suggestion(&name) {
            Some(best) => format!(
                "did you mean `{}`? The runtimes are {}",
                best.as_str(),
                Runtime::list()
            ),
            None => format!(
                "the runtimes are {} (for Rust, use `package` instead)",
                Runtime::list()
            ),
        };
        self.structural_error(
            Diagnostic::error(
                "M052",
                format!("unknown runtime `{name}`{owner}"),
                entry.value_span,
            )
            .text(
                "not one of Lambda's current managed runtimes for Python, Node.js or a `bootstrap`",
            )
            .hint(hint),
        );
        None
    }

    /// Exactly one of `package` (cargo) and `runtime` (with `handler` and `source`), each
    /// runtime's handler of its shape. Returns false when no [`Function`] can be built.
    fn code_keys(
        &mut self,
        function: &Entry,
        entries: &[Entry],
        runtime: Option<Runtime>,
        handler: Option<&(String, Span)>,
    ) -> bool {
        let name = &function.key;
        let find = |key: &str| entries.iter().find(|e| e.key == key);
        let (package, runtime_entry) = (find("package"), find("runtime"));
        match (package, runtime_entry) {
            (None, None) => {
                self.structural_error(
                    Diagnostic::error("M003", format!("function `{name}` has no `package` or `runtime`"), function.key_span)
                        .text("one of `package` and `runtime` is required")
                        .hint(format!("add `package: <cargo package>` (the package whose binary registers `{name}` through the shim), or `runtime: python3.12` with `handler` and `source` for a function in another language")),
                );
                return false;
            }
            (Some(package), Some(runtime_entry)) => {
                self.error(
                    Diagnostic::error("M054", format!("function `{name}` has both `package` and `runtime`"), runtime_entry.value_span)
                        .text("a function is either a cargo package's or source code in a managed runtime")
                        .label(package.value_span, "`package` says it is built with cargo")
                        .hint("keep `package` for a Rust function registered through the shim, or `runtime` (with `handler` and `source`) for one in another language"),
                );
            }
            (Some(_), None) => {
                for key in ["handler", "source"] {
                    if let Some(entry) = find(key) {
                        self.error(
                            Diagnostic::error("M054", format!("`{key}` of function `{name}` is for a function in a managed runtime"), entry.key_span)
                                .text("the function has `package`, and no `runtime`")
                                .hint(format!("remove `{key}` (the cargo package's binary serves `{name}`), or replace `package` with a `runtime`")),
                        );
                    }
                }
                return true;
            }
            (None, Some(_)) => {}
        }
        let Some(runtime) = runtime else {
            // An unknown runtime is reported (M052); its handler's shape cannot be judged.
            return false;
        };
        let language = runtime.language();
        let mut ok = true;
        if find("source").is_none() {
            self.structural_error(
                Diagnostic::error("M003", format!("function `{name}` has no `source`"), function.key_span)
                    .text(format!("a function in `{}` is deployed from a directory of code", runtime.as_str()))
                    .hint("add `source: <directory>`, relative to flowctl.yaml, e.g. `source: functions/quote`"),
            );
            ok = false;
        }
        match (language, handler) {
            (Language::Provided, Some((_, span))) => self.error(
                Diagnostic::error(
                    "M053",
                    format!("function `{name}` has a `handler`, and `provided.al2023` takes none"),
                    *span,
                )
                .text("Lambda starts the executable `bootstrap` at the top of `source`")
                .hint("remove `handler`; put the executable `bootstrap` in the source directory"),
            ),
            (Language::Provided, None) => {}
            (_, Some((handler, span))) => {
                if let Some(why) = runtime::handler_problem(language, handler) {
                    self.error(
                        Diagnostic::error(
                            "M053",
                            format!("`{handler}` is not a `{}` handler", runtime.as_str()),
                            *span,
                        )
                        .text(why)
                        .hint(format!("write the handler as {}", language.handler_shape())),
                    );
                }
            }
            (_, None) => {
                if find("handler").is_none() {
                    self.structural_error(
                        Diagnostic::error(
                            "M003",
                            format!("function `{name}` has no `handler`"),
                            function.key_span,
                        )
                        .text(format!("`{}` calls the handler it names", runtime.as_str()))
                        .hint(format!(
                            "add `handler: {}`: {}",
                            language.example_handler(),
                            language.handler_shape()
                        )),
                    );
                }
                ok = false;
            }
        }
        ok
    }

    fn package_name(&mut self, package: &str, span: Span) {
        if names::is_package_name(package) {
            return;
        }
        self.error(
            Diagnostic::error("M017", format!("`{package}` is not a valid cargo package name"), span)
                .text("cargo package names use letters, digits, `-` and `_`, and start with a letter or `_`")
                .hint("write the `name` from the `[package]` table of the function crate's Cargo.toml"),
        );
    }

    fn env(&mut self, entry: &Entry, function: &str) -> Option<IndexMap<String, String>> {
        if !self.expect_map(
            entry,
            &format!("`env` of function `{function}`"),
            "`env: { TABLE: bookings }`",
        ) {
            return None;
        }
        let place = Place {
            what: "environment variable".into(),
            keys: None,
            suffix: format!(" in function `{function}`"),
        };
        let mut out = Some(IndexMap::new());
        for var in self.entries(entry.value, entry.located, entry.key_span, &place) {
            let key = var.key.clone();
            match names::env_key_problem(&key) {
                Some(EnvKeyProblem::Reserved) => self.error(
                    Diagnostic::error("M012", format!("environment variable `{key}` is reserved by Lambda"), var.key_span)
                        .text("the Lambda runtime sets it; AWS rejects a function that sets it")
                        .hint(if key == "AWS_REGION" || key == "AWS_DEFAULT_REGION" {
                            "remove it: Lambda sets it to the function's region (choose that with `deploy.region`)".to_string()
                        } else {
                            format!("remove it, or rename it (e.g. `APP_{}`)", key.trim_start_matches('_'))
                        }),
                ),
                Some(EnvKeyProblem::Invalid) => {
                    let suggestion: String = key.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
                    let suggestion = suggestion.trim_start_matches(|c: char| !c.is_ascii_alphabetic()).to_string();
                    let hint = if suggestion.len() >= 2 {
                        format!("use letters, digits and `_`, starting with a letter, at least 2 characters, e.g. `{suggestion}`")
                    } else {
                        "use letters, digits and `_`, starting with a letter, at least 2 characters, e.g. `TABLE_NAME`".to_string()
                    };
                    self.error(
                        Diagnostic::error("M011", format!("environment variable name `{key}` is not accepted by Lambda"), var.key_span)
                            .text("Lambda requires names matching `[A-Za-z][A-Za-z0-9_]+`")
                            .hint(hint),
                    );
                }
                None => {}
            }
            let owner = format!(" in the `env` of function `{function}`");
            let value = match var.value {
                Node::Null => {
                    self.structural_error(
                        Diagnostic::error("M004", format!("environment variable `{key}` of function `{function}` has no value"), var.key_span)
                            .text("nothing follows the `:`")
                            .hint(format!("write `{key}: \"\"` for an empty value")),
                    );
                    None
                }
                _ => self.string(&var, &owner, "value"),
            };
            match (value, out.as_mut()) {
                (Some(v), Some(map)) => {
                    map.insert(key, v);
                }
                _ => out = None,
            }
        }
        if let Some(env) = &out {
            // As deployed: flowctl adds the unit's function list.
            let size = names::env_size(&names::unit_env([env], &[function]));
            if size > names::ENV_MAX_BYTES {
                self.error(
                    Diagnostic::error("M013", format!("the environment of function `{function}` is too large"), entry.key_span)
                        .text(format!("{size} bytes (as JSON); Lambda allows {}", names::ENV_MAX_BYTES))
                        .hint("keep large values out of the environment: store them in SSM Parameter Store, Secrets Manager or S3 and pass their name"),
                );
            }
        }
        out
    }

    fn flows(
        &mut self,
        entry: &Entry,
        spans: &mut Vec<(String, Span)>,
    ) -> Option<IndexMap<String, FlowEntry>> {
        if !self.expect_map(
            entry,
            "`flows`",
            "`Booking: { source: flows/booking.flow }`",
        ) {
            return None;
        }
        let place = Place {
            what: "flow".into(),
            keys: None,
            suffix: String::new(),
        };
        let mut out = Some(IndexMap::new());
        for flow in self.entries(entry.value, entry.located, entry.key_span, &place) {
            let name = flow.key.clone();
            if !names::is_identifier(&name) || names::is_keyword(&name) {
                let why = if names::is_keyword(&name) {
                    "it is a keyword of the flow language".to_string()
                } else {
                    "the `flow` header of the source uses this name, so it must be a flow-language identifier: letters, digits and `_`, not starting with a digit".to_string()
                };
                self.error(
                    Diagnostic::error(
                        "M006",
                        format!("flow name `{name}` is not valid"),
                        flow.key_span,
                    )
                    .text(why)
                    .hint(format!(
                        "rename it, e.g. `{}`",
                        identifier_suggestion(&name, "MyFlow")
                    )),
                );
            }
            spans.push((name.clone(), flow.key_span));
            let parsed = self.flow(&flow);
            match (parsed, out.as_mut()) {
                (Some(f), Some(map)) => {
                    map.insert(name, f);
                }
                _ => out = None,
            }
        }
        out
    }

    fn flow(&mut self, flow: &Entry) -> Option<FlowEntry> {
        let name = &flow.key;
        if !self.expect_map(
            flow,
            &format!("flow `{name}`"),
            &format!("`{name}: {{ source: flows/{}.flow }}`", name.to_lowercase()),
        ) {
            return None;
        }
        let place = Place {
            what: format!("flow `{name}`"),
            keys: Some(FLOW_KEYS),
            suffix: String::new(),
        };
        let owner = format!(" of flow `{name}`");
        let entries = self.entries(flow.value, flow.located, flow.key_span, &place);
        let mut source = None;
        let mut kind = Some(FlowKind::Standard);
        for entry in &entries {
            match entry.key.as_str() {
                "source" => {
                    source = self.string(
                        entry,
                        &owner,
                        &format!("flows/{}.flow", name.to_lowercase()),
                    );
                    if source.as_deref() == Some("") {
                        self.error(
                            Diagnostic::error(
                                "M016",
                                format!("the source of flow `{name}` is empty"),
                                entry.value_span,
                            )
                            .text("no path given")
                            .hint(format!(
                                "write the path of the `.flow` file, e.g. `source: flows/{}.flow`",
                                name.to_lowercase()
                            )),
                        );
                    }
                }
                "kind" => {
                    kind = self
                        .choice(
                            entry,
                            &owner,
                            &["standard", "express"],
                            &[("std", "standard"), ("sync", "express")],
                        )
                        .map(|k| match k {
                            "express" => FlowKind::Express,
                            _ => FlowKind::Standard,
                        })
                }
                _ => {}
            }
        }
        if !entries.iter().any(|e| e.key == "source") {
            self.structural_error(
                Diagnostic::error(
                    "M003",
                    format!("flow `{name}` has no `source`"),
                    flow.key_span,
                )
                .text("`source` is required")
                .hint(format!(
                    "add `source: flows/{}.flow` (relative to the directory of flowctl.yaml)",
                    name.to_lowercase()
                )),
            );
        }
        Some(FlowEntry {
            source: PathBuf::from(source?),
            kind: kind?,
        })
    }

    fn deploy(&mut self, entry: &Entry) -> Option<Deploy> {
        if !self.expect_map(entry, "`deploy`", "`deploy: { region: eu-west-1 }`") {
            return None;
        }
        let place = Place {
            what: "`deploy`".into(),
            keys: Some(DEPLOY_KEYS),
            suffix: String::new(),
        };
        let owner = " in `deploy`";
        let entries = self.entries(entry.value, entry.located, entry.key_span, &place);
        let mut region = Some(None);
        let mut architecture = Some(Architecture::X86_64);
        let mut role = Some(None);
        for entry in &entries {
            match entry.key.as_str() {
                "region" => {
                    region = self.optional_string(entry, owner, "eu-west-1");
                    if let Some(Some(r)) = &region {
                        if let Err(hint) = names::check_region(r) {
                            self.error(
                                Diagnostic::error(
                                    "M014",
                                    format!("`{r}` is not an AWS region"),
                                    entry.value_span,
                                )
                                .text("expected a region code")
                                .hint(hint),
                            );
                        }
                    }
                }
                "architecture" => {
                    let aliases = [
                        ("x86-64", "x86_64"),
                        ("amd64", "x86_64"),
                        ("x64", "x86_64"),
                        ("x86", "x86_64"),
                        ("aarch64", "arm64"),
                        ("arm", "arm64"),
                        ("graviton", "arm64"),
                    ];
                    architecture = self
                        .choice(entry, owner, &["x86_64", "arm64"], &aliases)
                        .map(|a| match a {
                            "arm64" => Architecture::Arm64,
                            _ => Architecture::X86_64,
                        })
                }
                "role" => {
                    role = self.optional_string(
                        entry,
                        owner,
                        "arn:aws:iam::123456789012:role/my-role",
                    );
                    if let Some(Some(arn)) = &role {
                        if let Err(hint) = names::check_role_arn(arn) {
                            self.error(
                                Diagnostic::error("M015", "`deploy.role` is not an IAM role ARN", entry.value_span)
                                    .text(format!("`{arn}` is not of the form `arn:aws:iam::<account>:role/<name>`"))
                                    .hint(hint),
                            );
                        }
                    }
                }
                _ => {}
            }
        }
        Some(Deploy {
            region: region?,
            architecture: architecture?,
            role: role?,
        })
    }
}

fn function_key_valid(key: &str) -> bool {
    let parts: Vec<&str> = key.split('.').collect();
    parts.len() <= 2
        && parts
            .iter()
            .all(|p| names::is_identifier(p) && !names::is_keyword(p))
}

/// A function's `colocate` value and its span, for the name-length check.
fn function_colocate(function: &Entry) -> Option<(String, Span)> {
    let Node::Map(pairs) = function.value else {
        return None;
    };
    let (_, value) = pairs
        .iter()
        .rev()
        .find(|(k, _)| matches!(k, Node::Str(s) if s == "colocate"))?;
    let Node::Str(unit) = value else { return None };
    let span = function
        .located
        .and_then(|l| l.get("colocate"))
        .map_or(function.key_span, |e| e.value.span);
    Some((unit.clone(), span))
}

/// `my-flow` → `my_flow`, `1st` → `_1st`; `fallback` when nothing usable is left.
fn identifier_suggestion(name: &str, fallback: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    if s.chars().all(|c| c == '_') || names::is_keyword(&s) {
        return fallback.to_string();
    }
    s
}

/// The default of a number key, for "remove the key to use the default".
fn default_of(key: &str) -> Option<u32> {
    match key {
        "memory" => Some(DEFAULT_MEMORY),
        "timeout" => Some(DEFAULT_TIMEOUT),
        "every" => Some(super::events::DEFAULT_POLL_EVERY),
        "concurrency" => Some(super::events::DEFAULT_CONCURRENCY),
        "prefetch" => Some(1000),
        _ => None,
    }
}

/// "512MB" → 512, "1GB" → 1024 (memory); "30s" → 30, "5m" → 300 (timeout).
fn unit_suggestion(s: &str, key: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: u64 = s[..digits_end].parse().ok()?;
    let unit = s[digits_end..].trim();
    let factor = match (key, unit) {
        ("memory", "" | "mb" | "m" | "mib" | "megabytes") => 1,
        ("memory", "gb" | "g" | "gib" | "gigabytes") => 1024,
        ("timeout" | "every", "" | "s" | "sec" | "secs" | "second" | "seconds") => 1,
        ("timeout" | "every", "m" | "min" | "mins" | "minute" | "minutes") => 60,
        _ => return None,
    };
    n.checked_mul(factor)
}

/// The mappings where a known key written in the wrong one belongs, for a "move it" hint.
fn misplaced_key_homes(key: &str) -> Option<String> {
    let homes: Vec<&str> = [
        (FUNCTION_KEYS, "a function (under `functions: <Name>:`)"),
        (FLOW_KEYS, "a flow (under `flows: <Name>:`)"),
        (DEPLOY_KEYS, "`deploy`"),
        (STORE_KEYS, "a store (under `stores: <name>:`)"),
        (TOP_KEYS, "the top level of the manifest"),
        (SOURCE_KEYS, "a source (under `sources: <name>:`)"),
        (
            SUBSCRIPTION_KEYS,
            "a subscription (under `subscriptions: <name>:`)",
        ),
    ]
    .into_iter()
    .filter(|(keys, _)| keys.contains(&key))
    .map(|(_, home)| home)
    .collect();
    if homes.is_empty() {
        return None;
    }
    Some(homes.join(" or "))
}
