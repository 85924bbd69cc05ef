//! The subscriber's side of a subscription's DynamoDB table
//! (`flowctl_protocol::subscriber::table`): the key's state item read consistently, and every
//! change to it written conditionally on the version read, so two deliveries of one event (a
//! redelivery racing a slow run) never both apply: the state and the `done#<id>` marker in one
//! transaction, failed attempts, parked events, and the marker of a skipped KO.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use flowctl_protocol::subscriber::table;
use serde_json::Value;
use std::collections::HashMap;

/// A key's state item as read (all defaults when it does not exist yet).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KeyState {
    pub exists: bool,
    pub version: u64,
    /// The state (`Value::Null` at first).
    pub state: Value,
    pub last_event: Option<String>,
    pub parked: bool,
    /// The event under retry and its failed attempts so far.
    pub failing: Option<String>,
    pub attempts: u32,
    pub park_seq: u64,
}

impl KeyState {
    /// Failed attempts of `event_id` so far (0 unless it is the event under retry).
    pub fn attempts_of(&self, event_id: &str) -> u32 {
        if self.failing.as_deref() == Some(event_id) {
            self.attempts
        } else {
            0
        }
    }
}

/// How a conditional write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    Written,
    /// The item changed since it was read (or the marker exists): read again.
    Conflict,
}

/// A table operation that failed for a reason other than its condition.
#[derive(Debug, thiserror::Error)]
#[error("dynamodb:{operation} on table {table} (key `{key}`): {message}")]
pub struct StoreError {
    pub table: String,
    pub operation: &'static str,
    pub key: String,
    pub message: String,
}

/// One subscription's table.
#[derive(Debug, Clone)]
pub struct Store {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

/// Seconds since the epoch, for `expires`.
pub fn now_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Store {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Store {
        Store {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn error<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
        &self,
        operation: &'static str,
        key: &str,
        error: SdkError<E, R>,
    ) -> StoreError {
        let message = match error.message() {
            Some(message) => format!("{}: {message}", error.code().unwrap_or("error")),
            None => DisplayErrorContext(&error).to_string(),
        };
        StoreError {
            table: self.table.clone(),
            operation,
            key: key.to_string(),
            message,
        }
    }

    async fn get(&self, key: &str, item: &str) -> Result<Option<Item>, StoreError> {
        self.client
            .get_item()
            .table_name(&self.table)
            .key(table::KEY, s(key))
            .key(table::SORT, s(item))
            .consistent_read(true)
            .send()
            .await
            .map(|out| out.item)
            .map_err(|e| self.error("GetItem", key, e))
    }

    /// The key's state item, read consistently.
    pub async fn read(&self, key: &str) -> Result<KeyState, StoreError> {
        let Some(item) = self.get(key, table::STATE_ITEM).await? else {
            return Ok(KeyState::default());
        };
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        let number = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok(KeyState {
            exists: true,
            version: number(table::VERSION),
            state: text(table::STATE)
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or(Value::Null),
            last_event: text(table::LAST_EVENT),
            parked: item
                .get(table::PARKED)
                .and_then(|v| v.as_bool().ok())
                .copied()
                .unwrap_or(false),
            failing: text(table::FAILING),
            attempts: u32::try_from(number(table::ATTEMPTS)).unwrap_or(u32::MAX),
            park_seq: number(table::PARK_SEQ),
        })
    }

    /// Whether `event_id` was applied to `key` (its `done#` marker exists).
    pub async fn is_done(&self, key: &str, event_id: &str) -> Result<bool, StoreError> {
        Ok(self.get(key, &table::done_item(event_id)).await?.is_some())
    }

    /// The success of `event_id`: the state item (new state when `new_state`, version + 1,
    /// `last_event`, no failure) and its `done#` marker, in one transaction conditional on the
    /// version read and on the marker not existing.
    pub async fn apply(
        &self,
        key: &str,
        read: &KeyState,
        event_id: &str,
        new_state: Option<&Value>,
    ) -> Result<Write, StoreError> {
        let mut set = vec![(table::LAST_EVENT, s(event_id))];
        if let Some(state) = new_state {
            set.push((table::STATE, s(&state.to_string())));
        }
        let update = self.state_update(key, read, set, &[table::FAILING, table::ATTEMPTS]);
        let done = self.done_marker(key, event_id);
        self.transact("TransactWriteItems (apply)", key, vec![update, done])
            .await
    }

    /// A failed attempt of `event_id`: `failing` and `attempts` on the state item (versioned).
    pub async fn record_attempt(
        &self,
        key: &str,
        read: &KeyState,
        event_id: &str,
        attempts: u32,
    ) -> Result<Write, StoreError> {
        let (expression, mut names, mut values) = update_expression(
            read.version + 1,
            vec![
                (table::FAILING, s(event_id)),
                (table::ATTEMPTS, n(u64::from(attempts))),
            ],
            &[],
        );
        let condition = version_condition(read).merge(&mut names, &mut values);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(table::KEY, s(key))
            .key(table::SORT, s(table::STATE_ITEM))
            .update_expression(expression)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Write::Written),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(Write::Conflict)
            }
            Err(e) => Err(self.error("UpdateItem", key, e)),
        }
    }

    /// Holds `body` (the message as it came) as the key's next `parked#` item and marks the
    /// key parked (a KO under `park`, or an event arriving while the key is parked).
    pub async fn park(&self, key: &str, read: &KeyState, body: &str) -> Result<Write, StoreError> {
        let seq = read.park_seq + 1;
        let update = self.state_update(
            key,
            read,
            vec![
                (table::PARKED, AttributeValue::Bool(true)),
                (table::PARK_SEQ, n(seq)),
            ],
            &[table::FAILING, table::ATTEMPTS],
        );
        let parked = Put::builder()
            .table_name(&self.table)
            .item(table::KEY, s(key))
            .item(table::SORT, s(&table::parked_item(seq)))
            .item(table::BODY, s(body))
            .condition_expression("attribute_not_exists(#item)")
            .expression_attribute_names("#item", table::SORT)
            .build()
            .map(|put| TransactWriteItem::builder().put(put).build());
        let parked = parked.map_err(|e| self.build_error(key, e))?;
        self.transact("TransactWriteItems (park)", key, vec![update, Ok(parked)])
            .await
    }

    /// A KO under `skip`: `done#<id>` (so a redelivery does not run it again) and the
    /// failure cleared, the state unchanged.
    pub async fn skip(
        &self,
        key: &str,
        read: &KeyState,
        event_id: &str,
    ) -> Result<Write, StoreError> {
        let update = self.state_update(key, read, vec![], &[table::FAILING, table::ATTEMPTS]);
        let done = self.done_marker(key, event_id);
        self.transact("TransactWriteItems (skip)", key, vec![update, done])
            .await
    }

    fn build_error(&self, key: &str, error: impl std::fmt::Display) -> StoreError {
        StoreError {
            table: self.table.clone(),
            operation: "TransactWriteItems",
            key: key.to_string(),
            message: format!("cannot build the request: {error}"),
        }
    }

    /// The versioned update of the state item, as a transaction item.
    fn state_update(
        &self,
        key: &str,
        read: &KeyState,
        set: Vec<(&str, AttributeValue)>,
        remove: &[&str],
    ) -> Result<TransactWriteItem, StoreError> {
        let (expression, mut names, mut values) = update_expression(read.version + 1, set, remove);
        let condition = version_condition(read).merge(&mut names, &mut values);
        let update = Update::builder()
            .table_name(&self.table)
            .key(table::KEY, s(key))
            .key(table::SORT, s(table::STATE_ITEM))
            .update_expression(expression)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| self.build_error(key, e))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// `done#<id>`, written only if absent, expiring after [`table::DONE_DAYS`].
    fn done_marker(&self, key: &str, event_id: &str) -> Result<TransactWriteItem, StoreError> {
        let expires = now_seconds() + table::DONE_DAYS * 24 * 3600;
        let put = Put::builder()
            .table_name(&self.table)
            .item(table::KEY, s(key))
            .item(table::SORT, s(&table::done_item(event_id)))
            .item(table::EXPIRES, n(expires))
            .condition_expression("attribute_not_exists(#item)")
            .expression_attribute_names("#item", table::SORT)
            .build()
            .map_err(|e| self.build_error(key, e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    async fn transact(
        &self,
        operation: &'static str,
        key: &str,
        items: Vec<Result<TransactWriteItem, StoreError>>,
    ) -> Result<Write, StoreError> {
        let items = items.into_iter().collect::<Result<Vec<_>, _>>()?;
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Write::Written),
            Err(SdkError::ServiceError(e)) if is_conflict(e.err()) => Ok(Write::Conflict),
            Err(e) => Err(self.error(operation, key, e)),
        }
    }
}

type Item = HashMap<String, AttributeValue>;

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_string())
}

fn n(number: u64) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

/// A cancelled transaction whose reason is a condition (the item changed, or the marker
/// exists) or a concurrent transaction on the same items: both mean "read again".
fn is_conflict(error: &TransactWriteItemsError) -> bool {
    match error {
        TransactWriteItemsError::TransactionCanceledException(cancelled) => {
            let reasons = cancelled.cancellation_reasons();
            reasons.is_empty()
                || reasons.iter().any(|r| {
                    matches!(
                        r.code(),
                        Some("ConditionalCheckFailed") | Some("TransactionConflict")
                    )
                })
        }
        TransactWriteItemsError::TransactionInProgressException(_) => true,
        _ => false,
    }
}

/// `SET #n0 = :v0, … REMOVE …` with the version set to `next`; attribute names through
/// placeholders (`state`, `key`, `item` are DynamoDB reserved words).
fn update_expression(
    next: u64,
    set: Vec<(&str, AttributeValue)>,
    remove: &[&str],
) -> (
    String,
    HashMap<String, String>,
    HashMap<String, AttributeValue>,
) {
    let mut names = HashMap::new();
    let mut values = HashMap::new();
    let mut sets = Vec::new();
    let all = std::iter::once((table::VERSION, n(next))).chain(set);
    for (i, (name, value)) in all.enumerate() {
        names.insert(format!("#s{i}"), name.to_string());
        values.insert(format!(":s{i}"), value);
        sets.push(format!("#s{i} = :s{i}"));
    }
    let mut expression = format!("SET {}", sets.join(", "));
    if !remove.is_empty() {
        let removes: Vec<String> = (0..remove.len()).map(|i| format!("#r{i}")).collect();
        for (i, name) in remove.iter().enumerate() {
            names.insert(format!("#r{i}"), name.to_string());
        }
        expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
    }
    (expression, names, values)
}

/// The condition that the state item is still as read: its version, or still absent.
/// (DynamoDB refuses placeholders an expression does not use, so each side names only its own.)
fn version_condition(read: &KeyState) -> Condition {
    if read.exists {
        Condition {
            expression: "#version = :read_version".into(),
            name: ("#version", table::VERSION),
            value: Some((":read_version", n(read.version))),
        }
    } else {
        Condition {
            expression: "attribute_not_exists(#item)".into(),
            name: ("#item", table::SORT),
            value: None,
        }
    }
}

struct Condition {
    expression: String,
    name: (&'static str, &'static str),
    value: Option<(&'static str, AttributeValue)>,
}

impl Condition {
    /// Adds its placeholders to an update's and returns the expression.
    fn merge(
        self,
        names: &mut HashMap<String, String>,
        values: &mut HashMap<String, AttributeValue>,
    ) -> String {
        names.insert(self.name.0.to_string(), self.name.1.to_string());
        if let Some((placeholder, value)) = self.value {
            values.insert(placeholder.to_string(), value);
        }
        self.expression
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_name_every_attribute_through_placeholders() {
        let (expression, names, values) = update_expression(
            4,
            vec![(table::STATE, s("{}")), (table::LAST_EVENT, s("e-1"))],
            &[table::FAILING, table::ATTEMPTS],
        );
        assert_eq!(
            expression,
            "SET #s0 = :s0, #s1 = :s1, #s2 = :s2 REMOVE #r0, #r1"
        );
        assert_eq!(names["#s0"], "version");
        assert_eq!(names["#s1"], "state");
        assert_eq!(names["#r1"], "attempts");
        assert_eq!(values[":s0"], n(4));
        let (mut names, mut values) = (HashMap::new(), HashMap::new());
        let condition = version_condition(&KeyState::default()).merge(&mut names, &mut values);
        assert_eq!(condition, "attribute_not_exists(#item)");
        assert_eq!(names["#item"], "item");
        assert!(values.is_empty());
        let read = KeyState {
            exists: true,
            version: 3,
            ..KeyState::default()
        };
        let condition = version_condition(&read).merge(&mut names, &mut values);
        assert_eq!(condition, "#version = :read_version");
        assert_eq!(values[":read_version"], n(3));
    }

    #[test]
    fn attempts_count_only_for_the_failing_event() {
        let read = KeyState {
            failing: Some("e-2".into()),
            attempts: 2,
            ..KeyState::default()
        };
        assert_eq!(read.attempts_of("e-2"), 2);
        assert_eq!(read.attempts_of("e-3"), 0);
    }
}
