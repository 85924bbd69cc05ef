//! The names of the AWS resources that wire a project's sources and subscriptions (queues,
//! tables, subscriber, ingest and poller functions, their roles, schedules), and AWS's limits on
//! them. Written once: `model` builds the desired state with them, `observe` finds by them,
//! `events` reads status through them. The units' and flows' names are
//! `flowctl_lang::manifest::names`.

use flowctl_lang::manifest::names::{LAMBDA_NAME_MAX, ROLE_NAME_MAX};

/// Longest SQS queue name, `.fifo` included.
pub const QUEUE_NAME_MAX: usize = 80;
/// Longest DynamoDB table name.
pub const TABLE_NAME_MAX: usize = 255;
/// Longest EventBridge Scheduler schedule (and schedule group) name.
pub const SCHEDULE_NAME_MAX: usize = 64;

/// What a FIFO queue's name must end with.
pub const FIFO_SUFFIX: &str = ".fifo";

/// A subscription's name as it appears in resource names: the implicit `S:ko` (`:` is not
/// allowed in AWS names, and cannot appear in a manifest name) becomes `S-ko`.
pub fn resource_part(subscription: &str) -> String {
    subscription.replace(':', "-")
}

/// The subscription's FIFO queue: `P-S.fifo`.
pub fn queue(project: &str, subscription: &str) -> String {
    format!("{project}-{}{FIFO_SUFFIX}", resource_part(subscription))
}

/// The subscription's dead-letter queue: `P-S-dlq.fifo`.
pub fn dead_letter_queue(project: &str, subscription: &str) -> String {
    format!("{project}-{}-dlq{FIFO_SUFFIX}", resource_part(subscription))
}

/// Whether a queue flowctl named is a dead-letter queue (created before, deleted after, the
/// queue whose redrive policy names it).
pub fn is_dead_letter_queue(name: &str) -> bool {
    name.ends_with(&format!("-dlq{FIFO_SUFFIX}"))
}

/// The subscription's state table: `P-S`.
pub fn table(project: &str, subscription: &str) -> String {
    format!("{project}-{}", resource_part(subscription))
}

/// The subscriber function, and its role: `P-sub-S`.
pub fn subscriber(project: &str, subscription: &str) -> String {
    format!("{project}-sub-{}", resource_part(subscription))
}

/// A webhook's or an Amazon MQ (`amqp`) source's ingest function, and its role: `P-in-SRC`.
pub fn ingest(project: &str, source: &str) -> String {
    format!("{project}-in-{source}")
}

/// A polled source's (`poll`, `postgres`) poller function, its role and its schedule:
/// `P-poll-SRC`.
pub fn poller(project: &str, source: &str) -> String {
    format!("{project}-poll-{source}")
}

/// The project's cursor table (`flowctl_protocol::subscriber::cursors`): `P-cursors`.
pub fn cursor_table(project: &str) -> String {
    format!("{project}-cursors")
}

/// The schedule of a schedule source for one subscription taking it: `P-SRC-S`.
pub fn schedule(project: &str, source: &str, subscription: &str) -> String {
    format!("{project}-{source}-{}", resource_part(subscription))
}

/// The project's schedule group: EventBridge Scheduler tags groups, not schedules, so the
/// group carries `flowctl:project` and holds every schedule of the project.
pub fn schedule_group(project: &str) -> String {
    format!("{project}-schedules")
}

/// The role EventBridge Scheduler assumes to send to the queues: `P-scheduler`.
pub fn scheduler_role(project: &str) -> String {
    format!("{project}-scheduler")
}

/// The prefixes of the role names flowctl gives event resources (for `observe`, which
/// cannot know the names of subscriptions removed from the manifest).
pub fn event_role_prefixes(project: &str) -> [String; 4] {
    [
        format!("{project}-sub-"),
        format!("{project}-in-"),
        format!("{project}-poll-"),
        scheduler_role(project),
    ]
}

/// What kind of name a limit applies to, for the message that refuses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Queue,
    Table,
    Function,
    Role,
    Schedule,
}

impl NameKind {
    pub fn max(self) -> usize {
        match self {
            NameKind::Queue => QUEUE_NAME_MAX,
            NameKind::Table => TABLE_NAME_MAX,
            NameKind::Function => LAMBDA_NAME_MAX,
            NameKind::Role => ROLE_NAME_MAX,
            NameKind::Schedule => SCHEDULE_NAME_MAX,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NameKind::Queue => "SQS queue",
            NameKind::Table => "DynamoDB table",
            NameKind::Function => "Lambda function",
            NameKind::Role => "IAM role",
            NameKind::Schedule => "EventBridge schedule",
        }
    }
}

/// `Err(max)` when `name` is longer than AWS accepts for `kind`.
pub fn check(kind: NameKind, name: &str) -> Result<(), usize> {
    if name.len() > kind.max() {
        Err(kind.max())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_design() {
        assert_eq!(queue("shop", "book"), "shop-book.fifo");
        assert_eq!(
            dead_letter_queue("shop", "book:ko"),
            "shop-book-ko-dlq.fifo"
        );
        assert_eq!(table("shop", "book:ko"), "shop-book-ko");
        assert_eq!(subscriber("shop", "book"), "shop-sub-book");
        assert_eq!(ingest("shop", "hooks"), "shop-in-hooks");
        assert_eq!(schedule("shop", "nightly", "tidy"), "shop-nightly-tidy");
        assert_eq!(scheduler_role("shop"), "shop-scheduler");
        assert_eq!(poller("shop", "outbox"), "shop-poll-outbox");
        assert_eq!(cursor_table("shop"), "shop-cursors");
        assert_eq!(check(NameKind::Queue, &"q".repeat(80)), Ok(()));
        assert_eq!(check(NameKind::Queue, &"q".repeat(81)), Err(80));
        assert_eq!(check(NameKind::Schedule, &"s".repeat(65)), Err(64));
    }
}
