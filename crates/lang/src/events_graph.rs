//! A diagram of a manifest's events, as Mermaid (`flowchart LR`) or Graphviz `dot` text:
//! sources (with their kind) → subscriptions (with their key, concurrency, state, retries and
//! KO action) → the flows and functions they invoke; dashed KO edges from a subscription to
//! its KO handler and to its `ko:<subscription>` source when another subscription takes it.
//!
//! Both renderings come from one graph. Node ids: `src1…` sources, `ko1…` KO sources,
//! `sub1…` subscriptions, `flow1…` flows, `fn1…` functions, in manifest order (targets in
//! order of first use). Connection strings never appear (they may hold credentials).

use crate::flow::graph::{dot_quote, mermaid_escape};
use crate::manifest::events::{Source, SourceKind, Subscription, Target, KO_SOURCE_PREFIX};
use crate::manifest::Manifest;

/// The events of the manifest as a Mermaid flowchart.
pub fn mermaid(manifest: &Manifest) -> String {
    let graph = build(manifest);
    let mut out = String::from("flowchart LR\n");
    for node in &graph.nodes {
        let label = node
            .lines
            .iter()
            .map(|l| mermaid_escape(l))
            .collect::<Vec<_>>()
            .join("<br/>");
        let (open, close) = match node.shape {
            Shape::Source => ("([\"", "\"])"),
            Shape::KoSource => ("{{\"", "\"}}"),
            Shape::Subscription => ("[\"", "\"]"),
            Shape::Flow => ("[[\"", "\"]]"),
            Shape::Function => ("(\"", "\")"),
            Shape::Unknown => ("[/\"", "\"/]"),
        };
        out.push_str(&format!("  {}{open}{label}{close}\n", node.id));
    }
    let mut ko_edges = Vec::new();
    for (i, edge) in graph.edges.iter().enumerate() {
        let arrow = if edge.ko { "-.->" } else { "-->" };
        if edge.ko {
            ko_edges.push(i.to_string());
        }
        match &edge.label {
            Some(label) => out.push_str(&format!(
                "  {} {arrow}|\"{}\"| {}\n",
                edge.from,
                mermaid_escape(label),
                edge.to
            )),
            None => out.push_str(&format!("  {} {arrow} {}\n", edge.from, edge.to)),
        }
    }
    for (class, fill, stroke) in CLASSES {
        out.push_str(&format!("  classDef {class} fill:{fill},stroke:{stroke}\n"));
    }
    for (class, shapes) in [
        ("source", &[Shape::Source][..]),
        ("ko", &[Shape::KoSource, Shape::Unknown][..]),
        ("subscription", &[Shape::Subscription][..]),
        ("target", &[Shape::Flow, Shape::Function][..]),
    ] {
        let ids: Vec<&str> = graph
            .nodes
            .iter()
            .filter(|n| shapes.contains(&n.shape))
            .map(|n| n.id.as_str())
            .collect();
        if !ids.is_empty() {
            out.push_str(&format!("  class {} {class}\n", ids.join(",")));
        }
    }
    if !ko_edges.is_empty() {
        out.push_str(&format!(
            "  linkStyle {} stroke:{KO_STROKE}\n",
            ko_edges.join(",")
        ));
    }
    out
}

/// The events of the manifest as a Graphviz `digraph` (render with `dot -Tsvg`).
pub fn dot(manifest: &Manifest) -> String {
    let graph = build(manifest);
    let mut out = format!(
        "digraph {} {{\n",
        dot_quote(&format!("{} events", manifest.project))
    );
    out.push_str("  rankdir=LR;\n");
    out.push_str("  fontname=\"Helvetica\";\n");
    out.push_str("  node [fontname=\"Helvetica\", fontsize=11];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=10];\n");
    for node in &graph.nodes {
        let (shape, class) = match node.shape {
            Shape::Source => ("shape=cds", "source"),
            Shape::KoSource => ("shape=hexagon", "ko"),
            Shape::Subscription => ("shape=box, style=\"rounded,filled\"", "subscription"),
            Shape::Flow => ("shape=box, peripheries=2", "target"),
            Shape::Function => ("shape=box", "target"),
            Shape::Unknown => ("shape=parallelogram", "ko"),
        };
        let (_, fill, stroke) = CLASSES
            .iter()
            .find(|(c, _, _)| *c == class)
            .copied()
            .unwrap_or(CLASSES[0]);
        let style = if node.shape == Shape::Subscription {
            String::new()
        } else {
            ", style=filled".to_string()
        };
        out.push_str(&format!(
            "  {} [label={}, {shape}{style}, fillcolor=\"{fill}\", color=\"{stroke}\"];\n",
            node.id,
            dot_quote(&node.lines.join("\n"))
        ));
    }
    for edge in &graph.edges {
        let mut attrs = Vec::new();
        if let Some(label) = &edge.label {
            attrs.push(format!("label={}", dot_quote(label)));
        }
        if edge.ko {
            attrs.push(format!(
                "style=dashed, color=\"{KO_STROKE}\", fontcolor=\"{KO_STROKE}\""
            ));
        }
        let attrs = if attrs.is_empty() {
            String::new()
        } else {
            format!(" [{}]", attrs.join(", "))
        };
        out.push_str(&format!("  {} -> {}{attrs};\n", edge.from, edge.to));
    }
    out.push_str("}\n");
    out
}

/// (class, fill, stroke) of each kind of node.
const CLASSES: [(&str, &str, &str); 4] = [
    ("source", "#e7f5ff", "#1c7ed6"),
    ("ko", "#ffe3e3", "#c92a2a"),
    ("subscription", "#fff9db", "#f08c00"),
    ("target", "#d3f9d8", "#2b8a3e"),
];
const KO_STROKE: &str = "#c92a2a";

// ---- the graph ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Source,
    /// `ko:<subscription>`, taken by another subscription.
    KoSource,
    Subscription,
    Flow,
    Function,
    /// A source name no source has (only in a manifest with errors).
    Unknown,
}

struct Node {
    id: String,
    lines: Vec<String>,
    shape: Shape,
}

struct Edge {
    from: String,
    to: String,
    label: Option<String>,
    ko: bool,
}

#[derive(Default)]
struct Graph {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
}

impl Graph {
    /// The id of the node with this key, adding it with `make` the first time.
    fn node(
        &mut self,
        keys: &mut Vec<(String, String)>,
        key: String,
        prefix: &str,
        make: impl FnOnce() -> (Vec<String>, Shape),
    ) -> String {
        if let Some((_, id)) = keys.iter().find(|(k, _)| *k == key) {
            return id.clone();
        }
        let n = self
            .nodes
            .iter()
            .filter(|n| n.id.starts_with(prefix) && n.id[prefix.len()..].parse::<usize>().is_ok())
            .count();
        let id = format!("{prefix}{}", n + 1);
        let (lines, shape) = make();
        self.nodes.push(Node {
            id: id.clone(),
            lines,
            shape,
        });
        keys.push((key, id.clone()));
        id
    }

    fn edge(&mut self, from: &str, to: &str, label: Option<String>, ko: bool) {
        self.edges.push(Edge {
            from: from.to_string(),
            to: to.to_string(),
            label,
            ko,
        });
    }
}

fn build(manifest: &Manifest) -> Graph {
    let mut graph = Graph::default();
    let mut keys: Vec<(String, String)> = Vec::new();
    for (name, source) in &manifest.sources {
        graph.node(&mut keys, format!("source {name}"), "src", || {
            (source_lines(name, source), Shape::Source)
        });
    }
    let subscriptions: Vec<(String, &String, &Subscription)> = manifest
        .subscriptions
        .iter()
        .enumerate()
        .map(|(i, (name, s))| (format!("sub{}", i + 1), name, s))
        .collect();
    for (id, name, subscription) in &subscriptions {
        graph.nodes.push(Node {
            id: id.clone(),
            lines: subscription_lines(manifest, name, subscription),
            shape: Shape::Subscription,
        });
    }
    for (id, _, subscription) in &subscriptions {
        let label = (!subscription.types.is_empty()).then(|| subscription.types.join(", "));
        for source in subscription.sources() {
            let from = if let Some(of) = source.strip_prefix(KO_SOURCE_PREFIX) {
                let of_id = subscriptions
                    .iter()
                    .find(|(_, n, _)| *n == of)
                    .map(|(id, _, _)| id.clone());
                let ko = graph.node(&mut keys, format!("ko {of}"), "ko", || {
                    (
                        vec![source.clone(), format!("KO events of {of}")],
                        if of_id.is_some() {
                            Shape::KoSource
                        } else {
                            Shape::Unknown
                        },
                    )
                });
                if let Some(of_id) = of_id {
                    if !graph.edges.iter().any(|e| e.from == of_id && e.to == ko) {
                        graph.edge(&of_id, &ko, Some("KO".into()), true);
                    }
                }
                ko
            } else {
                graph.node(&mut keys, format!("source {source}"), "src", || {
                    (vec![source.clone(), "not defined".into()], Shape::Unknown)
                })
            };
            graph.edge(&from, id, label.clone(), false);
        }
        let target = target_node(&mut graph, &mut keys, &subscription.target);
        graph.edge(id, &target, None, false);
        if let Some(ko) = &subscription.ko {
            if let Some(handler) = &ko.handler {
                let handler = target_node(&mut graph, &mut keys, handler);
                graph.edge(
                    id,
                    &handler,
                    Some(format!("KO, then {}", ko.then.as_str())),
                    true,
                );
            }
        }
    }
    graph
}

fn target_node(graph: &mut Graph, keys: &mut Vec<(String, String)>, target: &Target) -> String {
    let (prefix, shape) = match target {
        Target::Flow(_) => ("flow", Shape::Flow),
        Target::Function(_) => ("fn", Shape::Function),
    };
    graph.node(keys, target.to_string(), prefix, || {
        (vec![target.to_string()], shape)
    })
}

fn source_lines(name: &str, source: &Source) -> Vec<String> {
    let kind = match &source.kind {
        SourceKind::Webhook(w) => format!(
            "webhook POST {}",
            w.path.clone().unwrap_or_else(|| format!("/events/{name}"))
        ),
        SourceKind::Schedule(s) => format!("schedule {}", s.expression),
        SourceKind::Poll(p) => format!(
            "poll {} every {}s",
            p.function,
            p.every
                .unwrap_or(crate::manifest::events::DEFAULT_POLL_EVERY)
        ),
        SourceKind::Amqp(a) => format!("amqp queue {}", a.queue),
        SourceKind::Postgres(p) => format!("postgres table {}", p.table),
        SourceKind::Nats(n) => format!("nats stream {} ({})", n.stream, n.subject),
    };
    vec![name.to_string(), kind]
}

fn subscription_lines(manifest: &Manifest, name: &str, subscription: &Subscription) -> Vec<String> {
    let mut details = vec![match &subscription.key {
        Some(key) => format!("key {key}"),
        None => {
            // The key each source gives its events (docs/events.md: "Events").
            let mut keys: Vec<String> = subscription
                .sources()
                .iter()
                .map(|source| match manifest.sources.get(source) {
                    _ if source.starts_with(KO_SOURCE_PREFIX) => "key of the KO'd event".into(),
                    Some(Source { key: Some(key), .. }) => format!("key {key}"),
                    Some(Source {
                        kind: SourceKind::Postgres(p),
                        ..
                    }) => format!("key column {}", p.cursor_column.as_deref().unwrap_or("id")),
                    Some(_) => "one key per source".into(),
                    None => "key unknown".into(),
                })
                .collect();
            keys.sort();
            keys.dedup();
            match &keys[..] {
                [one] => one.clone(),
                _ => "key per source".into(),
            }
        }
    }];
    details.push(format!("concurrency {}", subscription.concurrency()));
    if subscription.state {
        details.push("state".into());
    }
    let mut lines = vec![name.to_string(), details.join(" · ")];
    let mut ko = Vec::new();
    if let Some(retry) = &subscription.retry {
        ko.push(format!("retry ×{}", retry.max));
    }
    ko.push(format!("KO: {}", subscription.on_ko().as_str()));
    lines.push(ko.join(" · "));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of source, a KO handler, a `ko:` source, several sources per subscription,
    /// a shared target, labels needing escapes.
    const EVENTS: &str = r#"
project: booking
functions:
  ListRoomChanges: { package: f }
  RecordBookingKo: { package: f }
  Notify: { package: f }
flows:
  Booking: { source: flows/booking.flow }
sources:
  booking-requests:
    webhook: { path: /bookings, secret_env: BOOKING_WEBHOOK_SECRET }
    type: booking.requested
    id: header:Idempotency-Key
    key: $.booking.id
  payments:
    amqp: { url: "amqp://guest:secret@127.0.0.1:5672/%2f", queue: payments }
    type: $.type
    key: $.booking_id
  room-changes:
    poll: { function: ListRoomChanges, every: 5 }
    id: $.change_id
    key: $.room
  outbox:
    postgres: { url_env: DATABASE_URL, table: booking_outbox }
    key: $.booking_id
  nightly:
    schedule: { expression: "cron(0 3 * * ? *)" }
  orders:
    nats: { url: "nats://127.0.0.1:4222", stream: ORDERS, subject: "orders.>" }
  github:
    webhook: {}
subscriptions:
  book:
    source: booking-requests
    types: [booking.requested]
    flow: Booking
    retry: { max: 3, interval: 1, backoff: 2.0 }
    ko: { function: RecordBookingKo, then: park }
    concurrency: 64
    state: true
  payments:
    source: [payments, outbox]
    types: ["payment.captured", "payment.failed"]
    key: $.booking_id
    flow: Booking
  changes:
    source: [room-changes, nightly, orders, github]
    function: Notify
    ko: { then: skip }
  book-kos:
    source: ko:book
    function: Notify
"#;

    fn manifest() -> Manifest {
        let (m, d) = crate::manifest::parse(EVENTS);
        assert_eq!(d, []);
        m.unwrap()
    }

    #[test]
    fn mermaid_diagram() {
        insta::assert_snapshot!("events_mermaid", mermaid(&manifest()));
    }

    #[test]
    fn dot_diagram() {
        insta::assert_snapshot!("events_dot", dot(&manifest()));
    }

    #[test]
    fn no_credentials_and_no_events() {
        let m = manifest();
        assert!(!mermaid(&m).contains("secret") && !dot(&m).contains("secret"));
        let (empty, _) = crate::manifest::parse("project: p\n");
        let empty = empty.unwrap();
        assert_eq!(mermaid(&empty), "flowchart LR\n  classDef source fill:#e7f5ff,stroke:#1c7ed6\n  classDef ko fill:#ffe3e3,stroke:#c92a2a\n  classDef subscription fill:#fff9db,stroke:#f08c00\n  classDef target fill:#d3f9d8,stroke:#2b8a3e\n");
        assert!(dot(&empty).ends_with("edge [fontname=\"Helvetica\", fontsize=10];\n}\n"));
    }

    #[test]
    fn a_manifest_with_errors_still_draws() {
        // Unknown sources and `ko:` of no subscription are drawn as such (never a panic).
        let text = "project: p\nflows:\n  F: { source: f.flow }\nsubscriptions:\n  s: { source: [nowhere, 'ko:gone'], flow: F }\n";
        let (m, d) = crate::manifest::parse(text);
        assert_eq!(d.len(), 2);
        let m = m.unwrap();
        let diagram = mermaid(&m);
        assert!(
            diagram.contains("src1[/\"nowhere<br/>not defined\"/]"),
            "{diagram}"
        );
        assert!(
            diagram.contains("ko1[/\"ko:gone<br/>KO events of gone\"/]"),
            "{diagram}"
        );
        assert!(dot(&m).contains("src1 -> sub1;"));
    }
}
