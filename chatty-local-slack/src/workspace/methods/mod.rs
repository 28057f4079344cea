//! The Web API methods: one table entry per method (its handler, the token it takes, the
//! scope a bot token needs), the handlers by family (`api`, `apps`, `auth`, `chat`,
//! `conversations`, `files`, `reactions`, `users`), and the dispatcher: authentication, rate limiting,
//! injected failures, token kinds and scopes, with Slack's error codes.

mod api;
mod apps;
mod auth;
mod chat;
mod conversations;
mod entry;
mod files;
mod reactions;
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
    web("reactions.add", reactions::add).needs("reactions:write"),
    web("reactions.remove", reactions::remove).needs("reactions:write"),
    web("reactions.get", reactions::get).needs("reactions:read"),
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::{Value, json};

    use super::*;
    use crate::workspace::DEFAULT_SCOPES;

    /// The methods the README's "Methods:" paragraph names, in order: `family.method`, or
    /// `.method` for another of the family named before; remarks in parentheses (arguments,
    /// values) are left out.
    fn readme_methods() -> Vec<String> {
        let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));
        let start = readme
            .find("\nMethods: ")
            .expect("a \"Methods:\" paragraph in the README");
        let paragraph = readme[start + 1..].split("\n\n").next().unwrap_or_default();
        let mut outside = String::new();
        let mut depth = 0_u32;
        for c in paragraph.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                _ if depth == 0 => outside.push(c),
                _ => {}
            }
        }
        let mut family = String::new();
        let mut names = Vec::new();
        for quoted in outside.split('`').skip(1).step_by(2) {
            let name = match quoted.strip_prefix('.') {
                Some(method) => format!("{family}.{method}"),
                None => {
                    family = quoted.split('.').next().unwrap_or_default().to_owned();
                    quoted.to_owned()
                }
            };
            assert!(
                name.split('.').count() >= 2 && !name.contains(' '),
                "not a method name in the README's list: {name:?}"
            );
            names.push(name);
        }
        names
    }

    #[test]
    fn the_readme_lists_exactly_the_tables_methods() {
        let listed = readme_methods();
        let listed_set: BTreeSet<&str> = listed.iter().map(String::as_str).collect();
        assert_eq!(listed.len(), listed_set.len(), "listed twice: {listed:?}");
        let table: BTreeSet<&str> = METHODS.iter().map(|m| m.name).collect();
        assert_eq!(table.len(), METHODS.len(), "a method twice in the table");
        let unlisted: Vec<&&str> = table.difference(&listed_set).collect();
        let unanswered: Vec<&&str> = listed_set.difference(&table).collect();
        assert!(
            unlisted.is_empty() && unanswered.is_empty(),
            "README.md's \"Methods:\" leaves out {unlisted:?} and names {unanswered:?}, \
             which the table does not have"
        );
    }

    fn workspace() -> (Workspace, String, String, String) {
        let mut ws = Workspace::new("http://127.0.0.1:1".into(), "Test");
        let alice = ws.add_user("alice");
        let user_token = ws.user_token(&alice).unwrap_or_default();
        let app = ws.add_app("bot", DEFAULT_SCOPES);
        let bot_token = ws.apps[&app].bot_token.clone();
        let app_token = ws.apps[&app].app_token.clone();
        (ws, user_token, bot_token, app_token)
    }

    fn args(value: Value) -> Args {
        match value {
            Value::Object(map) => map,
            _ => Args::new(),
        }
    }

    #[test]
    fn unknown_methods_are_unknown_method() {
        let (mut ws, user_token, bot_token, _) = workspace();
        for token in [&user_token, &bot_token] {
            let reply = ws.api("no.such.method", Some(token), &Args::new());
            assert_eq!(reply.status, 200);
            assert_eq!(reply.body, json!({"ok": false, "error": "unknown_method"}));
        }
    }

    #[test]
    fn api_test_needs_no_token_and_echoes() {
        let (mut ws, _, _, _) = workspace();
        let echo = ws.api("api.test", None, &args(json!({"foo": "bar"})));
        assert_eq!(echo.body, json!({"ok": true, "args": {"foo": "bar"}}));
        let failed = ws.api(
            "api.test",
            Some("xoxb-wrong"),
            &args(json!({"error": "my_error"})),
        );
        assert_eq!(
            failed.body,
            json!({"ok": false, "error": "my_error", "args": {"error": "my_error"}})
        );
    }

    #[test]
    fn each_token_kind_gets_its_own_methods() {
        let (mut ws, user_token, bot_token, app_token) = workspace();
        let refused = json!({"ok": false, "error": "not_allowed_token_type"});
        assert_eq!(
            ws.api("auth.test", Some(&app_token), &Args::new()).body,
            refused
        );
        for token in [&user_token, &bot_token] {
            let reply = ws.api("apps.connections.open", Some(token), &Args::new());
            assert_eq!(reply.body, refused);
            assert_eq!(
                ws.api("auth.test", Some(token), &Args::new()).body["ok"],
                true
            );
        }
        let opened = ws.api("apps.connections.open", Some(&app_token), &Args::new());
        assert!(
            opened.body["url"]
                .as_str()
                .is_some_and(|u| u.contains("ticket=")),
            "{:?}",
            opened.body
        );
    }

    #[test]
    fn scopes_are_asked_of_bot_tokens_only() {
        let (mut ws, user_token, bot_token, _) = workspace();
        let bob = ws.add_user("bob");
        let carol = ws.add_user("carol");
        for app in ws.apps.values_mut() {
            app.scopes.remove("users:read");
            app.scopes.remove("mpim:write");
        }
        let who = args(json!({"user": bob}));
        let refused = ws.api("users.info", Some(&bot_token), &who);
        assert_eq!(refused.body["error"], "missing_scope");
        assert_eq!(refused.body["needed"], "users:read");
        assert_eq!(
            ws.api("users.info", Some(&user_token), &who).body["ok"],
            true
        );
        // conversations.open: the scope depends on the arguments.
        let dm = ws.api("conversations.open", Some(&bot_token), &who_list(&[&bob]));
        assert_eq!(dm.body["ok"], true, "{:?}", dm.body);
        let group = ws.api(
            "conversations.open",
            Some(&bot_token),
            &who_list(&[&bob, &carol]),
        );
        assert_eq!(group.body["needed"], "mpim:write");
    }

    fn who_list(users: &[&str]) -> Args {
        args(json!({"users": users.join(",")}))
    }
}
