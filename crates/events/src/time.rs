//! Wall-clock time as the log records it (unix milliseconds) and shows it (RFC 3339, UTC).

pub use flowctl_protocol::calendar::rfc3339_millis;

/// Now, in unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
