//! `auth.*`: auth.test.

use serde_json::json;

use super::entry::Call;
use crate::workspace::{Caller, Reply, Workspace};

/// api.slack.com/methods/auth.test, "Example response".
pub(super) fn test(ws: &mut Workspace, call: &Call<'_>) -> Reply {
    let url = format!("https://{}.slack.com/", ws.domain);
    match call.caller {
        Caller::Bot { app } => {
            let Some(a) = ws.apps.get(app) else {
                return Reply::error("invalid_auth");
            };
            Reply::ok(json!({
                "url": url,
                "team": ws.team_name,
                "user": a.name,
                "team_id": ws.team_id,
                "user_id": a.bot_user,
                "bot_id": a.bot_id,
                "is_enterprise_install": false,
            }))
        }
        Caller::User { user } => {
            let name = ws
                .users
                .get(user)
                .map(|u| u.name.clone())
                .unwrap_or_default();
            Reply::ok(json!({
                "url": url,
                "team": ws.team_name,
                "user": name,
                "team_id": ws.team_id,
                "user_id": user,
                "is_enterprise_install": false,
            }))
        }
        // Never reached: the dispatcher gives this handler bot and user tokens only.
        Caller::AppLevel { .. } => Reply::error("not_allowed_token_type"),
    }
}
