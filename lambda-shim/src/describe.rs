//! The registry as data: what `<bin> describe` prints and what flowctl reads at build time
//! (function names, input/output JSON Schemas, properties), and the JSON Schema of that
//! document (`<bin> describe --schema`).

use schemars::gen::SchemaGenerator;
use schemars::schema::{InstanceType, Schema, SchemaObject, SingleOrVec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a function declares about itself, beside its types.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Props {
    /// Calling it twice with the same input has the same effect as calling it once: it may
    /// be retried freely and fused into a chain with its neighbours.
    #[serde(default)]
    pub idempotent: bool,
    /// One line for people reading `describe` and `flowctl plan`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The `describe` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "flowctl-shim registry")]
pub struct Description {
    /// Always `flowctl-shim`.
    pub shim: String,
    /// The version of flowctl-shim the binary was built with.
    pub version: String,
    /// The envelope protocol version (see the crate's README): flowctl refuses a unit whose
    /// protocol it does not speak.
    pub protocol: u32,
    /// Every registered function, in registration order.
    pub functions: Vec<FunctionDescription>,
}

/// One registered function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FunctionDescription {
    /// The name flows call it by (a key of the manifest's `functions`).
    pub name: String,
    pub properties: Props,
    /// JSON Schema (draft-07) of the input.
    #[schemars(schema_with = "json_schema_document")]
    pub input: Value,
    /// JSON Schema (draft-07) of the output.
    #[schemars(schema_with = "json_schema_document")]
    pub output: Value,
}

/// A JSON Schema is an object or a boolean.
fn json_schema_document(_: &mut SchemaGenerator) -> Schema {
    Schema::Object(SchemaObject {
        instance_type: Some(SingleOrVec::Vec(vec![
            InstanceType::Object,
            InstanceType::Boolean,
        ])),
        ..SchemaObject::default()
    })
}

/// The JSON Schema (draft-07) of the `describe` document.
pub fn describe_schema() -> Value {
    let schema = SchemaGenerator::default().into_root_schema_for::<Description>();
    serde_json::to_value(schema).unwrap_or(Value::Null)
}

/// The JSON Schema (draft-07) of a Rust type, as `describe` shows a function's input or
/// output.
pub(crate) fn schema_of<T: JsonSchema>() -> Value {
    let schema = SchemaGenerator::default().into_root_schema_for::<T>();
    serde_json::to_value(schema).unwrap_or(Value::Bool(true))
}
