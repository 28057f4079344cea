//! `apps.*`: apps.connections.open.

use serde_json::json;

use crate::workspace::{Reply, Workspace};

/// api.slack.com/methods/apps.connections.open: a Socket Mode URL with a ticket that works
/// once.
pub(super) fn connections_open(ws: &mut Workspace, app: &str) -> Reply {
    let ticket = ws.secret("ticket");
    ws.tickets.insert(ticket.clone(), app.to_owned());
    if let Some(a) = ws.apps.get_mut(app) {
        a.connections_opened += 1;
    }
    let base = ws.base.replacen("http://", "ws://", 1);
    Reply::ok(json!({"url": format!("{base}/link/?ticket={ticket}&app_id={app}")}))
}
