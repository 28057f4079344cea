"""Files v2 through slack_sdk's files_upload_v2, and url_private downloads with the token."""

import urllib.request

from common import client, config, done

cfg = config()
bot = client(cfg)
dm = bot.conversations_open(users=cfg["alice"])["channel"]["id"]

uploaded = bot.files_upload_v2(
    channel=dm,
    content=b"hello file",
    filename="hello.txt",
    initial_comment="see the file",
)
file_id = uploaded["file"]["id"]
info = bot.files_info(file=file_id)["file"]
assert info["name"] == "hello.txt" and info["mimetype"] == "text/plain", info
assert info["size"] == len(b"hello file"), info
assert dm in info["ims"], info

request = urllib.request.Request(info["url_private"], headers={"Authorization": "Bearer " + cfg["bot_token"]})
with urllib.request.urlopen(request) as response:
    assert response.read() == b"hello file"
with urllib.request.urlopen(info["url_private"]) as response:
    assert response.headers["Content-Type"].startswith("text/html"), response.headers

share = [m for m in bot.conversations_history(channel=dm)["messages"] if m.get("subtype") == "file_share"]
assert len(share) == 1 and share[0]["text"] == "see the file", share
assert share[0]["files"][0]["id"] == file_id, share

# Two files in one share, in a thread, through the two steps by hand.
steps = []
for name, data in (("a.txt", b"aaa"), ("b.txt", b"bbbb")):
    url = bot.files_getUploadURLExternal(filename=name, length=len(data))
    urllib.request.urlopen(urllib.request.Request(url["upload_url"], data=data, method="POST")).read()
    steps.append({"id": url["file_id"], "title": name})
bot.files_completeUploadExternal(files=steps, channel_id=dm, thread_ts=share[0]["ts"])
replies = bot.conversations_replies(channel=dm, ts=share[0]["ts"])["messages"]
assert [f["name"] for f in replies[-1]["files"]] == ["a.txt", "b.txt"], replies

done({"ok": True, "file_id": file_id})
