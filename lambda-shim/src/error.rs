//! The function error (defined in `flowctl-protocol`, the format the engine shares) as
//! `lambda_runtime` reports it: `errorType` is the name, `errorMessage` the message.

use flowctl_protocol::Error;

/// What the Runtime API is told when a function fails.
pub(crate) fn diagnostic(error: Error) -> lambda_runtime::Diagnostic {
    lambda_runtime::Diagnostic {
        error_type: error.name().to_string(),
        error_message: error.message().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostic_carries_name_and_message() {
        let d = diagnostic(Error::new("PaymentDeclined", "card refused"));
        assert_eq!(d.error_type, "PaymentDeclined");
        assert_eq!(d.error_message, "card refused");
    }
}
