"""Drives moto for the flowctl end-to-end tests, one batch per call (boto3 starts once).

Usage: python moto_driver.py COMMAND < job.json > result.json

  config     job {"endpoint"}: posts the test configuration to /moto-api/config
             (Lambda without Docker echoes its payload; Step Functions runs executions).
  lambdas    job {"endpoint", "region", "prefix", "units": [unit]}: creates one Lambda
             function per unit (named PREFIX-UNIT); answers {unit: function ARN}.
  function   job {"endpoint", "region", "name", "zip", "architecture"?}: creates one Lambda
             function (provided.al2023, handler bootstrap) from the zip file at path "zip";
             answers {"create": {"CodeSha256", "CodeSize"}, "get": {...}} as create_function
             and get_function report them.
  run        job {"endpoint", "region", "machines": [{"name", "definition"}],
             "executions": [{"id", "machine", "input", "lambda_results"?}]}: creates the
             state machines, then runs the executions one at a time (each with a unique
             name; "lambda_results" are queued as the next Lambda responses first) and
             answers {"machines": {name: arn}, "executions": {id: {"status", "output",
             "error", "cause", "states"}}}; "output" is the raw string moto returns,
             "states" the names of the states entered, in order.

  events     job {"endpoint", "region", "project"}: everything tagged
             flowctl:project=PROJECT read back: queues (all attributes, tags), tables (key
             schema, attribute definitions, billing mode, TTL, tags), functions (env,
             timeout, memory, role, code hash, tags, reserved concurrency, event invoke
             config's retries and age when there is one) with their event source mappings,
             function URL configs and resource policies, schedule groups tagged for the
             project with their schedules (get_schedule), and roles with their inline
             policies.
  sqs        job {"endpoint", "region", "calls": [[operation, params]]}: runs boto3 SQS
             calls in order (e.g. ["receive_message", {...}]); answers their results.
  dynamodb   the same for DynamoDB; lambda the same for Lambda.

Errors of a whole step (a rejected definition) are answered as {"error": "..."} per
machine or execution rather than raised, so one bad document does not hide the others.
"""

import io
import json
import sys
import time
import urllib.request
import uuid
import zipfile

import boto3
from botocore.config import Config

ACCOUNT = "123456789012"


def client(job, service):
    return boto3.client(
        service,
        endpoint_url=job["endpoint"],
        region_name=job.get("region", "us-east-1"),
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 2}),
    )


def post(url, body):
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, resp.read().decode()


def config(job):
    status, body = post(
        job["endpoint"] + "/moto-api/config",
        {"lambda": {"use_docker": False}, "stepfunctions": {"execute_state_machine": True}},
    )
    return {"status": status, "config": json.loads(body)}


def lambdas(job):
    iam = client(job, "iam")
    role_name = job["prefix"] + "-lambda-role"
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    try:
        role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        role = iam.get_role(RoleName=role_name)["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\n")
    lam = client(job, "lambda")
    arns = {}
    for unit in job["units"]:
        name = f"{job['prefix']}-{unit}"
        try:
            arn = lam.create_function(
                FunctionName=name,
                Runtime="provided.al2023",
                Role=role,
                Handler="bootstrap",
                Code={"ZipFile": code.getvalue()},
            )["FunctionArn"]
        except lam.exceptions.ResourceConflictException:
            arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
        arns[unit] = arn
    return arns


def function(job):
    iam = client(job, "iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    role_name = job["name"] + "-role"
    try:
        role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        role = iam.get_role(RoleName=role_name)["Role"]["Arn"]
    with open(job["zip"], "rb") as f:
        code = f.read()
    lam = client(job, "lambda")
    created = lam.create_function(
        FunctionName=job["name"],
        Runtime="provided.al2023",
        Role=role,
        Handler="bootstrap",
        Code={"ZipFile": code},
        Architectures=[job.get("architecture", "x86_64")],
    )
    got = lam.get_function(FunctionName=job["name"])["Configuration"]
    keys = ("CodeSha256", "CodeSize")
    return {"create": {k: created[k] for k in keys}, "get": {k: got[k] for k in keys}}


def run(job):
    sfn = client(job, "stepfunctions")
    iam = client(job, "iam")
    role_name = "flowctl-tests-sfn-role"
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    try:
        role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        role = iam.get_role(RoleName=role_name)["Role"]["Arn"]
    machines, errors = {}, {}
    for m in job["machines"]:
        try:
            machines[m["name"]] = sfn.create_state_machine(name=m["name"], definition=m["definition"], roleArn=role)[
                "stateMachineArn"
            ]
        except Exception as e:  # reported per machine
            errors[m["name"]] = repr(e)
    results = {}
    for ex in job["executions"]:
        if ex["machine"] not in machines:
            results[ex["id"]] = {"status": "NOT_CREATED", "error": errors.get(ex["machine"], "unknown machine")}
            continue
        if ex.get("lambda_results"):
            post(
                job["endpoint"] + "/moto-api/static/lambda-simple/response",
                {"results": [json.dumps(r) for r in ex["lambda_results"]], "region": job.get("region", "us-east-1")},
            )
        results[ex["id"]] = execute(sfn, machines[ex["machine"]], ex)
    return {"machines": machines, "machine_errors": errors, "executions": results}


def execute(sfn, machine_arn, ex):
    name = (ex["id"][:40] + "-" + uuid.uuid4().hex)[:80].replace("/", "-")
    try:
        arn = sfn.start_execution(stateMachineArn=machine_arn, name=name, input=ex["input"])["executionArn"]
    except Exception as e:
        return {"status": "NOT_STARTED", "error": repr(e)}
    deadline = time.time() + float(ex.get("timeout", 60))
    while True:
        d = sfn.describe_execution(executionArn=arn)
        if d["status"] != "RUNNING" or time.time() > deadline:
            break
        time.sleep(0.02)
    out = {"status": d["status"], "name": name}
    for key in ("output", "error", "cause"):
        if key in d:
            out[key] = d[key]
    try:
        events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        out["states"] = [
            e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
        ]
    except Exception as e:
        out["history_error"] = repr(e)
    return out


def events(job):
    import urllib.parse

    project = job["project"]
    ours = lambda tags: tags.get("flowctl:project") == project
    mine = lambda name: name.startswith(project + "-")
    sqs, ddb, lam = client(job, "sqs"), client(job, "dynamodb"), client(job, "lambda")
    sch, iam = client(job, "scheduler"), client(job, "iam")
    out = {"queues": {}, "tables": {}, "functions": {}, "schedule_groups": {}, "roles": {}}
    for url in sqs.list_queues(QueueNamePrefix=project + "-").get("QueueUrls", []):
        tags = sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
        if ours(tags):
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            out["queues"][url.rsplit("/", 1)[1]] = {"url": url, "attributes": attributes, "tags": tags}
    for name in ddb.list_tables()["TableNames"]:
        if not mine(name):
            continue
        d = ddb.describe_table(TableName=name)["Table"]
        tags = {t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(ResourceArn=d["TableArn"]).get("Tags", [])}
        if ours(tags):
            out["tables"][name] = {
                "key_schema": d["KeySchema"],
                "attributes": d["AttributeDefinitions"],
                "billing": d.get("BillingModeSummary", {}).get("BillingMode"),
                "ttl": ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"],
                "tags": tags,
            }
    for page in lam.get_paginator("list_functions").paginate():
        for f in page["Functions"]:
            name = f["FunctionName"]
            if not mine(name):
                continue
            tags = lam.list_tags(Resource=f["FunctionArn"]).get("Tags", {})
            if not ours(tags):
                continue
            entry = {
                "env": f.get("Environment", {}).get("Variables", {}),
                "timeout": f["Timeout"],
                "memory": f["MemorySize"],
                "role": f["Role"],
                "code_sha256": f["CodeSha256"],
                "tags": tags,
                "mappings": [
                    {
                        k: m.get(k)
                        for k in (
                            "UUID",
                            "EventSourceArn",
                            "FunctionArn",
                            "BatchSize",
                            "FunctionResponseTypes",
                            "State",
                            "Queues",
                            "SourceAccessConfigurations",
                        )
                    }
                    for m in lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]
                ],
                "concurrency": lam.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions"),
            }
            try:
                invoke = lam.get_function_event_invoke_config(FunctionName=name)
                entry["event_invoke_config"] = {
                    k: invoke.get(k) for k in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds")
                }
            except lam.exceptions.ResourceNotFoundException:
                pass
            try:
                url = lam.get_function_url_config(FunctionName=name)
                entry["url"] = {"auth": url["AuthType"], "url": url["FunctionUrl"]}
            except lam.exceptions.ResourceNotFoundException:
                pass
            try:
                entry["policy"] = json.loads(lam.get_policy(FunctionName=name)["Policy"])
            except lam.exceptions.ResourceNotFoundException:
                pass
            out["functions"][name] = entry
    for g in sch.list_schedule_groups()["ScheduleGroups"]:
        tags = {t["Key"]: t["Value"] for t in sch.list_tags_for_resource(ResourceArn=g["Arn"]).get("Tags", [])}
        if not ours(tags):
            continue
        schedules = {}
        for s in sch.list_schedules(GroupName=g["Name"])["Schedules"]:
            got = sch.get_schedule(GroupName=g["Name"], Name=s["Name"])
            got.pop("ResponseMetadata", None)
            schedules[s["Name"]] = got
        out["schedule_groups"][g["Name"]] = {"tags": tags, "schedules": schedules}
    doc = lambda d: d if isinstance(d, dict) else json.loads(urllib.parse.unquote(d))
    for r in iam.list_roles()["Roles"]:
        if not mine(r["RoleName"]):
            continue
        tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=r["RoleName"])["Tags"]}
        if ours(tags):
            policies = {
                p: doc(iam.get_role_policy(RoleName=r["RoleName"], PolicyName=p)["PolicyDocument"])
                for p in iam.list_role_policies(RoleName=r["RoleName"])["PolicyNames"]
            }
            out["roles"][r["RoleName"]] = {"trust": doc(r["AssumeRolePolicyDocument"]), "policies": policies, "tags": tags}
    return json.loads(json.dumps(out, default=str))


def calls(service):
    def run_calls(job):
        c = client(job, service)
        results = []
        for operation, params in job["calls"]:
            result = getattr(c, operation)(**params)
            result.pop("ResponseMetadata", None)
            results.append(result)
        return json.loads(json.dumps(results, default=str))

    return run_calls


COMMANDS = {
    "config": config,
    "lambdas": lambdas,
    "function": function,
    "run": run,
    "events": events,
    "sqs": calls("sqs"),
    "dynamodb": calls("dynamodb"),
    "lambda": calls("lambda"),
}

if __name__ == "__main__":
    job = json.load(sys.stdin)
    json.dump(COMMANDS[sys.argv[1]](job), sys.stdout)
