"""Shared by the fidelity scripts: the configuration the Rust test passes, and the result."""

import json
import sys

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.response import SocketModeResponse


def config():
    """The JSON object the Rust test passes as the first argument."""
    return json.loads(sys.argv[1])


def client(cfg, token_key="bot_token", **kwargs):
    """A WebClient pointed at the local Slack."""
    return WebClient(token=cfg[token_key], base_url=cfg["api_url"], **kwargs)


def failure(call):
    """The response of a call that must fail with ok: false."""
    try:
        call()
    except SlackApiError as e:
        assert e.response["ok"] is False, e.response
        return e.response
    raise AssertionError("the call did not fail")


def error_of(call):
    """Slack's `error` code of a call that must fail with ok: false."""
    return failure(call)["error"]


def acknowledged_event(sm, request):
    """The event of an `events_api` request, acknowledged on `sm`; None for any other request
    (left unacknowledged)."""
    if request.type != "events_api":
        return None
    sm.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
    return request.payload["event"]


def done(result):
    """Prints the result as the last line of stdout, for the Rust test to read."""
    print(json.dumps(result), flush=True)
