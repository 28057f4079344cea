"""Withheld scopes, revoked tokens and message metadata of any JSON, through slack_sdk's WebClient."""

from common import client, config, done, failure


cfg = config()
bot = client(cfg)  # installed without im:write
alice = client(cfg, "user_token")

missing = failure(lambda: bot.conversations_open(users=cfg["alice"]))
assert missing["error"] == "missing_scope", missing.data
assert missing["needed"] == "im:write", missing.data
assert "chat:write" in missing["provided"].split(","), missing.data
# The bot may still post where it is: chat:write is granted.
bot.chat_postMessage(channel=cfg["channel"], text="still here")

revoked = client({**cfg, "bot_token": cfg["revoked_token"]})
assert failure(lambda: revoked.auth_test())["error"] == "token_revoked"

# Metadata payloads hold any JSON (api.slack.com/metadata/using), and come back whole.
payload = {"id": 42, "done": False, "owner": {"name": "ann"}, "tags": ["a", "b"]}
posted = alice.chat_postMessage(
    channel=cfg["channel"],
    text="task created",
    metadata={"event_type": "task_created", "event_payload": payload},
)
history = bot.conversations_history(channel=cfg["channel"], include_all_metadata=True)
found = [m for m in history["messages"] if m["ts"] == posted["ts"]]
assert found and found[0]["metadata"]["event_payload"] == payload, history.data

slackbot = bot.users_info(user="USLACKBOT")["user"]
assert slackbot["name"] == "slackbot", slackbot

done({"ok": True})
