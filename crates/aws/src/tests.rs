//! `diff` on hand-made desired and observed states: what a first deploy, a no-op redeploy,
//! a changed function, a drifted definition, `--prune` and `destroy` produce.

use super::diff::{self, Action, Field, Kind};
use super::model::*;
use crate::record::{BuildRecord, FlowRecord, UnitRecord};
use flowctl_lang::manifest::FlowKind;
use serde_json::json;

fn account() -> Account {
    Account {
        partition: "aws".into(),
        region: "eu-west-1".into(),
        id: "123456789012".into(),
    }
}

/// A build of project `shop` with units A and B and a flow Main calling A, in a temp dir.
fn desired_shop(role: Option<&str>, express: bool) -> Desired {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("flows")).unwrap();
    let doc = json!({"StartAt": "a", "States": {"a": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "${unit:A}", "Payload.$": "$"}, "End": true}}});
    std::fs::write(dir.path().join("flows/Main.asl.json"), doc.to_string()).unwrap();
    let unit = |name: &str| UnitRecord {
        name: name.into(),
        functions: vec![name.into()],
        package: Some("shop-fns".into()),
        runtime: crate::record::PROVIDED_RUNTIME.into(),
        handler: "bootstrap".into(),
        source: None,
        bootstrap: Some(format!("units/{name}/bootstrap")),
        zip: format!("units/{name}/{name}.zip"),
        code_sha256: format!("sha-{name}"),
        size: 1,
        glibc_max: None,
        env: [("FLOWCTL_FUNCTIONS".to_string(), name.to_string())]
            .into_iter()
            .collect(),
        memory: 128,
        timeout: 3,
    };
    let record = BuildRecord {
        project: "shop".into(),
        architecture: "x86_64".into(),
        flowctl: "0".into(),
        units: vec![unit("A"), unit("B")],
        flows: vec![FlowRecord {
            name: "Main".into(),
            kind: if express { "express" } else { "standard" }.into(),
            asl: "flows/Main.asl.json".into(),
            sha256: "x".into(),
        }],
    };
    let yaml = format!(
        "project: shop\nfunctions:\n  A: {{ package: shop-fns }}\n  B: {{ package: shop-fns }}\ndeploy:\n  role: {}\n",
        role.unwrap_or("null")
    );
    let (manifest, diags) = flowctl_lang::manifest::parse(&yaml);
    assert!(diags.is_empty(), "{diags:#?}");
    desired(&record, dir.path(), &manifest.unwrap(), &account()).unwrap()
}

/// What the account would hold after a successful deploy of `desired`.
fn deployed(desired: &Desired) -> Observed {
    let mut observed = Observed::default();
    for r in &desired.roles {
        observed.roles.insert(
            r.name.clone(),
            ObservedRole {
                name: r.name.clone(),
                arn: r.arn.clone(),
                trust: Some(r.trust.clone()),
                policy: Some(r.policy.clone()),
                tags: r.tags.clone(),
            },
        );
    }
    for f in &desired.functions {
        observed.functions.insert(
            f.name.clone(),
            ObservedFunction {
                name: f.name.clone(),
                arn: f.arn.clone(),
                runtime: Some(f.runtime.clone()),
                handler: Some(f.handler.clone()),
                code_sha256: f.code_sha256.clone(),
                architecture: Some(f.architecture.clone()),
                memory: Some(f.memory),
                timeout: Some(f.timeout),
                env: f.env.clone(),
                role_arn: f.role_arn.clone(),
                tags: f.tags.clone(),
                reserved_concurrency: f.reserved_concurrency,
                async_invoke: f.async_invoke,
            },
        );
    }
    for m in &desired.machines {
        observed.machines.insert(
            m.name.clone(),
            ObservedMachine {
                name: m.name.clone(),
                arn: m.arn.clone(),
                kind: Some(m.kind),
                definition: Some(m.definition.clone()),
                role_arn: m.role_arn.clone(),
                log_group_arn: m.log_group_arn.clone(),
                tags: m.tags.clone(),
            },
        );
    }
    observed.log_groups = desired.log_groups.iter().map(|g| g.name.clone()).collect();
    observed
}

#[test]
fn the_desired_state_names_resolves_and_tags_everything() {
    let d = desired_shop(None, false);
    let names: Vec<_> = d.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["shop-A", "shop-B"]);
    assert_eq!(
        d.functions[0].arn,
        "arn:aws:lambda:eu-west-1:123456789012:function:shop-A"
    );
    assert_eq!(
        d.functions[0].tags.get(TAG_UNIT).map(String::as_str),
        Some("A")
    );
    assert_eq!(
        d.functions[0].role_arn,
        "arn:aws:iam::123456789012:role/shop-lambda-role"
    );
    let machine = &d.machines[0];
    assert_eq!(machine.name, "shop-Main");
    assert_eq!(
        machine.definition["States"]["a"]["Parameters"]["FunctionName"],
        "arn:aws:lambda:eu-west-1:123456789012:function:shop-A"
    );
    assert_eq!(
        machine.role_arn,
        "arn:aws:iam::123456789012:role/shop-sfn-role"
    );
    assert_eq!(machine.log_group_arn, None);
    // The Step Functions role may invoke exactly the project's functions.
    let sfn = d.roles.iter().find(|r| r.name == "shop-sfn-role").unwrap();
    assert_eq!(
        sfn.policy["Statement"][0]["Resource"],
        json!([d.functions[0].arn, d.functions[1].arn])
    );
    assert_eq!(sfn.policy["Statement"].as_array().unwrap().len(), 1);
    assert_eq!(
        sfn.trust["Statement"][0]["Principal"]["Service"],
        "states.amazonaws.com"
    );
}

#[test]
fn a_role_from_the_manifest_means_no_roles_are_created() {
    let arn = "arn:aws:iam::123456789012:role/existing";
    let d = desired_shop(Some(arn), false);
    assert!(d.roles.is_empty());
    assert!(d.functions.iter().all(|f| f.role_arn == arn));
    assert_eq!(d.machines[0].role_arn, arn);
}

#[test]
fn express_flows_log_to_their_own_group_and_the_role_may_deliver_logs() {
    let d = desired_shop(None, true);
    assert_eq!(d.machines[0].kind, FlowKind::Express);
    assert_eq!(d.log_groups[0].name, "/aws/vendedlogs/states/shop-Main");
    assert_eq!(
        d.machines[0].log_group_arn.as_deref(),
        Some("arn:aws:logs:eu-west-1:123456789012:log-group:/aws/vendedlogs/states/shop-Main:*")
    );
    let sfn = d.roles.iter().find(|r| r.name == "shop-sfn-role").unwrap();
    assert_eq!(sfn.policy["Statement"].as_array().unwrap().len(), 2);
}

#[test]
fn a_first_deploy_creates_everything_in_dependency_order() {
    let d = desired_shop(None, false);
    let p = diff::compare(&d, &Observed::default(), false);
    let kinds: Vec<_> = p.steps.iter().map(|s| (s.kind, s.action)).collect();
    assert_eq!(
        kinds,
        [
            (Kind::Role, Action::Create),
            (Kind::Role, Action::Create),
            (Kind::Function, Action::Create),
            (Kind::Function, Action::Create),
            (Kind::StateMachine, Action::Create),
        ]
    );
}

#[test]
fn an_unchanged_project_plans_no_mutation() {
    let d = desired_shop(None, true);
    let p = diff::compare(&d, &deployed(&d), true);
    assert!(p.is_noop(), "{p:#?}");
    assert_eq!(p.count(Action::Unchanged), p.steps.len());
}

#[test]
fn only_what_differs_is_updated() {
    let d = desired_shop(None, false);
    let mut seen = deployed(&d);
    seen.functions.get_mut("shop-A").unwrap().code_sha256 = "old".into();
    seen.functions
        .get_mut("shop-B")
        .unwrap()
        .env
        .insert("X".into(), "1".into());
    seen.functions.get_mut("shop-B").unwrap().tags.clear();
    seen.machines.get_mut("shop-Main").unwrap().definition = Some(json!({"StartAt": "x"}));
    seen.roles.get_mut("shop-sfn-role").unwrap().policy = None;
    let p = diff::compare(&d, &seen, false);
    let updates: Vec<_> = p
        .mutations()
        .map(|s| (s.name.as_str(), s.action, s.changes.clone()))
        .collect();
    assert_eq!(
        updates,
        [
            ("shop-sfn-role", Action::Update, vec![Field::Policy]),
            ("shop-A", Action::Update, vec![Field::Code]),
            (
                "shop-B",
                Action::Update,
                vec![Field::Configuration, Field::Tags]
            ),
            ("shop-Main", Action::Update, vec![Field::Definition]),
        ]
    );
}

/// `desired_shop`'s project with its unit B a Python function's source.
fn desired_with_python_b() -> Desired {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("flows")).unwrap();
    let doc = json!({"StartAt": "a", "States": {"a": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "${unit:B}", "Payload.$": "$"}, "End": true}}});
    std::fs::write(dir.path().join("flows/Main.asl.json"), doc.to_string()).unwrap();
    let b = UnitRecord {
        name: "B".into(),
        functions: vec!["B".into()],
        package: None,
        runtime: "python3.12".into(),
        handler: "app.handler".into(),
        source: Some("fns/b".into()),
        bootstrap: None,
        zip: "units/B/B.zip".into(),
        code_sha256: "sha-B".into(),
        size: 1,
        glibc_max: None,
        env: [("FLOWCTL_FUNCTIONS".to_string(), "B".to_string())]
            .into_iter()
            .collect(),
        memory: 128,
        timeout: 3,
    };
    let mut a = b.clone();
    a.name = "A".into();
    a.functions = vec!["A".into()];
    a.package = Some("shop-fns".into());
    a.runtime = crate::record::PROVIDED_RUNTIME.into();
    a.handler = "bootstrap".into();
    a.source = None;
    let record = BuildRecord {
        project: "shop".into(),
        architecture: "x86_64".into(),
        flowctl: "0".into(),
        units: vec![a, b],
        flows: vec![FlowRecord {
            name: "Main".into(),
            kind: "standard".into(),
            asl: "flows/Main.asl.json".into(),
            sha256: "x".into(),
        }],
    };
    let yaml = "project: shop\nfunctions:\n  A: { package: shop-fns }\n  B: { runtime: python3.12, handler: app.handler, source: fns/b }\n";
    let (manifest, diags) = flowctl_lang::manifest::parse(yaml);
    assert!(diags.is_empty(), "{diags:#?}");
    desired(&record, dir.path(), &manifest.unwrap(), &account()).unwrap()
}

#[test]
fn a_managed_runtimes_unit_is_deployed_with_its_runtime_and_handler() {
    let d = desired_with_python_b();
    let settings: Vec<_> = d
        .functions
        .iter()
        .map(|f| (f.name.as_str(), f.runtime.as_str(), f.handler.as_str()))
        .collect();
    assert_eq!(
        settings,
        [
            ("shop-A", "provided.al2023", "bootstrap"),
            ("shop-B", "python3.12", "app.handler"),
        ]
    );
    assert!(diff::compare(&d, &deployed(&d), false).is_noop());
}

#[test]
fn a_changed_runtime_or_handler_updates_the_configuration() {
    let d = desired_with_python_b();
    let mut seen = deployed(&d);
    seen.functions.get_mut("shop-B").unwrap().runtime = Some("python3.11".into());
    let p = diff::compare(&d, &seen, false);
    let updates: Vec<_> = p
        .mutations()
        .map(|s| (s.name.as_str(), s.changes.clone()))
        .collect();
    assert_eq!(updates, [("shop-B", vec![Field::Configuration])]);

    let mut seen = deployed(&d);
    seen.functions.get_mut("shop-B").unwrap().handler = Some("main.handler".into());
    // A cargo unit once, now Python: the runtime and the handler both differ.
    seen.functions.get_mut("shop-A").unwrap().runtime = Some("python3.12".into());
    let p = diff::compare(&d, &seen, false);
    let updates: Vec<_> = p
        .mutations()
        .map(|s| (s.name.as_str(), s.changes.clone()))
        .collect();
    assert_eq!(
        updates,
        [
            ("shop-A", vec![Field::Configuration]),
            ("shop-B", vec![Field::Configuration])
        ]
    );
}

#[test]
fn a_changed_type_replaces_the_state_machine() {
    let d = desired_shop(None, false);
    let mut seen = deployed(&d);
    seen.machines.get_mut("shop-Main").unwrap().kind = Some(FlowKind::Express);
    let p = diff::compare(&d, &seen, false);
    let step = p.mutations().next().unwrap();
    assert_eq!(
        (step.kind, step.action),
        (Kind::StateMachine, Action::Replace)
    );
}

#[test]
fn resources_gone_from_the_manifest_are_orphaned_or_pruned() {
    let d = desired_shop(None, false);
    let mut seen = deployed(&d);
    let mut old = seen.functions["shop-A"].clone();
    old.name = "shop-Old".into();
    seen.functions.insert("shop-Old".into(), old);
    let kept = diff::compare(&d, &seen, false);
    assert!(kept.is_noop());
    assert_eq!(kept.count(Action::Orphaned), 1);
    let pruned = diff::compare(&d, &seen, true);
    let deletes: Vec<_> = pruned
        .mutations()
        .map(|s| (s.kind, s.name.as_str(), s.action))
        .collect();
    assert_eq!(deletes, [(Kind::Function, "shop-Old", Action::Delete)]);
}

#[test]
fn destroy_deletes_machines_then_functions_then_roles() {
    let d = desired_shop(None, false);
    let p = diff::destroy(&deployed(&d));
    let kinds: Vec<_> = p.steps.iter().map(|s| (s.kind, s.action)).collect();
    assert_eq!(
        kinds,
        [
            (Kind::StateMachine, Action::Delete),
            (Kind::Function, Action::Delete),
            (Kind::Function, Action::Delete),
            (Kind::Role, Action::Delete),
            (Kind::Role, Action::Delete),
        ]
    );
}

#[test]
fn plans_serialize_as_documented() {
    let d = desired_shop(None, false);
    let p = diff::compare(&d, &Observed::default(), false);
    let v = serde_json::to_value(&p).unwrap();
    assert_eq!(
        v["steps"][0],
        json!({"kind": "role", "name": "shop-lambda-role", "action": "create"})
    );
}

/// Project `shop` with units A (serving A and RecordKo) and B, flow Main (standard, calling
/// B), a webhook, a schedule, a flow subscription with a KO handler that parks and a
/// function subscription with state; built in `dir`.
fn events_manifest(extra_sources: &str) -> (BuildRecord, flowctl_lang::manifest::Manifest) {
    let doc_unit = |name: &str, functions: &[&str]| UnitRecord {
        name: name.into(),
        functions: functions.iter().map(|f| f.to_string()).collect(),
        package: Some("shop-fns".into()),
        runtime: crate::record::PROVIDED_RUNTIME.into(),
        handler: "bootstrap".into(),
        source: None,
        bootstrap: Some(format!("units/{name}/bootstrap")),
        zip: format!("units/{name}/{name}.zip"),
        code_sha256: format!("sha-{name}"),
        size: 1,
        glibc_max: None,
        env: [("FLOWCTL_FUNCTIONS".to_string(), functions.join(","))]
            .into_iter()
            .collect(),
        memory: 256,
        timeout: 5,
    };
    let record = BuildRecord {
        project: "shop".into(),
        architecture: "arm64".into(),
        flowctl: "0".into(),
        units: vec![doc_unit("A", &["A", "RecordKo"]), doc_unit("B", &["B"])],
        flows: vec![FlowRecord {
            name: "Main".into(),
            kind: "standard".into(),
            asl: "flows/Main.asl.json".into(),
            sha256: "x".into(),
        }],
    };
    let yaml = format!(
        r#"project: shop
functions:
  A: {{ package: shop-fns }}
  B: {{ package: shop-fns }}
  RecordKo: {{ package: shop-fns }}
flows:
  Main: {{ source: flows/main.flow }}
sources:
  hooks:
    webhook: {{ secret_env: HOOK_SECRET }}
    key: $.order
  nightly:
    schedule: {{ expression: "cron(0 3 * * ? *)", payload: {{ kind: tidy }} }}
{extra_sources}subscriptions:
  book:
    source: hooks
    flow: Main
    retry: {{ max: 2, interval: 1, backoff: 2 }}
    ko: {{ function: RecordKo, then: park }}
  count:
    source: [hooks, nightly]
    function: A
    state: true
"#
    );
    let (manifest, diags) = flowctl_lang::manifest::parse(&yaml);
    assert!(diags.is_empty(), "{diags:#?}");
    (record, manifest.unwrap())
}

fn desired_events() -> Desired {
    let (record, manifest) = events_manifest("");
    desired_from(&record, &manifest).unwrap()
}

fn desired_from(
    record: &BuildRecord,
    manifest: &flowctl_lang::manifest::Manifest,
) -> Result<Desired, DesiredError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("flows")).unwrap();
    let doc = json!({"StartAt": "b", "States": {"b": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "${unit:B}", "Payload.$": "$"}, "End": true}}});
    std::fs::write(dir.path().join("flows/Main.asl.json"), doc.to_string()).unwrap();
    desired(record, dir.path(), manifest, &account())
}

fn role_of<'d>(d: &'d Desired, name: &str) -> &'d RoleSpec {
    d.roles
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no role {name}"))
}

fn subscriber_config(
    d: &Desired,
    function: &str,
) -> flowctl_protocol::subscriber::SubscriberConfig {
    let f = d.functions.iter().find(|f| f.name == function).unwrap();
    serde_json::from_str(&f.env[flowctl_protocol::subscriber::SUBSCRIBER_ENV]).unwrap()
}

const ARN: &str = "arn:aws:sqs:eu-west-1:123456789012";

#[test]
fn subscriptions_get_queues_tables_subscribers_and_mappings() {
    use flowctl_protocol::subscriber::{RetryPolicy, TargetRef};
    let d = desired_events();
    let queues: Vec<_> = d.queues.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(
        queues,
        [
            "shop-book-dlq.fifo",
            "shop-book.fifo",
            "shop-book-ko-dlq.fifo",
            "shop-book-ko.fifo",
            "shop-count-dlq.fifo",
            "shop-count.fifo"
        ]
    );
    let book = &d.queues[1];
    assert_eq!(
        book.url,
        "https://sqs.eu-west-1.amazonaws.com/123456789012/shop-book.fifo"
    );
    assert_eq!(book.attributes["FifoQueue"], "true");
    assert_eq!(book.attributes["ContentBasedDeduplication"], "true");
    // A standard flow's subscriber waits up to 900 s; the queue hides a message 6 times that.
    assert_eq!(book.attributes["VisibilityTimeout"], "5400");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&book.attributes["RedrivePolicy"]).unwrap(),
        json!({"deadLetterTargetArn": format!("{ARN}:shop-book-dlq.fifo"), "maxReceiveCount": 1000})
    );
    assert!(!d.queues[0].attributes.contains_key("RedrivePolicy"));
    assert_eq!(
        d.queues[5].attributes["VisibilityTimeout"],
        (5 * 10 * 6).to_string()
    );
    assert_eq!(book.tags[TAG_SUBSCRIPTION], "book");
    assert_eq!(d.queues[3].tags[TAG_SUBSCRIPTION], "book:ko");

    let tables: Vec<_> = d.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(tables, ["shop-book", "shop-book-ko", "shop-count"]);

    let book_sub = d
        .functions
        .iter()
        .find(|f| f.name == "shop-sub-book")
        .unwrap();
    // A flow's subscriber is carried by the unit of its first call.
    assert_eq!(book_sub.unit, "B");
    assert_eq!(book_sub.code_sha256, "sha-B");
    assert_eq!(book_sub.timeout, 900);
    assert_eq!(book_sub.env["FLOWCTL_FUNCTIONS"], "B");
    assert_eq!(
        book_sub.role_arn,
        "arn:aws:iam::123456789012:role/shop-sub-book"
    );
    let config = subscriber_config(&d, "shop-sub-book");
    assert_eq!(
        config.target,
        TargetRef::Standard {
            arn: "arn:aws:states:eu-west-1:123456789012:stateMachine:shop-Main".into()
        }
    );
    assert!(config.park && !config.state);
    assert_eq!(
        config.retry,
        RetryPolicy {
            max: 2,
            interval: 1.0,
            backoff: 2.0
        }
    );
    assert_eq!(config.table, "shop-book");
    assert_eq!(config.ko_routes.len(), 1);
    assert_eq!(config.ko_routes[0].subscription, "book:ko");
    assert_eq!(
        config.ko_routes[0].queue_url,
        "https://sqs.eu-west-1.amazonaws.com/123456789012/shop-book-ko.fifo"
    );

    let ko = subscriber_config(&d, "shop-sub-book-ko");
    assert_eq!(
        ko.target,
        TargetRef::InProcess {
            function: "RecordKo".into()
        }
    );
    assert!(!ko.park && ko.ko_routes.is_empty());
    let count = subscriber_config(&d, "shop-sub-count");
    assert_eq!(
        count.target,
        TargetRef::InProcess {
            function: "A".into()
        }
    );
    assert!(count.state);
    let count_fn = d
        .functions
        .iter()
        .find(|f| f.name == "shop-sub-count")
        .unwrap();
    assert_eq!(
        (count_fn.unit.as_str(), count_fn.timeout, count_fn.memory),
        ("A", 50, 256)
    );

    let mappings: Vec<_> = d
        .mappings
        .iter()
        .map(|m| (m.function.as_str(), m.source_arn.as_str(), m.batch_size))
        .collect();
    assert_eq!(
        mappings,
        [
            ("shop-sub-book", &*format!("{ARN}:shop-book.fifo"), 10),
            ("shop-sub-book-ko", &*format!("{ARN}:shop-book-ko.fifo"), 10),
            ("shop-sub-count", &*format!("{ARN}:shop-count.fifo"), 10),
        ]
    );
    assert!(d
        .mappings
        .iter()
        .all(|m| m.response_types == ["ReportBatchItemFailures"]));
}

#[test]
fn subscriber_roles_are_least_privilege() {
    let d = desired_events();
    let table = |t: &str| format!("arn:aws:dynamodb:eu-west-1:123456789012:table/{t}");
    let book = role_of(&d, "shop-sub-book");
    assert_eq!(
        book.trust["Statement"][0]["Principal"]["Service"],
        "lambda.amazonaws.com"
    );
    let s = &book.policy["Statement"];
    assert_eq!(s[0]["Resource"], "*"); // logs, as the units' role
    assert_eq!(s[1]["Resource"], json!([format!("{ARN}:shop-book.fifo")]));
    assert_eq!(
        s[1]["Action"],
        json!([
            "sqs:ChangeMessageVisibility",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:ReceiveMessage"
        ])
    );
    // Its own queue (release) and exactly its KO routes' queues.
    assert_eq!(s[2]["Action"], "sqs:SendMessage");
    assert_eq!(
        s[2]["Resource"],
        json!([
            format!("{ARN}:shop-book-ko.fifo"),
            format!("{ARN}:shop-book.fifo")
        ])
    );
    assert_eq!(s[3]["Resource"], json!([table("shop-book")]));
    assert_eq!(
        s[4],
        json!({"Effect": "Allow", "Action": "states:StartExecution",
        "Resource": ["arn:aws:states:eu-west-1:123456789012:stateMachine:shop-Main"]})
    );
    assert_eq!(
        s[5],
        json!({"Effect": "Allow", "Action": "states:DescribeExecution",
        "Resource": ["arn:aws:states:eu-west-1:123456789012:execution:shop-Main:*"]})
    );
    assert_eq!(s.as_array().unwrap().len(), 6);

    let count = role_of(&d, "shop-sub-count");
    let s = &count.policy["Statement"];
    assert_eq!(s[2]["Resource"], json!([format!("{ARN}:shop-count.fifo")]));
    assert_eq!(s[3]["Resource"], json!([table("shop-count")]));
    assert_eq!(
        s.as_array().unwrap().len(),
        4,
        "in-process target: nothing to invoke"
    );

    let ingest = role_of(&d, "shop-in-hooks");
    assert_eq!(
        ingest.policy["Statement"][1],
        json!({"Effect": "Allow", "Action": "sqs:SendMessage",
               "Resource": [format!("{ARN}:shop-book.fifo"), format!("{ARN}:shop-count.fifo")]})
    );
    assert_eq!(ingest.policy["Statement"].as_array().unwrap().len(), 2);

    let scheduler = role_of(&d, "shop-scheduler");
    assert_eq!(
        scheduler.trust["Statement"][0]["Principal"]["Service"],
        "scheduler.amazonaws.com"
    );
    assert_eq!(
        scheduler.policy["Statement"],
        json!([{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": [format!("{ARN}:shop-count.fifo")]}])
    );
    // The units' own roles are still there, unchanged.
    assert!(d.roles.iter().any(|r| r.name == "shop-lambda-role"));
    assert!(d.roles.iter().any(|r| r.name == "shop-sfn-role"));
}

#[test]
fn a_lambda_target_is_invoked_in_an_envelope_when_its_unit_serves_several() {
    use flowctl_protocol::subscriber::TargetRef;
    let (record, _) = events_manifest("");
    let [a, b] = [&record.units[0], &record.units[1]];
    let target = crate::wiring::function_target(&account(), "shop", &record, b, "RecordKo");
    assert_eq!(
        target,
        Some(TargetRef::Lambda {
            arn: "arn:aws:lambda:eu-west-1:123456789012:function:shop-A".into(),
            function: "RecordKo".into(),
            envelope: true,
        })
    );
    let in_process = crate::wiring::function_target(&account(), "shop", &record, a, "A");
    assert_eq!(
        in_process,
        Some(TargetRef::InProcess {
            function: "A".into()
        })
    );
    assert_eq!(
        crate::wiring::function_target(&account(), "shop", &record, a, "Nope"),
        None
    );
}

#[test]
fn a_managed_runtimes_function_is_called_through_lambda_by_a_cargo_units_subscriber() {
    use flowctl_protocol::subscriber::TargetRef;
    let (mut record, mut manifest) = events_manifest("");
    // B is a Python function now: its source cannot carry the subscriber of `count`.
    let b = &mut record.units[1];
    b.package = None;
    b.bootstrap = None;
    b.runtime = "python3.12".into();
    b.handler = "app.handler".into();
    manifest.subscriptions["count"].target =
        flowctl_lang::manifest::events::Target::Function("B".into());
    let d = desired_from(&record, &manifest).unwrap();
    let subscriber = function_of(&d, "shop-sub-count");
    assert_eq!(
        (
            subscriber.unit.as_str(),
            subscriber.runtime.as_str(),
            subscriber.handler.as_str()
        ),
        ("A", "provided.al2023", "bootstrap")
    );
    assert_eq!(
        subscriber_config(&d, "shop-sub-count").target,
        TargetRef::Lambda {
            arn: "arn:aws:lambda:eu-west-1:123456789012:function:shop-B".into(),
            function: "B".into(),
            envelope: false,
        }
    );
    assert_eq!(function_of(&d, "shop-B").runtime, "python3.12");
}

#[test]
fn webhooks_get_a_public_ingest_and_schedules_send_to_the_queues() {
    let d = desired_events();
    let ingest = d
        .functions
        .iter()
        .find(|f| f.name == "shop-in-hooks")
        .unwrap();
    assert_eq!(
        (ingest.unit.as_str(), ingest.tags[TAG_SOURCE].as_str()),
        ("A", "hooks")
    );
    assert_eq!(ingest.keep_env, ["HOOK_SECRET"]);
    let config: flowctl_protocol::subscriber::IngestConfig =
        serde_json::from_str(&ingest.env[flowctl_protocol::subscriber::INGEST_ENV]).unwrap();
    assert_eq!(config.key.as_deref(), Some("$.order"));
    assert_eq!(config.secret_env.as_deref(), Some("HOOK_SECRET"));
    let routes: Vec<_> = config
        .routes
        .iter()
        .map(|r| r.subscription.as_str())
        .collect();
    assert_eq!(routes, ["book", "count"]);
    assert_eq!(
        d.urls,
        [UrlSpec {
            function: "shop-in-hooks".into(),
            auth: "NONE".into()
        }]
    );

    let group = d.schedule_group.as_ref().unwrap();
    assert_eq!(group.name, "shop-schedules");
    assert_eq!(group.tags[TAG_PROJECT], "shop");
    assert_eq!(d.schedules.len(), 1);
    let s = &d.schedules[0];
    assert_eq!(s.name, "shop-nightly-count");
    assert_eq!(s.group, "shop-schedules");
    assert_eq!(s.expression, "cron(0 3 * * ? *)");
    assert_eq!(s.target_arn, format!("{ARN}:shop-count.fifo"));
    assert_eq!(s.role_arn, "arn:aws:iam::123456789012:role/shop-scheduler");
    assert_eq!(
        s.message_group_id,
        Some(flowctl_protocol::subscriber::message_group_id(""))
    );
    let input: serde_json::Value = serde_json::from_str(&s.input).unwrap();
    assert_eq!(
        input,
        json!({"source": "nightly", "type": "nightly", "id": "<aws.scheduler.execution-id>", "key": "",
               "accepted_at": "<aws.scheduler.scheduled-time>",
               "data": {"scheduled_time": "<aws.scheduler.scheduled-time>", "payload": {"kind": "tidy"}}})
    );
}

#[test]
fn sources_aws_cannot_consume_are_refused_with_what_to_do() {
    let (record, manifest) = events_manifest(
        "  bus:\n    nats: { url_env: NATS_URL, stream: orders, subject: orders.> }\n",
    );
    let text = desired_from(&record, &manifest).unwrap_err().to_string();
    assert!(
        text.contains("source `bus` (nats) cannot be deployed to AWS: AWS has no managed event source for NATS"),
        "{text}"
    );
    assert!(text.contains("webhook source"), "{text}");
    let (record, manifest) =
        events_manifest("  orders:\n    amqp: { url_env: AMQP_URL, queue: orders }\n");
    let err = desired_from(&record, &manifest).unwrap_err();
    assert!(
        matches!(&err, DesiredError::NotDeployable { kind: "amqp", .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("source `orders` (amqp) cannot be deployed to AWS")
            && text.contains("`broker_arn`")
            && text.contains("`secret_arn`"),
        "{text}"
    );
}

/// Project `shop` (units A serving A and RecordKo, B; flow Main) with the polled sources
/// `feed` (a poll function, every 10 s) and `outbox` (a PostgreSQL outbox), an `amqp` source
/// on Amazon MQ, and subscriptions taking them.
fn polled_manifest(extra: &str) -> (BuildRecord, flowctl_lang::manifest::Manifest) {
    let (record, _) = events_manifest("");
    let yaml = format!(
        r#"project: shop
functions:
  A: {{ package: shop-fns }}
  B: {{ package: shop-fns }}
  RecordKo: {{ package: shop-fns }}
flows:
  Main: {{ source: flows/main.flow }}
sources:
  feed:
    poll: {{ function: B, every: 10 }}
    id: $.id
  outbox:
    postgres: {{ url_env: DB_URL, table: public.outbox }}
    key: $.order
  orders:
    amqp: {{ url_env: AMQP_URL, queue: orders, broker_arn: "{BROKER}", secret_arn: "{SECRET}" }}
{extra}subscriptions:
  book:
    source: [outbox, orders]
    types: [booked]
    flow: Main
  count:
    source: [feed, outbox]
    function: A
"#
    );
    let (manifest, diags) = flowctl_lang::manifest::parse(&yaml);
    assert!(diags.is_empty(), "{diags:#?}");
    (record, manifest.unwrap())
}

const BROKER: &str = "arn:aws:mq:eu-west-1:123456789012:broker:shop-mq:b-1234";
const SECRET: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop-mq-abc";

fn function_of<'d>(d: &'d Desired, name: &str) -> &'d FunctionSpec {
    d.functions
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no function {name}"))
}

#[test]
fn polled_sources_get_a_scheduled_poller_and_the_cursor_table() {
    use flowctl_protocol::subscriber::{PollerConfig, PollerKind, Route, TargetRef, POLLER_ENV};
    let (record, manifest) = polled_manifest("");
    let d = desired_from(&record, &manifest).unwrap();
    let queue_url =
        |s: &str| format!("https://sqs.eu-west-1.amazonaws.com/123456789012/shop-{s}.fifo");

    // `feed`'s poller runs from the poll function's unit, calling it in-process.
    let feed = function_of(&d, "shop-poll-feed");
    assert_eq!(
        (
            feed.unit.as_str(),
            feed.code_sha256.as_str(),
            feed.timeout,
            feed.memory
        ),
        ("B", "sha-B", 60, 256)
    );
    assert_eq!(feed.env["FLOWCTL_FUNCTIONS"], "B");
    assert_eq!(
        (feed.reserved_concurrency, feed.async_invoke),
        (
            Some(1),
            Some(AsyncInvoke {
                max_retry_attempts: 0,
                max_event_age_seconds: 60
            })
        )
    );
    assert_eq!(feed.tags["flowctl:source"], "feed");
    assert!(feed.keep_env.is_empty());
    let config: PollerConfig = serde_json::from_str(&feed.env[POLLER_ENV]).unwrap();
    assert_eq!(
        config,
        PollerConfig {
            source: "feed".into(),
            event_type: None,
            id: Some("$.id".into()),
            key: None,
            every_seconds: 10,
            cursor_table: "shop-cursors".into(),
            routes: vec![Route {
                subscription: "count".into(),
                queue_url: queue_url("count"),
                types: vec![],
                key: None
            }],
            kind: PollerKind::Poll {
                target: TargetRef::InProcess {
                    function: "B".into()
                }
            },
        }
    );

    // `outbox`'s from the first unit; its connection string's variable is the owner's.
    let outbox = function_of(&d, "shop-poll-outbox");
    assert_eq!(outbox.unit, "A");
    assert_eq!(outbox.keep_env, ["DB_URL"]);
    let config: PollerConfig = serde_json::from_str(&outbox.env[POLLER_ENV]).unwrap();
    assert_eq!(config.every_seconds, 5);
    assert_eq!(config.key.as_deref(), Some("$.order"));
    assert_eq!(
        config.kind,
        PollerKind::Postgres {
            url: None,
            url_env: Some("DB_URL".into()),
            table: "public.outbox".into(),
            cursor_column: "id".into()
        }
    );
    let routes: Vec<(&str, &[String])> = config
        .routes
        .iter()
        .map(|r| (r.subscription.as_str(), r.types.as_slice()))
        .collect();
    assert_eq!(
        routes,
        [("book", &["booked".to_string()][..]), ("count", &[][..])]
    );

    // One cursor table for the project, without TTL; the state tables keep theirs.
    let cursors = d.tables.iter().find(|t| t.name == "shop-cursors").unwrap();
    assert_eq!(cursors.ttl, None);
    assert_eq!(cursors.tags.len(), 1);
    let state = d.tables.iter().find(|t| t.name == "shop-count").unwrap();
    assert_eq!(state.ttl.as_deref(), Some("expires"));

    // A schedule per poller, invoking it once a minute with the scheduler's role, which
    // may invoke exactly the pollers.
    let lambda = |f: &str| format!("arn:aws:lambda:eu-west-1:123456789012:function:{f}");
    let schedules: Vec<_> = d
        .schedules
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                s.group.as_str(),
                s.expression.as_str(),
                s.target_arn.clone(),
                s.message_group_id.clone(),
            )
        })
        .collect();
    assert_eq!(
        schedules,
        [
            (
                "shop-poll-feed",
                "shop-schedules",
                "rate(1 minute)",
                lambda("shop-poll-feed"),
                None
            ),
            (
                "shop-poll-outbox",
                "shop-schedules",
                "rate(1 minute)",
                lambda("shop-poll-outbox"),
                None
            ),
        ]
    );
    assert!(d
        .schedules
        .iter()
        .all(|s| s.role_arn.ends_with(":role/shop-scheduler")));
    assert!(d.schedule_group.is_some());
    assert_eq!(
        role_of(&d, "shop-scheduler").policy["Statement"],
        json!([{ "Effect": "Allow", "Action": "lambda:InvokeFunction",
                 "Resource": [lambda("shop-poll-feed"), lambda("shop-poll-outbox")] }])
    );

    // The pollers' roles: logs, their routes' queues, the cursor table's two calls.
    let table = "arn:aws:dynamodb:eu-west-1:123456789012:table/shop-cursors";
    assert_eq!(
        role_of(&d, "shop-poll-outbox").policy["Statement"],
        json!([
            { "Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*" },
            { "Effect": "Allow", "Action": "sqs:SendMessage",
              "Resource": [format!("{ARN}:shop-book.fifo"), format!("{ARN}:shop-count.fifo")] },
            { "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"], "Resource": [table] },
        ])
    );
    assert_eq!(
        role_of(&d, "shop-poll-feed").policy["Statement"][1]["Resource"],
        json!([format!("{ARN}:shop-count.fifo")])
    );

    // Without polled sources, no poller, no cursor table.
    let plain = desired_events();
    assert!(plain.tables.iter().all(|t| t.name != "shop-cursors"));
    assert!(plain.functions.iter().all(|f| !f.name.contains("-poll-")));
    assert!(plain
        .functions
        .iter()
        .all(|f| f.reserved_concurrency.is_none()));
}

#[test]
fn a_polled_source_nobody_takes_gets_no_poller() {
    let (record, manifest) = polled_manifest("  spare:\n    poll: { function: A }\n    id: $.id\n");
    let d = desired_from(&record, &manifest).unwrap();
    assert!(d.functions.iter().all(|f| f.name != "shop-poll-spare"));
    assert!(d.schedules.iter().all(|s| s.name != "shop-poll-spare"));
}

#[test]
fn amqp_sources_on_amazon_mq_get_an_ingest_mapped_from_the_broker() {
    let (record, manifest) = polled_manifest("");
    let d = desired_from(&record, &manifest).unwrap();
    let ingest = function_of(&d, "shop-in-orders");
    assert_eq!(ingest.unit, "A");
    assert!(ingest.reserved_concurrency.is_none() && ingest.async_invoke.is_none());
    let config: serde_json::Value =
        serde_json::from_str(&ingest.env[flowctl_protocol::subscriber::INGEST_ENV]).unwrap();
    assert_eq!(config["kind"], "amqp");
    assert_eq!(config["source"], "orders");
    assert_eq!(config["routes"][0]["subscription"], "book");
    assert_eq!(config["routes"].as_array().unwrap().len(), 1);
    assert!(d.urls.iter().all(|u| u.function != "shop-in-orders"));
    let mapping = d
        .mappings
        .iter()
        .find(|m| m.function == "shop-in-orders")
        .unwrap();
    assert_eq!(
        mapping,
        &MappingSpec {
            function: "shop-in-orders".into(),
            source_arn: BROKER.into(),
            queues: vec!["orders".into()],
            source_access: vec![SourceAccess {
                kind: "BASIC_AUTH".into(),
                uri: SECRET.into()
            }],
            batch_size: 10,
            response_types: vec![],
        }
    );
    assert_eq!(
        role_of(&d, "shop-in-orders").policy["Statement"],
        json!([
            { "Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*" },
            { "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": [format!("{ARN}:shop-book.fifo")] },
            { "Effect": "Allow", "Action": "mq:DescribeBroker", "Resource": [BROKER] },
            { "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": [SECRET] },
            { "Effect": "Allow", "Action": ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
                "ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets",
                "ec2:DescribeVpcs"], "Resource": "*" },
        ])
    );
}

#[test]
fn pollers_and_mq_mappings_compare_field_by_field() {
    let (record, manifest) = polled_manifest("");
    let d = desired_from(&record, &manifest).unwrap();
    let deployed = deployed_events(&d);
    let p = diff::compare(&d, &deployed, true);
    assert!(p.is_noop(), "{:#?}", p.mutations().collect::<Vec<_>>());

    let mut seen = deployed.clone();
    // Set by the owner: not a change. Gone or changed: flowctl's settings are put back.
    let outbox = seen.functions.get_mut("shop-poll-outbox").unwrap();
    outbox.env.insert("DB_URL".into(), "postgres://db/x".into());
    outbox.reserved_concurrency = None;
    let feed = seen.functions.get_mut("shop-poll-feed").unwrap();
    feed.async_invoke = Some(AsyncInvoke {
        max_retry_attempts: 2,
        max_event_age_seconds: 21_600,
    });
    // Not flowctl's to set on a unit's function.
    seen.functions
        .get_mut("shop-A")
        .unwrap()
        .reserved_concurrency = Some(5);
    seen.tables.get_mut("shop-cursors").unwrap().ttl = Some("other".into());
    let mq = seen.mappings.get_mut("shop-in-orders").unwrap();
    mq.source_access[0].uri = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:old".into();
    seen.schedules
        .get_mut("shop-poll-feed")
        .unwrap()
        .message_group_id = Some("x".into());
    let p = diff::compare(&d, &seen, true);
    let changed: Vec<(Kind, &str, Action, Vec<Field>)> = p
        .mutations()
        .map(|s| (s.kind, s.name.as_str(), s.action, s.changes.clone()))
        .collect();
    assert_eq!(
        changed,
        [
            (
                Kind::Function,
                "shop-poll-feed",
                Action::Update,
                vec![Field::AsyncInvoke]
            ),
            (
                Kind::Function,
                "shop-poll-outbox",
                Action::Update,
                vec![Field::Concurrency]
            ),
            (
                Kind::EventSourceMapping,
                "shop-in-orders",
                Action::Update,
                vec![Field::Access]
            ),
            (
                Kind::Schedule,
                "shop-poll-feed",
                Action::Update,
                vec![Field::Schedule]
            ),
        ]
    );

    // Another queue of the broker: the mapping is replaced (its queues are fixed).
    let mut seen = deployed;
    seen.mappings.get_mut("shop-in-orders").unwrap().queues = vec!["old".into()];
    let p = diff::compare(&d, &seen, true);
    let step = p.mutations().next().unwrap();
    assert_eq!(
        (step.kind, step.name.as_str(), step.action),
        (Kind::EventSourceMapping, "shop-in-orders", Action::Replace)
    );
}

#[test]
fn the_cursor_table_cannot_share_a_subscription_table_name() {
    let (record, manifest) = polled_manifest("");
    let mut manifest = manifest;
    let count = manifest.subscriptions.shift_remove("count").unwrap();
    manifest.subscriptions.insert("cursors".into(), count);
    let err = desired_from(&record, &manifest).unwrap_err();
    assert!(
        matches!(&err, DesiredError::NameClash { kind: "table", name } if name == "shop-cursors"),
        "{err}"
    );
}

#[test]
fn names_longer_than_aws_accepts_are_refused() {
    let (mut record, mut manifest) = events_manifest("");
    let long = "p".repeat(60);
    record.project = long.clone();
    manifest.project = long;
    let err = desired_from(&record, &manifest).unwrap_err();
    assert!(
        matches!(&err, DesiredError::NameTooLong { max: 64, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("more than the 64 AWS accepts"),
        "{err}"
    );
}

/// What the account would hold after a successful deploy of `desired`, events included.
fn deployed_events(d: &Desired) -> Observed {
    let mut o = deployed(d);
    for q in &d.queues {
        let mut attributes = q.attributes.clone();
        // SQS answers with every attribute, and the redrive count as a number it spaced itself.
        attributes.insert("QueueArn".into(), q.arn.clone());
        if let Some(policy) = attributes.get_mut("RedrivePolicy") {
            let mut read: serde_json::Value = serde_json::from_str(policy).unwrap();
            read["maxReceiveCount"] = json!("1000");
            *policy = serde_json::to_string_pretty(&read).unwrap();
        }
        o.queues.insert(
            q.name.clone(),
            ObservedQueue {
                name: q.name.clone(),
                url: q.url.clone(),
                attributes,
                tags: q.tags.clone(),
            },
        );
    }
    for t in &d.tables {
        o.tables.insert(
            t.name.clone(),
            ObservedTable {
                name: t.name.clone(),
                arn: t.arn.clone(),
                hash_key: Some(("key".into(), "S".into())),
                range_key: Some(("item".into(), "S".into())),
                billing: Some("PAY_PER_REQUEST".into()),
                ttl: t.ttl.clone(),
                tags: t.tags.clone(),
            },
        );
    }
    for m in &d.mappings {
        o.mappings.insert(
            m.function.clone(),
            ObservedMapping {
                uuid: "u".into(),
                function: m.function.clone(),
                source_arn: m.source_arn.clone(),
                queues: m.queues.clone(),
                source_access: m.source_access.clone(),
                batch_size: Some(m.batch_size),
                response_types: m.response_types.clone(),
            },
        );
    }
    for u in &d.urls {
        o.urls.insert(
            u.function.clone(),
            ObservedUrl {
                function: u.function.clone(),
                url: "https://x.lambda-url".into(),
                auth: Some(u.auth.clone()),
                public: true,
            },
        );
    }
    o.schedule_group = d.schedule_group.as_ref().map(|g| g.name.clone());
    for s in &d.schedules {
        o.schedules.insert(
            s.name.clone(),
            ObservedSchedule {
                name: s.name.clone(),
                group: s.group.clone(),
                expression: s.expression.clone(),
                target_arn: s.target_arn.clone(),
                role_arn: s.role_arn.clone(),
                input: Some(s.input.clone()),
                message_group_id: s.message_group_id.clone(),
            },
        );
    }
    // The webhook's owner set its secret on the ingest function.
    if let Some(ingest) = o.functions.get_mut("shop-in-hooks") {
        ingest.env.insert("HOOK_SECRET".into(), "s3cret".into());
    }
    o
}

#[test]
fn deployed_events_compare_as_a_noop() {
    let d = desired_events();
    let p = diff::compare(&d, &deployed_events(&d), true);
    assert!(p.is_noop(), "{:#?}", p.mutations().collect::<Vec<_>>());
}

#[test]
fn changed_event_resources_are_updated_field_by_field() {
    let d = desired_events();
    let mut seen = deployed_events(&d);
    seen.queues
        .get_mut("shop-count.fifo")
        .unwrap()
        .attributes
        .insert("VisibilityTimeout".into(), "30".into());
    seen.tables.get_mut("shop-count").unwrap().ttl = None;
    seen.mappings
        .get_mut("shop-sub-count")
        .unwrap()
        .response_types
        .clear();
    seen.urls.get_mut("shop-in-hooks").unwrap().public = false;
    seen.schedules
        .get_mut("shop-nightly-count")
        .unwrap()
        .expression = "rate(1 hour)".into();
    seen.mappings.get_mut("shop-sub-book").unwrap().source_arn = "arn:other".into();
    let p = diff::compare(&d, &seen, false);
    let updates: Vec<_> = p
        .mutations()
        .map(|s| (s.kind, s.name.as_str(), s.action, s.changes.clone()))
        .collect();
    assert_eq!(
        updates,
        [
            (
                Kind::Queue,
                "shop-count.fifo",
                Action::Update,
                vec![Field::Attributes]
            ),
            (Kind::Table, "shop-count", Action::Update, vec![Field::Ttl]),
            (
                Kind::EventSourceMapping,
                "shop-sub-book",
                Action::Replace,
                vec![Field::Queue]
            ),
            (
                Kind::EventSourceMapping,
                "shop-sub-count",
                Action::Update,
                vec![Field::Batching]
            ),
            (
                Kind::FunctionUrl,
                "shop-in-hooks",
                Action::Update,
                vec![Field::Permission]
            ),
            (
                Kind::Schedule,
                "shop-nightly-count",
                Action::Update,
                vec![Field::Schedule]
            ),
        ]
    );
}

#[test]
fn a_removed_subscription_is_pruned_and_destroy_goes_in_reverse() {
    let d = desired_events();
    let seen = deployed_events(&d);
    let mut fewer = d.clone();
    let gone = |name: &str| name.contains("book");
    fewer.queues.retain(|q| !gone(&q.name));
    fewer.tables.retain(|t| !gone(&t.name));
    fewer.mappings.retain(|m| !gone(&m.function));
    fewer.functions.retain(|f| !gone(&f.name));
    fewer.roles.retain(|r| !gone(&r.name));
    let p = diff::compare(&fewer, &seen, true);
    let mut deletes: Vec<_> = p.mutations().map(|s| (s.kind, s.name.as_str())).collect();
    deletes.sort();
    assert_eq!(
        deletes,
        [
            (Kind::Role, "shop-sub-book"),
            (Kind::Role, "shop-sub-book-ko"),
            (Kind::Function, "shop-sub-book"),
            (Kind::Function, "shop-sub-book-ko"),
            (Kind::Queue, "shop-book-dlq.fifo"),
            (Kind::Queue, "shop-book-ko-dlq.fifo"),
            (Kind::Queue, "shop-book-ko.fifo"),
            (Kind::Queue, "shop-book.fifo"),
            (Kind::Table, "shop-book"),
            (Kind::Table, "shop-book-ko"),
            (Kind::EventSourceMapping, "shop-sub-book"),
            (Kind::EventSourceMapping, "shop-sub-book-ko"),
        ]
    );
    assert!(diff::compare(&fewer, &seen, false).is_noop());

    let destroyed = diff::destroy(&seen);
    let order: Vec<Kind> = destroyed.steps.iter().map(|s| s.kind).collect();
    let first = |k: Kind| order.iter().position(|x| *x == k).unwrap();
    let last = |k: Kind| order.iter().rposition(|x| *x == k).unwrap();
    assert!(last(Kind::Schedule) < first(Kind::ScheduleGroup));
    assert!(last(Kind::EventSourceMapping) < first(Kind::Function));
    assert!(last(Kind::FunctionUrl) < first(Kind::Function));
    assert!(last(Kind::Function) < first(Kind::Queue));
    assert!(last(Kind::Queue) < first(Kind::Role));
    let queues: Vec<_> = destroyed
        .steps
        .iter()
        .filter(|s| s.kind == Kind::Queue)
        .map(|s| s.name.as_str())
        .collect();
    assert!(
        queues[..3].iter().all(|q| !q.ends_with("-dlq.fifo")),
        "{queues:?}"
    );
    assert!(
        queues[3..].iter().all(|q| q.ends_with("-dlq.fifo")),
        "{queues:?}"
    );
    assert_eq!(
        destroyed.steps.len(),
        seen.roles.len()
            + seen.functions.len()
            + seen.machines.len()
            + seen.queues.len()
            + seen.tables.len()
            + seen.mappings.len()
            + seen.urls.len()
            + 1
            + seen.schedules.len()
    );
}
