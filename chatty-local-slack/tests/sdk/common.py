"""Shared by the fidelity scripts: the configuration the Rust test passes, and the result."""

import json
import sys

from slack_sdk import WebClient


def config():
    """The JSON object the Rust test passes as the first argument."""
    return json.loads(sys.argv[1])


def client(cfg, token_key="bot_token", **kwargs):
    """A WebClient pointed at the local Slack."""
    return WebClient(token=cfg[token_key], base_url=cfg["api_url"], **kwargs)


def done(result):
    """Prints the result as the last line of stdout, for the Rust test to read."""
    print(json.dumps(result), flush=True)
