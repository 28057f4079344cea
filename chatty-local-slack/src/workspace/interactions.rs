//! What people do with apps besides writing: clicking a button on an app's message (an
//! `interactive` envelope with a `block_actions` payload) and running an app's slash command
//! (a `slash_commands` envelope). Each goes to the one app it belongs to, once (Slack does not
//! retry them: [`crate::redelivery`]).

use std::time::Instant;

use serde_json::{Value, json};

use super::{Kind, Workspace};
use crate::redelivery::{Envelope, Pending};

/// The `token` field of interaction and slash command payloads (Slack's deprecated
/// verification token), the same as in events.
const VERIFICATION_TOKEN: &str = "local-verification-token";

impl Workspace {
    /// Declares `command` (`/ticket`) as a slash command of `app`, as its manifest's
    /// `features.slash_commands` does. `false` when the app does not exist or another app has
    /// the command.
    pub(crate) fn add_slash_command(&mut self, app: &str, command: &str) -> bool {
        if !self.apps.contains_key(app) {
            return false;
        }
        match self.commands.get(command) {
            Some(owner) if owner != app => false,
            _ => {
                self.commands.insert(command.to_owned(), app.to_owned());
                true
            }
        }
    }

    /// A `trigger_id` as Slack makes them (`13345224609.738474920.8088930838d88f008e0`).
    fn trigger_id(&mut self) -> String {
        self.counter += 1;
        let n = self.counter;
        format!(
            "{}.{}.{:032x}",
            1_000_000 + n,
            u64::from(self.instance) * 1_000 + n,
            n * 0x9e37_79b9
        )
    }

    /// The `channel` object of interaction payloads: `directmessage` for a DM, as Slack names
    /// them there, `privategroup` for a private channel.
    fn channel_name(&self, channel: &str) -> String {
        match self.channels.get(channel) {
            Some(c) if c.kind == Kind::Im => "directmessage".into(),
            Some(c) if c.kind == Kind::Private => "privategroup".into(),
            Some(c) => c.name.clone(),
            None => String::new(),
        }
    }

    /// Queues `payload` for `app` in one envelope of type `kind`, known by `trigger_id`.
    fn send_once(&mut self, app: &str, kind: Envelope, trigger_id: String, payload: Value) {
        let Some(a) = self.apps.get_mut(app) else {
            return;
        };
        a.pending
            .push_back(Pending::of(kind, trigger_id, payload, Instant::now()));
        for control in a.sockets.values() {
            let _ = control.send(crate::control::Control::Wake);
        }
    }

    /// `user` clicks the button `action_id` on the message `ts` in `channel`: the app that
    /// posted the message gets the `block_actions` payload
    /// (docs.slack.dev/reference/interaction-payloads/block_actions-payload) in an
    /// `interactive` envelope. Returns the payload, or Slack's kind of refusal.
    pub(crate) fn click(
        &mut self,
        user: &str,
        channel: &str,
        ts: &str,
        action_id: &str,
    ) -> Result<Value, &'static str> {
        let person = self.users.get(user).cloned().ok_or("user_not_found")?;
        self.visible(channel, user).ok_or("channel_not_found")?;
        let message = self
            .find_message(channel, ts)
            .cloned()
            .ok_or("message_not_found")?;
        let app = message
            .get("app_id")
            .and_then(Value::as_str)
            .filter(|a| self.apps.contains_key(*a))
            .map(str::to_owned)
            .ok_or("not_an_app_message")?;
        let (block_id, button) = find_button(&message, action_id).ok_or("action_not_found")?;
        let action_ts = self.ts();
        let trigger_id = self.trigger_id();
        let response_url = format!("{}/actions/{app}/{}/local", self.base, self.counter);
        let mut shown = message.clone();
        if let Some(m) = shown.as_object_mut() {
            // The payload's message is the message as people see it.
            m.remove("metadata");
        }
        let mut action = json!({
            "action_id": action_id,
            "block_id": block_id,
            "text": button.get("text").cloned().unwrap_or(Value::Null),
            "type": "button",
            "action_ts": action_ts,
        });
        if let Some(value) = button.get("value") {
            action["value"] = value.clone();
        }
        let payload = json!({
            "type": "block_actions",
            "user": {
                "id": person.id,
                "username": person.name,
                "name": person.name,
                "team_id": self.team_id,
            },
            "api_app_id": app,
            "token": VERIFICATION_TOKEN,
            "container": {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel,
                "is_ephemeral": false,
            },
            "trigger_id": trigger_id,
            "team": {"id": self.team_id, "domain": self.domain},
            "enterprise": null,
            "is_enterprise_install": false,
            "channel": {"id": channel, "name": self.channel_name(channel)},
            "message": shown,
            "state": {"values": {}},
            "response_url": response_url,
            "actions": [action],
        });
        self.send_once(&app, Envelope::Interactive, trigger_id, payload.clone());
        Ok(payload)
    }

    /// `user` runs `command` with `text` in `channel`: the app that declared the command gets
    /// the payload Slack documents (docs.slack.dev/interactivity/implementing-slash-commands:
    /// the form fields, each a string) in a `slash_commands` envelope. Returns the payload, or
    /// Slack's kind of refusal.
    pub(crate) fn slash_command(
        &mut self,
        user: &str,
        channel: &str,
        command: &str,
        text: &str,
    ) -> Result<Value, &'static str> {
        let person = self.users.get(user).cloned().ok_or("user_not_found")?;
        let app = self
            .commands
            .get(command)
            .cloned()
            .ok_or("unknown_command")?;
        let ch = self.channels.get(channel).ok_or("channel_not_found")?;
        if !ch.members.iter().any(|m| m == user) {
            return Err("channel_not_found");
        }
        let trigger_id = self.trigger_id();
        let response_url = format!(
            "{}/commands/{}/{}/local",
            self.base, self.team_id, self.counter
        );
        let payload = json!({
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "team_domain": self.domain,
            "channel_id": channel,
            "channel_name": self.channel_name(channel),
            "user_id": person.id,
            "user_name": person.name,
            "command": command,
            "text": text,
            "api_app_id": app,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        });
        self.send_once(&app, Envelope::SlashCommands, trigger_id, payload.clone());
        Ok(payload)
    }
}

/// The block id and the button element whose `action_id` is `action_id`, in the message's
/// `actions` blocks or as a `section` block's accessory.
fn find_button<'a>(message: &'a Value, action_id: &str) -> Option<(Value, &'a Value)> {
    let blocks = message.get("blocks")?.as_array()?;
    for block in blocks {
        let elements: Vec<&Value> = match block.get("type").and_then(Value::as_str) {
            Some("actions") => block
                .get("elements")
                .and_then(Value::as_array)
                .map(|e| e.iter().collect())
                .unwrap_or_default(),
            Some("section") => block.get("accessory").into_iter().collect(),
            _ => continue,
        };
        let found = elements.into_iter().find(|e| {
            e.get("type").and_then(Value::as_str) == Some("button")
                && e.get("action_id").and_then(Value::as_str) == Some(action_id)
        });
        if let Some(button) = found {
            return Some((
                block.get("block_id").cloned().unwrap_or(Value::Null),
                button,
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buttons_are_found_in_actions_blocks_and_accessories() {
        let message = json!({"blocks": [
            {"type": "section", "block_id": "s", "text": {"type": "mrkdwn", "text": "q"},
             "accessory": {"type": "button", "action_id": "more",
                           "text": {"type": "plain_text", "text": "More"}}},
            {"type": "actions", "block_id": "a", "elements": [
                {"type": "button", "action_id": "yes", "value": "y",
                 "text": {"type": "plain_text", "text": "Yes"}}]},
        ]});
        let (block, button) = find_button(&message, "yes").unwrap();
        assert_eq!(block, "a");
        assert_eq!(button["value"], "y");
        assert_eq!(find_button(&message, "more").unwrap().0, "s");
        assert!(find_button(&message, "no").is_none());
        assert!(find_button(&json!({"text": "plain"}), "yes").is_none());
    }
}
