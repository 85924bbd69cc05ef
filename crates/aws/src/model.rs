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
/// The Lambda runtime of every unit.
pub const RUNTIME: &str = "provided.al2023";
/// The handler of a custom-runtime function (ignored by the runtime, required by the API).
pub const HANDLER: &str = "bootstrap";
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
    /// `x86_64` or `arm64`.
    pub architecture: String,
    pub memory: i32,
    pub timeout: i32,
    pub env: BTreeMap<String, String>,
    pub role_arn: String,
    pub tags: Tags,
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

/// Everything the project wants deployed.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub project: String,
    pub account: Account,
    /// The roles to create (none when the manifest names one in `deploy.role`).
    pub roles: Vec<RoleSpec>,
    pub log_groups: Vec<LogGroupSpec>,
    pub functions: Vec<FunctionSpec>,
    pub machines: Vec<MachineSpec>,
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

    let functions: Vec<FunctionSpec> = record
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
                architecture: record.architecture.clone(),
                memory: unit.memory as i32,
                timeout: unit.timeout as i32,
                env: unit
                    .env
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                role_arn: lambda_role_arn.clone(),
                tags,
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

    let roles = if manifest.deploy.role.is_some() {
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
    Ok(Desired {
        project,
        account: account.clone(),
        roles,
        log_groups,
        functions,
        machines,
    })
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

/// What the account holds for the project: resources tagged `flowctl:project=<project>`
/// (roles: flowctl's role names), and the log groups of its express flows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Observed {
    pub roles: BTreeMap<String, ObservedRole>,
    pub functions: BTreeMap<String, ObservedFunction>,
    pub machines: BTreeMap<String, ObservedMachine>,
    pub log_groups: std::collections::BTreeSet<String>,
}
