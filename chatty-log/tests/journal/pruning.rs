//! The journal forgets what it no longer needs: the keys of finished entries beyond the newest
//! `keys_kept`, and the answers of every finished entry; never an unfinished entry or its
//! answers.

use chatty_core::journal::{Appended, EntryId, Journal};
use chatty_log::StateDb;

use crate::support::{IDENTITY, alice, texts};

each_backend! {
    async fn finished_entries_are_forgotten_beyond_the_newest_kept_and_unfinished_ones_never(place) {
        let config = place.config().with_keys_kept(100);
        let db = StateDb::open(&config).await.unwrap();
        let journal = db.journal(IDENTITY).await.unwrap();

        // m0 is never finished; it has an answer on its way.
        let m0 = alice("m0");
        assert_eq!(journal.append("work", &m0).await.unwrap(), Appended::New);
        journal.answering("work", m0.id(), 0).await.unwrap();
        // 1 000 more, each answered and finished.
        for i in 1..=1_000 {
            let signal = alice(&format!("m{i}"));
            assert_eq!(
                journal.append("work", &signal).await.unwrap(),
                Appended::New
            );
            journal.answering("work", signal.id(), 0).await.unwrap();
            journal.answered("work", signal.id(), 0).await.unwrap();
            journal.ack(&EntryId::of("work", &signal));
        }
        db.flush().await.unwrap();

        // The writer's thread prunes beside the commits: at most the newest 100, the 64 appended
        // between two prunings, and m0, once it has caught up.
        let (mut keys, mut answers) = (0, 0);
        for _ in 0..100 {
            keys = place.count("journal_keys").await;
            answers = place.count("journal_answers").await;
            if keys <= 100 + 64 + 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!((100..=100 + 64 + 1).contains(&keys), "{keys} keys");
        // The answers of finished entries are gone, but those since the last pruning.
        assert!(answers <= 1 + 64, "{answers} answers");

        // m0 is still given again, with its answer.
        let pending = journal.pending("work").await.unwrap();
        assert_eq!(texts(&pending), ["m0"]);
        assert_eq!(pending[0].answers.len(), 1);
        // The newest are still recognised; the oldest are not.
        assert_eq!(
            journal.append("work", &alice("m1000")).await.unwrap(),
            Appended::Seen
        );
        assert_eq!(
            journal.append("work", &alice("m1")).await.unwrap(),
            Appended::New
        );
        db.close().await;
    }
}
