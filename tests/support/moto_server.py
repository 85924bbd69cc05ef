"""Runs a moto server on 127.0.0.1:PORT for the flowctl end-to-end tests.

Usage: python moto_server.py PORT

Prints "ready" once the server answers, then serves until its standard input closes:
the Rust test holds the other end of that pipe, so the server goes away with the test
process however it ends (a panic, a kill, or dropping the handle).
"""

import os
import sys
import time
import urllib.request

port = int(sys.argv[1])
os.environ["MOTO_PORT"] = str(port)

from moto.server import ThreadedMotoServer  # noqa: E402  (after MOTO_PORT is set)
from moto.awslambda_simple.models import LambdaSimpleBackend  # noqa: E402
import json  # noqa: E402

# Answers keyed by request: moto's Lambda without Docker answers from one FIFO queue (or
# echoes), which concurrent branches would consume in any order. A queued result of the form
# {"flowctl_function": NAME, "flowctl_when": PAYLOAD, "flowctl_answer": RESULT} answers only
# an invocation of NAME whose payload is PAYLOAD (compared as JSON), whenever it comes;
# tests/fusion.rs queues the answers flowctl's engine recorded. With
# "flowctl_function_error": "Unhandled" the answer is a function error (Lambda's
# X-Amz-Function-Error header), as a function that raised gives it (tests/hybrid.rs). Other
# results keep moto's behaviour (FIFO, else echo).
_simple_invoke = LambdaSimpleBackend.invoke


def _lambda_name(name):
    name = str(name)
    if ":function:" in name:
        name = name.split(":function:", 1)[1]
    return name.split(":", 1)[0]


def _keyed(result):
    try:
        entry = json.loads(result)
    except (TypeError, ValueError):
        return None
    return entry if isinstance(entry, dict) and "flowctl_when" in entry else None


def _invoke(self, function_name, qualifier, body, headers, response_headers):
    queue = self.lambda_simple_results_queue
    try:
        payload = json.loads(body) if body else None
    except (TypeError, ValueError):
        payload = body
    for i, result in enumerate(queue):
        entry = _keyed(result)
        if (
            entry is not None
            and _lambda_name(entry.get("flowctl_function")) == _lambda_name(function_name)
            and entry["flowctl_when"] == payload
        ):
            queue.pop(i)
            if entry.get("flowctl_function_error"):
                response_headers["x-amz-function-error"] = entry["flowctl_function_error"]
            return json.dumps(entry["flowctl_answer"]).encode()
    # A keyed answer is never taken as the next FIFO result.
    for i, result in enumerate(queue):
        if _keyed(result) is None:
            queue.pop(i)
            return str.encode(result)
    return str.encode(body or "Simple Lambda happy path OK")


LambdaSimpleBackend.invoke = _invoke

server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
server.start()
deadline = time.time() + 30
while True:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=2).read()
        break
    except Exception:
        if time.time() > deadline:
            print("moto did not answer within 30 s", file=sys.stderr, flush=True)
            sys.exit(1)
        time.sleep(0.05)
print("ready", flush=True)
sys.stdin.read()
server.stop()
