//! Writes apply in the order they are made, even within one group commit, and are made when
//! the method is called. (The writer runs on a thread of its own; a test that needs writes to
//! share a commit holds the database locked from another connection while it makes them: the
//! writer is then stuck in its first commit while the rest queue up behind it.)

use chatty_core::Signal;
use chatty_core::journal::{Appended, EntryId, Journal};
use chatty_log::{Direction, LogStore};
use futures::future::join_all;

use crate::support::{alice, texts};

each_backend! {
    async fn an_ack_after_the_append_in_one_batch_takes_the_entry_out(place) {
        let journal = place.journal().await;
        let m1 = alice("m1");
        let appended = journal.append("work", &m1);
        journal.ack(&EntryId::of("work", &m1));
        assert_eq!(appended.await.unwrap(), Appended::New);
        assert!(journal.pending("work").await.unwrap().is_empty());
        // It is known, though.
        assert_eq!(journal.append("work", &m1).await.unwrap(), Appended::Seen);
    }
}

each_backend! {
    async fn an_ack_before_the_append_in_one_batch_does_nothing(place) {
        let journal = place.journal().await;
        let m1 = alice("m1");
        journal.ack(&EntryId::of("work", &m1));
        assert_eq!(journal.append("work", &m1).await.unwrap(), Appended::New);
        assert_eq!(texts(&journal.pending("work").await.unwrap()), ["m1"]);
    }
}

each_backend! {
    async fn an_entry_given_again_and_acknowledged_in_one_batch_is_acknowledged(place) {
        let journal = place.journal().await;
        let m1 = alice("m1");
        journal.append("work", &m1).await.unwrap();
        let again = journal.append("work", &m1);
        journal.ack(&EntryId::of("work", &m1));
        assert_eq!(again.await.unwrap(), Appended::Seen);
        assert!(journal.pending("work").await.unwrap().is_empty());
    }
}

each_backend! {
    async fn an_ack_of_an_entry_from_before_a_restart_applies(place) {
        let m1 = alice("m1");
        let journal_a = place.journal().await;
        journal_a.append("work", &m1).await.unwrap();
        journal_a.db().close().await;
        // A new writer does not know the entry's number: it finds it by its key.
        let journal = place.journal().await;
        let again = journal.append("work", &m1);
        journal.ack(&EntryId::of("work", &m1));
        assert_eq!(again.await.unwrap(), Appended::Seen);
        assert!(journal.pending("work").await.unwrap().is_empty());
    }
}

each_backend! {
    async fn a_signal_appended_twice_in_one_batch_is_new_once(place) {
        let journal = place.journal().await;
        let m1 = alice("m1");
        let results = join_all([journal.append("work", &m1), journal.append("work", &m1)]).await;
        let results: Vec<_> = results.into_iter().map(Result::unwrap).collect();
        assert_eq!(results, [Appended::New, Appended::Seen]);
        assert_eq!(texts(&journal.pending("work").await.unwrap()), ["m1"]);
    }
}

each_backend! {
    async fn a_write_is_made_when_called_even_if_never_awaited(place) {
        let journal = place.journal().await;
        let m1 = alice("m1");
        drop(journal.append("work", &m1));
        drop(journal.set_mark("work", "archive", "a1"));
        assert_eq!(texts(&journal.pending("work").await.unwrap()), ["m1"]);
        assert_eq!(
            journal.mark("work", "archive").await.unwrap().as_deref(),
            Some("a1")
        );
    }
}

each_backend! {
    async fn the_last_mark_set_in_a_batch_wins(place) {
        let journal = place.journal().await;
        let writes: Vec<_> = (0..10)
            .map(|i| journal.set_mark("work", "archive", ["a", "b", "c"][i % 3]))
            .collect();
        for result in join_all(writes).await {
            result.unwrap();
        }
        assert_eq!(
            journal.mark("work", "archive").await.unwrap().as_deref(),
            Some("a"),
            "the tenth write set \"a\""
        );
    }
}

each_backend! {
    async fn many_writes_in_flight_share_one_commit_in_their_order(place) {
        let db = place.db().await;
        let journal = db.journal("one commit").await.unwrap();
        let log = db.log_store();
        let signals: Vec<Signal> = (0..300).map(|i| alice(&format!("m{i:03}"))).collect();
        let before = db.stats();
        let other = place.locked().await;
        let mut appends = Vec::new();
        let mut records = Vec::new();
        for signal in &signals {
            appends.push(journal.append("work", signal));
            records.push(log.record(Direction::In, signal));
        }
        other.release().await;
        for appended in join_all(appends).await {
            assert_eq!(appended.unwrap(), Appended::New);
        }
        for recorded in join_all(records).await {
            recorded.unwrap();
        }
        let after = db.stats();
        // The writes the writer took before it found the database locked, and all the rest.
        assert!(after.commits - before.commits <= 2, "{before:?} {after:?}");
        assert_eq!(after.writes - before.writes, 600);

        let pending = journal.pending("work").await.unwrap();
        let want: Vec<String> = (0..300).map(|i| format!("m{i:03}")).collect();
        assert_eq!(texts(&pending), want);
        // The log has them in the same order (newest first).
        let history = log
            .history(
                Direction::In,
                &"xmpp:alice@example.org".parse().unwrap(),
                &chatty_core::Page::first(1000),
            )
            .await
            .unwrap();
        let mut logged: Vec<String> = history
            .signals
            .iter()
            .map(|s| crate::support::text(s).to_owned())
            .collect();
        logged.reverse();
        assert_eq!(logged, want);
        db.close().await;
    }
}
