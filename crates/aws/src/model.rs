//! The state of a deployment as plain data: what the project wants ([`Desired`], from
//! `build.json` and the manifest) and what the account holds ([`Observed`], read through the
//! SDK). `diff` compares the two; nothing here talks to AWS.

use crate::record::BuildRecord;
use flowctl_lang::asl;
use flowctl_lang::manifest::{names, FlowKind, Manifest};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The tag naming the project on every resource flowctl creates.
pub const TAG_PROJECT: &str = "flowctl:project";
/// The tag naming a function's unit.
pub const TAG_UNIT: &str = "flowctl:unit";
/// The tag naming a state machine's flow.
pub const TAG_FLOW: &str = "flowctl:flow";
/// The tag naming the subscription a queue, table, subscriber or schedule serves.
pub const TAG_SUBSCRIPTION: &str = "flowctl:subscription";
/// The tag naming the source an ingest function (and its role) serves.
pub const TAG_SOURCE: &str = "flowctl:source";
/// The inline policy flowctl puts on the roles it creates.
pub const POLICY_NAME: &str = "flowctl";

pub type Tags = BTreeMap<String, String>;

/// Where the account is: what ARNs are built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub partition: String,
    pub region: String,
    pub id: String,
}

impl Account {
    pub fn lambda_arn(&self, name: &str) -> String {
        format!(
            "arn:{}:lambda:{}:{}:function:{name}",
            self.partition, self.region, self.id
        )
    }
    pub fn state_machine_arn(&self, name: &str) -> String {
        format!(
            "arn:{}:states:{}:{}:stateMachine:{name}",
            self.partition, self.region, self.id
        )
    }
    pub fn role_arn(&self, name: &str) -> String {
        format!("arn:{}:iam::{}:role/{name}", self.partition, self.id)
    }
    pub fn log_group_arn(&self, name: &str) -> String {
        format!(
            "arn:{}:logs:{}:{}:log-group:{name}:*",
            self.partition, self.region, self.id
        )
    }
    pub fn queue_arn(&self, name: &str) -> String {
        format!(
            "arn:{}:sqs:{}:{}:{name}",
            self.partition, self.region, self.id
        )
    }
    /// A queue's URL in SQS's own form. SQS (and its emulators) read the queue from the
    /// URL's account and name, whatever endpoint the client talks to, so deploy can write
    /// it into a subscriber's configuration before the queue exists.
    pub fn queue_url(&self, name: &str) -> String {
        let domain = if self.partition == "aws-cn" {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        format!("https://sqs.{}.{domain}/{}/{name}", self.region, self.id)
    }
    pub fn table_arn(&self, name: &str) -> String {
        format!(
            "arn:{}:dynamodb:{}:{}:table/{name}",
            self.partition, self.region, self.id
        )
    }
    pub fn schedule_group_arn(&self, name: &str) -> String {
        format!(
            "arn:{}:scheduler:{}:{}:schedule-group/{name}",
            self.partition, self.region, self.id
        )
    }
    /// The executions of a standard state machine (what `states:DescribeExecution` takes).
    pub fn executions_arn(&self, machine: &str) -> String {
        format!(
            "arn:{}:states:{}:{}:execution:{machine}:*",
            self.partition, self.region, self.id
        )
    }
}

/// An IAM role flowctl owns.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleSpec {
    pub name: String,
    pub arn: String,
    /// Who may assume it.
    pub trust: Value,
    /// The inline policy [`POLICY_NAME`].
    pub policy: Value,
    pub tags: Tags,
}

/// A Lambda function (one unit).
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSpec {
    pub name: String,
    pub unit: String,
    pub arn: String,
    /// The deployment package on disk.
    pub zip: PathBuf,
    pub code_sha256: String,
    /// Lambda's `Runtime`: `provided.al2023` for a cargo unit, else its managed runtime.
    pub runtime: String,
    /// Lambda's `Handler`: `bootstrap` for `provided.al2023`, else `app.handler`'s like.
    pub handler: String,
    /// `x86_64` or `arm64`.
    pub architecture: String,
    pub memory: i32,
    pub timeout: i32,
    pub env: BTreeMap<String, String>,
    /// Variables the function's owner sets on the deployed function (a webhook's secret):
    /// not in `env`, not compared, and kept as found when the configuration is updated.
    pub keep_env: Vec<String>,
    pub role_arn: String,
    pub tags: Tags,
    /// Its reserved concurrency, when flowctl sets one (a poller's 1: one invocation at a
    /// time); `None`: not flowctl's to set, not compared.
    pub reserved_concurrency: Option<i32>,
    /// How Lambda handles its asynchronous invocations, when flowctl sets it (a poller's
    /// schedule invokes it asynchronously); `None`: not flowctl's to set, not compared.
    pub async_invoke: Option<AsyncInvoke>,
}

/// A function's asynchronous invocation settings (`PutFunctionEventInvokeConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsyncInvoke {
    pub max_retry_attempts: i32,
    pub max_event_age_seconds: i32,
}

/// A state machine (one flow).
#[derive(Debug, Clone, PartialEq)]
pub struct MachineSpec {
    pub name: String,
    pub flow: String,
    pub arn: String,
    pub kind: FlowKind,
    /// The document with every `${unit:…}` resolved to its function's ARN.
    pub definition: Value,
    pub role_arn: String,
    /// Express flows log to this group (its ARN with `:*`, as Step Functions wants it).
    pub log_group_arn: Option<String>,
    pub tags: Tags,
}

/// A CloudWatch Logs group for an express flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogGroupSpec {
    pub name: String,
    pub tags: Tags,
}

/// An SQS FIFO queue: a subscription's, or its dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    pub name: String,
    pub url: String,
    pub arn: String,
    /// The attributes flowctl sets (others are SQS's defaults and not compared).
    pub attributes: BTreeMap<String, String>,
    pub tags: Tags,
}

/// A DynamoDB table: a subscription's state table or the project's cursor table;
/// `PAY_PER_REQUEST`, the key schema of `flowctl_protocol::subscriber::table`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    pub name: String,
    pub arn: String,
    /// The TTL attribute (a state table's `expires`); `None` for the cursor table, whose
    /// items never expire (its TTL is then not compared).
    pub ttl: Option<String>,
    pub tags: Tags,
}

/// A Lambda event source mapping: from a subscription's queue to its subscriber, or from an
/// Amazon MQ broker's queue to an `amqp` source's ingest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingSpec {
    /// The function's name (a function has one mapping: the step's name).
    pub function: String,
    /// The event source: the SQS queue's or the Amazon MQ broker's ARN.
    pub source_arn: String,
    /// The broker's queues the mapping consumes (Amazon MQ only; fixed at creation).
    pub queues: Vec<String>,
    /// How Lambda reaches the source (Amazon MQ: `BASIC_AUTH` with the secret's ARN).
    pub source_access: Vec<SourceAccess>,
    pub batch_size: i32,
    pub response_types: Vec<String>,
}

/// One of a mapping's `SourceAccessConfigurations`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SourceAccess {
    /// `BASIC_AUTH`, `VIRTUAL_HOST`…
    pub kind: String,
    pub uri: String,
}

/// A webhook's public function URL and the permission that lets anyone call it (the
/// signature is checked in the function).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlSpec {
    /// The ingest function's name.
    pub function: String,
    /// `NONE`.
    pub auth: String,
}

/// The project's EventBridge Scheduler group (tagged; it holds the schedules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleGroupSpec {
    pub name: String,
    pub arn: String,
    pub tags: Tags,
}

/// A schedule that sends a schedule source's event to one subscription's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSpec {
    pub name: String,
    pub group: String,
    pub expression: String,
    /// The queue's ARN.
    pub target_arn: String,
    pub role_arn: String,
    /// The event, with Scheduler's `<aws.scheduler.…>` placeholders.
    pub input: String,
    /// The SQS message group (a queue target); `None` for a poller (a Lambda target).
    pub message_group_id: Option<String>,
}

/// Everything the project wants deployed.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub project: String,
    pub account: Account,
    /// The roles to create (none when the manifest names one in `deploy.role`).
    pub roles: Vec<RoleSpec>,
    pub log_groups: Vec<LogGroupSpec>,
    /// The units, then the subscribers, ingest and poller functions.
    pub functions: Vec<FunctionSpec>,
    pub machines: Vec<MachineSpec>,
    /// Each subscription's dead-letter queue, then its queue.
    pub queues: Vec<QueueSpec>,
    pub tables: Vec<TableSpec>,
    pub mappings: Vec<MappingSpec>,
    pub urls: Vec<UrlSpec>,
    /// Present when the project has schedules.
    pub schedule_group: Option<ScheduleGroupSpec>,
    pub schedules: Vec<ScheduleSpec>,
}

impl Desired {
    /// Nothing wanted (what `destroy` applies its deletions against).
    pub fn empty(project: &str, account: &Account) -> Desired {
        Desired {
            project: project.to_string(),
            account: account.clone(),
            roles: Vec::new(),
            log_groups: Vec::new(),
            functions: Vec::new(),
            machines: Vec::new(),
            queues: Vec::new(),
            tables: Vec::new(),
            mappings: Vec::new(),
            urls: Vec::new(),
            schedule_group: None,
            schedules: Vec::new(),
        }
    }
}

/// Why the desired state cannot be computed.
#[derive(Debug, thiserror::Error)]
pub enum DesiredError {
    #[error("cannot read {}: {source}; run `flowctl build` again", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not JSON ({source}); run `flowctl build` again", path.display())]
    NotJson {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("flow `{flow}` calls unit `{unit}`, which build.json does not have; run `flowctl build` again")]
    UnknownUnit { flow: String, unit: String },
    #[error("source `{source_name}` ({kind}) cannot be deployed to AWS: {reason}")]
    NotDeployable {
        source_name: String,
        kind: &'static str,
        /// Why, and what the user can do.
        reason: String,
    },
    #[error(
        "subscription `{subscription}` takes {target}, which {problem}; run `flowctl build` again"
    )]
    UnknownTarget {
        subscription: String,
        target: String,
        problem: &'static str,
    },
    #[error("the {} name `{name}` ({what}) is {} characters, more than the {max} AWS accepts; shorten the project, source or subscription name", kind.as_str(), name.len())]
    NameTooLong {
        kind: crate::names::NameKind,
        name: String,
        what: String,
        max: usize,
    },
    #[error("two {kind}s would both be named `{name}`; rename a function, source or subscription so the names differ")]
    NameClash { kind: &'static str, name: String },
}

/// The log group of an express state machine.
pub fn log_group_name(machine: &str) -> String {
    format!("/aws/vendedlogs/states/{machine}")
}

fn project_tags(project: &str) -> Tags {
    [(TAG_PROJECT.to_string(), project.to_string())]
        .into_iter()
        .collect()
}

/// The desired state from a build record (`dir` holds it) and the manifest. Reads each
/// flow's document; the zips are read only when they are uploaded.
pub fn desired(
    record: &BuildRecord,
    dir: &std::path::Path,
    manifest: &Manifest,
    account: &Account,
) -> Result<Desired, DesiredError> {
    let project = record.project.clone();
    let [sfn_role, lambda_role] = names::role_names(&project);
    let (sfn_role_arn, lambda_role_arn) = match &manifest.deploy.role {
        Some(arn) => (arn.clone(), arn.clone()),
        None => (account.role_arn(&sfn_role), account.role_arn(&lambda_role)),
    };

    let mut functions: Vec<FunctionSpec> = record
        .units
        .iter()
        .map(|unit| {
            let name = names::unit_lambda_name(&project, &unit.name);
            let mut tags = project_tags(&project);
            tags.insert(TAG_UNIT.into(), unit.name.clone());
            FunctionSpec {
                arn: account.lambda_arn(&name),
                name,
                unit: unit.name.clone(),
                zip: BuildRecord::resolve(dir, &unit.zip),
                code_sha256: unit.code_sha256.clone(),
                runtime: unit.runtime.clone(),
                handler: unit.handler.clone(),
                architecture: record.architecture.clone(),
                memory: unit.memory as i32,
                timeout: unit.timeout as i32,
                env: unit
                    .env
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                keep_env: Vec::new(),
                role_arn: lambda_role_arn.clone(),
                tags,
                reserved_concurrency: None,
                async_invoke: None,
            }
        })
        .collect();
    let arn_of_unit: BTreeMap<&str, &str> = functions
        .iter()
        .map(|f| (f.unit.as_str(), f.arn.as_str()))
        .collect();

    let mut machines = Vec::new();
    let mut log_groups = Vec::new();
    for flow in &record.flows {
        let path = BuildRecord::resolve(dir, &flow.asl);
        let text = std::fs::read_to_string(&path).map_err(|source| DesiredError::Read {
            path: path.clone(),
            source,
        })?;
        let doc: Value = serde_json::from_str(&text).map_err(|source| DesiredError::NotJson {
            path: path.clone(),
            source,
        })?;
        let definition =
            asl::resolve_units(&doc, |unit| arn_of_unit.get(unit).map(|a| a.to_string())).map_err(
                |unit| DesiredError::UnknownUnit {
                    flow: flow.name.clone(),
                    unit,
                },
            )?;
        let name = names::state_machine_name(&project, &flow.name);
        let kind = if flow.kind == "express" {
            FlowKind::Express
        } else {
            FlowKind::Standard
        };
        let mut tags = project_tags(&project);
        tags.insert(TAG_FLOW.into(), flow.name.clone());
        let log_group_arn = (kind == FlowKind::Express).then(|| {
            let group = log_group_name(&name);
            let arn = account.log_group_arn(&group);
            log_groups.push(LogGroupSpec {
                name: group,
                tags: project_tags(&project),
            });
            arn
        });
        machines.push(MachineSpec {
            arn: account.state_machine_arn(&name),
            name,
            flow: flow.name.clone(),
            kind,
            definition,
            role_arn: sfn_role_arn.clone(),
            log_group_arn,
            tags,
        });
    }

    let mut roles = if manifest.deploy.role.is_some() {
        Vec::new()
    } else {
        let express = machines.iter().any(|m| m.kind == FlowKind::Express);
        vec![
            RoleSpec {
                arn: account.role_arn(&lambda_role),
                name: lambda_role,
                trust: trust_policy("lambda.amazonaws.com"),
                policy: lambda_policy(),
                tags: project_tags(&project),
            },
            RoleSpec {
                arn: account.role_arn(&sfn_role),
                name: sfn_role,
                trust: trust_policy("states.amazonaws.com"),
                policy: states_policy(functions.iter().map(|f| f.arn.as_str()), express),
                tags: project_tags(&project),
            },
        ]
    };
    let wiring = crate::wiring::wire(
        record,
        dir,
        manifest,
        account,
        manifest.deploy.role.as_deref(),
    )?;
    roles.extend(wiring.roles);
    functions.extend(wiring.functions);
    let desired = Desired {
        project,
        account: account.clone(),
        roles,
        log_groups,
        functions,
        machines,
        queues: wiring.queues,
        tables: wiring.tables,
        mappings: wiring.mappings,
        urls: wiring.urls,
        schedule_group: wiring.schedule_group,
        schedules: wiring.schedules,
    };
    no_clash(&desired)?;
    Ok(desired)
}

/// Two resources of one kind must not share a name (`P-sub-x` is both a subscriber and the
/// unit of a function `sub.x`; `P-a-b-c` both source `a-b`'s schedule for `c` and `a`'s for
/// `b-c`; `P-cursors` both the cursor table and subscription `cursors`' state table).
fn no_clash(desired: &Desired) -> Result<(), DesiredError> {
    let kinds: [(&str, Vec<&str>); 5] = [
        (
            "role",
            desired.roles.iter().map(|r| r.name.as_str()).collect(),
        ),
        (
            "function",
            desired.functions.iter().map(|f| f.name.as_str()).collect(),
        ),
        (
            "queue",
            desired.queues.iter().map(|q| q.name.as_str()).collect(),
        ),
        (
            "schedule",
            desired.schedules.iter().map(|s| s.name.as_str()).collect(),
        ),
        (
            "table",
            desired.tables.iter().map(|t| t.name.as_str()).collect(),
        ),
    ];
    for (kind, names) in kinds {
        let mut seen = std::collections::BTreeSet::new();
        for name in names {
            if !seen.insert(name) {
                return Err(DesiredError::NameClash {
                    kind,
                    name: name.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// A role that `service` may assume.
pub fn trust_policy(service: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Principal": { "Service": service }, "Action": "sts:AssumeRole" }]
    })
}

/// Lambda's basic execution policy: write its own logs.
pub fn lambda_policy() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*"
        }]
    })
}

/// Step Functions may invoke exactly the project's functions (sorted, so the document is
/// stable), and, for express flows, deliver logs (those actions take no narrower resource).
pub fn states_policy<'a>(function_arns: impl Iterator<Item = &'a str>, express: bool) -> Value {
    let mut arns: Vec<&str> = function_arns.collect();
    arns.sort_unstable();
    arns.dedup();
    let mut statements = Vec::new();
    if !arns.is_empty() {
        statements.push(
            json!({ "Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": arns }),
        );
    }
    if express {
        statements.push(json!({
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
                "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"
            ],
            "Resource": "*"
        }));
    }
    if statements.is_empty() {
        // IAM rejects a policy without statements; this one allows nothing.
        statements
            .push(json!({ "Effect": "Deny", "Action": "lambda:InvokeFunction", "Resource": "*" }));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// A role as the account holds it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObservedRole {
    pub name: String,
    pub arn: String,
    pub trust: Option<Value>,
    pub policy: Option<Value>,
    pub tags: Tags,
}

/// A function as the account holds it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObservedFunction {
    pub name: String,
    pub arn: String,
    pub runtime: Option<String>,
    pub handler: Option<String>,
    pub code_sha256: String,
    pub architecture: Option<String>,
    pub memory: Option<i32>,
    pub timeout: Option<i32>,
    pub env: BTreeMap<String, String>,
    pub role_arn: String,
    pub tags: Tags,
    /// Read for the functions of sources (ingests, pollers) only: what flowctl may set.
    pub reserved_concurrency: Option<i32>,
    pub async_invoke: Option<AsyncInvoke>,
}

/// A state machine as the account holds it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ObservedMachine {
    pub name: String,
    pub arn: String,
    pub kind: Option<FlowKind>,
    pub definition: Option<Value>,
    pub role_arn: String,
    /// The first log destination's group ARN, if logging is on.
    pub log_group_arn: Option<String>,
    pub tags: Tags,
}

/// A queue as the account holds it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObservedQueue {
    pub name: String,
    pub url: String,
    /// Every attribute SQS reports.
    pub attributes: BTreeMap<String, String>,
    pub tags: Tags,
}

/// A table as the account holds it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObservedTable {
    pub name: String,
    pub arn: String,
    /// `(attribute, type)` of the partition key and of the sort key.
    pub hash_key: Option<(String, String)>,
    pub range_key: Option<(String, String)>,
    /// `PAY_PER_REQUEST` or `PROVISIONED`.
    pub billing: Option<String>,
    /// The TTL attribute, when TTL is enabled (or being enabled).
    pub ttl: Option<String>,
    pub tags: Tags,
}

/// An event source mapping as the account holds it (found through its function).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObservedMapping {
    pub uuid: String,
    pub function: String,
    pub source_arn: String,
    pub queues: Vec<String>,
    /// Sorted.
    pub source_access: Vec<SourceAccess>,
    pub batch_size: Option<i32>,
    pub response_types: Vec<String>,
}

/// A function URL as the account holds it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObservedUrl {
    pub function: String,
    pub url: String,
    pub auth: Option<String>,
    /// Whether the function's policy has flowctl's statements letting anyone call the URL.
    pub public: bool,
}

/// A schedule as the account holds it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObservedSchedule {
    pub name: String,
    pub group: String,
    pub expression: String,
    pub target_arn: String,
    pub role_arn: String,
    pub input: Option<String>,
    pub message_group_id: Option<String>,
}

/// What the account holds for the project: resources tagged `flowctl:project=<project>`
/// (roles: flowctl's role names), and the log groups of its express flows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Observed {
    pub roles: BTreeMap<String, ObservedRole>,
    pub functions: BTreeMap<String, ObservedFunction>,
    pub machines: BTreeMap<String, ObservedMachine>,
    pub log_groups: std::collections::BTreeSet<String>,
    pub queues: BTreeMap<String, ObservedQueue>,
    pub tables: BTreeMap<String, ObservedTable>,
    /// By function name.
    pub mappings: BTreeMap<String, ObservedMapping>,
    /// By function name.
    pub urls: BTreeMap<String, ObservedUrl>,
    /// The project's schedule group, when it exists and is tagged for the project.
    pub schedule_group: Option<String>,
    /// The schedules in that group, by name.
    pub schedules: BTreeMap<String, ObservedSchedule>,
}
