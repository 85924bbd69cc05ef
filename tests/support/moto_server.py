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
