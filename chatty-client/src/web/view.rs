//! The `view` message: what a tab shows, as JSON.

use chatty_core::{AddressKind, Content};
use serde_json::{Value, json};

use crate::state::{ChatState, Entry, EntryKind, FileRef, availability_key, availability_word};

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
        } => json!({
            "kind": "message", "time": time, "from": from, "mine": mine, "subject": subject,
            "text": text, "files": attachments.iter().map(file).collect::<Vec<_>>(),
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
