//! The Synchronizer: a blocking bot behind the async bot interface.

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use chatty_core::{
    AddressKind, Availability, Body, Bot, BotError, BoxBot, DeliveryStatus, Features, File,
    History, Layer, LayerExt, MemberStatus, Message, Page, Presence, Query, QueryError, SendError,
    Signal, Signals, Stack,
};
use chatty_sync::{
    BlockingHandle, ReceiveError, SignalQueue, SyncBot, Synchronizer, SynchronizerError,
    SynchronizerLayer, TryReceiveError, sync_fn,
};
use support::*;
use tokio::time::timeout;

/// A blocking echo bot made with `sync_fn`.
fn echo() -> impl SyncBot + Clone {
    sync_fn(|signal, handle| {
        if let Body::Message(m) = &signal.body {
            handle.send(signal.reply(Message::text(m.text.clone())))?;
        }
        Ok(())
    })
}

/// Runs `bot` on `inputs` (then the end of the stream) with a recording outlet; returns the
/// outlet after the run, and the run's result.
async fn run_on<B: Bot>(bot: B, inputs: &[Signal]) -> (RecordingOutlet, Result<(), BotError>) {
    let outlet = RecordingOutlet::new();
    let (tx, inbound) = source(None);
    let run = tokio::spawn(bot.run(inbound, outlet.handle()));
    for signal in inputs {
        tx.send(signal.clone()).await.unwrap();
    }
    drop(tx);
    let result = timeout(GUARD, run).await.expect("the run hangs").unwrap();
    (outlet, result)
}

fn assert_echoed(inputs: &[Signal], sent: &[Signal]) {
    assert_eq!(sent.len(), inputs.len());
    let alice = addr("xmpp:alice@example.org");
    for (input, reply) in inputs.iter().zip(sent) {
        assert_eq!(reply.meta.response_to.as_ref(), Some(input.id()));
        assert_eq!(text(reply), text(input));
        assert_eq!(reply.meta.addressees, vec![alice.clone()]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blocking_echo_bot_answers_every_message_in_order() {
    let inputs: Vec<Signal> = (0..300)
        .map(|i| message_from_alice(format!("m{i}")))
        .collect();
    let (outlet, result) = run_on(echo().wrap(SynchronizerLayer::new()), &inputs).await;
    result.unwrap();
    assert_echoed(&inputs, &outlet.sent());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bot_runs_on_a_named_thread_and_the_run_waits_for_it() {
    /// Drops its handle at once, reads to the end, then takes its time before returning.
    struct Slow {
        seen: Arc<Mutex<Vec<String>>>,
        thread: Arc<Mutex<Option<String>>>,
        returned: Arc<AtomicBool>,
    }

    impl SyncBot for Slow {
        fn run(self, inbound: SignalQueue, handle: BlockingHandle) -> Result<(), BotError> {
            *self.thread.lock().unwrap() = thread::current().name().map(str::to_owned);
            drop(handle);
            for signal in inbound {
                self.seen.lock().unwrap().push(text(&signal).to_owned());
            }
            // The queue has ended: the stream ended and everything was received.
            thread::sleep(Duration::from_millis(300));
            self.returned.store(true, Ordering::SeqCst);
            Ok(())
        }
    }

    for name in [None, Some("my-sync-bot")] {
        let slow = Slow {
            seen: Arc::default(),
            thread: Arc::default(),
            returned: Arc::default(),
        };
        let (seen, thread_name, returned) = (
            slow.seen.clone(),
            slow.thread.clone(),
            slow.returned.clone(),
        );
        let mut bot = slow.synchronized();
        if let Some(name) = name {
            bot = bot.with_thread_name(name);
        }
        let inputs: Vec<Signal> = (0..10)
            .map(|i| message_from_alice(format!("{i}")))
            .collect();
        let (_, result) = run_on(bot, &inputs).await;
        result.unwrap();
        assert!(
            returned.load(Ordering::SeqCst),
            "the run completed before the bot returned"
        );
        let expected: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        assert_eq!(*seen.lock().unwrap(), expected);
        assert_eq!(
            thread_name.lock().unwrap().as_deref(),
            Some(name.unwrap_or("chatty-sync"))
        );
    }
}

// A single-threaded runtime: while the bot takes its time after the stream ended (and after it
// dropped its handle), the synchronizer must wait for it without blocking the runtime's thread.
#[tokio::test(flavor = "current_thread")]
async fn waiting_for_the_bot_does_not_block_the_runtime() {
    let _watchdog = Watchdog::new("waiting for the bot", GUARD);
    let bot = sync_fn(|_signal, _handle| Ok(()));
    struct ThenSleep<S>(S);
    impl<S: SyncBot> SyncBot for ThenSleep<S> {
        fn run(self, inbound: SignalQueue, handle: BlockingHandle) -> Result<(), BotError> {
            self.0.run(inbound, handle)?;
            thread::sleep(Duration::from_millis(400));
            Ok(())
        }
    }
    let ticks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let ticker = tokio::spawn({
        let ticks = ticks.clone();
        async move {
            loop {
                ticks.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    });
    let start = Instant::now();
    let (_, result) = run_on(ThenSleep(bot).synchronized(), &[message_from_alice("hi")]).await;
    result.unwrap();
    let ticked = ticks.load(Ordering::SeqCst);
    ticker.abort();
    assert!(start.elapsed() >= Duration::from_millis(400));
    assert!(ticked >= 10, "the runtime was blocked: {ticked} ticks");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_senders_and_inbound_tasks_lose_nothing() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 1000;
    const TASKS: usize = 4;
    const PER_TASK: usize = 500;

    struct Busy {
        received: Arc<Mutex<Vec<String>>>,
    }

    impl SyncBot for Busy {
        fn run(self, inbound: SignalQueue, handle: BlockingHandle) -> Result<(), BotError> {
            let to = addr("xmpp:bob@example.org");
            let senders: Vec<_> = (0..THREADS)
                .map(|t| {
                    let handle = handle.clone();
                    let to = to.clone();
                    thread::spawn(move || -> Result<(), SendError> {
                        for i in 0..PER_THREAD {
                            handle.send(Signal::message(format!("{t} {i}")).to(to.clone()))?;
                        }
                        Ok(())
                    })
                })
                .collect();
            for signal in inbound {
                self.received.lock().unwrap().push(text(&signal).to_owned());
            }
            for sender in senders {
                sender.join().expect("a sender thread panicked")?;
            }
            Ok(())
        }
    }

    let received = Arc::new(Mutex::new(Vec::new()));
    let bot = Busy {
        received: received.clone(),
    }
    .synchronized()
    .with_capacity(16);
    let outlet = RecordingOutlet::new();
    let (tx, inbound) = source(Some(8));
    let run = tokio::spawn(bot.run(inbound, outlet.handle()));
    let feeders: Vec<_> = (0..TASKS)
        .map(|k| {
            let tx = tx.clone();
            tokio::spawn(async move {
                for i in 0..PER_TASK {
                    tx.send(message_from_alice(format!("{k} {i}")))
                        .await
                        .unwrap();
                    if i % 50 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    drop(tx);
    for feeder in feeders {
        feeder.await.unwrap();
    }
    timeout(GUARD, run)
        .await
        .expect("the run hangs")
        .unwrap()
        .unwrap();

    // Every thread's 1,000 sends arrived exactly once, in the thread's order.
    let sent = outlet.sent();
    assert_eq!(sent.len(), THREADS * PER_THREAD);
    let ids: HashSet<_> = sent.iter().map(|s| s.id().clone()).collect();
    assert_eq!(ids.len(), sent.len(), "a signal was sent twice");
    assert_in_order_per_source(sent.iter().map(text), THREADS, PER_THREAD);

    // Every inbound signal reached the bot exactly once, each task's in its order.
    let received = received.lock().unwrap();
    assert_eq!(received.len(), TASKS * PER_TASK);
    assert_in_order_per_source(received.iter().map(String::as_str), TASKS, PER_TASK);
}

/// `texts` are "source index"; each source's indexes are exactly 0..per_source, in order.
fn assert_in_order_per_source<'a>(
    texts: impl Iterator<Item = &'a str>,
    sources: usize,
    per_source: usize,
) {
    let mut by_source: HashMap<usize, Vec<usize>> = HashMap::new();
    for text in texts {
        let (source, index) = text.split_once(' ').unwrap();
        by_source
            .entry(source.parse().unwrap())
            .or_default()
            .push(index.parse().unwrap());
    }
    assert_eq!(by_source.len(), sources);
    let expected: Vec<usize> = (0..per_source).collect();
    for (source, indexes) in by_source {
        assert_eq!(indexes, expected, "source {source}");
    }
}

#[derive(Debug)]
struct Answers {
    kind: Result<AddressKind, QueryError>,
    members: Result<Vec<chatty_core::Address>, QueryError>,
    status: Result<Presence, QueryError>,
    received_from: Result<History, QueryError>,
    sent_to: Result<History, QueryError>,
    delivery: Result<DeliveryStatus, QueryError>,
    member: Result<MemberStatus, QueryError>,
    own: Result<MemberStatus, QueryError>,
    signals: Result<Signals, QueryError>,
    features: Result<(Features, Features), QueryError>,
    untyped: Result<chatty_core::Answer, QueryError>,
    no_route: Result<Vec<chatty_core::Address>, QueryError>,
    wrong_kind: Result<AddressKind, QueryError>,
}

#[tokio::test(flavor = "multi_thread")]
async fn queries_reach_the_outlet_and_calls_after_the_run_fail_fast() {
    let answers = Arc::new(Mutex::new(None));
    let leaked = Arc::new(Mutex::new(None));
    let bot = {
        let (answers, leaked) = (answers.clone(), leaked.clone());
        sync_fn(move |_signal, handle| {
            let room = addr("xmpp:room@muc.example.org");
            let alice = addr("xmpp:alice@example.org");
            *answers.lock().unwrap() = Some(Answers {
                kind: handle.address_kind(&room),
                members: handle.members(&room),
                status: handle.status(&alice),
                received_from: handle.received_from(&alice, Page::first(3)),
                sent_to: handle.sent_to(&alice, Page::default()),
                delivery: handle.delivery_status(&"some-id".into()),
                member: handle.member_status(&alice, &room),
                own: handle.own_status(&room),
                signals: handle.supported_signals(&alice),
                features: handle.supported_features(&alice),
                untyped: handle.query(Query::Status {
                    address: alice.clone(),
                }),
                no_route: handle.members(&addr("xmpp:nobody@example.org")),
                wrong_kind: handle.address_kind(&addr("xmpp:odd@example.org")),
            });
            *leaked.lock().unwrap() = Some(handle.clone());
            Ok(())
        })
    };
    let (outlet, result) = run_on(bot.synchronized(), &[message_from_alice("go")]).await;
    result.unwrap();

    let a = answers.lock().unwrap().take().expect("the bot did not ask");
    assert_eq!(a.kind, Ok(AddressKind::Channel));
    assert_eq!(
        a.members,
        Ok(vec![
            addr("xmpp:alice@example.org"),
            addr("xmpp:bob@example.org")
        ])
    );
    let away = Presence::new(Availability::Away).with_message("lunch");
    assert_eq!(a.status, Ok(away.clone()));
    let from = a.received_from.unwrap();
    assert_eq!(text(&from.signals[0]), "from");
    assert_eq!(from.next, Some(Page::first(3)));
    assert_eq!(text(&a.sent_to.unwrap().signals[0]), "to");
    assert_eq!(a.delivery, Ok(DeliveryStatus::Delivered));
    assert_eq!(a.member, Ok(MemberStatus::new(true).with_role("moderator")));
    assert_eq!(a.own, Ok(MemberStatus::new(false)));
    assert_eq!(a.signals, Ok(Signals::MESSAGE | Signals::FILE));
    assert_eq!(a.features, Ok((Features::SUBJECT, Features::HTML)));
    assert_eq!(a.untyped, Ok(chatty_core::Answer::Status(away)));
    assert_eq!(
        a.no_route,
        Err(QueryError::NoRoute {
            address: addr("xmpp:nobody@example.org")
        })
    );
    match a.wrong_kind {
        Err(QueryError::Failed { message }) => {
            assert!(
                message.contains("unexpected answer to address_kind"),
                "{message}"
            )
        }
        other => panic!("expected Failed, got {other:?}"),
    }
    // Every query reached the outlet, in the order asked.
    let kinds: Vec<_> = outlet.queries().iter().map(Query::kind).collect();
    use chatty_core::QueryKind as K;
    assert_eq!(
        kinds,
        [
            K::AddressKind,
            K::Members,
            K::Status,
            K::ReceivedFrom,
            K::SentTo,
            K::DeliveryStatus,
            K::MemberStatus,
            K::OwnStatus,
            K::SupportedSignals,
            K::SupportedFeatures,
            K::Status,
            K::Members,
            K::AddressKind,
        ]
    );

    // A handle the bot left behind: after the run, calls fail at once with Closed.
    let handle = leaked.lock().unwrap().take().unwrap();
    let late = tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        let results = (
            handle.is_closed(),
            handle.send(Signal::message("late")),
            handle.say(&addr("xmpp:alice@example.org"), "late"),
            handle.members(&addr("xmpp:room@muc.example.org")),
            handle.query(Query::DeliveryStatus { id: "x".into() }),
            handle.download(&File::url("f", None, "https://example.org/f")),
            handle.end_sessions("late"),
        );
        (results, start.elapsed())
    });
    let ((closed, send, say, members, query, download, end), elapsed) = timeout(GUARD, late)
        .await
        .expect("a late call hangs")
        .unwrap();
    assert!(closed);
    assert_eq!(send, Err(SendError::Closed));
    assert_eq!(say, Err(SendError::Closed));
    assert_eq!(members, Err(QueryError::Closed));
    assert_eq!(query, Err(QueryError::Closed));
    assert_eq!(download, Err(SendError::Closed));
    assert_eq!(end, Err(SendError::Closed));
    assert!(elapsed < Duration::from_secs(1), "took {elapsed:?}");
    assert!(outlet.sent().is_empty());
}

/// What the bot of [`downloads_refusals_and_end_requests_reach_the_outlet`] got back.
#[derive(Debug)]
struct Calls {
    download: Result<File, SendError>,
    via: Result<File, SendError>,
    via_nobody: Result<File, SendError>,
    refused: Result<chatty_core::SignalId, SendError>,
    after: Result<chatty_core::SignalId, SendError>,
    end: Result<(), SendError>,
}

#[tokio::test(flavor = "multi_thread")]
async fn downloads_refusals_and_end_requests_reach_the_outlet() {
    let calls = Arc::new(Mutex::new(None));
    let file = File::url("f.pdf", None, "https://example.org/f.pdf");
    let bot = {
        let (calls, file) = (calls.clone(), file.clone());
        sync_fn(move |_signal, handle| {
            let nobody = addr("xmpp:nobody@example.org");
            *calls.lock().unwrap() = Some(Calls {
                download: handle.download(&file),
                via: handle.download_via(&file, &addr("xmpp:bob@example.org")),
                via_nobody: handle.download_via(&file, &nobody),
                refused: handle.say(&nobody, "hello?"),
                // A refusal is about one signal: the bot goes on.
                after: handle.say(&addr("xmpp:alice@example.org"), "still here"),
                end: handle.end_sessions("done"),
            });
            Ok(())
        })
    };
    let (outlet, result) = run_on(bot.synchronized(), &[message_from_alice("go")]).await;
    result.unwrap();

    let c = calls.lock().unwrap().take().expect("the bot did not call");
    assert_eq!(c.download, Ok(fetched(&file)));
    assert_eq!(c.via, Ok(fetched(&file)));
    let nobody = addr("xmpp:nobody@example.org");
    assert_eq!(
        c.via_nobody,
        Err(SendError::NoRoute {
            address: nobody.clone()
        })
    );
    let refused = c.refused.unwrap_err();
    assert!(!refused.is_closed());
    assert_eq!(refused, SendError::NoRoute { address: nobody });
    assert_eq!(
        outlet.downloads(),
        vec![
            (file.clone(), None),
            (file, Some(addr("xmpp:bob@example.org")))
        ]
    );
    assert_eq!(c.end, Ok(()));
    let sent = outlet.sent();
    assert_eq!(sent.len(), 2, "the refused signal was not sent: {sent:?}");
    assert_eq!(sent[0].id(), &c.after.unwrap());
    assert_eq!(text(&sent[0]), "still here");
    match &sent[1].body {
        Body::InitiateSessionEnd(end) => assert_eq!(end.reason.as_deref(), Some("done")),
        other => panic!("expected an end request, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thread_blocked_in_a_call_when_the_bot_returns_gets_closed() {
    // The bot leaves a thread behind that keeps sending, and returns. Its calls must end with
    // Closed (some may have gone through before), never hang.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let bot = sync_fn(move |_signal, handle| {
        let handle = handle.clone();
        let done_tx = done_tx.clone();
        thread::spawn(move || {
            let outcome = loop {
                if let Err(e) = handle.send(Signal::message("again")) {
                    break e;
                }
            };
            done_tx.send(outcome).unwrap();
        });
        Err("stopping".into())
    });
    let (_outlet, result) = run_on(bot.synchronized(), &[message_from_alice("go")]).await;
    assert_eq!(result.unwrap_err().to_string(), "stopping");
    let outcome = tokio::task::spawn_blocking(move || done_rx.recv_timeout(GUARD))
        .await
        .unwrap();
    assert_eq!(outcome, Ok(SendError::Closed));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queue_left_behind_ends_with_the_run() {
    let leaked = Arc::new(Mutex::new(None));
    let bot = {
        let leaked = leaked.clone();
        struct Leaker(Arc<Mutex<Option<SignalQueue>>>);
        impl SyncBot for Leaker {
            fn run(self, inbound: SignalQueue, _: BlockingHandle) -> Result<(), BotError> {
                *self.0.lock().unwrap() = Some(inbound.clone());
                Ok(())
            }
        }
        Leaker(leaked)
    };
    // The stream stays open and full: the run must still end when the bot returns.
    let outlet = RecordingOutlet::new();
    let (tx, inbound) = source(None);
    for i in 0..10 {
        tx.send(message_from_alice(format!("{i}"))).await.unwrap();
    }
    let result = timeout(
        GUARD,
        bot.synchronized()
            .with_capacity(2)
            .run(inbound, outlet.handle()),
    )
    .await
    .expect("the run hangs");
    result.unwrap();
    let queue = leaked.lock().unwrap().take().unwrap();
    // What was queued can still be taken; then the queue has ended.
    let rest: Vec<Signal> = tokio::task::spawn_blocking(move || {
        let rest = queue.clone().collect();
        assert_eq!(queue.try_receive(), Err(TryReceiveError::Ended));
        assert_eq!(
            queue.receive_timeout(Duration::from_secs(5)),
            Err(ReceiveError::Ended)
        );
        assert!(queue.is_ended());
        rest
    })
    .await
    .unwrap();
    assert!(rest.len() <= 2);
    drop(tx);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_bot_makes_the_run_fail_without_waiting_for_the_stream() {
    // The stream stays open, with more signals than the queue holds.
    let outlet = RecordingOutlet::new();
    let (tx, inbound) = source(None);
    for i in 0..100 {
        tx.send(message_from_alice(format!("{i}"))).await.unwrap();
    }
    let bot = sync_fn(|signal, _handle| Err(format!("cannot handle {}", text(&signal)).into()))
        .synchronized()
        .with_capacity(4);
    let result = timeout(GUARD, bot.run(inbound, outlet.handle()))
        .await
        .expect("the run hangs");
    assert_eq!(result.unwrap_err().to_string(), "cannot handle 0");
    assert!(outlet.sent().is_empty());
}

async fn run_panicking(bot: impl SyncBot) -> BotError {
    let (tx, inbound) = source(None);
    tx.send(message_from_alice("hi")).await.unwrap();
    let result = timeout(
        GUARD,
        bot.synchronized()
            .run(inbound, RecordingOutlet::new().handle()),
    )
    .await
    .expect("the run hangs");
    drop(tx);
    result.unwrap_err()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_bot_makes_the_run_fail_with_the_panic_message() {
    let e = run_panicking(sync_fn(|_, _| panic!("boom"))).await;
    assert_eq!(e.to_string(), "the synchronous bot panicked: boom");
    match e.downcast_ref::<SynchronizerError>() {
        Some(SynchronizerError::Panicked { message }) => {
            assert_eq!(message.as_deref(), Some("boom"))
        }
        other => panic!("expected Panicked, got {other:?}"),
    }

    let e = run_panicking(sync_fn(|signal, _| panic!("boom on {}", text(&signal)))).await;
    assert_eq!(e.to_string(), "the synchronous bot panicked: boom on hi");

    let e = run_panicking(sync_fn(|_, _| std::panic::panic_any(42_u8))).await;
    assert_eq!(e.to_string(), "the synchronous bot panicked");

    // A panic while other threads of the bot wait in handle calls: still no hang.
    struct PanicsWhileSending;
    impl SyncBot for PanicsWhileSending {
        fn run(self, _inbound: SignalQueue, handle: BlockingHandle) -> Result<(), BotError> {
            for _ in 0..4 {
                let handle = handle.clone();
                thread::spawn(move || while handle.send(Signal::message("x")).is_ok() {});
            }
            thread::sleep(Duration::from_millis(50));
            panic!("in the middle");
        }
    }
    let e = run_panicking(PanicsWhileSending).await;
    assert_eq!(e.to_string(), "the synchronous bot panicked: in the middle");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_synchronizer_composes_with_bot_decorators() {
    let inputs: Vec<Signal> = (0..50)
        .map(|i| message_from_alice(format!("m{i}")))
        .collect();

    // Synchronizer inside, a bot decorator outside.
    let counts = Counts::default();
    let bot = echo()
        .wrap(SynchronizerLayer::new())
        .wrap(CountingLayer(counts.clone()));
    let (outlet, result) = run_on(bot, &inputs).await;
    result.unwrap();
    assert_echoed(&inputs, &outlet.sent());
    assert_eq!((counts.inbound(), counts.outbound()), (50, 50));

    // The same as one stacked layer, with two decorators and a small queue.
    let (inner, outer) = (Counts::default(), Counts::default());
    let layers = Stack(
        Stack(
            SynchronizerLayer::new().with_capacity(1),
            CountingLayer(inner.clone()),
        ),
        CountingLayer(outer.clone()),
    );
    let (outlet, result) = run_on(layers.layer(echo()), &inputs).await;
    result.unwrap();
    assert_echoed(&inputs, &outlet.sent());
    assert_eq!((inner.inbound(), inner.outbound()), (50, 50));
    assert_eq!((outer.inbound(), outer.outbound()), (50, 50));

    // Boxed (erased), then decorated.
    let counts = Counts::default();
    let bot = BoxBot::new(Synchronizer::new(echo())).wrap(CountingLayer(counts.clone()));
    let (outlet, result) = run_on(bot, &inputs).await;
    result.unwrap();
    assert_echoed(&inputs, &outlet.sent());
    assert_eq!((counts.inbound(), counts.outbound()), (50, 50));
}

#[test]
fn the_wrapper_gives_access_to_the_bot_and_keeps_its_settings() {
    #[derive(Debug, Clone, PartialEq)]
    struct Named(&'static str);
    impl SyncBot for Named {
        fn run(self, _: SignalQueue, _: BlockingHandle) -> Result<(), BotError> {
            Ok(())
        }
    }

    const LAYER: SynchronizerLayer = SynchronizerLayer::new().with_capacity(0);
    let mut bot = Named("a").wrap(LAYER.with_thread_name("worker"));
    assert_eq!(bot.capacity(), 1, "a capacity of 0 becomes 1");
    assert_eq!(bot.thread_name(), "worker");
    assert_eq!(bot.get_ref(), &Named("a"));
    bot.get_mut().0 = "b";
    let copy = bot.clone();
    assert!(format!("{copy:?}").contains("Synchronizer"));
    assert_eq!(bot.into_inner(), Named("b"));
    let default = Synchronizer::new(Named("c"));
    assert_eq!(default.capacity(), chatty_sync::DEFAULT_CAPACITY);
    assert_eq!(default.thread_name(), "chatty-sync");
    assert_eq!(
        Named("d").wrap(SynchronizerLayer::default()).capacity(),
        1024
    );
}
