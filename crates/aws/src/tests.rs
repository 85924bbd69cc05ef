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
        package: "shop-fns".into(),
        bootstrap: format!("units/{name}/bootstrap"),
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
                runtime: Some(RUNTIME.into()),
                handler: Some(HANDLER.into()),
                code_sha256: f.code_sha256.clone(),
                architecture: Some(f.architecture.clone()),
                memory: Some(f.memory),
                timeout: Some(f.timeout),
                env: f.env.clone(),
                role_arn: f.role_arn.clone(),
                tags: f.tags.clone(),
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
