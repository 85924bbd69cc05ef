//! The error a function returns: a name (Lambda's `errorType`, what a flow's `retry(on: …)`
//! and `catch(err, on: …)` match) and a message (`errorMessage`, what a flow reads as
//! `err.Cause`).

use serde_json::{json, Value};
use std::fmt;

/// Names the shim itself gives to failures that are not the function's own error.
pub mod names {
    /// An envelope named a function this process does not serve.
    pub const FUNCTION_NOT_FOUND: &str = "FunctionNotFound";
    /// The payload does not deserialize into the function's input type.
    pub const INVALID_INPUT: &str = "InvalidInput";
    /// The function's output could not be serialized to JSON.
    pub const INVALID_OUTPUT: &str = "InvalidOutput";
    /// A payload that should have been an envelope is not one (a unit serving several
    /// functions), or a chain envelope is malformed.
    pub const INVALID_ENVELOPE: &str = "InvalidEnvelope";
    /// A chain's `$var` reference names a field or index that the value does not have.
    pub const PATH_NOT_FOUND: &str = "PathNotFound";
    /// The function panicked.
    pub const PANIC: &str = "Panic";
}

/// A named error. Build one with [`Error::new`] when a flow should be able to tell it apart
/// (`Error::new("PaymentDeclined", "card refused")`); `?` on any [`std::error::Error`] turns it
/// into one named after its type (see [`From`]).
///
/// Like `anyhow::Error`, this type deliberately does not implement `std::error::Error`
/// itself: that is what lets `?` convert every other error into it.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    name: String,
    message: String,
}

impl Error {
    /// An error whose `errorType` is `name` and whose `errorMessage` is `message`.
    pub fn new(name: impl Into<String>, message: impl Into<String>) -> Error {
        Error {
            name: name.into(),
            message: message.into(),
        }
    }

    /// The name: Lambda's `errorType`, Step Functions' `Error`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The message: Lambda's `errorMessage`, Step Functions' `Cause` (inside its JSON).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// `{"errorType": …, "errorMessage": …}`, the body Lambda's Runtime API takes for an
    /// error and what `invoke` prints.
    pub fn to_json(&self) -> Value {
        json!({ "errorType": self.name, "errorMessage": self.message })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}: {}", self.name, self.message)
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("name", &self.name)
            .field("message", &self.message)
            .finish()
    }
}

/// `?` on any standard error: the name is derived from the error's type (see
/// [`name_of_type`]) and the message is its `Display`, followed by its sources.
impl<E: std::error::Error> From<E> for Error {
    fn from(error: E) -> Error {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            // Many errors repeat their source in their own message; say it once.
            if !message.ends_with(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            source = cause.source();
        }
        Error {
            name: name_of_type(std::any::type_name::<E>()),
            message,
        }
    }
}

/// A short, readable error name from a Rust type path (as `std::any::type_name` spells it):
/// the last path segment without generic arguments (`core::num::error::ParseIntError` →
/// `ParseIntError`); a bare `Error` is qualified by the nearest module that says more, in
/// CamelCase (`std::io::error::Error` → `IoError`, `serde_json::error::Error` →
/// `SerdeJsonError`). Rust does not promise that type names are stable across compiler
/// versions: flows that match on a name should get it from [`Error::new`].
pub fn name_of_type(type_path: &str) -> String {
    let without_generics = type_path.split('<').next().unwrap_or(type_path);
    let segments: Vec<&str> = without_generics
        .split("::")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let Some(&last) = segments.last() else {
        return "Error".to_string();
    };
    if last != "Error" {
        return last.to_string();
    }
    let qualifier = segments
        .iter()
        .rev()
        .skip(1)
        .find(|segment| !segment.eq_ignore_ascii_case("error"));
    match qualifier {
        Some(module) => format!("{}Error", camel_case(module)),
        None => "Error".to_string(),
    }
}

fn camel_case(snake: &str) -> String {
    snake
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_type() {
        assert_eq!(
            name_of_type("core::num::error::ParseIntError"),
            "ParseIntError"
        );
        assert_eq!(name_of_type("std::io::error::Error"), "IoError");
        assert_eq!(name_of_type("serde_json::error::Error"), "SerdeJsonError");
        assert_eq!(name_of_type("my_crate::Error"), "MyCrateError");
        assert_eq!(name_of_type("Error"), "Error");
        assert_eq!(
            name_of_type("alloc::boxed::Box<dyn core::error::Error>"),
            "Box"
        );
        assert_eq!(name_of_type(""), "Error");
    }

    #[test]
    fn question_mark_names_std_errors() {
        fn parse(text: &str) -> Result<i64, Error> {
            Ok(text.parse::<i64>()?)
        }
        let error = parse("seven").unwrap_err();
        assert_eq!(error.name(), "ParseIntError");
        assert_eq!(error.message(), "invalid digit found in string");

        fn read() -> Result<Vec<u8>, Error> {
            Ok(std::fs::read("/nonexistent/flowctl-shim")?)
        }
        assert_eq!(read().unwrap_err().name(), "IoError");

        fn decode() -> Result<serde_json::Value, Error> {
            Ok(serde_json::from_str("{")?)
        }
        assert_eq!(decode().unwrap_err().name(), "SerdeJsonError");
    }

    #[test]
    fn sources_are_appended_once() {
        #[derive(Debug)]
        struct Outer(std::num::ParseIntError);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("could not read the amount")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let inner = "x".parse::<i32>().unwrap_err();
        let error = Error::from(Outer(inner));
        assert_eq!(error.name(), "Outer");
        assert_eq!(
            error.message(),
            "could not read the amount: invalid digit found in string"
        );
    }

    #[test]
    fn json_carries_name_and_message() {
        let error = Error::new("PaymentDeclined", "card refused");
        assert_eq!(
            error.to_json(),
            json!({"errorType": "PaymentDeclined", "errorMessage": "card refused"})
        );
        assert_eq!(error.to_string(), "PaymentDeclined: card refused");
    }
}
