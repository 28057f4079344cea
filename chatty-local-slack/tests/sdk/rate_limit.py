"""HTTP 429 with Retry-After: seen as an error without a retry handler, waited out with
slack_sdk's RateLimitErrorRetryHandler."""

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from common import client, config, done

cfg = config()
plain = client(cfg)
try:
    plain.chat_postMessage(channel=cfg["dm"], text="refused")
    raise AssertionError("the first call must be rate limited")
except SlackApiError as e:
    assert e.response.status_code == 429, e.response.status_code
    assert e.response.headers["Retry-After"] == "1", e.response.headers
    assert e.response["error"] == "ratelimited", e.response.data

patient = client(cfg, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=10)])
sent = [patient.chat_postMessage(channel=cfg["dm"], text=f"r{i}")["ts"] for i in range(5)]
done({"ok": True, "sent": sent})
