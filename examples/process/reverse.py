#!/usr/bin/env python3
"""A Chatty bot in Python: answers every message with its text reversed.

Chatty writes one JSON object per line to this program's standard input and reads one per line
from its standard output (protocol version 1, described in docs/runner.md). Run it with
`chatty run examples/config/process.toml`.
"""
import json
import sys


def send(message):
    print(json.dumps(message), flush=True)


for line in sys.stdin:
    event = json.loads(line)
    if event["type"] == "hello" and event["version"] != 1:
        sys.exit(f"this bot speaks version 1 of the protocol, not {event['version']}")
    if event["type"] != "signal":
        continue
    meta, body = event["signal"]["meta"], event["signal"]["body"]
    # A machine sent it (an out-of-office, a bounce, a list, another bot): never answer, or two
    # responders answer each other forever.
    if "automatic" in meta:
        continue
    if body["type"] == "message" and "origin" in meta:
        # Answer in the room the message was said in, if any, else to whoever said it.
        rooms = [a for a in meta.get("visible_to", []) if "kind=channel" in a or "kind=group" in a]
        send({"type": "send", "signal": {
            "meta": {"addressees": rooms or [meta["origin"]], "response_to": meta["id"]},
            "body": {"type": "message", "text": body["text"][::-1]},
        }})
