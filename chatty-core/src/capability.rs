//! Capabilities: what a session can carry, per address where that differs.

use serde::{Deserialize, Serialize};

use crate::signal::{Body, EditKind, Signal, Status};

bitflags::bitflags! {
    /// The signals a session can carry to an address.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(transparent)]
    pub struct Signals: u32 {
        /// Messages.
        const MESSAGE = 1 << 0;
        /// Files.
        const FILE = 1 << 1;
        /// Send failures (a bot reporting one onward, as a bridge does).
        const SEND_FAILURE = 1 << 2;
        /// Presence: online/offline, available/away/busy.
        const PRESENCE = 1 << 3;
        /// Presence in rooms: join and leave.
        const IN_ROOM = 1 << 4;
        /// Typing notifications.
        const TYPING = 1 << 5;
        /// User-defined signals.
        const USER_DEFINED = 1 << 6;
        /// Download-file requests (fetching a file URL with the session's credentials).
        const DOWNLOAD_FILE = 1 << 7;
    }
}

bitflags::bitflags! {
    /// Parts of a message (and of other signals) a session can carry, and what it promises
    /// about their delivery.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(transparent)]
    pub struct Features: u32 {
        /// A message subject.
        const SUBJECT = 1 << 0;
        /// Rich content (the HTML alternative).
        const HTML = 1 << 1;
        /// Inline multimedia.
        const MEDIA = 1 << 2;
        /// Attachments.
        const ATTACHMENTS = 1 << 3;
        /// Replies and threads (`response_to` carried to the other side).
        const REPLIES = 1 << 4;
        /// A status message with a status change.
        const STATUS_MESSAGE = 1 << 5;
        /// Delivery reports beyond "accepted" (receipts, bounces).
        const DELIVERY_REPORTS = 1 << 6;
        /// Edits of earlier messages: corrections and retractions.
        const EDITS = 1 << 7;
        /// Delivery in order: signals from one sender to one addressee arrive in the order
        /// they were sent. XMPP promises it for a stream (RFC 6120, 10.1) and an in-process
        /// connection keeps it; mail servers deliver a burst in whatever order their queues
        /// finish, and Slack does not promise it for its events. No signal needs it, so the
        /// [`Router`](crate::Router) never refuses one for its lack: it tells a bot (a bridge,
        /// say) whether to put a conversation back in order itself.
        const ORDERED = 1 << 8;
        /// Questions with options ([`Choice`](crate::Choice)) shown as options: buttons
        /// (Slack), a data form (XMPP). Degraded: numbered lines in the text, answered by text
        /// ([`Message::text_with_choice`](crate::Message::text_with_choice)).
        const CHOICES = 1 << 9;
        /// Reactions to earlier messages ([`Message::reaction`](crate::Message::reaction)): an
        /// emoji or a short text annotating a message, as Matrix (`m.annotation`) and Slack
        /// carry them.
        const REACTIONS = 1 << 10;
    }
}

/// What a session can carry to an address.
///
/// `features` are carried as they are; `degraded` ones are carried by a documented nearest
/// equivalent (Slack shows a subject as a bold first line). A signal needing anything in neither is
/// refused by the [`Router`](crate::Router) with
/// [`SendError::Unsupported`](crate::SendError::Unsupported), never dropped silently.
///
/// ```
/// use chatty_core::{Capabilities, Features, Message, Signal, Signals};
///
/// let email = Capabilities::new(Signals::MESSAGE | Signals::FILE, Features::SUBJECT | Features::HTML);
/// assert!(email.check(&Signal::new(Message::text("hi").with_subject("s"))).is_ok());
///
/// let no_subject = Capabilities::new(Signals::MESSAGE, Features::empty());
/// let refused = no_subject.check(&Signal::new(Message::text("hi").with_subject("s")));
/// assert!(refused.unwrap_err().contains("subject"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Capabilities {
    /// The signals carried.
    pub signals: Signals,
    /// The features carried as they are.
    pub features: Features,
    /// The features carried by a documented nearest equivalent.
    #[serde(default = "Features::empty")]
    pub degraded: Features,
}

impl Capabilities {
    /// Capabilities carrying `signals` with `features`, nothing degraded.
    pub const fn new(signals: Signals, features: Features) -> Self {
        Capabilities {
            signals,
            features,
            degraded: Features::empty(),
        }
    }

    /// Everything (an in-process connection carries all).
    pub const fn all() -> Self {
        Capabilities::new(Signals::all(), Features::all())
    }

    /// Marks `features` as carried by a nearest equivalent.
    #[must_use]
    pub const fn with_degraded(mut self, features: Features) -> Self {
        self.degraded = features;
        self
    }

    /// Whether `feature` is carried at all (as it is, or degraded).
    pub fn carries(&self, feature: Features) -> bool {
        self.features.union(self.degraded).contains(feature)
    }

    /// The features `signal` uses that this session carries only by their nearest equivalent
    /// (a question as numbered lines, a subject as a first line, …): what the addressee will not
    /// see as it was sent. Empty when everything it uses is carried as it is.
    ///
    /// ```
    /// use chatty_core::{Capabilities, Choice, Features, Message, Signal, Signals};
    ///
    /// let mail = Capabilities::new(Signals::MESSAGE, Features::HTML).with_degraded(Features::CHOICES);
    /// let choice = Choice::new("p").option("low", "Low").option("high", "High");
    /// let question = Message::text("Priority?").with_choice(choice);
    /// assert_eq!(mail.degraded_in(&Signal::new(question)), Features::CHOICES);
    /// assert!(mail.degraded_in(&Signal::new(Message::text("hi"))).is_empty());
    /// ```
    pub fn degraded_in(&self, signal: &Signal) -> Features {
        if self.degraded.is_empty() {
            return Features::empty();
        }
        let Body::Message(m) = &signal.body else {
            return Features::empty();
        };
        let mut used = Features::empty();
        used.set(Features::SUBJECT, m.subject.is_some());
        used.set(Features::HTML, m.html.is_some());
        used.set(Features::MEDIA, !m.media.is_empty());
        used.set(Features::ATTACHMENTS, !m.attachments.is_empty());
        used.set(Features::CHOICES, m.choice.is_some());
        used.set(Features::REACTIONS, m.is_reaction());
        used.set(
            Features::EDITS,
            m.edit
                .as_ref()
                .is_some_and(|e| e.kind != EditKind::Reaction),
        );
        used & self.degraded.difference(self.features)
    }

    /// `Ok` if the signal can be carried; otherwise why not, in words.
    ///
    /// Session-end requests are always accepted (every session can end); the other internal
    /// signals are raised by sessions, not sent, and are refused.
    pub fn check(&self, signal: &Signal) -> Result<(), String> {
        let need = |signals: Signals, what: &str| {
            if self.signals.contains(signals) {
                Ok(())
            } else {
                Err(format!("this session cannot carry {what}"))
            }
        };
        let feature = |present: bool, f: Features, what: &str| {
            if !present || self.carries(f) {
                Ok(())
            } else {
                Err(format!("this session cannot carry {what}"))
            }
        };
        match &signal.body {
            Body::Message(m) => {
                need(Signals::MESSAGE, "messages")?;
                feature(m.subject.is_some(), Features::SUBJECT, "a message subject")?;
                feature(m.html.is_some(), Features::HTML, "rich (HTML) content")?;
                feature(!m.media.is_empty(), Features::MEDIA, "inline media")?;
                feature(
                    !m.attachments.is_empty(),
                    Features::ATTACHMENTS,
                    "attachments",
                )?;
                feature(
                    m.choice.is_some(),
                    Features::CHOICES,
                    "a question with options",
                )?;
                feature(m.is_reaction(), Features::REACTIONS, "reactions")?;
                feature(
                    m.edit
                        .as_ref()
                        .is_some_and(|e| e.kind != EditKind::Reaction),
                    Features::EDITS,
                    "edits of earlier messages",
                )
            }
            Body::File(_) => need(Signals::FILE, "files"),
            Body::SendFailure(_) => need(Signals::SEND_FAILURE, "send failures"),
            Body::StatusChange(change) => {
                match change.status {
                    Status::Presence { .. } => need(Signals::PRESENCE, "presence")?,
                    Status::InRoom { .. } => need(Signals::IN_ROOM, "room presence")?,
                    Status::Typing { .. } => need(Signals::TYPING, "typing notifications")?,
                }
                feature(
                    change.message.is_some(),
                    Features::STATUS_MESSAGE,
                    "a status message",
                )
            }
            Body::UserDefined(_) => need(Signals::USER_DEFINED, "user-defined signals"),
            Body::DownloadFile(_) => need(Signals::DOWNLOAD_FILE, "file downloads"),
            Body::InitiateSessionEnd(_) => Ok(()),
            other => Err(format!(
                "{:?} is an internal signal that sessions raise; it cannot be sent",
                other.kind()
            )),
        }
    }
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities::all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::*;

    fn status(status: Status) -> Signal {
        Signal::new(StatusChange::new(status))
    }

    #[test]
    fn each_signal_needs_its_flag() {
        let room: crate::Address = "xmpp:r@muc.example.org".parse().unwrap();
        let cases = [
            (Signal::message("x"), Signals::MESSAGE),
            (
                Signal::new(File::bytes("f", None, &b"x"[..])),
                Signals::FILE,
            ),
            (
                Signal::new(SendFailure {
                    failed: "x".into(),
                    kind: FailureKind::Other,
                    code: None,
                    message: String::new(),
                }),
                Signals::SEND_FAILURE,
            ),
            (
                status(Status::Presence {
                    availability: Availability::Away,
                }),
                Signals::PRESENCE,
            ),
            (
                status(Status::InRoom {
                    room: room.clone(),
                    present: true,
                    role: None,
                }),
                Signals::IN_ROOM,
            ),
            (
                status(Status::Typing {
                    conversation: room,
                    state: TypingState::Composing,
                }),
                Signals::TYPING,
            ),
            (
                Signal::new(UserDefined::new("n", &1).unwrap()),
                Signals::USER_DEFINED,
            ),
            (
                Signal::new(DownloadFile {
                    file: File::url("f", None, "u"),
                }),
                Signals::DOWNLOAD_FILE,
            ),
        ];
        for (signal, flag) in cases {
            let with = Capabilities::new(flag, Features::empty());
            let without = Capabilities::new(Signals::all() - flag, Features::all());
            assert!(with.check(&signal).is_ok(), "{:?}", signal.kind());
            assert!(without.check(&signal).is_err(), "{:?}", signal.kind());
        }
    }

    #[test]
    fn message_parts_need_their_features() {
        let caps = Capabilities::new(Signals::MESSAGE, Features::empty());
        for m in [
            Message::text("x").with_subject("s"),
            Message::text("x").with_html("<i>x</i>"),
            Message::text("x").with_media(Media {
                id: None,
                file: File::url("f", None, "u"),
            }),
            Message::text("x").with_attachment(File::url("f", None, "u")),
            Message::text("x").correcting("earlier".into()),
            Message::retraction("earlier".into()),
            Message::reaction("earlier".into(), "👍"),
            Message::text("x").with_choice(crate::Choice::new("q").option("a", "A")),
        ] {
            assert!(caps.check(&Signal::new(m)).is_err());
        }
        assert!(caps.check(&Signal::message("plain")).is_ok());
    }

    #[test]
    fn a_reaction_needs_reactions_and_an_edit_edits() {
        let edits = Capabilities::new(Signals::MESSAGE, Features::EDITS);
        let reaction = Signal::new(Message::reaction("earlier".into(), "👍"));
        assert!(edits.check(&reaction).unwrap_err().contains("reactions"));
        let reactions = Capabilities::new(Signals::MESSAGE, Features::REACTIONS);
        assert!(reactions.check(&reaction).is_ok());
        let correction = Signal::new(Message::text("x").correcting("earlier".into()));
        assert!(reactions.check(&correction).unwrap_err().contains("edits"));
        assert!(edits.check(&correction).is_ok());
    }

    #[test]
    fn degraded_features_are_carried() {
        let slack =
            Capabilities::new(Signals::MESSAGE, Features::HTML).with_degraded(Features::SUBJECT);
        assert!(
            slack
                .check(&Signal::new(Message::text("x").with_subject("s")))
                .is_ok()
        );
        assert!(slack.carries(Features::SUBJECT));
        assert!(!slack.features.contains(Features::SUBJECT));
    }

    #[test]
    fn order_is_promised_or_not_but_never_needed() {
        let unordered = Capabilities::new(Signals::all(), Features::all() - Features::ORDERED);
        assert!(!unordered.carries(Features::ORDERED));
        let message = Message::text("x").with_subject("s").with_html("<b>x</b>");
        assert!(unordered.check(&Signal::new(message)).is_ok());
        assert!(Capabilities::all().carries(Features::ORDERED));
    }

    #[test]
    fn session_end_is_always_accepted_and_raised_signals_never() {
        let none = Capabilities::new(Signals::empty(), Features::empty());
        assert!(
            none.check(&Signal::new(
                Body::InitiateSessionEnd(SessionEnd::default())
            ))
            .is_ok()
        );
        let raised = Signal::new(SystemError {
            component: "x".into(),
            message: "y".into(),
        });
        assert!(Capabilities::all().check(&raised).is_err());
    }
}
