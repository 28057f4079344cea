//! What travels in a hub's messages: a signal with the name of the gateway session it came
//! through (or leaves through), as JSON with a version, and the message id JetStream
//! deduplicates it by.
//!
//! ```text
//! {"v":1,"session":"work","signal":{…}}
//! ```
//!
//! A message that is not this (another version, not JSON, not a signal) is an error naming
//! what is wrong, never a panic; the caller reports it and goes on.

use chatty_core::Signal;
use serde::{Deserialize, Serialize};

/// The version of the envelope this crate writes and reads.
pub(crate) const VERSION: u32 = 1;

/// A signal and the gateway session it concerns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Envelope {
    pub(crate) v: u32,
    /// The gateway session the signal came through; empty for what a worker sends (the
    /// gateway's router picks the session by the addressees).
    pub(crate) session: String,
    pub(crate) signal: Signal,
}

impl Envelope {
    /// `signal`, from or for the gateway session `session`.
    pub(crate) fn new(session: impl Into<String>, signal: Signal) -> Self {
        Envelope {
            v: VERSION,
            session: session.into(),
            signal,
        }
    }

    /// The message's bytes.
    pub(crate) fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a signal always serializes")
    }

    /// Reads a message, or says why it is not one.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct Version {
            v: u32,
        }
        let version: Version = serde_json::from_slice(bytes)
            .map_err(|e| format!("a hub message that is not a versioned envelope: {e}"))?;
        if version.v != VERSION {
            return Err(format!(
                "a hub message of version {} (this Chatty reads version {VERSION})",
                version.v
            ));
        }
        serde_json::from_slice(bytes).map_err(|e| format!("a malformed hub message: {e}"))
    }

    /// The id JetStream drops a second copy by: the session and the signal's id, so that the
    /// same signal given twice by a platform (or by the gateway after a restart) is kept once.
    pub(crate) fn message_id(&self) -> String {
        format!("{}/{}", self.session, self.signal.meta.id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_envelope_reads_back_what_was_written() {
        let mut signal = Signal::message("hello");
        signal.meta.origin = "xmpp:alice@example.org".parse().ok();
        let envelope = Envelope::new("work", signal);
        let back = Envelope::decode(&envelope.encode()).unwrap();
        assert_eq!(back, envelope);
        assert_eq!(
            back.message_id(),
            format!("work/{}", envelope.signal.meta.id.as_str())
        );
    }

    #[test]
    fn what_is_not_an_envelope_says_why() {
        let newer = br#"{"v":2,"session":"s","signal":{}}"#;
        assert!(Envelope::decode(newer).unwrap_err().contains("version 2"));
        assert!(
            Envelope::decode(b"not json")
                .unwrap_err()
                .contains("not a versioned")
        );
        let no_signal = br#"{"v":1,"session":"s","signal":{"body":3}}"#;
        assert!(
            Envelope::decode(no_signal)
                .unwrap_err()
                .contains("malformed")
        );
    }
}
