//! Colocation: which functions share a Lambda unit, why, and what that saves per execution.
//!
//! The planner reads who calls whom from the checked flows ([`successions`]: an edge between
//! two functions called one after the other, weighted by how many places do so), then groups
//! functions into units:
//!
//! 1. functions with the same `colocate` hint form one unit (the manifest loader has already
//!    proven each hinted group compatible, M019);
//! 2. the edges, heaviest first (ties in manifest order), join the two units at their ends
//!    when every member of both could share one Lambda ([`incompatibility`]) and neither
//!    carries a different hint;
//! 3. everything else stays alone.
//!
//! Sharing needs one binary (the same cargo `package`: a function in a managed runtime is
//! always alone, since only the Rust shim dispatches a unit's envelope to one of several
//! functions), one Lambda configuration (the same
//! `memory` and `timeout`, environments that do not disagree and fit Lambda's 4 KB together)
//! and no `isolate: true`. The architecture and the role are the project's, so they never
//! differ; a unit's package size is its package's binary, whichever members it serves.
//!
//! The result explains itself: every unit carries the [`Reason`]s its members are together,
//! or the reasons a function is alone, for `flowctl plan --explain`.
//!
//! Architecture Invariant: pure — manifest and checked flows in, a plan out; the same input
//! gives the same plan (no hash-map order leaks into it).

pub mod report;

use crate::asl::CompileOptions;
use crate::flow::ir;
pub use crate::manifest::incompatibility;
use crate::manifest::{names, Code, Manifest};
use indexmap::IndexMap;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub use crate::manifest::names::FUNCTIONS_ENV;

/// Where every function of a project runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// In the order of their first member in the manifest.
    pub units: Vec<Unit>,
    /// Who calls whom, heaviest first: the planner's input, shown by `--explain`.
    pub edges: Vec<Edge>,
}

/// One Lambda function serving one or more of the project's functions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unit {
    /// The unit's name: the Lambda function is `<project>-<name>`.
    pub name: String,
    /// Manifest keys, in manifest order.
    pub functions: Vec<String>,
    /// What serves them: a cargo package's binary, or (for a unit of one function in another
    /// language) its source in a managed runtime. Written as `package`, or as `runtime`,
    /// `handler` and `source`.
    #[serde(flatten)]
    pub code: Code,
    pub memory: u32,
    pub timeout: u32,
    /// The members' environments together (then [`FUNCTIONS_ENV`], the unit's own list).
    pub env: IndexMap<String, String>,
    /// Why the members are together, or why a function is alone.
    pub reasons: Vec<Reason>,
}

/// Two functions called one after the other somewhere in the flows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
    /// How many places in the flows call `to` right after `from`.
    pub weight: u32,
    /// The flows those places are in, sorted.
    pub flows: Vec<String>,
}

/// One line of `flowctl plan --explain`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// `colocate: <hint>` on these members.
    Hint {
        hint: String,
        functions: Vec<String>,
    },
    /// Joined because `from` → `to` are called one after the other.
    Sequence {
        from: String,
        to: String,
        weight: u32,
        flows: Vec<String>,
    },
    /// `isolate: true`.
    Isolated,
    /// `runtime: <runtime>`: only the Rust shim serves several functions from one Lambda.
    Runtime { runtime: String },
    /// A neighbour in the flows that could not join, and why; `functions` are the unit's
    /// members it is called next to.
    Incompatible {
        functions: Vec<String>,
        neighbour: String,
        why: String,
    },
    /// A neighbour that belongs to another hinted unit.
    OtherHint { neighbour: String, hint: String },
    /// No flow calls this function right before or after another one.
    NoNeighbour,
}

impl Reason {
    /// The order `--explain` lists reasons in: what the unit is, then what joined it, then
    /// what did not.
    fn rank(&self) -> u8 {
        match self {
            Reason::Isolated | Reason::Runtime { .. } | Reason::NoNeighbour => 0,
            Reason::Hint { .. } => 1,
            Reason::Sequence { .. } => 2,
            Reason::Incompatible { .. } | Reason::OtherHint { .. } => 3,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Hint { hint, functions } => {
                write!(f, "`colocate: {hint}` on {}", functions.join(", "))
            }
            Reason::Sequence {
                from,
                to,
                weight,
                flows,
            } => {
                let times = if *weight == 1 {
                    "once".to_string()
                } else {
                    format!("{weight} times")
                };
                write!(
                    f,
                    "{from} → {to}: called one after the other {times} (in {})",
                    flows.join(", ")
                )
            }
            Reason::Isolated => write!(f, "`isolate: true`: never shares a Lambda"),
            Reason::Runtime { runtime } => write!(
                f,
                "`runtime: {runtime}`: never shares a Lambda (only the Rust shim dispatches between the functions of one)"
            ),
            Reason::Incompatible {
                functions,
                neighbour,
                why,
            } => write!(
                f,
                "not with {neighbour} (called next to {}): {why}",
                functions.join(", ")
            ),
            Reason::OtherHint { neighbour, hint } => write!(
                f,
                "not with {neighbour}: it is in unit `{hint}`, and a unit keeps to one `colocate` hint"
            ),
            Reason::NoNeighbour => write!(
                f,
                "alone: no flow calls it right before or after another function"
            ),
        }
    }
}

/// Every function in a Lambda of its own, named after its key (`payments.Charge` → unit
/// `payments-Charge`): the layout without colocation, the baseline `flowctl plan` compares with.
pub fn one_unit_per_function(manifest: &Manifest) -> Plan {
    let units = manifest
        .functions
        .iter()
        .map(|(key, function)| Unit {
            name: single_unit_name(key),
            functions: vec![key.clone()],
            code: function.code(),
            memory: function.memory,
            timeout: function.timeout,
            env: names::unit_env([&function.env], std::slice::from_ref(key)),
            reasons: Vec::new(),
        })
        .collect();
    Plan {
        units,
        edges: Vec::new(),
    }
}

fn single_unit_name(key: &str) -> String {
    key.replace('.', "-")
}

/// The edges of the call graph: `(from, to)` → (places, flows).
pub fn successions(flows: &[&ir::Flow]) -> Vec<Edge> {
    let mut edges: BTreeMap<(String, String), (u32, BTreeSet<String>)> = BTreeMap::new();
    for flow in flows {
        let mut add = |from: &str, to: &str| {
            let e = edges.entry((from.to_string(), to.to_string())).or_default();
            e.0 += 1;
            e.1.insert(flow.name.clone());
        };
        walk(&flow.body, Vec::new(), &mut add);
    }
    edges
        .into_iter()
        .map(|((from, to), (weight, flows))| Edge {
            from,
            to,
            weight,
            flows: flows.into_iter().collect(),
        })
        .collect()
}

/// Walks `block` knowing which calls may have run last before it; returns the calls that
/// may have run last when it finishes normally (empty after `return`/`fail`).
fn walk(block: &ir::Block, mut last: Vec<String>, add: &mut dyn FnMut(&str, &str)) -> Vec<String> {
    use ir::StmtKind as K;
    for stmt in &block.stmts {
        match &stmt.kind {
            K::Call {
                function, handlers, ..
            } => {
                for l in &last {
                    add(l, function);
                }
                let mut after = vec![function.clone()];
                after.extend(catches(handlers, vec![function.clone()], add));
                last = dedup(after);
            }
            K::Parallel {
                branches, handlers, ..
            } => {
                let mut after = Vec::new();
                for b in branches {
                    after.extend(walk(b, last.clone(), add));
                }
                let ends = dedup(after);
                let mut after = ends.clone();
                after.extend(catches(handlers, ends, add));
                last = dedup(after);
            }
            K::Map { body, handlers, .. } => {
                let ends = walk(body, last.clone(), add);
                let mut after = ends.clone();
                after.extend(catches(handlers, ends, add));
                last = dedup(after);
            }
            K::If { arms, otherwise } => {
                let mut after = Vec::new();
                for (_, arm) in arms {
                    after.extend(walk(arm, last.clone(), add));
                }
                match otherwise {
                    Some(b) => after.extend(walk(b, last.clone(), add)),
                    None => after.extend(last.clone()),
                }
                last = dedup(after);
            }
            K::Return(_) | K::Fail { .. } => return Vec::new(),
            K::Wait(_) => {}
        }
    }
    last
}

/// The catch bodies of a statement, entered after `before`; returns the calls that may have
/// run last in the bodies that fall through.
fn catches(
    handlers: &ir::Handlers,
    before: Vec<String>,
    add: &mut dyn FnMut(&str, &str),
) -> Vec<String> {
    let mut out = Vec::new();
    for c in &handlers.catches {
        let ends = walk(&c.body, before.clone(), add);
        if c.falls_through {
            out.extend(ends);
        }
    }
    out
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// Groups the manifest's functions into units using the flows (see the module docs).
pub fn plan(manifest: &Manifest, flows: &[&ir::Flow]) -> Plan {
    let keys: Vec<&String> = manifest.functions.keys().collect();
    let index: BTreeMap<&str, usize> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let function = |i: usize| (keys[i].as_str(), &manifest.functions[i]);

    // Group id per function (the smallest member index); members per group.
    let mut group: Vec<usize> = (0..keys.len()).collect();
    let mut reasons: BTreeMap<usize, Vec<Reason>> = BTreeMap::new();

    let mut hints: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, f) in manifest.functions.values().enumerate() {
        if let Some(h) = &f.colocate {
            hints.entry(h.as_str()).or_default().push(i);
        }
    }
    for (hint, members) in &hints {
        // The loader proves hinted groups compatible (M019); a member that is not (a plan
        // made from an unchecked manifest) stays alone rather than break its unit.
        let first = members[0];
        let mut joined: Vec<usize> = vec![first];
        for &m in &members[1..] {
            let mut with_m = joined.clone();
            with_m.push(m);
            if joined
                .iter()
                .all(|&j| incompatibility(function(j), function(m)).is_none())
                && env_fits(manifest, &keys, &with_m)
            {
                joined = with_m;
            }
        }
        for &m in &joined {
            group[m] = first;
        }
        reasons.entry(first).or_default().push(Reason::Hint {
            hint: hint.to_string(),
            functions: joined.iter().map(|&m| keys[m].clone()).collect(),
        });
    }

    let mut edges = successions(flows);
    edges.retain(|e| index.contains_key(e.from.as_str()) && index.contains_key(e.to.as_str()));
    edges.sort_by(|a, b| {
        b.weight
            .cmp(&a.weight)
            .then(index[a.from.as_str()].cmp(&index[b.from.as_str()]))
            .then(index[a.to.as_str()].cmp(&index[b.to.as_str()]))
    });

    let hint_of = |g: usize, group: &[usize]| -> Option<&str> {
        (0..keys.len())
            .filter(|&m| group[m] == g)
            .find_map(|m| manifest.functions[m].colocate.as_deref())
    };
    let mut neighbours: BTreeSet<usize> = BTreeSet::new();
    for edge in &edges {
        let (a, b) = (index[edge.from.as_str()], index[edge.to.as_str()]);
        if a != b {
            neighbours.insert(a);
            neighbours.insert(b);
        }
        let (ga, gb) = (group[a], group[b]);
        if ga == gb {
            continue;
        }
        if let (Some(ha), Some(hb)) = (hint_of(ga, &group), hint_of(gb, &group)) {
            if ha != hb {
                for (me, other, hint) in [(a, b, hb), (b, a, ha)] {
                    reasons
                        .entry(group[me])
                        .or_default()
                        .push(Reason::OtherHint {
                            neighbour: keys[other].clone(),
                            hint: hint.to_string(),
                        });
                }
                continue;
            }
        }
        let members_a: Vec<usize> = (0..keys.len()).filter(|&m| group[m] == ga).collect();
        let members_b: Vec<usize> = (0..keys.len()).filter(|&m| group[m] == gb).collect();
        // The pair the edge joins speaks first: it is the one the reader sees in the flow.
        let clash = incompatibility(function(a), function(b)).or_else(|| {
            members_a.iter().find_map(|&x| {
                members_b
                    .iter()
                    .find_map(|&y| incompatibility(function(x), function(y)))
            })
        });
        let clash = clash.or_else(|| {
            let all: Vec<usize> = members_a.iter().chain(&members_b).copied().collect();
            (!env_fits(manifest, &keys, &all)).then(|| {
                format!(
                    "their environments together would be over Lambda's {} bytes",
                    names::ENV_MAX_BYTES
                )
            })
        });
        match clash {
            Some(why) => {
                reasons.entry(ga).or_default().push(Reason::Incompatible {
                    functions: vec![keys[a].clone()],
                    neighbour: keys[b].clone(),
                    why: why.clone(),
                });
                reasons.entry(gb).or_default().push(Reason::Incompatible {
                    functions: vec![keys[b].clone()],
                    neighbour: keys[a].clone(),
                    why,
                });
            }
            None => {
                let into = ga.min(gb);
                let from = ga.max(gb);
                for g in group.iter_mut() {
                    if *g == from {
                        *g = into;
                    }
                }
                let mut moved = reasons.remove(&from).unwrap_or_default();
                let list = reasons.entry(into).or_default();
                list.append(&mut moved);
                list.push(Reason::Sequence {
                    from: edge.from.clone(),
                    to: edge.to.clone(),
                    weight: edge.weight,
                    flows: edge.flows.clone(),
                });
            }
        }
    }

    // A `colocate` name is asked for: hinted units take theirs before other units are named
    // after their first member.
    let mut taken: BTreeSet<String> = (0..keys.len())
        .filter(|&g| group[g] == g)
        .filter_map(|g| hint_of(g, &group).map(str::to_string))
        .collect();
    let mut units = Vec::new();
    for g in 0..keys.len() {
        let members: Vec<usize> = (0..keys.len()).filter(|&m| group[m] == g).collect();
        if members.is_empty() {
            continue;
        }
        let functions: Vec<String> = members.iter().map(|&m| keys[m].clone()).collect();
        let mut why = reasons.remove(&g).unwrap_or_default();
        if members.len() == 1 {
            let f = &manifest.functions[g];
            if f.isolate {
                why.insert(0, Reason::Isolated);
            } else if let Some(runtime) = f.runtime {
                why.insert(
                    0,
                    Reason::Runtime {
                        runtime: runtime.as_str().to_string(),
                    },
                );
            } else if !neighbours.contains(&g) && why.is_empty() {
                why.push(Reason::NoNeighbour);
            }
        }
        // Reasons about neighbours that later joined the same unit no longer apply.
        why.retain(|r| match r {
            Reason::Incompatible { neighbour, .. } | Reason::OtherHint { neighbour, .. } => {
                !functions.contains(neighbour)
            }
            _ => true,
        });
        if why
            .iter()
            .any(|r| matches!(r, Reason::Isolated | Reason::Runtime { .. }))
        {
            // `isolate` or the runtime says it all; each neighbour refused for it would only
            // repeat it.
            why.retain(|r| !matches!(r, Reason::Incompatible { .. }));
        }
        dedup_reasons(&mut why);
        merge_neighbours(&mut why);
        why.sort_by_key(Reason::rank);
        let name = match hint_of(g, &group) {
            Some(hint) => hint.to_string(),
            None => {
                let base = single_unit_name(&functions[0]);
                let mut name = base.clone();
                let mut n = 2;
                while !taken.insert(name.clone()) {
                    name = format!("{base}-{n}");
                    n += 1;
                }
                name
            }
        };
        let first = &manifest.functions[g];
        units.push(Unit {
            name,
            env: names::unit_env(
                members.iter().map(|&m| &manifest.functions[m].env),
                &functions,
            ),
            functions,
            code: first.code(),
            memory: first.memory,
            timeout: first.timeout,
            reasons: why,
        });
    }
    Plan { units, edges }
}

/// Whether the unit of these members (indexes into `keys`) has an environment Lambda takes.
fn env_fits(manifest: &Manifest, keys: &[&String], members: &[usize]) -> bool {
    let functions: Vec<String> = members.iter().map(|&m| keys[m].clone()).collect();
    let env = names::unit_env(
        members.iter().map(|&m| &manifest.functions[m].env),
        &functions,
    );
    names::env_size(&env) <= names::ENV_MAX_BYTES
}

/// One line per refused neighbour and reason, listing every member it is called next to.
fn merge_neighbours(reasons: &mut Vec<Reason>) {
    let mut merged: Vec<Reason> = Vec::new();
    for reason in reasons.drain(..) {
        if let Reason::Incompatible {
            functions,
            neighbour,
            why,
        } = &reason
        {
            let same = merged.iter_mut().find_map(|m| match m {
                Reason::Incompatible {
                    functions: f,
                    neighbour: n,
                    why: w,
                } if n == neighbour && w == why => Some(f),
                _ => None,
            });
            if let Some(list) = same {
                for f in functions {
                    if !list.contains(f) {
                        list.push(f.clone());
                    }
                }
                continue;
            }
        }
        merged.push(reason);
    }
    *reasons = merged;
}

fn dedup_reasons(reasons: &mut Vec<Reason>) {
    let mut seen = Vec::new();
    reasons.retain(|r| {
        if seen.contains(r) {
            false
        } else {
            seen.push(r.clone());
            true
        }
    });
}

impl Plan {
    /// The cargo packages the units need, each once, sorted (the `-p` list of the one cargo
    /// build; empty when every unit is in a managed runtime, and cargo need not run).
    pub fn packages(&self) -> Vec<String> {
        let mut packages: Vec<String> = self
            .units
            .iter()
            .filter_map(|u| u.code.package().map(str::to_string))
            .collect();
        packages.sort();
        packages.dedup();
        packages
    }

    /// The unit hosting `function`.
    pub fn unit_of(&self, function: &str) -> Option<&Unit> {
        self.units
            .iter()
            .find(|u| u.functions.iter().any(|f| f == function))
    }

    /// How to compile a flow for this plan: each function's unit, and (when `fuse`) the
    /// idempotent functions the compiler may fuse into chains.
    pub fn compile_options(&self, manifest: &Manifest, source: &str, fuse: bool) -> CompileOptions {
        let units = self
            .units
            .iter()
            .flat_map(|u| u.functions.iter().map(|f| (f.clone(), u.name.clone())))
            .collect();
        let fusable = if fuse {
            manifest
                .functions
                .iter()
                .filter(|(_, f)| f.is_idempotent())
                .map(|(k, _)| k.clone())
                .collect()
        } else {
            BTreeSet::new()
        };
        CompileOptions {
            units,
            fusable,
            source: source.to_string(),
        }
    }
}

#[cfg(test)]
mod tests;
