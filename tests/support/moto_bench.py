"""Executions per second of state machines on moto's Step Functions interpreter, through its
server, for scripts/bench-engine.sh (the same documents as cli/benches/engine.rs).

Usage: python moto_bench.py DOCS_DIR NAME... [--executions N] [--in-flight K]

Starts its own moto server (tests/support/moto_server.py) on a free loopback port, configured
as the tests configure it (Lambda without Docker echoes its payload), creates the echo
function `bench-echo` and one state machine per DOCS_DIR/NAME.asl.json, then for each: a
warm-up, and N executions with K in flight (each: StartExecution, then DescribeExecution
every 10 ms until it is no longer RUNNING; every one must succeed). Prints one JSON object:
{NAME: {"executions", "in_flight", "seconds", "per_second"}, "moto": version}.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid

import boto3
import moto
from botocore.config import Config

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import moto_driver  # noqa: E402  (the tests' driver: config and Lambda creation)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server():
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "moto_server.py"), str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # its request log
        env=dict(os.environ, MOTO_PORT=str(port)),
    )
    line = server.stdout.readline().decode().strip()
    if line != "ready":
        server.kill()
        sys.exit(f"moto did not start: {line!r}")
    return server, f"http://127.0.0.1:{port}"


def run_one(sfn, arn, text):
    started = sfn.start_execution(stateMachineArn=arn, name=uuid.uuid4().hex, input=text)["executionArn"]
    while True:
        d = sfn.describe_execution(executionArn=started)
        if d["status"] != "RUNNING":
            break
        time.sleep(0.01)
    if d["status"] != "SUCCEEDED":
        raise RuntimeError(f"execution {d['status']}: {d.get('error')} {d.get('cause')}")


def measure(endpoint, arn, text, count, in_flight):
    remaining = [count]
    lock = threading.Lock()
    errors = []

    def worker():
        sfn = boto3.client(
            "stepfunctions",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 2}),
        )
        while True:
            with lock:
                if remaining[0] == 0 or errors:
                    return
                remaining[0] -= 1
            try:
                run_one(sfn, arn, text)
            except Exception as e:  # reported once, after the run
                errors.append(repr(e))

    threads = [threading.Thread(target=worker) for _ in range(in_flight)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    if errors:
        sys.exit(f"an execution failed: {errors[0]}")
    return seconds


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("docs")
    parser.add_argument("names", nargs="+")
    parser.add_argument("--executions", type=int, default=200)
    parser.add_argument("--in-flight", type=int, default=8)
    args = parser.parse_args()
    server, endpoint = start_server()
    try:
        job = {"endpoint": endpoint, "region": "us-east-1"}
        moto_driver.config(job)
        moto_driver.lambdas(dict(job, prefix="bench", units=["echo"]))
        sfn = moto_driver.client(job, "stepfunctions")
        role = "arn:aws:iam::123456789012:role/bench"
        with open(os.path.join(args.docs, "input.json")) as f:
            text = f.read()
        result = {"moto": moto.__version__}
        for name in args.names:
            with open(os.path.join(args.docs, f"{name}.asl.json")) as f:
                definition = f.read()
            arn = sfn.create_state_machine(name=f"bench-{name}", definition=definition, roleArn=role)["stateMachineArn"]
            measure(endpoint, arn, text, max(2, args.executions // 10), args.in_flight)  # warm-up
            seconds = measure(endpoint, arn, text, args.executions, args.in_flight)
            result[name] = {
                "executions": args.executions,
                "in_flight": args.in_flight,
                "seconds": seconds,
                "per_second": args.executions / seconds,
            }
        print(json.dumps(result))
    finally:
        server.stdin.close()  # the server exits when its input closes
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
