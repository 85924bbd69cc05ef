//! The desired state of a project's sources and subscriptions on AWS (docs/events.md, "On
//! AWS"): per subscription (and the implicit `S:ko` running a KO handler) a FIFO queue with
//! its dead-letter queue, a state table, a subscriber function with its own role and the
//! mapping from the queue to it; per webhook an ingest function with a public URL; per
//! schedule and subscription taking it a schedule sending to the queue. Pure: `model::desired`
//! calls it with the build record and the manifest.

use crate::model::{
    trust_policy, Account, DesiredError, FunctionSpec, MappingSpec, QueueSpec, RoleSpec,
    ScheduleGroupSpec, ScheduleSpec, TableSpec, Tags, UrlSpec, TAG_PROJECT, TAG_SOURCE,
    TAG_SUBSCRIPTION, TAG_UNIT,
};
use crate::names::{self, NameKind};
use crate::record::{BuildRecord, UnitRecord};
use flowctl_lang::manifest::events::{
    ko_handler_subscription, ko_source, KoAction, Locator, Source, SourceKind, Subscription, Target,
};
use flowctl_lang::manifest::{names as lang_names, Manifest};
use flowctl_protocol::subscriber::{
    message_group_id, IngestConfig, RetryPolicy, Route, SubscriberConfig, TargetRef, INGEST_ENV,
    SUBSCRIBER_ENV,
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
        .or_else(|| record.units.first())
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
        if !matches!(
            source.kind,
            SourceKind::Webhook(_) | SourceKind::Schedule(_)
        ) {
            return Err(DesiredError::NotDeployable {
                source_name: name.clone(),
                kind: source.kind.name(),
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
                // The subscriber is deployed from the function's own unit: called in-process.
                (
                    unit,
                    function_target(account, project, record, unit, f)
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
            architecture: record.architecture.clone(),
            memory: host.memory as i32,
            timeout,
            env,
            keep_env: Vec::new(),
            role_arn: role_arn(&function),
            tags: function_tags,
        });
        out.mappings.push(MappingSpec {
            function,
            queue_arn: queue_arn(&sub.name),
            batch_size: BATCH_SIZE,
            response_types: vec![REPORT_FAILURES.to_string()],
        });
    }

    let mut scheduled_queues = Vec::new();
    for (name, source) in &manifest.sources {
        let takers = routes_of(name);
        match &source.kind {
            SourceKind::Webhook(hook) => {
                ingest(
                    record,
                    dir,
                    account,
                    project,
                    role_override,
                    name,
                    source,
                    hook,
                    &takers,
                    &route,
                    &mut out,
                )?;
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
                        message_group_id: message_group_id(&key),
                    });
                }
            }
            _ => {}
        }
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
            out.roles.push(role(
                account,
                &scheduler,
                "scheduler.amazonaws.com",
                vec![json!({
                    "Effect": "Allow", "Action": "sqs:SendMessage",
                    "Resource": sorted(scheduled_queues)
                })],
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

#[allow(clippy::too_many_arguments)]
fn ingest(
    record: &BuildRecord,
    dir: &std::path::Path,
    account: &Account,
    project: &str,
    role_override: Option<&str>,
    name: &str,
    source: &Source,
    hook: &flowctl_lang::manifest::events::Webhook,
    takers: &[&Wired],
    route: &dyn Fn(&Wired) -> Route,
    out: &mut Wiring,
) -> Result<(), DesiredError> {
    let function = names::ingest(project, name);
    let what = || format!("source `{name}`");
    check(NameKind::Function, &function, what)?;
    check(NameKind::Role, &function, what)?;
    // Any unit's binary carries the ingest: the first one's.
    let Some(host) = record.units.first() else {
        return Err(DesiredError::UnknownTarget {
            subscription: name.to_string(),
            target: format!("webhook `{name}`"),
            problem: "needs a unit to carry its ingest, and build.json has none",
        });
    };
    let routes: Vec<Route> = takers.iter().map(|s| route(s)).collect();
    let config = IngestConfig {
        source: name.to_string(),
        event_type: source.event_type.clone(),
        id: source.id.clone(),
        key: source.key.clone(),
        secret_env: hook.secret_env.clone(),
        signature_header: hook.signature_header.clone(),
        routes: routes.clone(),
    };
    let source_tags = tags(project, &[(TAG_SOURCE, name)]);
    if role_override.is_none() {
        let queues = sorted(
            routes
                .iter()
                .map(|r| account.queue_arn(&names::queue(project, &r.subscription)))
                .collect(),
        );
        let statements = if queues.is_empty() {
            Vec::new()
        } else {
            vec![json!({ "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queues })]
        };
        out.roles.push(role(
            account,
            &function,
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
    env.insert(
        INGEST_ENV.to_string(),
        serde_json::to_string(&config).unwrap_or_default(),
    );
    let mut function_tags = source_tags;
    function_tags.insert(TAG_UNIT.into(), host.name.clone());
    out.functions.push(FunctionSpec {
        arn: account.lambda_arn(&function),
        name: function.clone(),
        unit: host.name.clone(),
        zip: BuildRecord::resolve(dir, &host.zip),
        code_sha256: host.code_sha256.clone(),
        architecture: record.architecture.clone(),
        memory: host.memory as i32,
        timeout: host.timeout as i32,
        env,
        // The secret is set on the function by its owner, never by deploy: kept as found.
        keep_env: hook.secret_env.iter().cloned().collect(),
        role_arn: role_override
            .map(str::to_string)
            .unwrap_or_else(|| account.role_arn(&function)),
        tags: function_tags,
    });
    out.urls.push(UrlSpec {
        function,
        auth: URL_AUTH.to_string(),
    });
    Ok(())
}
