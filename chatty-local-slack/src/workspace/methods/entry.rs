//! What one entry of the method table holds (the handler, the token it takes, the scope it
//! needs), and the call a handler answers.

use serde_json::{Map, Value};

use crate::workspace::{Caller, Reply, Workspace};

/// A method's arguments, from every encoding Slack accepts (see `args`).
pub(crate) type Args = Map<String, Value>;

/// One Web API method (api.slack.com/methods/NAME).
#[derive(Debug)]
pub(crate) struct Method {
    /// The method's name, as in `/api/NAME`.
    pub(crate) name: &'static str,
    /// The tokens it takes, and the function that answers it.
    pub(crate) handler: Handler,
    /// The scope a bot token needs (the page's "Required scopes"); user tokens are not checked.
    pub(crate) scope: Scope,
}

/// A method that needs no token (api.slack.com/methods/api.test).
pub(crate) const fn anonymous(name: &'static str, answer: fn(&Args) -> Reply) -> Method {
    Method {
        name,
        handler: Handler::Anonymous(answer),
        scope: Scope::None,
    }
}

/// A method for an app-level token (`xapp-`) only.
pub(crate) const fn app_level(
    name: &'static str,
    answer: fn(&mut Workspace, &str) -> Reply,
) -> Method {
    Method {
        name,
        handler: Handler::AppLevel(answer),
        scope: Scope::None,
    }
}

/// A method for a bot (`xoxb-`) or user (`xoxp-`) token, needing no scope unless told.
pub(crate) const fn web(
    name: &'static str,
    answer: fn(&mut Workspace, &Call<'_>) -> Reply,
) -> Method {
    Method {
        name,
        handler: Handler::Web(answer),
        scope: Scope::None,
    }
}

impl Method {
    /// The method, needing `scope` of a bot token.
    pub(crate) const fn needs(self, scope: &'static str) -> Method {
        Method {
            scope: Scope::Is(scope),
            ..self
        }
    }

    /// The method, needing of a bot token the scope `scope_for` tells from the arguments.
    pub(crate) const fn needs_by(self, scope_for: fn(&Args) -> &'static str) -> Method {
        Method {
            scope: Scope::Of(scope_for),
            ..self
        }
    }
}

/// The tokens a method takes, each with the function that answers it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Handler {
    /// No token needed: answered before authentication, rate limits and injected failures.
    Anonymous(fn(&Args) -> Reply),
    /// An app-level token only; the function gets the app's id. Any other token is
    /// `not_allowed_token_type`.
    AppLevel(fn(&mut Workspace, &str) -> Reply),
    /// A bot or a user token; an app-level token is `not_allowed_token_type`.
    Web(fn(&mut Workspace, &Call<'_>) -> Reply),
}

/// The scope a bot token needs for a method.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope {
    /// None.
    None,
    /// Always this one.
    Is(&'static str),
    /// One that depends on the arguments (`conversations.open`: `im:write` for a DM,
    /// `mpim:write` for a group DM).
    Of(fn(&Args) -> &'static str),
}

impl Scope {
    /// The scope needed for a call with `args`.
    pub(crate) fn needed(self, args: &Args) -> Option<&'static str> {
        match self {
            Scope::None => None,
            Scope::Is(scope) => Some(scope),
            Scope::Of(scope_for) => Some(scope_for(args)),
        }
    }
}

/// A call of a bot or user token's method, as its handler gets it.
#[derive(Debug)]
pub(crate) struct Call<'a> {
    /// Who called (a bot or a user token).
    pub(crate) caller: &'a Caller,
    /// The caller's user id: the bot user for a bot token.
    pub(crate) me: &'a str,
    /// The arguments.
    pub(crate) args: &'a Args,
}
