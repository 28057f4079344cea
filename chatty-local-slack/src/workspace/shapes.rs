//! The objects the Web API answers with: conversations and users.

use serde_json::{Value, json};

use super::{Channel, Kind, User, Workspace};

impl Workspace {
    /// A conversation object as conversations.info answers it (api.slack.com/types/conversation),
    /// seen by `viewer`.
    pub(crate) fn channel_json(&self, ch: &Channel, viewer: &str) -> Value {
        let is_member = ch.members.iter().any(|m| m == viewer);
        match ch.kind {
            Kind::Im => {
                let other = ch
                    .members
                    .iter()
                    .find(|m| *m != viewer)
                    .or(ch.members.first())
                    .cloned()
                    .unwrap_or_default();
                json!({
                    "id": ch.id,
                    "created": ch.created,
                    "is_archived": false,
                    "is_im": true,
                    "is_org_shared": false,
                    "context_team_id": self.team_id,
                    "updated": ch.created * 1000,
                    "user": other,
                    "is_user_deleted": false,
                    "priority": 0,
                })
            }
            kind => json!({
                "id": ch.id,
                "name": ch.name,
                "is_channel": matches!(kind, Kind::Public | Kind::Private),
                "is_group": false,
                "is_im": false,
                "is_mpim": kind == Kind::Mpim,
                "is_private": kind != Kind::Public,
                "created": ch.created,
                "is_archived": false,
                "is_general": false,
                "unlinked": 0,
                "name_normalized": ch.name,
                "is_shared": false,
                "is_org_shared": false,
                "is_pending_ext_shared": false,
                "pending_shared": [],
                "context_team_id": self.team_id,
                "updated": ch.created * 1000,
                "parent_conversation": null,
                "creator": ch.creator,
                "is_ext_shared": false,
                "shared_team_ids": [self.team_id],
                "pending_connected_team_ids": [],
                "is_member": is_member,
                "topic": {"value": "", "creator": "", "last_set": 0},
                "purpose": {"value": "", "creator": "", "last_set": 0},
                "previous_names": [],
            }),
        }
    }

    /// A user object as users.info answers it (api.slack.com/types/user).
    pub(crate) fn user_json(&self, u: &User) -> Value {
        let mut profile = json!({
            "title": "",
            "phone": "",
            "skype": "",
            "real_name": u.real_name,
            "real_name_normalized": u.real_name,
            "display_name": u.name,
            "display_name_normalized": u.name,
            "status_text": "",
            "status_emoji": "",
            "avatar_hash": "g000000000",
            "team": self.team_id,
        });
        if let (Some(bot_id), Some(app_id)) = (&u.bot_id, &u.app_id) {
            profile["bot_id"] = bot_id.clone().into();
            profile["api_app_id"] = app_id.clone().into();
            profile["always_active"] = false.into();
        }
        json!({
            "id": u.id,
            "team_id": self.team_id,
            "name": u.name,
            "deleted": false,
            "color": "9f69e7",
            "real_name": u.real_name,
            "tz": "Etc/UTC",
            "tz_label": "Coordinated Universal Time",
            "tz_offset": 0,
            "profile": profile,
            "is_admin": false,
            "is_owner": false,
            "is_primary_owner": false,
            "is_restricted": false,
            "is_ultra_restricted": false,
            "is_bot": u.bot_id.is_some(),
            "is_app_user": false,
            "updated": u.created,
        })
    }

    /// Whether the user has a live connection: bots while their app has a socket open, people
    /// always (they are "in the client" in this workspace) unless set away.
    pub(crate) fn is_active(&self, user: &User) -> bool {
        if user.manual_away {
            return false;
        }
        match &user.app_id {
            Some(app) => self.apps.get(app).is_some_and(|a| !a.sockets.is_empty()),
            None => true,
        }
    }
}
