#!/usr/bin/env python3
"""A Chatty bot in Python: answers every message with its text reversed.

Chatty writes one JSON object per line to this program's standard input and reads one per line
from its standard output (the protocol is described in docs/runner.md). Run it with
`chatty run examples/config/process-xmpp.toml`.

It speaks version 2 of the protocol where the runner does: it acknowledges each signal once it
has handled it, so that a signal is never lost when this program (or the runner) dies in the
middle of a burst; the runner gives it again, and does not send an answer twice.
"""
import json
import sys


def send(message):
    print(json.dumps(message), flush=True)


acks = False
for line in sys.stdin:
    event = json.loads(line)
    if event["type"] == "hello":
        # Version 2 is asked for with a hello of our own, as our first line.
        acks = 2 in event.get("versions", [])
        if acks:
            send({"type": "hello", "version": 2})
        continue
    if event["type"] != "signal":
        continue
    meta, body = event["signal"]["meta"], event["signal"]["body"]
    # A machine sent it (an out-of-office, a bounce, a list, another bot): never answer, or two
    # responders answer each other forever.
    if body["type"] == "message" and "origin" in meta and "automatic" not in meta:
        # Answer in the room the message was said in, if any, else to whoever said it.
        rooms = [a for a in meta.get("visible_to", []) if "kind=channel" in a or "kind=group" in a]
        send({"type": "send", "signal": {
            "meta": {"addressees": rooms or [meta["origin"]], "response_to": meta["id"]},
            "body": {"type": "message", "text": body["text"][::-1]},
        }})
    # Every signal is acknowledged once handled, those we leave alone included.
    if acks:
        send({"type": "ack", "id": meta["id"]})
