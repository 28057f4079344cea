//! How the demo shows signals on a line-based terminal: one line per signal (a few for a
//! multi-line message), with the time, the sender and what it says.

use chatty_core::{Body, Content, Signal, Status, Timestamp, TypingState, now};

/// How many lines of a text file are shown.
const FILE_PREVIEW_LINES: usize = 10;

/// The text the terminal shows for `signal`, or `None` for a signal it does not show (a typing
/// state other than composing).
///
/// ```
/// use chatty_core::Signal;
/// use chatty_examples::terminal::describe;
///
/// let mut hello = Signal::message("hello\nthere");
/// hello.meta.origin = Some("direct:bot".parse().unwrap());
/// hello.meta.sent = Some(time::macros::datetime!(2026-11-25 16:30:01 UTC));
/// assert_eq!(describe(&hello).unwrap(), "16:30:01 bot: hello\n              there");
/// ```
pub fn describe(signal: &Signal) -> Option<String> {
    let who = signal.meta.origin.as_ref().map_or("?", |a| a.id());
    let time = clock(
        signal
            .meta
            .sent
            .or(signal.meta.received)
            .unwrap_or_else(now),
    );
    let what = match &signal.body {
        Body::Message(m) => match &m.subject {
            Some(subject) => format!("{who}: [{subject}]\n{}", m.text),
            None => format!("{who}: {}", m.text),
        },
        Body::File(file) => {
            let kind = file.media_type.as_deref().unwrap_or("unknown type");
            match &file.content {
                Content::Bytes { data } => {
                    let mut line =
                        format!("{who}: file {} ({kind}, {} bytes)", file.name, data.len());
                    if kind.starts_with("text/") {
                        let text = String::from_utf8_lossy(data);
                        for l in text.lines().take(FILE_PREVIEW_LINES) {
                            line.push_str(&format!("\n| {l}"));
                        }
                        if text.lines().count() > FILE_PREVIEW_LINES {
                            line.push_str("\n| …");
                        }
                    }
                    line
                }
                Content::Url { url, .. } => format!("{who}: file {} ({kind}) at {url}", file.name),
                _ => format!("{who}: file {} ({kind})", file.name),
            }
        }
        Body::UserDefined(u) => format!("{who}: <{}> {}", u.name, u.payload),
        Body::StatusChange(change) => match &change.status {
            Status::Typing {
                state: TypingState::Composing,
                ..
            } => format!("* {who} is typing…"),
            Status::Typing { .. } => return None,
            Status::Presence { availability } => {
                format!("* {who} is {}", format!("{availability:?}").to_lowercase())
            }
            Status::InRoom { room, present, .. } => {
                let verb = if *present { "joined" } else { "left" };
                format!("* {who} {verb} {room}")
            }
            other => format!("* {who}: {other:?}"),
        },
        Body::SendFailure(f) => format!("! not delivered: {} ({:?})", f.message, f.kind),
        Body::SessionStarted(s) => format!("* {who}: session started on {}", s.platform),
        Body::SessionAboutToEnd(end) => {
            format!("* {who}: session about to end{}", reason(&end.reason))
        }
        Body::SessionEnded(end) => format!("* {who}: session ended{}", reason(&end.reason)),
        other => format!("* {who}: {:?}", other.kind()),
    };
    // Continuation lines line up under the first line's text.
    let indent = " ".repeat(time.len() + 1 + who.len() + 2);
    Some(format!(
        "{time} {}",
        what.replace('\n', &format!("\n{indent}"))
    ))
}

/// `HH:MM:SS` (UTC).
pub fn clock(t: Timestamp) -> String {
    format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
}

fn reason(reason: &Option<String>) -> String {
    reason
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chatty_core::{File, Message, StatusChange, UserDefined};

    fn from_bot(body: impl Into<Body>) -> Signal {
        let mut signal = Signal::new(body);
        signal.meta.origin = Some("direct:bot".parse().unwrap());
        signal.meta.sent = Some(time::macros::datetime!(2026-11-25 08:05:09 UTC));
        signal
    }

    #[test]
    fn messages_show_time_sender_subject_and_text() {
        let help = from_bot(Message::text("a\nb").with_subject("Commands"));
        assert_eq!(
            describe(&help).unwrap(),
            "08:05:09 bot: [Commands]\n              a\n              b"
        );
    }

    #[test]
    fn typing_shows_only_while_composing() {
        let typing = |state| {
            from_bot(StatusChange::new(Status::Typing {
                conversation: "direct:you".parse().unwrap(),
                state,
            }))
        };
        assert_eq!(
            describe(&typing(TypingState::Composing)).unwrap(),
            "08:05:09 * bot is typing…"
        );
        assert_eq!(describe(&typing(TypingState::Paused)), None);
    }

    #[test]
    fn files_and_user_defined_signals() {
        let file = from_bot(File::bytes("a.txt", Some("text/plain"), &b"one\ntwo\n"[..]));
        assert_eq!(
            describe(&file).unwrap(),
            "08:05:09 bot: file a.txt (text/plain, 8 bytes)\n              | one\n              | two"
        );
        let stats = from_bot(UserDefined::from_value(
            "stats",
            chatty_core::reexports::serde_json::json!({ "messages": 2 }),
        ));
        assert_eq!(
            describe(&stats).unwrap(),
            r#"08:05:09 bot: <stats> {"messages":2}"#
        );
    }
}
