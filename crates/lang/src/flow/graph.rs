//! A diagram of a flow's control flow, as Mermaid (`flowchart TD`) or Graphviz `dot` text.
//!
//! Both renderings come from one small graph built from the untyped AST: a Start node, a node
//! per call (`x = F`, or `F` for `_ =`, with `retry ×3` / `timeout 5s` under it), a diamond per
//! `if` whose edges carry the conditions (and `else`), `wait` nodes, terminal nodes for
//! `return` (success) and `fail("Error")` (failure), a fork/join pair around each `parallel`
//! (one cluster per branch) and each `map` (one cluster labelled `map item in items`), and a
//! dashed edge from a call to the first node of each of its catch blocks. Inside a branch or a
//! map body `return(…)` ends the branch, not the flow: it is drawn as a result node that leads
//! to the join. Node ids are `n1`, `n2`, … in source order; cluster ids `c1`, `c2`, ….

use super::ast::*;
use super::fmt::{expr_text, str_text};

/// The flow as a Mermaid flowchart.
pub fn mermaid(flow: &Flow) -> String {
    let graph = build(flow);
    let mut out = String::from("flowchart TD\n");
    mermaid_items(&graph, &graph.root, 1, &mut out);
    for edge in &graph.edges {
        let arrow = if edge.catch { "-.->" } else { "-->" };
        match &edge.label {
            Some(label) => out.push_str(&format!(
                "  {} {arrow}|\"{}\"| {}\n",
                node_id(edge.from),
                mermaid_escape(label),
                node_id(edge.to)
            )),
            None => out.push_str(&format!(
                "  {} {arrow} {}\n",
                node_id(edge.from),
                node_id(edge.to)
            )),
        }
    }
    let mut classes: Vec<(&str, Vec<String>)> =
        vec![("success", Vec::new()), ("failure", Vec::new())];
    for (i, node) in graph.nodes.iter().enumerate() {
        match node.shape {
            Shape::Success => classes[0].1.push(node_id(i)),
            Shape::Failure => classes[1].1.push(node_id(i)),
            _ => {}
        }
    }
    out.push_str(&format!(
        "  classDef success fill:{SUCCESS_FILL},stroke:{SUCCESS_STROKE}\n"
    ));
    out.push_str(&format!(
        "  classDef failure fill:{FAILURE_FILL},stroke:{FAILURE_STROKE}\n"
    ));
    for (class, ids) in &classes {
        if !ids.is_empty() {
            out.push_str(&format!("  class {} {class}\n", ids.join(",")));
        }
    }
    let catch_edges: Vec<String> = graph
        .edges
        .iter()
        .enumerate()
        .filter(|(_, e)| e.catch)
        .map(|(i, _)| i.to_string())
        .collect();
    if !catch_edges.is_empty() {
        out.push_str(&format!(
            "  linkStyle {} stroke:{FAILURE_STROKE}\n",
            catch_edges.join(",")
        ));
    }
    out
}

/// The flow as a Graphviz `digraph` (render with `dot -Tsvg`).
pub fn dot(flow: &Flow) -> String {
    let graph = build(flow);
    let mut out = format!("digraph {} {{\n", dot_quote(&graph.name));
    out.push_str("  rankdir=TB;\n");
    out.push_str("  fontname=\"Helvetica\";\n");
    out.push_str("  node [fontname=\"Helvetica\", fontsize=11];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=10];\n");
    dot_items(&graph, &graph.root, 1, &mut out);
    for edge in &graph.edges {
        let mut attrs = Vec::new();
        if let Some(label) = &edge.label {
            attrs.push(format!("label={}", dot_quote(label)));
        }
        if edge.catch {
            attrs.push(format!(
                "style=dashed, color=\"{FAILURE_STROKE}\", fontcolor=\"{FAILURE_STROKE}\""
            ));
        }
        let attrs = if attrs.is_empty() {
            String::new()
        } else {
            format!(" [{}]", attrs.join(", "))
        };
        out.push_str(&format!(
            "  {} -> {}{attrs};\n",
            node_id(edge.from),
            node_id(edge.to)
        ));
    }
    out.push_str("}\n");
    out
}

const SUCCESS_FILL: &str = "#d3f9d8";
const SUCCESS_STROKE: &str = "#2b8a3e";
const FAILURE_FILL: &str = "#ffe3e3";
const FAILURE_STROKE: &str = "#c92a2a";

// ---- the graph ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Start,
    /// Only when some path falls off the end of the flow (a flow the checker would reject).
    End,
    Call,
    Decision,
    Wait,
    Fork,
    Join,
    /// `return` inside a branch or map body: the branch's result.
    Result,
    /// `return` of the flow.
    Success,
    /// `fail`.
    Failure,
}

#[derive(Debug)]
struct Node {
    /// One entry per line.
    label: Vec<String>,
    shape: Shape,
}

#[derive(Debug)]
struct Edge {
    from: usize,
    to: usize,
    label: Option<String>,
    catch: bool,
}

#[derive(Debug, Clone, Copy)]
enum Item {
    Node(usize),
    Cluster(usize),
}

#[derive(Debug)]
struct Cluster {
    label: String,
    items: Vec<Item>,
}

#[derive(Debug)]
struct Graph {
    name: String,
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    clusters: Vec<Cluster>,
    root: Vec<Item>,
}

/// An edge waiting for the next node: where control goes after a statement.
#[derive(Debug, Clone)]
struct Exit {
    from: usize,
    label: Option<String>,
    catch: bool,
}

impl Exit {
    fn from(node: usize) -> Exit {
        Exit {
            from: node,
            label: None,
            catch: false,
        }
    }
}

fn node_id(index: usize) -> String {
    format!("n{}", index + 1)
}

fn cluster_id(index: usize) -> String {
    format!("c{}", index + 1)
}

fn build(flow: &Flow) -> Graph {
    let mut builder = Builder {
        graph: Graph {
            name: flow.name.name.clone(),
            nodes: Vec::new(),
            edges: Vec::new(),
            clusters: Vec::new(),
            root: Vec::new(),
        },
        open: Vec::new(),
        results: Vec::new(),
    };
    let start = builder.node(vec!["Start".into()], Shape::Start, Vec::new());
    let exits = builder.block(&flow.body, vec![Exit::from(start)]);
    if !exits.is_empty() {
        builder.node(vec!["End".into()], Shape::End, exits);
    }
    builder.graph
}

struct Builder {
    graph: Graph,
    /// The clusters being filled, innermost last.
    open: Vec<usize>,
    /// One entry per parallel branch or map body being built, innermost last: its `return`
    /// nodes, which lead to the join whatever follows them.
    results: Vec<Vec<Exit>>,
}

impl Builder {
    /// Adds a node to the innermost open cluster and connects `incoming` to it.
    fn node(&mut self, label: Vec<String>, shape: Shape, incoming: Vec<Exit>) -> usize {
        let id = self.graph.nodes.len();
        self.graph.nodes.push(Node { label, shape });
        self.place(Item::Node(id));
        for exit in incoming {
            self.graph.edges.push(Edge {
                from: exit.from,
                to: id,
                label: exit.label,
                catch: exit.catch,
            });
        }
        id
    }

    fn place(&mut self, item: Item) {
        match self.open.last() {
            Some(&cluster) => self.graph.clusters[cluster].items.push(item),
            None => self.graph.root.push(item),
        }
    }

    /// Runs `fill` inside a new cluster.
    fn cluster<T>(&mut self, label: String, fill: impl FnOnce(&mut Self) -> T) -> T {
        let id = self.graph.clusters.len();
        self.graph.clusters.push(Cluster {
            label,
            items: Vec::new(),
        });
        self.place(Item::Cluster(id));
        self.open.push(id);
        let result = fill(self);
        self.open.pop();
        result
    }

    /// The statements of `block` in order; returns where control goes after the block.
    fn block(&mut self, block: &Block, incoming: Vec<Exit>) -> Vec<Exit> {
        let mut exits = incoming;
        for stmt in &block.stmts {
            exits = self.stmt(stmt, exits);
        }
        exits
    }

    /// A parallel branch or map body entered from `fork`: everything that leads to the join
    /// (its `return` nodes and the paths that fall off its end).
    fn body(&mut self, block: &Block, fork: usize) -> Vec<Exit> {
        self.results.push(Vec::new());
        let fall_through = self.block(block, vec![Exit::from(fork)]);
        let mut ends = self.results.pop().unwrap_or_default();
        ends.extend(fall_through);
        ends
    }

    fn stmt(&mut self, stmt: &Stmt, incoming: Vec<Exit>) -> Vec<Exit> {
        match &stmt.kind {
            StmtKind::Assign {
                target,
                action,
                modifiers,
            } => {
                let var = match target {
                    Target::Discard(_) => None,
                    Target::Var(v) => Some(v.name.as_str()),
                };
                let bind = |what: &str| match var {
                    Some(v) => format!("{v} = {what}"),
                    None => what.to_string(),
                };
                let mut label = match action {
                    Action::Call { function, .. } => vec![bind(&function.text())],
                    Action::Parallel { .. } => vec![bind("parallel")],
                    Action::Map { concurrency, .. } => match concurrency {
                        Some(n) => vec![bind("map"), format!("concurrency {}", n.text)],
                        None => vec![bind("map")],
                    },
                };
                label.extend(modifier_lines(modifiers));
                let (node, mut exits) = match action {
                    Action::Call { .. } => {
                        let node = self.node(label, Shape::Call, incoming);
                        (node, vec![Exit::from(node)])
                    }
                    Action::Parallel { branches, .. } => {
                        let fork = self.node(label, Shape::Fork, incoming);
                        let mut ends = Vec::new();
                        for (i, branch) in branches.iter().enumerate() {
                            let exits =
                                self.cluster(format!("branch {}", i + 1), |b| b.body(branch, fork));
                            ends.extend(exits);
                        }
                        let join = self.node(vec!["join".into()], Shape::Join, ends);
                        (fork, vec![Exit::from(join)])
                    }
                    Action::Map {
                        item, items, body, ..
                    } => {
                        let fork = self.node(label, Shape::Fork, incoming);
                        let ends = self
                            .cluster(format!("map {} in {}", item.name, items.text()), |b| {
                                b.body(body, fork)
                            });
                        let join = self.node(vec!["join".into()], Shape::Join, ends);
                        (fork, vec![Exit::from(join)])
                    }
                };
                for modifier in &modifiers.items {
                    if let Modifier::Catch(catch) = modifier {
                        let mut label = format!("catch {}", catch.binding.name);
                        if let Some(on) = &catch.on {
                            let names: Vec<&str> = on.iter().map(|s| s.value.as_str()).collect();
                            label.push_str(&format!(" on [{}]", names.join(", ")));
                        }
                        let entry = Exit {
                            from: node,
                            label: Some(label),
                            catch: true,
                        };
                        exits.extend(self.block(&catch.body, vec![entry]));
                    }
                }
                exits
            }
            StmtKind::If { arms, otherwise } => {
                let decision = self.node(vec!["if".into()], Shape::Decision, incoming);
                let mut exits = Vec::new();
                for arm in arms {
                    let entry = Exit {
                        from: decision,
                        label: Some(condition(&arm.cond)),
                        catch: false,
                    };
                    exits.extend(self.block(&arm.body, vec![entry]));
                }
                let otherwise_entry = Exit {
                    from: decision,
                    label: Some("else".into()),
                    catch: false,
                };
                match otherwise {
                    Some(body) => exits.extend(self.block(body, vec![otherwise_entry])),
                    None => exits.push(otherwise_entry),
                }
                exits
            }
            StmtKind::Return(value) => {
                let label = match &value.kind {
                    ExprKind::Select(sel) => format!("return {}", sel.text()),
                    _ => {
                        let text = expr_text(value);
                        if text.chars().count() <= 30 {
                            format!("return {text}")
                        } else {
                            "return".to_string()
                        }
                    }
                };
                if self.results.is_empty() {
                    self.node(vec![label], Shape::Success, incoming);
                } else {
                    let node = self.node(vec![label], Shape::Result, incoming);
                    self.results
                        .last_mut()
                        .expect("not empty")
                        .push(Exit::from(node));
                }
                Vec::new()
            }
            StmtKind::Fail { error, .. } => {
                self.node(
                    vec![format!("fail({})", str_text(&error.value))],
                    Shape::Failure,
                    incoming,
                );
                Vec::new()
            }
            StmtKind::Wait(value) => {
                let label = match &value.kind {
                    ExprKind::Num(n) => format!("wait {}s", n.text),
                    _ => format!("wait {}", expr_text(value)),
                };
                let node = self.node(vec![label], Shape::Wait, incoming);
                vec![Exit::from(node)]
            }
        }
    }
}

/// `retry ×3`, `timeout 5s`: the modifiers shown on a node (catches are edges).
fn modifier_lines(modifiers: &Modifiers) -> Vec<String> {
    let mut lines = Vec::new();
    for modifier in &modifiers.items {
        match modifier {
            Modifier::Retry(retry) => lines.push(match &retry.max {
                Some(max) => format!("retry ×{}", max.text),
                None => "retry".to_string(),
            }),
            Modifier::Timeout { seconds, .. } => lines.push(format!("timeout {}s", seconds.text)),
            Modifier::Catch(_) => {}
        }
    }
    lines
}

/// A condition in readable form: `reservation.status == "available"`, `a > 1 and exists(b)`.
fn condition(pred: &Pred) -> String {
    match &pred.kind {
        PredKind::Compare { op, lhs, rhs } => {
            format!("{} {} {}", expr_text(lhs), op.symbol(), expr_text(rhs))
        }
        PredKind::And(preds) => preds.iter().map(operand).collect::<Vec<_>>().join(" and "),
        PredKind::Or(preds) => preds.iter().map(operand).collect::<Vec<_>>().join(" or "),
        PredKind::Not(inner) => match inner.kind {
            PredKind::Exists(_) | PredKind::Is { .. } => format!("not {}", condition(inner)),
            _ => format!("not ({})", condition(inner)),
        },
        PredKind::Exists(sel) => format!("exists({})", sel.text()),
        PredKind::Is { test, sel } => format!("{}({})", test.keyword(), sel.text()),
        PredKind::Matches { sel, pattern } => {
            format!("{} matches {}", sel.text(), str_text(&pattern.value))
        }
    }
}

/// An operand of `and`/`or`, in parentheses when it is itself an `and`/`or`.
fn operand(pred: &Pred) -> String {
    match pred.kind {
        PredKind::And(_) | PredKind::Or(_) => format!("({})", condition(pred)),
        _ => condition(pred),
    }
}

// ---- Mermaid -----------------------------------------------------------------------------

fn mermaid_items(graph: &Graph, items: &[Item], depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    for item in items {
        match *item {
            Item::Node(i) => {
                let node = &graph.nodes[i];
                let text = node
                    .label
                    .iter()
                    .map(|l| mermaid_escape(l))
                    .collect::<Vec<_>>()
                    .join("<br/>");
                let (open, close) = match node.shape {
                    Shape::Start | Shape::End => ("((", "))"),
                    Shape::Call => ("[", "]"),
                    Shape::Decision => ("{", "}"),
                    Shape::Wait => ("[/", "/]"),
                    Shape::Fork => ("[/", "\\]"),
                    Shape::Join => ("[\\", "/]"),
                    Shape::Result => ("(", ")"),
                    Shape::Success => ("([", "])"),
                    Shape::Failure => ("{{", "}}"),
                };
                out.push_str(&format!("{pad}{}{open}\"{text}\"{close}\n", node_id(i)));
            }
            Item::Cluster(c) => {
                let cluster = &graph.clusters[c];
                out.push_str(&format!(
                    "{pad}subgraph {} [\"{}\"]\n",
                    cluster_id(c),
                    mermaid_escape(&cluster.label)
                ));
                mermaid_items(graph, &cluster.items, depth + 1, out);
                out.push_str(&format!("{pad}end\n"));
            }
        }
    }
}

/// Label text inside `"…"`: everything Mermaid could read as markup becomes an entity code.
pub(crate) fn mermaid_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '&' => out.push_str("#amp;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '\\' => out.push_str("#92;"),
            '|' => out.push_str("#124;"),
            '`' => out.push_str("#96;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

// ---- Graphviz ----------------------------------------------------------------------------

fn dot_items(graph: &Graph, items: &[Item], depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    for item in items {
        match *item {
            Item::Node(i) => {
                let node = &graph.nodes[i];
                let label = dot_quote(&node.label.join("\n"));
                let style = match node.shape {
                    Shape::Start => "shape=circle".to_string(),
                    Shape::End => "shape=doublecircle".to_string(),
                    Shape::Call => "shape=box".to_string(),
                    Shape::Decision => "shape=diamond".to_string(),
                    Shape::Wait => "shape=parallelogram".to_string(),
                    Shape::Fork => "shape=trapezium".to_string(),
                    Shape::Join => "shape=invtrapezium".to_string(),
                    Shape::Result => "shape=box, style=rounded".to_string(),
                    Shape::Success => {
                        format!("shape=oval, style=filled, fillcolor=\"{SUCCESS_FILL}\", color=\"{SUCCESS_STROKE}\"")
                    }
                    Shape::Failure => {
                        format!("shape=octagon, style=filled, fillcolor=\"{FAILURE_FILL}\", color=\"{FAILURE_STROKE}\"")
                    }
                };
                out.push_str(&format!("{pad}{} [label={label}, {style}];\n", node_id(i)));
            }
            Item::Cluster(c) => {
                let cluster = &graph.clusters[c];
                out.push_str(&format!("{pad}subgraph cluster_{} {{\n", cluster_id(c)));
                out.push_str(&format!("{pad}  label={};\n", dot_quote(&cluster.label)));
                out.push_str(&format!("{pad}  style=dashed;\n"));
                dot_items(graph, &cluster.items, depth + 1, out);
                out.push_str(&format!("{pad}}}\n"));
            }
        }
    }
}

/// A double-quoted DOT string; line breaks become `\n` (centered lines).
pub(crate) fn dot_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests;
