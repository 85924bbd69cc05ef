//! The steps of `apply` for the event wiring: queues, tables, event source mappings,
//! function URLs, the schedule group and schedules. Each creates what is missing, brings up
//! to date what an interrupted run left (AlreadyExists → update), and deletes what is there
//! (a resource already gone is not an error).

use crate::apply::{retrying, role_not_ready, PROPAGATION_DEADLINE};
use crate::diff::{Action, Field, Kind, Step};
use crate::model::{Desired, MappingSpec, QueueSpec, ScheduleSpec, TableSpec, Tags, UrlSpec};
use crate::observe_events::{URL_INVOKE_SID, URL_SID};
use crate::{code, deleted, CallError, Clients};
use flowctl_protocol::subscriber::table;
use std::time::{Duration, Instant};

/// SQS refuses to create a queue named like one deleted less than 60 s ago; a prune followed
/// by a deploy that brings the subscription back waits that out, up to this long.
const QUEUE_DELETED_DEADLINE: Duration = Duration::from_secs(90);
/// How long a new table may take to become `ACTIVE`, and a table being changed to allow
/// deletion.
const TABLE_DEADLINE: Duration = Duration::from_secs(300);

/// Runs one step of the event kinds.
pub(crate) async fn run(
    clients: &Clients,
    desired: &Desired,
    step: &Step,
) -> Result<(), CallError> {
    let missing = || {
        CallError::other(
            format!("{} {}", step.kind.as_str(), step.name),
            "plan",
            "not in the desired state",
        )
    };
    let deleting = step.action == Action::Delete;
    match step.kind {
        Kind::Queue if deleting => {
            delete_queue(clients, &desired.account.queue_url(&step.name), &step.name).await
        }
        Kind::Queue => {
            let queue = desired
                .queues
                .iter()
                .find(|q| q.name == step.name)
                .ok_or_else(missing)?;
            put_queue(clients, queue, step.action).await
        }
        Kind::Table if deleting => delete_table(clients, &step.name).await,
        Kind::Table => {
            let wanted = desired
                .tables
                .iter()
                .find(|t| t.name == step.name)
                .ok_or_else(missing)?;
            put_table(clients, wanted, step.action, &step.changes).await
        }
        Kind::EventSourceMapping if deleting => delete_mappings(clients, &step.name).await,
        Kind::EventSourceMapping => {
            let mapping = desired
                .mappings
                .iter()
                .find(|m| m.function == step.name)
                .ok_or_else(missing)?;
            put_mapping(clients, mapping, step.action).await
        }
        Kind::FunctionUrl if deleting => delete_url(clients, &step.name).await,
        Kind::FunctionUrl => {
            let url = desired
                .urls
                .iter()
                .find(|u| u.function == step.name)
                .ok_or_else(missing)?;
            put_url(clients, url, step.action, &step.changes).await
        }
        Kind::ScheduleGroup if deleting => delete_schedule_group(clients, &step.name).await,
        Kind::ScheduleGroup => {
            let group = desired
                .schedule_group
                .as_ref()
                .filter(|g| g.name == step.name)
                .ok_or_else(missing)?;
            put_schedule_group(clients, &group.name, &group.arn, &group.tags).await
        }
        Kind::Schedule if deleting => {
            delete_schedule(
                clients,
                &crate::names::schedule_group(&desired.project),
                &step.name,
            )
            .await
        }
        Kind::Schedule => {
            let schedule = desired
                .schedules
                .iter()
                .find(|s| s.name == step.name)
                .ok_or_else(missing)?;
            put_schedule(clients, schedule, step.action).await
        }
        Kind::Role | Kind::LogGroup | Kind::Function | Kind::StateMachine => Err(CallError::other(
            format!("{} {}", step.kind.as_str(), step.name),
            "plan",
            "not an event resource",
        )),
    }
}

async fn put_queue(clients: &Clients, queue: &QueueSpec, action: Action) -> Result<(), CallError> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let resource = format!("queue {}", queue.name);
    let sqs = &clients.sqs;
    let attributes = |with_fifo: bool| {
        queue
            .attributes
            .iter()
            // FifoQueue is set when the queue is created and never changes.
            .filter(|(k, _)| with_fifo || k.as_str() != "FifoQueue")
            .map(|(k, v)| (QueueAttributeName::from(k.as_str()), v.clone()))
            .collect::<std::collections::HashMap<_, _>>()
    };
    let mut update = action != Action::Create;
    if action == Action::Create {
        let created = retrying(
            QUEUE_DELETED_DEADLINE,
            |e| {
                matches!(
                    e.code.as_deref(),
                    Some("AWS.SimpleQueueService.QueueDeletedRecently" | "QueueDeletedRecently")
                )
            },
            || async {
                sqs.create_queue()
                    .queue_name(&queue.name)
                    .set_attributes(Some(attributes(true)))
                    .set_tags(Some(queue.tags.clone().into_iter().collect()))
                    .send()
                    .await
                    .map_err(|e| CallError::new(resource.clone(), "CreateQueue", &e))
            },
        )
        .await;
        match created {
            Ok(_) => {}
            // There with other attributes (a stopped run, a changed timeout): bring it up to date.
            Err(err)
                if matches!(
                    err.code.as_deref(),
                    Some("QueueAlreadyExists" | "QueueNameExists")
                ) =>
            {
                update = true
            }
            Err(err) => return Err(err),
        }
    }
    if update {
        sqs.set_queue_attributes()
            .queue_url(&queue.url)
            .set_attributes(Some(attributes(false)))
            .send()
            .await
            .map_err(|e| CallError::new(resource.clone(), "SetQueueAttributes", &e))?;
        sqs.tag_queue()
            .queue_url(&queue.url)
            .set_tags(Some(queue.tags.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| CallError::new(resource.clone(), "TagQueue", &e))?;
    }
    Ok(())
}

async fn delete_queue(clients: &Clients, url: &str, name: &str) -> Result<(), CallError> {
    match clients.sqs.delete_queue().queue_url(url).send().await {
        Ok(_) => Ok(()),
        Err(err)
            if matches!(
                code(&err),
                Some("AWS.SimpleQueueService.NonExistentQueue" | "QueueDoesNotExist")
            ) =>
        {
            Ok(())
        }
        Err(err) => Err(CallError::new(format!("queue {name}"), "DeleteQueue", &err)),
    }
}

fn dynamodb_tags(tags: &Tags) -> Vec<aws_sdk_dynamodb::types::Tag> {
    tags.iter()
        .filter_map(|(k, v)| {
            aws_sdk_dynamodb::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .ok()
        })
        .collect()
}

async fn put_table(
    clients: &Clients,
    wanted: &TableSpec,
    action: Action,
    changes: &[Field],
) -> Result<(), CallError> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let resource = format!("table {}", wanted.name);
    let db = &clients.dynamodb;
    let mut changes = changes.to_vec();
    if changes.contains(&Field::KeySchema) {
        return Err(CallError::other(
            resource,
            "UpdateTable",
            format!(
                "the table's key schema is not `{}` (S) and `{}` (S), and it cannot be changed in place; it may hold state, so deploy does not replace it: delete it yourself if its items can go",
                table::KEY,
                table::SORT
            ),
        ));
    }
    if action == Action::Create {
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
        };
        let attribute = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
        };
        let built = (|| {
            Ok::<_, aws_sdk_dynamodb::error::BuildError>(
                db.create_table()
                    .table_name(&wanted.name)
                    .billing_mode(BillingMode::PayPerRequest)
                    .key_schema(key(table::KEY, KeyType::Hash)?)
                    .key_schema(key(table::SORT, KeyType::Range)?)
                    .attribute_definitions(attribute(table::KEY)?)
                    .attribute_definitions(attribute(table::SORT)?)
                    .set_tags(Some(dynamodb_tags(&wanted.tags))),
            )
        })()
        .map_err(|e| CallError::other(resource.clone(), "CreateTable", e.to_string()))?;
        match built.send().await {
            Ok(_) => changes = vec![Field::Ttl],
            // Made by a run that was stopped before it finished: bring it up to date.
            Err(err) if code(&err) == Some("ResourceInUseException") => {
                changes = vec![Field::Billing, Field::Ttl, Field::Tags]
            }
            Err(err) => return Err(CallError::new(resource, "CreateTable", &err)),
        }
        wait_table(clients, &wanted.name).await?;
    }
    if changes.contains(&Field::Billing) {
        match db
            .update_table()
            .table_name(&wanted.name)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
        {
            Ok(_) => wait_table(clients, &wanted.name).await?,
            // Already on demand: DynamoDB refuses an update that changes nothing.
            Err(err) if code(&err) == Some("ValidationException") => {}
            Err(err) => return Err(CallError::new(resource, "UpdateTable", &err)),
        }
    }
    if let (true, Some(ttl)) = (changes.contains(&Field::Ttl), &wanted.ttl) {
        let spec = aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(ttl)
            .build()
            .map_err(|e| CallError::other(resource.clone(), "UpdateTimeToLive", e.to_string()))?;
        match db
            .update_time_to_live()
            .table_name(&wanted.name)
            .time_to_live_specification(spec)
            .send()
            .await
        {
            Ok(_) => {}
            // "TimeToLive is already enabled": what a stopped run left.
            Err(err)
                if code(&err) == Some("ValidationException")
                    && CallError::new(resource.clone(), "UpdateTimeToLive", &err)
                        .message
                        .contains("already enabled") => {}
            Err(err) => return Err(CallError::new(resource, "UpdateTimeToLive", &err)),
        }
    }
    if changes.contains(&Field::Tags) {
        db.tag_resource()
            .resource_arn(&wanted.arn)
            .set_tags(Some(dynamodb_tags(&wanted.tags)))
            .send()
            .await
            .map_err(|e| CallError::new(resource, "TagResource", &e))?;
    }
    Ok(())
}

/// Waits for a table to be `ACTIVE` (DynamoDB refuses TTL and updates before).
async fn wait_table(clients: &Clients, name: &str) -> Result<(), CallError> {
    use aws_sdk_dynamodb::types::TableStatus;
    let started = Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        let described = clients
            .dynamodb
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| CallError::new(format!("table {name}"), "DescribeTable", &e))?;
        let status = described.table().and_then(|t| t.table_status()).cloned();
        if status.is_none() || status == Some(TableStatus::Active) {
            return Ok(());
        }
        if started.elapsed() > TABLE_DEADLINE {
            return Err(CallError::other(
                format!("table {name}"),
                "wait for ACTIVE",
                format!("still {status:?} after {} s", TABLE_DEADLINE.as_secs()),
            ));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

async fn delete_table(clients: &Clients, name: &str) -> Result<(), CallError> {
    let resource = format!("table {name}");
    retrying(
        TABLE_DEADLINE,
        // Being created or updated: DynamoDB deletes it once that is done.
        |e| e.code.as_deref() == Some("ResourceInUseException"),
        || async {
            let result = clients
                .dynamodb
                .delete_table()
                .table_name(name)
                .send()
                .await;
            deleted(
                result,
                "ResourceNotFoundException",
                resource.clone(),
                "DeleteTable",
            )
        },
    )
    .await
}

/// A mapping as `put_mapping` matches it: its UUID, its source's ARN and its queues (Amazon
/// MQ).
struct Existing {
    uuid: String,
    source_arn: String,
    queues: Vec<String>,
}

impl Existing {
    fn is(&self, mapping: &MappingSpec) -> bool {
        self.source_arn == mapping.source_arn && self.queues == mapping.queues
    }
}

/// The mappings of a subscriber or ingest function (its one, or what a stopped run left).
async fn mappings_of(clients: &Clients, function: &str) -> Result<Vec<Existing>, CallError> {
    let answer = clients
        .lambda
        .list_event_source_mappings()
        .function_name(function)
        .send()
        .await
        .map_err(|e| {
            CallError::new(
                format!("event source mapping {function}"),
                "ListEventSourceMappings",
                &e,
            )
        })?;
    Ok(answer
        .event_source_mappings()
        .iter()
        .map(|m| Existing {
            uuid: m.uuid().unwrap_or_default().to_string(),
            source_arn: m.event_source_arn().unwrap_or_default().to_string(),
            queues: m.queues().to_vec(),
        })
        .collect())
}

/// Lambda's way of saying a new role cannot read the queue yet (IAM propagation).
fn queue_not_readable(err: &CallError) -> bool {
    role_not_ready(err)
        || (err.code.as_deref() == Some("InvalidParameterValueException")
            && err.message.to_ascii_lowercase().contains("execution role"))
}

async fn put_mapping(
    clients: &Clients,
    mapping: &MappingSpec,
    action: Action,
) -> Result<(), CallError> {
    use aws_sdk_lambda::types::{
        FunctionResponseType, SourceAccessConfiguration, SourceAccessType,
    };
    let resource = format!("event source mapping {}", mapping.function);
    let lambda = &clients.lambda;
    // Listed even for a create: a run stopped after creating it left one (and an emulator
    // may not refuse a second mapping of the same queue and function).
    let existing = mappings_of(clients, &mapping.function).await?;
    let mut current = existing
        .iter()
        .find(|m| m.is(mapping))
        .map(|m| m.uuid.clone());
    if action == Action::Replace {
        for other in existing.iter().filter(|m| !m.is(mapping)) {
            delete_mapping(clients, &mapping.function, &other.uuid).await?;
        }
    }
    // Lambda takes response types for SQS (and streams) only: none is sent for Amazon MQ.
    let types: Option<Vec<FunctionResponseType>> =
        (!mapping.response_types.is_empty()).then(|| {
            mapping
                .response_types
                .iter()
                .map(|t| FunctionResponseType::from(t.as_str()))
                .collect()
        });
    let access: Option<Vec<SourceAccessConfiguration>> =
        (!mapping.source_access.is_empty()).then(|| {
            mapping
                .source_access
                .iter()
                .map(|a| {
                    SourceAccessConfiguration::builder()
                        .r#type(SourceAccessType::from(a.kind.as_str()))
                        .uri(&a.uri)
                        .build()
                })
                .collect()
        });
    let queues = (!mapping.queues.is_empty()).then(|| mapping.queues.clone());
    if current.is_none() {
        let created = retrying(PROPAGATION_DEADLINE, queue_not_readable, || async {
            lambda
                .create_event_source_mapping()
                .function_name(&mapping.function)
                .event_source_arn(&mapping.source_arn)
                .set_queues(queues.clone())
                .set_source_access_configurations(access.clone())
                .batch_size(mapping.batch_size)
                .set_function_response_types(types.clone())
                .enabled(true)
                .send()
                .await
                .map_err(|e| CallError::new(resource.clone(), "CreateEventSourceMapping", &e))
        })
        .await;
        match created {
            Ok(_) => return Ok(()),
            // Made by a run that was stopped before it finished: bring it up to date.
            Err(err) if err.code.as_deref() == Some("ResourceConflictException") => {
                current = mappings_of(clients, &mapping.function)
                    .await?
                    .into_iter()
                    .find(|m| m.is(mapping))
                    .map(|m| m.uuid);
                if current.is_none() {
                    return Err(err);
                }
            }
            Err(err) => return Err(err),
        }
    }
    let Some(uuid) = current else {
        return Ok(());
    };
    lambda
        .update_event_source_mapping()
        .uuid(&uuid)
        .batch_size(mapping.batch_size)
        .set_function_response_types(types)
        .set_source_access_configurations(access)
        .enabled(true)
        .send()
        .await
        .map_err(|e| CallError::new(resource, "UpdateEventSourceMapping", &e))?;
    Ok(())
}

async fn delete_mapping(clients: &Clients, function: &str, uuid: &str) -> Result<(), CallError> {
    let result = clients
        .lambda
        .delete_event_source_mapping()
        .uuid(uuid)
        .send()
        .await;
    deleted(
        result,
        "ResourceNotFoundException",
        format!("event source mapping {function}"),
        "DeleteEventSourceMapping",
    )
}

async fn delete_mappings(clients: &Clients, function: &str) -> Result<(), CallError> {
    let existing = match mappings_of(clients, function).await {
        Ok(existing) => existing,
        Err(err) if err.code.as_deref() == Some("ResourceNotFoundException") => return Ok(()),
        Err(err) => return Err(err),
    };
    for mapping in existing {
        delete_mapping(clients, function, &mapping.uuid).await?;
    }
    Ok(())
}

async fn put_url(
    clients: &Clients,
    url: &UrlSpec,
    action: Action,
    changes: &[Field],
) -> Result<(), CallError> {
    use aws_sdk_lambda::types::FunctionUrlAuthType;
    let resource = format!("function url {}", url.function);
    let lambda = &clients.lambda;
    let auth = FunctionUrlAuthType::from(url.auth.as_str());
    let mut update = changes.contains(&Field::Auth);
    let mut permit = action == Action::Create || changes.contains(&Field::Permission);
    if action == Action::Create {
        match lambda
            .create_function_url_config()
            .function_name(&url.function)
            .auth_type(auth.clone())
            .send()
            .await
        {
            Ok(_) => {}
            // Made by a run that was stopped before it finished: bring it up to date.
            Err(err) if code(&err) == Some("ResourceConflictException") => {
                update = true;
                permit = true;
            }
            Err(err) => return Err(CallError::new(resource, "CreateFunctionUrlConfig", &err)),
        }
    }
    if update {
        lambda
            .update_function_url_config()
            .function_name(&url.function)
            .auth_type(auth.clone())
            .send()
            .await
            .map_err(|e| CallError::new(resource.clone(), "UpdateFunctionUrlConfig", &e))?;
    }
    if permit {
        // Anyone may call the URL (the ingest checks the webhook's signature), and, since
        // October 2025, a URL's caller also needs lambda:InvokeFunction through the URL.
        let statements = [
            (URL_SID, "lambda:InvokeFunctionUrl", false),
            (URL_INVOKE_SID, "lambda:InvokeFunction", true),
        ];
        for (sid, action, via_url) in statements {
            let mut request = lambda
                .add_permission()
                .function_name(&url.function)
                .statement_id(sid)
                .action(action)
                .principal("*");
            request = if via_url {
                request.invoked_via_function_url(true)
            } else {
                request.function_url_auth_type(auth.clone())
            };
            match request.send().await {
                Ok(_) => {}
                // The statement is there already.
                Err(err) if code(&err) == Some("ResourceConflictException") => {}
                Err(err) => return Err(CallError::new(resource.clone(), "AddPermission", &err)),
            }
        }
    }
    Ok(())
}

async fn delete_url(clients: &Clients, function: &str) -> Result<(), CallError> {
    let resource = format!("function url {function}");
    let gone = |c: Option<&str>| c == Some("ResourceNotFoundException");
    match clients
        .lambda
        .delete_function_url_config()
        .function_name(function)
        .send()
        .await
    {
        Ok(_) => {}
        Err(err) if gone(code(&err)) => {}
        Err(err) => return Err(CallError::new(resource, "DeleteFunctionUrlConfig", &err)),
    }
    for sid in [URL_SID, URL_INVOKE_SID] {
        match clients
            .lambda
            .remove_permission()
            .function_name(function)
            .statement_id(sid)
            .send()
            .await
        {
            Ok(_) => {}
            Err(err) if gone(code(&err)) => {}
            Err(err) => return Err(CallError::new(resource.clone(), "RemovePermission", &err)),
        }
    }
    Ok(())
}

fn scheduler_tags(tags: &Tags) -> Vec<aws_sdk_scheduler::types::Tag> {
    tags.iter()
        .filter_map(|(k, v)| {
            aws_sdk_scheduler::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .ok()
        })
        .collect()
}

async fn put_schedule_group(
    clients: &Clients,
    name: &str,
    arn: &str,
    tags: &Tags,
) -> Result<(), CallError> {
    let resource = format!("schedule group {name}");
    match clients
        .scheduler
        .create_schedule_group()
        .name(name)
        .set_tags(Some(scheduler_tags(tags)))
        .send()
        .await
    {
        Ok(_) => Ok(()),
        // There already (a stopped run, or untagged): make sure it carries the tags.
        Err(err) if code(&err) == Some("ConflictException") => clients
            .scheduler
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(scheduler_tags(tags)))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| CallError::new(resource, "TagResource", &e)),
        Err(err) => Err(CallError::new(resource, "CreateScheduleGroup", &err)),
    }
}

async fn delete_schedule_group(clients: &Clients, name: &str) -> Result<(), CallError> {
    let result = clients
        .scheduler
        .delete_schedule_group()
        .name(name)
        .send()
        .await;
    deleted(
        result,
        "ResourceNotFoundException",
        format!("schedule group {name}"),
        "DeleteScheduleGroup",
    )
}

/// Scheduler's way of saying a new role cannot be assumed yet (IAM propagation).
fn scheduler_role_not_ready(err: &CallError) -> bool {
    role_not_ready(err)
        || (err.code.as_deref() == Some("ValidationException")
            && err.message.to_ascii_lowercase().contains("assume"))
}

async fn put_schedule(
    clients: &Clients,
    schedule: &ScheduleSpec,
    action: Action,
) -> Result<(), CallError> {
    use aws_sdk_scheduler::types::{
        FlexibleTimeWindow, FlexibleTimeWindowMode, ScheduleState, SqsParameters, Target,
    };
    let resource = format!("schedule {}", schedule.name);
    let built = (|| {
        Ok::<_, aws_sdk_scheduler::error::BuildError>((
            Target::builder()
                .arn(&schedule.target_arn)
                .role_arn(&schedule.role_arn)
                .input(&schedule.input)
                // A queue target's message group; a poller (a Lambda target) has none.
                .set_sqs_parameters(
                    schedule
                        .message_group_id
                        .as_ref()
                        .map(|group| SqsParameters::builder().message_group_id(group).build()),
                )
                .build()?,
            FlexibleTimeWindow::builder()
                .mode(FlexibleTimeWindowMode::Off)
                .build()?,
        ))
    })()
    .map_err(|e| CallError::other(resource.clone(), "CreateSchedule", e.to_string()))?;
    let (target, window) = built;
    let scheduler = &clients.scheduler;
    let update = || async {
        scheduler
            .update_schedule()
            .name(&schedule.name)
            .group_name(&schedule.group)
            .schedule_expression(&schedule.expression)
            .flexible_time_window(window.clone())
            .target(target.clone())
            .state(ScheduleState::Enabled)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| CallError::new(resource.clone(), "UpdateSchedule", &e))
    };
    if action != Action::Create {
        return retrying(PROPAGATION_DEADLINE, scheduler_role_not_ready, update).await;
    }
    let created = retrying(PROPAGATION_DEADLINE, scheduler_role_not_ready, || async {
        scheduler
            .create_schedule()
            .name(&schedule.name)
            .group_name(&schedule.group)
            .schedule_expression(&schedule.expression)
            .flexible_time_window(window.clone())
            .target(target.clone())
            .state(ScheduleState::Enabled)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| CallError::new(resource.clone(), "CreateSchedule", &e))
    })
    .await;
    match created {
        // Made by a run that was stopped before it finished: bring it up to date.
        Err(err) if err.code.as_deref() == Some("ConflictException") => {
            retrying(PROPAGATION_DEADLINE, scheduler_role_not_ready, update).await
        }
        other => other,
    }
}

async fn delete_schedule(clients: &Clients, group: &str, name: &str) -> Result<(), CallError> {
    let result = clients
        .scheduler
        .delete_schedule()
        .group_name(group)
        .name(name)
        .send()
        .await;
    deleted(
        result,
        "ResourceNotFoundException",
        format!("schedule {name}"),
        "DeleteSchedule",
    )
}
