//! A deployed project's subscriptions as `flowctl status` and `flowctl events ls --target`
//! show them: per subscription the queue's depth, the messages in flight, the dead-letter
//! queue's depth and the parked keys, read from SQS and the state tables.

use super::target::Connection;
use crate::cmd::out;
use flowctl_aws::events::{self, SubscriptionStatus};
use flowctl_lang::manifest::Manifest;

/// The numbers of every subscription of `manifest` (and the implicit `<name>:ko` of a KO
/// handler) as deployed; empty when the manifest has none.
pub fn fetch(
    connection: &Connection,
    manifest: &Manifest,
) -> Result<Vec<SubscriptionStatus>, flowctl_aws::CallError> {
    let names = events::subscription_names(manifest);
    if names.is_empty() {
        return Ok(Vec::new());
    }
    connection.runtime.block_on(events::status(
        &connection.clients,
        &connection.account,
        &manifest.project,
        &names,
    ))
}

/// One line per subscription, under a header.
pub fn print(rows: &[SubscriptionStatus]) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    out::println(format_args!(
        "  {:<24} {:>7} {:>9} {:>5}  parked keys",
        "subscription", "queued", "in flight", "DLQ"
    ))?;
    for row in rows {
        if !row.deployed {
            out::println(format_args!(
                "  {:<24} not deployed (no queue {})",
                row.subscription, row.queue
            ))?;
            continue;
        }
        let parked = match row.parked_keys.len() {
            0 => "-".to_string(),
            n if n <= 5 => row.parked_keys.join(", "),
            n => format!("{} and {} more", row.parked_keys[..5].join(", "), n - 5),
        };
        out::println(format_args!(
            "  {:<24} {:>7} {:>9} {:>5}  {parked}",
            row.subscription, row.depth, row.in_flight, row.dlq_depth
        ))?;
    }
    Ok(())
}
