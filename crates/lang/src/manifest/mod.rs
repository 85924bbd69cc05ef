//! `flowctl.yaml`: its types, its JSON Schema, and a loader that reports every problem with a place and a fix.
//!
//! Architecture Invariant: everything here is pure (text in, values and diagnostics out; file
//! existence is asked through a callback) and nothing panics on any input (fuzzed by
//! `fuzz/fuzz_targets/load_manifest.rs`). Spans are byte offsets into the manifest text.
//!
//! How `parse` works: serde_yaml reads the text into a loose tree (`node`) that keeps duplicate
//! keys; `locate` scans the same text for the position of every key and value; `validate` walks
//! both together, checking keys, types and values entry by entry so that one mistake does not
//! hide the next, and builds the typed [`Manifest`].

pub mod events;
pub mod locate;
pub mod names;
pub mod node;
pub mod runtime;
pub mod schedule;
mod syntax;
mod validate;

#[cfg(test)]
mod tests;

use crate::diagnostic::{Diagnostic, Span};
use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Every diagnostic code the manifest loader emits, with its meaning (listed in the README).
pub const CODES: &[(&str, &str)] = &[
    ("M001", "the manifest is not valid YAML (syntax error, several documents, nesting too deep)"),
    ("M002", "unknown key (a typo, or a setting that belongs elsewhere)"),
    ("M003", "a required key is missing (`project`, a function's `package` or `runtime`, a managed function's `handler` or `source`, a flow's `source`, a subscription's `source`, a poll's `id`, ...)"),
    ("M004", "a value has the wrong type (e.g. text where a number is expected)"),
    ("M005", "a key is written twice in the same mapping (e.g. a function or flow defined twice)"),
    ("M006", "a name AWS or the flow language would reject (project, namespace, function, flow, colocation unit)"),
    ("M007", "a deployed resource name would be too long for AWS (Lambda 64, state machine 80, IAM role 64)"),
    ("M008", "`memory` is outside Lambda's range (128 to 10240 MB)"),
    ("M009", "`timeout` is outside Lambda's range (1 to 900 seconds)"),
    ("M010", "a value is not one of the allowed choices (`kind`, `architecture`, `ko.then`)"),
    ("M011", "an environment variable name Lambda rejects (must match `[A-Za-z][A-Za-z0-9_]+`)"),
    ("M012", "an environment variable reserved by the Lambda runtime (`AWS_REGION`, `_HANDLER`, ...)"),
    ("M013", "a function's environment is larger than Lambda's 4 KB"),
    ("M014", "`deploy.region` is not an AWS region code"),
    ("M015", "`deploy.role` is not an IAM role ARN"),
    ("M016", "a flow's `source` file does not exist (or the path is empty)"),
    ("M017", "`package` is not a valid cargo package name"),
    ("M018", "a function sets both `colocate` and `isolate: true`"),
    ("M019", "functions with the same `colocate` cannot share one Lambda (package, memory, timeout or environment differ)"),
    ("M020", "a source has no kind key, or more than one (`webhook`, `schedule`, `poll`, `amqp`, `postgres`, `nats`)"),
    ("M021", "a source or subscription name is not valid (letters, digits, `-`, `_`; at most 64 characters)"),
    ("M022", "a `type`, `id` or `key` cannot be read (a bad `$` path, a header outside a webhook, a fixed id or key)"),
    ("M023", "a schedule `expression` is not a valid `rate(…)` or `cron(…)` expression"),
    ("M024", "a webhook `path` does not start with `/`, is under the reserved `/_flowctl/`, or is another webhook's"),
    ("M025", "`secret_env` or `url_env` is not an environment variable name"),
    ("M026", "`signature_header` is not `X-Hub-Signature-256` or `Stripe-Signature`"),
    ("M027", "an `amqp`, `postgres` or `nats` source has neither or both of `url` and `url_env`"),
    ("M028", "a `url` has the wrong scheme (`amqp://`/`amqps://`, `postgres://`/`postgresql://`, `nats://`)"),
    ("M029", "a `postgres` `table` or `cursor_column` is not a plain (or schema-qualified) SQL identifier"),
    ("M030", "a `poll` source's `function` is not a function of the manifest"),
    ("M031", "`every` (1 to 86400 seconds) or `prefetch` (1 to 65535) is out of range"),
    ("M032", "a subscription's `source` is not a source of the manifest, or `ko:X` names no subscription"),
    ("M033", "a subscription takes its own KO events, or subscriptions take each other's in a cycle"),
    ("M034", "a subscription (or its `ko`) has both `flow` and `function`, or a subscription has neither"),
    ("M035", "a subscription's `flow`/`function` (or its `ko` handler) is not in the manifest"),
    ("M036", "`concurrency` is out of range (1 to 10000 keys)"),
    ("M037", "`retry` is out of range (`max` 0 to 100, `interval` 0 or more, `backoff` 1 or more)"),
    ("M038", "`types` has an empty or repeated entry"),
    ("M040", "a name under `types:` or `stores:` is not valid"),
    ("M041", "a JSON Schema file (`types:`, a function's `input` or `output`) does not exist, or its path is empty"),
    ("M042", "an inline JSON Schema is not one (not JSON, or a `type`, `properties`, `required`, `items` or `enum` of the wrong shape)"),
    ("M043", "`retry_safe` has an empty, repeated or unknown `States.*` error name"),
    ("M044", "`reads`, `writes` or `consistent_reads` names a store that is not under `stores:`"),
    ("M045", "a store is listed twice in `reads`, `writes` or `consistent_reads`, or read consistently but not listed in `reads`"),
    ("M050", "an `amqp` source has `broker_arn` without `secret_arn`, or `secret_arn` without `broker_arn`"),
    ("M051", "an `amqp` source's `broker_arn` is not an Amazon MQ broker ARN, or its `secret_arn` not a Secrets Manager secret ARN"),
    ("M052", "a function's `runtime` is not a Lambda managed runtime flowctl supports"),
    ("M053", "a function's `handler` has the wrong shape for its runtime (`module.function` in Python, `file.export` in Node.js), or is given for `provided.al2023`"),
    ("M054", "a function has both `package` and `runtime` (or `handler`/`source` without `runtime`)"),
    ("M055", "a function's `source` directory does not exist, is not a directory, or the path is empty"),
    ("M056", "the file a function's `handler` loads is not in its `source` directory (`app.py` for `app.handler`, `index.js`/`.mjs`/`.cjs` for `index.handler`)"),
    ("M057", "the `source` of a `provided.al2023` function has no executable `bootstrap`"),
    ("M058", "a function in a managed runtime has `colocate`: it never shares a Lambda"),
];

/// Default Lambda memory size, in MB.
pub const DEFAULT_MEMORY: u32 = 128;
/// Default Lambda timeout, in seconds.
pub const DEFAULT_TIMEOUT: u32 = 3;
/// Lambda's memory range, in MB.
pub const MEMORY_RANGE: std::ops::RangeInclusive<u32> = 128..=10240;
/// Lambda's timeout range, in seconds.
pub const TIMEOUT_RANGE: std::ops::RangeInclusive<u32> = 1..=900;

fn default_memory() -> u32 {
    DEFAULT_MEMORY
}

fn default_timeout() -> u32 {
    DEFAULT_TIMEOUT
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A flowctl project: its functions (Rust code deployed to Lambda), its flows (compiled to Step
/// Functions state machines) and where to deploy them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "flowctl.yaml")]
pub struct Manifest {
    /// Names every deployed resource: Lambda functions `<project>-<Function>`, state machines
    /// `<project>-<Flow>`, IAM roles `<project>-sfn-role` and `<project>-lambda-role`. Letters,
    /// digits, `-` and `_`.
    #[schemars(title = "Project name", regex(pattern = r"^[A-Za-z0-9_-]+$"))]
    pub project: String,
    /// The namespace of this project's functions in the flow language (`namespace.Function`);
    /// defaults to the project name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        title = "Function namespace",
        regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$")
    )]
    pub namespace: Option<String>,
    /// The functions flows may call, by name (`Name`, or `namespace.Name` for a function of
    /// another team's namespace).
    #[serde(default)]
    #[schemars(title = "Functions")]
    pub functions: IndexMap<String, Function>,
    /// The flows to check, compile and deploy, by name (the name in the `flow` header).
    #[serde(default)]
    #[schemars(title = "Flows")]
    pub flows: IndexMap<String, FlowEntry>,
    /// Where and how to deploy.
    #[serde(default)]
    #[schemars(title = "Deployment settings")]
    pub deploy: Deploy,
    /// Where events come from (webhooks, schedules, pollers, brokers, tables), by name.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(title = "Event sources")]
    pub sources: events::Sources,
    /// What runs for the events of each source: a flow or a function, per key in order.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(title = "Subscriptions")]
    pub subscriptions: events::Subscriptions,
    /// Named JSON Schemas a flow may declare its input with (`flow Booking(input:
    /// BookingRequest)`) and schemas may refer to, by name (letters, digits and `_`, not
    /// starting with a digit): a file path relative to flowctl.yaml, or the schema inline.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(title = "Named types")]
    pub types: IndexMap<String, SchemaSource>,
    /// The databases, tables and buckets functions read and write (`reads`, `writes`), by
    /// name, with the consistency of their reads.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(title = "Stores")]
    pub stores: IndexMap<String, Store>,
}

impl Manifest {
    /// The namespace of functions declared without one: `namespace`, else `project`.
    pub fn namespace(&self) -> &str {
        self.namespace.as_deref().unwrap_or(&self.project)
    }

    /// What the flow `flow` may call: every function of the manifest, in its namespace.
    pub fn known_functions(&self, flow: &str) -> crate::flow::KnownFunctions {
        let mut known =
            crate::flow::KnownFunctions::new(self.namespace(), self.functions.keys().cloned());
        // An invalid manifest name is reported there (M006); comparing against it in the flow
        // would only suggest renaming the header to something invalid too.
        if names::is_identifier(flow) {
            known.flow_name = Some(flow.to_string());
        }
        known
    }

    /// Every JSON Schema file the manifest names, as written (relative to the directory of
    /// flowctl.yaml), with where: `types:` first, then each function's `input` and `output`.
    /// For the I/O edge, which reads them; an empty path (reported by `parse`) is left out.
    pub fn schema_files(&self) -> Vec<(SchemaPlace, PathBuf)> {
        let mut out = Vec::new();
        for (name, source) in &self.types {
            if let Some(path) = source.file() {
                out.push((SchemaPlace::Type(name.clone()), path.to_path_buf()));
            }
        }
        for (name, function) in &self.functions {
            for (source, place) in [
                (&function.input, SchemaPlace::Input(name.clone())),
                (&function.output, SchemaPlace::Output(name.clone())),
            ] {
                if let Some(path) = source.as_ref().and_then(SchemaSource::file) {
                    out.push((place, path.to_path_buf()));
                }
            }
        }
        out
    }
}

/// Where a JSON Schema is declared in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SchemaPlace {
    /// `types: <name>`.
    Type(String),
    /// `functions: <name>: input`.
    Input(String),
    /// `functions: <name>: output`.
    Output(String),
}

impl SchemaPlace {
    /// The keys leading to the schema in flowctl.yaml, e.g. `["functions", "Quote", "input"]`.
    pub fn path(&self) -> Vec<&str> {
        match self {
            SchemaPlace::Type(name) => vec!["types", name],
            SchemaPlace::Input(name) => vec!["functions", name, "input"],
            SchemaPlace::Output(name) => vec!["functions", name, "output"],
        }
    }

    /// "type `BookingRequest`", "the input of function `Quote`".
    pub fn describe(&self) -> String {
        match self {
            SchemaPlace::Type(name) => format!("type `{name}`"),
            SchemaPlace::Input(name) => format!("the input of function `{name}`"),
            SchemaPlace::Output(name) => format!("the output of function `{name}`"),
        }
    }
}

/// A JSON Schema as the manifest gives it: the path of a file, or the schema itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SchemaSource {
    /// A JSON Schema file (JSON), relative to the directory of flowctl.yaml.
    File(PathBuf),
    /// A JSON Schema written inline, in YAML.
    Inline(serde_json::Value),
}

impl SchemaSource {
    /// The file's path, when the schema is in a file.
    pub fn file(&self) -> Option<&Path> {
        match self {
            SchemaSource::File(path) if !path.as_os_str().is_empty() => Some(path),
            _ => None,
        }
    }

    /// The schema, when it is written inline.
    pub fn inline(&self) -> Option<&serde_json::Value> {
        match self {
            SchemaSource::Inline(schema) => Some(schema),
            SchemaSource::File(_) => None,
        }
    }
}

impl JsonSchema for SchemaSource {
    fn schema_name() -> String {
        "SchemaSource".into()
    }

    fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        let value = serde_json::json!({
            "description": "A JSON Schema: the path of a JSON file holding it (relative to the directory of flowctl.yaml), or the schema itself written as a mapping.",
            "anyOf": [
                {
                    "title": "Schema file",
                    "description": "Path of a JSON Schema file, relative to the directory of flowctl.yaml.",
                    "type": "string",
                    "minLength": 1
                },
                {
                    "title": "Inline schema",
                    "description": "A JSON Schema written in YAML, e.g. `{ type: object, required: [id], properties: { id: { type: string } } }`.",
                    "type": "object"
                }
            ]
        });
        serde_json::from_value(value).unwrap_or(schemars::schema::Schema::Bool(true))
    }
}

/// A database, table or bucket that functions read and write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Store {
    /// What a read right after a write sees: `strong` (the write) or `eventual` (perhaps an
    /// older value: DynamoDB's default reads, S3 listings, read replicas).
    #[schemars(title = "Read consistency")]
    pub consistency: Consistency,
}

/// The consistency of a store's reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Consistency {
    /// A read sees every write that completed before it.
    Strong,
    /// A read right after a write may see an older value, unless it asks for a consistent
    /// read (`consistent_reads`).
    Eventual,
}

impl Consistency {
    /// The name the manifest uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Consistency::Strong => "strong",
            Consistency::Eventual => "eventual",
        }
    }
}

/// A function deployed to Lambda: Rust code registered through the shim in a cargo package
/// (`package`), or source code in a Lambda managed runtime (`runtime`, `handler`, `source`).
/// The loader accepts exactly one of the two.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Function {
    /// The cargo package whose binary registers this function through the shim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(title = "Cargo package", regex(pattern = r"^[A-Za-z_][A-Za-z0-9_-]*$"))]
    pub package: Option<String>,
    /// The Lambda managed runtime of a function in another language, instead of `package`:
    /// Python or Node.js source with its `handler`, or `provided.al2023` with an executable
    /// `bootstrap` in `source`. It never shares a Lambda with another function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(title = "Managed runtime")]
    pub runtime: Option<runtime::Runtime>,
    /// What the runtime calls: `module.function` in Python (`app.handler`), `file.export` in
    /// Node.js (`index.handler`); none for `provided.al2023`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(title = "Handler", length(min = 1))]
    pub handler: Option<String>,
    /// The directory of the function's code, relative to flowctl.yaml; zipped whole as its
    /// deployment package (dependencies such as `node_modules` included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(title = "Source directory", length(min = 1))]
    pub source: Option<PathBuf>,
    /// Memory of the Lambda function, in MB (128 to 10240).
    #[serde(default = "default_memory")]
    #[schemars(title = "Memory (MB)", range(min = 128, max = 10240))]
    pub memory: u32,
    /// Timeout of one invocation, in seconds (1 to 900).
    #[serde(default = "default_timeout")]
    #[schemars(title = "Timeout (seconds)", range(min = 1, max = 900))]
    pub timeout: u32,
    /// Safe to retry or run again with the same input; lets the planner fuse adjacent calls.
    /// When absent, the function's binary decides (`describe`); when both say, they must agree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(title = "Idempotent", with = "bool")]
    pub idempotent: Option<bool>,
    /// Colocation hint: functions with the same value share one Lambda (`<project>-<colocate>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(title = "Colocation unit", regex(pattern = r"^[A-Za-z0-9_-]+$"))]
    pub colocate: Option<String>,
    /// Never share a Lambda with other functions.
    #[serde(default, skip_serializing_if = "is_false")]
    #[schemars(title = "Isolate")]
    pub isolate: bool,
    /// Environment variables of the Lambda (names `[A-Za-z][A-Za-z0-9_]+`, not reserved by
    /// Lambda, 4 KB in all).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(title = "Environment variables")]
    pub env: IndexMap<String, String>,
    /// Errors the function raises only when the call had no effect, so that retrying them is
    /// safe even when it is not idempotent (`States.*` names only those Step Functions defines).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(title = "Retry-safe errors")]
    pub retry_safe: Vec<String>,
    /// The stores (names under `stores:`) it reads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(title = "Stores read")]
    pub reads: Vec<String>,
    /// The stores (names under `stores:`) it writes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(title = "Stores written")]
    pub writes: Vec<String>,
    /// The stores of `reads` it reads with a strongly consistent read, whatever the store's
    /// consistency.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(title = "Consistent reads")]
    pub consistent_reads: Vec<String>,
    /// The JSON Schema of its input, for a function no flowctl-shim binary describes (another
    /// language, or not built yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(title = "Input schema", with = "SchemaSource")]
    pub input: Option<SchemaSource>,
    /// The JSON Schema of its output, for a function no flowctl-shim binary describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(title = "Output schema", with = "SchemaSource")]
    pub output: Option<SchemaSource>,
}

/// What runs a function: a cargo package's binary through the shim, or source code in a
/// managed runtime.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum Code {
    Cargo {
        /// The cargo package whose binary serves the function.
        package: String,
    },
    Managed(Managed),
}

/// A function's source in a Lambda managed runtime.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Managed {
    pub runtime: runtime::Runtime,
    /// Lambda's `Handler` setting: the manifest's `handler`, or
    /// [`runtime::PROVIDED_HANDLER`] for `provided.al2023`.
    pub handler: String,
    /// The source directory, as written (relative to the directory of flowctl.yaml).
    pub source: PathBuf,
}

impl Code {
    /// The cargo package, for a function built with cargo.
    pub fn package(&self) -> Option<&str> {
        match self {
            Code::Cargo { package } => Some(package),
            Code::Managed(_) => None,
        }
    }

    /// The managed runtime's settings, for a function in another language.
    pub fn managed(&self) -> Option<&Managed> {
        match self {
            Code::Cargo { .. } => None,
            Code::Managed(managed) => Some(managed),
        }
    }

    /// "package `booking-functions`", "runtime `python3.12`", for messages.
    pub fn describe(&self) -> String {
        match self {
            Code::Cargo { package } => format!("package `{package}`"),
            Code::Managed(managed) => format!("runtime `{}`", managed.runtime.as_str()),
        }
    }
}

impl Function {
    /// What runs it. A function with `runtime` is managed (the loader refuses one with both
    /// `package` and `runtime`, or neither, so the fallbacks here only meet unchecked input).
    pub fn code(&self) -> Code {
        match self.runtime {
            Some(runtime) => Code::Managed(Managed {
                runtime,
                handler: match runtime.language() {
                    runtime::Language::Provided => runtime::PROVIDED_HANDLER.to_string(),
                    _ => self.handler.clone().unwrap_or_default(),
                },
                source: self.source.clone().unwrap_or_default(),
            }),
            None => Code::Cargo {
                package: self.package.clone().unwrap_or_default(),
            },
        }
    }

    /// The cargo package whose binary registers it, when it is built with cargo.
    pub fn package(&self) -> Option<&str> {
        match self.runtime {
            Some(_) => None,
            None => self.package.as_deref(),
        }
    }

    /// Whether the manifest declares the function idempotent (absent: not idempotent, until
    /// the registry says otherwise).
    pub fn is_idempotent(&self) -> bool {
        self.idempotent.unwrap_or(false)
    }
}

/// A flow: a `.flow` program compiled to a Step Functions state machine `<project>-<Flow>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowEntry {
    /// Path of the `.flow` file, relative to the directory of `flowctl.yaml`.
    #[schemars(title = "Flow source file")]
    pub source: PathBuf,
    /// The state machine type: `standard` (durable, up to a year) or `express` (up to 5 minutes).
    #[serde(default)]
    #[schemars(title = "State machine type")]
    pub kind: FlowKind,
}

/// The Step Functions workflow type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FlowKind {
    /// Durable, exactly-once, up to one year; billed per state transition.
    #[default]
    Standard,
    /// High-volume, at-least-once, up to five minutes; billed per request and duration.
    Express,
}

/// Where and how the project is deployed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Deploy {
    /// The AWS region code, e.g. `eu-west-1`; when absent, the AWS configuration's region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        title = "AWS region",
        regex(pattern = r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$")
    )]
    pub region: Option<String>,
    /// The CPU architecture of the Lambda functions.
    #[serde(default)]
    #[schemars(title = "Lambda architecture")]
    pub architecture: Architecture,
    /// An existing IAM role ARN for the Lambda functions and state machines; when null,
    /// flowctl creates least-privilege roles `<project>-sfn-role` and `<project>-lambda-role`.
    #[serde(default)]
    #[schemars(
        title = "IAM role ARN",
        regex(pattern = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$")
    )]
    pub role: Option<String>,
}

/// The Lambda instruction set architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub enum Architecture {
    /// 64-bit x86 (`x86_64`).
    #[default]
    #[serde(rename = "x86_64")]
    X86_64,
    /// 64-bit ARM, AWS Graviton (`arm64`).
    #[serde(rename = "arm64")]
    Arm64,
}

impl Architecture {
    /// The name Lambda's API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
}

impl FlowKind {
    /// The name Step Functions' API uses (`STANDARD`/`EXPRESS`) in lower case, as in the manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowKind::Standard => "standard",
            FlowKind::Express => "express",
        }
    }
}

/// Pure: YAML text → manifest. Every problem found is returned (not only the first where
/// avoidable); spans are byte offsets into `text`.
///
/// The manifest is `Some` whenever the text has the manifest's shape (known keys, right types),
/// even if values break a rule (a name too long, a reserved env variable, ...), so that later
/// stages can report their own problems too. It is fit to build or deploy only when no
/// diagnostic is an error.
pub fn parse(text: &str) -> (Option<Manifest>, Vec<Diagnostic>) {
    let node = match serde_yaml::from_str::<node::Node>(text) {
        Ok(node) => node,
        Err(err) => return (None, vec![syntax::yaml_error(text, &err)]),
    };
    let root = locate::tree(text);
    validate::validate(text, &root, &node)
}

/// Pure: diagnostics for flow `source` files and JSON Schema files (`types:`, a function's
/// `input` and `output`) that do not exist, given an existence test (paths passed to `exists`
/// are exactly as written, relative to the manifest dir). The span points at the path.
pub fn check_files(
    manifest: &Manifest,
    text: &str,
    exists: impl Fn(&Path) -> bool,
) -> Vec<Diagnostic> {
    let root = locate::tree(text);
    let mut diagnostics = Vec::new();
    for (name, entry) in &manifest.flows {
        if entry.source.as_os_str().is_empty() || exists(&entry.source) {
            // An empty path is reported by `parse`.
            continue;
        }
        let span = locate::value_span(&root, &["flows", name, "source"]);
        let shown = entry.source.display();
        let hint = match entry.source.extension() {
            Some(ext) if ext == "flow" => format!(
                "create `{shown}` (paths are relative to the directory of flowctl.yaml), or correct the path"
            ),
            _ => format!(
                "flow files end in `.flow`; create `{shown}` or correct the path (relative to the directory of flowctl.yaml)"
            ),
        };
        diagnostics.push(
            Diagnostic::error(
                "M016",
                format!("the source of flow `{name}` does not exist"),
                span,
            )
            .text(format!("no file at `{shown}`"))
            .hint(hint),
        );
    }
    for (place, path) in manifest.schema_files() {
        if exists(&path) {
            continue;
        }
        let span = locate::value_span(&root, &place.path());
        let shown = path.display();
        diagnostics.push(
            Diagnostic::error(
                "M041",
                format!("the JSON Schema file of {} does not exist", place.describe()),
                span,
            )
            .text(format!("no file at `{shown}`"))
            .hint(format!(
                "create `{shown}` (paths are relative to the directory of flowctl.yaml), correct the path, or write the schema inline as a mapping"
            )),
        );
    }
    diagnostics
}

/// What is at a path, as [`check_sources`] asks it of the I/O edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    Missing,
    File { executable: bool },
    Directory,
}

/// Pure: diagnostics for the `source` directories of functions in managed runtimes and the
/// files their handlers load, given what is at a path (`kind` is asked paths exactly as
/// written, relative to the manifest dir): a source that is not a directory (M055), a handler
/// whose file is not in it (M056), a `provided.al2023` source without an executable
/// `bootstrap` (M057). The span points at the path or the handler.
pub fn check_sources(
    manifest: &Manifest,
    text: &str,
    kind: impl Fn(&Path) -> PathKind,
) -> Vec<Diagnostic> {
    use runtime::Language;
    let root = locate::tree(text);
    let mut diagnostics = Vec::new();
    for (name, function) in &manifest.functions {
        let Some(managed) = function.code().managed().cloned() else {
            continue;
        };
        let source = &managed.source;
        if source.as_os_str().is_empty() {
            continue; // reported by `parse`
        }
        let shown = source.display();
        let at_source = locate::value_span(&root, &["functions", name, "source"]);
        match kind(source) {
            PathKind::Directory => {}
            found => {
                let (text, fix) = match found {
                    PathKind::Missing => (
                        format!("nothing at `{shown}`"),
                        format!("create `{shown}` or correct the path"),
                    ),
                    _ => (
                        format!("`{shown}` is a file"),
                        "name the directory that holds it and the rest of the function's code"
                            .to_string(),
                    ),
                };
                diagnostics.push(
                    Diagnostic::error("M055", format!("the source of function `{name}` is not a directory"), at_source)
                        .text(text)
                        .hint(format!("`source` is the directory zipped as the function's code, relative to the directory of flowctl.yaml: {fix}")),
                );
                continue;
            }
        }
        let language = managed.runtime.language();
        let files = runtime::handler_files(language, &managed.handler);
        let found = files
            .iter()
            .map(|f| (f, kind(&source.join(f))))
            .find(|(_, k)| matches!(k, PathKind::File { .. }));
        match (language, found) {
            (Language::Provided, Some((_, PathKind::File { executable: false }))) => diagnostics.push(
                Diagnostic::error("M057", format!("the `bootstrap` of function `{name}` is not executable"), at_source)
                    .text(format!("`{shown}/bootstrap` has no execute permission"))
                    .hint(format!("make it executable (`chmod +x {shown}/bootstrap`): Lambda's `provided.al2023` starts it")),
            ),
            (Language::Provided, None) => diagnostics.push(
                Diagnostic::error("M057", format!("the source of function `{name}` has no `bootstrap`"), at_source)
                    .text(format!("no file `{shown}/bootstrap`"))
                    .hint(format!("put the function's executable, named `bootstrap`, at the top of `{shown}`: Lambda's `provided.al2023` starts it")),
            ),
            (_, None) if !files.is_empty() => {
                let at_handler = locate::value_span(&root, &["functions", name, "handler"]);
                let names: Vec<String> = files.iter().map(|f| format!("`{}`", f.display())).collect();
                diagnostics.push(
                    Diagnostic::error("M056", format!("the handler of function `{name}` is not in its source"), at_handler)
                        .text(format!("`{}` loads {} in `{shown}`, and there is none", managed.handler, names.join(" or ")))
                        .hint(format!("create {} in `{shown}`, or correct `handler` (a path inside the source, without the extension)", names[0])),
                );
            }
            _ => {}
        }
    }
    diagnostics
}

/// The JSON Schema of flowctl.yaml (draft 7), for `flowctl schema` and editors.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(Manifest);
    let mut value = serde_json::to_value(schema).unwrap_or(serde_json::Value::Null);
    // Key patterns schemars cannot express from the types.
    let function_key =
        serde_json::json!({ "pattern": r"^([A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*$" });
    let flow_key = serde_json::json!({ "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$" });
    let env_key = serde_json::json!({ "pattern": r"^[A-Za-z][A-Za-z0-9_]+$" });
    let store_key = serde_json::json!({ "pattern": format!("^[A-Za-z0-9_-]{{1,{}}}$", validate::MAX_EVENT_NAME) });
    for (pointer, names) in [
        ("/properties/functions", function_key),
        ("/properties/flows", flow_key.clone()),
        ("/properties/types", flow_key),
        ("/properties/stores", store_key),
        ("/definitions/Function/properties/env", env_key),
    ] {
        if let Some(serde_json::Value::Object(object)) = value.pointer_mut(pointer) {
            object.insert("propertyNames".into(), names);
        }
    }
    // Lists of names: each written once, none empty.
    for key in ["retry_safe", "reads", "writes", "consistent_reads"] {
        let pointer = format!("/definitions/Function/properties/{key}");
        if let Some(serde_json::Value::Object(object)) = value.pointer_mut(&pointer) {
            object.insert("uniqueItems".into(), serde_json::Value::Bool(true));
            object.insert(
                "items".into(),
                serde_json::json!({ "type": "string", "minLength": 1 }),
            );
        }
    }
    // Exactly one of a cargo package and a managed runtime (with its source).
    if let Some(serde_json::Value::Object(function)) = value.pointer_mut("/definitions/Function") {
        function.insert(
            "oneOf".into(),
            serde_json::json!([
                { "required": ["package"], "not": { "anyOf": [{ "required": ["runtime"] }, { "required": ["handler"] }, { "required": ["source"] }] } },
                { "required": ["runtime", "source"], "not": { "required": ["package"] } }
            ]),
        );
    }
    event_schemas(&mut value);
    value
}

/// The flattened enums of sources and subscriptions, as their keys are written: schemars
/// puts each variant in a `oneOf` branch that forbids the other keys, which no manifest could
/// satisfy. Here every key is a property and the branches only require the one kind (or
/// target) present.
fn event_schemas(schema: &mut serde_json::Value) {
    use serde_json::{json, Map, Value};
    let event_name =
        json!({ "pattern": format!("^[A-Za-z0-9_-]{{1,{}}}$", validate::MAX_EVENT_NAME) });
    for pointer in ["/properties/sources", "/properties/subscriptions"] {
        if let Some(Value::Object(object)) = schema.pointer_mut(pointer) {
            object.insert("propertyNames".into(), event_name.clone());
        }
    }
    let Some(Value::Object(definitions)) = schema.get_mut("definitions") else {
        return;
    };
    let kinds = [
        ("webhook", "Webhook", "Webhook"),
        ("schedule", "Schedule", "Schedule"),
        ("poll", "Poll", "Poll"),
        ("amqp", "AMQP queue", "Amqp"),
        ("postgres", "PostgreSQL table", "Postgres"),
        ("nats", "NATS JetStream stream", "Nats"),
    ];
    if let Some(Value::Object(source)) = definitions.get_mut("Source") {
        let descriptions: Vec<Value> = source
            .get("oneOf")
            .and_then(Value::as_array)
            .map(|branches| {
                branches
                    .iter()
                    .map(|b| b.get("description").cloned().unwrap_or(Value::Null))
                    .collect()
            })
            .unwrap_or_default();
        let mut properties = Map::new();
        for (i, (key, title, definition)) in kinds.iter().enumerate() {
            properties.insert(
                key.to_string(),
                json!({
                    "title": title,
                    "description": descriptions.get(i).cloned().unwrap_or(Value::Null),
                    "allOf": [{ "$ref": format!("#/definitions/{definition}") }],
                }),
            );
        }
        if let Some(Value::Object(rest)) = source.remove("properties") {
            properties.extend(rest);
        }
        source.insert("properties".into(), Value::Object(properties));
        source.insert(
            "oneOf".into(),
            Value::Array(
                kinds
                    .iter()
                    .map(|(k, _, _)| json!({ "required": [k] }))
                    .collect(),
            ),
        );
    }
    let targets = || {
        [
            ("flow", "Flow", "A flow of the manifest (`flows:`)."),
            (
                "function",
                "Function",
                "A function of the manifest (`functions:`).",
            ),
        ]
    };
    for (definition, after, handler) in [
        ("Subscription", "key", "what it invokes for each event"),
        ("Ko", "", "the handler called with each KO event"),
    ] {
        let Some(Value::Object(object)) = definitions.get_mut(definition) else {
            continue;
        };
        let old = match object.remove("properties") {
            Some(Value::Object(p)) => p,
            _ => Map::new(),
        };
        let mut properties = Map::new();
        let insert_targets = |properties: &mut Map<String, Value>| {
            for (key, title, description) in targets() {
                properties.insert(
                    key.into(),
                    json!({
                        "title": title,
                        "description": format!("{description} The one of `flow` and `function` that says {handler}."),
                        "type": "string",
                    }),
                );
            }
        };
        if after.is_empty() {
            insert_targets(&mut properties);
        }
        for (key, value) in old {
            let at = key == after;
            properties.insert(key, value);
            if at {
                insert_targets(&mut properties);
            }
        }
        object.insert("properties".into(), Value::Object(properties));
        object.remove("oneOf");
        if definition == "Subscription" {
            object.insert(
                "oneOf".into(),
                json!([{ "required": ["flow"] }, { "required": ["function"] }]),
            );
            if let Some(Value::Object(types)) = object
                .get_mut("properties")
                .and_then(|p| p.get_mut("types"))
            {
                types.insert("uniqueItems".into(), Value::Bool(true));
                types.insert("items".into(), json!({ "type": "string", "minLength": 1 }));
            }
        } else {
            object.insert("not".into(), json!({ "required": ["flow", "function"] }));
        }
    }
}

/// Where a diagnostic points when the text has nothing better: the start of the document.
fn document_start(text: &str) -> Span {
    let start = text.len() - text.trim_start().len();
    Span::new(start, start)
}

/// Why two functions cannot share a Lambda, or `None` when they can.
pub fn incompatibility(a: (&str, &Function), b: (&str, &Function)) -> Option<String> {
    let ((ka, fa), (kb, fb)) = (a, b);
    if fa.isolate {
        return Some(format!("{ka} has `isolate: true`"));
    }
    if fb.isolate {
        return Some(format!("{kb} has `isolate: true`"));
    }
    // A unit of several functions is dispatched by the shim's `{"function", "payload"}`
    // envelope; a managed runtime calls its one handler with the bare payload.
    for (key, function) in [(ka, fa), (kb, fb)] {
        if let Some(runtime) = function.runtime {
            return Some(format!(
                "{key} runs in the `{}` runtime, and a Lambda serving several functions needs the Rust shim's dispatch",
                runtime.as_str()
            ));
        }
    }
    if fa.package != fb.package {
        return Some(format!(
            "different packages ({ka}: `{}`, {kb}: `{}`), and one Lambda runs one binary",
            fa.package.as_deref().unwrap_or_default(),
            fb.package.as_deref().unwrap_or_default()
        ));
    }
    if fa.memory != fb.memory {
        return Some(format!(
            "different memory ({ka}: {} MB, {kb}: {} MB)",
            fa.memory, fb.memory
        ));
    }
    if fa.timeout != fb.timeout {
        return Some(format!(
            "different timeouts ({ka}: {} s, {kb}: {} s)",
            fa.timeout, fb.timeout
        ));
    }
    for (k, v) in &fa.env {
        if let Some(w) = fb.env.get(k) {
            if v != w {
                return Some(format!(
                    "environment variable {k} differs ({ka}: {v:?}, {kb}: {w:?})"
                ));
            }
        }
    }
    None
}
