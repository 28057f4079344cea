#!/usr/bin/env python3
"""A process bot for the runner's tests: echoes each message with the number of the process
that handled it (its start count, kept in a file), and exits without answering on "crash"."""
import json
import os
import sys

counter = os.environ["CRASHY_COUNTER"]
starts = int(open(counter).read()) + 1 if os.path.exists(counter) else 1
with open(counter, "w") as f:
    f.write(str(starts))

for line in sys.stdin:
    event = json.loads(line)
    if event["type"] != "signal":
        continue
    meta, body = event["signal"]["meta"], event["signal"]["body"]
    if body["type"] != "message" or "origin" not in meta:
        continue
    if body["text"] == "crash":
        sys.exit(3)
    if body["text"] == "garbage":
        print("this is not JSON", flush=True)
        print(json.dumps({"type": "launch", "what": "rockets"}), flush=True)
    print(json.dumps({"type": "send", "signal": {
        "meta": {"addressees": [meta["origin"]], "response_to": meta["id"]},
        "body": {"type": "message", "text": f"{starts}: {body['text']}"},
    }}), flush=True)
