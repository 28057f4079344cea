//! Signal ids and the metadata every signal carries.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::address::Address;

/// A point in time, in UTC where a platform says so.
pub type Timestamp = OffsetDateTime;

/// Whether `time` can be written as RFC 3339, as signals carry their times in JSON: a year from
/// 0 to 9999, and an offset in whole minutes. A platform's time outside that (a malformed or
/// hostile timestamp) is dropped where a session hands the signal on.
///
/// ```
/// use chatty_core::writable_time;
/// use time::macros::datetime;
///
/// assert!(writable_time(datetime!(2026-12-07 20:00 UTC)));
/// assert!(!writable_time(datetime!(-1199-01-01 0:00 UTC)));
/// ```
pub fn writable_time(time: Timestamp) -> bool {
    (0..=9999).contains(&time.year()) && time.offset().seconds_past_minute() == 0
}

/// The unique id of a signal.
///
/// Ids that Chatty makes ([`SignalId::generate`]) are unique across processes and restarts: a
/// random 64-bit process nonce followed by a counter. Sessions that receive a signal keep the id
/// the platform carried (a mail's `Message-ID`, an XMPP `origin-id`), so a reply's `response_to`
/// names the same id on both ends.
///
/// ```
/// use chatty_core::SignalId;
///
/// let a = SignalId::generate();
/// let b = SignalId::generate();
/// assert_ne!(a, b);
/// assert_eq!(SignalId::from("<abc@example.org>").as_str(), "<abc@example.org>");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SignalId(Arc<str>);

fn process_nonce() -> u64 {
    static NONCE: OnceLock<u64> = OnceLock::new();
    *NONCE.get_or_init(|| {
        // `RandomState` is seeded from the operating system's random source; hashing the time
        // and the process id into it gives a nonce that differs between runs and processes.
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        hasher.write_u32(std::process::id());
        hasher.finish()
    })
}

impl SignalId {
    /// A new id, unique across processes and restarts.
    pub fn generate() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        // `{nonce:016x}-{n:016x}`, written without the formatting machinery (an id is made for
        // every signal).
        let mut text = [b'-'; 33];
        write_hex(&mut text[..16], process_nonce());
        write_hex(&mut text[17..], n);
        SignalId(std::str::from_utf8(&text).unwrap_or_default().into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Writes `value` as 16 lower-case hex digits into `out`.
fn write_hex(out: &mut [u8], value: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, byte) in value.to_be_bytes().into_iter().enumerate() {
        out[2 * i] = HEX[usize::from(byte >> 4)];
        out[2 * i + 1] = HEX[usize::from(byte & 0xf)];
    }
}

impl From<&str> for SignalId {
    fn from(value: &str) -> Self {
        SignalId(value.into())
    }
}

impl From<String> for SignalId {
    fn from(value: String) -> Self {
        SignalId(value.into())
    }
}

impl fmt::Display for SignalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SignalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignalId({})", self.0)
    }
}

/// What every signal carries besides its content.
///
/// On the way out, a bot fills what it knows (usually only `addressees` and `response_to`); the
/// router sets `sent` and the session sets `origin` to the bot's own address. On the way in, the
/// session fills every field the platform tells it (see `signal-mapping` in the docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Metadata {
    /// The signal's unique id.
    pub id: SignalId,
    /// The id of the signal this one answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_to: Option<SignalId>,
    /// When the origin sent it, by the origin's or the platform's clock.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub sent: Option<Timestamp>,
    /// When the session received it, by the local clock.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub received: Option<Timestamp>,
    /// Who sent it. For internal signals, the own address of the session that raised them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Address>,
    /// Who it is for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addressees: Vec<Address>,
    /// Who else sees it: the room or channel it was said in, carbon-copied people.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub visible_to: Vec<Address>,
    /// Set by the session when a machine, not a person, sent it (RFC 3834's automatic
    /// messages: an out-of-office, a bounce, a mailing list, another bot). A bot that answers
    /// messages should not answer these: two automatic responders answering each other never
    /// stop. The built-in bots never answer them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatic: Option<Automatic>,
    /// Set when the bot is given this signal again after a restart: it was received and kept in
    /// the [journal](crate::journal) but the bot had not finished handling it when its process
    /// stopped. Answers it already sent then are not sent again (see the journal).
    ///
    /// On a signal a bot sends: it may have left already, sent by a process that stopped before
    /// it could say so (a gateway passing on what the one before it had taken). The router asks
    /// the session first ([`Session::sent`](crate::session::Session::sent)) and sends it only
    /// if the session does not say it left.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redelivered: bool,
}

/// Why a signal counts as sent by a machine (see [`Metadata::automatic`]), after RFC 3834.
///
/// ```
/// use chatty_core::{Automatic, Signal};
///
/// let mut out_of_office = Signal::message("I am away until Monday");
/// out_of_office.meta.automatic = Some(Automatic::Replied);
/// assert!(out_of_office.is_automatic());
/// assert_eq!(serde_json::to_string(&Automatic::Replied).unwrap(), r#""replied""#);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Automatic {
    /// An automatic answer to something that was sent: an out-of-office or vacation notice
    /// (mail: `Auto-Submitted: auto-replied`).
    Replied,
    /// Made by a program without a person, not in answer to anything: a notification, a
    /// cron job's output (mail: `Auto-Submitted: auto-generated` or any other value but `no`).
    Generated,
    /// Bulk or list traffic (mail: `Precedence: bulk`, `junk` or `list`, a `List-Id`).
    Bulk,
    /// A delivery report or bounce (mail: a null or `MAILER-DAEMON` return path, a
    /// `multipart/report`; XMPP: an error stanza).
    Report,
    /// Sent by another bot account (Slack: a message with a `bot_id`).
    Bot,
}

impl Automatic {
    /// The word used in JSON and logs (`replied`, `generated`, `bulk`, `report`, `bot`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Automatic::Replied => "replied",
            Automatic::Generated => "generated",
            Automatic::Bulk => "bulk",
            Automatic::Report => "report",
            Automatic::Bot => "bot",
        }
    }
}

impl Metadata {
    /// Metadata with a fresh id and nothing else.
    pub fn new() -> Self {
        Metadata::with_id(SignalId::generate())
    }

    /// Metadata with the given id and nothing else.
    pub fn with_id(id: SignalId) -> Self {
        Metadata {
            id,
            response_to: None,
            sent: None,
            received: None,
            origin: None,
            addressees: Vec::new(),
            visible_to: Vec::new(),
            automatic: None,
            redelivered: false,
        }
    }
}

impl Default for Metadata {
    fn default() -> Self {
        Metadata::new()
    }
}

/// The current time, for `sent` and `received`.
pub fn now() -> Timestamp {
    OffsetDateTime::now_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_unique_across_threads() {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    (0..10_000)
                        .map(|_| SignalId::generate())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all = std::collections::HashSet::new();
        for h in handles {
            for id in h.join().unwrap() {
                assert!(all.insert(id));
            }
        }
        assert_eq!(all.len(), 40_000);
    }

    #[test]
    fn metadata_round_trips_through_json() {
        let mut meta = Metadata::new();
        meta.response_to = Some("earlier".into());
        meta.sent = Some(time::macros::datetime!(2026-11-25 10:00:00 UTC));
        meta.received = Some(now());
        meta.origin = Some("xmpp:alice@example.org".parse().unwrap());
        meta.addressees = vec!["xmpp:bot@example.org".parse().unwrap()];
        meta.visible_to = vec!["xmpp:room@muc.example.org;kind=channel".parse().unwrap()];
        meta.automatic = Some(Automatic::Bulk);
        let json = serde_json::to_string(&meta).unwrap();
        let back: Metadata = serde_json::from_str(&json).unwrap();
        assert_eq!(back, meta);
        assert!(json.contains("2026-11-25T10:00:00Z"), "{json}");
        assert!(json.contains(r#""automatic":"bulk""#), "{json}");
    }

    #[test]
    fn empty_fields_are_left_out_of_json() {
        let json = serde_json::to_string(&Metadata::with_id("x".into())).unwrap();
        assert_eq!(json, r#"{"id":"x"}"#);
    }
}
