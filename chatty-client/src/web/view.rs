//! The `view` message: what a tab shows, as JSON.

use chatty_core::{AddressKind, Content};
use serde_json::{Value, json};

use crate::state::{
    ChatState, Entry, EntryKind, FileRef, Question, availability_key, availability_word,
};

use super::limits::VIEW_ENTRIES;

/// The `view` message: what a tab shows.
pub(super) fn view(state: &ChatState, person: &str) -> String {
    let current = state.current_index();
    let conversations: Vec<Value> = state
        .conversations()
        .iter()
        .enumerate()
        .map(|(i, c)| {
            json!({
                "address": c.address().to_string(),
                "name": state.display_name(c.address()),
                "room": c.is_room(),
                "current": Some(i) == current,
                "unread": c.unread(),
                "presence": c.presence().map(|(availability, message)| json!({
                    "availability": availability_word(*availability),
                    "message": message,
                })),
                "members": c.members().iter().map(|m| state.display_name(m)).collect::<Vec<_>>(),
                "typing": c.typing().map(|a| state.display_name(a)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let entries = state.shown_entries();
    let earlier = entries.len().saturating_sub(VIEW_ENTRIES);
    json!({
        "type": "view",
        "person": person,
        "you": state.own_address().map(|a| a.with_kind(AddressKind::Unknown).to_string()),
        "connection": state.connection().to_string(),
        "status": state.own_presence().map(|(availability, message)| json!({
            "availability": availability_key(*availability),
            "message": message,
        })),
        "conversations": conversations,
        "current": state.current().map(|c| c.address().to_string()),
        "earlier": earlier,
        "entries": entries[earlier..].iter().map(entry).collect::<Vec<_>>(),
    })
    .to_string()
}

fn entry(entry: &Entry) -> Value {
    let t = entry.time;
    let time = format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second());
    match &entry.kind {
        EntryKind::Message {
            from,
            mine,
            subject,
            text,
            attachments,
            question,
        } => json!({
            "kind": "message", "time": time, "from": from, "mine": mine, "subject": subject,
            "text": text, "files": attachments.iter().map(file).collect::<Vec<_>>(),
            "choice": question.as_ref().map(|q| choice(q, *mine)),
        }),
        EntryKind::File {
            from,
            mine,
            file: f,
        } => json!({
            "kind": "file", "time": time, "from": from, "mine": mine, "files": [file(f)],
        }),
        EntryKind::Status(text) => json!({"kind": "status", "time": time, "text": text}),
        EntryKind::Error(text) => json!({"kind": "error", "time": time, "text": text}),
        EntryKind::Info(text) => json!({"kind": "info", "time": time, "text": text}),
    }
}

/// A question's options, for its buttons: a click sends `choose` with `question` and the
/// option's `value`; `open` says whether the buttons can be clicked (not the person's own
/// question, not answered yet), `answer` which option the person chose.
fn choice(question: &Question, mine: bool) -> Value {
    json!({
        "question": question.message.as_str(),
        "id": question.choice.id,
        "options": question.choice.options.iter().map(|o| json!({
            "value": o.value,
            "label": o.label,
        })).collect::<Vec<_>>(),
        "answer": question.answer,
        "open": !mine && question.answer.is_none(),
    })
}

fn file(file: &FileRef) -> Value {
    let (size, url) = match &file.file.content {
        Content::Bytes { data } => (Some(data.len() as u64), None),
        Content::Url { url, size } => (*size, Some(url.clone())),
        _ => (None, None),
    };
    json!({
        "number": file.number,
        "name": file.file.name,
        "media_type": file.file.media_type,
        "size": size,
        "url": url,
    })
}

#[cfg(test)]
mod tests {
    use chatty_core::{Choice, Message, SessionStarted, Signal};
    use serde_json::json;

    use super::*;

    fn state_with_question() -> (ChatState, Signal) {
        let mut state = ChatState::new();
        state.open("direct:bot".parse().unwrap());
        state.apply(&Signal::internal(
            Some("direct:you".parse().unwrap()),
            SessionStarted::new("direct", "direct"),
        ));
        let choice = Choice::new("priority")
            .option("low", "Low")
            .option("high", "High <b>now</b>");
        let mut question = Signal::new(Message::text("How urgent?").with_choice(choice));
        question.meta.origin = Some("direct:bot".parse().unwrap());
        state.apply(&question);
        (state, question)
    }

    fn entries(state: &ChatState) -> Vec<Value> {
        let view: Value = serde_json::from_str(&view(state, "you")).unwrap();
        view["entries"].as_array().unwrap().clone()
    }

    #[test]
    fn a_question_carries_its_options_for_buttons() {
        let (mut state, question) = state_with_question();
        let shown = entries(&state);
        let asked = shown.last().unwrap();
        assert_eq!(
            asked["text"], "How urgent?",
            "the text without numbered lines"
        );
        assert_eq!(
            asked["choice"],
            json!({
                "question": question.meta.id.as_str(),
                "id": "priority",
                "options": [
                    {"value": "low", "label": "Low"},
                    {"value": "high", "label": "High <b>now</b>"},
                ],
                "answer": null,
                "open": true,
            })
        );
        // Other messages have none (the page shows no buttons for them).
        state.submit_line("hello");
        let shown = entries(&state);
        assert_eq!(shown.last().unwrap()["choice"], Value::Null);

        // Answered: the buttons are closed, the answer says which.
        state.choose(&question.meta.id, "high");
        let shown = entries(&state);
        let asked = shown.iter().find(|e| !e["choice"].is_null()).unwrap();
        assert_eq!(asked["choice"]["answer"], "high");
        assert_eq!(asked["choice"]["open"], false);
        let answer = shown.last().unwrap();
        assert_eq!(
            (&answer["text"], &answer["mine"], &answer["choice"]),
            (&json!("High <b>now</b>"), &json!(true), &Value::Null)
        );
    }
}
