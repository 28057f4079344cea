"""A click and a slash command through slack_sdk: the question's buttons built with the SDK's
Block Kit models and posted with WebClient, then the `interactive` and `slash_commands`
envelopes received and acknowledged by the built-in SocketModeClient. Prints what it received
once both arrived."""

import logging
import sys
import threading
import time

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, SectionBlock
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from common import client, config, done

logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
cfg = config()
received = []
lock = threading.Lock()


def on_request(sm: SocketModeClient, request: SocketModeRequest):
    if request.type == "events_api":
        sm.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
        return
    sm.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
    with lock:
        received.append(
            {
                "type": request.type,
                "accepts_response_payload": request.accepts_response_payload,
                "payload": request.payload,
            }
        )


web = client(cfg)
sm = SocketModeClient(app_token=cfg["app_token"], web_client=web, ping_interval=1)
sm.socket_mode_request_listeners.append(on_request)
sm.connect()

posted = web.chat_postMessage(
    channel=cfg["dm"],
    text="Deploy?",
    blocks=[
        SectionBlock(text="Deploy?"),
        ActionsBlock(
            block_id="deploy",
            elements=[
                ButtonElement(text="Yes", action_id="yes", value="y"),
                ButtonElement(text="No", action_id="no", value="n"),
            ],
        ),
    ],
)
assert posted["ok"], posted

deadline = time.time() + 60
while time.time() < deadline:
    with lock:
        if len(received) >= 2:
            break
    time.sleep(0.05)
time.sleep(0.3)
sm.close()
with lock:
    done({"ok": True, "ts": posted["ts"], "received": received})
