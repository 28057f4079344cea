//! Reactions: emoji that people and apps add to messages (api.slack.com/methods/reactions.add,
//! reactions.remove, reactions.get), kept on the stored message as Slack shows them
//! (`reactions: [{"name", "users", "count"}]`), with the `reaction_added` and
//! `reaction_removed` events (api.slack.com/events/reaction_added).

use serde_json::{Value, json};

use super::Workspace;

/// Whether `name` has the form of a Slack emoji name: lower-case letters, digits, `_`, `-`,
/// `+` and `'` (`thumbsup`, `+1`, `man-bowing`), with at most one skin tone after `::`
/// (`thumbsup::skin-tone-2`). No colons around it: reactions.add answers `invalid_name` for
/// `:thumbsup:`. The local workspace takes every name of this form as an emoji (as if it were
/// a custom one); Slack also refuses a well-formed name that is no emoji of the workspace.
pub(crate) fn valid_name(name: &str) -> bool {
    let (base, tone) = match name.split_once("::") {
        Some((base, tone)) => (base, Some(tone)),
        None => (name, None),
    };
    let part = |s: &str| {
        !s.is_empty()
            && s.len() <= 100
            && s.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '+' | '\'')
            })
    };
    part(base)
        && tone.is_none_or(|t| {
            t.strip_prefix("skin-tone-")
                .is_some_and(|n| matches!(n, "2" | "3" | "4" | "5" | "6"))
        })
}

impl Workspace {
    /// `user` adds the reaction `name` to the message `ts` of `channel`: stored on the message,
    /// `reaction_added` to the apps in the channel. Slack's error codes: `invalid_name`,
    /// `channel_not_found` (no such channel, or one `user` may not see), `message_not_found`,
    /// `already_reacted`.
    pub(crate) fn react(
        &mut self,
        user: &str,
        channel: &str,
        ts: &str,
        name: &str,
    ) -> Result<(), &'static str> {
        self.change_reaction(user, channel, ts, name, true)
    }

    /// `user` removes their reaction `name` from the message `ts` of `channel`:
    /// `reaction_removed` to the apps in the channel. Slack's error codes as for
    /// [`react`](Self::react), and `no_reaction` where `user` had not reacted so.
    pub(crate) fn unreact(
        &mut self,
        user: &str,
        channel: &str,
        ts: &str,
        name: &str,
    ) -> Result<(), &'static str> {
        self.change_reaction(user, channel, ts, name, false)
    }

    fn change_reaction(
        &mut self,
        user: &str,
        channel: &str,
        ts: &str,
        name: &str,
        add: bool,
    ) -> Result<(), &'static str> {
        if !valid_name(name) {
            return Err("invalid_name");
        }
        if self.visible(channel, user).is_none() {
            return Err("channel_not_found");
        }
        let event_ts = self.ts();
        let ch = self.channels.get_mut(channel).ok_or("channel_not_found")?;
        let message = ch
            .messages
            .iter_mut()
            .find(|m| m.get("ts").and_then(Value::as_str) == Some(ts))
            .and_then(Value::as_object_mut)
            .ok_or("message_not_found")?;
        let item_user = message.get("user").cloned().unwrap_or(Value::Null);
        let mut reactions: Vec<Value> = message
            .get("reactions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let index = reactions
            .iter()
            .position(|r| r.get("name").and_then(Value::as_str) == Some(name));
        let users = |r: &Value| -> Vec<Value> {
            r.get("users")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let reacted = index.is_some_and(|i| {
            users(&reactions[i])
                .iter()
                .any(|u| u.as_str() == Some(user))
        });
        match (add, index) {
            (true, _) if reacted => return Err("already_reacted"),
            (true, Some(i)) => {
                let mut who = users(&reactions[i]);
                who.push(user.into());
                reactions[i] = json!({"name": name, "users": who, "count": who.len()});
            }
            (true, None) => reactions.push(json!({"name": name, "users": [user], "count": 1})),
            (false, Some(i)) if reacted => {
                let mut who = users(&reactions[i]);
                who.retain(|u| u.as_str() != Some(user));
                if who.is_empty() {
                    reactions.remove(i);
                } else {
                    reactions[i] = json!({"name": name, "users": who, "count": who.len()});
                }
            }
            (false, _) => return Err("no_reaction"),
        }
        if reactions.is_empty() {
            message.remove("reactions");
        } else {
            message.insert("reactions".into(), reactions.into());
        }
        // api.slack.com/events/reaction_added (and reaction_removed): the example's fields.
        let event = json!({
            "type": if add { "reaction_added" } else { "reaction_removed" },
            "user": user,
            "reaction": name,
            "item_user": item_user,
            "item": {"type": "message", "channel": channel, "ts": ts},
            "event_ts": event_ts,
        });
        self.emit_to_members(channel, event);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_names_have_slacks_form() {
        for good in [
            "thumbsup",
            "+1",
            "-1",
            "man-bowing",
            "thumbsup::skin-tone-2",
            "e-mail",
        ] {
            assert!(valid_name(good), "{good}");
        }
        for bad in [
            "",
            ":thumbsup:",
            "Thumbsup",
            "👍",
            "a b",
            "thumbsup::skin-tone-7",
            "x::",
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn reactions_are_counted_per_name_and_withdrawn_by_their_user() {
        let mut ws = Workspace::new("http://127.0.0.1:1".into(), "Test");
        let alice = ws.add_user("alice");
        let bob = ws.add_user("bob");
        let dm = ws.open_conversation(vec![alice.clone(), bob.clone()]);
        let message = ws.person_message(&alice, "hi", None);
        let ts = ws.post(&dm, message)["ts"].as_str().unwrap().to_owned();
        assert_eq!(ws.react(&alice, &dm, &ts, "tada"), Ok(()));
        assert_eq!(ws.react(&bob, &dm, &ts, "tada"), Ok(()));
        assert_eq!(ws.react(&bob, &dm, &ts, "tada"), Err("already_reacted"));
        assert_eq!(
            ws.react(&bob, &dm, "1.000001", "tada"),
            Err("message_not_found")
        );
        assert_eq!(ws.react(&bob, &dm, &ts, ":tada:"), Err("invalid_name"));
        let stored = ws.find_message(&dm, &ts).unwrap().clone();
        assert_eq!(
            stored["reactions"],
            json!([{"name": "tada", "users": [alice, bob], "count": 2}])
        );
        assert_eq!(ws.unreact(&alice, &dm, &ts, "heart"), Err("no_reaction"));
        assert_eq!(ws.unreact(&alice, &dm, &ts, "tada"), Ok(()));
        assert_eq!(ws.unreact(&alice, &dm, &ts, "tada"), Err("no_reaction"));
        assert_eq!(ws.unreact(&bob, &dm, &ts, "tada"), Ok(()));
        assert!(
            ws.find_message(&dm, &ts)
                .unwrap()
                .get("reactions")
                .is_none()
        );
    }
}
