//! Outbound mapping: a message, file or user-defined signal as the content of Web API calls
//! (a [`Plan`], in slack-morphism's types), which the session carries out.

use std::collections::HashMap;

use chatty_core::reexports::bytes::Bytes;
use chatty_core::reexports::serde_json::Value;
use chatty_core::{Body, Content, EditKind, File, Message, Signal};
use slack_morphism::prelude::*;

use crate::ids::{BLOCK_ID_PREFIX, EVENT_TYPE_MESSAGE, Place, response_target};
use crate::text::html_to_mrkdwn;

/// One Web API step of an outbound signal.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Plan {
    /// `chat.postMessage` of this content (the channel is filled in by the session).
    Post(SlackMessageContent),
    /// `chat.update` of the message at `place` with this content.
    Update(Place, SlackMessageContent),
    /// `chat.delete` of the message at `place`.
    Delete(Place),
    /// Files v2 upload of `files` (with bytes), shared with these `blocks` (the signal id in
    /// the block id) and `thread_ts`.
    Upload {
        /// Name, media type and bytes of each file.
        files: Vec<(String, Option<String>, Bytes)>,
        /// The share message's blocks.
        blocks: Vec<SlackBlock>,
    },
}

/// The metadata that carries the signal id (api.slack.com/metadata/using): every value a
/// string (slack-morphism's `event_payload` holds strings only), the payload of a
/// user-defined signal as JSON text; `edit_of` for a correction posted as a new message.
fn id_metadata(
    signal: &Signal,
    event_type: &str,
    payload: Option<&Value>,
    edit_of: Option<&str>,
) -> SlackMessageMetadata {
    let mut event_payload = HashMap::new();
    event_payload.insert("chatty_id".to_owned(), signal.meta.id.as_str().to_owned());
    if let Some(r) = &signal.meta.response_to {
        // A request for a thread (`thread:ID`) answers ID.
        let (answered, _) = response_target(r);
        event_payload.insert(
            "chatty_response_to".to_owned(),
            answered.as_str().to_owned(),
        );
    }
    if let Some(p) = payload {
        event_payload.insert("chatty_payload".to_owned(), p.to_string());
    }
    if let Some(of) = edit_of {
        event_payload.insert("chatty_edit_of".to_owned(), of.to_owned());
    }
    SlackMessageMetadata {
        event_type: event_type.to_owned(),
        event_payload: Some(event_payload),
    }
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
                            let of = Some(edit.of.as_str());
                            let meta = id_metadata(signal, EVENT_TYPE_MESSAGE, None, of);
                            Ok(Plan::Post(text_content(message).with_metadata(meta)))
                        }
                        EditKind::Retraction => Err(format!(
                            "cannot delete {}: not a message this session knows on Slack",
                            edit.of
                        )),
                        other => Err(format!("cannot carry an edit of kind {other:?} on Slack")),
                    };
                };
                return Ok(match edit.kind {
                    EditKind::Correction => {
                        let of = Some(edit.of.as_str());
                        let meta = id_metadata(signal, EVENT_TYPE_MESSAGE, None, of);
                        Plan::Update(place, text_content(message).with_metadata(meta))
                    }
                    EditKind::Retraction => Plan::Delete(place),
                    other => {
                        return Err(format!("cannot carry an edit of kind {other:?} on Slack"));
                    }
                });
            }
            if !message.attachments.is_empty() {
                return upload_plan(signal, &message.text, &message.attachments, 'm');
            }
            let meta = id_metadata(signal, EVENT_TYPE_MESSAGE, None, None);
            Ok(Plan::Post(text_content(message).with_metadata(meta)))
        }
        Body::File(file) => upload_plan(signal, "", std::slice::from_ref(file), 'f'),
        Body::UserDefined(user_defined) => {
            if !valid_event_type(&user_defined.name) {
                return Err(format!(
                    "`{}` cannot be a Slack metadata event_type: use letters, digits and `_`",
                    user_defined.name
                ));
            }
            let payload = Some(&user_defined.payload);
            let meta = id_metadata(signal, &user_defined.name, payload, None);
            let content = SlackMessageContent::new()
                .with_text(format!("[{}]", user_defined.name))
                .with_metadata(meta);
            Ok(Plan::Post(content))
        }
        other => Err(format!(
            "{:?} signals are not carried as messages",
            other.kind()
        )),
    }
}

/// `text` and, for rich content, a `section` block.
fn text_content(message: &Message) -> SlackMessageContent {
    let content = SlackMessageContent::new().with_text(message.text.clone());
    let Some(html) = &message.html else {
        return content;
    };
    let mrkdwn = html_to_mrkdwn(html);
    let section = if mrkdwn.is_empty() {
        message.text.clone()
    } else {
        mrkdwn
    };
    if section.is_empty() {
        return content;
    }
    content.with_blocks(vec![section_block(section, None)])
}

/// A `section` block of mrkdwn text.
fn section_block(text: String, block_id: Option<String>) -> SlackBlock {
    let text = SlackBlockText::MarkDown(SlackBlockMarkDownText::new(text));
    SlackSectionBlock::new()
        .with_text(text)
        .opt_block_id(block_id.map(SlackBlockId))
        .into()
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
            _ => {
                return Err(format!(
                    "cannot carry the content of the file {} on Slack",
                    file.name
                ));
            }
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
        let meta = id_metadata(signal, EVENT_TYPE_MESSAGE, None, None);
        let content = SlackMessageContent::new()
            .with_text(shown)
            .with_metadata(meta);
        return Ok(Plan::Post(content));
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
    let block_id = format!("{BLOCK_ID_PREFIX}{mark}:{}", signal.meta.id);
    let block_id = (block_id.len() <= 255).then_some(block_id);
    Ok(Plan::Upload {
        files: with_bytes,
        blocks: vec![section_block(section, block_id)],
    })
}

#[cfg(test)]
mod tests {
    use chatty_core::UserDefined;
    use chatty_core::reexports::serde_json::{self, json};

    use super::*;

    /// The content as it goes on the wire.
    fn wire(content: &impl serde::Serialize) -> Value {
        serde_json::to_value(content).unwrap()
    }

    #[test]
    fn outbound_plans_carry_ids_metadata_and_blocks() {
        let signal =
            Signal::new(Message::text("hi").with_html("<b>hi</b> <a href=\"https://x.org\">x</a>"))
                .in_response_to("q1".into());
        let Plan::Post(content) = plan(&signal, None).unwrap() else {
            panic!()
        };
        let args = wire(&content);
        assert_eq!(args["metadata"]["event_type"], EVENT_TYPE_MESSAGE);
        assert_eq!(
            args["metadata"]["event_payload"]["chatty_id"],
            signal.meta.id.as_str()
        );
        assert_eq!(
            args["metadata"]["event_payload"]["chatty_response_to"],
            "q1"
        );
        assert_eq!(
            args["blocks"][0],
            json!({"type": "section", "text": {"type": "mrkdwn", "text": "*hi* <https://x.org|x>"}})
        );
        let file = Signal::new(File::bytes("a.txt", Some("text/plain"), &b"abc"[..]));
        let Plan::Upload { files, blocks } = plan(&file, None).unwrap() else {
            panic!()
        };
        assert_eq!(files.len(), 1);
        assert_eq!(
            wire(&blocks)[0]["block_id"],
            format!("chatty:f:{}", file.meta.id)
        );
        let bad = Signal::new(UserDefined::new("has space", &1).unwrap());
        assert!(plan(&bad, None).is_err());
    }

    #[test]
    fn a_thread_request_carries_the_answered_id() {
        let signal = Signal::message("in a thread")
            .in_response_to(crate::ids::thread_of(&"C1/1.000001".into()));
        let Plan::Post(content) = plan(&signal, None).unwrap() else {
            panic!()
        };
        assert_eq!(
            wire(&content)["metadata"]["event_payload"]["chatty_response_to"],
            "C1/1.000001"
        );
    }
}
