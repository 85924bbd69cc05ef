//! The AWS SDK against the test binary's shared moto server (`Moto::shared`): its
//! configuration with the test credentials, FIFO queues and state tables created as deploy
//! creates them, a queue drained, an item read, a subscription's route to a queue.
//!
//! Build the clients inside the test that uses them: the SDK's connections belong to the
//! runtime they were made on, and every `#[tokio::test]` has its own.

use crate::moto::Moto;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};
use flowctl_protocol::subscriber::{table, Route};
use serde_json::Value;
use std::collections::HashMap;

/// The region of every test client (moto serves any).
pub const REGION: &str = "us-east-1";
/// The access key id and secret of the test credentials (moto takes any); also what a
/// process the tests start against moto is given.
pub const ACCESS_KEY_ID: &str = "testing";
pub const SECRET_ACCESS_KEY: &str = "testing";

/// The SDK configuration for the shared moto server: its endpoint, [`REGION`], the test
/// credentials.
pub async fn config() -> aws_config::SdkConfig {
    let moto = Moto::shared();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(&moto.endpoint)
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            ACCESS_KEY_ID,
            SECRET_ACCESS_KEY,
            None,
            None,
            "tests",
        ))
        .load()
        .await
}

/// Creates the FIFO queue `<name>.fifo` with the attributes deploy gives a queue
/// (`flowctl_aws::wiring::queue_attributes`, no dead-letter queue), and the visibility
/// timeout `visibility` (seconds) when given; returns its URL.
pub async fn fifo_queue(sqs: &aws_sdk_sqs::Client, name: &str, visibility: Option<u32>) -> String {
    let mut create = sqs.create_queue().queue_name(format!("{name}.fifo"));
    for (attribute, value) in flowctl_aws::wiring::queue_attributes(0, None) {
        create = create.attributes(QueueAttributeName::from(attribute.as_str()), value);
    }
    if let Some(seconds) = visibility {
        create = create.attributes(QueueAttributeName::VisibilityTimeout, seconds.to_string());
    }
    create
        .send()
        .await
        .unwrap_or_else(|e| panic!("moto creates the queue {name}.fifo: {e:?}"))
        .queue_url
        .expect("a queue URL")
}

/// Creates the table `name` keyed as a subscription's state table and the cursor table are:
/// the partition key [`table::KEY`] and the sort key [`table::SORT`], both strings.
pub async fn table(dynamodb: &aws_sdk_dynamodb::Client, name: &str) {
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap()
    };
    dynamodb
        .create_table()
        .table_name(name)
        .attribute_definitions(attribute(table::KEY))
        .attribute_definitions(attribute(table::SORT))
        .key_schema(key(table::KEY, KeyType::Hash))
        .key_schema(key(table::SORT, KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap_or_else(|e| panic!("moto creates the table {name}: {e:?}"));
}

/// One receive from a queue: up to 10 messages, with their system attributes (left in
/// flight: their receipt handles are the caller's).
pub async fn receive(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Vec<Message> {
    sqs.receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default()
}

/// A system attribute of a received message (its group id, its deduplication id…), or "".
pub fn system_attribute(message: &Message, name: MessageSystemAttributeName) -> String {
    message
        .attributes
        .as_ref()
        .and_then(|a| a.get(&name))
        .cloned()
        .unwrap_or_default()
}

/// Every message on a queue, received and deleted: (group id, deduplication id, body as
/// JSON), in the order received.
pub async fn drain(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Vec<(String, String, Value)> {
    let mut messages = Vec::new();
    loop {
        let received = receive(sqs, queue_url).await;
        if received.is_empty() {
            return messages;
        }
        for m in received {
            messages.push((
                system_attribute(&m, MessageSystemAttributeName::MessageGroupId),
                system_attribute(&m, MessageSystemAttributeName::MessageDeduplicationId),
                serde_json::from_str(m.body().unwrap_or_default()).expect("a JSON body"),
            ));
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(m.receipt_handle.unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

/// The item (`key`, `item`) of a table created by [`table`], read consistently.
pub async fn item(
    dynamodb: &aws_sdk_dynamodb::Client,
    table_name: &str,
    key: &str,
    item: &str,
) -> Option<HashMap<String, AttributeValue>> {
    dynamodb
        .get_item()
        .table_name(table_name)
        .key(table::KEY, AttributeValue::S(key.into()))
        .key(table::SORT, AttributeValue::S(item.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

/// The route of `subscription` to its queue: every type, the event's own key.
pub fn route(subscription: &str, queue_url: &str) -> Route {
    Route {
        subscription: subscription.into(),
        queue_url: queue_url.into(),
        types: vec![],
        key: None,
    }
}
