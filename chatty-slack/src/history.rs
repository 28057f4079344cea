//! `conversations.history` and `conversations.replies` as raw JSON: the Web API answers this
//! crate does not read through slack-morphism's types.
//!
//! Why: slack-morphism reads a message's `metadata.event_payload` as a map of strings
//! (`SlackMessageMetadata`), while Slack lets an app put any JSON there (numbers, booleans,
//! objects, lists: api.slack.com/metadata/using). One such message from another app would
//! make the whole page unreadable through the typed answer, and the values are what a
//! user-defined signal carries. Its `messages` are mapped by the same raw-JSON mapping as
//! Events API events (`inbound::event`).

use chatty_core::reexports::serde_json::Value;
use slack_morphism::prelude::*;

use crate::api::{ApiError, Named as _};
use crate::state::Conn;

/// How many messages a page holds at most (Slack recommends no more than 200:
/// api.slack.com/methods/conversations.history, "Pagination").
pub(crate) const LIMIT: usize = 200;
const LIMIT_TEXT: &str = "200";

/// One page of a conversation's history: its messages, and the cursor of the next page when
/// Slack has more.
pub(crate) struct HistoryPage {
    /// The messages as Slack sent them (history newest first, a thread oldest first).
    pub(crate) messages: Vec<Value>,
    /// The cursor of the next page, when there is one.
    pub(crate) next: Option<String>,
}

/// A page of `channel`'s history before `latest` (a message `ts`), from `cursor` on, with the
/// messages' metadata.
pub(crate) async fn page(
    conn: &Conn,
    channel: &str,
    latest: Option<&str>,
    cursor: Option<&str>,
) -> Result<HistoryPage, (&'static str, ApiError)> {
    let args = [("channel", Some(channel)), ("latest", latest)];
    read(conn, "conversations.history", &args, LIMIT_TEXT, cursor).await
}

/// A page of what was posted at or after `oldest` (a message `ts`), from `cursor` on, with the
/// messages' metadata: at the top level of `channel` (`conversations.history`, newest first),
/// or in the thread under `thread` (`conversations.replies`, oldest first).
pub(crate) async fn since(
    conn: &Conn,
    channel: &str,
    thread: Option<&str>,
    oldest: &str,
    cursor: Option<&str>,
) -> Result<HistoryPage, (&'static str, ApiError)> {
    let window = [("oldest", Some(oldest)), ("inclusive", Some("true"))];
    match thread {
        None => {
            let args = [("channel", Some(channel)), window[0], window[1]];
            read(conn, "conversations.history", &args, LIMIT_TEXT, cursor).await
        }
        Some(ts) => {
            let args = [
                ("channel", Some(channel)),
                ("ts", Some(ts)),
                window[0],
                window[1],
            ];
            read(conn, "conversations.replies", &args, LIMIT_TEXT, cursor).await
        }
    }
}

/// The `ts` of the thread the message `ts` of `channel` is a reply in; `None` for a message at
/// the top level (a thread's root included). One `conversations.replies` call: the first
/// message it gives is the thread's root, or the message itself when it is in no thread.
pub(crate) async fn thread_of_message(
    conn: &Conn,
    channel: &str,
    ts: &str,
) -> Result<Option<String>, (&'static str, ApiError)> {
    let args = [("channel", Some(channel)), ("ts", Some(ts))];
    let page = read(conn, "conversations.replies", &args, "1", None).await?;
    let root = page
        .messages
        .first()
        .and_then(|m| m.get("ts"))
        .and_then(Value::as_str);
    Ok(root.filter(|root| *root != ts).map(str::to_owned))
}

/// One page of `method` (`conversations.history` or `.replies`) with `args`, `limit` messages
/// at most, from `cursor` on, with every app's metadata.
async fn read(
    conn: &Conn,
    method: &'static str,
    args: &[(&'static str, Option<&str>)],
    limit: &str,
    cursor: Option<&str>,
) -> Result<HistoryPage, (&'static str, ApiError)> {
    let mut params: Vec<(&str, Option<&str>)> = args.to_vec();
    params.push(("limit", Some(limit)));
    params.push(("include_all_metadata", Some("true")));
    params.push(("cursor", cursor));
    let answer: Value = conn
        .web
        .api
        .session()
        .http_session_api
        .http_get(method, &params, Some(&SLACK_TIER3_METHOD_CONFIG))
        .await
        .named(method)?;
    let messages = match answer.get("messages") {
        Some(Value::Array(messages)) => messages.clone(),
        _ => Vec::new(),
    };
    let has_more = answer.get("has_more").and_then(Value::as_bool) == Some(true);
    let next = answer
        .pointer("/response_metadata/next_cursor")
        .and_then(Value::as_str)
        .filter(|c| has_more && !c.is_empty())
        .map(str::to_owned);
    Ok(HistoryPage { messages, next })
}
