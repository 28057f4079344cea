//! Outbound mapping: a message, file or user-defined signal as the arguments of Web API calls
//! (a [`Plan`]), which the session carries out.

use chatty_core::reexports::bytes::Bytes;
use chatty_core::reexports::serde_json::{self, Map, Value, json};
use chatty_core::{Body, Content, EditKind, File, Message, Signal};

use crate::ids::{BLOCK_ID_PREFIX, EVENT_TYPE_MESSAGE, Place, response_target};
use crate::text::html_to_mrkdwn;

/// One Web API step of an outbound signal.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Plan {
    /// `chat.postMessage` with these arguments (the channel is filled in by the session).
    Post(Map<String, Value>),
    /// `chat.update` of the message at `place` with these arguments.
    Update(Place, Map<String, Value>),
    /// `chat.delete` of the message at `place`.
    Delete(Place),
    /// Files v2 upload of `files` (with bytes), shared with these `blocks` (the signal id in
    /// the block id) and `thread_ts`.
    Upload {
        /// Name, media type and bytes of each file.
        files: Vec<(String, Option<String>, Bytes)>,
        /// The share message's blocks.
        blocks: Value,
    },
}

/// The metadata that carries the signal id (api.slack.com/metadata/using).
fn id_metadata(signal: &Signal, event_type: &str, payload: Option<&Value>) -> Value {
    let mut event_payload = Map::new();
    event_payload.insert("chatty_id".into(), signal.meta.id.as_str().into());
    if let Some(r) = &signal.meta.response_to {
        // A request for a thread (`thread:ID`) answers ID.
        let (answered, _) = response_target(r);
        event_payload.insert("chatty_response_to".into(), answered.as_str().into());
    }
    if let Some(p) = payload {
        event_payload.insert("chatty_payload".into(), p.to_string().into());
    }
    json!({"event_type": event_type, "event_payload": event_payload})
}

/// Whether a name can be a metadata `event_type` (letters, digits and `_`, as Slack asks).
pub(crate) fn valid_event_type(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The outbound plan for a message, file or user-defined signal, given where its
/// `response_to` is (for `thread_ts`) and where an edited message is.
pub(crate) fn plan(signal: &Signal, edited: Option<Place>) -> Result<Plan, String> {
    match &signal.body {
        Body::Message(message) => {
            if let Some(edit) = &message.edit {
                let Some(place) = edited else {
                    return match edit.kind {
                        // A correction of a message this session never saw: posted as a new
                        // message, marked in its metadata.
                        EditKind::Correction => {
                            let mut args = text_args(message);
                            let mut meta = id_metadata(signal, EVENT_TYPE_MESSAGE, None);
                            meta["event_payload"]["chatty_edit_of"] = edit.of.as_str().into();
                            args.insert("metadata".into(), meta);
                            Ok(Plan::Post(args))
                        }
                        EditKind::Retraction => Err(format!(
                            "cannot delete {}: not a message this session knows on Slack",
                            edit.of
                        )),
                    };
                };
                return Ok(match edit.kind {
                    EditKind::Correction => {
                        let mut args = text_args(message);
                        let mut meta = id_metadata(signal, EVENT_TYPE_MESSAGE, None);
                        meta["event_payload"]["chatty_edit_of"] = edit.of.as_str().into();
                        args.insert("metadata".into(), meta);
                        Plan::Update(place, args)
                    }
                    EditKind::Retraction => Plan::Delete(place),
                });
            }
            if !message.attachments.is_empty() {
                return upload_plan(signal, &message.text, &message.attachments, 'm');
            }
            let mut args = text_args(message);
            args.insert(
                "metadata".into(),
                id_metadata(signal, EVENT_TYPE_MESSAGE, None),
            );
            Ok(Plan::Post(args))
        }
        Body::File(file) => upload_plan(signal, "", std::slice::from_ref(file), 'f'),
        Body::UserDefined(user_defined) => {
            if !valid_event_type(&user_defined.name) {
                return Err(format!(
                    "`{}` cannot be a Slack metadata event_type: use letters, digits and `_`",
                    user_defined.name
                ));
            }
            let mut args = Map::new();
            args.insert("text".into(), format!("[{}]", user_defined.name).into());
            args.insert(
                "metadata".into(),
                id_metadata(signal, &user_defined.name, Some(&user_defined.payload)),
            );
            Ok(Plan::Post(args))
        }
        other => Err(format!(
            "{:?} signals are not carried as messages",
            other.kind()
        )),
    }
}

/// `text` and, for rich content, a `section` block.
fn text_args(message: &Message) -> Map<String, Value> {
    let mut args = Map::new();
    args.insert("text".into(), message.text.clone().into());
    if let Some(html) = &message.html {
        let mrkdwn = html_to_mrkdwn(html);
        let section = if mrkdwn.is_empty() {
            message.text.clone()
        } else {
            mrkdwn
        };
        if !section.is_empty() {
            args.insert(
                "blocks".into(),
                json!([{"type": "section", "text": {"type": "mrkdwn", "text": section}}]),
            );
        }
    }
    args
}

fn upload_plan(signal: &Signal, text: &str, files: &[File], mark: char) -> Result<Plan, String> {
    let mut with_bytes = Vec::new();
    let mut links = Vec::new();
    for file in files {
        match &file.content {
            Content::Bytes { data } => {
                with_bytes.push((file.name.clone(), file.media_type.clone(), data.clone()))
            }
            // A file known only by URL is linked, not uploaded.
            Content::Url { url, .. } => links.push(format!("<{url}|{}>", file.name)),
        }
    }
    let mut shown = text.to_owned();
    for link in links {
        if !shown.is_empty() {
            shown.push('\n');
        }
        shown.push_str(&link);
    }
    if with_bytes.is_empty() {
        let mut args = Map::new();
        args.insert("text".into(), shown.into());
        args.insert(
            "metadata".into(),
            id_metadata(signal, EVENT_TYPE_MESSAGE, None),
        );
        return Ok(Plan::Post(args));
    }
    let section = if shown.is_empty() {
        with_bytes
            .iter()
            .map(|(n, _, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        shown
    };
    let mut block = json!({"type": "section", "text": {"type": "mrkdwn", "text": section}});
    let block_id = format!("{BLOCK_ID_PREFIX}{mark}:{}", signal.meta.id);
    if block_id.len() <= 255 {
        block["block_id"] = block_id.into();
    }
    Ok(Plan::Upload {
        files: with_bytes,
        blocks: json!([block]),
    })
}

/// The args' `text` for logs and errors: never the tokens (they are not in args anyway).
pub(crate) fn describe(args: &Map<String, Value>) -> String {
    serde_json::to_string(args.get("text").unwrap_or(&Value::Null)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use chatty_core::UserDefined;

    use super::*;

    #[test]
    fn outbound_plans_carry_ids_metadata_and_blocks() {
        let signal =
            Signal::new(Message::text("hi").with_html("<b>hi</b> <a href=\"https://x.org\">x</a>"))
                .in_response_to("q1".into());
        let Plan::Post(args) = plan(&signal, None).unwrap() else {
            panic!()
        };
        assert_eq!(args["metadata"]["event_type"], EVENT_TYPE_MESSAGE);
        assert_eq!(
            args["metadata"]["event_payload"]["chatty_id"],
            signal.meta.id.as_str()
        );
        assert_eq!(
            args["metadata"]["event_payload"]["chatty_response_to"],
            "q1"
        );
        assert_eq!(args["blocks"][0]["text"]["text"], "*hi* <https://x.org|x>");
        let file = Signal::new(File::bytes("a.txt", Some("text/plain"), &b"abc"[..]));
        let Plan::Upload { files, blocks } = plan(&file, None).unwrap() else {
            panic!()
        };
        assert_eq!(files.len(), 1);
        assert_eq!(blocks[0]["block_id"], format!("chatty:f:{}", file.meta.id));
        let bad = Signal::new(UserDefined::new("has space", &1).unwrap());
        assert!(plan(&bad, None).is_err());
    }

    #[test]
    fn a_thread_request_carries_the_answered_id() {
        let signal = Signal::message("in a thread")
            .in_response_to(crate::ids::thread_of(&"C1/1.000001".into()));
        let Plan::Post(args) = plan(&signal, None).unwrap() else {
            panic!()
        };
        assert_eq!(
            args["metadata"]["event_payload"]["chatty_response_to"],
            "C1/1.000001"
        );
    }
}
