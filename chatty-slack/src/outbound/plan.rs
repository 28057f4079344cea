//! Outbound mapping: a message, file or user-defined signal as the content of Web API calls
//! (a [`Plan`], in slack-morphism's types), which the session carries out.

use std::collections::HashMap;

use chatty_core::reexports::bytes::Bytes;
use chatty_core::reexports::serde_json::Value;
use chatty_core::{Body, Choice, Content, EditKind, File, Message, Signal};
use slack_morphism::prelude::*;

use crate::choice;
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
                            Ok(Plan::Post(
                                text_content(signal, message)?.with_metadata(meta),
                            ))
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
                        Plan::Update(place, text_content(signal, message)?.with_metadata(meta))
                    }
                    EditKind::Retraction => Plan::Delete(place),
                    other => {
                        return Err(format!("cannot carry an edit of kind {other:?} on Slack"));
                    }
                });
            }
            if !message.attachments.is_empty() {
                let files = &message.attachments;
                return upload_plan(signal, &message.text, files, 'm', asked(message));
            }
            let meta = id_metadata(signal, EVENT_TYPE_MESSAGE, None, None);
            Ok(Plan::Post(
                text_content(signal, message)?.with_metadata(meta),
            ))
        }
        Body::File(file) => upload_plan(signal, "", std::slice::from_ref(file), 'f', None),
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

/// The question a message asks with buttons (a choice with options).
fn asked(message: &Message) -> Option<&Choice> {
    message.choice.as_ref().filter(|c| !c.options.is_empty())
}

/// A block id carrying the signal id (`chatty:MARK:ID`), when it fits in Slack's 255
/// characters.
fn id_block(signal: &Signal, mark: char) -> Option<String> {
    let block_id = format!("{BLOCK_ID_PREFIX}{mark}:{}", signal.meta.id);
    (block_id.len() <= 255).then_some(block_id)
}

/// `text` and, for rich content, a `section` block; for a question, the numbered options in
/// `text` (the notification's fallback) and blocks: the question in a `section` block (its id
/// in the block id, `chatty:c:ID`) and the options as buttons ([`crate::choice`]).
fn text_content(signal: &Signal, message: &Message) -> Result<SlackMessageContent, String> {
    let section = message.html.as_deref().map(html_to_mrkdwn);
    let section = match section {
        Some(mrkdwn) if !mrkdwn.is_empty() => Some(mrkdwn),
        Some(_) => Some(message.text.clone()).filter(|t| !t.is_empty()),
        None => None,
    };
    if let Some(choice) = asked(message) {
        let section = section.unwrap_or_else(|| message.text.clone());
        let blocks = choice::blocks(choice, &section, id_block(signal, 'c'))?;
        return Ok(SlackMessageContent::new()
            .with_text(choice::fallback(message)?)
            .with_blocks(blocks));
    }
    let content = SlackMessageContent::new().with_text(message.text.clone());
    Ok(match section {
        Some(section) => content.with_blocks(vec![section_block(section, None)]),
        None => content,
    })
}

/// A `section` block of mrkdwn text.
fn section_block(text: String, block_id: Option<String>) -> SlackBlock {
    let text = SlackBlockText::MarkDown(SlackBlockMarkDownText::new(text));
    SlackSectionBlock::new()
        .with_text(text)
        .opt_block_id(block_id.map(SlackBlockId))
        .into()
}

/// The plan of files (with bytes: uploaded; by URL: linked in the text), with `text`, and the
/// buttons of `choice`.
fn upload_plan(
    signal: &Signal,
    text: &str,
    files: &[File],
    mark: char,
    choice: Option<&Choice>,
) -> Result<Plan, String> {
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
        let mut content = SlackMessageContent::new().with_metadata(meta);
        if let Some(choice) = choice {
            let asking = Message::text(shown.clone()).with_choice(choice.clone());
            content = content
                .with_text(choice::fallback(&asking)?)
                .with_blocks(choice::blocks(choice, &shown, id_block(signal, 'c'))?);
        } else {
            content = content.with_text(shown);
        }
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
    let blocks = match choice {
        // The share's text is the question, its block id the signal's.
        Some(choice) => choice::blocks(choice, &section, id_block(signal, mark))?,
        None => vec![section_block(section, id_block(signal, mark))],
    };
    Ok(Plan::Upload {
        files: with_bytes,
        blocks,
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
    fn a_question_is_posted_with_buttons_and_the_numbered_fallback() {
        let question = Message::text("How urgent?").with_choice(
            Choice::new("priority")
                .option("low", "Low")
                .option("normal", "Normal")
                .option("high", "High"),
        );
        let signal = Signal::new(question.clone());
        let Plan::Post(content) = plan(&signal, None).unwrap() else {
            panic!()
        };
        let args = wire(&content);
        assert_eq!(args["text"], question.text_with_choice());
        assert_eq!(
            args["text"],
            "How urgent?\n1. Low\n2. Normal\n3. High\n(Answer with a number.)"
        );
        assert_eq!(
            args["blocks"][0],
            json!({"type": "section", "block_id": format!("chatty:c:{}", signal.meta.id),
                   "text": {"type": "mrkdwn", "text": "How urgent?"}})
        );
        let buttons = &args["blocks"][1];
        assert_eq!(buttons["type"], "actions");
        assert_eq!(buttons["block_id"], "chatty_choice/0/priority");
        assert_eq!(buttons["elements"][2]["action_id"], "chatty_choice/2");
        assert_eq!(buttons["elements"][2]["value"], "high");
        assert_eq!(
            args["metadata"]["event_payload"]["chatty_id"],
            signal.meta.id.as_str()
        );
        // Rich text: the section holds its mrkdwn.
        let rich = Signal::new(question.clone().with_html("How <b>urgent</b>?"));
        let Plan::Post(content) = plan(&rich, None).unwrap() else {
            panic!()
        };
        assert_eq!(wire(&content)["blocks"][0]["text"]["text"], "How *urgent*?");
        // With a file: the share's blocks carry the buttons.
        let with_file =
            Signal::new(question.with_attachment(File::bytes("a.txt", None, &b"a"[..])));
        let Plan::Upload { blocks, .. } = plan(&with_file, None).unwrap() else {
            panic!()
        };
        assert_eq!(wire(&blocks)[1]["block_id"], "chatty_choice/0/priority");
        // Too large: refused, naming the limit.
        let long = Signal::new(
            Message::text("?").with_choice(Choice::new("q").option("a", "A".repeat(80))),
        );
        let error = plan(&long, None).unwrap_err();
        assert!(error.contains("at most 75"), "{error}");
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
