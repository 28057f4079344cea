"""Reactions through slack_sdk: reactions_add / reactions_remove / reactions_get and their
errors with WebClient, reactions in conversations_history, and the reaction_added /
reaction_removed events of a person's reactions received by the built-in SocketModeClient."""

import threading
import time

from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from common import acknowledged_event, client, config, done, error_of

cfg = config()
bot = client(cfg)
alice = client(cfg, "user_token")
events = []
lock = threading.Lock()


def on_request(sm: SocketModeClient, request: SocketModeRequest):
    event = acknowledged_event(sm, request)
    if event is not None and event["type"].startswith("reaction_"):
        with lock:
            events.append(event)


sm = SocketModeClient(app_token=cfg["app_token"], web_client=bot)
sm.socket_mode_request_listeners.append(on_request)
sm.connect()
deadline = time.time() + 20
while not sm.is_connected() and time.time() < deadline:
    time.sleep(0.1)

posted = alice.chat_postMessage(channel=cfg["dm"], text="react to me")
ts = posted["ts"]
assert bot.reactions_add(channel=cfg["dm"], timestamp=ts, name="thumbsup")["ok"]
errors = {
    "again": error_of(lambda: bot.reactions_add(channel=cfg["dm"], timestamp=ts, name="thumbsup")),
    "colons": error_of(lambda: bot.reactions_add(channel=cfg["dm"], timestamp=ts, name=":tada:")),
    "no_message": error_of(lambda: bot.reactions_add(channel=cfg["dm"], timestamp="1.000001", name="tada")),
    "not_reacted": error_of(lambda: bot.reactions_remove(channel=cfg["dm"], timestamp=ts, name="tada")),
}
got = bot.reactions_get(channel=cfg["dm"], timestamp=ts)
history = bot.conversations_history(channel=cfg["dm"])
in_history = [m.get("reactions") for m in history["messages"] if m["ts"] == ts]

alice.reactions_add(channel=cfg["dm"], timestamp=ts, name="tada")
alice.reactions_remove(channel=cfg["dm"], timestamp=ts, name="tada")
assert bot.reactions_remove(channel=cfg["dm"], timestamp=ts, name="thumbsup")["ok"]
after = bot.reactions_get(channel=cfg["dm"], timestamp=ts)["message"].get("reactions")

deadline = time.time() + 30
while time.time() < deadline:
    with lock:
        if len(events) >= 4:
            break
    time.sleep(0.1)
sm.close()
with lock:
    done(
        {
            "ts": ts,
            "errors": errors,
            "get": got.data,
            "history": in_history,
            "after": after,
            "events": events,
        }
    )
