//! A lane has several answers on their way at once, and each counts as gone only once the
//! session confirms it: its signal is acknowledged then, in order.

use std::time::Duration;

use tokio::sync::watch;

use crate::journal::{Journal, MemoryJournal};
use crate::testing::{TestPlatform, messages};
use crate::{Body, Message, Router, Signal, from_fn};

fn text(signal: &Signal) -> String {
    match &signal.body {
        Body::Message(m) => m.text.clone(),
        _ => String::new(),
    }
}

/// The texts of the signals not finished yet, in order.
async fn unfinished(journal: &MemoryJournal) -> Vec<String> {
    let pending = journal.pending("test").await.unwrap();
    pending.iter().map(|p| text(&p.signal)).collect()
}

/// Waits (5 s at most) until `what` holds.
async fn until(what: impl Fn() -> bool, failing: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !what() {
        assert!(tokio::time::Instant::now() < deadline, "{failing}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn answers_go_on_their_way_together_and_each_signal_is_finished_once_its_answer_is_confirmed()
{
    const COUNT: usize = 12;
    let journal = MemoryJournal::new();
    let (confirm, confirmed) = watch::channel(0);
    // Gives the messages, takes the answers handed on at once, and confirms them only as far
    // as the test says (`confirm`: how many, in order).
    let session = TestPlatform::new("test")
        .giving(messages(COUNT))
        .confirming(confirmed);
    let handed = session.outbound();
    let bot = from_fn(move |signal: Signal, handle| async move {
        if matches!(signal.body, Body::Message(_)) {
            let answer = signal.reply(Message::text(format!("{}.0", text(&signal))));
            handle.send(answer).await?;
        }
        Ok(())
    });
    let kept = journal.clone();
    let check = async move {
        let journal = kept;
        // Eight answers are on their way before any is confirmed; no more.
        until(|| handed.len() == 8, "eight answers handed on").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(handed.len(), 8, "more than eight unconfirmed");
        assert_eq!(
            unfinished(&journal).await.len(),
            COUNT,
            "a signal finished before its answer was confirmed"
        );

        // Three confirmed: their signals are finished, three more go on their way.
        confirm.send(3).unwrap();
        until(|| handed.len() == 11, "three more handed on").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(handed.len(), 11, "more than eight unconfirmed");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while unfinished(&journal).await.len() != COUNT - 3 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "not finished in turn"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let left = unfinished(&journal).await;
        let expected: Vec<String> = (3..COUNT).map(|i| format!("m{i}")).collect();
        assert_eq!(left, expected, "finished out of order");

        // All confirmed: every signal finished, the answers handed on in order.
        confirm.send(COUNT).unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !unfinished(&journal).await.is_empty() {
            assert!(tokio::time::Instant::now() < deadline, "not all finished");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let expected: Vec<String> = (0..COUNT).map(|i| format!("m{i}.0")).collect();
        assert_eq!(handed.texts(), expected);
    };
    Router::new()
        .session(session)
        .journal(journal.clone())
        .run_until(bot, check)
        .await
        .unwrap();
}

/// A bot that passes on answers made elsewhere (a gateway, for its workers) sends them after it
/// finished the signals they answer: they are not numbered (they keep their own ids), and a
/// send returns only once the session has the signal, so that the bot can say it was sent.
#[tokio::test]
async fn an_answer_to_a_finished_signal_keeps_its_id_and_its_send_waits_for_the_session() {
    let journal = MemoryJournal::new();
    let session = TestPlatform::new("test")
        .giving(messages(3))
        .sends_taking(Duration::from_millis(150));
    let sent = session.outbound();
    let (took_tx, mut took) = tokio::sync::mpsc::unbounded_channel();
    let bot = crate::from_fn(move |signal: Signal, handle: crate::Handle| {
        let took_tx = took_tx.clone();
        async move {
            if !matches!(signal.body, Body::Message(_)) {
                return Ok(());
            }
            if text(&signal) == "m0" {
                // Finished at once; answered later, from elsewhere.
                let handle = handle.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let mut answer = signal.reply(Message::text("from elsewhere"));
                    answer.meta.id = "made-elsewhere".into();
                    let started = tokio::time::Instant::now();
                    let id = handle.send(answer).await.unwrap();
                    took_tx.send((id, started.elapsed())).unwrap();
                });
            } else if text(&signal) == "m2" {
                // Numbered where it was made (a worker's answer, passed on at once).
                let mut answer = signal.reply(Message::text("numbered elsewhere"));
                answer.meta.id = crate::journal::answer_id("hub", &signal.meta.id, 0);
                let started = tokio::time::Instant::now();
                let id = handle.send(answer).await?;
                took_tx.send((id, started.elapsed())).unwrap();
            } else {
                // Answered while unfinished: numbered, and on its way at once.
                let started = tokio::time::Instant::now();
                let id = handle.send(signal.reply(Message::text("here"))).await?;
                took_tx.send((id, started.elapsed())).unwrap();
            }
            Ok(())
        }
    });
    let router = Router::new().session(session).journal(journal);
    let collect = async {
        let mut answers = Vec::new();
        for _ in 0..3 {
            answers.push(took.recv().await.unwrap());
        }
        answers
    };
    let answers = tokio::time::timeout(Duration::from_secs(5), async {
        tokio::select! {
            answers = collect => answers,
            _ = router.run(bot) => panic!("the router stopped"),
        }
    })
    .await
    .expect("the answers sent");
    let (elsewhere, here): (Vec<_>, Vec<_>) = answers
        .into_iter()
        .partition(|(id, _)| id.as_str() == "made-elsewhere" || id.as_str().contains("~hub~"));
    assert_eq!(
        elsewhere.len(),
        2,
        "a passed-on answer was renumbered: {here:?}"
    );
    for (id, took) in &elsewhere {
        assert!(
            took >= &Duration::from_millis(150),
            "the send of {id} returned before the session had it: {took:?}"
        );
    }
    let (id, took) = &here[0];
    assert!(id.as_str().contains("~test~0"), "not numbered: {id}");
    assert!(
        took < &Duration::from_millis(150),
        "numbered answers go on at once: {took:?}"
    );
    until(|| sent.len() == 3, "all three reach the platform").await;
}

/// A signal the bot marks redelivered may have left already: the session is asked, and it is
/// sent only if the session does not say it left; with and without a journal.
#[tokio::test]
async fn a_signal_marked_redelivered_is_sent_only_if_the_session_does_not_say_it_left() {
    for journaled in [true, false] {
        for (says, expected) in [
            (Some(true), vec!["new"]),
            (Some(false), vec!["new", "maybe sent before"]),
            (None, vec!["new", "maybe sent before"]),
        ] {
            let session = TestPlatform::new("test")
                .giving(messages(1))
                .says_sent(says);
            let outbound = session.outbound();
            // On the first message: one new signal, then one that may have left already.
            let bot = from_fn(|signal: Signal, handle: crate::Handle| async move {
                if matches!(signal.body, Body::Message(_)) {
                    let to = signal.reply_addresses()[0].clone();
                    handle.send(Signal::message("new").to(to.clone())).await?;
                    let mut again = Signal::message("maybe sent before").to(to.clone());
                    again.meta.redelivered = true;
                    handle.send(again).await?;
                    handle.send(Signal::message("last").to(to)).await?;
                }
                Ok(())
            });
            let mut router = Router::new().session(session);
            if journaled {
                router = router.journal(MemoryJournal::new());
            }
            let done = outbound.wait_for(|sent| {
                sent.iter()
                    .any(|s| matches!(&s.body, Body::Message(m) if m.text == "last"))
            });
            tokio::time::timeout(Duration::from_secs(5), async {
                tokio::select! {
                    () = done => {}
                    _ = router.run(bot) => panic!("the router stopped"),
                }
            })
            .await
            .expect("the signals sent");
            let mut texts = outbound.texts();
            texts.pop();
            assert_eq!(texts, expected, "journaled {journaled}, says {says:?}");
        }
    }
}
