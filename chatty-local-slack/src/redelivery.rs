//! When an event is sent to an app, and sent again: Slack's timetable of delivery attempts.
//!
//! What Slack documents, and this follows:
//!
//! - docs.slack.dev/apis/events-api/using-socket-mode ("Acknowledge events"): over Socket Mode
//!   the app still acknowledges each event (with its `envelope_id`) so that Slack knows whether
//!   to retry it.
//! - docs.slack.dev/apis/events-api#retries: a failed delivery is retried up to 3 times, on a
//!   gradually increasing timetable: the first retry nearly immediately, the second after 1
//!   minute, the third and last after 5 minutes; `http_timeout` is a delivery not answered
//!   within 3 seconds, `connection_failed` one that could not reach the app at all.
//! - docs.slack.dev/apis/events-api#failure-limits: past the last retry Slack stops sending the
//!   event (it is lost to the app).
//!
//! How this reads them, where the pages leave room:
//!
//! - An attempt fails when its ack has not come within the ack timeout (3 s), when the socket
//!   it went out on closes first (the app's process died: the envelope is sent again on a later
//!   connection), or at once when the app has no open socket to send it on (Slack's
//!   `connection_failed`: it does not wait for the app to come back).
//! - The retry times are counted from the first attempt (the "timetable"): retry 1 as soon as
//!   an attempt failed, retry 2 no earlier than 1 minute and retry 3 no earlier than 5 minutes
//!   after the first attempt. So an event is given to the app within about 5 minutes, or never.
//! - Each attempt is a new envelope (a new `envelope_id`, "a unique identifier") carrying the
//!   same payload (the same `event_id`), with `retry_attempt` counting the attempts before it
//!   (those that found no socket included) and `retry_reason: "timeout"` on a retry: the one
//!   reason the SDKs show for Socket Mode (slack_sdk's and java-slack-sdk's Socket Mode request
//!   types and their fixtures); the first attempt carries `retry_reason: ""`. An ack of any of
//!   an event's envelopes settles the event.
//!
//! Interactions (`interactive` envelopes: a click, docs.slack.dev/reference/interaction-payloads/
//! block_actions-payload) and slash commands (`slash_commands` envelopes,
//! docs.slack.dev/interactivity/implementing-slash-commands) are not retried: Slack documents
//! that the app must acknowledge them within 3 seconds, or the person sees an error, and no
//! retries. So they get one attempt (failing at once when no socket is open), and what was not
//! acknowledged in time is recorded as failed ([`Envelope::retried`]).

use std::time::{Duration, Instant};

use serde_json::Value;

/// Slack's timetable: how long an envelope waits for its ack, and when each retry is due,
/// counted from the first attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Timetable {
    /// How long an envelope waits for its ack (3 s).
    pub(crate) ack_timeout: Duration,
    /// The earliest time of each retry after the first attempt: nearly immediately, 1 minute,
    /// 5 minutes.
    pub(crate) retries: Vec<Duration>,
}

impl Default for Timetable {
    fn default() -> Self {
        Timetable {
            ack_timeout: Duration::from_secs(3),
            retries: vec![
                Duration::ZERO,
                Duration::from_secs(60),
                Duration::from_secs(5 * 60),
            ],
        }
    }
}

/// The `type` of a Socket Mode envelope (api.slack.com/apis/socket-mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Envelope {
    /// `events_api`: an `event_callback`, retried on Slack's timetable.
    EventsApi,
    /// `interactive`: a `block_actions` payload (a person clicked a button), sent once.
    Interactive,
    /// `slash_commands`: a slash command's payload, sent once.
    SlashCommands,
}

impl Envelope {
    /// The envelope's `type`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Envelope::EventsApi => "events_api",
            Envelope::Interactive => "interactive",
            Envelope::SlashCommands => "slash_commands",
        }
    }

    /// Whether a failed attempt is tried again: events only (see the module documentation).
    pub(crate) fn retried(self) -> bool {
        self == Envelope::EventsApi
    }

    /// The envelope's `accepts_response_payload`: a slash command may be answered in the ack
    /// (api.slack.com/apis/socket-mode#command), a click on a message button or an event not.
    pub(crate) fn accepts_response_payload(self) -> bool {
        self == Envelope::SlashCommands
    }
}

/// Where an event's delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// The next attempt is due at this time.
    Due(Instant),
    /// Sent on socket `socket`; failed unless acknowledged by `deadline`.
    InFlight {
        /// The socket it went out on.
        socket: u64,
        /// When its ack is due.
        deadline: Instant,
    },
}

/// What an event's delivery needs now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Send it now.
    Send,
    /// Nothing to do yet (in flight, or the next attempt is later).
    Wait,
    /// The last attempt failed: Slack gives up on it.
    GiveUp,
}

/// An event on its way to an app, until acknowledged or given up.
#[derive(Debug)]
pub(crate) struct Pending {
    /// The envelope type it goes in.
    pub(crate) kind: Envelope,
    /// Its `event_id` (an interaction's or a slash command's `trigger_id`).
    pub(crate) event_id: String,
    /// The `event_callback` payload, the same in every envelope.
    pub(crate) payload: Value,
    /// The envelope ids it was sent in (an ack of any settles it).
    pub(crate) envelopes: Vec<String>,
    /// How many attempts were made (those that found no socket included).
    pub(crate) attempts: u32,
    /// When the first attempt was due.
    pub(crate) first: Instant,
    /// Where it stands.
    pub(crate) attempt: Attempt,
}

impl Pending {
    /// An event, due at once.
    pub(crate) fn new(event_id: String, payload: Value, now: Instant) -> Self {
        Pending::of(Envelope::EventsApi, event_id, payload, now)
    }

    /// A payload of the envelope type `kind`, due at once, known by `id`.
    pub(crate) fn of(kind: Envelope, id: String, payload: Value, now: Instant) -> Self {
        Pending {
            kind,
            event_id: id,
            payload,
            envelopes: Vec::new(),
            attempts: 0,
            first: now,
            attempt: Attempt::Due(now),
        }
    }

    /// Moves the event along the timetable up to `now`; `socket_open` says whether the app has
    /// a socket to send on (without one, an attempt due fails at once, at the time it was due).
    pub(crate) fn advance(&mut self, now: Instant, socket_open: bool, table: &Timetable) -> Step {
        loop {
            match self.attempt {
                Attempt::InFlight { deadline, .. } if now >= deadline => {
                    if !self.failed(deadline, table) {
                        return Step::GiveUp;
                    }
                }
                Attempt::InFlight { .. } => return Step::Wait,
                Attempt::Due(at) if at > now => return Step::Wait,
                Attempt::Due(_) if socket_open => return Step::Send,
                Attempt::Due(at) => {
                    // Nowhere to send it: this attempt fails as it is made.
                    self.attempts += 1;
                    if !self.failed(at, table) {
                        return Step::GiveUp;
                    }
                }
            }
        }
    }

    /// Records that it is sent now in `envelope_id` on `socket`; the `retry_attempt` to put in
    /// the envelope.
    pub(crate) fn sent(
        &mut self,
        envelope_id: String,
        socket: u64,
        now: Instant,
        table: &Timetable,
    ) -> u32 {
        let retry_attempt = self.attempts;
        self.attempts += 1;
        self.envelopes.push(envelope_id);
        self.attempt = Attempt::InFlight {
            socket,
            deadline: now + table.ack_timeout,
        };
        retry_attempt
    }

    /// The socket `socket` closed at `now`: if the event was in flight on it, that attempt
    /// failed; `false` when it was the last one.
    pub(crate) fn socket_closed(&mut self, socket: u64, now: Instant, table: &Timetable) -> bool {
        match self.attempt {
            Attempt::InFlight { socket: s, .. } if s == socket => self.failed(now, table),
            _ => true,
        }
    }

    /// The attempt made last failed at `at`: schedules the next, or `false` when there is none.
    fn failed(&mut self, at: Instant, table: &Timetable) -> bool {
        if !self.kind.retried() {
            return false;
        }
        // Attempt n (from 1) is retry n; the attempts made so far are the first and
        // `attempts - 1` retries.
        let Some(offset) = table.retries.get(self.attempts as usize - 1) else {
            return false;
        };
        self.attempt = Attempt::Due(at.max(self.first + *offset));
        true
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn table() -> Timetable {
        Timetable {
            ack_timeout: Duration::from_secs(3),
            retries: vec![
                Duration::ZERO,
                Duration::from_secs(60),
                Duration::from_secs(300),
            ],
        }
    }

    #[test]
    fn the_default_is_slacks_timetable() {
        assert_eq!(Timetable::default(), table());
    }

    #[test]
    fn unacknowledged_attempts_are_retried_at_once_then_after_1_and_5_minutes() {
        let table = table();
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut event = Pending::new("Ev1".into(), json!({}), t0);
        let mut sent_at = Vec::new();
        let mut now = t0;
        // Look every second for 10 minutes, a socket always open, never an ack.
        while now < t0 + s(600) {
            match event.advance(now, true, &table) {
                Step::Send => {
                    let attempt = event.sent(format!("e{}", sent_at.len()), 1, now, &table);
                    sent_at.push((attempt, now - t0));
                }
                Step::Wait => {}
                Step::GiveUp => break,
            }
            now += s(1);
        }
        assert_eq!(
            sent_at,
            [(0, s(0)), (1, s(3)), (2, s(60)), (3, s(300))],
            "the first attempt and 3 retries"
        );
        assert_eq!(event.advance(t0 + s(303), true, &table), Step::GiveUp);
    }

    #[test]
    fn with_no_socket_an_attempt_fails_at_once_and_the_next_waits_its_turn() {
        let table = table();
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut event = Pending::new("Ev1".into(), json!({}), t0);
        // No socket when it is created: the first attempt and the first retry fail at once.
        assert_eq!(event.advance(t0, false, &table), Step::Wait);
        assert_eq!(event.attempts, 2);
        assert_eq!(event.attempt, Attempt::Due(t0 + s(60)));
        // A socket now, but the next attempt is due only after a minute.
        assert_eq!(event.advance(t0 + s(10), true, &table), Step::Wait);
        assert_eq!(event.advance(t0 + s(60), true, &table), Step::Send);
        assert_eq!(event.sent("e".into(), 7, t0 + s(60), &table), 2);
        // Its socket dies (the app's process): the last retry after 5 minutes.
        assert!(event.socket_closed(7, t0 + s(61), &table));
        assert_eq!(event.attempt, Attempt::Due(t0 + s(300)));
        // And if no socket is open then, Slack gives up.
        assert_eq!(event.advance(t0 + s(400), false, &table), Step::GiveUp);
    }

    #[test]
    fn interactions_get_one_attempt() {
        let table = table();
        let t0 = Instant::now();
        let mut click = Pending::of(Envelope::Interactive, "t1".into(), json!({}), t0);
        assert_eq!(click.advance(t0, true, &table), Step::Send);
        assert_eq!(click.sent("e0".into(), 1, t0, &table), 0);
        let late = t0 + table.ack_timeout;
        assert_eq!(click.advance(late, true, &table), Step::GiveUp);
        // With no socket open, the attempt fails as it is made.
        let mut command = Pending::of(Envelope::SlashCommands, "t2".into(), json!({}), t0);
        assert_eq!(command.advance(t0, false, &table), Step::GiveUp);
    }

    #[test]
    fn a_socket_closing_fails_only_what_was_in_flight_on_it() {
        let table = table();
        let t0 = Instant::now();
        let mut event = Pending::new("Ev1".into(), json!({}), t0);
        assert_eq!(event.advance(t0, true, &table), Step::Send);
        assert_eq!(event.sent("e0".into(), 1, t0, &table), 0);
        assert!(event.socket_closed(2, t0, &table));
        assert!(matches!(event.attempt, Attempt::InFlight { socket: 1, .. }));
        let later = t0 + Duration::from_millis(500);
        assert!(event.socket_closed(1, later, &table));
        // Retry 1 is due as soon as the attempt failed, on the next socket.
        assert_eq!(event.advance(later, true, &table), Step::Send);
        assert_eq!(event.sent("e1".into(), 3, later, &table), 1);
        assert_eq!(event.envelopes, ["e0", "e1"]);
    }
}
