//! Amazon States Language and Step Functions facts: the `States.*` error names, the quotas a
//! document or an execution can reach, and the Lambda resources a `Task` can name. The
//! compiler checks flows against them, the engine enforces them, the path counter reads them.

/// The error names Step Functions defines (<https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html>).
/// `States.` is reserved for them: another `States.*` name never matches anything.
pub mod errors {
    pub const ALL: &str = "States.ALL";
    pub const BRANCH_FAILED: &str = "States.BranchFailed";
    pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
    pub const EXCEED_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedToleratedFailureThreshold";
    pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
    pub const HTTP_SOCKET: &str = "States.Http.Socket";
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
    pub const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";
    pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
    pub const PARAMETER_PATH_FAILURE: &str = "States.ParameterPathFailure";
    pub const PERMISSIONS: &str = "States.Permissions";
    pub const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";
    pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
    pub const RESULT_WRITER_FAILED: &str = "States.ResultWriterFailed";
    pub const RUNTIME: &str = "States.Runtime";
    pub const TASK_FAILED: &str = "States.TaskFailed";
    pub const TIMEOUT: &str = "States.Timeout";

    /// Every name above, sorted.
    pub const KNOWN: &[&str] = &[
        ALL,
        BRANCH_FAILED,
        DATA_LIMIT_EXCEEDED,
        EXCEED_TOLERATED_FAILURE_THRESHOLD,
        HEARTBEAT_TIMEOUT,
        HTTP_SOCKET,
        INTRINSIC_FAILURE,
        ITEM_READER_FAILED,
        NO_CHOICE_MATCHED,
        PARAMETER_PATH_FAILURE,
        PERMISSIONS,
        QUERY_EVALUATION_ERROR,
        RESULT_PATH_MATCH_FAILURE,
        RESULT_WRITER_FAILED,
        RUNTIME,
        TASK_FAILED,
        TIMEOUT,
    ];

    /// Errors that end the execution whatever its `Retry` and `Catch` say: neither
    /// `States.ALL` nor their own name matches them.
    pub fn is_terminal(error: &str) -> bool {
        matches!(error, RUNTIME | DATA_LIMIT_EXCEEDED)
    }

    /// The prefix reserved for the names above.
    pub const PREFIX: &str = "States.";
}

/// Largest number ASL accepts for seconds (timeouts, intervals, waits) and for
/// `MaxAttempts`.
pub const MAX_SECONDS: u64 = 99_999_999;
/// Longest state name Step Functions accepts.
pub const MAX_STATE_NAME_CHARS: usize = 80;
/// Largest state machine definition (bytes).
pub const MAX_DEFINITION_BYTES: usize = 1_048_576;
/// Largest input or output of a task, a state or an execution (bytes, UTF-8): 256 KiB.
pub const MAX_PAYLOAD_BYTES: usize = 262_144;
/// Whether `value`, as Step Functions counts it (its compact JSON text, UTF-8 bytes), is over
/// [`MAX_PAYLOAD_BYTES`]. Serialising stops as soon as the quota is passed, so a huge value
/// costs no more than the quota to judge.
pub fn over_payload_quota(value: &serde_json::Value) -> bool {
    // The engine asks after every state: a walk that only adds lengths settles the common,
    // small case without formatting a number or a string.
    if size_bound(value, MAX_PAYLOAD_BYTES) <= MAX_PAYLOAD_BYTES {
        return false;
    }
    payload_bytes_up_to(value, MAX_PAYLOAD_BYTES) > MAX_PAYLOAD_BYTES
}

/// At least the size of `value`'s compact JSON text (every string character counted as its
/// longest escape, `\u001f`; every number as 24 bytes), or something over `limit` as soon as
/// that is certain.
fn size_bound(value: &serde_json::Value, limit: usize) -> usize {
    use serde_json::Value;
    match value {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => 24,
        Value::String(s) => 2 + 6 * s.len(),
        Value::Array(items) => {
            let mut total = 2 + items.len();
            for item in items {
                total += size_bound(item, limit);
                if total > limit {
                    break;
                }
            }
            total
        }
        Value::Object(fields) => {
            let mut total = 2 + 2 * fields.len();
            for (key, item) in fields {
                total += 2 + 6 * key.len() + size_bound(item, limit);
                if total > limit {
                    break;
                }
            }
            total
        }
    }
}

/// The size of `value`'s compact JSON text in bytes (UTF-8, as Step Functions counts payloads and
/// variables), counted up to `limit + 1` at most.
pub fn payload_bytes_up_to(value: &serde_json::Value, limit: usize) -> usize {
    struct Counter {
        bytes: usize,
        limit: usize,
    }
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.bytes += buf.len();
            if self.bytes > self.limit {
                // Ends the serialisation: the answer is known.
                return Err(std::io::ErrorKind::FileTooLarge.into());
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter { bytes: 0, limit };
    let _ = serde_json::to_writer(&mut counter, value);
    counter.bytes.min(limit.saturating_add(1))
}

/// Longest execution history of a Standard workflow (events).
pub const MAX_HISTORY_EVENTS: u64 = 25_000;
/// Longest execution of a Standard workflow (365 days).
pub const MAX_EXECUTION_SECONDS: u64 = 365 * 24 * 3600;
/// Longest Lambda function ARN: `arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:`
/// (57) + a 64-character name, rounded up.
pub const MAX_FUNCTION_ARN_BYTES: usize = 140;

/// The `Resource` of Step Functions' optimised Lambda integration (what flowctl generates).
pub const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";

/// A `Task` resource that calls Lambda.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LambdaResource {
    /// `arn:<partition>:states:::lambda:invoke`: the function is in `Parameters.FunctionName`.
    Invoke,
    /// `arn:<partition>:states:::lambda:invoke.waitForTaskToken`: the same, but the state
    /// waits for a callback with its task token.
    InvokeWaitForTaskToken,
    /// `arn:<partition>:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`: the function itself.
    FunctionArn,
}

/// Which Lambda resource a `Task`'s `Resource` is, if it is one (any AWS partition).
pub fn lambda_resource(resource: &str) -> Option<LambdaResource> {
    // arn:<partition>:<service>:<region>:<account>:<resource, which may hold colons>
    let parts: Vec<&str> = resource.splitn(6, ':').collect();
    let ["arn", partition, service, region, account, rest] = parts.as_slice() else {
        return None;
    };
    if !is_partition(partition) {
        return None;
    }
    match (*service, *region, *account, *rest) {
        ("states", "", "", "lambda:invoke") => Some(LambdaResource::Invoke),
        ("states", "", "", "lambda:invoke.waitForTaskToken") => {
            Some(LambdaResource::InvokeWaitForTaskToken)
        }
        ("lambda", region, account, rest) if !region.is_empty() && !account.is_empty() => {
            let function = rest.strip_prefix("function:")?;
            // NAME or NAME:QUALIFIER
            let mut name = function.split(':');
            let valid = name.next().is_some_and(|n| !n.is_empty())
                && name.next().is_none_or(|q| !q.is_empty())
                && name.next().is_none();
            valid.then_some(LambdaResource::FunctionArn)
        }
        _ => None,
    }
}

fn is_partition(partition: &str) -> bool {
    matches!(partition, "aws") || partition.starts_with("aws-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_errors_are_sorted_unique_and_reserved() {
        let mut sorted = errors::KNOWN.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, errors::KNOWN);
        assert_eq!(errors::KNOWN.len(), 17);
        assert!(errors::KNOWN.iter().all(|e| e.starts_with(errors::PREFIX)));
        assert!(errors::is_terminal(errors::DATA_LIMIT_EXCEEDED));
        assert!(!errors::is_terminal(errors::TIMEOUT));
    }

    #[test]
    fn payload_quota_counts_compact_utf8_json() {
        use serde_json::json;
        // `{"s":"…"}` is 8 bytes around the string; "é" is two bytes in UTF-8.
        let fits = json!({ "s": "x".repeat(MAX_PAYLOAD_BYTES - 8) });
        assert_eq!(payload_bytes_up_to(&fits, usize::MAX), MAX_PAYLOAD_BYTES);
        assert!(!over_payload_quota(&fits));
        let over = json!({ "s": format!("{}é", "x".repeat(MAX_PAYLOAD_BYTES - 9)) });
        assert!(over_payload_quota(&over));
        // Escapes count as written: `\n` is two bytes.
        assert_eq!(payload_bytes_up_to(&json!("a\nb"), usize::MAX), 6);
        // Strings of characters escaped six bytes long, near the quota, are counted exactly.
        let escaped = json!("\u{1}".repeat(MAX_PAYLOAD_BYTES / 6 - 1));
        assert_eq!(
            payload_bytes_up_to(&escaped, usize::MAX),
            6 * (MAX_PAYLOAD_BYTES / 6 - 1) + 2
        );
        assert!(!over_payload_quota(&escaped));
        assert!(over_payload_quota(&json!([escaped, "\u{1}"])));
        // A value far over the quota is judged without writing it all.
        let huge = json!(vec!["y".repeat(1000); 10_000]);
        assert_eq!(
            payload_bytes_up_to(&huge, MAX_PAYLOAD_BYTES),
            MAX_PAYLOAD_BYTES + 1
        );
    }

    #[test]
    fn lambda_resources_in_every_partition() {
        use LambdaResource::*;
        for (resource, kind) in [
            (LAMBDA_INVOKE, Some(Invoke)),
            ("arn:aws-cn:states:::lambda:invoke", Some(Invoke)),
            (
                "arn:aws:states:::lambda:invoke.waitForTaskToken",
                Some(InvokeWaitForTaskToken),
            ),
            (
                "arn:aws:lambda:eu-west-1:123456789012:function:F",
                Some(FunctionArn),
            ),
            (
                "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:F:live",
                Some(FunctionArn),
            ),
            ("arn:aws:lambda:eu-west-1:123456789012:function:", None),
            ("arn:aws:lambda:eu-west-1:123456789012:layer:L", None),
            ("arn:aws:states:::lambda:invokeAsync", None),
            ("arn:aws:states:::sqs:sendMessage", None),
            ("arn:other:lambda:r:1:function:F", None),
            ("lambda", None),
            ("arn:aws", None),
        ] {
            assert_eq!(lambda_resource(resource), kind, "{resource}");
        }
    }
}
