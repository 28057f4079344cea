"""The Web API methods chatty-slack uses, called through slack_sdk's WebClient."""

from common import client, config, done, error_of


cfg = config()
bot = client(cfg)
alice = client(cfg, "user_token")

echo = bot.api_test(foo="bar")
assert echo["args"]["foo"] == "bar", echo
assert error_of(lambda: bot.api_test(error="my_error")) == "my_error"

me = bot.auth_test()
assert me["user_id"] == cfg["bot_user"] and me["bot_id"] == cfg["bot_id"], me
assert me["team_id"] == cfg["team"], me

dm = bot.conversations_open(users=cfg["alice"])["channel"]["id"]
assert dm.startswith("D"), dm
again = bot.conversations_open(users=cfg["alice"], return_im=True)
assert again["channel"]["id"] == dm and again["channel"]["is_im"] is True, again

posted = bot.chat_postMessage(
    channel=dm,
    text="hello",
    metadata={"event_type": "order", "event_payload": {"item": "tea"}},
)
assert posted["channel"] == dm and posted["message"]["text"] == "hello", posted
assert posted["message"]["bot_id"] == cfg["bot_id"], posted
assert posted["message"]["metadata"]["event_type"] == "order", posted
reply = bot.chat_postMessage(channel=dm, text="in the thread", thread_ts=posted["ts"])
assert reply["message"]["thread_ts"] == posted["ts"], reply
rich = bot.chat_postMessage(
    channel=dm,
    text="fallback",
    blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "*bold*"}}],
)
assert rich["message"]["blocks"][0]["text"]["text"] == "*bold*", rich
said = alice.chat_postMessage(channel=dm, text="from alice")
assert said["message"]["user"] == cfg["alice"] and "bot_id" not in said["message"], said

history = bot.conversations_history(channel=dm)
texts = [m["text"] for m in history["messages"]]
assert texts == ["from alice", "fallback", "hello"], texts
assert "metadata" not in history["messages"][2], history["messages"][2]
with_metadata = bot.conversations_history(channel=dm, include_all_metadata=True)
assert with_metadata["messages"][2]["metadata"]["event_payload"] == {"item": "tea"}
assert history["messages"][2]["reply_count"] == 1, history["messages"][2]
replies = bot.conversations_replies(channel=dm, ts=posted["ts"])
assert [m["text"] for m in replies["messages"]] == ["hello", "in the thread"], replies
page = bot.conversations_history(channel=dm, limit=2)
assert page["has_more"] is True and page["response_metadata"]["next_cursor"], page
rest = bot.conversations_history(channel=dm, limit=2, cursor=page["response_metadata"]["next_cursor"])
assert [m["text"] for m in rest["messages"]] == ["hello"], rest

updated = bot.chat_update(channel=dm, ts=posted["ts"], text="hello, edited")
assert updated["text"] == "hello, edited", updated
bot.chat_delete(channel=dm, ts=rich["ts"])
assert error_of(lambda: bot.chat_delete(channel=dm, ts=rich["ts"])) == "message_not_found"
assert error_of(lambda: bot.chat_update(channel=dm, ts=said["ts"], text="x")) == "cant_update_message"

channel = cfg["channel"]
info = bot.conversations_info(channel=channel)["channel"]
assert info["is_member"] is False and info["is_channel"] is True, info
assert error_of(lambda: bot.chat_postMessage(channel=channel, text="x")) == "not_in_channel"
joined = bot.conversations_join(channel=channel)
assert joined["channel"]["is_member"] is True, joined
members = bot.conversations_members(channel=channel)["members"]
assert cfg["bot_user"] in members and cfg["alice"] in members, members
listed = bot.conversations_list(types="public_channel,im")["channels"]
assert {c["id"] for c in listed} >= {channel, dm}, listed

user = bot.users_info(user=cfg["alice"])["user"]
assert user["name"] == "alice" and user["is_bot"] is False, user
assert bot.users_getPresence(user=cfg["alice"])["presence"] == "active"
bot.users_setPresence(presence="away")
assert bot.users_getPresence(user=cfg["bot_user"])["presence"] == "away"

assert error_of(lambda: bot.chat_postMessage(channel="C0NOPE0000", text="x")) == "channel_not_found"
assert error_of(lambda: bot.conversations_open(users="U0NOBODY0")) == "user_not_found"
assert error_of(lambda: bot.users_info(user="U0NOBODY0")) == "user_not_found"
assert error_of(lambda: bot.chat_postMessage(channel=dm)) == "no_text"
assert error_of(lambda: client({**cfg, "bot_token": "xoxb-wrong"}).auth_test()) == "invalid_auth"
assert error_of(lambda: client(cfg, "app_token").chat_postMessage(channel=dm, text="x")) == "not_allowed_token_type"
assert error_of(lambda: bot.apps_connections_open(app_token=cfg["bot_token"])) == "not_allowed_token_type"
opened = bot.apps_connections_open(app_token=cfg["app_token"])
assert opened["url"].startswith("ws://127.0.0.1:"), opened

done({"ok": True, "dm": dm})
