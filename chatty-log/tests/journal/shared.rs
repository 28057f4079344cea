//! The journal and the Logger's store on one database and one writer; records queued rather
//! than waited for.

use std::time::Duration;

use chatty_core::journal::{Appended, EntryId, Journal};
use chatty_core::{Page, Signal};
use chatty_log::{Direction, LogError, LogStore, StateDb, StateStore};

use crate::support::{IDENTITY, addr, alice, text, texts};

async fn received(store: &StateStore) -> Vec<String> {
    let history = store
        .history(
            Direction::In,
            &addr("xmpp:alice@example.org"),
            &Page::first(100),
        )
        .await
        .unwrap();
    history.signals.iter().map(|s| text(s).to_owned()).collect()
}

each_backend! {
    async fn the_journal_and_the_log_share_one_file_and_survive_a_restart(place) {
        let (m1, m2) = (alice("m1"), alice("m2"));
        {
            let db = place.db().await;
            let journal = db.journal(IDENTITY).await.unwrap();
            let log = db.log_store();
            for signal in [&m1, &m2] {
                journal.append("work", signal).await.unwrap();
                log.record(Direction::In, signal).await.unwrap();
            }
            journal.ack(&EntryId::of("work", &m1));
            db.close().await;
        }
        // The Logger alone opens the same database (as `StateStore::open_with` and
        // `LoggerLayer::open` do).
        let log = StateStore::open_with(&place.logger_config()).await.unwrap();
        assert_eq!(received(&log).await, ["m2", "m1"]);
        log.close().await;
        let db = place.db().await;
        let journal = db.journal(IDENTITY).await.unwrap();
        assert_eq!(texts(&journal.pending("work").await.unwrap()), ["m2"]);
        assert_eq!(journal.append("work", &m1).await.unwrap(), Appended::Seen);
        db.close().await;
    }
}

each_backend! {
    async fn queued_records_are_read_back_and_written_in_order_with_the_journal(place) {
        let db = place.db().await;
        let journal = db.journal(IDENTITY).await.unwrap();
        let log = db.log_store().with_queued_records(true);
        let signals: Vec<Signal> = (0..5).map(|i| alice(&format!("m{i}"))).collect();
        let before = db.stats();
        // Held locked, so that the records are still queued when they have all been made.
        let other = place.locked().await;
        for signal in &signals {
            // Resolves at once: the record is queued.
            log.record(Direction::In, signal).await.unwrap();
        }
        assert_eq!(db.stats(), before, "nothing committed yet");
        let mark = journal.set_mark("work", "archive", "a5");
        other.release().await;
        // A journal write made after them is durable only with them.
        mark.await.unwrap();
        let after = db.stats();
        assert!(after.commits - before.commits <= 2, "{before:?} {after:?}");
        assert_eq!(after.writes, before.writes + 6);
        assert_eq!(received(&log).await, ["m4", "m3", "m2", "m1", "m0"]);
        db.close().await;
    }
}

each_backend! {
    async fn a_queued_record_that_was_lost_is_reported_with_the_next_one(place) {
        let config = place.config().with_busy_timeout(Duration::from_millis(200));
        let db = StateDb::open(&config).await.unwrap();
        let log = db.log_store().with_queued_records(true);

        let other = place.locked().await;
        log.record(Direction::In, &alice("lost 1")).await.unwrap();
        log.record(Direction::In, &alice("lost 2")).await.unwrap();
        let error = db.flush().await.unwrap_err();
        assert!(matches!(error, LogError::Locked { .. }), "{error:?}");
        other.release().await;

        let error = log.record(Direction::In, &alice("kept")).await.unwrap_err();
        match &error {
            LogError::Unwritten { count, message, .. } => {
                assert_eq!(*count, 2);
                assert!(message.contains("locked"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(error.to_string().contains(&place.shown().display().to_string()));
        // Reported once; the record that reported it was written.
        log.record(Direction::In, &alice("kept too")).await.unwrap();
        assert_eq!(received(&log).await, ["kept too", "kept"]);
        db.close().await;
    }
}

each_backend! {
    async fn an_awaited_record_fails_with_its_commit(place) {
        let config = place.config().with_busy_timeout(Duration::from_millis(200));
        let db = StateDb::open(&config).await.unwrap();
        let journal = db.journal(IDENTITY).await.unwrap();
        let log = db.log_store();

        let other = place.locked().await;
        let m1 = alice("m1");
        let appended = journal.append("work", &m1);
        let recorded = log.record(Direction::In, &m1);
        let (appended, recorded) = futures::join!(appended, recorded);
        assert!(appended.is_err());
        let error = recorded.unwrap_err();
        assert!(matches!(error, LogError::Locked { .. }), "{error:?}");
        other.release().await;
        assert!(received(&log).await.is_empty());
        db.close().await;
    }
}
