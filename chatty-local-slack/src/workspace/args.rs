//! Web API arguments in every encoding Slack accepts, cursors, and the scopes apps get.

use serde_json::{Map, Value};

/// The bot scopes an app gets unless it is installed with others
/// ([`LocalSlack::add_app_with_scopes`](crate::LocalSlack::add_app_with_scopes)).
pub const DEFAULT_SCOPES: &[&str] = &[
    "app_mentions:read",
    "channels:history",
    "channels:join",
    "channels:read",
    "chat:write",
    "files:read",
    "files:write",
    "groups:history",
    "groups:read",
    "im:history",
    "im:read",
    "im:write",
    "mpim:history",
    "mpim:read",
    "mpim:write",
    "reactions:read",
    "reactions:write",
    "users:read",
    "users:write",
];

pub(crate) fn str_arg<'a>(args: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    args.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// A JSON argument: given as JSON itself, or as a JSON-encoded string (form posts).
pub(crate) fn json_arg(args: &Map<String, Value>, name: &str) -> Option<Value> {
    match args.get(name)? {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => serde_json::from_str(s).ok().or(Some(Value::Null)),
        other => Some(other.clone()),
    }
}

/// A list argument: a comma-separated string (a form, a query, or JSON), or, in a JSON body, an
/// array of strings. Slack's pages type such arguments as strings, "comma separated lists"
/// (api.slack.com/methods/conversations.open: `users`), and take JSON bodies
/// (api.slack.com/web#posting_json), where clients such as slack-morphism send the list as an
/// array. `None` when absent or empty; `Some(Err(()))` for an array holding anything but
/// strings.
pub(crate) fn list_arg(args: &Map<String, Value>, name: &str) -> Option<Result<Vec<String>, ()>> {
    let items: Result<Vec<String>, ()> = match args.get(name)? {
        Value::String(s) => Ok(s.split(',').map(|u| u.trim().to_owned()).collect()),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(|u| u.trim().to_owned()).ok_or(()))
            .collect(),
        _ => Err(()),
    };
    match items {
        Ok(items) if items.iter().all(String::is_empty) => None,
        other => Some(other),
    }
}

pub(crate) fn num_arg(args: &Map<String, Value>, name: &str) -> Option<u64> {
    match args.get(name)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

pub(crate) fn bool_arg(args: &Map<String, Value>, name: &str) -> bool {
    match args.get(name) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true" || s == "1",
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        _ => false,
    }
}

/// A cursor for paginated methods (api.slack.com/docs/pagination: opaque strings).
pub(crate) fn cursor(offset: usize) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("offset:{offset}"))
}

pub(crate) fn parse_cursor(text: &str) -> Option<usize> {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("offset:")?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lists_come_as_comma_separated_strings_or_json_arrays() {
        let args = |v: Value| v.as_object().cloned().unwrap();
        let both = Some(Ok(vec!["U1".to_owned(), "U2".to_owned()]));
        assert_eq!(list_arg(&args(json!({"users": "U1,U2"})), "users"), both);
        assert_eq!(list_arg(&args(json!({"users": "U1, U2"})), "users"), both);
        assert_eq!(
            list_arg(&args(json!({"users": ["U1", "U2"]})), "users"),
            both
        );
        assert_eq!(
            list_arg(&args(json!({"users": ["U1"]})), "users"),
            Some(Ok(vec!["U1".to_owned()]))
        );
        assert_eq!(list_arg(&args(json!({"users": []})), "users"), None);
        assert_eq!(list_arg(&args(json!({"users": ""})), "users"), None);
        assert_eq!(list_arg(&args(json!({})), "users"), None);
        assert_eq!(
            list_arg(&args(json!({"users": ["U1", 2]})), "users"),
            Some(Err(()))
        );
        assert_eq!(
            list_arg(&args(json!({"users": {"a": 1}})), "users"),
            Some(Err(()))
        );
    }

    #[test]
    fn cursors_round_trip() {
        assert_eq!(parse_cursor(&cursor(42)), Some(42));
        assert_eq!(parse_cursor("garbage"), None);
    }
}
