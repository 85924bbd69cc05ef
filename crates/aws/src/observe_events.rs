//! What the account holds of a project's event wiring, with List/Get/Describe calls only:
//! queues (ListQueues by the `<project>-` prefix, kept when tagged for the project), tables
//! (ListTables by prefix, kept when tagged), the mappings and URLs of the project's own
//! subscriber and ingest functions, the reserved concurrency and asynchronous invocation
//! settings of its source functions (pollers), and the schedules of its schedule group (Scheduler tags
//! groups, not schedules: the group is kept when tagged, and everything in it is ours).

use crate::model::{
    AsyncInvoke, ObservedFunction, ObservedMapping, ObservedQueue, ObservedSchedule, ObservedTable,
    ObservedUrl, SourceAccess, Tags, TAG_PROJECT, TAG_SOURCE, TAG_SUBSCRIPTION,
};
use crate::{code, names, CallError, Clients};
use std::collections::BTreeMap;

/// The statement ids of the permissions that make an ingest function's URL public.
pub const URL_SID: &str = "flowctl-url";
pub const URL_INVOKE_SID: &str = "flowctl-url-invoke";

fn ours(tags: &Tags, project: &str) -> bool {
    tags.get(TAG_PROJECT).is_some_and(|p| p == project)
}

pub async fn queues(
    clients: &Clients,
    project: &str,
) -> Result<BTreeMap<String, ObservedQueue>, CallError> {
    let prefix = format!("{project}-");
    let mut urls = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let answer = clients
            .sqs
            .list_queues()
            .queue_name_prefix(&prefix)
            .max_results(1000)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| CallError::new("queues", "ListQueues", &e))?;
        urls.extend(answer.queue_urls().iter().cloned());
        match answer.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => break,
        }
    }
    let lookups = urls.into_iter().map(|url| async move {
        let name = url.rsplit('/').next().unwrap_or_default().to_string();
        let resource = format!("queue {name}");
        let gone = |c: Option<&str>| {
            matches!(
                c,
                Some("AWS.SimpleQueueService.NonExistentQueue" | "QueueDoesNotExist")
            )
        };
        let tags: Tags = match clients.sqs.list_queue_tags().queue_url(&url).send().await {
            Ok(answer) => answer
                .tags()
                .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            // Deleted between the list and the read (another run, SQS's eventual listing).
            Err(err) if gone(code(&err)) => return Ok(None),
            Err(err) => return Err(CallError::new(resource, "ListQueueTags", &err)),
        };
        if !ours(&tags, project) {
            return Ok(None);
        }
        let attributes = match clients
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
        {
            Ok(answer) => answer
                .attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (k.as_str().to_string(), v.clone()))
                        .collect()
                })
                .unwrap_or_default(),
            Err(err) if gone(code(&err)) => return Ok(None),
            Err(err) => return Err(CallError::new(resource, "GetQueueAttributes", &err)),
        };
        Ok(Some(ObservedQueue {
            name,
            url,
            attributes,
            tags,
        }))
    });
    Ok(futures_util::future::try_join_all(lookups)
        .await?
        .into_iter()
        .flatten()
        .map(|q| (q.name.clone(), q))
        .collect())
}

pub async fn tables(
    clients: &Clients,
    project: &str,
) -> Result<BTreeMap<String, ObservedTable>, CallError> {
    let prefix = format!("{project}-");
    let mut names = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let answer = clients
            .dynamodb
            .list_tables()
            .set_exclusive_start_table_name(start.take())
            .send()
            .await
            .map_err(|e| CallError::new("tables", "ListTables", &e))?;
        names.extend(
            answer
                .table_names()
                .iter()
                .filter(|n| n.starts_with(&prefix))
                .cloned(),
        );
        match answer.last_evaluated_table_name() {
            Some(last) if !last.is_empty() => start = Some(last.to_string()),
            _ => break,
        }
    }
    let lookups = names.into_iter().map(|name| async move {
        let resource = format!("table {name}");
        let gone = |c: Option<&str>| c == Some("ResourceNotFoundException");
        let described = match clients
            .dynamodb
            .describe_table()
            .table_name(&name)
            .send()
            .await
        {
            Ok(answer) => answer.table,
            Err(err) if gone(code(&err)) => return Ok(None),
            Err(err) => return Err(CallError::new(resource, "DescribeTable", &err)),
        };
        let Some(described) = described else {
            return Ok(None);
        };
        let arn = described.table_arn().unwrap_or_default().to_string();
        let tags: Tags = match clients
            .dynamodb
            .list_tags_of_resource()
            .resource_arn(&arn)
            .send()
            .await
        {
            Ok(answer) => answer
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect(),
            Err(err) if gone(code(&err)) => return Ok(None),
            Err(err) => return Err(CallError::new(resource, "ListTagsOfResource", &err)),
        };
        if !ours(&tags, project) {
            return Ok(None);
        }
        let type_of = |attribute: &str| {
            described
                .attribute_definitions()
                .iter()
                .find(|a| a.attribute_name() == attribute)
                .map(|a| a.attribute_type().as_str().to_string())
                .unwrap_or_default()
        };
        let key = |kind: aws_sdk_dynamodb::types::KeyType| {
            described
                .key_schema()
                .iter()
                .find(|k| k.key_type() == &kind)
                .map(|k| (k.attribute_name().to_string(), type_of(k.attribute_name())))
        };
        let billing = described
            .billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map(|b| b.as_str().to_string())
            // A table that never changed mode and reports none is provisioned.
            .or_else(|| Some("PROVISIONED".to_string()));
        let ttl = match clients
            .dynamodb
            .describe_time_to_live()
            .table_name(&name)
            .send()
            .await
        {
            Ok(answer) => answer.time_to_live_description().and_then(|d| {
                use aws_sdk_dynamodb::types::TimeToLiveStatus;
                matches!(
                    d.time_to_live_status(),
                    Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
                )
                .then(|| d.attribute_name().unwrap_or_default().to_string())
            }),
            Err(err) if gone(code(&err)) => return Ok(None),
            Err(err) => return Err(CallError::new(resource, "DescribeTimeToLive", &err)),
        };
        Ok(Some(ObservedTable {
            hash_key: key(aws_sdk_dynamodb::types::KeyType::Hash),
            range_key: key(aws_sdk_dynamodb::types::KeyType::Range),
            billing,
            ttl,
            tags,
            arn,
            name,
        }))
    });
    Ok(futures_util::future::try_join_all(lookups)
        .await?
        .into_iter()
        .flatten()
        .map(|t| (t.name.clone(), t))
        .collect())
}

/// A source's function's reserved concurrency and asynchronous invocation settings (what
/// flowctl sets on a poller), for `observe` to read with the function.
pub async fn invoke_settings(
    clients: &Clients,
    function: &str,
) -> Result<(Option<i32>, Option<AsyncInvoke>), CallError> {
    let resource = format!("function {function}");
    let gone = |c: Option<&str>| c == Some("ResourceNotFoundException");
    let concurrency = match clients
        .lambda
        .get_function_concurrency()
        .function_name(function)
        .send()
        .await
    {
        Ok(answer) => answer.reserved_concurrent_executions(),
        Err(err) if gone(code(&err)) => None,
        Err(err) => return Err(CallError::new(resource, "GetFunctionConcurrency", &err)),
    };
    let async_invoke = match clients
        .lambda
        .get_function_event_invoke_config()
        .function_name(function)
        .send()
        .await
    {
        Ok(answer) => Some(AsyncInvoke {
            // Lambda's defaults when a field is absent: 2 retries, 6 hours.
            max_retry_attempts: answer.maximum_retry_attempts().unwrap_or(2),
            max_event_age_seconds: answer.maximum_event_age_in_seconds().unwrap_or(21_600),
        }),
        Err(err) if gone(code(&err)) => None,
        Err(err) => {
            return Err(CallError::new(
                resource,
                "GetFunctionEventInvokeConfig",
                &err,
            ))
        }
    };
    Ok((concurrency, async_invoke))
}

/// The mapping of each of the project's subscriber and source functions (tagged with a
/// subscription or a source: an Amazon MQ source's ingest has one).
pub async fn mappings(
    clients: &Clients,
    functions: &BTreeMap<String, ObservedFunction>,
) -> Result<BTreeMap<String, ObservedMapping>, CallError> {
    let subscribers = functions
        .values()
        .filter(|f| f.tags.contains_key(TAG_SUBSCRIPTION) || f.tags.contains_key(TAG_SOURCE));
    let lookups = subscribers.map(|f| async move {
        let answer = clients
            .lambda
            .list_event_source_mappings()
            .function_name(&f.name)
            .send()
            .await
            .map_err(|e| {
                CallError::new(
                    format!("event source mapping {}", f.name),
                    "ListEventSourceMappings",
                    &e,
                )
            })?;
        Ok::<_, CallError>(answer.event_source_mappings().first().map(|m| {
            ObservedMapping {
                uuid: m.uuid().unwrap_or_default().to_string(),
                function: f.name.clone(),
                source_arn: m.event_source_arn().unwrap_or_default().to_string(),
                queues: m.queues().to_vec(),
                source_access: {
                    let mut access: Vec<SourceAccess> = m
                        .source_access_configurations()
                        .iter()
                        .map(|a| SourceAccess {
                            kind: a
                                .r#type()
                                .map(|t| t.as_str().to_string())
                                .unwrap_or_default(),
                            uri: a.uri().unwrap_or_default().to_string(),
                        })
                        .collect();
                    access.sort();
                    access
                },
                batch_size: m.batch_size(),
                response_types: m
                    .function_response_types()
                    .iter()
                    .map(|t| t.as_str().to_string())
                    .collect(),
            }
        }))
    });
    Ok(futures_util::future::try_join_all(lookups)
        .await?
        .into_iter()
        .flatten()
        .map(|m| (m.function.clone(), m))
        .collect())
}

/// The URL of each of the project's ingest functions (tagged with a source), and whether
/// its policy makes it public.
pub async fn urls(
    clients: &Clients,
    functions: &BTreeMap<String, ObservedFunction>,
) -> Result<BTreeMap<String, ObservedUrl>, CallError> {
    let ingests = functions
        .values()
        .filter(|f| f.tags.contains_key(TAG_SOURCE));
    let lookups = ingests.map(|f| async move {
        let resource = format!("function url {}", f.name);
        let config = match clients
            .lambda
            .get_function_url_config()
            .function_name(&f.name)
            .send()
            .await
        {
            Ok(config) => config,
            Err(err) if code(&err) == Some("ResourceNotFoundException") => return Ok(None),
            Err(err) => return Err(CallError::new(resource, "GetFunctionUrlConfig", &err)),
        };
        let public = match clients
            .lambda
            .get_policy()
            .function_name(&f.name)
            .send()
            .await
        {
            Ok(answer) => has_statements(answer.policy().unwrap_or_default()),
            Err(err) if code(&err) == Some("ResourceNotFoundException") => false,
            Err(err) => return Err(CallError::new(resource, "GetPolicy", &err)),
        };
        Ok(Some(ObservedUrl {
            function: f.name.clone(),
            url: config.function_url().to_string(),
            auth: Some(config.auth_type().as_str().to_string()),
            public,
        }))
    });
    Ok(futures_util::future::try_join_all(lookups)
        .await?
        .into_iter()
        .flatten()
        .map(|u| (u.function.clone(), u))
        .collect())
}

/// Whether a function's resource policy has both of flowctl's URL statements.
fn has_statements(policy: &str) -> bool {
    let Ok(policy) = serde_json::from_str::<serde_json::Value>(policy) else {
        return false;
    };
    let sids: Vec<&str> = policy["Statement"]
        .as_array()
        .map(|s| s.iter().filter_map(|s| s["Sid"].as_str()).collect())
        .unwrap_or_default();
    sids.contains(&URL_SID) && sids.contains(&URL_INVOKE_SID)
}

/// The project's schedule group (when it is tagged for the project) and its schedules.
pub async fn schedules(
    clients: &Clients,
    project: &str,
) -> Result<(Option<String>, BTreeMap<String, ObservedSchedule>), CallError> {
    let group = names::schedule_group(project);
    let resource = format!("schedule group {group}");
    let arn = match clients
        .scheduler
        .get_schedule_group()
        .name(&group)
        .send()
        .await
    {
        Ok(answer) => answer.arn().unwrap_or_default().to_string(),
        Err(err) if code(&err) == Some("ResourceNotFoundException") => {
            return Ok((None, BTreeMap::new()))
        }
        Err(err) => return Err(CallError::new(resource, "GetScheduleGroup", &err)),
    };
    let tags: Tags = clients
        .scheduler
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .map_err(|e| CallError::new(resource.clone(), "ListTagsForResource", &e))?
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    if !ours(&tags, project) {
        return Ok((None, BTreeMap::new()));
    }
    let mut listed = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let answer = clients
            .scheduler
            .list_schedules()
            .group_name(&group)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| CallError::new(resource.clone(), "ListSchedules", &e))?;
        listed.extend(
            answer
                .schedules()
                .iter()
                .filter_map(|s| s.name().map(str::to_string)),
        );
        match answer.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => break,
        }
    }
    let group = &group;
    let lookups = listed.into_iter().map(|name| async move {
        let got = match clients
            .scheduler
            .get_schedule()
            .group_name(group)
            .name(&name)
            .send()
            .await
        {
            Ok(got) => got,
            Err(err) if code(&err) == Some("ResourceNotFoundException") => return Ok(None),
            Err(err) => {
                return Err(CallError::new(
                    format!("schedule {name}"),
                    "GetSchedule",
                    &err,
                ))
            }
        };
        let target = got.target();
        Ok(Some(ObservedSchedule {
            group: group.clone(),
            expression: got.schedule_expression().unwrap_or_default().to_string(),
            target_arn: target.map(|t| t.arn().to_string()).unwrap_or_default(),
            role_arn: target.map(|t| t.role_arn().to_string()).unwrap_or_default(),
            input: target.and_then(|t| t.input()).map(str::to_string),
            message_group_id: target
                .and_then(|t| t.sqs_parameters())
                .and_then(|p| p.message_group_id())
                .map(str::to_string),
            name,
        }))
    });
    let schedules = futures_util::future::try_join_all(lookups)
        .await?
        .into_iter()
        .flatten()
        .map(|s| (s.name.clone(), s))
        .collect();
    Ok((Some(group.clone()), schedules))
}
