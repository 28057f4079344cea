//! Outbound mapping, without I/O: a message's event content, and the transaction ID a signal
//! is sent with.

use chatty_core::{Message, SignalId};
use ruma::OwnedEventId;
use ruma::events::AnyMessageLikeEventContent;
use ruma::events::relation::{InReplyTo, Reply, Thread};
use ruma::events::room::message::{Relation, ReplacementMetadata, RoomMessageEventContent};
use ruma::serde::Raw;

/// The transaction ID of the `n`th event sent for the signal `id`: derived from the id alone,
/// so that sending the same signal again (after a restart, from the journal) is the same
/// transaction, which the server carries out once (Matrix's idempotency of `PUT …/send`). Any
/// character but `A-Z a-z 0-9 - .` is written as `_` and its code in hex.
pub(crate) fn txn_id(id: &SignalId, n: usize) -> String {
    let mut out = String::from("chatty.");
    for c in id.as_str().chars() {
        if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
            out.push(c);
        } else {
            out.push_str(&format!("_{:x}_", u32::from(c)));
        }
    }
    if n > 0 {
        out.push_str(&format!(".{n}"));
    }
    out
}

/// The `m.room.message` content of `message`: `/me …` as an emote, an automatic message as a
/// notice (which bots do not answer), HTML as `formatted_body`; a reply to `reply_to` (an
/// event ID), in the thread `thread` when the event answered is in one.
pub(crate) fn content(
    message: &Message,
    automatic: bool,
    reply_to: Option<OwnedEventId>,
    thread: Option<OwnedEventId>,
) -> RoomMessageEventContent {
    let text = message.text_with_choice();
    // A question's options are lines of text; its HTML (if any) would lack them.
    let html = message
        .html
        .as_ref()
        .filter(|_| message.choice.is_none())
        .cloned();
    let mut content = match text.strip_prefix("/me ") {
        Some(action) => {
            let html = html.map(|h| h.strip_prefix("/me ").map(str::to_owned).unwrap_or(h));
            match html {
                Some(html) => RoomMessageEventContent::emote_html(action, html),
                None => RoomMessageEventContent::emote_plain(action),
            }
        }
        None => match (automatic, html) {
            (true, Some(html)) => RoomMessageEventContent::notice_html(text, html),
            (true, None) => RoomMessageEventContent::notice_plain(text),
            (false, Some(html)) => RoomMessageEventContent::text_html(text, html),
            (false, None) => RoomMessageEventContent::text_plain(text),
        },
    };
    content.relates_to = match (reply_to, thread) {
        (Some(event), Some(root)) => Some(Relation::Thread(Thread::reply(root, event))),
        (Some(event), None) => Some(Relation::Reply(Reply::new(InReplyTo::new(event)))),
        (None, _) => None,
    };
    content
}

/// The content of a new message that corrects `of`, a message without a known event: the
/// message's content, with `of` under [`CORRECTS`](crate::CORRECTS).
pub(crate) fn unrelated_correction(
    message: &Message,
    automatic: bool,
    of: &str,
) -> serde_json::Result<Raw<AnyMessageLikeEventContent>> {
    let mut value = serde_json::to_value(content(message, automatic, None, None))?;
    if let Some(object) = value.as_object_mut() {
        object.insert(crate::CORRECTS.to_owned(), of.into());
    }
    Ok(Raw::from_json(serde_json::value::to_raw_value(&value)?))
}

/// The content of an edit replacing the event `of` with `message` (`m.replace`, the new content
/// in `m.new_content`, a `* …` fallback for clients without edits).
pub(crate) fn replacement(
    message: &Message,
    automatic: bool,
    of: OwnedEventId,
) -> RoomMessageEventContent {
    content(message, automatic, None, None).make_replacement(ReplacementMetadata::new(of, None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruma::events::room::message::MessageType;

    fn json(content: &RoomMessageEventContent) -> serde_json::Value {
        serde_json::to_value(content).unwrap()
    }

    #[test]
    fn a_correction_without_an_event_is_a_new_message_naming_what_it_corrects() {
        let raw =
            unrelated_correction(&Message::text("fixed"), false, "an-earlier-message").unwrap();
        let value: serde_json::Value = serde_json::from_str(raw.json().get()).unwrap();
        assert_eq!(value["msgtype"], "m.text");
        assert_eq!(value["body"], "fixed");
        assert_eq!(value[crate::CORRECTS], "an-earlier-message");
        assert!(value.get("m.relates_to").is_none());
    }

    #[test]
    fn transaction_ids_are_derived_from_the_signal_id() {
        let id = SignalId::from("0123abcd-7");
        assert_eq!(txn_id(&id, 0), "chatty.0123abcd-7");
        assert_eq!(txn_id(&id, 0), txn_id(&SignalId::from("0123abcd-7"), 0));
        assert_eq!(txn_id(&id, 2), "chatty.0123abcd-7.2");
        assert_eq!(
            txn_id(&SignalId::from("<a b@c>/é"), 0),
            "chatty._3c_a_20_b_40_c_3e__2f__e9_"
        );
    }

    #[test]
    fn text_html_emote_notice() {
        let plain = json(&content(&Message::text("hi"), false, None, None));
        assert_eq!(plain["msgtype"], "m.text");
        assert_eq!(plain["body"], "hi");
        assert!(plain.get("formatted_body").is_none());
        let rich = json(&content(
            &Message::text("hi").with_html("<b>hi</b>"),
            false,
            None,
            None,
        ));
        assert_eq!(rich["format"], "org.matrix.custom.html");
        assert_eq!(rich["formatted_body"], "<b>hi</b>");
        let emote = content(&Message::text("/me waves"), false, None, None);
        assert!(matches!(&emote.msgtype, MessageType::Emote(e) if e.body == "waves"));
        let notice = json(&content(&Message::text("build done"), true, None, None));
        assert_eq!(notice["msgtype"], "m.notice");
    }

    #[test]
    fn an_edit_replaces_the_event_with_new_content() {
        let of: OwnedEventId = "$typo".try_into().unwrap();
        let edit = json(&replacement(&Message::text("fixed"), false, of));
        assert_eq!(edit["m.relates_to"]["rel_type"], "m.replace");
        assert_eq!(edit["m.relates_to"]["event_id"], "$typo");
        assert_eq!(edit["m.new_content"]["body"], "fixed");
        assert_eq!(edit["body"], "* fixed");
    }

    #[test]
    fn replies_and_thread_replies() {
        let event: OwnedEventId = "$answered".try_into().unwrap();
        let root: OwnedEventId = "$root".try_into().unwrap();
        let reply = json(&content(
            &Message::text("yes"),
            false,
            Some(event.clone()),
            None,
        ));
        assert_eq!(
            reply["m.relates_to"]["m.in_reply_to"]["event_id"],
            "$answered"
        );
        let threaded = json(&content(
            &Message::text("yes"),
            false,
            Some(event),
            Some(root),
        ));
        assert_eq!(threaded["m.relates_to"]["rel_type"], "m.thread");
        assert_eq!(threaded["m.relates_to"]["event_id"], "$root");
        assert_eq!(
            threaded["m.relates_to"]["m.in_reply_to"]["event_id"],
            "$answered"
        );
    }
}
