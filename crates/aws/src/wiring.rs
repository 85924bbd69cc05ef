//! The desired state of a project's sources and subscriptions on AWS (docs/events.md, "On
//! AWS"): per subscription (and the implicit `S:ko` running a KO handler) a FIFO queue with
//! its dead-letter queue, a state table, a subscriber function with its own role and the
//! mapping from the queue to it; per webhook an ingest function with a public URL; per
//! `amqp` source on an Amazon MQ broker an ingest function mapped from the broker's queue;
//! per `poll` or `postgres` source a poller function invoked by a schedule, keeping its
//! cursor in the project's cursor table; per schedule and subscription taking it a schedule
//! sending to the queue. `nats` has no AWS-managed consumer and is refused. Pure:
//! `model::desired` calls it with the build record and the manifest.

use crate::model::{
    trust_policy, Account, AsyncInvoke, DesiredError, FunctionSpec, MappingSpec, QueueSpec,
    RoleSpec, ScheduleGroupSpec, ScheduleSpec, SourceAccess, TableSpec, Tags, UrlSpec, TAG_PROJECT,
    TAG_SOURCE, TAG_SUBSCRIPTION, TAG_UNIT,
};
use crate::names::{self, NameKind};
use crate::record::{BuildRecord, UnitRecord};
use flowctl_lang::manifest::events::{
    ko_handler_subscription, ko_source, Amqp, KoAction, Locator, Source, SourceKind, Subscription,
    Target, DEFAULT_POLL_EVERY,
};
use flowctl_lang::manifest::{names as lang_names, Manifest};
use flowctl_protocol::poll::DEFAULT_CURSOR_COLUMN;
use flowctl_protocol::subscriber::{
    message_group_id, table, IngestConfig, IngestKind, PollerConfig, PollerKind, RetryPolicy,
    Route, SubscriberConfig, TargetRef, INGEST_ENV, POLLER_ENV, SUBSCRIBER_ENV,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Records a subscriber's event source mapping takes at once (SQS FIFO's most).
pub const BATCH_SIZE: i32 = 10;
/// The mapping's response type: the subscriber reports which records failed.
pub const REPORT_FAILURES: &str = "ReportBatchItemFailures";
/// A message goes to the dead-letter queue after this many receives. Attempts are counted
/// in the state table, not by SQS: the DLQ only catches what the subscriber cannot handle
/// at all (a crash loop).
pub const MAX_RECEIVE_COUNT: u32 = 1000;
/// The queue's visibility timeout is this many times the subscriber's timeout (AWS's advice
/// for event source mappings).
pub const VISIBILITY_FACTOR: i32 = 6;
/// SQS's longest retention (14 days): what the queues keep.
pub const RETENTION_SECONDS: u32 = 1_209_600;
/// A Lambda function's longest timeout: a subscriber of a standard flow waits this long.
pub const MAX_FUNCTION_TIMEOUT: i32 = 900;
/// The key of every event of a source that names none (one order for the whole source), as
/// `flowctl dev` reads it.
pub const SOURCE_WIDE_KEY: &str = "";
/// The public URL's auth type: none, the ingest checks the webhook's signature itself.
pub const URL_AUTH: &str = "NONE";
/// How often a poller is invoked: EventBridge Scheduler's shortest rate. Each invocation
/// polls every `every_seconds` until its time is nearly up.
pub const POLL_RATE: &str = "rate(1 minute)";
/// A poller's timeout: the schedule's period. An invocation then polls for about a minute
/// and ends as the next one fires, so the source is polled without a gap; a longer one
/// would only get the next scheduled invocations throttled (one at a time), a shorter one
/// leave the source unpolled for the rest of each minute.
pub const POLLER_TIMEOUT: i32 = 60;
/// A poller's reserved concurrency: two pollers of a source never run at once (the cursor's
/// conditional write would stop one, after both sent the same events).
pub const POLLER_CONCURRENCY: i32 = 1;
/// A poller's asynchronous invocations (the schedule's): one throttled because the previous
/// still runs is neither retried nor kept longer than a minute, so they do not pile up —
/// the next minute's invocation polls anyway.
pub const POLLER_ASYNC_INVOKE: AsyncInvoke = AsyncInvoke {
    max_retry_attempts: 0,
    max_event_age_seconds: 60,
};

/// What the wiring adds to the desired state.
#[derive(Debug, Default)]
pub struct Wiring {
    pub roles: Vec<RoleSpec>,
    pub functions: Vec<FunctionSpec>,
    pub queues: Vec<QueueSpec>,
    pub tables: Vec<TableSpec>,
    pub mappings: Vec<MappingSpec>,
    pub urls: Vec<UrlSpec>,
    pub schedule_group: Option<ScheduleGroupSpec>,
    pub schedules: Vec<ScheduleSpec>,
}

/// One subscription as deployed: a manifest subscription, or the implicit `S:ko` that runs
/// S's KO handler on `ko:S`.
struct Wired<'m> {
    name: String,
    sources: Vec<String>,
    types: Vec<String>,
    key: Option<String>,
    target: &'m Target,
    retry: RetryPolicy,
    park: bool,
    state: bool,
}

fn wired(manifest: &Manifest) -> Vec<Wired<'_>> {
    let mut out = Vec::new();
    for (name, sub) in &manifest.subscriptions {
        let retry = retry_policy(sub);
        out.push(Wired {
            name: name.clone(),
            sources: sub.sources().to_vec(),
            types: sub.types.clone(),
            key: sub.key.clone(),
            target: &sub.target,
            retry,
            park: sub.on_ko() == KoAction::Park,
            state: sub.state,
        });
        // As flowctl-events' routes: the handler runs as its own subscription on `ko:S`,
        // with S's retries, skipping on its own KO, without state.
        if let Some(handler) = sub.ko.as_ref().and_then(|k| k.handler.as_ref()) {
            out.push(Wired {
                name: ko_handler_subscription(name),
                sources: vec![ko_source(name)],
                types: Vec::new(),
                key: None,
                target: handler,
                retry,
                park: false,
                state: false,
            });
        }
    }
    out
}

fn retry_policy(sub: &Subscription) -> RetryPolicy {
    sub.retry
        .as_ref()
        .map_or(RetryPolicy::NONE, |r| RetryPolicy {
            max: r.max,
            interval: r.interval,
            backoff: r.backoff,
        })
}

fn tags(project: &str, extra: &[(&str, &str)]) -> Tags {
    let mut tags: Tags = [(TAG_PROJECT.to_string(), project.to_string())]
        .into_iter()
        .collect();
    for (k, v) in extra {
        tags.insert(k.to_string(), v.to_string());
    }
    tags
}

fn check(kind: NameKind, name: &str, what: impl FnOnce() -> String) -> Result<(), DesiredError> {
    names::check(kind, name).map_err(|max| DesiredError::NameTooLong {
        kind,
        name: name.to_string(),
        what: what(),
        max,
    })
}

/// The unit whose members include the manifest function `function`.
fn unit_of<'r>(record: &'r BuildRecord, function: &str) -> Option<&'r UnitRecord> {
    record
        .units
        .iter()
        .find(|u| u.functions.iter().any(|f| f == function))
}

/// How a subscriber deployed from unit `host` calls the manifest function `function`:
/// in-process when `host` serves it, else through `lambda:Invoke` of the unit that does
/// (in an envelope when that unit serves several functions).
pub fn function_target(
    account: &Account,
    project: &str,
    record: &BuildRecord,
    host: &UnitRecord,
    function: &str,
) -> Option<TargetRef> {
    if host.functions.iter().any(|f| f == function) {
        return Some(TargetRef::InProcess {
            function: function.to_string(),
        });
    }
    let unit = unit_of(record, function)?;
    Some(TargetRef::Lambda {
        arn: account.lambda_arn(&lang_names::unit_lambda_name(project, &unit.name)),
        function: function.to_string(),
        envelope: unit.functions.len() > 1,
    })
}

/// The unit of a flow's first call (the first `${unit:…}` of its document), else the first
/// unit: the package a flow's subscriber is deployed from (any unit's binary can carry the
/// subscriber; this one is deterministic).
fn unit_of_flow<'r>(
    record: &'r BuildRecord,
    dir: &std::path::Path,
    flow: &str,
) -> Option<&'r UnitRecord> {
    let first_call = record
        .flows
        .iter()
        .find(|f| f.name == flow)
        .and_then(|f| std::fs::read_to_string(BuildRecord::resolve(dir, &f.asl)).ok())
        .and_then(|text| {
            let start = text.find("${unit:")? + "${unit:".len();
            let end = text[start..].find('}')? + start;
            Some(text[start..end].to_string())
        });
    first_call
        .and_then(|unit| record.unit(&unit))
        .filter(|unit| carries_events(unit))
        .or_else(|| first_carrier(record))
}

/// Whether a unit's code can carry a subscriber, a poller or an ingest: only a cargo unit's
/// binary links flowctl-shim's (a managed runtime's source does not).
fn carries_events(unit: &UnitRecord) -> bool {
    unit.package.is_some()
}

/// The first unit that can carry the events code.
fn first_carrier(record: &BuildRecord) -> Option<&UnitRecord> {
    record.units.iter().find(|u| carries_events(u))
}

/// The least-privilege role of a function flowctl wires: write its own logs, and `extra`.
fn role(
    account: &Account,
    name: &str,
    service: &str,
    statements: Vec<Value>,
    tags: Tags,
) -> RoleSpec {
    let mut all = Vec::new();
    if service == "lambda.amazonaws.com" {
        all.push(json!({
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*"
        }));
    }
    all.extend(statements);
    RoleSpec {
        name: name.to_string(),
        arn: account.role_arn(name),
        trust: trust_policy(service),
        policy: json!({ "Version": "2012-10-17", "Statement": all }),
        tags,
    }
}

fn sorted(mut arns: Vec<String>) -> Vec<String> {
    arns.sort();
    arns.dedup();
    arns
}

/// A queue's attributes as flowctl sets them (`redrive`: the dead-letter queue's ARN, for a
/// subscription's own queue).
pub fn queue_attributes(visibility: i32, redrive: Option<&str>) -> BTreeMap<String, String> {
    let mut attributes: BTreeMap<String, String> = [
        ("FifoQueue", "true".to_string()),
        // EventBridge Scheduler sends without a deduplication id; flowctl's own sends set one.
        ("ContentBasedDeduplication", "true".to_string()),
        ("MessageRetentionPeriod", RETENTION_SECONDS.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if let Some(dlq) = redrive {
        attributes.insert("VisibilityTimeout".into(), visibility.to_string());
        attributes.insert(
            "RedrivePolicy".into(),
            json!({ "deadLetterTargetArn": dlq, "maxReceiveCount": MAX_RECEIVE_COUNT }).to_string(),
        );
    }
    attributes
}

/// The sources and subscriptions of `manifest` wired for `project`. `role_override` is the
/// manifest's `deploy.role`: every function (and schedule) then runs with it and no role is
/// created.
pub fn wire(
    record: &BuildRecord,
    dir: &std::path::Path,
    manifest: &Manifest,
    account: &Account,
    role_override: Option<&str>,
) -> Result<Wiring, DesiredError> {
    let project = record.project.as_str();
    let mut out = Wiring::default();
    for (name, source) in &manifest.sources {
        if let Some(reason) = not_deployable(&source.kind) {
            return Err(DesiredError::NotDeployable {
                source_name: name.clone(),
                kind: source.kind.name(),
                reason,
            });
        }
    }
    let subs = wired(manifest);
    if subs.is_empty() {
        return Ok(out);
    }
    let role_arn = |name: &str| {
        role_override
            .map(str::to_string)
            .unwrap_or_else(|| account.role_arn(name))
    };
    let queue_url = |sub: &str| account.queue_url(&names::queue(project, sub));
    let queue_arn = |sub: &str| account.queue_arn(&names::queue(project, sub));
    let route = |sub: &Wired| Route {
        subscription: sub.name.clone(),
        queue_url: queue_url(&sub.name),
        types: sub.types.clone(),
        key: sub.key.clone(),
    };
    let routes_of = |source: &str| -> Vec<&Wired> {
        subs.iter()
            .filter(|s| s.sources.iter().any(|x| x == source))
            .collect()
    };

    for sub in &subs {
        let what = || format!("subscription `{}`", sub.name);
        let queue = names::queue(project, &sub.name);
        let dlq = names::dead_letter_queue(project, &sub.name);
        let table = names::table(project, &sub.name);
        let function = names::subscriber(project, &sub.name);
        check(NameKind::Queue, &queue, what)?;
        check(NameKind::Queue, &dlq, what)?;
        check(NameKind::Table, &table, what)?;
        check(NameKind::Function, &function, what)?;
        check(NameKind::Role, &function, what)?;

        let unknown = |problem| DesiredError::UnknownTarget {
            subscription: sub.name.clone(),
            target: sub.target.to_string(),
            problem,
        };
        let mut statements = Vec::new();
        let (host, target, timeout) = match sub.target {
            Target::Function(f) => {
                let unit =
                    unit_of(record, f).ok_or_else(|| unknown("no unit of build.json serves"))?;
                // The subscriber is deployed from the function's own unit, which calls it
                // in-process; a managed runtime's function is called through Lambda by a
                // cargo unit's binary.
                let host = match carries_events(unit) {
                    true => unit,
                    false => first_carrier(record).ok_or_else(|| {
                        unknown("runs in a managed runtime, and a subscriber needs a cargo unit to carry it (build.json has none)")
                    })?,
                };
                (
                    host,
                    function_target(account, project, record, host, f)
                        .ok_or_else(|| unknown("no unit of build.json serves"))?,
                    (unit.timeout as i32).saturating_mul(BATCH_SIZE),
                )
            }
            Target::Flow(flow) => {
                let record_flow = record
                    .flows
                    .iter()
                    .find(|x| &x.name == flow)
                    .ok_or_else(|| unknown("build.json does not have"))?;
                let unit = unit_of_flow(record, dir, flow).ok_or_else(|| {
                    unknown("needs a unit to carry its subscriber, and build.json has none")
                })?;
                let machine = lang_names::state_machine_name(project, flow);
                let arn = account.state_machine_arn(&machine);
                let target = if record_flow.kind == "express" {
                    statements.push(json!({
                        "Effect": "Allow", "Action": "states:StartSyncExecution", "Resource": [arn]
                    }));
                    TargetRef::Express { arn }
                } else {
                    statements.push(json!({
                        "Effect": "Allow", "Action": "states:StartExecution", "Resource": [arn]
                    }));
                    statements.push(json!({
                        "Effect": "Allow", "Action": "states:DescribeExecution",
                        "Resource": [account.executions_arn(&machine)]
                    }));
                    TargetRef::Standard { arn }
                };
                (unit, target, MAX_FUNCTION_TIMEOUT)
            }
        };
        let timeout = timeout.clamp(1, MAX_FUNCTION_TIMEOUT);
        let ko_routes: Vec<Route> = routes_of(&ko_source(&sub.name))
            .into_iter()
            .map(route)
            .collect();
        let config = SubscriberConfig {
            subscription: sub.name.clone(),
            queue_url: queue_url(&sub.name),
            table: table.clone(),
            target,
            state: sub.state,
            retry: sub.retry,
            park: sub.park,
            ko_routes: ko_routes.clone(),
        };
        let sub_tags = tags(project, &[(TAG_SUBSCRIPTION, &sub.name)]);

        let dlq_arn = account.queue_arn(&dlq);
        let visibility = timeout * VISIBILITY_FACTOR;
        out.queues.push(QueueSpec {
            url: account.queue_url(&dlq),
            arn: dlq_arn.clone(),
            name: dlq,
            attributes: queue_attributes(visibility, None),
            tags: sub_tags.clone(),
        });
        out.queues.push(QueueSpec {
            url: queue_url(&sub.name),
            arn: queue_arn(&sub.name),
            name: queue,
            attributes: queue_attributes(visibility, Some(&dlq_arn)),
            tags: sub_tags.clone(),
        });
        let table_arn = account.table_arn(&table);
        out.tables.push(TableSpec {
            name: table,
            arn: table_arn.clone(),
            ttl: Some(table::EXPIRES.to_string()),
            tags: sub_tags.clone(),
        });

        let own_queue = queue_arn(&sub.name);
        let mut send_to = vec![own_queue.clone()];
        send_to.extend(ko_routes.iter().map(|r| queue_arn(&r.subscription)));
        let mut policy = vec![
            json!({
                "Effect": "Allow",
                "Action": ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage",
                           "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
                "Resource": [own_queue]
            }),
            json!({ "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": sorted(send_to) }),
            json!({
                "Effect": "Allow",
                "Action": ["dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem",
                           "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"],
                "Resource": [table_arn]
            }),
        ];
        if let TargetRef::Lambda { arn, .. } = &config.target {
            policy.push(
                json!({ "Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": [arn] }),
            );
        }
        policy.extend(statements);
        if role_override.is_none() {
            out.roles.push(role(
                account,
                &function,
                "lambda.amazonaws.com",
                policy,
                sub_tags.clone(),
            ));
        }

        let mut env: BTreeMap<String, String> = host
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        env.insert(
            SUBSCRIBER_ENV.to_string(),
            serde_json::to_string(&config).unwrap_or_default(),
        );
        let mut function_tags = sub_tags.clone();
        function_tags.insert(TAG_UNIT.into(), host.name.clone());
        out.functions.push(FunctionSpec {
            arn: account.lambda_arn(&function),
            name: function.clone(),
            unit: host.name.clone(),
            zip: BuildRecord::resolve(dir, &host.zip),
            code_sha256: host.code_sha256.clone(),
            runtime: host.runtime.clone(),
            handler: host.handler.clone(),
            architecture: record.architecture.clone(),
            memory: host.memory as i32,
            timeout,
            env,
            keep_env: Vec::new(),
            role_arn: role_arn(&function),
            tags: function_tags,
            reserved_concurrency: None,
            async_invoke: None,
        });
        out.mappings.push(MappingSpec {
            function,
            source_arn: queue_arn(&sub.name),
            queues: Vec::new(),
            source_access: Vec::new(),
            batch_size: BATCH_SIZE,
            response_types: vec![REPORT_FAILURES.to_string()],
        });
    }

    let mut scheduled_queues = Vec::new();
    let mut pollers = Vec::new();
    let context = Context {
        record,
        dir,
        account,
        project,
        role_override,
    };
    for (name, source) in &manifest.sources {
        let takers = routes_of(name);
        let routes: Vec<Route> = takers.iter().map(|s| route(s)).collect();
        match &source.kind {
            SourceKind::Webhook(hook) => {
                ingest(
                    &context,
                    name,
                    source,
                    IngestFrom::Webhook(hook),
                    routes,
                    &mut out,
                )?;
            }
            // A source nobody takes is not consumed: a poller or a mapping with no route
            // would move past events no subscription gets (the cursor stays where it is, so
            // a subscription added later starts from there).
            SourceKind::Amqp(_) | SourceKind::Poll(_) | SourceKind::Postgres(_)
                if routes.is_empty() => {}
            SourceKind::Amqp(amqp) => {
                let (Some(broker), Some(secret)) = amqp_broker(amqp) else {
                    // Refused above.
                    continue;
                };
                let from = IngestFrom::AmazonMq {
                    broker,
                    secret,
                    queue: &amqp.queue,
                };
                ingest(&context, name, source, from, routes, &mut out)?;
            }
            SourceKind::Poll(poll) => {
                let polled = Polled::Poll(poll);
                pollers.push(poller(&context, name, source, polled, routes, &mut out)?);
            }
            SourceKind::Postgres(pg) => {
                let polled = Polled::Postgres(pg);
                pollers.push(poller(&context, name, source, polled, routes, &mut out)?);
            }
            SourceKind::Schedule(schedule) => {
                for sub in takers {
                    let schedule_name = names::schedule(project, name, &sub.name);
                    check(NameKind::Schedule, &schedule_name, || {
                        format!("source `{name}` for subscription `{}`", sub.name)
                    })?;
                    let payload = schedule.payload.clone().unwrap_or_else(|| json!({}));
                    let data = json!({
                        "scheduled_time": "<aws.scheduler.scheduled-time>",
                        "payload": payload,
                    });
                    let event_type = match source.event_type.as_deref().map(Locator::parse) {
                        None => name.clone(),
                        Some(Ok(Locator::Payload(steps))) => {
                            scalar(Locator::get(&steps, &data)).unwrap_or_else(|| name.clone())
                        }
                        Some(_) => source.event_type.clone().unwrap_or_default(),
                    };
                    let key = read_key(source.key.as_deref(), &data)
                        .unwrap_or_else(|| SOURCE_WIDE_KEY.to_string());
                    // The subscription's own key, if it names one, orders by the payload.
                    let key = read_key(sub.key.as_deref(), &data).unwrap_or(key);
                    let event = json!({
                        "source": name,
                        "type": event_type,
                        "id": "<aws.scheduler.execution-id>",
                        "key": key,
                        "accepted_at": "<aws.scheduler.scheduled-time>",
                        "data": data,
                    });
                    scheduled_queues.push(queue_arn(&sub.name));
                    out.schedules.push(ScheduleSpec {
                        name: schedule_name,
                        group: names::schedule_group(project),
                        expression: schedule.expression.trim().to_string(),
                        target_arn: queue_arn(&sub.name),
                        role_arn: role_arn(&names::scheduler_role(project)),
                        input: event.to_string(),
                        message_group_id: Some(message_group_id(&key)),
                    });
                }
            }
            SourceKind::Nats(_) => {}
        }
    }
    if !pollers.is_empty() {
        let table = names::cursor_table(project);
        check(NameKind::Table, &table, || {
            "the project's cursor table".into()
        })?;
        out.tables.push(TableSpec {
            arn: account.table_arn(&table),
            name: table,
            ttl: None,
            tags: tags(project, &[]),
        });
    }
    if !out.schedules.is_empty() {
        let group = names::schedule_group(project);
        check(NameKind::Schedule, &group, || {
            "the project's schedule group".into()
        })?;
        out.schedule_group = Some(ScheduleGroupSpec {
            arn: account.schedule_group_arn(&group),
            name: group,
            tags: tags(project, &[]),
        });
        let scheduler = names::scheduler_role(project);
        check(NameKind::Role, &scheduler, || "the scheduler's role".into())?;
        if role_override.is_none() {
            let mut statements = Vec::new();
            if !scheduled_queues.is_empty() {
                statements.push(json!({
                    "Effect": "Allow", "Action": "sqs:SendMessage",
                    "Resource": sorted(scheduled_queues)
                }));
            }
            if !pollers.is_empty() {
                statements.push(json!({
                    "Effect": "Allow", "Action": "lambda:InvokeFunction",
                    "Resource": sorted(pollers)
                }));
            }
            out.roles.push(role(
                account,
                &scheduler,
                "scheduler.amazonaws.com",
                statements,
                tags(project, &[]),
            ));
        }
    }
    Ok(out)
}

fn scalar(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn read_key(locator: Option<&str>, data: &Value) -> Option<String> {
    match Locator::parse(locator?) {
        Ok(Locator::Payload(steps)) => scalar(Locator::get(&steps, data)),
        _ => None,
    }
}

/// Why a source cannot be deployed to AWS, and what the user can do; `None` when it can.
pub fn not_deployable(kind: &SourceKind) -> Option<String> {
    match kind {
        SourceKind::Amqp(amqp) => match amqp_broker(amqp) {
            (Some(_), Some(_)) => None,
            (broker, _) => Some(format!(
                "on AWS an amqp source is consumed from an Amazon MQ for RabbitMQ broker by Lambda's event source mapping, and {}; add to it `broker_arn` (the broker's ARN) and `secret_arn` (a Secrets Manager secret holding the broker's `username` and `password`), or run it with `flowctl dev`",
                if broker.is_some() {
                    "it names the broker but not `secret_arn`"
                } else {
                    "it names no broker"
                }
            )),
        },
        SourceKind::Nats(_) => Some(
            "AWS has no managed event source for NATS (Lambda cannot consume a JetStream stream); run it with `flowctl dev`, or have a consumer of your own forward the stream to a webhook source (its ingest URL) or to an Amazon MQ broker (an amqp source with `broker_arn`), and deploy that instead".into(),
        ),
        SourceKind::Webhook(_)
        | SourceKind::Schedule(_)
        | SourceKind::Poll(_)
        | SourceKind::Postgres(_) => None,
    }
}

/// The Amazon MQ broker an `amqp` source is consumed from on AWS and the secret holding its
/// credentials (the manifest's `broker_arn` and `secret_arn`): the one place that reads them.
fn amqp_broker(amqp: &Amqp) -> (Option<&str>, Option<&str>) {
    (amqp.broker_arn.as_deref(), amqp.secret_arn.as_deref())
}

/// What every source's function is wired from.
struct Context<'a> {
    record: &'a BuildRecord,
    dir: &'a std::path::Path,
    account: &'a Account,
    project: &'a str,
    role_override: Option<&'a str>,
}

impl Context<'_> {
    /// A source's function `name`, deployed from `host` with `config` in variable
    /// `config_env`, and its least-privilege role (logs and `statements`).
    #[allow(clippy::too_many_arguments)]
    fn source_function(
        &self,
        source: &str,
        name: &str,
        host: &UnitRecord,
        (config_env, config): (&str, String),
        timeout: i32,
        keep_env: Vec<String>,
        statements: Vec<Value>,
        out: &mut Wiring,
    ) -> FunctionSpec {
        let source_tags = tags(self.project, &[(TAG_SOURCE, source)]);
        if self.role_override.is_none() {
            out.roles.push(role(
                self.account,
                name,
                "lambda.amazonaws.com",
                statements,
                source_tags.clone(),
            ));
        }
        let mut env: BTreeMap<String, String> = host
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        env.insert(config_env.to_string(), config);
        let mut function_tags = source_tags;
        function_tags.insert(TAG_UNIT.into(), host.name.clone());
        FunctionSpec {
            arn: self.account.lambda_arn(name),
            name: name.to_string(),
            unit: host.name.clone(),
            zip: BuildRecord::resolve(self.dir, &host.zip),
            code_sha256: host.code_sha256.clone(),
            runtime: host.runtime.clone(),
            handler: host.handler.clone(),
            architecture: self.record.architecture.clone(),
            memory: host.memory as i32,
            timeout,
            env,
            keep_env,
            role_arn: self
                .role_override
                .map(str::to_string)
                .unwrap_or_else(|| self.account.role_arn(name)),
            tags: function_tags,
            reserved_concurrency: None,
            async_invoke: None,
        }
    }

    /// `sqs:SendMessage` on exactly the queues of `routes` (none without routes).
    fn send_to(&self, routes: &[Route]) -> Vec<Value> {
        let queues = sorted(
            routes
                .iter()
                .map(|r| {
                    self.account
                        .queue_arn(&names::queue(self.project, &r.subscription))
                })
                .collect(),
        );
        if queues.is_empty() {
            Vec::new()
        } else {
            vec![json!({ "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queues })]
        }
    }

    /// The first unit, which carries a source's function when no unit is more fitting (any
    /// unit's binary can).
    fn first_unit(&self, source: &str, what: &str) -> Result<&UnitRecord, DesiredError> {
        first_carrier(self.record).ok_or_else(|| DesiredError::UnknownTarget {
            subscription: source.to_string(),
            target: format!("source `{source}`"),
            problem: if what == "poller" {
                "needs a unit to carry its poller, and build.json has none"
            } else {
                "needs a unit to carry its ingest, and build.json has none"
            },
        })
    }
}

/// Where an ingest function's events come from.
enum IngestFrom<'a> {
    /// A function URL's requests.
    Webhook(&'a flowctl_lang::manifest::events::Webhook),
    /// An Amazon MQ for RabbitMQ broker's queue, through an event source mapping.
    AmazonMq {
        broker: &'a str,
        secret: &'a str,
        queue: &'a str,
    },
}

/// The IAM actions Lambda's Amazon MQ event source mapping needs in the function's
/// execution role besides `mq:DescribeBroker` and `secretsmanager:GetSecretValue`: the
/// network interfaces it creates in the broker's VPC (AWS Lambda Developer Guide, "Process
/// Amazon MQ messages with Lambda", execution role permissions,
/// https://docs.aws.amazon.com/lambda/latest/dg/with-mq.html#events-mq-permissions; the SAM
/// MQ event's documentation lists the same six). EC2's Describe actions take no resource,
/// and the interfaces do not exist before Lambda creates them: `*`.
pub const MQ_NETWORK_ACTIONS: [&str; 6] = [
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
];

/// How Lambda authenticates to an Amazon MQ broker: the secret's user name and password.
pub const MQ_BASIC_AUTH: &str = "BASIC_AUTH";

/// A webhook's or an Amazon MQ queue's ingest function `P-in-SRC` with its role, and its
/// public URL (webhook) or its mapping from the broker (Amazon MQ).
fn ingest(
    context: &Context,
    name: &str,
    source: &Source,
    from: IngestFrom,
    routes: Vec<Route>,
    out: &mut Wiring,
) -> Result<(), DesiredError> {
    let function = names::ingest(context.project, name);
    let what = || format!("source `{name}`");
    check(NameKind::Function, &function, what)?;
    check(NameKind::Role, &function, what)?;
    // Any unit's binary carries the ingest: the first one's.
    let host = context.first_unit(name, "ingest")?;
    let (secret_env, signature_header) = match &from {
        IngestFrom::Webhook(hook) => (hook.secret_env.clone(), hook.signature_header.clone()),
        IngestFrom::AmazonMq { .. } => (None, None),
    };
    let mut statements = context.send_to(&routes);
    let config = IngestConfig {
        source: name.to_string(),
        event_type: source.event_type.clone(),
        id: source.id.clone(),
        key: source.key.clone(),
        secret_env: secret_env.clone(),
        signature_header,
        routes,
        kind: match from {
            IngestFrom::Webhook(_) => IngestKind::Webhook,
            IngestFrom::AmazonMq { .. } => IngestKind::Amqp,
        },
    };
    if let IngestFrom::AmazonMq { broker, secret, .. } = &from {
        statements.push(json!({
            "Effect": "Allow", "Action": "mq:DescribeBroker", "Resource": [broker]
        }));
        statements.push(json!({
            "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": [secret]
        }));
        statements.push(json!({
            "Effect": "Allow", "Action": MQ_NETWORK_ACTIONS, "Resource": "*"
        }));
    }
    let spec = context.source_function(
        name,
        &function,
        host,
        (
            INGEST_ENV,
            serde_json::to_string(&config).unwrap_or_default(),
        ),
        host.timeout as i32,
        // The secret is set on the function by its owner, never by deploy: kept as found.
        secret_env.into_iter().collect(),
        statements,
        out,
    );
    out.functions.push(spec);
    match from {
        IngestFrom::Webhook(_) => out.urls.push(UrlSpec {
            function,
            auth: URL_AUTH.to_string(),
        }),
        IngestFrom::AmazonMq {
            broker,
            secret,
            queue,
        } => out.mappings.push(MappingSpec {
            function,
            source_arn: broker.to_string(),
            queues: vec![queue.to_string()],
            source_access: vec![SourceAccess {
                kind: MQ_BASIC_AUTH.to_string(),
                uri: secret.to_string(),
            }],
            batch_size: BATCH_SIZE,
            // Lambda reports partial failures for SQS and streams only: a failed MQ batch
            // is redelivered whole, and the ingest fails it only when a queue refused.
            response_types: Vec::new(),
        }),
    }
    Ok(())
}

/// What a poller reads.
enum Polled<'a> {
    Poll(&'a flowctl_lang::manifest::events::Poll),
    Postgres(&'a flowctl_lang::manifest::events::Postgres),
}

/// A polled source's (`poll`, `postgres`) poller `P-poll-SRC`: the function (one invocation
/// at a time, asynchronous invocations neither retried nor kept waiting), its role and the
/// schedule invoking it. Answers the function's ARN (the scheduler's role may invoke it).
fn poller(
    context: &Context,
    name: &str,
    source: &Source,
    polled: Polled,
    routes: Vec<Route>,
    out: &mut Wiring,
) -> Result<String, DesiredError> {
    let (project, account) = (context.project, context.account);
    let function = names::poller(project, name);
    let what = || format!("source `{name}`");
    check(NameKind::Function, &function, what)?;
    check(NameKind::Role, &function, what)?;
    check(NameKind::Schedule, &function, what)?;
    let table = names::cursor_table(project);
    let mut statements = context.send_to(&routes);
    statements.push(json!({
        // What the poller calls on its cursor table (flowctl-subscriber's poller: the
        // cursor read, its conditional write, the rejected items): nothing else.
        "Effect": "Allow",
        "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
        "Resource": [account.table_arn(&table)]
    }));
    let (host, every, kind, keep_env) = match polled {
        Polled::Poll(poll) => {
            // Deployed from the poll function's own unit: called in-process.
            let host = unit_of(context.record, &poll.function).ok_or_else(|| {
                DesiredError::UnknownTarget {
                    subscription: name.to_string(),
                    target: format!("function {}", poll.function),
                    problem: "no unit of build.json serves",
                }
            })?;
            let target = function_target(account, project, context.record, host, &poll.function)
                .ok_or_else(|| DesiredError::UnknownTarget {
                    subscription: name.to_string(),
                    target: format!("function {}", poll.function),
                    problem: "no unit of build.json serves",
                })?;
            if let TargetRef::Lambda { arn, .. } = &target {
                statements.push(json!({
                    "Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": [arn]
                }));
            }
            (host, poll.every, PollerKind::Poll { target }, Vec::new())
        }
        Polled::Postgres(pg) => (
            context.first_unit(name, "poller")?,
            pg.every,
            PollerKind::Postgres {
                url: pg.url.clone(),
                url_env: pg.url_env.clone(),
                table: pg.table.clone(),
                cursor_column: pg
                    .cursor_column
                    .clone()
                    .unwrap_or_else(|| DEFAULT_CURSOR_COLUMN.to_string()),
            },
            // The connection string is set on the poller by its owner: kept as found.
            pg.url_env.iter().cloned().collect(),
        ),
    };
    let config = PollerConfig {
        source: name.to_string(),
        event_type: source.event_type.clone(),
        id: source.id.clone(),
        key: source.key.clone(),
        every_seconds: every.unwrap_or(DEFAULT_POLL_EVERY),
        cursor_table: table,
        routes,
        kind,
    };
    let mut spec = context.source_function(
        name,
        &function,
        host,
        (
            POLLER_ENV,
            serde_json::to_string(&config).unwrap_or_default(),
        ),
        POLLER_TIMEOUT,
        keep_env,
        statements,
        out,
    );
    spec.reserved_concurrency = Some(POLLER_CONCURRENCY);
    spec.async_invoke = Some(POLLER_ASYNC_INVOKE);
    let arn = spec.arn.clone();
    out.functions.push(spec);
    out.schedules.push(ScheduleSpec {
        name: function.clone(),
        group: names::schedule_group(project),
        expression: POLL_RATE.to_string(),
        target_arn: arn.clone(),
        role_arn: context
            .role_override
            .map(str::to_string)
            .unwrap_or_else(|| account.role_arn(&names::scheduler_role(project))),
        input: json!({ "source": name }).to_string(),
        message_group_id: None,
    });
    Ok(arn)
}
