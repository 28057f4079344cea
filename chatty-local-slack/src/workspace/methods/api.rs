//! `api.*`: api.test.

use serde_json::{Value, json};

use super::entry::Args;
use crate::workspace::Reply;

/// api.slack.com/methods/api.test: echoes the arguments; `error` makes it fail.
pub(super) fn test(args: &Args) -> Reply {
    let mut reply = Reply::ok(json!({"args": args}));
    if let Some(error) = args.get("error").and_then(Value::as_str) {
        reply = Reply::error(error);
        reply.body["args"] = Value::Object(args.clone());
    }
    reply
}
