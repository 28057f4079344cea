//! Decorators from different crates stacked on one bot, over a real (direct) session: the
//! Logger over the Synchronizer over a blocking bot, with another async decorator inside and
//! outside the Logger; against each backend.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chatty_core::reexports::futures::StreamExt;
use chatty_core::{
    Address, Body, Bot, BotError, Handle, Inbound, Layer, LayerExt, Message, Page, Signal,
};
use chatty_direct::Harness;
use chatty_log::{Direction, LogStore, LoggerLayer, StateStore};

#[macro_use]
#[path = "backends/mod.rs"]
mod backends;
use chatty_sync::{BlockingHandle, SignalQueue, SyncBot, SynchronizerLayer};

/// A blocking bot: echoes, answers "history" with what the log holds for the asker, and
/// "elsewhere" by trying a Slack address no session serves and saying what the send said.
struct SyncEcho;

impl SyncBot for SyncEcho {
    fn run(self, inbound: SignalQueue, handle: BlockingHandle) -> Result<(), BotError> {
        for signal in inbound {
            let (Body::Message(m), Some(origin)) = (&signal.body, &signal.meta.origin) else {
                continue;
            };
            let text = if m.text == "history" {
                let history = handle.received_from(origin, Page::first(10))?;
                format!("{} received from you", history.signals.len())
            } else if m.text == "elsewhere" {
                let nowhere: Address = "slack:U0NOWHERE".parse()?;
                match handle.send(Signal::new(Message::text("hello?")).to(nowhere)) {
                    Ok(id) => format!("sent {id}"),
                    Err(e) => format!("not sent: {e}"),
                }
            } else {
                format!("echo: {}", m.text)
            };
            handle.send(signal.reply(Message::text(text)))?;
        }
        Ok(())
    }
}

/// An async decorator that counts what passes both ways.
#[derive(Clone, Default)]
struct Counts {
    inbound: Arc<AtomicUsize>,
}

struct Counted<B>(B, Counts);

impl<B: Bot> Bot for Counted<B> {
    async fn run(self, inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        let counts = self.1.clone();
        let inbound = inbound
            .inspect(move |_| {
                counts.inbound.fetch_add(1, Ordering::SeqCst);
            })
            .boxed();
        self.0.run(inbound, handle).await
    }
}

impl<B: Bot> Layer<B> for Counts {
    type Bot = Counted<B>;
    fn layer(&self, inner: B) -> Counted<B> {
        Counted(inner, self.clone())
    }
}

async fn converse(bot: impl Bot, store: &StateStore) -> Address {
    let harness = Harness::start(bot).await;
    harness.say("one").await;
    assert_eq!(harness.expect_message().await.1.text, "echo: one");
    harness.say("history").await;
    // "one" and "history" itself: the logger records a signal before the bot sees it.
    assert_eq!(harness.expect_message().await.1.text, "2 received from you");
    let tester = harness.tester().address().clone();
    harness.stop().await.unwrap();
    let sent = store
        .history(Direction::Out, &tester, &Page::first(10))
        .await
        .unwrap();
    assert_eq!(sent.signals.len(), 2, "both replies recorded");
    tester
}

each_backend! {
    #[multi_thread]
    async fn logger_over_synchronizer_with_a_decorator_outside(place) {
        let store = place.store().await;
        let counts = Counts::default();
        let bot = SyncEcho
            .wrap(SynchronizerLayer::new())
            .wrap(LoggerLayer::new(store.clone()))
            .wrap(counts.clone());
        let tester = converse(bot, &store).await;
        assert!(counts.inbound.load(Ordering::SeqCst) >= 2);
        let received = store
            .history(Direction::In, &tester, &Page::first(10))
            .await
            .unwrap();
        assert_eq!(received.signals.len(), 2);
    }
}

each_backend! {
    #[multi_thread]
    async fn logger_over_synchronizer_with_a_decorator_inside(place) {
        let store = place.store().await;
        let counts = Counts::default();
        let bot = SyncEcho
            .wrap(SynchronizerLayer::new())
            .wrap(counts.clone())
            .wrap(LoggerLayer::new(store.clone()));
        converse(bot, &store).await;
        assert!(counts.inbound.load(Ordering::SeqCst) >= 2);
    }
}

each_backend! {
    #[multi_thread]
    async fn a_send_the_router_refuses_is_not_in_the_log(place) {
        let store = place.store().await;
        let bot = SyncEcho
            .wrap(SynchronizerLayer::new())
            .wrap(LoggerLayer::new(store.clone()));
        let harness = Harness::start(bot).await;
        harness.say("elsewhere").await;
        let answer = harness.expect_message().await.1.text;
        assert!(
            answer.starts_with("not sent: no session serves slack:U0NOWHERE"),
            "{answer}"
        );
        let tester = harness.tester().address().clone();
        harness.stop().await.unwrap();
        let nowhere: Address = "slack:U0NOWHERE".parse().unwrap();
        let tried = store
            .history(Direction::Out, &nowhere, &Page::first(10))
            .await
            .unwrap();
        assert!(tried.signals.is_empty(), "{:?}", tried.signals);
        let answered = store
            .history(Direction::Out, &tester, &Page::first(10))
            .await
            .unwrap();
        assert_eq!(answered.signals.len(), 1, "the answer is");
    }
}
