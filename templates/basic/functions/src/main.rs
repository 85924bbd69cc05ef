//! The project's functions, served by flowctl-shim. Run as a Lambda (or by `flowctl invoke`,
//! through flowctl's local Lambda Runtime API) it serves the functions its unit hosts; run by
//! hand it is a small command-line tool: `describe` prints every function's input and output
//! JSON Schemas, `invoke Greet '{"name": "Ada"}'` calls one function.

use flowctl_shim::{Error, Props, Registry};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Every function of the project, under the names the manifest (`flowctl.yaml`) gives them.
fn registry() -> Registry {
    let idempotent = |description: &str| Props {
        idempotent: true,
        description: Some(description.to_string()),
        ..Props::default()
    };
    Registry::new()
        .function_with(
            "Normalize",
            normalize,
            idempotent("Tidies a name: trimmed, each word capitalised"),
        )
        .function_with("Greet", greet, idempotent("Says hello"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    registry().run().await;
}

/// A name as someone typed it.
#[derive(Debug, Deserialize, JsonSchema)]
struct Person {
    name: String,
}

/// A tidied name, and whether it is one at all.
#[derive(Debug, PartialEq, Serialize, JsonSchema)]
struct Name {
    name: String,
    /// False when the name has no letter in it.
    valid: bool,
}

/// `"  ada   lovelace "` → `"Ada Lovelace"`.
async fn normalize(person: Person) -> Result<Name, Error> {
    let name = person
        .name
        .split_whitespace()
        .map(capitalise)
        .collect::<Vec<_>>()
        .join(" ");
    let valid = name.chars().any(char::is_alphabetic);
    Ok(Name { name, valid })
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// What `Greet` is asked for.
#[derive(Debug, Deserialize, JsonSchema)]
struct GreetInput {
    name: String,
}

/// What `Greet` answers.
#[derive(Debug, PartialEq, Serialize, JsonSchema)]
struct Greeting {
    message: String,
}

/// The longest name `Greet` accepts.
const MAX_NAME: usize = 60;

/// A named error (`NameTooLong`) is what a flow's `retry(on: [...])` and
/// `catch(err, on: [...])` match.
async fn greet(input: GreetInput) -> Result<Greeting, Error> {
    if input.name.chars().count() > MAX_NAME {
        return Err(Error::new(
            "NameTooLong",
            format!("a name has at most {MAX_NAME} characters"),
        ));
    }
    Ok(Greeting {
        message: format!("Hello, {}!", input.name),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    async fn call(name: &str, input: Value) -> Result<Value, Error> {
        registry().call(name, input).await
    }

    #[tokio::test]
    async fn names_are_tidied_and_checked() {
        let name = call("Normalize", json!({"name": "  ada   lovelace "})).await;
        assert_eq!(
            name.unwrap(),
            json!({"name": "Ada Lovelace", "valid": true})
        );
        let name = call("Normalize", json!({"name": " 42 "})).await;
        assert_eq!(name.unwrap(), json!({"name": "42", "valid": false}));
    }

    #[tokio::test]
    async fn greet_says_hello_or_names_its_error() {
        let greeting = call("Greet", json!({"name": "Ada"})).await;
        assert_eq!(greeting.unwrap(), json!({"message": "Hello, Ada!"}));
        let error = call("Greet", json!({"name": "x".repeat(MAX_NAME + 1)})).await;
        assert_eq!(error.unwrap_err().name(), "NameTooLong");
    }

    /// The functions registered here are exactly the manifest's.
    #[test]
    fn the_registry_serves_the_manifest_functions() {
        let registry = registry();
        assert_eq!(registry.problems(), Vec::<String>::new());
        let registered: Vec<String> = registry
            .describe()
            .functions
            .into_iter()
            .map(|f| f.name)
            .collect();
        let manifest = include_str!("../../flowctl.yaml");
        let declared: Vec<String> = manifest
            .split("\nfunctions:\n")
            .nth(1)
            .and_then(|rest| rest.split("\nflows:").next())
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.strip_prefix("  ")?.strip_suffix(':'))
            .filter(|key| !key.starts_with(' '))
            .map(String::from)
            .collect();
        assert_eq!(registered, declared);
    }
}
