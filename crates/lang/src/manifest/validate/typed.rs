//! `types:`, `stores:` and the function keys that type flows and check their consistency
//! (`input`, `output`, `retry_safe`, `reads`, `writes`, `consistent_reads`): each entry checked
//! on its own, as functions and flows are, then, once the whole manifest is read, the stores
//! functions name (M040–M045).

use super::super::locate::{LKind, LNode};
use super::super::{Consistency, SchemaSource, Store};
use super::events::{is_event_name, json, json_value};
use super::{identifier_suggestion, Entry, Place, Validator};
use crate::diagnostic::{Diagnostic, Span};
use crate::manifest::names;
use crate::manifest::node::Node;
use flowctl_protocol::did_you_mean;
use flowctl_protocol::sfn::errors;
use indexmap::IndexMap;
use std::path::PathBuf;

pub(super) const STORE_KEYS: &[&str] = &["consistency"];

/// The keys of a function that name stores, with the verb their messages use.
const STORE_LISTS: &[(&str, &str)] = &[
    ("reads", "reads"),
    ("writes", "writes"),
    ("consistent_reads", "reads consistently"),
];

/// The types JSON Schema's `type` takes.
const JSON_TYPES: &[&str] = &[
    "null", "boolean", "object", "array", "number", "string", "integer",
];

/// A store named by a function, checked once `stores:` is read (M044).
pub(super) struct StoreRef {
    function: String,
    /// `reads`, `writes` or `consistent_reads`.
    list: &'static str,
    store: String,
    span: Span,
}

/// The items of a list of texts, each with its place.
type Items = Vec<(String, Span)>;

impl Validator<'_> {
    /// `types:`: named JSON Schemas, each a file path or inline (M040, M041, M042).
    pub(super) fn named_types(&mut self, entry: &Entry) -> Option<IndexMap<String, SchemaSource>> {
        if !self.expect_map(
            entry,
            "`types`",
            "`BookingRequest: schemas/booking-request.json`",
        ) {
            return None;
        }
        let place = Place {
            what: "type".into(),
            keys: None,
            suffix: String::new(),
        };
        let mut out = Some(IndexMap::new());
        for ty in self.entries(entry.value, entry.located, entry.key_span, &place) {
            let name = ty.key.clone();
            if !names::is_identifier(&name) || names::is_keyword(&name) {
                let why = if names::is_keyword(&name) {
                    "it is a keyword of the flow language".to_string()
                } else {
                    "flows name it (`flow Booking(input: BookingRequest)`), so it must be an identifier: letters, digits and `_`, not starting with a digit".to_string()
                };
                self.error(
                    Diagnostic::error(
                        "M040",
                        format!("type name `{name}` is not valid"),
                        ty.key_span,
                    )
                    .text(why)
                    .hint(format!(
                        "rename it, e.g. `{}`",
                        identifier_suggestion(&name, "MyType")
                    )),
                );
            }
            let parsed = self.schema_source(&ty, &format!("type `{name}`"));
            match (parsed, out.as_mut()) {
                (Some(s), Some(map)) => {
                    map.insert(name, s);
                }
                _ => out = None,
            }
        }
        out
    }

    /// `stores:`: each store and the consistency of its reads (M040, M003, M010).
    pub(super) fn stores(&mut self, entry: &Entry) -> Option<IndexMap<String, Store>> {
        if !self.expect_map(entry, "`stores`", "`bookings: { consistency: eventual }`") {
            return None;
        }
        let place = Place {
            what: "store".into(),
            keys: None,
            suffix: String::new(),
        };
        let mut out = Some(IndexMap::new());
        for store in self.entries(entry.value, entry.located, entry.key_span, &place) {
            let name = store.key.clone();
            self.short_name(
                "M040",
                "store",
                &name,
                store.key_span,
                "functions name it in `reads` and `writes`: letters, digits, `-` and `_`",
                "use letters, digits, `-` and `_`, e.g. `bookings`",
            );
            let parsed = self.store(&store);
            match (parsed, out.as_mut()) {
                (Some(s), Some(map)) => {
                    map.insert(name, s);
                }
                _ => out = None,
            }
        }
        out
    }

    fn store(&mut self, store: &Entry) -> Option<Store> {
        let name = &store.key;
        if !self.expect_map(
            store,
            &format!("store `{name}`"),
            &format!("`{name}: {{ consistency: eventual }}`"),
        ) {
            return None;
        }
        let place = Place {
            what: format!("store `{name}`"),
            keys: Some(STORE_KEYS),
            suffix: String::new(),
        };
        let owner = format!(" of store `{name}`");
        let entries = self.entries(store.value, store.located, store.key_span, &place);
        let mut consistency = None;
        for entry in &entries {
            if entry.key == "consistency" {
                let aliases = [
                    ("strongly", "strong"),
                    ("consistent", "strong"),
                    ("linearizable", "strong"),
                    ("eventually", "eventual"),
                    ("weak", "eventual"),
                ];
                consistency = self
                    .choice(entry, &owner, &["strong", "eventual"], &aliases)
                    .map(|c| match c {
                        "strong" => Consistency::Strong,
                        _ => Consistency::Eventual,
                    });
            }
        }
        if !entries.iter().any(|e| e.key == "consistency") {
            self.structural_error(
                Diagnostic::error(
                    "M003",
                    format!("store `{name}` has no `consistency`"),
                    store.key_span,
                )
                .text("`consistency` is required")
                .hint("add `consistency: strong` (a read sees every earlier write) or `consistency: eventual` (a read right after a write may see an older value: DynamoDB's default reads, S3 listings, read replicas)"),
            );
        }
        Some(Store {
            consistency: consistency?,
        })
    }

    /// A JSON Schema: a file path (M041 when empty) or a mapping (M042 when it is not a JSON
    /// Schema). `what` is "type `X`" or "the input of function `F`".
    pub(super) fn schema_source(&mut self, entry: &Entry, what: &str) -> Option<SchemaSource> {
        let example = "`schemas/booking-request.json`, or a mapping such as `{ type: object, required: [id], properties: { id: { type: string } } }`";
        match entry.value {
            Node::Str(path) => {
                if path.trim().is_empty() {
                    self.error(
                        Diagnostic::error(
                            "M041",
                            format!("the JSON Schema path of {what} is empty"),
                            entry.value_span,
                        )
                        .text("no path given")
                        .hint(format!("write the path of a JSON Schema file, relative to the directory of flowctl.yaml, or the schema inline: {example}")),
                    );
                }
                Some(SchemaSource::File(PathBuf::from(path)))
            }
            Node::Map(_) => match json(entry.value) {
                Ok(()) => {
                    let value = json_value(entry.value)?;
                    self.schema_shape(entry.value, entry.located, entry.value_span, what);
                    Some(SchemaSource::Inline(value))
                }
                Err(why) => {
                    self.structural_error(
                        Diagnostic::error(
                            "M042",
                            format!("the inline schema of {what} is not JSON"),
                            entry.value_span,
                        )
                        .text(why)
                        .hint("write a JSON Schema as YAML: mappings with text keys, lists, text, finite numbers, booleans"),
                    );
                    None
                }
            },
            Node::Null => {
                self.structural_error(
                    Diagnostic::error("M004", format!("{what} has no schema"), entry.key_span)
                        .text("nothing follows the `:`")
                        .hint(format!(
                            "give the path of a JSON Schema file or the schema itself: {example}"
                        )),
                );
                None
            }
            other => {
                self.structural_error(
                    Diagnostic::error(
                        "M004",
                        format!("{what} must be a JSON Schema file path or an inline schema"),
                        entry.value_span,
                    )
                    .text(format!("found {}", other.describe()))
                    .hint(format!("write the path of a JSON Schema file (text) or the schema as a mapping, e.g. {example}")),
                );
                None
            }
        }
    }

    /// The keywords of an inline schema whose shape flowctl reads (M042): `type`,
    /// `properties`, `required`, `items`, `enum`, `additionalProperties`, `oneOf`/`anyOf`/
    /// `allOf`, `$defs`/`definitions`, `$ref`. Other keywords are left to JSON Schema.
    fn schema_shape(&mut self, node: &Node, located: Option<&LNode>, fallback: Span, what: &str) {
        let Node::Map(pairs) = node else {
            return;
        };
        for (index, (key, value)) in pairs.iter().enumerate() {
            let Some(key) = key.scalar_text() else {
                continue;
            };
            let at = located.and_then(|l| l.entry(index, &key));
            let span = at.map_or(fallback, |e| e.value.span);
            let inner = at.map(|e| &e.value);
            let bad = |v: &mut Self, text: String, hint: String| {
                v.error(
                    Diagnostic::error(
                        "M042",
                        format!("`{key}` in the inline schema of {what} is not valid"),
                        span,
                    )
                    .text(text)
                    .hint(hint),
                );
            };
            match key.as_str() {
                "type" => {
                    let names: Vec<(&Node, Span)> = match value {
                        Node::Seq(items) if !items.is_empty() => items
                            .iter()
                            .enumerate()
                            .map(|(i, n)| (n, item_span(inner, i, span)))
                            .collect(),
                        Node::Seq(_) => {
                            bad(
                                self,
                                "an empty list of types allows nothing".into(),
                                "write one type, e.g. `type: object`, or a list of them".into(),
                            );
                            continue;
                        }
                        other => vec![(other, span)],
                    };
                    for (name, span) in names {
                        let text = name.scalar_text().unwrap_or_default();
                        if matches!(name, Node::Str(_)) && JSON_TYPES.contains(&text.as_str()) {
                            continue;
                        }
                        let alias = match text.to_ascii_lowercase().as_str() {
                            "int" | "integer" | "long" | "i64" | "u64" => Some("integer"),
                            "float" | "double" | "decimal" | "f64" | "number" => Some("number"),
                            "bool" | "boolean" => Some("boolean"),
                            "str" | "text" | "string" => Some("string"),
                            "list" | "vec" | "array" => Some("array"),
                            "map" | "dict" | "struct" | "record" | "object" => Some("object"),
                            "nil" | "none" | "null" | "~" => Some("null"),
                            _ => None,
                        };
                        let list = JSON_TYPES
                            .iter()
                            .map(|t| format!("`{t}`"))
                            .collect::<Vec<_>>()
                            .join(", ");
                        let hint = match alias.or_else(|| did_you_mean(&text, JSON_TYPES.iter().copied())) {
                            Some(best) => format!("did you mean `{best}`? JSON Schema's types are {list}"),
                            None => format!("JSON Schema's types are {list}"),
                        };
                        let shown = if matches!(name, Node::Str(_)) {
                            format!("`{text}`")
                        } else {
                            name.describe().to_string()
                        };
                        self.error(
                            Diagnostic::error(
                                "M042",
                                format!("`type` in the inline schema of {what} is not a JSON Schema type"),
                                span,
                            )
                            .text(format!("{shown} is not a type"))
                            .hint(hint),
                        );
                    }
                }
                "properties" | "$defs" | "definitions" | "patternProperties" => {
                    let Node::Map(props) = value else {
                        bad(
                            self,
                            format!("found {}", value.describe()),
                            format!("`{key}` maps each name to its schema, e.g. `{key}: {{ id: {{ type: string }} }}`"),
                        );
                        continue;
                    };
                    for (i, (name, schema)) in props.iter().enumerate() {
                        let Some(name) = name.scalar_text() else {
                            continue;
                        };
                        let at = inner.and_then(|l| l.entry(i, &name));
                        let span = at.map_or(span, |e| e.value.span);
                        self.subschema(schema, at.map(|e| &e.value), span, what, &format!("`{key}.{name}`"));
                    }
                }
                "additionalProperties" | "items" | "not" | "additionalItems" => {
                    if key == "items" {
                        if let Node::Seq(schemas) = value {
                            for (i, schema) in schemas.iter().enumerate() {
                                let span = item_span(inner, i, span);
                                let inner = seq_item(inner, i);
                                self.subschema(schema, inner, span, what, "an entry of `items`");
                            }
                            continue;
                        }
                    }
                    self.subschema(value, inner, span, what, &format!("`{key}`"));
                }
                "oneOf" | "anyOf" | "allOf" => {
                    let Node::Seq(schemas) = value else {
                        bad(
                            self,
                            format!("found {}", value.describe()),
                            format!("`{key}` is a list of schemas, e.g. `{key}: [{{ type: string }}, {{ type: integer }}]`"),
                        );
                        continue;
                    };
                    if schemas.is_empty() {
                        bad(
                            self,
                            "an empty list".into(),
                            format!("list at least one schema, e.g. `{key}: [{{ type: string }}]`"),
                        );
                    }
                    for (i, schema) in schemas.iter().enumerate() {
                        let span = item_span(inner, i, span);
                        self.subschema(schema, seq_item(inner, i), span, what, &format!("an entry of `{key}`"));
                    }
                }
                "required" => match value {
                    Node::Seq(items) => {
                        for (i, item) in items.iter().enumerate() {
                            if !matches!(item, Node::Str(_)) {
                                let span = item_span(inner, i, span);
                                self.error(
                                    Diagnostic::error(
                                        "M042",
                                        format!("`required` in the inline schema of {what} is not valid"),
                                        span,
                                    )
                                    .text(format!("an entry is {}", item.describe()))
                                    .hint("list property names as text, e.g. `required: [id, nights]`"),
                                );
                            }
                        }
                    }
                    other => bad(
                        self,
                        format!("found {}", other.describe()),
                        "`required` lists the property names that must be present, e.g. `required: [id, nights]`".into(),
                    ),
                },
                "enum" => match value {
                    Node::Seq(items) if !items.is_empty() => {}
                    Node::Seq(_) => bad(
                        self,
                        "an empty list allows no value".into(),
                        "list the allowed values, e.g. `enum: [pending, confirmed]`".into(),
                    ),
                    other => bad(
                        self,
                        format!("found {}", other.describe()),
                        "`enum` lists the allowed values, e.g. `enum: [pending, confirmed]`".into(),
                    ),
                },
                "$ref" if !matches!(value, Node::Str(_)) => bad(
                    self,
                    format!("found {}", value.describe()),
                    "`$ref` is the text of a reference, e.g. `$ref: '#/$defs/Room'`".into(),
                ),
                _ => {}
            }
        }
    }

    /// A schema inside a schema: a mapping (checked in turn) or `true`/`false`.
    fn subschema(
        &mut self,
        node: &Node,
        located: Option<&LNode>,
        span: Span,
        what: &str,
        role: &str,
    ) {
        match node {
            Node::Map(_) => self.schema_shape(node, located, span, what),
            Node::Bool(_) => {}
            other => self.error(
                Diagnostic::error(
                    "M042",
                    format!("{role} in the inline schema of {what} is not a schema"),
                    span,
                )
                .text(format!("found {}", other.describe()))
                .hint("write a schema as a mapping, e.g. `{ type: string }` (or `true` for any value)"),
            ),
        }
    }

    /// A list of texts (a single text or anything else is M004); `None` when the value has
    /// the wrong shape.
    fn text_list(
        &mut self,
        entry: &Entry,
        owner: &str,
        example: &str,
        item: &str,
    ) -> Option<Items> {
        let key = &entry.key;
        let items = match entry.value {
            Node::Null => return Some(Vec::new()),
            Node::Seq(items) => items,
            Node::Map(_) | Node::Float(_) | Node::Int(_) | Node::Bool(_) => {
                self.wrong_type(
                    entry,
                    owner,
                    "a list",
                    format!("write a list, e.g. `{key}: [{example}]`"),
                );
                return None;
            }
            Node::Str(s) => {
                self.wrong_type(entry, owner, "a list", format!("write `{key}: [{s}]`"));
                return None;
            }
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (i, node) in items.iter().enumerate() {
            let span = item_span(entry.located, i, entry.value_span);
            match node {
                Node::Seq(_) | Node::Map(_) | Node::Null => {
                    self.structural_error(
                        Diagnostic::error(
                            "M004",
                            format!("an entry of `{key}`{owner} is {}", node.describe()),
                            span,
                        )
                        .text(format!("expected {item}"))
                        .hint(format!(
                            "write each entry as text, e.g. `{key}: [{example}]`"
                        )),
                    );
                    ok = false;
                }
                scalar => out.push((scalar.scalar_text().unwrap_or_default(), span)),
            }
        }
        ok.then_some(out)
    }

    /// `retry_safe`: error names, none empty or repeated, `States.*` only those Step
    /// Functions defines (M043).
    pub(super) fn retry_safe(&mut self, entry: &Entry, owner: &str) -> Option<Vec<String>> {
        let items = self.text_list(entry, owner, "PaymentGatewayUnavailable", "an error name")?;
        for (i, (name, span)) in items.iter().enumerate() {
            if name.trim().is_empty() {
                self.error(
                    Diagnostic::error(
                        "M043",
                        format!("an error name in `retry_safe`{owner} is empty"),
                        *span,
                    )
                    .text("no error has an empty name")
                    .hint("remove it, or write the error's name, e.g. `PaymentGatewayUnavailable`"),
                );
            } else if let Some((_, first)) = items[..i].iter().find(|(n, _)| n == name) {
                self.error(
                    Diagnostic::error(
                        "M043",
                        format!("`{name}` is listed twice in `retry_safe`{owner}"),
                        *span,
                    )
                    .text("listed again here")
                    .label(*first, "first listed here")
                    .hint("remove one of the two"),
                );
            } else if name.starts_with(errors::PREFIX) && !errors::KNOWN.contains(&name.as_str()) {
                let hint = match did_you_mean(name, errors::KNOWN.iter().copied()) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => format!("Step Functions defines {}", errors::KNOWN.join(", ")),
                };
                self.error(
                    Diagnostic::error("M043", format!("unknown error name `{name}` in `retry_safe`{owner}"), *span)
                        .text("`States.` is reserved for Step Functions' errors, and it never raises this one")
                        .hint(hint),
                );
            }
        }
        Some(items.into_iter().map(|(n, _)| n).collect())
    }

    /// `reads`, `writes` or `consistent_reads`: store names, none repeated (M045); whether
    /// each is a store is checked once `stores:` is read (M044).
    pub(super) fn store_list(
        &mut self,
        entry: &Entry,
        owner: &str,
        function: &str,
    ) -> Option<Items> {
        let list = STORE_LISTS
            .iter()
            .find(|(k, _)| *k == entry.key)
            .map_or("reads", |(k, _)| *k);
        let items = self.text_list(entry, owner, "bookings", "a store name")?;
        for (i, (name, span)) in items.iter().enumerate() {
            if let Some((_, first)) = items[..i].iter().find(|(n, _)| n == name) {
                self.error(
                    Diagnostic::error(
                        "M045",
                        format!("store `{name}` is listed twice in `{list}`{owner}"),
                        *span,
                    )
                    .text("listed again here")
                    .label(*first, "first listed here")
                    .hint("remove one of the two"),
                );
                continue;
            }
            self.store_refs.push(StoreRef {
                function: function.to_string(),
                list,
                store: name.clone(),
                span: *span,
            });
        }
        Some(items)
    }

    /// Every store in `consistent_reads` is also in `reads` (M045).
    pub(super) fn consistent_reads_are_reads(
        &mut self,
        function: &str,
        reads: &Items,
        reads_span: Option<Span>,
        consistent: &Items,
    ) {
        for (store, span) in consistent {
            if reads.iter().any(|(r, _)| r == store) {
                continue;
            }
            let mut d = Diagnostic::error(
                "M045",
                format!("function `{function}` reads `{store}` consistently but does not list it in `reads`"),
                *span,
            )
            .text("a consistent read is a read: `reads` lists every store the function reads")
            .hint(format!("add `{store}` to `reads`, or remove it from `consistent_reads`"));
            if let Some(reads_span) = reads_span {
                d = d.label(reads_span, "the stores it reads");
            }
            self.error(d);
        }
    }

    /// The stores functions name, against `stores:` (M044); `stores` is `None` when it is not
    /// a mapping (reported there), so that nothing is called unknown for it.
    pub(super) fn store_references(&mut self, stores: Option<Vec<String>>) {
        let Some(stores) = stores else { return };
        for r in std::mem::take(&mut self.store_refs) {
            if stores.contains(&r.store) {
                continue;
            }
            let verb = STORE_LISTS
                .iter()
                .find(|(k, _)| *k == r.list)
                .map_or("reads", |(_, v)| *v);
            let store = &r.store;
            let declare = format!(
                "declare it under `stores:` with the consistency of its reads, e.g. `stores: {{ {}: {{ consistency: eventual }} }}`",
                if is_event_name(store) { store.as_str() } else { "bookings" }
            );
            let hint = match did_you_mean(store, stores.iter().map(String::as_str)) {
                Some(best) => format!("did you mean `{best}`? Otherwise {declare}"),
                None => declare,
            };
            self.error(
                Diagnostic::error(
                    "M044",
                    format!(
                        "function `{}` {verb} `{store}`, which is not a store of the manifest",
                        r.function
                    ),
                    r.span,
                )
                .text(format!("not a store under `stores:` (in `{}`)", r.list))
                .hint(hint),
            );
        }
    }
}

/// The place of item `index` of a located list, else `fallback`.
fn item_span(located: Option<&LNode>, index: usize, fallback: Span) -> Span {
    seq_item(located, index).map_or(fallback, |l| l.span)
}

fn seq_item(located: Option<&LNode>, index: usize) -> Option<&LNode> {
    match &located?.kind {
        LKind::Seq(items) => items.get(index),
        _ => None,
    }
}
