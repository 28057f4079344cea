//! The Web API methods: one table entry per method (its handler, the token it takes, the
//! scope a bot token needs), the handlers by family (`api`, `apps`, `auth`, `chat`,
//! `conversations`, `files`, `users`), and the dispatcher: authentication, rate limiting,
//! injected failures, token kinds and scopes, with Slack's error codes.

mod api;
mod apps;
mod auth;
mod chat;
mod conversations;
mod entry;
mod files;
mod users;

use serde_json::json;

use self::entry::{Args, Call, Handler, Method, anonymous, app_level, web};
use super::{Caller, Reply, Workspace};

/// Every Web API method this workspace answers; any other is `unknown_method`.
static METHODS: &[Method] = &[
    anonymous("api.test", api::test),
    web("auth.test", auth::test),
    app_level("apps.connections.open", apps::connections_open),
    web("chat.postMessage", chat::post_message).needs("chat:write"),
    web("chat.update", chat::update).needs("chat:write"),
    web("chat.delete", chat::delete).needs("chat:write"),
    web("conversations.open", conversations::open).needs_by(conversations::open_scope),
    web("conversations.info", conversations::info).needs("channels:read"),
    web("conversations.members", conversations::members).needs("channels:read"),
    web("conversations.history", conversations::history).needs("channels:history"),
    web("conversations.replies", conversations::replies).needs("channels:history"),
    web("conversations.list", conversations::list).needs("channels:read"),
    web("conversations.join", conversations::join).needs("channels:join"),
    web("conversations.leave", conversations::leave),
    web("users.info", users::info).needs("users:read"),
    web("users.getPresence", users::get_presence).needs("users:read"),
    web("users.setPresence", users::set_presence).needs("users:write"),
    web("files.getUploadURLExternal", files::get_upload_url).needs("files:write"),
    web("files.completeUploadExternal", files::complete_upload).needs("files:write"),
    web("files.info", files::info).needs("files:read"),
];

/// The table's entry for `name`.
fn find(name: &str) -> Option<&'static Method> {
    METHODS.iter().find(|m| m.name == name)
}

impl Workspace {
    /// A Web API call with `token`: a method that needs no token is answered at once; else
    /// authentication, rate limiting (HTTP 429 with `Retry-After`,
    /// api.slack.com/apis/rate-limits), then the method.
    pub(crate) fn api(&mut self, method: &str, token: Option<&str>, args: &Args) -> Reply {
        if let Some(Method {
            handler: Handler::Anonymous(answer),
            ..
        }) = find(method)
        {
            return answer(args);
        }
        let caller = match self.authenticate(token) {
            Ok(caller) => caller,
            Err(code) => return Reply::error(code),
        };
        if let Some(seconds) = self.rate_limited(method) {
            return Reply {
                status: 429,
                retry_after: Some(seconds),
                body: json!({"ok": false, "error": "ratelimited"}),
            };
        }
        self.call(method, &caller, args)
    }

    /// Runs one Web API method for a caller (already authenticated): an injected failure,
    /// then the token kind, then the scope, then the method.
    pub(crate) fn call(&mut self, method: &str, caller: &Caller, args: &Args) -> Reply {
        if let Some(queue) = self.failures.get_mut(method)
            && let Some(code) = queue.pop_front()
        {
            return Reply::error(&code);
        }
        let Some(entry) = find(method) else {
            // An app-level token is refused for anything but its own method, known or not.
            return Reply::error(match caller {
                Caller::AppLevel { .. } => "not_allowed_token_type",
                _ => "unknown_method",
            });
        };
        match (entry.handler, caller) {
            (Handler::Anonymous(answer), _) => answer(args),
            (Handler::AppLevel(answer), Caller::AppLevel { app }) => answer(self, app),
            (Handler::Web(answer), Caller::Bot { .. } | Caller::User { .. }) => {
                if let Some(refusal) = self.missing_scope(caller, entry.scope.needed(args)) {
                    return refusal;
                }
                let me = self.user_of(caller).unwrap_or_default();
                answer(
                    self,
                    &Call {
                        caller,
                        me: &me,
                        args,
                    },
                )
            }
            _ => Reply::error("not_allowed_token_type"),
        }
    }

    /// `missing_scope` with `needed` and `provided` if `caller` is a bot whose app lacks
    /// `needed` (api.slack.com/web#scopes).
    fn missing_scope(&self, caller: &Caller, needed: Option<&str>) -> Option<Reply> {
        let (Caller::Bot { app }, Some(scope)) = (caller, needed) else {
            return None;
        };
        let a = self.apps.get(app)?;
        if a.scopes.contains(scope) {
            return None;
        }
        let mut reply = Reply::error("missing_scope");
        reply.body["needed"] = scope.into();
        reply.body["provided"] = a
            .scopes
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join(",")
            .into();
        Some(reply)
    }
}
