//! What the program writes: its lines, read one at a time and acted on.

use std::sync::{Arc, Mutex, MutexGuard};

use chatty_core::{Handle, Query, Signal, SignalId};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::Outgoing;
use super::flight::{Flight, Version};

/// Reads the lines of the program started `generation`-th.
#[derive(Debug)]
pub(super) struct Reader {
    pub(super) generation: u64,
    pub(super) handle: Handle,
    pub(super) queue: mpsc::UnboundedSender<Outgoing>,
    pub(super) flight: Arc<Mutex<Flight>>,
}

pub(super) fn lock(flight: &Mutex<Flight>) -> MutexGuard<'_, Flight> {
    flight.lock().unwrap_or_else(|p| p.into_inner())
}

impl Reader {
    /// Reports a line that could not be used, to the log and to the program.
    pub(super) fn report(&self, message: String) {
        tracing::warn!("bot process: {message}");
        let line = json!({"type": "error", "message": message}).to_string();
        let _ = self.queue.send(Outgoing::Error {
            generation: self.generation,
            line,
        });
    }

    /// Handles one line from the program: its hello, an acknowledgement, a send or a query;
    /// anything else is answered with an error line. A first line that is not a hello means
    /// the program speaks version 1.
    pub(super) async fn line(&self, line: &str) {
        if line.trim().is_empty() {
            return;
        }
        let value: Value = match serde_json::from_str(line) {
            Ok(value) => value,
            Err(e) => {
                self.first_line_is_not_hello();
                return self.report(format!("not a JSON line ({e}): {}", shorten(line)));
            }
        };
        let kind = value.get("type").and_then(Value::as_str);
        if kind == Some("hello") {
            return self.hello(&value);
        }
        self.first_line_is_not_hello();
        match kind {
            Some("ack") => match value.get("id").and_then(Value::as_str) {
                Some(id) => {
                    if let Err(e) = lock(&self.flight).ack(&SignalId::from(id)) {
                        self.report(e);
                    }
                }
                None => self.report("`ack` without a text `id`".to_owned()),
            },
            Some("send") => match parse_signal(value.get("signal")) {
                Ok(signal) => self.send(signal).await,
                Err(e) => self.report(format!("`send`: {e}")),
            },
            Some("query") => self.query(&value),
            Some(other) => self.report(format!(
                "unknown line type `{other}`: expected `send`, `query`, `ack` or `hello`"
            )),
            None => self.report(format!("a line without `type`: {}", shorten(line))),
        }
    }

    fn first_line_is_not_hello(&self) {
        let mut flight = lock(&self.flight);
        if flight.version() == Version::Unknown {
            flight.speaks(Version::One);
        }
    }

    fn hello(&self, value: &Value) {
        let mut flight = lock(&self.flight);
        if flight.version() != Version::Unknown {
            drop(flight);
            return self.report("`hello` is the program's first line, or is not said".to_owned());
        }
        match value.get("version").and_then(Value::as_u64) {
            Some(2) => flight.speaks(Version::Two),
            Some(1) => flight.speaks(Version::One),
            other => {
                flight.speaks(Version::One);
                drop(flight);
                self.report(format!(
                    "`hello` with version {}: this runner speaks versions 1 and 2; going on \
                     with version 1",
                    other.map_or_else(|| "(none)".to_owned(), |v| v.to_string())
                ));
            }
        }
    }

    async fn send(&self, signal: Signal) {
        if let Some(of) = &signal.meta.response_to
            && !lock(&self.flight).answer(of)
        {
            tracing::debug!(
                "bot process: an answer to {of} that left before the program was restarted is \
                 not sent again"
            );
            return;
        }
        let id = signal.meta.id.clone();
        match self.handle.send(signal).await {
            Ok(_) => {}
            Err(e) if e.is_closed() => {
                tracing::debug!("bot process: the bot's connection is closed");
            }
            // A refusal reaches the program as the signal it has always read for one: a send
            // failure or an unsupported signal answering its send.
            Err(e) => {
                if let Some(failure) = e.to_signal(&id) {
                    let _ = self.queue.send(Outgoing::Signal(Box::new(failure), None));
                }
            }
        }
    }

    fn query(&self, value: &Value) {
        let id = value.get("id").cloned().unwrap_or(Value::Null);
        let query: Query = match value.get("query").cloned().map(serde_json::from_value) {
            Some(Ok(query)) => query,
            Some(Err(e)) => return self.report(format!("`query`: not a query: {e}")),
            None => return self.report("`query` without `query`".to_owned()),
        };
        let handle = self.handle.clone();
        let queue = self.queue.clone();
        let generation = self.generation;
        tokio::spawn(async move {
            let answer = handle.query(query).await.map(serde_json::to_value);
            let line = match answer {
                Ok(Ok(answer)) => json!({"type": "answer", "id": id, "answer": answer}),
                Ok(Err(e)) => {
                    let error = format!("the answer could not be written as JSON: {e}");
                    json!({"type": "answer", "id": id, "error": error})
                }
                Err(e) => json!({"type": "answer", "id": id, "error": e.to_string()}),
            };
            let _ = queue.send(Outgoing::Answer {
                generation,
                line: line.to_string(),
            });
        });
    }
}

/// A signal from the process: `meta.id` may be left out (a fresh one is made), `meta` too.
fn parse_signal(value: Option<&Value>) -> Result<Signal, String> {
    let Some(Value::Object(object)) = value else {
        return Err("`signal` is missing or not an object".to_owned());
    };
    let mut object = object.clone();
    let meta = object
        .entry("meta")
        .or_insert_with(|| Value::Object(Default::default()));
    let Value::Object(meta) = meta else {
        return Err("`signal.meta` is not an object".to_owned());
    };
    meta.entry("id")
        .or_insert_with(|| Value::String(SignalId::generate().as_str().to_owned()));
    serde_json::from_value(Value::Object(object)).map_err(|e| format!("not a signal: {e}"))
}

fn shorten(line: &str) -> String {
    const MAX: usize = 200;
    if line.len() <= MAX {
        return line.to_owned();
    }
    let mut end = MAX;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &line[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_from_a_process_needs_no_id() {
        let value = json!({"meta": {"addressees": ["direct:alice"]}, "body": {"type": "message", "text": "hi"}});
        let signal = parse_signal(Some(&value)).unwrap();
        assert!(!signal.id().as_str().is_empty());
        assert_eq!(signal.meta.addressees[0].to_string(), "direct:alice");
        assert!(parse_signal(Some(&json!({"body": {"nonsense": 1}}))).is_err());
        assert!(parse_signal(Some(&json!("text"))).is_err());
        assert!(parse_signal(None).is_err());
        assert!(parse_signal(Some(&json!({"meta": 3, "body": {}}))).is_err());
    }

    #[test]
    fn long_lines_are_shortened_on_a_char_boundary() {
        let line = "é".repeat(300);
        let short = shorten(&line);
        assert!(short.len() <= 204);
        assert!(short.ends_with('…'));
    }
}
