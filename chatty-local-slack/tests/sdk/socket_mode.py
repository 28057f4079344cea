"""Socket Mode through slack_sdk's built-in SocketModeClient: hello, events_api envelopes,
acks, redeliveries and reconnection. Collects the envelopes until `expect` distinct messages
from the person arrived, then prints them."""

import logging
import sys
import threading
import time

from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from common import acknowledged_event, client, config, done

logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
cfg = config()
envelopes = []
lock = threading.Lock()


def on_request(sm: SocketModeClient, request: SocketModeRequest):
    event = acknowledged_event(sm, request)
    if event is None:
        return
    with lock:
        envelopes.append(
            {
                "event_id": request.payload["event_id"],
                "api_app_id": request.payload["api_app_id"],
                "team_id": request.payload["team_id"],
                "authorized_user": request.payload["authorizations"][0]["user_id"],
                "type": event["type"],
                "text": event.get("text"),
                "user": event.get("user"),
                "channel": event.get("channel"),
                "retry_attempt": request.retry_attempt,
                "retry_reason": request.retry_reason,
            }
        )


sm = SocketModeClient(app_token=cfg["app_token"], web_client=client(cfg), ping_interval=1)
sm.socket_mode_request_listeners.append(on_request)
sm.connect()

deadline = time.time() + 75
down_since = None
while time.time() < deadline:
    with lock:
        texts = {e["text"] for e in envelopes if e["type"] == "message" and e["user"] == cfg["alice"]}
    if len(texts) >= cfg["expect"]:
        break
    # A watchdog, as apps run one: the built-in client sometimes misses that its socket was
    # dropped when its receiving thread sees the end of the stream first, and never reconnects.
    if sm.is_connected():
        down_since = None
    elif down_since is None:
        down_since = time.time()
    elif time.time() - down_since > 3:
        logging.warning("watchdog: the client stayed disconnected; reconnecting")
        sm.connect_to_new_endpoint()
        down_since = None
    time.sleep(0.05)
time.sleep(0.5)  # let late redeliveries in
sm.close()
with lock:
    done({"ok": True, "envelopes": envelopes})
