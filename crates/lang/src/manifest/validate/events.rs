//! `sources:` and `subscriptions:`: each entry checked on its own (keys, types, values, as for
//! functions and flows), then, once the whole manifest is read, the references between them
//! (a subscription's sources and targets, a poll's function, KO chains).

use super::super::events::{
    Amqp, Ko, KoAction, Locator, Nats, OneOrMany, Poll, Postgres, Retry, Schedule, Source,
    SourceKind, Sources, Subscription, Subscriptions, Target, Webhook, KO_SOURCE_PREFIX,
    MAX_CONCURRENCY,
};
use super::super::schedule::Expression;
use super::{Entry, Place, Validator};
use crate::diagnostic::{Diagnostic, Span};
use crate::manifest::names;
use crate::manifest::node::Node;
use flowctl_protocol::did_you_mean;
use indexmap::IndexMap;

pub(super) const SOURCE_KEYS: &[&str] = &[
    "webhook", "schedule", "poll", "amqp", "postgres", "nats", "type", "id", "key",
];
/// The keys saying what a source is: exactly one per source.
pub(super) const KIND_KEYS: &[&str] = &["webhook", "schedule", "poll", "amqp", "postgres", "nats"];
pub(super) const WEBHOOK_KEYS: &[&str] = &["path", "secret_env", "signature_header"];
pub(super) const SCHEDULE_KEYS: &[&str] = &["expression", "payload"];
pub(super) const POLL_KEYS: &[&str] = &["function", "every"];
pub(super) const AMQP_KEYS: &[&str] = &[
    "url",
    "url_env",
    "queue",
    "prefetch",
    "broker_arn",
    "secret_arn",
];
pub(super) const POSTGRES_KEYS: &[&str] = &["url", "url_env", "table", "cursor_column", "every"];
pub(super) const NATS_KEYS: &[&str] = &["url", "url_env", "stream", "subject"];
pub(super) const SUBSCRIPTION_KEYS: &[&str] = &[
    "source",
    "types",
    "key",
    "flow",
    "function",
    "retry",
    "ko",
    "concurrency",
    "state",
];
pub(super) const RETRY_KEYS: &[&str] = &["max", "interval", "backoff"];
pub(super) const KO_KEYS: &[&str] = &["flow", "function", "then"];

/// The longest source or subscription name.
pub const MAX_NAME: usize = 64;
/// The longest `every`, in seconds (a day).
pub const MAX_EVERY: u32 = 86_400;
/// The most retries of a subscription.
pub const MAX_RETRIES: u32 = 100;
/// The headers a webhook checks signatures in.
pub const SIGNATURE_HEADERS: &[&str] = &["X-Hub-Signature-256", "Stripe-Signature"];
/// The path prefix `flowctl dev` keeps for itself.
pub const RESERVED_PATH: &str = "/_flowctl";

/// A source or subscription name: letters, digits, `-`, `_`, at most 64 characters.
pub fn is_event_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An environment variable name as shells write it: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_env_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A plain SQL identifier (`outbox`, 63 characters at most, as PostgreSQL keeps).
pub fn is_sql_identifier(name: &str) -> bool {
    name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The shape of an Amazon MQ broker ARN, for messages.
pub const MQ_BROKER_ARN_EXAMPLE: &str =
    "arn:aws:mq:eu-west-1:123456789012:broker:orders:b-1234a5b6-78cd-901e-2fgh-3i45j6k178l9";
/// The shape of a Secrets Manager secret ARN, for messages.
pub const SECRET_ARN_EXAMPLE: &str =
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders-broker-AbCdEf";

fn arn_kind(key: &str) -> &'static str {
    if key == "broker_arn" {
        "an Amazon MQ broker ARN"
    } else {
        "a Secrets Manager secret ARN"
    }
}

/// The parts of `arn:<partition>:<service>:<region>:<account>:<resource>` after checking
/// the partition, the service, the region and the account; on failure, the hint.
fn arn_resource<'a>(arn: &'a str, service: &str, example: &str) -> Result<&'a str, String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [first, partition, found, region, account, resource] = parts.as_slice() else {
        return Err(format!(
            "an ARN has six `:`-separated parts: write it as `{example}`"
        ));
    };
    if *first != "arn" {
        return Err(format!(
            "an ARN starts with `arn:`: write it as `{example}`"
        ));
    }
    let known_partition = *partition == "aws"
        || partition.strip_prefix("aws-").is_some_and(|p| {
            !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == '-')
        });
    if !known_partition {
        return Err(format!(
            "the partition `{partition}` is unknown: use `aws` (or `aws-cn`, `aws-us-gov`), as in `{example}`"
        ));
    }
    if *found != service {
        return Err(format!(
            "this is an ARN of `{found}`, not of `{service}`: write it as `{example}`"
        ));
    }
    names::check_region(region).map_err(|hint| format!("its region: {hint}"))?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "the account `{account}` is not 12 digits: copy the ARN from the console or `aws {service}`"
        ));
    }
    Ok(resource)
}

/// Checks an Amazon MQ broker ARN,
/// `arn:<partition>:mq:<region>:<account>:broker:<name>:<id>`; on failure, the hint.
pub fn check_mq_broker_arn(arn: &str) -> Result<(), String> {
    let example = MQ_BROKER_ARN_EXAMPLE;
    let resource = arn_resource(arn, "mq", example)?;
    let shape = || format!("a broker's resource is `broker:<name>:<id>`, as in `{example}`");
    let [kind, name, id] = resource.split(':').collect::<Vec<_>>()[..] else {
        return Err(shape());
    };
    // Amazon MQ's rules: a name of 1 to 50 letters, digits, `-` and `_`; an id `b-<uuid>`.
    let plain_name = (1..=50).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let plain_id = id.len() > 2
        && id.starts_with("b-")
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if kind != "broker" || !plain_name || !plain_id {
        return Err(shape());
    }
    Ok(())
}

/// Checks a Secrets Manager secret ARN,
/// `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>`; on failure, the hint.
pub fn check_secret_arn(arn: &str) -> Result<(), String> {
    let example = SECRET_ARN_EXAMPLE;
    let resource = arn_resource(arn, "secretsmanager", example)?;
    // Secret names: letters, digits and `/_+=.@-` (Secrets Manager's rule), up to 512.
    let name = resource.strip_prefix("secret:").unwrap_or_default();
    let plain = (1..=512).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b));
    if !plain {
        return Err(format!(
            "a secret's resource is `secret:<name>`, as in `{example}`"
        ));
    }
    Ok(())
}

/// What the checks across entries need: names and the places of references.
pub(super) struct EventPlaces {
    /// Every source name written (valid or not), so a reference to it is not "unknown".
    source_names: Option<Vec<String>>,
    /// Webhook paths (as given, or the default) with their place and source.
    webhooks: Vec<(String, Span, String)>,
    /// Poll functions: (function, its place, source).
    polls: Vec<(String, Span, String)>,
    subscription_names: Option<Vec<String>>,
    subscriptions: Vec<SubscriptionPlace>,
}

impl Default for EventPlaces {
    fn default() -> EventPlaces {
        EventPlaces {
            source_names: Some(Vec::new()),
            webhooks: Vec::new(),
            polls: Vec::new(),
            subscription_names: Some(Vec::new()),
            subscriptions: Vec::new(),
        }
    }
}

struct SubscriptionPlace {
    name: String,
    /// The sources written, with their places.
    sources: Vec<(String, Span)>,
    /// The target and the KO handler, with their places (`true`: the KO handler).
    targets: Vec<(Target, Span, bool)>,
}

/// What a locator is for, for its rules and messages.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Type,
    Id,
    Key,
}

impl Role {
    fn key(self) -> &'static str {
        match self {
            Role::Type => "type",
            Role::Id => "id",
            Role::Key => "key",
        }
    }
}

impl Validator<'_> {
    pub(super) fn sources(&mut self, entry: &Entry, places: &mut EventPlaces) -> Option<Sources> {
        if !self.expect_map(
            entry,
            "`sources`",
            "`orders: { webhook: { path: /orders } }`",
        ) {
            places.source_names = None;
            return None;
        }
        let place = Place {
            what: "source".into(),
            keys: None,
            suffix: String::new(),
        };
        let mut out = Some(IndexMap::new());
        let mut names = Vec::new();
        for source in self.entries(entry.value, entry.located, entry.key_span, &place) {
            let name = source.key.clone();
            self.event_name("source", &name, source.key_span);
            names.push(name.clone());
            let parsed = self.source(&source, places);
            match (parsed, out.as_mut()) {
                (Some(s), Some(map)) => {
                    map.insert(name, s);
                }
                _ => out = None,
            }
        }
        places.source_names = Some(names);
        self.webhook_paths(&places.webhooks);
        out
    }

    /// M021: a source or subscription name.
    fn event_name(&mut self, what: &str, name: &str, span: Span) {
        self.short_name(
            "M021",
            what,
            name,
            span,
            "names use letters, digits, `-` and `_`",
            &format!("rename it, e.g. `my-{what}`"),
        );
    }

    /// A name of at most [`MAX_NAME`] letters, digits, `-` and `_` (sources, subscriptions,
    /// stores): when it is not one, `code` says why (`rule`, or its length) with a renamed
    /// suggestion, or `example` when nothing of the name can be kept.
    pub(super) fn short_name(
        &mut self,
        code: &'static str,
        what: &str,
        name: &str,
        span: Span,
        rule: &str,
        example: &str,
    ) {
        if is_event_name(name) {
            return;
        }
        let mut suggestion = names::name_suggestion(name);
        suggestion.truncate(MAX_NAME);
        let why = if name.len() > MAX_NAME {
            format!(
                "it has {} characters; at most {MAX_NAME} are allowed",
                name.len()
            )
        } else {
            rule.to_string()
        };
        let hint = if suggestion.chars().all(|c| c == '-') {
            example.to_string()
        } else {
            format!("rename it, e.g. `{suggestion}`")
        };
        self.error(
            Diagnostic::error(code, format!("{what} name `{name}` is not valid"), span)
                .text(why)
                .hint(hint),
        );
    }

    fn source(&mut self, source: &Entry, places: &mut EventPlaces) -> Option<Source> {
        let name = &source.key;
        if !self.expect_map(
            source,
            &format!("source `{name}`"),
            &format!("`{name}: {{ webhook: {{ path: /{name} }} }}`"),
        ) {
            return None;
        }
        let place = Place {
            what: format!("source `{name}`"),
            keys: Some(SOURCE_KEYS),
            suffix: String::new(),
        };
        let entries = self.entries(source.value, source.located, source.key_span, &place);
        let kinds: Vec<&Entry> = entries
            .iter()
            .filter(|e| KIND_KEYS.contains(&e.key.as_str()))
            .collect();
        let mut kind = None;
        match kinds[..] {
            [] => self.structural_error(
                Diagnostic::error("M020", format!("source `{name}` has no kind"), source.key_span)
                    .text("a source says what it is with one of `webhook`, `schedule`, `poll`, `amqp`, `postgres`, `nats`")
                    .hint(format!("add one, e.g. `webhook: {{ path: /{name} }}` or `schedule: {{ expression: \"rate(5 minutes)\" }}`")),
            ),
            [only] => kind = self.source_kind(only, name, places),
            [first, second, ..] => self.structural_error(
                Diagnostic::error("M020", format!("source `{name}` has two kinds"), second.key_span)
                    .text(format!("`{}` here", second.key))
                    .label(first.key_span, format!("`{}` already says what it is", first.key))
                    .hint(format!("a source has one kind: keep one, and define another source for the `{}`", second.key)),
            ),
        }
        // Headers are a webhook's; without one known kind, do not guess.
        let webhook = match kinds[..] {
            [only] => only.key == "webhook",
            _ => true,
        };
        let owner = format!(" of source `{name}`");
        let mut event_type = Some(None);
        let mut id = Some(None);
        let mut key = Some(None);
        for entry in &entries {
            let (slot, role) = match entry.key.as_str() {
                "type" => (&mut event_type, Role::Type),
                "id" => (&mut id, Role::Id),
                "key" => (&mut key, Role::Key),
                _ => continue,
            };
            let example = match role {
                Role::Type => "booking.requested",
                Role::Id => "$.id",
                Role::Key => "$.booking.id",
            };
            *slot = self.optional_string(entry, &owner, example);
            if let Some(Some(text)) = slot.clone() {
                self.locator(entry, &text, role, webhook, &format!("source `{name}`"));
            }
        }
        if kinds.len() == 1 && kinds[0].key == "poll" && !entries.iter().any(|e| e.key == "id") {
            self.error(
                Diagnostic::error("M003", format!("poll source `{name}` has no `id`"), source.key_span)
                    .text("a poll's events have no id of their own, and the id is what makes a redelivered event a duplicate")
                    .hint("add `id: $.<field>`: the path of a unique id in each event the function answers"),
            );
        }
        Some(Source {
            kind: kind?,
            event_type: event_type?,
            id: id?,
            key: key?,
        })
    }

    /// M022: how `type`, `id` or `key` are read; `webhook`: headers may be read.
    fn locator(&mut self, entry: &Entry, text: &str, role: Role, webhook: bool, what: &str) {
        let key = role.key();
        let example = if key == "key" { "$.booking.id" } else { "$.id" };
        let title = format!("`{key}` of {what} is not valid");
        let problem = match Locator::parse(text) {
            _ if text.trim().is_empty() => Some((
                "it is empty".to_string(),
                match role {
                    Role::Type => "write the type, or remove the key to use the source's name".to_string(),
                    _ => format!("write a path into the payload, e.g. `{key}: {example}`, or remove the key to use the default"),
                },
            )),
            Err(why) => Some((
                why,
                if text.starts_with("header:") {
                    format!("write a header name, e.g. `{key}: header:X-Request-Id`")
                } else {
                    format!("a path is `$` then `.field` or `[index]` steps, e.g. `{key}: {example}`")
                },
            )),
            Ok(Locator::Header(_)) if !webhook => Some((
                "only a webhook's requests have headers".to_string(),
                format!("read it from the payload instead, e.g. `{key}: {example}`"),
            )),
            Ok(Locator::Literal(_)) if role != Role::Type => {
                let field: String = text
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' })
                    .collect();
                Some((
                    match role {
                        Role::Id => "a fixed text would give every event the same id, so each would be a duplicate of the first".to_string(),
                        _ => "a fixed text would put every event under one key (that is the default: remove the key)".to_string(),
                    },
                    if webhook {
                        format!("write a path into the payload, e.g. `{key}: $.{field}`, or a header, e.g. `{key}: header:{field}`")
                    } else {
                        format!("write a path into the payload, e.g. `{key}: $.{field}`")
                    },
                ))
            }
            Ok(_) => None,
        };
        if let Some((why, hint)) = problem {
            self.error(
                Diagnostic::error("M022", title, entry.value_span)
                    .text(why)
                    .hint(hint),
            );
        }
    }

    fn source_kind(
        &mut self,
        entry: &Entry,
        source: &str,
        places: &mut EventPlaces,
    ) -> Option<SourceKind> {
        let kind = entry.key.as_str();
        let (keys, example) = match kind {
            "webhook" => (WEBHOOK_KEYS, format!("`webhook: {{ path: /{source} }}`")),
            "schedule" => (
                SCHEDULE_KEYS,
                "`schedule: { expression: \"rate(5 minutes)\" }`".to_string(),
            ),
            "poll" => (
                POLL_KEYS,
                "`poll: { function: ListChanges, every: 5 }`".to_string(),
            ),
            "amqp" => (
                AMQP_KEYS,
                "`amqp: { url_env: AMQP_URL, queue: orders }`".to_string(),
            ),
            "postgres" => (
                POSTGRES_KEYS,
                "`postgres: { url_env: DATABASE_URL, table: outbox }`".to_string(),
            ),
            _ => (
                NATS_KEYS,
                "`nats: { url: \"nats://127.0.0.1:4222\", stream: ORDERS, subject: orders.> }`"
                    .to_string(),
            ),
        };
        let what = format!("the `{kind}` of source `{source}`");
        if !self.expect_map(entry, &what, &example) {
            return None;
        }
        let place = Place {
            what: what.clone(),
            keys: Some(keys),
            suffix: String::new(),
        };
        let owner = format!(" in {what}");
        let entries = self.entries(entry.value, entry.located, entry.key_span, &place);
        let mut fields: IndexMap<&str, &Entry> = IndexMap::new();
        for e in &entries {
            fields.insert(e.key.as_str(), e);
        }
        let mut ok = true;
        let kind = match kind {
            "webhook" => {
                let mut webhook = Webhook::default();
                let mut path_span = entry.key_span;
                if let Some(e) = fields.get("path") {
                    webhook.path =
                        self.optional_string(e, &owner, "/orders")
                            .unwrap_or_else(|| {
                                ok = false;
                                None
                            });
                    path_span = e.value_span;
                    if let Some(path) = &webhook.path {
                        self.webhook_path(path, e.value_span, source);
                    }
                }
                let path = webhook
                    .path
                    .clone()
                    .unwrap_or_else(|| format!("/events/{source}"));
                places.webhooks.push((path, path_span, source.to_string()));
                if let Some(e) = fields.get("secret_env") {
                    webhook.secret_env = self.env_name(e, &owner);
                    ok &= webhook.secret_env.is_some() || matches!(e.value, Node::Null);
                }
                if let Some(e) = fields.get("signature_header") {
                    webhook.signature_header = self
                        .optional_string(e, &owner, "X-Hub-Signature-256")
                        .unwrap_or_else(|| {
                            ok = false;
                            None
                        });
                    if let Some(header) = &webhook.signature_header {
                        if !SIGNATURE_HEADERS
                            .iter()
                            .any(|h| h.eq_ignore_ascii_case(header))
                        {
                            self.error(
                                Diagnostic::error("M026", format!("`{header}` is not a signature header flowctl checks"), e.value_span)
                                    .text("the signatures flowctl checks are GitHub's (`X-Hub-Signature-256`) and Stripe's (`Stripe-Signature`)")
                                    .hint("write `signature_header: X-Hub-Signature-256` (the default) or `signature_header: Stripe-Signature`"),
                            );
                        }
                    }
                }
                SourceKind::Webhook(webhook)
            }
            "schedule" => {
                let expression = self.required(
                    &fields,
                    "expression",
                    &what,
                    entry.key_span,
                    "\"rate(5 minutes)\"",
                    &mut ok,
                );
                if let (Some(text), Some(e)) = (&expression, fields.get("expression")) {
                    if let Err(why) = Expression::parse(text) {
                        self.error(
                            Diagnostic::error("M023", format!("the schedule of source `{source}` is not valid"), e.value_span)
                                .text(why)
                                .hint("write EventBridge Scheduler's syntax (UTC), e.g. `rate(5 minutes)`, `rate(1 hour)` or `cron(0 12 * * ? *)`"),
                        );
                    }
                }
                let payload = match fields.get("payload") {
                    Some(e) if matches!(e.value, Node::Null) => None,
                    Some(e) => match json(e.value) {
                        Ok(()) => json_value(e.value),
                        Err(why) => {
                            self.structural_error(
                                Diagnostic::error("M004", format!("`payload`{owner} is not JSON"), e.value_span)
                                    .text(why)
                                    .hint("write a JSON-like value: mappings with text keys, lists, text, finite numbers, booleans"),
                            );
                            ok = false;
                            None
                        }
                    },
                    None => None,
                };
                SourceKind::Schedule(Schedule {
                    expression: expression.unwrap_or_default(),
                    payload,
                })
            }
            "poll" => {
                let function = self.required(
                    &fields,
                    "function",
                    &what,
                    entry.key_span,
                    "ListChanges",
                    &mut ok,
                );
                if let (Some(f), Some(e)) = (&function, fields.get("function")) {
                    places
                        .polls
                        .push((f.clone(), e.value_span, source.to_string()));
                }
                let every = self.every(fields.get("every").copied(), &owner, &mut ok);
                SourceKind::Poll(Poll {
                    function: function.unwrap_or_default(),
                    every,
                })
            }
            "amqp" => {
                let (url, url_env) = self.connection(
                    &fields,
                    entry,
                    &what,
                    &["amqp", "amqps"],
                    "amqp://guest:guest@127.0.0.1:5672/%2f",
                    &mut ok,
                );
                let queue =
                    self.required(&fields, "queue", &what, entry.key_span, "orders", &mut ok);
                let mut prefetch = None;
                if let Some(e) = fields.get("prefetch") {
                    match self.number(e, &owner, 1..=u32::from(u16::MAX), "M031", "messages") {
                        Some(n) => match u16::try_from(n) {
                            Ok(n) => prefetch = Some(n),
                            Err(_) => {
                                self.structural = true;
                                ok = false;
                            }
                        },
                        None => ok = false,
                    }
                }
                let (broker_arn, secret_arn) = self.amazon_mq(&fields, &owner, &mut ok);
                SourceKind::Amqp(Amqp {
                    url,
                    url_env,
                    queue: queue.unwrap_or_default(),
                    prefetch,
                    broker_arn,
                    secret_arn,
                })
            }
            "postgres" => {
                let (url, url_env) = self.connection(
                    &fields,
                    entry,
                    &what,
                    &["postgres", "postgresql"],
                    "postgres://app@127.0.0.1/app",
                    &mut ok,
                );
                let table =
                    self.required(&fields, "table", &what, entry.key_span, "outbox", &mut ok);
                if let (Some(t), Some(e)) = (&table, fields.get("table")) {
                    let plain = match t.split_once('.') {
                        Some((schema, table)) => {
                            is_sql_identifier(schema) && is_sql_identifier(table)
                        }
                        None => is_sql_identifier(t),
                    };
                    if !plain {
                        self.error(
                            Diagnostic::error("M029", format!("`{t}` is not a table name flowctl can read"), e.value_span)
                                .text("a table is a plain SQL identifier (letters, digits, `_`, not starting with a digit; 63 at most), or `schema.table`")
                                .hint("write the table's name, e.g. `table: outbox` or `table: app.outbox` (rename a table whose name needs quotes)"),
                        );
                    }
                }
                let mut cursor_column = None;
                if let Some(e) = fields.get("cursor_column") {
                    cursor_column = self.optional_string(e, &owner, "id").unwrap_or_else(|| {
                        ok = false;
                        None
                    });
                    if let Some(c) = &cursor_column {
                        if !is_sql_identifier(c) {
                            self.error(
                                Diagnostic::error("M029", format!("`{c}` is not a column name flowctl can read"), e.value_span)
                                    .text("a column is a plain SQL identifier: letters, digits, `_`, not starting with a digit, 63 at most")
                                    .hint("write the column's name, e.g. `cursor_column: id`"),
                            );
                        }
                    }
                }
                let every = self.every(fields.get("every").copied(), &owner, &mut ok);
                SourceKind::Postgres(Postgres {
                    url,
                    url_env,
                    table: table.unwrap_or_default(),
                    cursor_column,
                    every,
                })
            }
            _ => {
                let (url, url_env) = self.connection(
                    &fields,
                    entry,
                    &what,
                    &["nats"],
                    "nats://127.0.0.1:4222",
                    &mut ok,
                );
                let stream =
                    self.required(&fields, "stream", &what, entry.key_span, "ORDERS", &mut ok);
                let subject = self.required(
                    &fields,
                    "subject",
                    &what,
                    entry.key_span,
                    "orders.>",
                    &mut ok,
                );
                SourceKind::Nats(Nats {
                    url,
                    url_env,
                    stream: stream.unwrap_or_default(),
                    subject: subject.unwrap_or_default(),
                })
            }
        };
        ok.then_some(kind)
    }

    /// A required string of a source's kind, or a structural M003.
    fn required(
        &mut self,
        fields: &IndexMap<&str, &Entry>,
        key: &str,
        what: &str,
        span: Span,
        example: &str,
        ok: &mut bool,
    ) -> Option<String> {
        let Some(entry) = fields.get(key) else {
            self.structural_error(
                Diagnostic::error("M003", format!("{what} has no `{key}`"), span)
                    .text(format!("`{key}` is required"))
                    .hint(format!("add `{key}: {example}`")),
            );
            *ok = false;
            return None;
        };
        let value = self.string(entry, &format!(" in {what}"), example);
        *ok &= value.is_some();
        value
    }

    /// M024: a webhook path.
    fn webhook_path(&mut self, path: &str, span: Span, source: &str) {
        let problem = if !path.starts_with('/') {
            Some((
                "a path starts with `/`".to_string(),
                format!("write `path: /{}`", path.trim_start_matches('/')),
            ))
        } else if path.contains(|c: char| c.is_whitespace() || c == '?' || c == '#') {
            Some((
                "a path has no spaces, and no query (`?`) or fragment (`#`)".to_string(),
                format!("write a plain path, e.g. `path: /{source}`"),
            ))
        } else if path == RESERVED_PATH || path.starts_with(&format!("{RESERVED_PATH}/")) {
            Some((
                format!("`{RESERVED_PATH}/` is where `flowctl dev` answers its own requests"),
                format!("choose another path, e.g. `path: /{source}`"),
            ))
        } else {
            None
        };
        if let Some((why, hint)) = problem {
            self.error(
                Diagnostic::error(
                    "M024",
                    format!("the path of webhook `{source}` is not valid"),
                    span,
                )
                .text(why)
                .hint(hint),
            );
        }
    }

    /// M024: two webhooks on one path.
    fn webhook_paths(&mut self, webhooks: &[(String, Span, String)]) {
        for (i, (path, span, source)) in webhooks.iter().enumerate() {
            if let Some((_, first_span, first)) = webhooks[..i].iter().find(|(p, _, _)| p == path) {
                self.error(
                    Diagnostic::error(
                        "M024",
                        format!("webhooks `{first}` and `{source}` are on the same path"),
                        *span,
                    )
                    .text(format!("`{path}` again"))
                    .label(*first_span, format!("`{first}` is on `{path}`"))
                    .hint(format!(
                        "give each webhook its own path, e.g. `path: /{source}`"
                    )),
                );
            }
        }
    }

    /// M025: `secret_env` or `url_env`; `None` for null or a type error.
    fn env_name(&mut self, entry: &Entry, owner: &str) -> Option<String> {
        let name = self.optional_string(entry, owner, "MY_SECRET")??;
        if !is_env_name(&name) {
            let suggestion: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_uppercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            let suggestion = suggestion.trim_start_matches(|c: char| c.is_ascii_digit());
            let hint = if suggestion.is_empty() {
                format!("write the variable's name, e.g. `{}: MY_SECRET`", entry.key)
            } else {
                format!(
                    "write the variable's name, e.g. `{}: {suggestion}`",
                    entry.key
                )
            };
            self.error(
                Diagnostic::error("M025", format!("`{name}` is not an environment variable name"), entry.value_span)
                    .text(format!("`{}` names an environment variable: letters, digits and `_`, not starting with a digit", entry.key))
                    .hint(hint),
            );
        }
        Some(name)
    }

    /// `url` or `url_env`, exactly one (M027), the url's scheme (M028).
    fn connection(
        &mut self,
        fields: &IndexMap<&str, &Entry>,
        kind: &Entry,
        what: &str,
        schemes: &[&str],
        example: &str,
        ok: &mut bool,
    ) -> (Option<String>, Option<String>) {
        let owner = format!(" in {what}");
        let mut url = None;
        if let Some(e) = fields.get("url") {
            match self.optional_string(e, &owner, example) {
                Some(u) => url = u,
                None => *ok = false,
            }
            if let Some(u) = &url {
                let scheme = u.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
                if !scheme.as_deref().is_some_and(|s| schemes.contains(&s)) {
                    let list = schemes
                        .iter()
                        .map(|s| format!("`{s}://`"))
                        .collect::<Vec<_>>()
                        .join(" or ");
                    self.error(
                        Diagnostic::error(
                            "M028",
                            format!("the url of {what} has the wrong scheme"),
                            e.value_span,
                        )
                        .text(format!("expected a url starting with {list}"))
                        .hint(format!("write it as `url: \"{example}\"`")),
                    );
                }
            }
        }
        let mut url_env = None;
        if let Some(e) = fields.get("url_env") {
            url_env = self.env_name(e, &owner);
            *ok &= url_env.is_some() || matches!(e.value, Node::Null);
        }
        match (&url, &url_env, fields.get("url"), fields.get("url_env")) {
            (Some(_), Some(_), Some(url), Some(url_env)) => {
                let (first, second) = if url.key_span.start <= url_env.key_span.start {
                    (url, url_env)
                } else {
                    (url_env, url)
                };
                self.error(
                Diagnostic::error("M027", format!("{what} has both `url` and `url_env`"), second.key_span)
                    .text(format!("`{}` here", second.key))
                    .label(first.key_span, format!("`{}` here", first.key))
                    .hint("keep one: `url_env` (the name of a variable holding the url) keeps credentials out of the manifest"),
                )
            }
            (None, None, _, _) => self.error(
                Diagnostic::error("M027", format!("{what} has no `url` or `url_env`"), kind.key_span)
                    .text("flowctl needs to know where to connect")
                    .hint(format!("add `url_env: <VARIABLE>` (a variable holding the url), or `url: \"{example}\"`")),
            ),
            _ => {}
        }
        (url, url_env)
    }

    /// An `amqp` source's Amazon MQ broker and credentials secret on AWS: both or neither
    /// (M050), each an ARN of its kind (M051).
    fn amazon_mq(
        &mut self,
        fields: &IndexMap<&str, &Entry>,
        owner: &str,
        ok: &mut bool,
    ) -> (Option<String>, Option<String>) {
        let mut arn = |key: &str, check: fn(&str) -> Result<(), String>, example: &str| {
            let entry = fields.get(key)?;
            let Some(value) = self.optional_string(entry, owner, example) else {
                *ok = false;
                return None;
            };
            if let Some(text) = &value {
                if let Err(hint) = check(text) {
                    self.error(
                        Diagnostic::error(
                            "M051",
                            format!("`{key}`{owner} is not {}", arn_kind(key)),
                            entry.value_span,
                        )
                        .text(format!("expected `{example}`"))
                        .hint(hint),
                    );
                }
            }
            value
        };
        let broker = arn("broker_arn", check_mq_broker_arn, MQ_BROKER_ARN_EXAMPLE);
        let secret = arn("secret_arn", check_secret_arn, SECRET_ARN_EXAMPLE);
        // Written and not null (a value of the wrong type is its own error, not a lone one).
        let written = |key: &str| {
            fields
                .get(key)
                .filter(|e| !matches!(e.value, Node::Null))
                .copied()
        };
        let lone = match (written("broker_arn"), written("secret_arn")) {
            (Some(e), None) => Some((e, "secret_arn", "broker_arn")),
            (None, Some(e)) => Some((e, "broker_arn", "secret_arn")),
            _ => None,
        };
        if let Some((entry, missing, present)) = lone {
            let example = if missing == "secret_arn" {
                SECRET_ARN_EXAMPLE
            } else {
                MQ_BROKER_ARN_EXAMPLE
            };
            self.error(
                Diagnostic::error(
                    "M050",
                    format!("`{present}`{owner} comes without `{missing}`"),
                    entry.key_span,
                )
                .text("Lambda's Amazon MQ event source needs both the broker and the secret holding its `{\"username\", \"password\"}`")
                .hint(format!("add `{missing}: {example}`, or remove `{present}` (`flowctl dev` uses `url`/`url_env` only)")),
            );
        }
        (broker, secret)
    }

    /// `every`: seconds, 1 to a day (M031).
    fn every(&mut self, entry: Option<&Entry>, owner: &str, ok: &mut bool) -> Option<u32> {
        let entry = entry?;
        let every = self.number(entry, owner, 1..=MAX_EVERY, "M031", "seconds");
        *ok &= every.is_some();
        every
    }

    pub(super) fn subscriptions(
        &mut self,
        entry: &Entry,
        places: &mut EventPlaces,
    ) -> Option<Subscriptions> {
        if !self.expect_map(
            entry,
            "`subscriptions`",
            "`book: { source: orders, flow: Booking }`",
        ) {
            places.subscription_names = None;
            return None;
        }
        let place = Place {
            what: "subscription".into(),
            keys: None,
            suffix: String::new(),
        };
        let mut out = Some(IndexMap::new());
        let mut names = Vec::new();
        for subscription in self.entries(entry.value, entry.located, entry.key_span, &place) {
            let name = subscription.key.clone();
            self.event_name("subscription", &name, subscription.key_span);
            names.push(name.clone());
            let parsed = self.subscription(&subscription, places);
            match (parsed, out.as_mut()) {
                (Some(s), Some(map)) => {
                    map.insert(name, s);
                }
                _ => out = None,
            }
        }
        places.subscription_names = Some(names);
        out
    }

    fn subscription(
        &mut self,
        subscription: &Entry,
        places: &mut EventPlaces,
    ) -> Option<Subscription> {
        let name = &subscription.key;
        if !self.expect_map(
            subscription,
            &format!("subscription `{name}`"),
            &format!("`{name}: {{ source: orders, flow: Booking }}`"),
        ) {
            return None;
        }
        let what = format!("subscription `{name}`");
        let place = Place {
            what: what.clone(),
            keys: Some(SUBSCRIPTION_KEYS),
            suffix: String::new(),
        };
        let owner = format!(" of {what}");
        let entries = self.entries(
            subscription.value,
            subscription.located,
            subscription.key_span,
            &place,
        );
        let mut record = SubscriptionPlace {
            name: name.clone(),
            sources: Vec::new(),
            targets: Vec::new(),
        };
        let mut ok = true;
        let mut source = None;
        let mut types = Vec::new();
        let mut key = None;
        let mut retry = None;
        let mut ko = None;
        let mut concurrency = None;
        let mut state = false;
        for entry in &entries {
            match entry.key.as_str() {
                "source" => {
                    source = self.subscription_source(entry, &owner, &mut record);
                    ok &= source.is_some();
                }
                "types" => match self.types(entry, &owner) {
                    Some(t) => types = t,
                    None => ok = false,
                },
                "key" => match self.optional_string(entry, &owner, "$.booking.id") {
                    Some(k) => {
                        if let Some(text) = &k {
                            self.subscription_key(entry, text, &what);
                        }
                        key = k;
                    }
                    None => ok = false,
                },
                "retry" => match self.retry(entry, &what) {
                    Some(r) => retry = r,
                    None => ok = false,
                },
                "ko" => match self.ko(entry, &what, &mut record) {
                    Some(k) => ko = k,
                    None => ok = false,
                },
                "concurrency" => {
                    concurrency = self.number(entry, &owner, 1..=MAX_CONCURRENCY, "M036", "keys");
                    ok &= concurrency.is_some();
                }
                "state" => match self.boolean(entry, &owner) {
                    Some(b) => state = b,
                    None => ok = false,
                },
                _ => {}
            }
        }
        let target = self.target(&entries, subscription.key_span, &what, false, &mut record);
        if !entries.iter().any(|e| e.key == "source") {
            self.structural_error(
                Diagnostic::error("M003", format!("{what} has no `source`"), subscription.key_span)
                    .text("`source` is required")
                    .hint("add `source: <name>`: a source of `sources:`, a list of them, or `ko:<subscription>`"),
            );
            ok = false;
        }
        places.subscriptions.push(record);
        if !ok {
            return None;
        }
        Some(Subscription {
            source: source?,
            types,
            key,
            target: target?,
            retry,
            ko,
            concurrency,
            state,
        })
    }

    fn subscription_source(
        &mut self,
        entry: &Entry,
        owner: &str,
        record: &mut SubscriptionPlace,
    ) -> Option<OneOrMany> {
        match entry.value {
            Node::Seq(items) => {
                let located = entry.located.map(|l| match &l.kind {
                    crate::manifest::locate::LKind::Seq(items) => items.as_slice(),
                    _ => &[],
                });
                let mut names = Vec::new();
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    let span = located
                        .and_then(|l| l.get(i))
                        .map_or(entry.value_span, |l| l.span);
                    match item {
                        Node::Str(s) => {
                            record.sources.push((s.clone(), span));
                            names.push(s.clone());
                        }
                        other => {
                            self.structural_error(
                                Diagnostic::error(
                                    "M004",
                                    format!("a `source`{owner} is {}", other.describe()),
                                    span,
                                )
                                .text("expected the name of a source")
                                .hint("write source names, e.g. `source: [orders, payments]`"),
                            );
                            ok = false;
                        }
                    }
                }
                if items.is_empty() {
                    self.error(
                        Diagnostic::error(
                            "M032",
                            format!("the `source`{owner} is an empty list"),
                            entry.value_span,
                        )
                        .text("it would never receive an event")
                        .hint("name at least one source, e.g. `source: [orders]`"),
                    );
                }
                ok.then_some(OneOrMany::Many(names))
            }
            _ => {
                let s = self.string(entry, owner, "orders")?;
                record.sources.push((s.clone(), entry.value_span));
                Some(OneOrMany::One(s))
            }
        }
    }

    /// M022: a subscription's `key`, a path into the payload.
    fn subscription_key(&mut self, entry: &Entry, text: &str, what: &str) {
        let (why, hint) = match Locator::parse(text) {
            Ok(Locator::Payload(_)) => return,
            Ok(Locator::Header(_)) => (
                "a subscription reads its key from the event's payload; only a webhook source's `key` may be a header".to_string(),
                "read it from the payload, e.g. `key: $.booking.id`, or set `key: header:…` on the webhook source".to_string(),
            ),
            Ok(Locator::Literal(_)) if text.trim().is_empty() => (
                "it is empty".to_string(),
                "write a path into the payload, e.g. `key: $.booking.id`, or remove it to use the source's key".to_string(),
            ),
            Ok(Locator::Literal(_)) => (
                "a fixed text would put every event under one key".to_string(),
                format!("write a path into the payload, e.g. `key: $.{}`", text.trim()),
            ),
            Err(why) => (
                why,
                "a path is `$` then `.field` or `[index]` steps, e.g. `key: $.booking.id`".to_string(),
            ),
        };
        self.error(
            Diagnostic::error(
                "M022",
                format!("`key` of {what} is not valid"),
                entry.value_span,
            )
            .text(why)
            .hint(hint),
        );
    }

    /// `types`: a list of distinct, non-empty texts (M038).
    fn types(&mut self, entry: &Entry, owner: &str) -> Option<Vec<String>> {
        let items = match entry.value {
            Node::Null => return Some(Vec::new()),
            Node::Seq(items) => items,
            Node::Str(s) => {
                self.wrong_type(entry, owner, "a list", format!("write `types: [{s}]`"));
                return None;
            }
            _ => {
                self.wrong_type(
                    entry,
                    owner,
                    "a list",
                    "write a list of event types, e.g. `types: [booking.requested]`".into(),
                );
                return None;
            }
        };
        let located = entry.located.map(|l| match &l.kind {
            crate::manifest::locate::LKind::Seq(items) => items.as_slice(),
            _ => &[],
        });
        let mut out: Vec<String> = Vec::new();
        let mut spans: Vec<Span> = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let span = located
                .and_then(|l| l.get(i))
                .map_or(entry.value_span, |l| l.span);
            let Some(text) = item.scalar_text() else {
                self.structural_error(
                    Diagnostic::error(
                        "M004",
                        format!("an entry of `types`{owner} is {}", item.describe()),
                        span,
                    )
                    .text("expected an event type")
                    .hint("write event types as text, e.g. `types: [booking.requested]`"),
                );
                ok = false;
                continue;
            };
            if text.trim().is_empty() {
                self.error(
                    Diagnostic::error(
                        "M038",
                        format!("an event type in `types`{owner} is empty"),
                        span,
                    )
                    .text("no event has an empty type")
                    .hint("remove it, or write the type, e.g. `booking.requested`"),
                );
            } else if let Some(first) = out.iter().position(|t| *t == text) {
                self.error(
                    Diagnostic::error(
                        "M038",
                        format!("`{text}` is listed twice in `types`{owner}"),
                        span,
                    )
                    .text("listed again here")
                    .label(spans[first], "first listed here")
                    .hint("remove one of the two"),
                );
            }
            out.push(text);
            spans.push(span);
        }
        ok.then_some(out)
    }

    /// `retry: { max, interval, backoff }` (M037).
    fn retry(&mut self, entry: &Entry, what: &str) -> Option<Option<Retry>> {
        if matches!(entry.value, Node::Null) {
            return Some(None);
        }
        if !self.expect_map(
            entry,
            &format!("`retry` of {what}"),
            "`retry: { max: 3, interval: 1, backoff: 2 }`",
        ) {
            return None;
        }
        let place = Place {
            what: format!("the `retry` of {what}"),
            keys: Some(RETRY_KEYS),
            suffix: String::new(),
        };
        let owner = format!(" in the `retry` of {what}");
        let entries = self.entries(entry.value, entry.located, entry.key_span, &place);
        let mut ok = true;
        let mut retry = Retry {
            max: 0,
            interval: 1.0,
            backoff: 2.0,
        };
        for e in &entries {
            match e.key.as_str() {
                "max" => match self.number(e, &owner, 0..=MAX_RETRIES, "M037", "retries") {
                    Some(n) => retry.max = n,
                    None => ok = false,
                },
                "interval" => {
                    match self.decimal(e, &owner, "1") {
                        Some(x) => {
                            if !(x.is_finite() && x >= 0.0) {
                                self.error(
                                Diagnostic::error("M037", format!("`interval`{owner} is out of range"), e.value_span)
                                    .text(format!("{x} is not a number of seconds of 0 or more"))
                                    .hint("write the seconds before the first retry, e.g. `interval: 1`"),
                            );
                            }
                            retry.interval = x;
                        }
                        None => ok = false,
                    }
                }
                "backoff" => match self.decimal(e, &owner, "2.0") {
                    Some(x) => {
                        if !(x.is_finite() && x >= 1.0) {
                            self.error(
                                Diagnostic::error("M037", format!("`backoff`{owner} is out of range"), e.value_span)
                                    .text(format!("{x} is less than 1 (or not finite): the wait would shrink"))
                                    .hint("write a factor of at least 1, e.g. `backoff: 2.0` (1 keeps the same interval)"),
                            );
                        }
                        retry.backoff = x;
                    }
                    None => ok = false,
                },
                _ => {}
            }
        }
        if !entries.iter().any(|e| e.key == "max") {
            self.structural_error(
                Diagnostic::error(
                    "M003",
                    format!("the `retry` of {what} has no `max`"),
                    entry.key_span,
                )
                .text("`max` is required")
                .hint("add `max: 3`: how many more attempts before the event is KO"),
            );
            ok = false;
        }
        ok.then_some(Some(retry))
    }

    /// A number of seconds or a factor: a whole or decimal number.
    fn decimal(&mut self, entry: &Entry, owner: &str, example: &str) -> Option<f64> {
        match entry.value {
            Node::Int(n) => Some(*n as f64),
            Node::Float(x) => Some(*x),
            _ => {
                let key = &entry.key;
                self.wrong_type(
                    entry,
                    owner,
                    "a number",
                    format!("write `{key}: {example}`"),
                );
                None
            }
        }
    }

    /// `ko: { flow | function, then }`.
    fn ko(
        &mut self,
        entry: &Entry,
        what: &str,
        record: &mut SubscriptionPlace,
    ) -> Option<Option<Ko>> {
        match entry.value {
            Node::Null => return Some(None),
            Node::Str(s) if s == "skip" || s == "park" => {
                self.wrong_type(
                    entry,
                    &format!(" of {what}"),
                    "a mapping",
                    format!("write `ko: {{ then: {s} }}`"),
                );
                return None;
            }
            _ => {}
        }
        if !self.expect_map(
            entry,
            &format!("`ko` of {what}"),
            "`ko: { function: RecordKo, then: park }`",
        ) {
            return None;
        }
        let place = Place {
            what: format!("the `ko` of {what}"),
            keys: Some(KO_KEYS),
            suffix: String::new(),
        };
        let owner = format!(" in the `ko` of {what}");
        let entries = self.entries(entry.value, entry.located, entry.key_span, &place);
        let mut then = Some(KoAction::Skip);
        for e in &entries {
            if e.key == "then" {
                then = self
                    .choice(
                        e,
                        &owner,
                        &["skip", "park"],
                        &[("hold", "park"), ("continue", "skip"), ("next", "skip")],
                    )
                    .map(|c| {
                        if c == "park" {
                            KoAction::Park
                        } else {
                            KoAction::Skip
                        }
                    });
            }
        }
        let handler = if entries
            .iter()
            .any(|e| e.key == "flow" || e.key == "function")
        {
            Some(self.target(
                &entries,
                entry.key_span,
                &format!("the `ko` of {what}"),
                true,
                record,
            )?)
        } else {
            None
        };
        Some(Some(Ko {
            handler,
            then: then?,
        }))
    }

    /// `flow: X` or `function: X`, exactly one (M034).
    fn target(
        &mut self,
        entries: &[Entry],
        span: Span,
        what: &str,
        ko: bool,
        record: &mut SubscriptionPlace,
    ) -> Option<Target> {
        let owner = format!(" of {what}");
        let written: Vec<&Entry> = entries
            .iter()
            .filter(|e| e.key == "flow" || e.key == "function")
            .collect();
        match written[..] {
            [] => {
                self.structural_error(
                    Diagnostic::error("M034", format!("{what} invokes nothing"), span)
                        .text("a subscription invokes a flow or a function")
                        .hint("add `flow: <Flow>` or `function: <Function>` (of this manifest)"),
                );
                None
            }
            [one] => {
                let name = self.string(
                    one,
                    &owner,
                    if one.key == "flow" {
                        "Booking"
                    } else {
                        "HandleEvent"
                    },
                )?;
                let target = if one.key == "flow" {
                    Target::Flow(name)
                } else {
                    Target::Function(name)
                };
                record.targets.push((target.clone(), one.value_span, ko));
                Some(target)
            }
            [first, second, ..] => {
                self.structural_error(
                    Diagnostic::error("M034", format!("{what} has both `flow` and `function`"), second.key_span)
                        .text(format!("`{}` here", second.key))
                        .label(first.key_span, format!("`{}` here", first.key))
                        .hint("keep one: an event runs one flow or one function (a flow can call the function)"),
                );
                None
            }
        }
    }

    /// The references between entries, once every top-level key is read: poll functions
    /// (M030), subscription sources (M032), KO chains (M033), targets (M035).
    pub(super) fn event_references(
        &mut self,
        places: &EventPlaces,
        functions: Option<Vec<String>>,
        flows: Option<Vec<String>>,
    ) {
        if let Some(functions) = &functions {
            for (function, span, source) in &places.polls {
                if functions.contains(function) {
                    continue;
                }
                let hint = match did_you_mean(function, functions.iter().map(String::as_str)) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => format!("add `{function}` under `functions:`, or name one of the manifest's functions"),
                };
                self.error(
                    Diagnostic::error("M030", format!("poll source `{source}` calls `{function}`, which is not a function of the manifest"), *span)
                        .text("a poll calls a function of `functions:`")
                        .hint(hint),
                );
            }
        }
        let subscriptions = places.subscription_names.as_deref().unwrap_or_default();
        for subscription in &places.subscriptions {
            let name = &subscription.name;
            for (i, (source, span)) in subscription.sources.iter().enumerate() {
                if subscription.sources[..i].iter().any(|(s, _)| s == source) {
                    self.error(
                        Diagnostic::error(
                            "M032",
                            format!("subscription `{name}` takes `{source}` twice"),
                            *span,
                        )
                        .text("listed again here")
                        .hint("remove one of the two"),
                    );
                    continue;
                }
                if let Some(of) = source.strip_prefix(KO_SOURCE_PREFIX) {
                    if of == name {
                        self.error(
                            Diagnostic::error("M033", format!("subscription `{name}` takes its own KO events"), *span)
                                .text("each of its KOs would become an event for itself, for ever")
                                .hint("handle its KOs with `ko: { function: … }`, or take `ko:` events of another subscription"),
                        );
                    } else if places.subscription_names.is_some()
                        && !subscriptions.iter().any(|s| s == of)
                    {
                        let hint = match did_you_mean(of, subscriptions.iter().map(String::as_str)) {
                            Some(best) => format!("did you mean `ko:{best}`?"),
                            None => "`ko:<name>` takes the KO events of the subscription `<name>` of `subscriptions:`".to_string(),
                        };
                        self.error(
                            Diagnostic::error("M032", format!("subscription `{name}` takes `{source}`, but there is no subscription `{of}`"), *span)
                                .text("not a subscription of this manifest")
                                .hint(hint),
                        );
                    }
                    continue;
                }
                // `sources:` is not a mapping (reported there).
                let Some(sources) = &places.source_names else {
                    continue;
                };
                if !sources.contains(source) {
                    self.unknown_source(name, source, *span, sources, subscriptions);
                }
            }
            for (target, span, ko) in &subscription.targets {
                let (known, other, kind, other_kind) = match target {
                    Target::Flow(_) => (&flows, &functions, "flow", "function"),
                    Target::Function(_) => (&functions, &flows, "function", "flow"),
                };
                let Some(known) = known else { continue };
                let target_name = target.name();
                if known.iter().any(|k| k == target_name) {
                    continue;
                }
                let hint = if other
                    .as_ref()
                    .is_some_and(|o| o.iter().any(|k| k == target_name))
                {
                    format!(
                        "`{target_name}` is a {other_kind}: write `{other_kind}: {target_name}`"
                    )
                } else {
                    match did_you_mean(target_name, known.iter().map(String::as_str)) {
                        Some(best) => format!("did you mean `{best}`?"),
                        None => format!("add `{target_name}` under `{kind}s:`, or name one of the manifest's {kind}s"),
                    }
                };
                let role = if *ko { "KO handler" } else { "target" };
                self.error(
                    Diagnostic::error(
                        "M035",
                        format!(
                            "the {role} of subscription `{name}` is not a {kind} of the manifest"
                        ),
                        *span,
                    )
                    .text(format!("no {kind} `{target_name}` under `{kind}s:`"))
                    .hint(hint),
                );
            }
        }
        self.ko_cycles(places);
    }

    fn unknown_source(
        &mut self,
        subscription: &str,
        source: &str,
        span: Span,
        sources: &[String],
        subscriptions: &[String],
    ) {
        let hint = if subscriptions.iter().any(|s| s == source) {
            format!("`{source}` is a subscription: its KO events are `source: ko:{source}`")
        } else {
            match did_you_mean(source, sources.iter().map(String::as_str)) {
                Some(best) => format!("did you mean `{best}`?"),
                None => format!("define `{source}` under `sources:`, or name one of its sources"),
            }
        };
        self.error(
            Diagnostic::error(
                "M032",
                format!(
                    "subscription `{subscription}` takes source `{source}`, which is not defined"
                ),
                span,
            )
            .text("not a source of `sources:`")
            .hint(hint),
        );
    }

    /// M033: subscriptions taking each other's KO events in a cycle (each cycle once).
    fn ko_cycles(&mut self, places: &EventPlaces) {
        let subs = &places.subscriptions;
        let index: IndexMap<&str, usize> = subs
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), i))
            .collect();
        // An edge a → b with its place: `b` takes `ko:a`.
        let mut edges: Vec<Vec<(usize, Span)>> = vec![Vec::new(); subs.len()];
        for (b, sub) in subs.iter().enumerate() {
            for (source, span) in &sub.sources {
                if let Some(&a) = source
                    .strip_prefix(KO_SOURCE_PREFIX)
                    .and_then(|of| index.get(of))
                {
                    if a != b {
                        edges[a].push((b, *span));
                    }
                }
            }
        }
        for component in strongly_connected(&edges) {
            if component.len() < 2 {
                continue;
            }
            let start = *component.iter().min().unwrap_or(&0);
            let Some(cycle) = cycle_through(&edges, &component, start) else {
                continue;
            };
            // cycle: start → … → start as (node, span of the edge into it).
            let names: Vec<&str> = std::iter::once(subs[start].name.as_str())
                .chain(cycle.iter().map(|(n, _)| subs[*n].name.as_str()))
                .collect();
            let (_, first_span) = cycle[cycle.len() - 1];
            let mut diagnostic = Diagnostic::error(
                "M033",
                format!(
                    "subscriptions {} take each other's KO events in a cycle",
                    names[..names.len() - 1]
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                first_span,
            )
            .text(format!(
                "{}: a KO would go round for ever",
                names.join(" → ")
            ));
            for (node, span) in &cycle[..cycle.len() - 1] {
                diagnostic = diagnostic.label(
                    *span,
                    format!("`{}` takes the KOs of the one before", subs[*node].name),
                );
            }
            self.error(diagnostic.hint("break the cycle: let one of them handle its KOs with `ko: { function: … }` instead of taking `ko:` events"));
        }
    }
}

/// The strongly connected components of a graph (Kosaraju, iteratively: no recursion on
/// hostile input).
fn strongly_connected(edges: &[Vec<(usize, Span)>]) -> Vec<Vec<usize>> {
    let n = edges.len();
    let mut order = Vec::with_capacity(n);
    let mut seen = vec![false; n];
    for root in 0..n {
        if seen[root] {
            continue;
        }
        seen[root] = true;
        let mut stack = vec![(root, 0)];
        while let Some((node, next)) = stack.pop() {
            if let Some(&(to, _)) = edges[node].get(next) {
                stack.push((node, next + 1));
                if !seen[to] {
                    seen[to] = true;
                    stack.push((to, 0));
                }
            } else {
                order.push(node);
            }
        }
    }
    let mut reverse = vec![Vec::new(); n];
    for (from, tos) in edges.iter().enumerate() {
        for (to, _) in tos {
            reverse[*to].push(from);
        }
    }
    let mut component_of = vec![usize::MAX; n];
    let mut components = Vec::new();
    for &root in order.iter().rev() {
        if component_of[root] != usize::MAX {
            continue;
        }
        let id = components.len();
        let mut members = vec![root];
        component_of[root] = id;
        let mut stack = vec![root];
        while let Some(node) = stack.pop() {
            for &from in &reverse[node] {
                if component_of[from] == usize::MAX {
                    component_of[from] = id;
                    members.push(from);
                    stack.push(from);
                }
            }
        }
        components.push(members);
    }
    components.sort_by_key(|c| c.iter().min().copied());
    components
}

/// A shortest cycle from `start` back to it within `component`: the nodes after `start`,
/// each with the span of the edge into it (the last is `start`).
fn cycle_through(
    edges: &[Vec<(usize, Span)>],
    component: &[usize],
    start: usize,
) -> Option<Vec<(usize, Span)>> {
    let mut previous: IndexMap<usize, (usize, Span)> = IndexMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for &(to, span) in &edges[node] {
            if !component.contains(&to) {
                continue;
            }
            if to == start {
                let mut path = vec![(start, span)];
                let mut at = node;
                while at != start {
                    let (before, into) = previous[&at];
                    path.push((at, into));
                    at = before;
                }
                path.reverse();
                return Some(path);
            }
            if let indexmap::map::Entry::Vacant(slot) = previous.entry(to) {
                slot.insert((node, span));
                queue.push_back(to);
            }
        }
    }
    None
}

/// The JSON value of a loose YAML node, or why it has none.
pub(super) fn json(node: &Node) -> Result<(), String> {
    match node {
        Node::Float(f) if !f.is_finite() => Err(format!("{f} is not a JSON number")),
        Node::Seq(items) => items.iter().try_for_each(json),
        Node::Map(pairs) => {
            for (k, v) in pairs {
                if k.scalar_text().is_none() {
                    return Err(format!("a key is {}", k.describe()));
                }
                json(v)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

pub(super) fn json_value(node: &Node) -> Option<serde_json::Value> {
    use serde_json::Value;
    Some(match node {
        Node::Null => Value::Null,
        Node::Bool(b) => Value::Bool(*b),
        Node::Int(i) => match (i64::try_from(*i), u64::try_from(*i)) {
            (Ok(n), _) => Value::from(n),
            (_, Ok(n)) => Value::from(n),
            _ => Value::from(*i as f64),
        },
        Node::Float(f) => Value::from(serde_json::Number::from_f64(*f)?),
        Node::Str(s) => Value::String(s.clone()),
        Node::Seq(items) => Value::Array(items.iter().map(json_value).collect::<Option<_>>()?),
        Node::Map(pairs) => Value::Object(
            pairs
                .iter()
                .map(|(k, v)| Some((k.scalar_text()?, json_value(v)?)))
                .collect::<Option<_>>()?,
        ),
    })
}
