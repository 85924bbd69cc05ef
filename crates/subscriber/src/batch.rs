//! The pure planning of one SQS batch (Lambda's `{"Records": […]}`): its records grouped by
//! message group in batch order, a group stopping at its first failure, and the
//! `batchItemFailures` response that hands exactly the failed records and the rest of their
//! groups back to SQS. No I/O: `run` does the work between planning and answering.

use serde_json::{json, Value};

/// One usable SQS record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    /// `attributes.MessageGroupId`.
    pub group: String,
}

/// A record that cannot be run: its message id (when it has one, so it can be reported) and
/// why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unusable {
    pub message_id: Option<String>,
    pub reason: String,
}

/// One message group's records, in batch order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: String,
    pub records: Vec<Record>,
}

impl Group {
    /// The message ids reported failed when the record at `first_failure` fails: it and
    /// every later record of the group (they must not run before it does).
    pub fn failed_from(&self, first_failure: usize) -> impl Iterator<Item = &str> {
        self.records
            .iter()
            .skip(first_failure)
            .map(|r| r.message_id.as_str())
    }
}

/// A batch, planned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Groups in the order of their first record in the batch.
    pub groups: Vec<Group>,
    pub unusable: Vec<Unusable>,
}

impl Plan {
    /// The message ids of the unusable records that can be reported.
    pub fn unusable_ids(&self) -> impl Iterator<Item = &str> {
        self.unusable.iter().filter_map(|u| u.message_id.as_deref())
    }
}

/// The payload is not an SQS batch at all (no `Records` list): no record can be named, so
/// the whole invocation fails and SQS hands the batch back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the invocation is not an SQS batch: {0}")]
pub struct InvalidBatch(pub String);

/// Plans a batch: every record either in its group or unusable, never dropped silently.
pub fn plan(event: &Value) -> Result<Plan, InvalidBatch> {
    let records = event
        .get("Records")
        .and_then(Value::as_array)
        .ok_or_else(|| InvalidBatch("it has no `Records` list".into()))?;
    let mut plan = Plan::default();
    for record in records {
        match read_record(record) {
            Ok(record) => match plan.groups.iter_mut().find(|g| g.id == record.group) {
                Some(group) => group.records.push(record),
                None => plan.groups.push(Group {
                    id: record.group.clone(),
                    records: vec![record],
                }),
            },
            Err(unusable) => plan.unusable.push(unusable),
        }
    }
    Ok(plan)
}

fn read_record(record: &Value) -> Result<Record, Unusable> {
    let text = |field: &str| {
        record
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let message_id = text("messageId");
    let unusable = |reason: &str| Unusable {
        message_id: message_id.clone(),
        reason: reason.to_string(),
    };
    let Some(id) = message_id.clone().filter(|id| !id.is_empty()) else {
        return Err(unusable("the record has no `messageId`"));
    };
    let receipt_handle = text("receiptHandle").ok_or_else(|| unusable("no `receiptHandle`"))?;
    let body = text("body").ok_or_else(|| unusable("no `body` string"))?;
    let group = record
        .pointer("/attributes/MessageGroupId")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            unusable("no `attributes.MessageGroupId`: the subscriber reads FIFO queues only")
        })?;
    Ok(Record {
        message_id: id,
        receipt_handle,
        body,
        group: group.to_string(),
    })
}

/// The answer to Lambda's event source mapping (`ReportBatchItemFailures`): the listed
/// messages go back to the queue, the others are deleted.
pub fn response<'a>(failed: impl IntoIterator<Item = &'a str>) -> Value {
    let items: Vec<Value> = failed
        .into_iter()
        .map(|id| json!({ "itemIdentifier": id }))
        .collect();
    json!({ "batchItemFailures": items })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, group: &str) -> Value {
        json!({
            "messageId": id,
            "receiptHandle": format!("rh-{id}"),
            "body": format!("{{\"id\":\"{id}\"}}"),
            "attributes": {"MessageGroupId": group, "ApproximateReceiveCount": "1"},
            "eventSource": "aws:sqs",
        })
    }

    fn ids(group: &Group) -> Vec<&str> {
        group
            .records
            .iter()
            .map(|r| r.message_id.as_str())
            .collect()
    }

    #[test]
    fn mixed_groups_keep_batch_order_within_and_first_appearance_across() {
        let event = json!({"Records": [
            record("a1", "a"), record("b1", "b"), record("a2", "a"),
            record("c1", "c"), record("b2", "b"), record("a3", "a"),
        ]});
        let plan = plan(&event).unwrap();
        let groups: Vec<(&str, Vec<&str>)> = plan
            .groups
            .iter()
            .map(|g| (g.id.as_str(), ids(g)))
            .collect();
        assert_eq!(
            groups,
            [
                ("a", vec!["a1", "a2", "a3"]),
                ("b", vec!["b1", "b2"]),
                ("c", vec!["c1"])
            ]
        );
        assert!(plan.unusable.is_empty());
        assert_eq!(plan.groups[0].records[1].receipt_handle, "rh-a2");
    }

    #[test]
    fn a_failure_fails_the_rest_of_its_group_only() {
        let event = json!({"Records": [
            record("a1", "a"), record("b1", "b"), record("a2", "a"), record("a3", "a"),
        ]});
        let plan = plan(&event).unwrap();
        let failed: Vec<&str> = plan.groups[0].failed_from(1).collect();
        assert_eq!(failed, ["a2", "a3"]);
        assert_eq!(
            response(failed),
            json!({"batchItemFailures": [{"itemIdentifier": "a2"}, {"itemIdentifier": "a3"}]})
        );
        assert_eq!(plan.groups[1].failed_from(1).count(), 0);
        assert_eq!(response([]), json!({"batchItemFailures": []}));
    }

    #[test]
    fn malformed_records_are_reported_not_dropped_and_never_panic() {
        let mut no_group = record("x", "a");
        no_group["attributes"] = json!({});
        let mut no_body = record("y", "a");
        no_body["body"] = json!(12);
        let event =
            json!({"Records": [no_group, no_body, {"messageId": 3}, "text", record("ok", "g")]});
        let plan = plan(&event).unwrap();
        assert_eq!(plan.unusable_ids().collect::<Vec<_>>(), ["x", "y"]);
        assert_eq!(plan.unusable.len(), 4);
        assert_eq!(plan.groups.len(), 1);
        for bad in [
            json!(null),
            json!([]),
            json!({"Records": {}}),
            json!("Records"),
        ] {
            assert!(super::plan(&bad).is_err(), "{bad}");
        }
        assert_eq!(
            super::plan(&json!({"Records": []})).unwrap(),
            Plan::default()
        );
    }
}
