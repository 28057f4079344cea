//! Messages: posting (with the `message` and `app_mention` events), edits, deletions, and the
//! shapes Slack's clients give a typed message.

use serde_json::{Value, json};

use super::{App, Kind, Workspace, now_secs};

/// `<@U…>` mentions in a message text.
pub(crate) fn mentions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("<@") {
        rest = &rest[start + 2..];
        let end = rest.find(['>', '|']).unwrap_or(rest.len());
        let id = &rest[..end];
        if !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()) {
            out.push(id.to_owned());
        }
        rest = &rest[end..];
    }
    out
}

/// The `rich_text` block Slack's clients attach to a typed message (api.slack.com/reference/
/// block-kit/blocks#rich_text), with `user` elements for mentions.
pub(crate) fn rich_text_block(block_id: &str, text: &str) -> Value {
    let mut elements = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("<@") {
        if start > 0 {
            elements.push(json!({"type": "text", "text": &rest[..start]}));
        }
        let after = &rest[start + 2..];
        match after.find('>') {
            Some(end) => {
                let id = after[..end].split('|').next().unwrap_or_default();
                elements.push(json!({"type": "user", "user_id": id}));
                rest = &after[end + 1..];
            }
            None => {
                elements.push(json!({"type": "text", "text": &rest[start..]}));
                rest = "";
            }
        }
    }
    if !rest.is_empty() {
        elements.push(json!({"type": "text", "text": rest}));
    }
    json!([{
        "type": "rich_text",
        "block_id": block_id,
        "elements": [{"type": "rich_text_section", "elements": elements}],
    }])
}

impl Workspace {
    /// The `bot_profile` of an app's messages.
    pub(crate) fn bot_profile(&self, app: &App) -> Value {
        json!({
            "id": app.bot_id,
            "app_id": app.id,
            "name": app.name,
            "icons": {"image_36": "", "image_48": "", "image_72": ""},
            "deleted": false,
            "updated": now_secs(),
            "team_id": self.team_id,
        })
    }

    /// Stores a message and emits its `message` event (api.slack.com/events/message and its
    /// subtypes) to the apps in the channel, and `app_mention` (api.slack.com/events/app_mention)
    /// to the mentioned apps. Returns the stored message.
    pub(crate) fn post(&mut self, channel: &str, mut message: Value) -> Value {
        let ts = self.ts();
        let team = self.team_id.clone();
        let Some(m) = message.as_object_mut() else {
            // Every caller builds an object; anything else is not a message.
            return message;
        };
        m.insert("type".into(), "message".into());
        m.insert("ts".into(), ts.clone().into());
        m.insert("team".into(), team.into());
        let thread_ts = message
            .get("thread_ts")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let author = message
            .get("user")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let Some(ch) = self.channels.get_mut(channel) else {
            return message;
        };
        if let Some(root_ts) = &thread_ts
            && let Some(root) = ch
                .messages
                .iter_mut()
                .find(|m| m.get("ts").and_then(Value::as_str) == Some(root_ts))
                .and_then(Value::as_object_mut)
        {
            let count = root.get("reply_count").and_then(Value::as_u64).unwrap_or(0) + 1;
            root.insert("thread_ts".into(), root_ts.clone().into());
            root.insert("reply_count".into(), count.into());
            root.insert("latest_reply".into(), ts.clone().into());
            let mut users: Vec<Value> = root
                .get("reply_users")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if !users.iter().any(|u| u.as_str() == Some(&author)) {
                users.push(author.clone().into());
            }
            root.insert("reply_users_count".into(), users.len().into());
            root.insert("reply_users".into(), users.into());
            let parent = root.get("user").cloned().unwrap_or(Value::Null);
            message["parent_user_id"] = parent;
        }
        ch.messages.push(message.clone());
        let kind = ch.kind;
        let mut event = message.clone();
        if let Some(e) = event.as_object_mut() {
            e.insert("channel".into(), channel.into());
            e.insert("event_ts".into(), ts.clone().into());
            e.insert("channel_type".into(), Self::channel_type(kind).into());
        }
        self.emit_to_members(channel, event);
        if matches!(kind, Kind::Public | Kind::Private) {
            let text = message
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let mentioned = mentions(text);
            let members = self
                .channels
                .get(channel)
                .map(|c| c.members.clone())
                .unwrap_or_default();
            let apps: Vec<String> = self
                .apps
                .values()
                .filter(|a| mentioned.contains(&a.bot_user) && members.contains(&a.bot_user))
                .map(|a| a.id.clone())
                .collect();
            for app in apps {
                let mut mention = json!({
                    "type": "app_mention",
                    "user": author,
                    "text": text,
                    "ts": ts,
                    "team": self.team_id,
                    "channel": channel,
                    "event_ts": ts,
                });
                for key in ["thread_ts", "blocks", "client_msg_id", "files"] {
                    if let Some(v) = message.get(key) {
                        mention[key] = v.clone();
                    }
                }
                self.emit(&app, mention);
            }
        }
        message
    }

    /// A message as a person types it in Slack's client: `client_msg_id` and a `rich_text`
    /// block (the shape of api.slack.com/events/message's example).
    pub(crate) fn person_message(
        &mut self,
        user: &str,
        text: &str,
        thread_ts: Option<&str>,
    ) -> Value {
        let block_id = self.id("b");
        let client_msg_id = format!("{:08x}-0000-4000-8000-{:012x}", self.counter, self.counter);
        let mut message = json!({
            "user": user,
            "text": text,
            "client_msg_id": client_msg_id,
            "blocks": rich_text_block(&block_id, text),
        });
        if let Some(t) = thread_ts {
            message["thread_ts"] = t.into();
        }
        message
    }

    pub(crate) fn find_message(&self, channel: &str, ts: &str) -> Option<&Value> {
        self.channels
            .get(channel)?
            .messages
            .iter()
            .find(|m| m.get("ts").and_then(Value::as_str) == Some(ts))
    }

    /// Changes a message's text (and blocks); emits `message_changed`
    /// (api.slack.com/events/message/message_changed).
    pub(crate) fn edit(
        &mut self,
        user: &str,
        channel: &str,
        ts: &str,
        text: Option<&str>,
        blocks: Option<Value>,
    ) -> Result<Value, &'static str> {
        let edit_ts = self.ts();
        let kind = self
            .channels
            .get(channel)
            .map(|c| c.kind)
            .ok_or("channel_not_found")?;
        let ch = self.channels.get_mut(channel).ok_or("channel_not_found")?;
        let stored = ch
            .messages
            .iter_mut()
            .find(|m| m.get("ts").and_then(Value::as_str) == Some(ts))
            .ok_or("message_not_found")?;
        if stored.get("user").and_then(Value::as_str) != Some(user) {
            return Err("cant_update_message");
        }
        let previous = stored.clone();
        if let Some(t) = text {
            stored["text"] = t.into();
        }
        if let Some(b) = blocks {
            stored["blocks"] = b;
        }
        stored["edited"] = json!({"user": user, "ts": edit_ts});
        let current = stored.clone();
        let event = json!({
            "type": "message",
            "subtype": "message_changed",
            "message": current,
            "previous_message": previous,
            "channel": channel,
            "hidden": true,
            "ts": edit_ts,
            "event_ts": edit_ts,
            "channel_type": Self::channel_type(kind),
        });
        self.emit_to_members(channel, event);
        Ok(current)
    }

    /// Deletes a message; emits `message_deleted` (api.slack.com/events/message/message_deleted).
    pub(crate) fn delete(
        &mut self,
        user: &str,
        channel: &str,
        ts: &str,
    ) -> Result<(), &'static str> {
        let event_ts = self.ts();
        let ch = self.channels.get_mut(channel).ok_or("channel_not_found")?;
        let kind = ch.kind;
        let index = ch
            .messages
            .iter()
            .position(|m| m.get("ts").and_then(Value::as_str) == Some(ts))
            .ok_or("message_not_found")?;
        if ch.messages[index].get("user").and_then(Value::as_str) != Some(user) {
            return Err("cant_delete_message");
        }
        let previous = ch.messages.remove(index);
        let event = json!({
            "type": "message",
            "subtype": "message_deleted",
            "hidden": true,
            "channel": channel,
            "ts": event_ts,
            "deleted_ts": ts,
            "event_ts": event_ts,
            "previous_message": previous,
            "channel_type": Self::channel_type(kind),
        });
        self.emit_to_members(channel, event);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_found() {
        assert_eq!(mentions("hi <@U1> and <@U2|bob>!"), vec!["U1", "U2"]);
        assert!(mentions("no <#C1> <@>").is_empty());
    }

    #[test]
    fn rich_text_has_user_elements() {
        let b = rich_text_block("x", "hi <@U1> there");
        let els = &b[0]["elements"][0]["elements"];
        assert_eq!(els[1]["type"], "user");
        assert_eq!(els[1]["user_id"], "U1");
        assert_eq!(els[2]["text"], " there");
    }
}
