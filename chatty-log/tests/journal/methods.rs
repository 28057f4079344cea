//! Every method of the journal, and its rules compared with the `MemoryJournal`'s.

use chatty_core::journal::{Appended, EntryId, Journal, MemoryJournal, PastAnswer, Pending};
use chatty_core::{Signal, SignalId};
use futures::future::{BoxFuture, join_all};

use crate::backends::Place;
use crate::support::{alice, from, texts};

each_backend! {
    async fn an_entry_is_kept_once_per_session_sender_and_id(place) {
        let journal = place.journal().await;
        let m1 = alice("m1");
        let bob_m1 = from("xmpp:bob@example.org", "m1", "bob's m1");
        assert_eq!(journal.append("work", &m1).await.unwrap(), Appended::New);
        assert_eq!(journal.append("work", &m1).await.unwrap(), Appended::Seen);
        // The same id from another sender, or in another session, is another entry.
        assert_eq!(
            journal.append("work", &bob_m1).await.unwrap(),
            Appended::New
        );
        assert_eq!(journal.append("home", &m1).await.unwrap(), Appended::New);
        assert_eq!(journal.append("home", &m1).await.unwrap(), Appended::Seen);

        let work = journal.pending("work").await.unwrap();
        assert_eq!(texts(&work), ["m1", "bob's m1"]);
        assert_eq!(
            work[0].signal, m1,
            "the signal comes back as it was appended"
        );
        assert_eq!(texts(&journal.pending("home").await.unwrap()), ["m1"]);
        assert!(journal.pending("elsewhere").await.unwrap().is_empty());
    }
}

each_backend! {
    async fn pending_is_oldest_first_and_an_ack_takes_an_entry_out(place) {
        let journal = place.journal().await;
        let signals: Vec<Signal> = (1..=5).map(|i| alice(&format!("m{i}"))).collect();
        for signal in &signals {
            journal.append("work", signal).await.unwrap();
        }
        journal.ack(&EntryId::of("work", &signals[1]));
        journal.ack(&EntryId::of("work", &signals[3]));
        // Twice, and an entry never appended: nothing more happens.
        journal.ack(&EntryId::of("work", &signals[3]));
        journal.ack(&EntryId::of("work", &alice("never")));
        // Another session's entry with the same key is not this one.
        journal.ack(&EntryId::of("home", &signals[0]));
        assert_eq!(
            texts(&journal.pending("work").await.unwrap()),
            ["m1", "m3", "m5"]
        );
        // An acknowledged entry is still known: given again, it is not new.
        assert_eq!(
            journal.append("work", &signals[1]).await.unwrap(),
            Appended::Seen
        );
        assert_eq!(
            texts(&journal.pending("work").await.unwrap()),
            ["m1", "m3", "m5"]
        );
    }
}

each_backend! {
    async fn the_answers_that_left_come_with_their_pending_signal(place) {
        let journal = place.journal().await;
        let (m1, m2) = (alice("m1"), alice("m2"));
        journal.append("work", &m1).await.unwrap();
        journal.append("work", &m2).await.unwrap();
        let of = m1.id();
        journal.answering("work", of, 0).await.unwrap();
        journal.answered("work", of, 0).await.unwrap();
        journal.answering("work", of, 1).await.unwrap();
        journal.answering("mail", of, 0).await.unwrap();
        // A confirmation stays one: "about to leave" again does not undo it.
        journal.answering("work", of, 0).await.unwrap();

        let pending = journal.pending("work").await.unwrap();
        assert_eq!(
            pending[0].answers,
            [
                PastAnswer::new("mail", 0, false),
                PastAnswer::new("work", 0, true),
                PastAnswer::new("work", 1, false),
            ]
        );
        assert!(pending[1].answers.is_empty());

        journal.ack(&EntryId::of("work", &m1));
        let pending = journal.pending("work").await.unwrap();
        assert_eq!(texts(&pending), ["m2"]);
    }
}

each_backend! {
    async fn marks_are_kept_per_session_and_name(place) {
        let journal = place.journal().await;
        assert_eq!(journal.mark("work", "archive").await.unwrap(), None);
        journal.set_mark("work", "archive", "a1").await.unwrap();
        journal.set_mark("home", "archive", "h1").await.unwrap();
        journal.set_mark("work", "uid", "7").await.unwrap();
        journal.set_mark("work", "archive", "a2").await.unwrap();
        assert_eq!(
            journal.mark("work", "archive").await.unwrap().as_deref(),
            Some("a2")
        );
        assert_eq!(
            journal.mark("home", "archive").await.unwrap().as_deref(),
            Some("h1")
        );
        assert_eq!(
            journal.mark("work", "uid").await.unwrap().as_deref(),
            Some("7")
        );
        assert_eq!(journal.mark("home", "uid").await.unwrap(), None);
    }
}

each_backend! {
    async fn everything_survives_closing_and_opening_again(place) {
        let (m1, m2, m3) = (alice("m1"), alice("m2"), alice("m3"));
        {
            let journal = place.journal().await;
            for signal in [&m1, &m2, &m3] {
                journal.append("work", signal).await.unwrap();
            }
            journal.ack(&EntryId::of("work", &m2));
            journal.answering("work", m3.id(), 0).await.unwrap();
            journal.set_mark("work", "archive", "a9").await.unwrap();
            journal.db().close().await;
        }
        let journal = place.journal().await;
        let pending = journal.pending("work").await.unwrap();
        assert_eq!(texts(&pending), ["m1", "m3"]);
        assert_eq!(pending[1].answers, [PastAnswer::new("work", 0, false)]);
        for signal in [&m1, &m2, &m3] {
            assert_eq!(
                journal.append("work", signal).await.unwrap(),
                Appended::Seen
            );
        }
        assert_eq!(
            journal.mark("work", "archive").await.unwrap().as_deref(),
            Some("a9")
        );
        // An entry appended before the restart is acknowledged after it.
        journal.ack(&EntryId::of("work", &m1));
        assert_eq!(texts(&journal.pending("work").await.unwrap()), ["m3"]);
        journal.db().close().await;
    }
}

/// One step of a script run against both journals.
#[derive(Debug, Clone)]
enum Step {
    Append(&'static str, Signal),
    Ack(&'static str, Signal),
    Answering(&'static str, SignalId, u32),
    Answered(&'static str, SignalId, u32),
    SetMark(&'static str, &'static str, String),
    /// Wait for everything made so far (the writes before it may share one commit), then
    /// compare what both journals hold.
    Check,
}

/// A script of `n` steps drawn from a small space of sessions, senders and ids, so that
/// duplicates, acknowledgements before and after appends, and repeated answers all happen,
/// often within one batch.
fn script(n: usize, mut seed: u64) -> Vec<Step> {
    let mut next = move |bound: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % bound
    };
    let sessions = ["work", "home"];
    let senders = ["xmpp:alice@example.org", "xmpp:bob@example.org", ""];
    let mut steps = Vec::with_capacity(n);
    for i in 0..n {
        let session = sessions[next(2) as usize];
        let id = format!("m{}", next(12));
        let sender = senders[next(3) as usize];
        let mut signal = from("xmpp:nobody@example.org", &id, &format!("{id} #{i}"));
        // No sender at all: the key's sender is "".
        signal.meta.origin = (!sender.is_empty()).then(|| sender.parse().unwrap());
        let number = next(3) as u32;
        steps.push(match next(16) {
            0..=5 => Step::Append(session, signal),
            6..=9 => Step::Ack(session, signal),
            10 => Step::Answering(session, id.as_str().into(), number),
            11 => Step::Answered(session, id.as_str().into(), number),
            12 | 13 => Step::SetMark(session, ["a", "b"][next(2) as usize], format!("v{i}")),
            _ => Step::Check,
        });
    }
    steps.push(Step::Check);
    steps
}

/// Sorted answers, for a comparison that does not depend on the journal's order of them.
fn normal(pending: Vec<Pending>) -> Vec<(Signal, Vec<PastAnswer>)> {
    pending
        .into_iter()
        .map(|p| {
            let mut answers = p.answers;
            answers.sort();
            (p.signal, answers)
        })
        .collect()
}

each_backend! {
    async fn the_journal_follows_the_memory_journals_rules(place) {
        for seed in 1..=4 {
            // A fresh database for each script.
            let place = Place::new(place.backend).await;
            let db = place.db().await;
            let stored = db.journal("script").await.unwrap();
            let memory = MemoryJournal::new();
            let steps = script(600, seed);
            let before = db.stats();
            let mut made: Vec<BoxFuture<'_, String>> = Vec::new();
            let mut expected: Vec<String> = Vec::new();
            for step in &steps {
                // The memory journal applies each step at once; the stored journal's writes are
                // made now and waited for at the next check.
                match step {
                    Step::Append(session, signal) => {
                        let want = memory.append(session, signal).await.unwrap();
                        expected.push(format!("append {want:?}"));
                        let got = stored.append(session, signal);
                        made.push(Box::pin(async move {
                            format!("append {:?}", got.await.unwrap())
                        }));
                    }
                    Step::Ack(session, signal) => {
                        memory.ack(&EntryId::of(session, signal));
                        stored.ack(&EntryId::of(session, signal));
                    }
                    Step::Answering(session, of, number) => {
                        memory.answering(session, of, *number).await.unwrap();
                        let got = stored.answering(session, of, *number);
                        made.push(Box::pin(async move { format!("{:?}", got.await.unwrap()) }));
                        expected.push("()".into());
                    }
                    Step::Answered(session, of, number) => {
                        memory.answered(session, of, *number).await.unwrap();
                        let got = stored.answered(session, of, *number);
                        made.push(Box::pin(async move { format!("{:?}", got.await.unwrap()) }));
                        expected.push("()".into());
                    }
                    Step::SetMark(session, name, value) => {
                        memory.set_mark(session, name, value).await.unwrap();
                        let got = stored.set_mark(session, name, value);
                        made.push(Box::pin(async move { format!("{:?}", got.await.unwrap()) }));
                        expected.push("()".into());
                    }
                    Step::Check => {
                        let got = join_all(made.drain(..)).await;
                        assert_eq!(got, expected, "seed {seed}: what the writes answered");
                        expected.clear();
                        for session in ["work", "home"] {
                            assert_eq!(
                                normal(stored.pending(session).await.unwrap()),
                                normal(memory.pending(session).await.unwrap()),
                                "seed {seed}: pending in {session}"
                            );
                            for name in ["a", "b"] {
                                assert_eq!(
                                    stored.mark(session, name).await.unwrap(),
                                    memory.mark(session, name).await.unwrap(),
                                    "seed {seed}: mark {name} of {session}"
                                );
                            }
                        }
                    }
                }
            }
            let stats = db.stats();
            assert!(
                stats.writes - before.writes > stats.commits - before.commits,
                "writes shared commits: {before:?} {stats:?}"
            );
            db.close().await;
        }
    }
}
