//! What the account holds for a project, read through List/Get/Describe calls only (a
//! no-op deploy makes no mutating request). Functions and state machines are found by name
//! prefix `<project>-` and kept only when tagged `flowctl:project=<project>`; roles by
//! flowctl's role names (the event wiring's by their prefixes, through ListRoles); log groups
//! by the express flows' group prefix; the event wiring's resources in `observe_events`.

use super::model::{
    log_group_name, Observed, ObservedFunction, ObservedMachine, ObservedRole, Tags, POLICY_NAME,
    TAG_PROJECT,
};
use super::{code, CallError, Clients};
use flowctl_lang::manifest::{names, FlowKind};
use serde_json::Value;

/// Reads every resource of `project`.
pub async fn observe(clients: &Clients, project: &str) -> Result<Observed, CallError> {
    use crate::observe_events as events;
    let (roles, functions, machines, log_groups, queues, tables, (schedule_group, schedules)) = tokio::try_join!(
        roles(clients, project),
        functions(clients, project),
        machines(clients, project),
        log_groups(clients, project),
        events::queues(clients, project),
        events::tables(clients, project),
        events::schedules(clients, project),
    )?;
    let (mappings, urls) = tokio::try_join!(
        events::mappings(clients, &functions),
        events::urls(clients, &functions),
    )?;
    Ok(Observed {
        roles,
        functions,
        machines,
        log_groups,
        queues,
        tables,
        mappings,
        urls,
        schedule_group,
        schedules,
    })
}

/// The names of the project's event roles (subscribers', ingests', the scheduler's): IAM
/// lists roles without tags, so by their name prefixes, and `roles` keeps the tagged ones.
async fn event_role_names(clients: &Clients, project: &str) -> Result<Vec<String>, CallError> {
    let prefixes = crate::names::event_role_prefixes(project);
    let mut found = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let answer = clients
            .iam
            .list_roles()
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| CallError::new("roles", "ListRoles", &e))?;
        found.extend(
            answer
                .roles()
                .iter()
                .map(|r| r.role_name().to_string())
                .filter(|n| prefixes.iter().any(|p| n.starts_with(p.as_str()))),
        );
        match answer.marker() {
            Some(next) if answer.is_truncated() && !next.is_empty() => {
                marker = Some(next.to_string())
            }
            _ => break,
        }
    }
    Ok(found)
}

fn ours(tags: &Tags, project: &str) -> bool {
    tags.get(TAG_PROJECT).is_some_and(|p| p == project)
}

/// An IAM policy document as IAM returns it: URL-encoded JSON (or plain JSON from emulators).
pub fn policy_document(text: &str) -> Option<Value> {
    serde_json::from_str(text)
        .ok()
        .or_else(|| serde_json::from_str(&percent_decode(text)).ok())
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn roles(
    clients: &Clients,
    project: &str,
) -> Result<std::collections::BTreeMap<String, ObservedRole>, CallError> {
    let mut found = std::collections::BTreeMap::new();
    let mut candidates: Vec<String> = names::role_names(project).into();
    candidates.extend(event_role_names(clients, project).await?);
    for name in candidates {
        let role = match clients.iam.get_role().role_name(&name).send().await {
            Ok(answer) => match answer.role {
                Some(role) => role,
                None => continue,
            },
            Err(err) if code(&err) == Some("NoSuchEntity") => continue,
            Err(err) => return Err(CallError::new(format!("role {name}"), "GetRole", &err)),
        };
        let mut tags: Tags = role
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        if tags.is_empty() {
            // GetRole does not always carry the tags (older emulators); ask for them.
            match clients.iam.list_role_tags().role_name(&name).send().await {
                Ok(answer) => {
                    tags = answer
                        .tags()
                        .iter()
                        .map(|t| (t.key().to_string(), t.value().to_string()))
                        .collect()
                }
                Err(err) => {
                    return Err(CallError::new(format!("role {name}"), "ListRoleTags", &err))
                }
            }
        }
        if !ours(&tags, project) {
            continue;
        }
        let policy = match clients
            .iam
            .get_role_policy()
            .role_name(&name)
            .policy_name(POLICY_NAME)
            .send()
            .await
        {
            Ok(answer) => policy_document(answer.policy_document()),
            Err(err) if code(&err) == Some("NoSuchEntity") => None,
            Err(err) => {
                return Err(CallError::new(
                    format!("role {name}"),
                    "GetRolePolicy",
                    &err,
                ))
            }
        };
        found.insert(
            name.clone(),
            ObservedRole {
                arn: role.arn().to_string(),
                trust: role.assume_role_policy_document().and_then(policy_document),
                policy,
                tags,
                name,
            },
        );
    }
    Ok(found)
}

async fn functions(
    clients: &Clients,
    project: &str,
) -> Result<std::collections::BTreeMap<String, ObservedFunction>, CallError> {
    let prefix = format!("{project}-");
    let mut candidates = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let answer = clients
            .lambda
            .list_functions()
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| CallError::new("functions", "ListFunctions", &e))?;
        for f in answer.functions() {
            if f.function_name().is_some_and(|n| n.starts_with(&prefix)) {
                candidates.push(f.clone());
            }
        }
        match answer.next_marker() {
            Some(next) if !next.is_empty() => marker = Some(next.to_string()),
            _ => break,
        }
    }
    let lookups = candidates.into_iter().map(|f| async move {
        let name = f.function_name().unwrap_or_default().to_string();
        let arn = f.function_arn().unwrap_or_default().to_string();
        let tags = clients
            .lambda
            .list_tags()
            .resource(&arn)
            .send()
            .await
            .map_err(|e| CallError::new(format!("function {name}"), "ListTags", &e))?;
        let tags: Tags = tags
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        // What flowctl sets on a source's function (a poller's concurrency and asynchronous
        // invocations) is read for those only: two calls per function, not per unit.
        let (reserved_concurrency, async_invoke) =
            if ours(&tags, project) && tags.contains_key(super::model::TAG_SOURCE) {
                crate::observe_events::invoke_settings(clients, &name).await?
            } else {
                (None, None)
            };
        Ok::<_, CallError>(ObservedFunction {
            reserved_concurrency,
            async_invoke,
            runtime: f.runtime().map(|r| r.as_str().to_string()),
            handler: f.handler().map(str::to_string),
            code_sha256: f.code_sha256().unwrap_or_default().to_string(),
            architecture: f.architectures().first().map(|a| a.as_str().to_string()),
            memory: f.memory_size(),
            timeout: f.timeout(),
            env: f
                .environment()
                .and_then(|e| e.variables())
                .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            role_arn: f.role().unwrap_or_default().to_string(),
            tags,
            name,
            arn,
        })
    });
    let mut found = std::collections::BTreeMap::new();
    for function in futures_util::future::try_join_all(lookups).await? {
        if ours(&function.tags, project) {
            found.insert(function.name.clone(), function);
        }
    }
    Ok(found)
}

async fn machines(
    clients: &Clients,
    project: &str,
) -> Result<std::collections::BTreeMap<String, ObservedMachine>, CallError> {
    let prefix = format!("{project}-");
    let mut candidates = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let answer = clients
            .sfn
            .list_state_machines()
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| CallError::new("state machines", "ListStateMachines", &e))?;
        for m in answer.state_machines() {
            if m.name().starts_with(&prefix) {
                candidates.push((m.name().to_string(), m.state_machine_arn().to_string()));
            }
        }
        match answer.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => break,
        }
    }
    let lookups = candidates.into_iter().map(|(name, arn)| async move {
        let tags = clients
            .sfn
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .map_err(|e| {
                CallError::new(format!("state machine {name}"), "ListTagsForResource", &e)
            })?;
        let tags: Tags = tags
            .tags()
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_string(),
                    t.value().unwrap_or_default().to_string(),
                ))
            })
            .collect();
        if !ours(&tags, project) {
            return Ok(None);
        }
        let described = clients
            .sfn
            .describe_state_machine()
            .state_machine_arn(&arn)
            .send()
            .await
            .map_err(|e| {
                CallError::new(format!("state machine {name}"), "DescribeStateMachine", &e)
            })?;
        let kind = match described.r#type().as_str() {
            "EXPRESS" => Some(FlowKind::Express),
            "STANDARD" => Some(FlowKind::Standard),
            _ => None,
        };
        let log_group_arn = described
            .logging_configuration()
            .filter(|l| l.level().is_some_and(|level| level.as_str() != "OFF"))
            .and_then(|l| l.destinations().first())
            .and_then(|d| d.cloud_watch_logs_log_group())
            .and_then(|g| g.log_group_arn())
            .map(str::to_string);
        Ok::<_, CallError>(Some(ObservedMachine {
            kind,
            definition: serde_json::from_str(described.definition()).ok(),
            role_arn: described.role_arn().to_string(),
            log_group_arn,
            tags,
            name,
            arn,
        }))
    });
    Ok(futures_util::future::try_join_all(lookups)
        .await?
        .into_iter()
        .flatten()
        .map(|m| (m.name.clone(), m))
        .collect())
}

async fn log_groups(
    clients: &Clients,
    project: &str,
) -> Result<std::collections::BTreeSet<String>, CallError> {
    let prefix = log_group_name(&format!("{project}-"));
    let mut found = std::collections::BTreeSet::new();
    let mut token: Option<String> = None;
    loop {
        let answer = clients
            .logs
            .describe_log_groups()
            .log_group_name_prefix(&prefix)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| CallError::new("log groups", "DescribeLogGroups", &e))?;
        found.extend(
            answer
                .log_groups()
                .iter()
                .filter_map(|g| g.log_group_name().map(str::to_string)),
        );
        match answer.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => break,
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_documents_are_read_plain_or_url_encoded() {
        let plain = r#"{"Version":"2012-10-17"}"#;
        assert_eq!(
            policy_document(plain),
            Some(serde_json::json!({"Version": "2012-10-17"}))
        );
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%7D";
        assert_eq!(
            policy_document(encoded),
            Some(serde_json::json!({"Version": "2012-10-17"}))
        );
        assert_eq!(policy_document("%zz"), None);
    }
}
