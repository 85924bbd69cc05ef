//! The registry as data: what `<bin> describe` prints and what flowctl reads at build time
//! (function names, input/output JSON Schemas, properties, named types), and the JSON Schema
//! of that document (`<bin> describe --schema`).

use schemars::gen::SchemaGenerator;
use schemars::schema::{
    InstanceType, ObjectValidation, Schema, SchemaObject, SingleOrVec, StringValidation,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// What a function declares about itself, beside its types: what flowctl's checker and
/// planner rely on (a `retry` that could repeat an effect, a read that could miss a write).
/// Build it with `..Props::default()`, which declares nothing (not idempotent, no retry-safe
/// error, no store).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Props {
    /// Calling it twice with the same input has the same effect as calling it once: it may
    /// be retried freely and fused into a chain with its neighbours.
    #[serde(default)]
    pub idempotent: bool,
    /// Error names (`errorType`) the function raises only when the call had no effect (a
    /// request refused or timed out before anything was done), so a flow may retry on them
    /// even when the function is not idempotent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retry_safe: Vec<String>,
    /// The stores it reads: names the manifest declares under `stores:`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reads: Vec<String>,
    /// The stores it writes (names under the manifest's `stores:`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writes: Vec<String>,
    /// The stores it reads with a strongly consistent read, whatever the store's default (so
    /// it sees a write made just before it); each is also one of `reads`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consistent_reads: Vec<String>,
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
    /// The named types (`Registry::named_type`): a type's name → its JSON Schema (draft-07),
    /// for flows to declare their input with (`flow Booking(input: BookingRequest)`). Left
    /// out when there are none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "named_json_schemas")]
    pub types: BTreeMap<String, Value>,
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

/// An object whose keys are type names (identifiers) and whose values are JSON Schemas.
fn named_json_schemas(gen: &mut SchemaGenerator) -> Schema {
    Schema::Object(SchemaObject {
        instance_type: Some(SingleOrVec::Single(Box::new(InstanceType::Object))),
        object: Some(Box::new(ObjectValidation {
            additional_properties: Some(Box::new(json_schema_document(gen))),
            property_names: Some(Box::new(Schema::Object(SchemaObject {
                instance_type: Some(SingleOrVec::Single(Box::new(InstanceType::String))),
                string: Some(Box::new(StringValidation {
                    pattern: Some(TYPE_NAME_PATTERN.to_string()),
                    ..StringValidation::default()
                })),
                ..SchemaObject::default()
            }))),
            ..ObjectValidation::default()
        })),
        ..SchemaObject::default()
    })
}

/// What a named type may be called: an identifier, as a flow writes it after `input:`.
pub(crate) const TYPE_NAME_PATTERN: &str = "^[A-Za-z_][A-Za-z0-9_]*$";

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
