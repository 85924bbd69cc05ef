//! A deployed subscription's numbers and its parked keys: `status` (queue depth, messages
//! in flight, the dead-letter queue's depth, the keys parked in its state table) and
//! `release` (`flowctl events release --target aws`: the parked events of a key sent again,
//! in order, and the key unparked). The layout of the table and the shape of the messages
//! are `flowctl_protocol::subscriber`'s.

use crate::model::Account;
use crate::{code, names, CallError, Clients};
use aws_sdk_dynamodb::types::AttributeValue;
use flowctl_lang::manifest::events::{ko_handler_subscription, SourceKind};
use flowctl_lang::manifest::Manifest;
use flowctl_protocol::subscriber::{deduplication_id, message_group_id, table};
use std::collections::HashMap;

/// One subscription's numbers, as SQS and its table report them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SubscriptionStatus {
    pub subscription: String,
    /// The queue's name.
    pub queue: String,
    /// Whether its queue exists (the numbers are 0 when it does not).
    pub deployed: bool,
    /// Messages waiting (`ApproximateNumberOfMessages`).
    pub depth: u64,
    /// Messages received and not yet deleted, including those waiting out a retry's
    /// backoff (`ApproximateNumberOfMessagesNotVisible`).
    pub in_flight: u64,
    /// Messages in the dead-letter queue: what the subscriber could not handle at all.
    pub dlq_depth: u64,
    /// Keys parked after a KO, waiting for `flowctl events release`.
    pub parked_keys: Vec<String>,
}

/// The subscriptions deploy wires for a manifest, in its order: each subscription, and after
/// one with a KO handler the implicit `<name>:ko` that runs it.
pub fn subscription_names(manifest: &Manifest) -> Vec<String> {
    let mut out = Vec::new();
    for (name, sub) in &manifest.subscriptions {
        out.push(name.clone());
        if sub.ko.as_ref().is_some_and(|k| k.handler.is_some()) {
            out.push(ko_handler_subscription(name));
        }
    }
    out
}

/// The numbers of each of `subscriptions` (names as [`subscription_names`] gives them) of
/// `project`.
pub async fn status(
    clients: &Clients,
    account: &Account,
    project: &str,
    subscriptions: &[String],
) -> Result<Vec<SubscriptionStatus>, CallError> {
    let lookups = subscriptions.iter().map(|sub| async move {
        let queue = names::queue(project, sub);
        let counts = queue_counts(clients, account, &queue).await?;
        let dlq = queue_counts(clients, account, &names::dead_letter_queue(project, sub)).await?;
        let parked_keys = match counts {
            Some(_) => parked_keys(clients, &names::table(project, sub)).await?,
            None => Vec::new(),
        };
        let (depth, in_flight) = counts.unwrap_or_default();
        Ok::<_, CallError>(SubscriptionStatus {
            subscription: sub.clone(),
            queue,
            deployed: counts.is_some(),
            depth,
            in_flight,
            dlq_depth: dlq.map_or(0, |(depth, _)| depth),
            parked_keys,
        })
    });
    futures_util::future::try_join_all(lookups).await
}

/// The public URL of each webhook source's ingest function, as deployed: `(source, url)`, in
/// the manifest's order; a webhook without a deployed ingest (no subscription takes it, or
/// not deployed yet) is left out.
pub async fn webhook_urls(
    clients: &Clients,
    project: &str,
    manifest: &Manifest,
) -> Result<Vec<(String, String)>, CallError> {
    let mut urls = Vec::new();
    for (source, spec) in &manifest.sources {
        if !matches!(spec.kind, SourceKind::Webhook(_)) {
            continue;
        }
        let function = names::ingest(project, source);
        match clients
            .lambda
            .get_function_url_config()
            .function_name(&function)
            .send()
            .await
        {
            Ok(config) => urls.push((source.clone(), config.function_url().to_string())),
            Err(err) if code(&err) == Some("ResourceNotFoundException") => {}
            Err(err) => {
                return Err(CallError::new(
                    format!("function {function}"),
                    "GetFunctionUrlConfig",
                    &err,
                ))
            }
        }
    }
    Ok(urls)
}

/// `(visible, not visible)` messages of a queue; `None` when there is no such queue.
async fn queue_counts(
    clients: &Clients,
    account: &Account,
    queue: &str,
) -> Result<Option<(u64, u64)>, CallError> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let answer = match clients
        .sqs
        .get_queue_attributes()
        .queue_url(account.queue_url(queue))
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
    {
        Ok(answer) => answer,
        Err(err)
            if matches!(
                code(&err),
                Some("AWS.SimpleQueueService.NonExistentQueue" | "QueueDoesNotExist")
            ) =>
        {
            return Ok(None)
        }
        Err(err) => {
            return Err(CallError::new(
                format!("queue {queue}"),
                "GetQueueAttributes",
                &err,
            ))
        }
    };
    let number = |name: A| {
        answer
            .attributes()
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok(Some((
        number(A::ApproximateNumberOfMessages),
        number(A::ApproximateNumberOfMessagesNotVisible),
    )))
}

/// The keys whose state item says `parked`, sorted.
async fn parked_keys(clients: &Clients, table_name: &str) -> Result<Vec<String>, CallError> {
    let mut keys = Vec::new();
    let mut start: Option<HashMap<String, AttributeValue>> = None;
    loop {
        let answer = clients
            .dynamodb
            .scan()
            .table_name(table_name)
            .filter_expression("#item = :state AND #parked = :yes")
            .projection_expression("#key")
            .expression_attribute_names("#item", table::SORT)
            .expression_attribute_names("#parked", table::PARKED)
            .expression_attribute_names("#key", table::KEY)
            .expression_attribute_values(":state", AttributeValue::S(table::STATE_ITEM.into()))
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| CallError::new(format!("table {table_name}"), "Scan", &e))?;
        keys.extend(
            answer
                .items()
                .iter()
                .filter_map(|item| item.get(table::KEY)?.as_s().ok().cloned()),
        );
        match answer.last_evaluated_key() {
            Some(last) if !last.is_empty() => start = Some(last.clone()),
            _ => break,
        }
    }
    keys.sort();
    Ok(keys)
}

/// What `release` did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ReleaseOutcome {
    /// The key was not parked: nothing was sent.
    NotParked,
    /// The key is unparked; its parked events were sent again in order (their ids), the
    /// first one dropped instead when `--skip` was given.
    Released {
        resent: Vec<String>,
        skipped: Option<String>,
    },
}

/// The number of a `parked#<seq>` sort key.
fn parked_seq(item: &str) -> Option<u64> {
    item.strip_prefix(table::PARKED_PREFIX)?.parse().ok()
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> Option<u64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

/// Releases `key` of `subscription`: reads its parked events in order, drops the first
/// (the KO'd one) when `skip`, sends the rest to the subscription's queue again (marked
/// `"released": true`, deduplication id `<id>#r<seq>`), deletes them, and unparks the key
/// on condition that nothing was parked meanwhile (else it goes round again with the newer
/// ones). A run stopped half-way is run again: what was sent and deleted is not sent again,
/// and a send repeated within SQS's 5-minute window is deduplicated.
pub async fn release(
    clients: &Clients,
    account: &Account,
    project: &str,
    subscription: &str,
    key: &str,
    skip: bool,
) -> Result<ReleaseOutcome, CallError> {
    let table_name = names::table(project, subscription);
    let queue_url = account.queue_url(&names::queue(project, subscription));
    let resource = format!("table {table_name}");
    let db = &clients.dynamodb;
    let mut resent = Vec::new();
    let mut skipped = None;
    let mut first_round = true;
    loop {
        let state = db
            .get_item()
            .table_name(&table_name)
            .key(table::KEY, AttributeValue::S(key.into()))
            .key(table::SORT, AttributeValue::S(table::STATE_ITEM.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| CallError::new(resource.clone(), "GetItem", &e))?;
        let Some(state) = state.item() else {
            return Ok(ReleaseOutcome::NotParked);
        };
        let parked = state.get(table::PARKED).and_then(|v| v.as_bool().ok()) == Some(&true);
        if !parked {
            return Ok(if first_round {
                ReleaseOutcome::NotParked
            } else {
                ReleaseOutcome::Released { resent, skipped }
            });
        }
        let park_seq = number(state, table::PARK_SEQ);

        let mut items = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let answer = db
                .query()
                .table_name(&table_name)
                .key_condition_expression("#key = :key AND begins_with(#item, :parked)")
                .expression_attribute_names("#key", table::KEY)
                .expression_attribute_names("#item", table::SORT)
                .expression_attribute_values(":key", AttributeValue::S(key.into()))
                .expression_attribute_values(
                    ":parked",
                    AttributeValue::S(table::PARKED_PREFIX.into()),
                )
                .consistent_read(true)
                .scan_index_forward(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| CallError::new(resource.clone(), "Query", &e))?;
            items.extend(answer.items().iter().cloned());
            match answer.last_evaluated_key() {
                Some(last) if !last.is_empty() => start = Some(last.clone()),
                _ => break,
            }
        }

        for (n, item) in items.iter().enumerate() {
            let sort = item
                .get(table::SORT)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default();
            let body = item
                .get(table::BODY)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default();
            let mut event: serde_json::Value = serde_json::from_str(&body).map_err(|e| {
                CallError::other(
                    format!("{resource} item {key}/{sort}"),
                    "read parked event",
                    format!("its body is not an event's JSON ({e})"),
                )
            })?;
            let id = event["id"].as_str().unwrap_or_default().to_string();
            if skip && first_round && n == 0 {
                skipped = Some(id);
            } else {
                event["released"] = serde_json::Value::Bool(true);
                let seq = parked_seq(&sort).unwrap_or_default();
                clients
                    .sqs
                    .send_message()
                    .queue_url(&queue_url)
                    .message_body(event.to_string())
                    .message_group_id(message_group_id(key))
                    .message_deduplication_id(deduplication_id(&format!("{id}#r{seq}")))
                    .send()
                    .await
                    .map_err(|e| {
                        CallError::new(
                            format!("queue {}", names::queue(project, subscription)),
                            "SendMessage",
                            &e,
                        )
                    })?;
                resent.push(id);
            }
            db.delete_item()
                .table_name(&table_name)
                .key(table::KEY, AttributeValue::S(key.into()))
                .key(table::SORT, AttributeValue::S(sort))
                .send()
                .await
                .map_err(|e| CallError::new(resource.clone(), "DeleteItem", &e))?;
        }
        first_round = false;

        // Unpark, unless the subscriber parked a newer event meanwhile.
        let mut update = db
            .update_item()
            .table_name(&table_name)
            .key(table::KEY, AttributeValue::S(key.into()))
            .key(table::SORT, AttributeValue::S(table::STATE_ITEM.into()))
            .update_expression(
                "SET #parked = :no, #version = if_not_exists(#version, :zero) + :one REMOVE #failing, #attempts",
            )
            .expression_attribute_names("#parked", table::PARKED)
            .expression_attribute_names("#version", table::VERSION)
            .expression_attribute_names("#failing", table::FAILING)
            .expression_attribute_names("#attempts", table::ATTEMPTS)
            .expression_attribute_names("#seq", table::PARK_SEQ)
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()));
        update = match park_seq {
            Some(seq) => update
                .condition_expression("#seq = :seq")
                .expression_attribute_values(":seq", AttributeValue::N(seq.to_string())),
            None => update.condition_expression("attribute_not_exists(#seq)"),
        };
        match update.send().await {
            Ok(_) => return Ok(ReleaseOutcome::Released { resent, skipped }),
            Err(err) if code(&err) == Some("ConditionalCheckFailedException") => continue,
            Err(err) => return Err(CallError::new(resource, "UpdateItem", &err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parked_items_read_back_their_number() {
        assert_eq!(parked_seq(&table::parked_item(42)), Some(42));
        assert_eq!(parked_seq("state"), None);
    }
}
