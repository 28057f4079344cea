//! The Web API: slack-morphism's typed calls, with every failure classified by Slack's `error`
//! code in the answer's body (whatever the HTTP status), and HTTP 429 waited out for its
//! `Retry-After` by slack-morphism's rate control.

use std::sync::Arc;
use std::time::Duration;

use chatty_core::driver::Failure;
use chatty_core::reexports::serde_json::{self, Value};
use chatty_core::session::Refusal;
use chatty_core::{ConnectionErrorKind, FailureKind, QueryError};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

/// slack-morphism's connector: hyper with rustls.
pub(crate) type Connector = SlackClientHyperConnector<HttpsConnector<HttpConnector>>;
/// slack-morphism's client.
type Client = SlackClient<Connector>;
/// A slack-morphism session: the calls with one token.
pub(crate) type Session<'a> = SlackClientSession<'a, Connector>;

/// Slack's codes for a token that is wrong, revoked or of the wrong kind
/// (api.slack.com/methods: each method's "Errors"; api.slack.com/authentication/token-types).
const AUTH_CODES: &[&str] = &[
    "not_authed",
    "invalid_auth",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "not_allowed_token_type",
    "no_permission",
    "org_login_required",
    "team_access_not_granted",
    "two_factor_setup_required",
    "enterprise_is_restricted",
    "ekm_access_denied",
];

/// A Web API failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ApiError {
    /// Slack answered `ok: false` with an error code (with HTTP 200 as Slack does, or any other
    /// status an emulator or a proxy chose): `missing_scope` also names the scope needed and
    /// those the token has.
    Slack {
        /// Slack's error code.
        code: String,
        /// For `missing_scope`: the scope the method needs.
        needed: Option<String>,
        /// For `missing_scope`: the scopes the token has.
        provided: Option<String>,
    },
    /// HTTP 429: too many calls.
    RateLimited {
        /// What happened, in words.
        message: String,
        /// The `Retry-After` Slack asked for.
        retry_after: Option<Duration>,
    },
    /// No usable answer: the network, an HTTP status without a Slack error, a body that is not
    /// Slack's JSON.
    Transport(String),
}

/// What a Web API failure means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// The token is wrong, revoked or of the wrong kind: retrying does not help.
    Auth,
    /// The token lacks a scope the method needs: retrying does not help.
    Scope,
    /// Too many calls: wait and call again.
    RateLimited,
    /// The channel, user or thread does not exist (or cannot be seen).
    UnknownAddressee,
    /// Too large (text, attachments, file).
    TooLarge,
    /// Refused (not in the channel, restricted, not the bot's message, …).
    Rejected,
    /// Slack could not be reached or answered something unusable: try again later.
    Transport,
    /// Any other Slack error.
    Other,
}

impl ApiError {
    /// Slack's error code, `ratelimited` for HTTP 429, none for a transport failure.
    pub(crate) fn code(&self) -> Option<&str> {
        match self {
            ApiError::Slack { code, .. } => Some(code),
            ApiError::RateLimited { .. } => Some("ratelimited"),
            ApiError::Transport(_) => None,
        }
    }

    /// The failure from slack-morphism's error: Slack's `error` code is read from the body of
    /// any answer that has one, so a bad token is an authentication failure even when it comes
    /// with HTTP 401 or 403.
    pub(crate) fn from_client(method: &str, error: SlackClientError) -> Self {
        match error {
            SlackClientError::ApiError(e) => {
                let body = e.http_response_body.as_deref().and_then(json_body);
                ApiError::slack(e.code, body.as_ref())
            }
            SlackClientError::HttpError(e) => {
                let body = e.http_response_body.as_deref().and_then(json_body);
                match body
                    .as_ref()
                    .and_then(|b| b.get("error"))
                    .and_then(Value::as_str)
                {
                    Some(code) => ApiError::slack(code.to_owned(), body.as_ref()),
                    None => ApiError::Transport(format!(
                        "Slack's {method} answered HTTP {}",
                        e.status_code
                    )),
                }
            }
            SlackClientError::RateLimitError(e) => ApiError::RateLimited {
                message: format!("Slack's {method} answered HTTP 429 (rate limited)"),
                retry_after: e.retry_after,
            },
            SlackClientError::ProtocolError(e) => ApiError::Transport(format!(
                "Slack's {method} answered something that is not Slack's JSON: {}",
                e.json_error
            )),
            other => ApiError::Transport(format!("Slack's {method} could not be called: {other}")),
        }
    }

    fn slack(code: String, body: Option<&Value>) -> Self {
        let field = |name: &str| {
            body.and_then(|b| b.get(name))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        ApiError::Slack {
            needed: field("needed"),
            provided: field("provided"),
            code,
        }
    }

    /// What the failure means (see [`Class`]).
    pub(crate) fn class(&self) -> Class {
        let code = match self {
            ApiError::Slack { code, .. } => code.as_str(),
            ApiError::RateLimited { .. } => return Class::RateLimited,
            ApiError::Transport(_) => return Class::Transport,
        };
        match code {
            c if AUTH_CODES.contains(&c) => Class::Auth,
            "missing_scope" => Class::Scope,
            "ratelimited" | "rate_limited" => Class::RateLimited,
            "channel_not_found" | "user_not_found" | "users_not_found" | "is_archived"
            | "invalid_channel" | "user_disabled" | "thread_not_found" => Class::UnknownAddressee,
            "msg_too_long" | "too_many_attachments" | "file_too_large" | "too_many_blocks" => {
                Class::TooLarge
            }
            "not_in_channel"
            | "restricted_action"
            | "restricted_action_read_only_channel"
            | "restricted_action_thread_only_channel"
            | "restricted_action_non_threadable_channel"
            | "cant_update_message"
            | "cant_delete_message"
            | "cannot_dm_bot"
            | "messages_tab_disabled"
            | "method_not_supported_for_channel_type"
            | "already_reacted"
            | "no_reaction"
            | "invalid_name"
            | "too_many_emoji"
            | "too_many_reactions"
            | "not_reactable" => Class::Rejected,
            "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout" => {
                Class::Transport
            }
            _ => Class::Other,
        }
    }

    /// The failure in words, naming the method, Slack's code and, for `missing_scope`, the
    /// scope needed and those the token has. Never a token.
    pub(crate) fn describe(&self, method: &str) -> String {
        match self {
            ApiError::Slack {
                code,
                needed,
                provided,
            } => {
                let mut text = format!("Slack's {method} answered {code}");
                if let Some(needed) = needed {
                    text.push_str(&format!(": the app needs the scope `{needed}`"));
                    if let Some(provided) = provided {
                        text.push_str(&format!(" (it has {provided})"));
                    }
                }
                text
            }
            ApiError::RateLimited { message, .. } | ApiError::Transport(message) => message.clone(),
        }
    }

    /// The refusal of a signal this failure stopped.
    pub(crate) fn refusal(&self, method: &str) -> Refusal {
        let kind = match self.class() {
            Class::UnknownAddressee => FailureKind::UnknownAddressee,
            Class::TooLarge => FailureKind::TooLarge,
            Class::RateLimited => FailureKind::RateLimited,
            Class::Auth | Class::Scope | Class::Rejected => FailureKind::Rejected,
            Class::Transport if matches!(self, ApiError::Transport(_)) => FailureKind::Unreachable,
            Class::Transport | Class::Other => FailureKind::Other,
        };
        let refusal = Refusal::new(kind, self.describe(method));
        match self.code() {
            Some(code) => refusal.with_code(code),
            None => refusal,
        }
    }

    /// The failure of a query.
    pub(crate) fn query_error(&self, method: &str) -> QueryError {
        QueryError::Failed {
            message: self.describe(method),
        }
    }

    /// The connection error this failure is while connecting, and whether trying again can
    /// help: a wrong, revoked or under-scoped token is an authentication error, never retried.
    pub(crate) fn connection(&self) -> (ConnectionErrorKind, bool) {
        match self.class() {
            Class::Auth | Class::Scope => (ConnectionErrorKind::Authentication, false),
            Class::RateLimited | Class::Transport => (ConnectionErrorKind::Unreachable, true),
            _ => (ConnectionErrorKind::Protocol, true),
        }
    }

    /// The connection failure this is while connecting: permanent for a wrong, revoked or
    /// under-scoped token (see [`connection`](Self::connection)); rate limited with Slack's
    /// `Retry-After` (a second when Slack names none), which the driver waits out.
    pub(crate) fn failure(&self, method: &str) -> Failure {
        let (kind, retry) = self.connection();
        let failure = Failure::new(kind, self.describe(method));
        if !retry {
            return failure.permanent();
        }
        match self.class() {
            Class::RateLimited => {
                failure.retry_after(self.retry_after().unwrap_or(Duration::from_secs(1)))
            }
            _ => failure,
        }
    }

    /// How long Slack asked to wait (HTTP 429 `Retry-After`).
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

fn json_body(text: &str) -> Option<Value> {
    serde_json::from_str::<Value>(text)
        .ok()
        .filter(Value::is_object)
}

/// Names the Web API method a slack-morphism result came from: its failure as an [`ApiError`].
pub(crate) trait Named<T> {
    /// The result, its failure read as `method`'s.
    fn named(self, method: &'static str) -> Result<T, (&'static str, ApiError)>;
}

impl<T> Named<T> for ClientResult<T> {
    fn named(self, method: &'static str) -> Result<T, (&'static str, ApiError)> {
        self.map_err(|e| (method, ApiError::from_client(method, e)))
    }
}

/// The Web API with one token, through slack-morphism's typed calls.
///
/// [`session`](WebApi::session) waits out HTTP 429 with slack-morphism's rate control: each
/// call is made again after Slack's `Retry-After` (at once when Slack names none, which it
/// always does), up to `rate_limit_retries` times in a row, then fails as rate limited. Its
/// proactive throttling is not used: it only applies with a team id on the token, and it
/// would hold every `chat.postMessage` of a team to one a second where Slack's limit is one
/// a second per channel. [`session_once`](WebApi::session_once) lets a 429 through, for the
/// calls made while connecting, whose failure carries its `Retry-After` for the driver to wait
/// out.
#[derive(Clone)]
pub(crate) struct WebApi {
    retrying: Arc<Client>,
    once: Arc<Client>,
    token: SlackApiToken,
}

impl std::fmt::Debug for WebApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebApi").finish_non_exhaustive()
    }
}

impl WebApi {
    /// The Web API at `connector`'s base URL with `token`; a call waits out at most
    /// `rate_limit_retries` HTTP 429 answers in a row.
    pub(crate) fn new(connector: Connector, token: &str, rate_limit_retries: u32) -> Self {
        let control = SlackApiRateControlConfig::new()
            .with_max_retries(usize::try_from(rate_limit_retries).unwrap_or(usize::MAX));
        WebApi {
            once: Arc::new(SlackClient::new(connector.clone())),
            retrying: Arc::new(SlackClient::new(connector.with_rate_control(control))),
            token: SlackApiToken::new(SlackApiTokenValue::new(token.to_owned())),
        }
    }

    /// A session whose calls wait out HTTP 429.
    pub(crate) fn session(&self) -> Session<'_> {
        self.retrying.open_session(&self.token)
    }

    /// A session whose calls fail at the first HTTP 429.
    pub(crate) fn session_once(&self) -> Session<'_> {
        self.once.open_session(&self.token)
    }
}

#[cfg(test)]
mod tests {
    use slack_morphism::errors::{SlackClientApiError, SlackClientHttpError, SlackRateLimitError};

    use super::*;

    fn http(status: u16, body: &str) -> SlackClientError {
        SlackClientError::HttpError(
            SlackClientHttpError::new(hyper::StatusCode::from_u16(status).unwrap())
                .with_http_response_body(body.to_owned()),
        )
    }

    #[test]
    fn errors_are_classified_by_slacks_code_not_the_http_status() {
        // An emulator (or a proxy) answering a bad token with 401 and Slack's JSON.
        let e = ApiError::from_client(
            "auth.test",
            http(401, r#"{"ok":false,"error":"invalid_auth"}"#),
        );
        assert_eq!(e.code(), Some("invalid_auth"));
        assert_eq!(e.class(), Class::Auth);
        assert_eq!(e.connection(), (ConnectionErrorKind::Authentication, false));
        for code in ["not_authed", "account_inactive", "token_revoked"] {
            let body = format!(r#"{{"ok":false,"error":"{code}"}}"#);
            let e = ApiError::from_client("auth.test", http(403, &body));
            assert_eq!(
                e.connection(),
                (ConnectionErrorKind::Authentication, false),
                "{code}"
            );
        }
        // Without a Slack body, a status is a transport failure, tried again.
        let e = ApiError::from_client("auth.test", http(502, "<html>bad gateway</html>"));
        assert_eq!(e.class(), Class::Transport);
        assert_eq!(e.connection(), (ConnectionErrorKind::Unreachable, true));
        assert_eq!(e.refusal("chat.postMessage").kind, FailureKind::Unreachable);
        // HTTP 200 with ok: false, as Slack answers.
        let e = ApiError::from_client(
            "chat.postMessage",
            SlackClientError::ApiError(SlackClientApiError::new("channel_not_found".into())),
        );
        let r = e.refusal("chat.postMessage");
        assert_eq!(r.kind, FailureKind::UnknownAddressee);
        assert_eq!(r.code.as_deref(), Some("channel_not_found"));
        let r = ApiError::slack("not_in_channel".into(), None).refusal("chat.postMessage");
        assert_eq!(r.kind, FailureKind::Rejected);
        // 429.
        let e = ApiError::from_client(
            "apps.connections.open",
            SlackClientError::RateLimitError(
                SlackRateLimitError::new().with_retry_after(Duration::from_secs(7)),
            ),
        );
        assert_eq!(e.class(), Class::RateLimited);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(e.refusal("m").kind, FailureKind::RateLimited);
        let failure = e.failure("apps.connections.open");
        assert!(!failure.is_permanent());
        assert_eq!(failure.retry_after_hint(), Some(Duration::from_secs(7)));
        // `ratelimited` in a body without Retry-After: a second.
        let e = ApiError::slack("ratelimited".into(), None);
        assert_eq!(
            e.failure("auth.test").retry_after_hint(),
            Some(Duration::from_secs(1))
        );
        // Other failures leave the wait to the driver's backoff.
        let e = ApiError::Transport("down".into());
        assert_eq!(e.failure("auth.test").retry_after_hint(), None);
    }

    #[test]
    fn missing_scope_names_the_scope() {
        let body = r#"{"ok":false,"error":"missing_scope","needed":"im:write","provided":"chat:write,users:read"}"#;
        let e = ApiError::from_client(
            "conversations.open",
            SlackClientError::ApiError(
                SlackClientApiError::new("missing_scope".into())
                    .with_http_response_body(body.into()),
            ),
        );
        let r = e.refusal("conversations.open");
        assert_eq!(r.kind, FailureKind::Rejected);
        assert_eq!(r.code.as_deref(), Some("missing_scope"));
        assert!(r.message.contains("`im:write`"), "{}", r.message);
        assert!(r.message.contains("chat:write,users:read"), "{}", r.message);
        assert_eq!(e.connection(), (ConnectionErrorKind::Authentication, false));
    }
}
