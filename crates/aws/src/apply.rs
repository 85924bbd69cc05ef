//! Executes a [`Changes`]: phase by phase (roles; log groups, tables, dead-letter queues and
//! the schedule group; queues and functions; state machines, mappings, URLs and schedules;
//! then deletions in reverse), the steps of a phase in parallel up to a bound. A failed step names
//! the resource and AWS's error; the phases after a failure do not start (a state machine
//! must not point at a function that failed to deploy). Every step is idempotent against
//! what a killed earlier run left, so running the deploy again converges.

use super::diff::{Action, Changes, Field, Kind, Step};
use super::model::{Desired, FunctionSpec, MachineSpec, RoleSpec, POLICY_NAME};
use super::{code, deleted, CallError, Clients};
use flowctl_lang::manifest::FlowKind;
use futures_util::StreamExt;
use std::future::Future;
use std::time::{Duration, Instant};

/// How long flowctl waits for a new role to become assumable, or for Lambda to settle.
pub(crate) const PROPAGATION_DEADLINE: Duration = Duration::from_secs(120);
const SETTLE_DEADLINE: Duration = Duration::from_secs(300);

/// What `apply` reports as it goes, for the progress display.
pub enum Event<'a> {
    /// A step is at work; `doing` says on what, in words (`creating function shop-Reserve`,
    /// `waiting for shop-Reserve to become Active`).
    Working { step: &'a Step, doing: String },
    /// A step finished, successfully or not.
    Done(Done<'a>),
}

/// Tells the progress display what a step is doing now.
type Report<'r> = &'r (dyn Fn(String) + Send + Sync);

/// A step finished (successfully or not), for the progress display.
pub struct Done<'a> {
    pub step: &'a Step,
    pub result: Result<(), &'a CallError>,
    pub elapsed: Duration,
}

/// What applying the changes did.
#[derive(Debug, Default)]
pub struct Outcome {
    pub done: Vec<(Step, Duration)>,
    pub failed: Vec<(Step, CallError)>,
    /// Steps not attempted because an earlier phase failed.
    pub skipped: Vec<Step>,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.failed.is_empty()
    }
}

/// The order of phases: a step runs after every step of a lower phase. A queue names its
/// dead-letter queue, a mapping its queue and function, a schedule its queue and role, so
/// each comes after what it names, and is deleted before it.
fn phase(step: &Step) -> usize {
    let dead_letter = crate::names::is_dead_letter_queue(&step.name);
    match (step.kind, step.action) {
        (Kind::Role, Action::Delete) => 8,
        (Kind::Queue, Action::Delete) if dead_letter => 7,
        (Kind::Queue | Kind::Table, Action::Delete) => 6,
        (Kind::Function | Kind::ScheduleGroup, Action::Delete) => 5,
        (
            Kind::StateMachine | Kind::EventSourceMapping | Kind::FunctionUrl | Kind::Schedule,
            Action::Delete,
        ) => 4,
        (Kind::Role, _) => 0,
        (Kind::Queue, _) if dead_letter => 1,
        (Kind::LogGroup | Kind::Table | Kind::ScheduleGroup, _) => 1,
        (Kind::Function | Kind::Queue, _) => 2,
        (Kind::StateMachine | Kind::EventSourceMapping | Kind::FunctionUrl | Kind::Schedule, _) => {
            3
        }
    }
}

/// How many phases [`phase`] has.
const PHASES: usize = 9;

/// Applies the mutating steps of `changes`, at most `concurrency` at a time.
pub async fn apply(
    clients: &Clients,
    desired: &Desired,
    changes: &Changes,
    concurrency: usize,
    progress: &(dyn Fn(Event<'_>) + Send + Sync),
) -> Outcome {
    let mut outcome = Outcome::default();
    let mut phases: Vec<Vec<&Step>> = vec![Vec::new(); PHASES];
    for step in changes.mutations() {
        phases[phase(step)].push(step);
    }
    for steps in phases {
        if !outcome.ok() {
            outcome.skipped.extend(steps.into_iter().cloned());
            continue;
        }
        let results: Vec<(&Step, Result<(), CallError>, Duration)> =
            futures_util::stream::iter(steps)
                .map(|step| async move {
                    let started = Instant::now();
                    let report = |doing: String| progress(Event::Working { step, doing });
                    report(format!(
                        "{} {} {}",
                        step.action.doing(),
                        step.kind.as_str(),
                        step.name
                    ));
                    let result = run_step(clients, desired, step, &report).await;
                    let elapsed = started.elapsed();
                    progress(Event::Done(Done {
                        step,
                        result: result.as_ref().map(|_| ()),
                        elapsed,
                    }));
                    (step, result, elapsed)
                })
                .buffer_unordered(concurrency.max(1))
                .collect()
                .await;
        for (step, result, elapsed) in results {
            match result {
                Ok(()) => outcome.done.push((step.clone(), elapsed)),
                Err(err) => outcome.failed.push((step.clone(), err)),
            }
        }
    }
    outcome
}

async fn run_step(
    clients: &Clients,
    desired: &Desired,
    step: &Step,
    report: Report<'_>,
) -> Result<(), CallError> {
    let missing = || {
        CallError::other(
            format!("{} {}", step.kind.as_str(), step.name),
            "plan",
            "not in the desired state",
        )
    };
    match (step.kind, step.action) {
        (
            Kind::Queue
            | Kind::Table
            | Kind::EventSourceMapping
            | Kind::FunctionUrl
            | Kind::ScheduleGroup
            | Kind::Schedule,
            _,
        ) => crate::apply_events::run(clients, desired, step).await,
        (Kind::Role, Action::Delete) => delete_role(clients, &step.name).await,
        (Kind::Role, action) => {
            let role = desired
                .roles
                .iter()
                .find(|r| r.name == step.name)
                .ok_or_else(missing)?;
            put_role(clients, role, action, &step.changes).await
        }
        (Kind::LogGroup, _) => {
            let group = desired
                .log_groups
                .iter()
                .find(|g| g.name == step.name)
                .ok_or_else(missing)?;
            match clients
                .logs
                .create_log_group()
                .log_group_name(&group.name)
                .set_tags(Some(group.tags.clone().into_iter().collect()))
                .send()
                .await
            {
                Ok(_) => Ok(()),
                Err(err) if code(&err) == Some("ResourceAlreadyExistsException") => Ok(()),
                Err(err) => Err(CallError::new(
                    format!("log group {}", group.name),
                    "CreateLogGroup",
                    &err,
                )),
            }
        }
        (Kind::Function, Action::Delete) => delete_function(clients, &step.name).await,
        (Kind::Function, action) => {
            let function = desired
                .functions
                .iter()
                .find(|f| f.name == step.name)
                .ok_or_else(missing)?;
            put_function(clients, function, action, &step.changes, report).await
        }
        (Kind::StateMachine, Action::Delete) => {
            delete_machine(
                clients,
                &desired.account.state_machine_arn(&step.name),
                &step.name,
            )
            .await
        }
        (Kind::StateMachine, action) => {
            let machine = desired
                .machines
                .iter()
                .find(|m| m.name == step.name)
                .ok_or_else(missing)?;
            put_machine(clients, machine, action, &step.changes).await
        }
    }
}

/// Retries `call` with back-off while `transient` says its error will pass (a new IAM role
/// not yet assumable): that is propagation, not a failure. Gives up after `deadline`.
pub(crate) async fn retrying<T, F, Fut>(
    deadline: Duration,
    transient: impl Fn(&CallError) -> bool,
    mut call: F,
) -> Result<T, CallError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CallError>>,
{
    let started = Instant::now();
    let mut delay = Duration::from_millis(500);
    loop {
        match call().await {
            Err(err) if transient(&err) && started.elapsed() + delay < deadline => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(8));
            }
            other => return other,
        }
    }
}

/// Lambda's and Step Functions' ways of saying a new role is not assumable yet.
pub fn role_not_ready(err: &CallError) -> bool {
    let message = err.message.to_ascii_lowercase();
    matches!(
        err.code.as_deref(),
        Some("InvalidParameterValueException" | "AccessDeniedException")
    ) && (message.contains("cannot be assumed") || message.contains("assume"))
}

fn iam_tags(tags: &super::model::Tags) -> Vec<aws_sdk_iam::types::Tag> {
    tags.iter()
        .filter_map(|(k, v)| {
            aws_sdk_iam::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .ok()
        })
        .collect()
}

async fn put_role(
    clients: &Clients,
    role: &RoleSpec,
    action: Action,
    changes: &[Field],
) -> Result<(), CallError> {
    let resource = format!("role {}", role.name);
    let trust = role.trust.to_string();
    let mut put_policy = true;
    let mut update_trust = changes.contains(&Field::Trust);
    let mut tag = changes.contains(&Field::Tags);
    if action == Action::Create {
        match clients
            .iam
            .create_role()
            .role_name(&role.name)
            .assume_role_policy_document(&trust)
            .set_tags(Some(iam_tags(&role.tags)))
            .send()
            .await
        {
            Ok(_) => {}
            // Made by a run that was stopped before it finished: bring it up to date.
            Err(err) if code(&err) == Some("EntityAlreadyExists") => {
                update_trust = true;
                tag = true;
            }
            Err(err) => return Err(CallError::new(resource, "CreateRole", &err)),
        }
    } else {
        put_policy = changes.contains(&Field::Policy);
    }
    if update_trust {
        clients
            .iam
            .update_assume_role_policy()
            .role_name(&role.name)
            .policy_document(&trust)
            .send()
            .await
            .map_err(|e| CallError::new(resource.clone(), "UpdateAssumeRolePolicy", &e))?;
    }
    if put_policy {
        clients
            .iam
            .put_role_policy()
            .role_name(&role.name)
            .policy_name(POLICY_NAME)
            .policy_document(role.policy.to_string())
            .send()
            .await
            .map_err(|e| CallError::new(resource.clone(), "PutRolePolicy", &e))?;
    }
    if tag {
        clients
            .iam
            .tag_role()
            .role_name(&role.name)
            .set_tags(Some(iam_tags(&role.tags)))
            .send()
            .await
            .map_err(|e| CallError::new(resource.clone(), "TagRole", &e))?;
    }
    Ok(())
}

async fn delete_role(clients: &Clients, name: &str) -> Result<(), CallError> {
    let resource = format!("role {name}");
    let gone = |code: Option<&str>| code == Some("NoSuchEntity");
    let policies = match clients
        .iam
        .list_role_policies()
        .role_name(name)
        .send()
        .await
    {
        Ok(answer) => answer.policy_names().to_vec(),
        Err(err) if gone(code(&err)) => return Ok(()),
        Err(err) => return Err(CallError::new(resource, "ListRolePolicies", &err)),
    };
    for policy in policies {
        match clients
            .iam
            .delete_role_policy()
            .role_name(name)
            .policy_name(&policy)
            .send()
            .await
        {
            Ok(_) => {}
            Err(err) if gone(code(&err)) => {}
            Err(err) => return Err(CallError::new(resource, "DeleteRolePolicy", &err)),
        }
    }
    let attached = clients
        .iam
        .list_attached_role_policies()
        .role_name(name)
        .send()
        .await
        .map_err(|e| CallError::new(resource.clone(), "ListAttachedRolePolicies", &e))?;
    for policy in attached.attached_policies() {
        if let Some(arn) = policy.policy_arn() {
            clients
                .iam
                .detach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .map_err(|e| CallError::new(resource.clone(), "DetachRolePolicy", &e))?;
        }
    }
    match clients.iam.delete_role().role_name(name).send().await {
        Ok(_) => Ok(()),
        Err(err) if gone(code(&err)) => Ok(()),
        Err(err) => Err(CallError::new(resource, "DeleteRole", &err)),
    }
}

fn read_zip(function: &FunctionSpec) -> Result<aws_sdk_lambda::primitives::Blob, CallError> {
    std::fs::read(&function.zip)
        .map(aws_sdk_lambda::primitives::Blob::new)
        .map_err(|e| {
            CallError::other(
                format!("function {}", function.name),
                "read package",
                format!(
                    "cannot read {}: {e}; run `flowctl build` again",
                    function.zip.display()
                ),
            )
        })
}

fn environment(
    function: &FunctionSpec,
    kept: &std::collections::BTreeMap<String, String>,
) -> aws_sdk_lambda::types::Environment {
    let mut env = function.env.clone();
    env.extend(kept.clone());
    aws_sdk_lambda::types::Environment::builder()
        .set_variables(Some(env.into_iter().collect()))
        .build()
}

/// The values of the function's `keep_env` variables as deployed (set by its owner), so an
/// update of its configuration keeps them.
async fn kept_env(
    clients: &Clients,
    function: &FunctionSpec,
) -> Result<std::collections::BTreeMap<String, String>, CallError> {
    if function.keep_env.is_empty() {
        return Ok(Default::default());
    }
    let config = clients
        .lambda
        .get_function_configuration()
        .function_name(&function.name)
        .send()
        .await
        .map_err(|e| {
            CallError::new(
                format!("function {}", function.name),
                "GetFunctionConfiguration",
                &e,
            )
        })?;
    Ok(config
        .environment()
        .and_then(|e| e.variables())
        .map(|vars| {
            vars.iter()
                .filter(|(k, _)| function.keep_env.contains(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default())
}

async fn put_function(
    clients: &Clients,
    function: &FunctionSpec,
    action: Action,
    changes: &[Field],
    report: Report<'_>,
) -> Result<(), CallError> {
    use aws_sdk_lambda::types::{Architecture, FunctionCode, Runtime};
    let resource = format!("function {}", function.name);
    let lambda = &clients.lambda;
    let mut changes = changes.to_vec();
    if action == Action::Create {
        let zip = read_zip(function)?;
        let created = retrying(PROPAGATION_DEADLINE, role_not_ready, || async {
            lambda
                .create_function()
                .function_name(&function.name)
                .runtime(Runtime::from(function.runtime.as_str()))
                .handler(&function.handler)
                .role(&function.role_arn)
                .code(FunctionCode::builder().zip_file(zip.clone()).build())
                .architectures(Architecture::from(function.architecture.as_str()))
                .memory_size(function.memory)
                .timeout(function.timeout)
                .environment(environment(function, &Default::default()))
                .set_tags(Some(function.tags.clone().into_iter().collect()))
                .send()
                .await
                .map_err(|e| CallError::new(resource.clone(), "CreateFunction", &e))
        })
        .await;
        match created {
            Ok(_) => {
                wait_settled(clients, function, report).await?;
                return put_invoke_settings(clients, function, true, true).await;
            }
            // Made by a run that was stopped before it finished: bring it up to date.
            Err(err) if err.code.as_deref() == Some("ResourceConflictException") => {
                changes = vec![
                    Field::Code,
                    Field::Configuration,
                    Field::Tags,
                    Field::Concurrency,
                    Field::AsyncInvoke,
                ];
            }
            Err(err) => return Err(err),
        }
    }
    wait_settled(clients, function, report).await?;
    if changes.contains(&Field::Code) {
        let zip = read_zip(function)?;
        lambda
            .update_function_code()
            .function_name(&function.name)
            .zip_file(zip)
            .architectures(Architecture::from(function.architecture.as_str()))
            .send()
            .await
            .map_err(|e| CallError::new(resource.clone(), "UpdateFunctionCode", &e))?;
        wait_settled(clients, function, report).await?;
    }
    if changes.contains(&Field::Configuration) {
        let kept = kept_env(clients, function).await?;
        retrying(PROPAGATION_DEADLINE, role_not_ready, || async {
            lambda
                .update_function_configuration()
                .function_name(&function.name)
                .runtime(Runtime::from(function.runtime.as_str()))
                .handler(&function.handler)
                .role(&function.role_arn)
                .memory_size(function.memory)
                .timeout(function.timeout)
                .environment(environment(function, &kept))
                .send()
                .await
                .map_err(|e| CallError::new(resource.clone(), "UpdateFunctionConfiguration", &e))
        })
        .await?;
        wait_settled(clients, function, report).await?;
    }
    if changes.contains(&Field::Tags) {
        lambda
            .tag_resource()
            .resource(&function.arn)
            .set_tags(Some(function.tags.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| CallError::new(resource.clone(), "TagResource", &e))?;
    }
    put_invoke_settings(
        clients,
        function,
        changes.contains(&Field::Concurrency),
        changes.contains(&Field::AsyncInvoke),
    )
    .await
}

/// Sets the function's reserved concurrency and asynchronous invocation settings where
/// flowctl sets them (a poller's), when asked to. Both calls overwrite: idempotent.
async fn put_invoke_settings(
    clients: &Clients,
    function: &FunctionSpec,
    concurrency: bool,
    async_invoke: bool,
) -> Result<(), CallError> {
    let resource = format!("function {}", function.name);
    if let (true, Some(reserved)) = (concurrency, function.reserved_concurrency) {
        clients
            .lambda
            .put_function_concurrency()
            .function_name(&function.name)
            .reserved_concurrent_executions(reserved)
            .send()
            .await
            .map_err(|e| CallError::new(resource.clone(), "PutFunctionConcurrency", &e))?;
    }
    if let (true, Some(settings)) = (async_invoke, function.async_invoke) {
        clients
            .lambda
            .put_function_event_invoke_config()
            .function_name(&function.name)
            .maximum_retry_attempts(settings.max_retry_attempts)
            .maximum_event_age_in_seconds(settings.max_event_age_seconds)
            .send()
            .await
            .map_err(|e| CallError::new(resource, "PutFunctionEventInvokeConfig", &e))?;
    }
    Ok(())
}

/// Waits until the function is `Active` and its last update `Successful` (Lambda refuses
/// changes while one is in progress); a `Failed` state is the error, with Lambda's reason.
async fn wait_settled(
    clients: &Clients,
    function: &FunctionSpec,
    report: Report<'_>,
) -> Result<(), CallError> {
    use aws_sdk_lambda::types::{LastUpdateStatus, State};
    let resource = format!("function {}", function.name);
    let started = Instant::now();
    let mut delay = Duration::from_millis(100);
    loop {
        let config = clients
            .lambda
            .get_function_configuration()
            .function_name(&function.name)
            .send()
            .await
            .map_err(|e| CallError::new(resource.clone(), "GetFunctionConfiguration", &e))?;
        let state = config.state();
        let update = config.last_update_status();
        if state == Some(&State::Failed) {
            return Err(CallError::other(
                resource,
                "wait for Active",
                format!(
                    "the function failed: {}",
                    config.state_reason().unwrap_or("no reason given")
                ),
            ));
        }
        if update == Some(&LastUpdateStatus::Failed) {
            return Err(CallError::other(
                resource,
                "wait for Successful",
                format!(
                    "the update failed: {}",
                    config
                        .last_update_status_reason()
                        .unwrap_or("no reason given")
                ),
            ));
        }
        let active = state.is_none_or(|s| s == &State::Active);
        let updated = update.is_none_or(|u| u == &LastUpdateStatus::Successful);
        if active && updated {
            return Ok(());
        }
        report(if active {
            format!("waiting for {}'s update to finish", function.name)
        } else {
            format!("waiting for {} to become Active", function.name)
        });
        if started.elapsed() > SETTLE_DEADLINE {
            return Err(CallError::other(
                resource,
                "wait for Active",
                format!(
                    "still {:?}/{:?} after {} s",
                    state,
                    update,
                    SETTLE_DEADLINE.as_secs()
                ),
            ));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

async fn delete_function(clients: &Clients, name: &str) -> Result<(), CallError> {
    let result = clients
        .lambda
        .delete_function()
        .function_name(name)
        .send()
        .await;
    deleted(
        result,
        "ResourceNotFoundException",
        format!("function {name}"),
        "DeleteFunction",
    )
}

fn logging(machine: &MachineSpec) -> Option<aws_sdk_sfn::types::LoggingConfiguration> {
    use aws_sdk_sfn::types::{
        CloudWatchLogsLogGroup, LogDestination, LogLevel, LoggingConfiguration,
    };
    let arn = machine.log_group_arn.as_ref()?;
    Some(
        LoggingConfiguration::builder()
            .level(LogLevel::Error)
            .include_execution_data(false)
            .destinations(
                LogDestination::builder()
                    .cloud_watch_logs_log_group(
                        CloudWatchLogsLogGroup::builder().log_group_arn(arn).build(),
                    )
                    .build(),
            )
            .build(),
    )
}

fn sfn_tags(tags: &super::model::Tags) -> Vec<aws_sdk_sfn::types::Tag> {
    tags.iter()
        .map(|(k, v)| aws_sdk_sfn::types::Tag::builder().key(k).value(v).build())
        .collect()
}

async fn put_machine(
    clients: &Clients,
    machine: &MachineSpec,
    action: Action,
    changes: &[Field],
) -> Result<(), CallError> {
    use aws_sdk_sfn::types::StateMachineType;
    let resource = format!("state machine {}", machine.name);
    let sfn = &clients.sfn;
    let definition = flowctl_lang::asl::to_pretty_json(&machine.definition);
    if action == Action::Replace {
        delete_machine(clients, &machine.arn, &machine.name).await?;
    }
    if matches!(action, Action::Create | Action::Replace) {
        let kind = match machine.kind {
            FlowKind::Standard => StateMachineType::Standard,
            FlowKind::Express => StateMachineType::Express,
        };
        let transient = |err: &CallError| {
            role_not_ready(err) || err.code.as_deref() == Some("StateMachineDeleting")
        };
        let created = retrying(PROPAGATION_DEADLINE, transient, || async {
            sfn.create_state_machine()
                .name(&machine.name)
                .definition(&definition)
                .role_arn(&machine.role_arn)
                .r#type(kind.clone())
                .set_logging_configuration(logging(machine))
                .set_tags(Some(sfn_tags(&machine.tags)))
                .send()
                .await
                .map_err(|e| CallError::new(resource.clone(), "CreateStateMachine", &e))
        })
        .await;
        return match created {
            Ok(_) => Ok(()),
            // Made by a run that was stopped before it finished: bring it up to date.
            Err(err) if err.code.as_deref() == Some("StateMachineAlreadyExists") => {
                update_machine(clients, machine, &definition, true).await?;
                tag_machine(clients, machine).await
            }
            Err(err) => Err(err),
        };
    }
    if changes
        .iter()
        .any(|c| matches!(c, Field::Definition | Field::Role | Field::Logging))
    {
        update_machine(
            clients,
            machine,
            &definition,
            changes.contains(&Field::Logging),
        )
        .await?;
    }
    if changes.contains(&Field::Tags) {
        tag_machine(clients, machine).await?;
    }
    Ok(())
}

async fn update_machine(
    clients: &Clients,
    machine: &MachineSpec,
    definition: &str,
    with_logging: bool,
) -> Result<(), CallError> {
    let resource = format!("state machine {}", machine.name);
    retrying(PROPAGATION_DEADLINE, role_not_ready, || async {
        clients
            .sfn
            .update_state_machine()
            .state_machine_arn(&machine.arn)
            .definition(definition)
            .role_arn(&machine.role_arn)
            .set_logging_configuration(if with_logging { logging(machine) } else { None })
            .send()
            .await
            .map_err(|e| CallError::new(resource.clone(), "UpdateStateMachine", &e))
    })
    .await
    .map(|_| ())
}

async fn tag_machine(clients: &Clients, machine: &MachineSpec) -> Result<(), CallError> {
    clients
        .sfn
        .tag_resource()
        .resource_arn(&machine.arn)
        .set_tags(Some(sfn_tags(&machine.tags)))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| CallError::new(format!("state machine {}", machine.name), "TagResource", &e))
}

async fn delete_machine(clients: &Clients, arn: &str, name: &str) -> Result<(), CallError> {
    let result = clients
        .sfn
        .delete_state_machine()
        .state_machine_arn(arn)
        .send()
        .await;
    deleted(
        result,
        "StateMachineDoesNotExist",
        format!("state machine {name}"),
        "DeleteStateMachine",
    )
}
