//! The bots' values in a state database ([`KeyValues`], chatty-core's `KeyValueStore`), against
//! SQLite and PostgreSQL (`each_backend!`): what is read back, the order and the prefixes of
//! `keys`, what survives closing and reopening, writes interleaved with the journal's on the one
//! writer, and a database of the previous version (without `bot_state`) opened.

use chatty_core::journal::{Appended, EntryId, Journal};
use chatty_core::state::{KeyValueStore, State, StateError};
use chatty_core::{Body, Signal};
use chatty_log::{KeyValues, LogError, StateDb};

#[macro_use]
#[path = "backends/mod.rs"]
mod backends;
use backends::{Backend, IDENTITY, Place};

/// `value` of `key` in `scope`, as bytes.
async fn value(values: &KeyValues, scope: &str, key: &str) -> Option<Vec<u8>> {
    values.get(scope, key).await.unwrap()
}

/// A message `text` with the id `text`.
fn message(text: &str) -> Signal {
    let mut signal = Signal::message(text);
    signal.meta.id = text.into();
    signal
}

/// The texts of a session's pending signals, in order.
async fn pending(journal: &impl Journal, session: &str) -> Vec<String> {
    journal
        .pending(session)
        .await
        .unwrap()
        .iter()
        .map(|p| match &p.signal.body {
            Body::Message(m) => m.text.clone(),
            other => panic!("not a message: {other:?}"),
        })
        .collect()
}

each_backend! {
    async fn put_get_overwrite_and_delete(place) {
        let db = place.db().await;
        let values = db.key_values();
        assert_eq!(value(&values, "bot", "count").await, None);
        values.put("bot", "count", b"1").await.unwrap();
        assert_eq!(value(&values, "bot", "count").await.as_deref(), Some(&b"1"[..]));
        values.put("bot", "count", b"22").await.unwrap();
        assert_eq!(value(&values, "bot", "count").await.as_deref(), Some(&b"22"[..]));
        // Bytes as they are: not UTF-8, a NUL, and empty.
        let binary = [0xff, 0x00, 0xfe, b'\'', b'%'];
        values.put("bot", "binary", &binary).await.unwrap();
        values.put("bot", "empty", b"").await.unwrap();
        assert_eq!(value(&values, "bot", "binary").await.as_deref(), Some(&binary[..]));
        assert_eq!(value(&values, "bot", "empty").await, Some(Vec::new()));
        assert_eq!(values.keys("bot", "").await.unwrap(), ["binary", "count", "empty"]);

        values.delete("bot", "count").await.unwrap();
        assert_eq!(value(&values, "bot", "count").await, None);
        // Deleting what is not there is nothing.
        values.delete("bot", "count").await.unwrap();
        values.delete("bot", "never").await.unwrap();
        assert_eq!(values.keys("bot", "").await.unwrap(), ["binary", "empty"]);
        assert_eq!(place.count("bot_state").await, 2);

        // A write not awaited yet is seen by a read made after it.
        let put = values.put("bot", "later", b"x");
        assert_eq!(value(&values, "bot", "later").await.as_deref(), Some(&b"x"[..]));
        put.await.unwrap();
        // A put then a delete, neither awaited: the delete wins (and the other way round).
        let (a, b) = (values.put("bot", "gone", b"1"), values.delete("bot", "gone"));
        let (c, d) = (values.delete("bot", "back"), values.put("bot", "back", b"2"));
        let (a, b, c, d) = futures::join!(a, b, c, d);
        for result in [a, b, c, d] {
            result.unwrap();
        }
        assert_eq!(value(&values, "bot", "gone").await, None);
        assert_eq!(value(&values, "bot", "back").await.as_deref(), Some(&b"2"[..]));

        // Through chatty-core's typed State.
        let state = State::new(values.clone(), "typed");
        state.put("tickets/alice", &vec![1u32, 2, 3]).await.unwrap();
        assert_eq!(state.get::<Vec<u32>>("tickets/alice").await.unwrap(), Some(vec![1, 2, 3]));
        assert_eq!(value(&values, "typed", "tickets/alice").await.as_deref(), Some(&b"[1,2,3]"[..]));
        db.close().await;
    }
}

each_backend! {
    async fn scopes_are_apart(place) {
        let db = place.db().await;
        let values = db.key_values();
        values.put("support", "greeting", b"hello").await.unwrap();
        values.put("sales", "greeting", b"buy").await.unwrap();
        values.put("sales", "quota", b"12").await.unwrap();
        // A scope that is a prefix of another is another scope.
        values.put("sale", "greeting", b"half").await.unwrap();

        assert_eq!(value(&values, "support", "greeting").await.as_deref(), Some(&b"hello"[..]));
        assert_eq!(value(&values, "sales", "greeting").await.as_deref(), Some(&b"buy"[..]));
        assert_eq!(value(&values, "sale", "greeting").await.as_deref(), Some(&b"half"[..]));
        assert_eq!(value(&values, "support", "quota").await, None);
        assert_eq!(values.keys("support", "").await.unwrap(), ["greeting"]);
        assert_eq!(values.keys("sales", "").await.unwrap(), ["greeting", "quota"]);
        assert_eq!(values.keys("nobody", "").await.unwrap(), Vec::<String>::new());

        values.delete("sales", "greeting").await.unwrap();
        assert_eq!(value(&values, "sales", "greeting").await, None);
        assert_eq!(value(&values, "support", "greeting").await.as_deref(), Some(&b"hello"[..]));
        assert_eq!(value(&values, "sale", "greeting").await.as_deref(), Some(&b"half"[..]));
        db.close().await;
    }
}

/// Keys chosen so that a prefix read as a `LIKE` pattern, a collation other than bytes, or an
/// upper bound that is off by one would show.
const KEYS: [&str; 19] = [
    "tickets/alice",
    "tickets/bob",
    "tickets0",
    "tickets",
    "ticketsX",
    "a%",
    "a%b",
    "aXb",
    "a_",
    "a_b",
    "ab",
    "a\\b",
    "B",
    "Z",
    "a",
    "é",
    "éa",
    "z\u{10FFFF}",
    "z\u{10FFFF}a",
];

each_backend! {
    async fn keys_list_a_prefix_literally_in_byte_order(place) {
        let db = place.db().await;
        let values = db.key_values();
        for key in KEYS {
            values.put("bot", key, key.as_bytes()).await.unwrap();
        }
        values.put("other", "a%c", b"").await.unwrap();

        let mut sorted: Vec<String> = KEYS.iter().map(|k| k.to_string()).collect();
        sorted.sort();
        let all = values.keys("bot", "").await.unwrap();
        assert_eq!(all, sorted);
        // Byte order, not a language's: capitals first, then small letters, then `é`.
        assert_eq!(
            all,
            [
                "B", "Z", "a", "a%", "a%b", "aXb", "a\\b", "a_", "a_b", "ab", "tickets",
                "tickets/alice", "tickets/bob", "tickets0", "ticketsX", "z\u{10FFFF}",
                "z\u{10FFFF}a", "é", "éa",
            ]
        );

        let keys = |prefix: &'static str| {
            let values = values.clone();
            async move { values.keys("bot", prefix).await.unwrap() }
        };
        assert_eq!(keys("tickets/").await, ["tickets/alice", "tickets/bob"]);
        assert_eq!(
            keys("tickets").await,
            ["tickets", "tickets/alice", "tickets/bob", "tickets0", "ticketsX"]
        );
        // `%` and `_` are characters, not patterns; nor is `\` an escape.
        assert_eq!(keys("a%").await, ["a%", "a%b"]);
        assert_eq!(keys("a_").await, ["a_", "a_b"]);
        assert_eq!(keys("a\\").await, ["a\\b"]);
        assert_eq!(keys("%").await, Vec::<String>::new());
        assert_eq!(keys("_").await, Vec::<String>::new());
        assert_eq!(
            keys("a").await,
            ["a", "a%", "a%b", "aXb", "a\\b", "a_", "a_b", "ab"]
        );
        assert_eq!(keys("é").await, ["é", "éa"]);
        assert_eq!(keys("z\u{10FFFF}").await, ["z\u{10FFFF}", "z\u{10FFFF}a"]);
        assert_eq!(keys("tickets/alice").await, ["tickets/alice"]);
        assert_eq!(keys("tickets/alicea").await, Vec::<String>::new());
        // Every prefix of every key against the rule itself.
        for key in KEYS {
            for (end, _) in key.char_indices().skip(1) {
                let prefix = &key[..end];
                let expected: Vec<String> =
                    sorted.iter().filter(|k| k.starts_with(prefix)).cloned().collect();
                assert_eq!(values.keys("bot", prefix).await.unwrap(), expected, "{prefix:?}");
            }
        }
        db.close().await;
    }
}

each_backend! {
    async fn values_survive_closing_and_reopening(place) {
        let db = place.db().await;
        let values = db.key_values();
        values.put("bot", "kept", b"1").await.unwrap();
        values.put("bot", "changed", b"old").await.unwrap();
        values.put("bot", "changed", b"new").await.unwrap();
        values.put("bot", "deleted", b"1").await.unwrap();
        values.delete("bot", "deleted").await.unwrap();
        // Queued, not awaited: the close commits it.
        let last = values.put("bot", "last", b"queued");
        db.close().await;
        last.await.unwrap();
        let error = values.put("bot", "late", b"1").await.unwrap_err();
        assert!(matches!(error, StateError::Store(_)), "{error:?}");

        let db = place.db().await;
        let values = db.key_values();
        assert_eq!(value(&values, "bot", "kept").await.as_deref(), Some(&b"1"[..]));
        assert_eq!(value(&values, "bot", "changed").await.as_deref(), Some(&b"new"[..]));
        assert_eq!(value(&values, "bot", "deleted").await, None);
        assert_eq!(value(&values, "bot", "last").await.as_deref(), Some(&b"queued"[..]));
        assert_eq!(value(&values, "bot", "late").await, None);
        assert_eq!(values.keys("bot", "").await.unwrap(), ["changed", "kept", "last"]);
        db.close().await;
    }
}

each_backend! {
    async fn errors_name_the_database(place) {
        let db = place.db().await;
        let values = db.key_values();
        db.close().await;
        let shown = place.shown().display().to_string();
        for error in [
            values.put("bot", "k", b"v").await.unwrap_err(),
            values.delete("bot", "k").await.unwrap_err(),
            values.get("bot", "k").await.map(drop).unwrap_err(),
            values.keys("bot", "").await.map(drop).unwrap_err(),
        ] {
            let StateError::Store(message) = &error else {
                panic!("not a store error: {error:?}");
            };
            assert!(message.contains(&shown), "{message} (expected {shown})");
            assert!(message.contains("closed"), "{message}");
        }
    }
}

each_backend! {
    #[multi_thread]
    async fn puts_interleaved_with_journal_writes_all_land(place) {
        let db = place.db().await;
        let journal = db.journal(IDENTITY).await.unwrap();
        let values = db.key_values();
        let commits_before = db.stats().commits;
        // Made one after the other without waiting in between, awaited together: one queue.
        let mut writes = Vec::new();
        for i in 0..40 {
            let signal = message(&format!("m{i}"));
            let journal = journal.clone();
            let values = values.clone();
            writes.push(tokio::spawn(async move {
                let (key, count) = (format!("seen/{i:02}"), i.to_string());
                let appended = journal.append("work", &signal);
                let put = values.put("bot", &key, signal.meta.id.as_str().as_bytes());
                let mark = journal.set_mark("work", "last", signal.meta.id.as_str());
                let counted = values.put("bot", "count", count.as_bytes());
                let (appended, put, mark, counted) = futures::join!(appended, put, mark, counted);
                assert_eq!(appended.unwrap(), Appended::New);
                put.unwrap();
                mark.unwrap();
                counted.unwrap();
                if i % 2 == 0 {
                    journal.ack(&EntryId::of("work", &signal));
                    values.delete("bot", &key).await.unwrap();
                }
            }));
        }
        for write in writes {
            write.await.unwrap();
        }
        let writes = 40 * 4 + 20 * 2;
        assert!(db.stats().writes >= writes, "{:?}", db.stats());
        assert!(db.stats().commits > commits_before);

        let check = |db: StateDb| async move {
            let journal = db.journal(IDENTITY).await.unwrap();
            let values = db.key_values();
            let odd: Vec<String> = (1..40).step_by(2).map(|i| format!("m{i}")).collect();
            let mut left = pending(&journal, "work").await;
            left.sort();
            let mut expected = odd.clone();
            expected.sort();
            assert_eq!(left, expected);
            assert!(journal.mark("work", "last").await.unwrap().is_some());
            let keys = values.keys("bot", "seen/").await.unwrap();
            let expected: Vec<String> =
                (1..40).step_by(2).map(|i| format!("seen/{i:02}")).collect();
            assert_eq!(keys, expected);
            for i in (1..40).step_by(2) {
                let seen = value(&values, "bot", &format!("seen/{i:02}")).await;
                assert_eq!(seen, Some(format!("m{i}").into_bytes()));
            }
            assert!(value(&values, "bot", "count").await.is_some());
            // The journal's own numbering is untouched: appending again is seen.
            assert_eq!(journal.append("work", &message("m1")).await.unwrap(), Appended::Seen);
            db.close().await;
        };
        check(db).await;
        // And all of it from the database opened again.
        check(place.db().await).await;
    }
}

each_backend! {
    async fn marks_and_values_set_in_one_order_land_in_it(place) {
        let db = place.db().await;
        let journal = db.journal(IDENTITY).await.unwrap();
        let values = db.key_values();
        // Alternating writes to the two tables (each queued when made), the last of each
        // being the one kept; awaited afterwards, the marks' last.
        let numbers: Vec<String> = (0..100).map(|i: u32| i.to_string()).collect();
        let (mut marks, mut puts) = (Vec::new(), Vec::new());
        for number in &numbers {
            marks.push(journal.set_mark("work", "cursor", number));
            puts.push(values.put("bot", "cursor", number.as_bytes()));
        }
        for put in futures::future::join_all(puts).await {
            put.unwrap();
        }
        for mark in futures::future::join_all(marks).await {
            mark.unwrap();
        }
        assert_eq!(journal.mark("work", "cursor").await.unwrap().as_deref(), Some("99"));
        assert_eq!(value(&values, "bot", "cursor").await.as_deref(), Some(&b"99"[..]));
        db.close().await;
    }
}

each_backend! {
    async fn two_handles_on_one_database_see_each_others_values(place) {
        let first = place.db().await;
        let second = place.db().await;
        first.key_values().put("bot", "from", b"first").await.unwrap();
        assert_eq!(value(&second.key_values(), "bot", "from").await.as_deref(), Some(&b"first"[..]));
        second.key_values().put("bot", "from", b"second").await.unwrap();
        assert_eq!(value(&first.key_values(), "bot", "from").await.as_deref(), Some(&b"second"[..]));
        first.close().await;
        second.close().await;
    }
}

each_backend! {
    async fn a_database_of_the_previous_version_gets_the_table(place) {
        // The previous version's database: the journal and the log, version 1, no `bot_state`.
        let db = place.db().await;
        let journal = db.journal(IDENTITY).await.unwrap();
        assert_eq!(journal.append("work", &message("m1")).await.unwrap(), Appended::New);
        journal.set_mark("work", "cursor", "c1").await.unwrap();
        db.close().await;
        place.execute("DROP TABLE bot_state").await;
        assert_versions(&place).await;

        let db = place.db().await;
        assert_eq!(place.count("bot_state").await, 0);
        let values = db.key_values();
        values.put("bot", "k", b"v").await.unwrap();
        assert_eq!(value(&values, "bot", "k").await.as_deref(), Some(&b"v"[..]));
        assert_eq!(place.count("bot_state").await, 1);
        // What it held is as it was, and the versions too.
        let journal = db.journal(IDENTITY).await.unwrap();
        assert_eq!(pending(&journal, "work").await, ["m1"]);
        assert_eq!(journal.mark("work", "cursor").await.unwrap().as_deref(), Some("c1"));
        db.close().await;
        assert_versions(&place).await;

        // Opened again: the table is there with its value, not made anew.
        let db = place.db().await;
        assert_eq!(value(&db.key_values(), "bot", "k").await.as_deref(), Some(&b"v"[..]));
        db.close().await;
    }
}

/// The log's and the journal's schema versions are 1: adding `bot_state` raised neither.
async fn assert_versions(place: &Place) {
    assert_eq!(
        place
            .count("journal_meta WHERE key = 'schema' AND value = '1'")
            .await,
        1
    );
    match place.backend {
        Backend::Sqlite => {
            assert_eq!(
                place
                    .count("pragma_user_version WHERE user_version = 1")
                    .await,
                1
            );
        }
        Backend::Postgres => {
            assert_eq!(
                place
                    .count("log_meta WHERE key = 'schema' AND value = '1'")
                    .await,
                1
            );
        }
    }
}

each_backend! {
    async fn a_database_of_a_newer_version_with_values_is_still_refused(place) {
        let db = place.db().await;
        db.journal(IDENTITY).await.unwrap();
        db.key_values().put("bot", "k", b"v").await.unwrap();
        db.close().await;

        place.execute("UPDATE journal_meta SET value = '2' WHERE key = 'schema'").await;
        let error = StateDb::open(&place.config()).await.unwrap_err();
        assert!(
            matches!(error, LogError::NewerJournalSchema { found: 2, supported: 1, .. }),
            "{error:?}"
        );
        place.execute("UPDATE journal_meta SET value = '1' WHERE key = 'schema'").await;

        match place.backend {
            Backend::Sqlite => place.execute("PRAGMA user_version = 2").await,
            Backend::Postgres => {
                place.execute("UPDATE log_meta SET value = '2' WHERE key = 'schema'").await;
            }
        }
        let error = StateDb::open(&place.config()).await.unwrap_err();
        assert!(
            matches!(error, LogError::NewerSchema { found: 2, supported: 1, .. }),
            "{error:?}"
        );
        // Refused, and left as it was.
        assert_eq!(place.count("bot_state").await, 1);
    }
}

/// PostgreSQL compares text by the database's collation, which lists `a` before `B` and `é`
/// before `Z` in most languages; `bot_state.key` is collated `"C"`: bytes.
#[tokio::test]
async fn postgres_keys_are_in_byte_order_whatever_the_database_s_collation() {
    let place = Place::postgres_with(
        "TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en' LOCALE 'C.UTF-8' ENCODING 'UTF8'",
    )
    .await;
    let db = place.db().await;
    let values = db.key_values();
    for key in ["a", "B", "é", "Z", "ab", "a_b", "a%b", "aB"] {
        values.put("bot", key, b"").await.unwrap();
    }
    assert_eq!(
        values.keys("bot", "").await.unwrap(),
        ["B", "Z", "a", "a%b", "aB", "a_b", "ab", "é"]
    );
    assert_eq!(
        values.keys("bot", "a").await.unwrap(),
        ["a", "a%b", "aB", "a_b", "ab"]
    );
    // The database does sort otherwise: the test would see a collation that is not bytes.
    let mut conn = place.connect().await;
    let backends::RawConnection::Postgres(c) = &mut conn else {
        unreachable!()
    };
    let bytes_first: bool = sqlx::query_scalar("SELECT 'B' < 'a'")
        .fetch_one(&mut *c)
        .await
        .unwrap();
    assert!(
        !bytes_first,
        "the database's collation is bytes: the test shows nothing"
    );
    conn.close().await;
    db.close().await;
}

each_backend! {
    async fn a_swap_happens_only_from_the_value_expected(place) {
        let db = place.db().await;
        let values = db.key_values();
        let swap = |expected: Option<&'static [u8]>, new: Option<&'static [u8]>| {
            values.swap("bot", "lease", expected, new)
        };
        assert!(swap(None, Some(b"a")).await.unwrap());
        assert!(!swap(None, Some(b"b")).await.unwrap());
        assert!(!swap(Some(b"b"), Some(b"c")).await.unwrap());
        assert_eq!(value(&values, "bot", "lease").await.as_deref(), Some(&b"a"[..]));
        assert!(swap(Some(b"a"), Some(b"b")).await.unwrap());
        assert!(!swap(Some(b"a"), None).await.unwrap());
        assert!(swap(Some(b"b"), None).await.unwrap());
        assert_eq!(value(&values, "bot", "lease").await, None);
        assert!(swap(None, None).await.unwrap());

        // In one batch (nothing awaited before the last), each write sees those made before
        // it: a put, a swap from it, a swap from what it was, a delete, a swap from nothing.
        let writes = (
            values.put("bot", "k", b"1"),
            values.swap("bot", "k", Some(b"1"), Some(b"2")),
            values.swap("bot", "k", Some(b"1"), Some(b"3")),
            values.swap("bot", "k", None, None),
            values.delete("bot", "k"),
            values.swap("bot", "k", None, Some(b"4")),
            values.swap("bot", "k", None, Some(b"5")),
        );
        let (put, two, three, none, delete, four, five) = futures::join!(
            writes.0, writes.1, writes.2, writes.3, writes.4, writes.5, writes.6
        );
        put.unwrap();
        delete.unwrap();
        let swapped = [two, three, none, four, five].map(Result::unwrap);
        assert_eq!(swapped, [true, false, false, true, false]);
        assert_eq!(value(&values, "bot", "k").await.as_deref(), Some(&b"4"[..]));
        db.close().await;
    }
}

each_backend! {
    #[multi_thread]
    async fn of_two_writers_racing_for_a_key_one_wins(place) {
        // Two databases opened on one place: two writers, as two processes sharing it.
        let (first, second) = (place.db().await, place.db().await);
        const KEYS: usize = 40;
        let race = |db: StateDb, who: &'static str| {
            tokio::spawn(async move {
                let values = db.key_values();
                let mut won = Vec::new();
                for k in 0..KEYS {
                    let key = format!("timer/{k}");
                    if values.swap("bot", &key, None, Some(who.as_bytes())).await.unwrap() {
                        won.push(k);
                    }
                }
                won
            })
        };
        let (a, b) = (race(first.clone(), "first"), race(second.clone(), "second"));
        let (a, b) = (a.await.unwrap(), b.await.unwrap());
        assert_eq!(a.len() + b.len(), KEYS, "first won {a:?}, second {b:?}");
        let values = first.key_values();
        for k in 0..KEYS {
            let winner = if a.contains(&k) { "first" } else { "second" };
            let stored = value(&values, "bot", &format!("timer/{k}")).await;
            assert_eq!(stored.as_deref(), Some(winner.as_bytes()), "timer/{k}");
        }
        // A swap from the winner's value succeeds on the other writer too: it reads what the
        // first committed.
        let other = if a.contains(&0) { &second } else { &first };
        let winner: &[u8] = if a.contains(&0) { b"first" } else { b"second" };
        assert!(other.key_values().swap("bot", "timer/0", Some(winner), None).await.unwrap());
        first.close().await;
        second.close().await;
    }
}
