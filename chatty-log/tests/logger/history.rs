//! History queries: newest first, paged, matched like `Address::matches`.

use chatty_core::{Page, Signal, SignalId};
use chatty_log::LoggerLayer;

use crate::support::{RecordingOutlet, addr, from, start, text};

/// Follows `next` from `first` to the end; returns the pages' texts.
async fn pages(ask: impl AsyncFn(Page) -> chatty_core::History, first: Page) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut page = Some(first);
    while let Some(p) = page {
        let history = ask(p).await;
        out.push(history.signals.iter().map(|s| text(s).to_owned()).collect());
        page = history.next;
        assert!(out.len() < 100, "paging ends");
    }
    out
}

fn numbered(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.rev().map(|i| format!("{prefix} {i}")).collect()
}

each_backend! {
    async fn received_from_pages_newest_first_across_sessions(place) {
        let store = place.store().await;
        let mut h = start(LoggerLayer::new(store), RecordingOutlet::new()).await;
        for i in 0..25 {
            // Alice writes through two accounts; mallory's messages must not show.
            let origin = if i % 2 == 0 {
                "xmpp+work:alice@example.org"
            } else {
                "xmpp+home:alice@example.org"
            };
            h.deliver(from(origin, &format!("alice {i}"))).await;
            h.deliver(from("xmpp:mallory@example.org", &format!("mallory {i}")))
                .await;
        }
        let handle = h.handle.clone();

        let any_alice = addr("xmpp:alice@example.org");
        let got = pages(
            async |p| handle.received_from(&any_alice, p).await.unwrap(),
            Page::first(10),
        )
        .await;
        let all = numbered("alice", 0..25);
        assert_eq!(got, [&all[0..10], &all[10..20], &all[20..25]]);

        // A qualified address matches its own session only.
        let work = addr("xmpp+work:alice@example.org");
        let got = handle.received_from(&work, Page::first(100)).await.unwrap();
        let texts: Vec<_> = got.signals.iter().map(|s| text(s).to_owned()).collect();
        let even: Vec<_> = all
            .iter()
            .filter(|t| t.trim_start_matches("alice ").parse::<u32>().unwrap() % 2 == 0)
            .cloned()
            .collect();
        assert_eq!(texts, even);
        assert_eq!(got.next, None);
        let elsewhere = addr("xmpp+other:alice@example.org");
        let got = handle
            .received_from(&elsewhere, Page::first(10))
            .await
            .unwrap();
        assert!(got.signals.is_empty());

        // Exactly a page full: no next page.
        let got = handle.received_from(&work, Page::first(13)).await.unwrap();
        assert_eq!(got.signals.len(), 13);
        assert_eq!(got.next, None);

        // Edges: an unknown `before` and a zero limit give empty pages.
        let unknown = Page::first(10).with_before(SignalId::from("never-seen"));
        let got = handle.received_from(&any_alice, unknown).await.unwrap();
        assert!(got.signals.is_empty() && got.next.is_none());
        let got = handle
            .received_from(&any_alice, Page::first(0))
            .await
            .unwrap();
        assert!(got.signals.is_empty() && got.next.is_none());

        // Sent-to does not mix in received signals addressed to the bot.
        let got = handle
            .sent_to(&addr("xmpp:bot@example.org"), Page::first(10))
            .await
            .unwrap();
        assert!(got.signals.is_empty());
        drop(handle);
        h.finish().await;
    }
}

each_backend! {
    async fn sent_to_pages_newest_first_and_matches_any_addressee(place) {
        let store = place.store().await;
        let mut h = start(LoggerLayer::new(store), RecordingOutlet::new()).await;
        let bob_work = addr("xmpp+work:bob@example.org");
        let carol = addr("mailto:carol@example.org");
        for i in 0..25 {
            // Bob twice on one signal still gives one history entry.
            let mut signal = Signal::message(format!("both {i}"))
                .to(bob_work.clone())
                .to(carol.clone());
            if i == 3 {
                signal = signal.to(bob_work.clone());
            }
            h.handle.send(signal).await.unwrap();
            h.handle
                .send(Signal::message(format!("dave {i}")).to(addr("xmpp:dave@example.org")))
                .await
                .unwrap();
        }
        // A received signal from bob is not "sent to" him.
        h.deliver(from("xmpp+work:bob@example.org", "from bob"))
            .await;
        let handle = h.handle.clone();
        let all = numbered("both", 0..25);

        for asked in [
            addr("xmpp:bob@example.org"),
            bob_work.clone(),
            carol.clone(),
        ] {
            let got = pages(
                async |p| handle.sent_to(&asked, p).await.unwrap(),
                Page::first(10),
            )
            .await;
            assert_eq!(got, [&all[0..10], &all[10..20], &all[20..25]], "{asked}");
        }
        let home = addr("xmpp+home:bob@example.org");
        let got = handle.sent_to(&home, Page::first(10)).await.unwrap();
        assert!(
            got.signals.is_empty(),
            "another session's bob is someone else"
        );

        // The page after the second one, built by hand from the ids, is the same as `next`.
        let first = handle.sent_to(&carol, Page::first(10)).await.unwrap();
        let by_hand = Page::first(10).with_before(first.signals[9].meta.id.clone());
        assert_eq!(first.next, Some(by_hand));
        drop(handle);
        h.finish().await;
    }
}
