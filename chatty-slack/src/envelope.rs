//! Socket Mode frames (api.slack.com/apis/socket-mode), read from raw JSON: `hello`,
//! `disconnect`, and the envelopes that carry payloads (`events_api`, `slash_commands`,
//! `interactive`), each to be acknowledged by its `envelope_id`.
//!
//! This is the one place where Socket Mode text is parsed. Nothing goes through a typed model
//! that could refuse a valid payload for a field it does not expect: the payload stays JSON.

use chatty_core::reexports::serde_json::{self, Value, json};

/// One frame from Slack's Socket Mode connection.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Frame {
    /// The connection is ready.
    Hello,
    /// Slack is about to close the connection, and why (`warning`, `refresh_requested`,
    /// `link_disabled`, …).
    Disconnect {
        /// The `reason` field (empty when there is none).
        reason: String,
    },
    /// An Events API payload (the `event_callback` object).
    EventsApi {
        /// To acknowledge.
        envelope_id: String,
        /// The payload, as JSON.
        payload: Value,
    },
    /// An interactivity payload (`block_actions` when a person clicked a button, and others).
    Interactive {
        /// To acknowledge.
        envelope_id: String,
        /// The payload, as JSON.
        payload: Value,
    },
    /// A slash command's payload (its form fields, as JSON strings).
    SlashCommand {
        /// To acknowledge.
        envelope_id: String,
        /// The payload, as JSON.
        payload: Value,
    },
    /// Another envelope type the session does not map.
    Other {
        /// The `type` field.
        kind: String,
        /// To acknowledge, when it has one.
        envelope_id: Option<String>,
    },
    /// A frame that cannot be read, and its `envelope_id` when one can be found in it (so that
    /// it is still acknowledged: it will never read better when Slack sends it again).
    Malformed {
        /// To acknowledge, when one can be found.
        envelope_id: Option<String>,
        /// Why it cannot be read.
        reason: String,
    },
}

/// The longest frame text quoted in an error message.
const QUOTED: usize = 120;

/// Reads one text frame.
pub(crate) fn parse(text: &str) -> Frame {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return Frame::Malformed {
                envelope_id: scan_envelope_id(text),
                reason: format!(
                    "a Socket Mode frame that is not JSON ({e}): {}",
                    quote(text)
                ),
            };
        }
    };
    let Some(object) = value.as_object() else {
        return Frame::Malformed {
            envelope_id: None,
            reason: format!("a Socket Mode frame that is not an object: {}", quote(text)),
        };
    };
    let envelope_id = object
        .get("envelope_id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(str::to_owned);
    let Some(kind) = object.get("type").and_then(Value::as_str) else {
        return Frame::Malformed {
            envelope_id,
            reason: format!("a Socket Mode frame without a type: {}", quote(text)),
        };
    };
    match kind {
        "hello" => Frame::Hello,
        "disconnect" => Frame::Disconnect {
            reason: object
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        },
        "events_api" | "interactive" | "slash_commands" => {
            match (envelope_id, object.get("payload")) {
                (Some(envelope_id), Some(payload)) if payload.is_object() => {
                    let payload = payload.clone();
                    match kind {
                        "events_api" => Frame::EventsApi {
                            envelope_id,
                            payload,
                        },
                        "interactive" => Frame::Interactive {
                            envelope_id,
                            payload,
                        },
                        _ => Frame::SlashCommand {
                            envelope_id,
                            payload,
                        },
                    }
                }
                (envelope_id, _) => Frame::Malformed {
                    reason: format!(
                        "an envelope of type {kind} without {}: {}",
                        if envelope_id.is_none() {
                            "an envelope_id"
                        } else {
                            "a payload object"
                        },
                        quote(text)
                    ),
                    envelope_id,
                },
            }
        }
        other => Frame::Other {
            kind: other.to_owned(),
            envelope_id,
        },
    }
}

/// The acknowledgement of an envelope: `{"envelope_id": …}`.
pub(crate) fn ack(envelope_id: &str) -> String {
    json!({ "envelope_id": envelope_id }).to_string()
}

/// An `"envelope_id": "…"` in text that is not JSON, if it holds one that looks like an id.
fn scan_envelope_id(text: &str) -> Option<String> {
    let at = text.find("\"envelope_id\"")?;
    let rest = text[at + "\"envelope_id\"".len()..].trim_start();
    let rest = rest.strip_prefix(':')?.trim_start().strip_prefix('"')?;
    let id = &rest[..rest.find('"')?];
    let plausible = !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    plausible.then(|| id.to_owned())
}

/// The start of a frame, for error messages.
fn quote(text: &str) -> String {
    let mut end = text.len().min(QUOTED);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    if end < text.len() {
        format!("{}…", &text[..end])
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_frames_are_read() {
        // api.slack.com/apis/socket-mode: hello, disconnect, an events_api envelope.
        assert_eq!(
            parse(
                r#"{"type":"hello","num_connections":1,"debug_info":{"host":"applink-1"},"connection_info":{"app_id":"A1"}}"#
            ),
            Frame::Hello
        );
        assert_eq!(
            parse(r#"{"type":"disconnect","reason":"warning","debug_info":{"host":"h"}}"#),
            Frame::Disconnect {
                reason: "warning".into()
            }
        );
        let envelope = r#"{"envelope_id":"e-1","payload":{"type":"event_callback","event":{"type":"message"}},"type":"events_api","accepts_response_payload":false,"retry_attempt":0,"retry_reason":""}"#;
        assert!(
            matches!(parse(envelope), Frame::EventsApi { envelope_id, payload } if envelope_id == "e-1" && payload["event"]["type"] == "message")
        );
        assert!(matches!(
            parse(r#"{"envelope_id":"e-2","type":"slash_commands","payload":{"command":"/t"},"accepts_response_payload":true}"#),
            Frame::SlashCommand { envelope_id, payload } if envelope_id == "e-2" && payload["command"] == "/t"
        ));
        assert!(matches!(
            parse(r#"{"envelope_id":"e-3","type":"interactive","payload":{"type":"block_actions"},"accepts_response_payload":false}"#),
            Frame::Interactive { envelope_id, payload } if envelope_id == "e-3" && payload["type"] == "block_actions"
        ));
        assert_eq!(
            parse(r#"{"envelope_id":"e-4","type":"something_new","payload":{}}"#),
            Frame::Other {
                kind: "something_new".into(),
                envelope_id: Some("e-4".into())
            }
        );
        assert_eq!(ack("e-1"), r#"{"envelope_id":"e-1"}"#);
    }

    #[test]
    fn unreadable_frames_keep_their_envelope_id_for_the_ack() {
        let truncated = r#"{"envelope_id":"e-3","type":"events_api","payload":{"type":"#;
        assert!(matches!(
            parse(truncated),
            Frame::Malformed { envelope_id: Some(id), .. } if id == "e-3"
        ));
        assert!(matches!(
            parse(r#"{"envelope_id":"e-4","type":"events_api","payload":"text"}"#),
            Frame::Malformed { envelope_id: Some(id), .. } if id == "e-4"
        ));
        assert!(matches!(
            parse(r#"{"envelope_id":"e-6","type":"interactive","payload":[1]}"#),
            Frame::Malformed { envelope_id: Some(id), reason } if id == "e-6" && reason.contains("of type interactive")
        ));
        assert!(matches!(
            parse(r#"{"envelope_id":"e-5"}"#),
            Frame::Malformed { envelope_id: Some(id), .. } if id == "e-5"
        ));
        for bad in [
            "",
            "null",
            "[1]",
            "\"x\"",
            "{\"type\":\"events_api\"}",
            "é\"envelope_id\": \"a b\"",
        ] {
            assert!(
                matches!(
                    parse(bad),
                    Frame::Malformed {
                        envelope_id: None,
                        ..
                    }
                ),
                "{bad}"
            );
        }
        let long = format!("{{{}", "é".repeat(200));
        let Frame::Malformed { reason, .. } = parse(&long) else {
            panic!()
        };
        assert!(reason.len() < 400, "{reason}");
    }
}
