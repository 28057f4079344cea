//! Hostile input from a bot process: whatever it writes, the runner neither panics nor loses the
//! good lines around a bad one, and every bad line is answered with an `error` line.

use std::sync::{Arc, Mutex};

use chatty_core::reexports::futures::future::{self, BoxFuture};
use chatty_core::{
    Address, Answer, File, Handle, Outlet, Query, QueryError, SendError, Signal, SignalId,
};
use proptest::prelude::*;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::Outgoing;
use super::flight::Flight;
use super::lines::Reader;

/// Records what the process sends; answers every query with an error.
#[derive(Default)]
struct Recording(Mutex<Vec<Signal>>);

impl Outlet for Recording {
    fn send(&self, signal: Signal) -> BoxFuture<'_, Result<SignalId, SendError>> {
        let id = signal.meta.id.clone();
        self.0.lock().unwrap().push(signal);
        Box::pin(future::ready(Ok(id)))
    }

    fn query(&self, _query: Query) -> BoxFuture<'_, Result<Answer, QueryError>> {
        Box::pin(future::ready(Err(QueryError::Failed {
            message: "no answers in this test".into(),
        })))
    }

    fn download(
        &self,
        _file: File,
        _via: Option<Address>,
    ) -> BoxFuture<'_, Result<File, SendError>> {
        Box::pin(future::ready(Err(SendError::Unsupported {
            reason: "no downloads in this test".into(),
        })))
    }

    fn ack(&self, _id: &SignalId) {}
}

/// A good `send` line whose message text is `text`.
fn good_line(text: &str) -> String {
    json!({"type": "send", "signal": {"meta": {"addressees": ["direct:alice"]},
        "body": {"type": "message", "text": text}}})
    .to_string()
}

/// Feeds `lines` to the runner's line handler; returns the texts of the messages it sent and
/// how many error lines it wrote back.
fn feed(lines: &[String]) -> (Vec<String>, usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let outlet = Arc::new(Recording::default());
    let handle = Handle::from_arc(outlet.clone());
    let (queue, mut written) = mpsc::unbounded_channel();
    let reader = Reader {
        generation: 1,
        handle: handle.clone(),
        queue,
        flight: Arc::new(Mutex::new(Flight::new(handle))),
    };
    runtime.block_on(async {
        for line in lines {
            reader.line(line).await;
        }
    });
    let mut errors = 0;
    while let Ok(out) = written.try_recv() {
        if let Outgoing::Error { line, .. } = out {
            let value: Value = serde_json::from_str(&line).expect("error lines are JSON");
            assert_eq!(value["type"], "error");
            assert!(value["message"].as_str().is_some_and(|m| !m.is_empty()));
            errors += 1;
        }
    }
    let sent = outlet.0.lock().unwrap();
    let texts = sent
        .iter()
        .filter_map(|s| match &s.body {
            chatty_core::Body::Message(m) => Some(m.text.clone()),
            _ => None,
        })
        .collect();
    (texts, errors)
}

/// Arbitrary JSON values, nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        ".{0,20}".prop_map(Value::String),
        prop_oneof![
            Just("send"),
            Just("query"),
            Just("message"),
            Just("file"),
            Just("meta"),
            Just("body"),
            Just("type"),
            Just("xmpp:a@b"),
            Just("status_change"),
            Just("hello"),
            Just("ack"),
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("type".to_owned()),
                        Just("signal".to_owned()),
                        Just("meta".to_owned()),
                        Just("body".to_owned()),
                        Just("query".to_owned()),
                        Just("id".to_owned()),
                        Just("addressees".to_owned()),
                        Just("version".to_owned()),
                        Just("text".to_owned()),
                        "[a-z_]{1,8}",
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

/// A line with one character changed, removed or inserted at `at` (a fraction of its length).
fn mutate(line: &str, at: f64, how: u8, c: char) -> String {
    let mut chars: Vec<char> = line.chars().collect();
    let i = ((chars.len() as f64) * at) as usize % chars.len().max(1);
    match how % 3 {
        0 => chars[i] = c,
        1 => {
            chars.remove(i);
        }
        _ => chars.insert(i, c),
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_text_between_two_good_lines_loses_neither(junk in ".{0,300}") {
        let lines = [good_line("before"), junk.clone(), good_line("after")];
        let (texts, errors) = feed(&lines);
        prop_assert_eq!(texts.first().map(String::as_str), Some("before"));
        prop_assert_eq!(texts.last().map(String::as_str), Some("after"));
        // The junk line either went out as a signal of its own or was answered with an error.
        let went_out = texts.len() - 2;
        prop_assert!(junk.trim().is_empty() || went_out + errors >= 1, "{junk:?}");
    }

    #[test]
    fn any_json_as_a_line_or_a_signal_is_sent_or_refused(value in json_value()) {
        let as_signal = json!({"type": "send", "signal": value.clone()}).to_string();
        let lines = [good_line("before"), value.to_string(), as_signal, good_line("after")];
        let (texts, errors) = feed(&lines);
        prop_assert_eq!(texts.first().map(String::as_str), Some("before"));
        prop_assert_eq!(texts.last().map(String::as_str), Some("after"));
        prop_assert!(texts.len() - 2 + errors >= 2);
    }

    #[test]
    fn a_mutated_good_line_is_sent_or_refused(at in 0.0..1.0f64, how in any::<u8>(), c in any::<char>()) {
        let bad = mutate(&good_line("middle"), at, how, c);
        let lines = [good_line("before"), bad, good_line("after")];
        let (texts, errors) = feed(&lines);
        prop_assert_eq!(texts.first().map(String::as_str), Some("before"));
        prop_assert_eq!(texts.last().map(String::as_str), Some("after"));
        prop_assert!(texts.len() - 2 + errors >= 1);
    }
}

/// A first line of any kind: text, JSON, or a hello with any version.
fn first_line() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,100}",
        json_value().prop_map(|v| v.to_string()),
        any::<Option<i64>>().prop_map(|v| json!({"type": "hello", "version": v}).to_string()),
        Just(json!({"type": "hello", "version": 2}).to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn whatever_the_first_line_the_version_is_settled_and_the_lines_after_it_count(
        first in first_line(),
    ) {
        let late_hello = json!({"type": "hello", "version": 2}).to_string();
        let lines = [first, good_line("after"), late_hello, good_line("last")];
        let (texts, errors) = feed(&lines);
        prop_assert_eq!(texts.first().map(String::as_str), Some("after"));
        prop_assert_eq!(texts.last().map(String::as_str), Some("last"));
        // A hello after the first line is refused: the first line settled the version.
        prop_assert!(errors >= 1);
    }
}
