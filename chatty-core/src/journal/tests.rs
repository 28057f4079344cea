//! The journal's rules through a router: a platform that gives its messages again, a bot that
//! stops in the middle, and a second run on the same journal.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;

use super::*;
use crate::driver::lock;
use crate::testing::{Recorded, TestPlatform, message, messages};
use crate::{Body, BotError, Handle, Message, Router, Signal, from_fn};

/// A platform that gives the same `count` messages on every connection (it keeps no cursor),
/// and records what it is sent.
fn replaying(count: usize) -> (TestPlatform, Recorded) {
    let session = TestPlatform::new("test").giving(messages(count));
    let sent = session.outbound();
    (session, sent)
}

fn text(signal: &Signal) -> &str {
    match &signal.body {
        Body::Message(m) => &m.text,
        _ => "",
    }
}

fn is_message(signal: &Signal) -> bool {
    matches!(signal.body, Body::Message(_))
}

/// Answer number `n` to the message `signal`: its text and `.n` ("m3.0").
fn numbered_answer(signal: &Signal, n: u32) -> Signal {
    signal.reply(Message::text(format!("{}.{n}", text(signal))))
}

/// The message `text`, received now (as a session's push marks it).
fn received(text: &str) -> Signal {
    let mut signal = message(text);
    signal.meta.received = Some(crate::now());
    signal
}

/// A router on `session` with (a clone of) `journal`.
fn routed(session: TestPlatform, journal: &(impl Journal + Clone)) -> Router {
    Router::new().session(session).journal(journal.clone())
}

/// Runs `bot` under a router on `session` with (a clone of) `journal`, to its end.
async fn run(
    session: TestPlatform,
    journal: &(impl Journal + Clone),
    bot: impl crate::Bot,
) -> Result<(), BotError> {
    routed(session, journal).run(bot).await
}

/// The entries of the session `test` that the bot has not acknowledged.
async fn unfinished(journal: &MemoryJournal) -> Vec<Pending> {
    journal.pending("test").await.unwrap()
}

/// A bot that calls `handler` on every signal, with a record that starts as `record` and that
/// the test reads (the returned half) once the bot has run.
fn recording<T, F, Fut>(record: T, mut handler: F) -> (Arc<Mutex<T>>, impl crate::Bot)
where
    T: Send + 'static,
    F: FnMut(Signal, Handle, Arc<Mutex<T>>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), BotError>> + Send,
{
    let record = Arc::new(Mutex::new(record));
    let by_bot = record.clone();
    let bot = from_fn(move |signal, handle| handler(signal, handle, by_bot.clone()));
    (record, bot)
}

/// A bot that answers every message twice, and stops (as if its process died) when it has
/// sent `budget` answers.
async fn answer_twice(
    journal: &MemoryJournal,
    count: usize,
    budget: usize,
) -> (Vec<Signal>, Vec<Signal>) {
    let (session, sent) = replaying(count);
    let (seen, bot) = recording(Vec::new(), move |signal, handle, seen| async move {
        if !is_message(&signal) {
            return Ok(());
        }
        lock(&seen).push(signal.clone());
        for n in 0..2 {
            if handle.send(numbered_answer(&signal, n)).await.is_err() {
                return Err("closed".into());
            }
        }
        if lock(&seen).len() * 2 >= budget {
            return Err("the process dies".into());
        }
        if text(&signal) == format!("m{}", count - 1) {
            handle.end_sessions("all answered").await?;
        }
        Ok(())
    });
    let _ = run(session, journal, bot).await;
    let seen = lock(&seen).clone();
    (seen, sent.signals())
}

#[tokio::test]
async fn what_the_bot_did_not_finish_comes_again_and_no_answer_leaves_twice() {
    let journal = MemoryJournal::new();
    // First run: the bot dies while it handles m4 (both its answers left, but it never asked
    // for the next signal); m5..m9 were kept but never handed over.
    let (seen, sent) = answer_twice(&journal, 10, 10).await;
    assert_eq!(seen.len(), 5);
    assert_eq!(sent.len(), 10);
    assert!(seen.iter().all(|s| !s.meta.redelivered));

    // Second run: the platform gives all ten again; the bot gets m4..m9, marked redelivered,
    // and none of m0..m3.
    let (again, sent_again) = answer_twice(&journal, 10, 1000).await;
    let texts: Vec<&str> = again.iter().map(text).collect();
    assert_eq!(texts, ["m4", "m5", "m6", "m7", "m8", "m9"]);
    // m4 was in hand: redelivered. Of m5..m9, those the session had pushed before the end are
    // redelivered too; the rest were left with the platform and come from it as new.
    assert!(again[0].meta.redelivered);
    let redelivered = again.iter().take_while(|s| s.meta.redelivered).count();
    assert!(again[redelivered..].iter().all(|s| !s.meta.redelivered));
    // m4's answers had left: not again. Every message has exactly its two answers overall.
    let mut answers: Vec<String> = sent
        .iter()
        .chain(&sent_again)
        .map(|s| text(s).to_owned())
        .collect();
    answers.sort();
    let mut expected: Vec<String> = (0..10)
        .flat_map(|i| [format!("m{i}.0"), format!("m{i}.1")])
        .collect();
    expected.sort();
    assert_eq!(answers, expected);
    // The answers' ids are the same on every run: answer n to m_i through `test`.
    assert!(sent.iter().chain(&sent_again).all(|s| s.meta.id
        == answer_id(
            "test",
            s.meta.response_to.as_ref().unwrap(),
            text(s).ends_with(".1") as u32
        )));
}

#[tokio::test]
async fn an_answer_that_left_before_the_crash_is_not_sent_again() {
    let journal = MemoryJournal::new();
    // The bot dies after the first answer to m0 left, before the second.
    let (session, sent) = replaying(1);
    let bot = from_fn(move |signal: Signal, handle| async move {
        if is_message(&signal) {
            handle.send(signal.reply(Message::text("first"))).await?;
            return Err("the process dies".into());
        }
        Ok(())
    });
    let _ = run(session, &journal, bot).await;
    assert_eq!(sent.len(), 1);

    let (session, sent) = replaying(1);
    let bot = from_fn(move |signal: Signal, handle| async move {
        if is_message(&signal) {
            assert!(signal.meta.redelivered);
            let first = handle.send(signal.reply(Message::text("first"))).await?;
            assert_eq!(first, answer_id("test", signal.id(), 0));
            handle.send(signal.reply(Message::text("second"))).await?;
            handle.end_sessions("done").await?;
        }
        Ok(())
    });
    run(session, &journal, bot).await.unwrap();
    assert_eq!(sent.texts(), ["second"]);
}

/// A bot that takes six messages at once, acknowledges m0, m2 and m4, and dies.
struct TakesSix;

impl crate::Bot for TakesSix {
    async fn run(
        self,
        mut inbound: crate::Inbound,
        handle: crate::Handle,
    ) -> Result<(), crate::BotError> {
        let mut messages = 0;
        while let Some(signal) = inbound.next().await {
            if let Body::Message(m) = &signal.body {
                messages += 1;
                let number: u32 = m.text.trim_start_matches('m').parse()?;
                if number.is_multiple_of(2) {
                    handle.ack(signal.id());
                }
                if messages == 6 {
                    return Err("the process dies".into());
                }
            }
        }
        Ok(())
    }
}

#[tokio::test]
async fn with_explicit_acks_only_what_the_bot_acknowledged_is_done() {
    let journal = MemoryJournal::new();
    let (session, _) = replaying(6);
    let _ = routed(session, &journal)
        .acks(Acks::Explicit)
        .run(TakesSix)
        .await;
    let pending: Vec<String> = unfinished(&journal)
        .await
        .iter()
        .map(|p| text(&p.signal).to_owned())
        .collect();
    assert_eq!(pending, ["m1", "m3", "m5"]);
}

#[tokio::test]
async fn what_the_platform_gives_twice_in_one_run_reaches_the_bot_once() {
    let journal = MemoryJournal::new();
    let (session, _) = replaying(3);
    let session = session.rounds(2);
    let (seen, bot) = recording(Vec::new(), |signal, handle, seen| async move {
        if is_message(&signal) {
            lock(&seen).push(text(&signal).to_owned());
        }
        if let Body::Message(m) = &signal.body
            && m.text == "m2"
        {
            // The platform's second round comes behind m2 and is dropped before the end.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            handle.end_sessions("done").await?;
        }
        Ok(())
    });
    run(session, &journal, bot).await.unwrap();
    assert_eq!(*lock(&seen), ["m0", "m1", "m2"]);
    assert_eq!(journal.len(), 3);
}

/// Runs a bot that answers m0 once on a journal where that answer was about to leave when
/// the process stopped; returns what the platform was sent.
async fn answer_unsure(says_sent: Option<bool>) -> Vec<Signal> {
    let journal = MemoryJournal::new();
    let m0 = received("m0");
    journal.append("test", &m0).await.unwrap();
    journal.answering("test", m0.id(), 0).await.unwrap();
    let (session, sent) = replaying(1);
    let session = session.says_sent(says_sent);
    let bot = from_fn(move |signal: Signal, handle| async move {
        if is_message(&signal) {
            handle.send(signal.reply(Message::text("answer"))).await?;
            handle.end_sessions("done").await?;
        }
        Ok(())
    });
    run(session, &journal, bot).await.unwrap();
    let pending = unfinished(&journal).await;
    assert!(pending.is_empty(), "{pending:?}");
    sent.signals()
}

#[tokio::test]
async fn an_answer_about_to_leave_at_the_crash_is_sent_again_unless_the_platform_shows_it_left() {
    // The platform shows it left: not again.
    assert!(answer_unsure(Some(true)).await.is_empty());
    // It did not, or the platform cannot tell: sent (once).
    for says in [Some(false), None] {
        let sent = answer_unsure(says).await;
        assert_eq!(sent.len(), 1, "{says:?}");
        assert_eq!(sent[0].meta.id, answer_id("test", &SignalId::from("m0"), 0));
    }
}

#[tokio::test]
async fn routers_sharing_a_journal_never_take_each_others_entries() {
    let journal = MemoryJournal::new();
    let m0 = received("m0");
    // The bot `a` had not finished m0 on its session `test`.
    journal.append("a/test", &m0).await.unwrap();
    for (scope, expected) in [("b", 0), ("a", 1)] {
        let (session, _) = replaying(0);
        let (seen, bot) = recording(0, |signal, handle, seen| async move {
            match &signal.body {
                Body::Message(_) => *lock(&seen) += 1,
                Body::SessionStarted(_) => {
                    // The redelivered signals come right behind SessionStarted.
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    handle.end_sessions("done").await?;
                }
                _ => {}
            }
            Ok(())
        });
        routed(session, &journal)
            .journal_scope(scope)
            .run(bot)
            .await
            .unwrap();
        assert_eq!(*lock(&seen), expected, "scope {scope}");
    }
    assert!(journal.pending("a/test").await.unwrap().is_empty());
}

#[tokio::test]
async fn fed_signals_reach_the_bot_in_order_once_kept_and_before_the_end() {
    let journal = MemoryJournal::new();
    let (session, _) = replaying(300);
    let session = session.feeding();
    let (seen, bot) = recording(Vec::new(), |signal, handle, seen| async move {
        match &signal.body {
            Body::Message(_) => {
                lock(&seen).push(text(&signal).to_owned());
                if text(&signal) == "m299" {
                    handle.end_sessions("done").await?;
                }
            }
            Body::SessionAboutToEnd(_) | Body::SessionEnded(_) => {
                lock(&seen).push(format!("{:?}", signal.kind()));
            }
            _ => {}
        }
        Ok(())
    });
    run(session, &journal, bot).await.unwrap();
    let mut expected: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
    expected.push("SessionAboutToEnd".into());
    expected.push("SessionEnded".into());
    assert_eq!(*lock(&seen), expected);
    assert_eq!(journal.len(), 300);
    assert!(unfinished(&journal).await.is_empty());
}

/// A journal in memory whose "about to leave" records become durable only when the test opens
/// its gate, and which lists its writes in the order they were made.
#[derive(Debug, Clone)]
struct Gated {
    inner: MemoryJournal,
    gate: tokio::sync::watch::Receiver<bool>,
    writes: Arc<Mutex<Vec<String>>>,
}

impl Journal for Gated {
    fn append<'a>(
        &'a self,
        session: &'a str,
        signal: &'a Signal,
    ) -> futures::future::BoxFuture<'a, Result<Appended, JournalError>> {
        lock(&self.writes).push(format!("append {}", signal.meta.id));
        self.inner.append(session, signal)
    }
    fn ack(&self, entry: &EntryId) {
        lock(&self.writes).push(format!("ack {}", entry.id));
        self.inner.ack(entry);
    }
    fn pending<'a>(
        &'a self,
        session: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<Vec<Pending>, JournalError>> {
        self.inner.pending(session)
    }
    fn answering(
        &self,
        session: &str,
        of: &SignalId,
        number: u32,
    ) -> futures::future::BoxFuture<'static, Result<(), JournalError>> {
        lock(&self.writes).push(format!("answering {of}"));
        let made = self.inner.answering(session, of, number);
        let mut gate = self.gate.clone();
        Box::pin(async move {
            let _ = gate.wait_for(|open| *open).await;
            made.await
        })
    }
    fn answered<'a>(
        &'a self,
        session: &'a str,
        of: &'a SignalId,
        number: u32,
    ) -> futures::future::BoxFuture<'a, Result<(), JournalError>> {
        lock(&self.writes).push(format!("answered {of}"));
        self.inner.answered(session, of, number)
    }
    fn mark<'a>(
        &'a self,
        session: &'a str,
        name: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<Option<String>, JournalError>> {
        self.inner.mark(session, name)
    }
    fn set_mark<'a>(
        &'a self,
        session: &'a str,
        name: &'a str,
        value: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<(), JournalError>> {
        lock(&self.writes).push(format!("mark {name}={value}"));
        self.inner.set_mark(session, name, value)
    }
}

impl Gated {
    /// A gated journal whose gate is open: only the order of its writes is of interest.
    fn open() -> Self {
        let (open, gate) = tokio::sync::watch::channel(true);
        // The gate stays open once its sender is gone.
        drop(open);
        Gated {
            inner: MemoryJournal::new(),
            gate,
            writes: Arc::default(),
        }
    }
}

#[tokio::test]
async fn a_fed_mark_is_written_after_the_signals_fed_before_it() {
    let journal = Gated::open();
    let (session, _) = replaying(300);
    let session = session.feeding().marking();
    let (seen, bot) = recording(0, |signal, handle, seen| async move {
        if is_message(&signal) {
            *lock(&seen) += 1;
            if text(&signal) == "m299" {
                handle.end_sessions("done").await?;
            }
        }
        Ok(())
    });
    run(session, &journal, bot).await.unwrap();
    assert_eq!(*lock(&seen), 300);
    let writes = lock(&journal.writes).clone();
    let at = |what: String| writes.iter().position(|w| *w == what);
    for i in 0..300 {
        let append = at(format!("append m{i}")).expect("appended");
        let mark = at(format!("mark given=m{i}")).expect("marked");
        assert!(append < mark, "the mark of m{i} came before it: {writes:?}");
        if i < 299 {
            let next = at(format!("append m{}", i + 1)).expect("appended");
            assert!(mark < next, "the mark of m{i} came after m{}", i + 1);
        }
    }
    let kept = journal.inner.mark("test", "given").await.unwrap();
    assert_eq!(kept.as_deref(), Some("m299"));
}

#[tokio::test]
async fn the_bot_goes_on_while_its_answers_wait_for_their_records_and_they_leave_in_order() {
    let (open, gate) = tokio::sync::watch::channel(false);
    let writes = Arc::new(Mutex::new(Vec::new()));
    let journal = Gated {
        inner: MemoryJournal::new(),
        gate,
        writes: writes.clone(),
    };
    let (session, sent) = replaying(5);
    let (handled_tx, mut handled) = tokio::sync::mpsc::unbounded_channel();
    let bot = from_fn(move |signal: Signal, handle| {
        let handled_tx = handled_tx.clone();
        async move {
            if is_message(&signal) {
                handle.send(numbered_answer(&signal, 0)).await?;
                let _ = handled_tx.send(text(&signal).to_owned());
            }
            Ok(())
        }
    });
    let check = async move {
        // All five messages are handled, each answered, while no answer's record is durable.
        for i in 0..5 {
            let text = tokio::time::timeout(Duration::from_secs(5), handled.recv())
                .await
                .expect("the bot waited for its answer's record")
                .unwrap();
            assert_eq!(text, format!("m{i}"));
        }
        assert!(sent.is_empty(), "an answer left before its record");
        assert!(
            !lock(&writes).iter().any(|w| w.starts_with("ack")),
            "a message was acknowledged before its answer left"
        );
        open.send(true).unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while sent.len() < 5 {
            assert!(tokio::time::Instant::now() < deadline, "answers stuck");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(sent.texts(), ["m0.0", "m1.0", "m2.0", "m3.0", "m4.0"]);
        // Each message's acknowledgement was made after its answer left, so a message whose
        // answer is still in the lane when the process dies is given again after a restart.
        let writes = lock(&writes).clone();
        for i in 0..4 {
            let at = |what: String| writes.iter().position(|w| *w == what);
            let record = at(format!("answering m{i}")).expect("recorded");
            let ack = at(format!("ack m{i}")).expect("acknowledged");
            assert!(record < ack, "{writes:?}");
            // "Left" is not recorded for the last answer of a finished signal: its
            // acknowledgement says more. If it is, it comes first.
            if let Some(left) = at(format!("answered m{i}")) {
                assert!(left < ack, "{writes:?}");
            }
        }
    };
    routed(session, &journal)
        .run_until(bot, check)
        .await
        .unwrap();
}

/// A platform that gives `count` messages, whose sends take a while, and which refuses them
/// once its session has ended.
fn slow(count: usize) -> TestPlatform {
    TestPlatform::new("test")
        .giving(messages(count))
        .sends_taking(Duration::from_millis(10))
        .refusing_once_ended()
}

#[tokio::test]
async fn the_answers_in_the_lane_leave_before_the_session_ends() {
    const COUNT: usize = 10;
    let journal = MemoryJournal::new();
    let session = slow(COUNT);
    let (sent, refused) = (session.outbound(), session.refused());
    // The bot answers at once (its answers wait in the lane, 10 ms each) and asks to end at
    // the first message: the other nine wait in its queue ahead of SessionAboutToEnd, and their
    // answers join the lane behind the end request.
    let bot = from_fn(move |signal: Signal, handle| async move {
        if !is_message(&signal) {
            return Ok(());
        }
        handle.send(numbered_answer(&signal, 0)).await?;
        if text(&signal) == "m0" {
            handle.end_sessions("enough").await?;
        }
        Ok(())
    });
    run(session, &journal, bot).await.unwrap();
    let expected: Vec<String> = (0..COUNT).map(|i| format!("m{i}.0")).collect();
    assert_eq!(sent.texts(), expected);
    assert!(refused.is_empty(), "refused after the end");
    assert!(unfinished(&journal).await.is_empty());
}

#[tokio::test]
async fn an_answer_the_platform_could_not_be_reached_for_leaves_its_signal_unfinished() {
    let journal = MemoryJournal::new();
    // As if ended already: every send is refused as unreachable.
    let session = slow(1).refusing_all();
    let refused = session.refused();
    let (failures, bot) = recording(0, |signal, handle, failures| async move {
        match &signal.body {
            Body::Message(_) => {
                handle.send(signal.reply(Message::text("answer"))).await?;
            }
            Body::SendFailure(_) => {
                *lock(&failures) += 1;
                handle.end_sessions("told").await?;
            }
            _ => {}
        }
        Ok(())
    });
    run(session, &journal, bot).await.unwrap();
    assert_eq!(*lock(&failures), 1, "the bot is told");
    assert_eq!(refused.len(), 1);
    // Not finished: given again after a restart, when its answer goes.
    let pending = unfinished(&journal).await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].answers.len(), 1, "about to leave");
}
