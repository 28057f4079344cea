//! `conversations.history` as raw JSON: the one Web API answer this crate does not read through
//! slack-morphism's types.
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

/// One page of a conversation's history: its messages, and the cursor of the next page when
/// Slack has more.
pub(crate) struct HistoryPage {
    /// The messages, newest first, as Slack sent them.
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
    let method = "conversations.history";
    let params = [
        ("channel", Some(channel)),
        ("limit", Some("200")),
        ("include_all_metadata", Some("true")),
        ("latest", latest),
        ("cursor", cursor),
    ];
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
