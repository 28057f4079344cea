//! One batch, applied by [`Writer::commit`] directly: which ops share a commit does not depend
//! on when the writer's thread wakes.

use super::*;
use crate::config::Durability;
use crate::db::connection::{self, Place};
use chatty_core::Signal;
use std::time::Duration;
use tokio::sync::oneshot;

fn writer() -> (Writer, Connection) {
    let name = format!("/chatty-writer-test-{}", next_number());
    let path = PathBuf::from(":memory:");
    let conn = connection::open(
        Place::Memory(&name),
        &path,
        Durability::Normal,
        Duration::from_secs(1),
    )
    .unwrap();
    let writer = Writer {
        keys_kept: 100,
        path,
        counters: Arc::default(),
        unwritten: Unwritten::default(),
    };
    (writer, conn)
}

fn next_number() -> u64 {
    use std::sync::atomic::AtomicU64;
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn append(signal: &Signal) -> (Op, oneshot::Receiver<Result<Appended, LogError>>) {
    let (reply, answer) = oneshot::channel();
    let op = Op::Append {
        entry: EntryId::of("work", signal),
        json: serde_json::to_string(signal).unwrap(),
        reply,
    };
    (op, answer)
}

fn count(conn: &Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
        row.get(0)
    })
    .unwrap()
}

#[test]
fn an_ack_after_its_append_in_one_batch_keeps_the_key_and_no_pending_signal() {
    let (writer, mut conn) = writer();
    let (m1, m2) = (Signal::message("m1"), Signal::message("m2"));
    let (a1, mut r1) = append(&m1);
    let (a2, mut r2) = append(&m2);
    let ops = vec![
        a1,
        Op::Ack {
            entry: EntryId::of("work", &m1),
        },
        a2,
    ];
    let mut known = Known::new();
    let outcomes = writer.commit(&mut conn, &ops, &mut known).unwrap();
    writer.answer(ops, Ok(outcomes));
    assert_eq!(r1.try_recv().unwrap().unwrap(), Appended::New);
    assert_eq!(r2.try_recv().unwrap().unwrap(), Appended::New);
    assert_eq!(count(&conn, "journal_keys"), 2);
    assert_eq!(count(&conn, "journal_pending"), 1, "only m2 is unfinished");
    // Only the unacknowledged entry's number is remembered.
    assert_eq!(known.len(), 1);
    assert!(known.contains_key(&EntryId::of("work", &m2)));
}

#[test]
fn an_ack_before_its_append_in_one_batch_does_nothing_and_a_repeat_is_seen() {
    let (writer, mut conn) = writer();
    let m1 = Signal::message("m1");
    let (a1, mut r1) = append(&m1);
    let (again, mut r2) = append(&m1);
    let ops = vec![
        Op::Ack {
            entry: EntryId::of("work", &m1),
        },
        a1,
        again,
    ];
    let mut known = Known::new();
    let outcomes = writer.commit(&mut conn, &ops, &mut known).unwrap();
    writer.answer(ops, Ok(outcomes));
    assert_eq!(r1.try_recv().unwrap().unwrap(), Appended::New);
    assert_eq!(r2.try_recv().unwrap().unwrap(), Appended::Seen);
    assert_eq!(count(&conn, "journal_pending"), 1);
    // The next batch's ack finds it by number.
    let ops = vec![Op::Ack {
        entry: EntryId::of("work", &m1),
    }];
    writer.commit(&mut conn, &ops, &mut known).unwrap();
    assert_eq!(count(&conn, "journal_pending"), 0);
    assert!(known.is_empty());
}

#[test]
fn a_failed_batch_fails_every_waiter_and_the_connection_goes_on() {
    let (writer, mut conn) = writer();
    // A table the batch needs is gone: its statements fail.
    conn.execute_batch("DROP TABLE journal_pending").unwrap();
    let m1 = Signal::message("m1");
    let (a1, mut r1) = append(&m1);
    let (flush, mut r2) = oneshot::channel();
    let ops = vec![a1, Op::Flush { reply: flush }];
    let result = writer.commit(&mut conn, &ops, &mut Known::new());
    assert!(result.as_ref().is_err_and(|f| !f.is_busy()));
    writer.answer(ops, result.map_err(|f| writer.error(f)));
    assert!(r1.try_recv().unwrap().is_err());
    assert!(r2.try_recv().unwrap().is_err());
    // Nothing of the batch stayed: its key was rolled back with it.
    assert_eq!(count(&conn, "journal_keys"), 0);
    // The next batch commits on the same connection.
    let (reply, mut done) = oneshot::channel();
    let ops = vec![Op::SetMark {
        session: "work".into(),
        name: "cursor".into(),
        value: "7".into(),
        reply,
    }];
    let outcomes = writer.commit(&mut conn, &ops, &mut Known::new());
    writer.answer(ops, outcomes.map_err(|f| writer.error(f)));
    done.try_recv().unwrap().unwrap();
    assert_eq!(count(&conn, "journal_marks"), 1);
}

fn put(
    scope: &str,
    key: &str,
    value: Option<&[u8]>,
) -> (Op, oneshot::Receiver<Result<(), LogError>>) {
    let (reply, answer) = oneshot::channel();
    let op = Op::PutValue {
        scope: scope.into(),
        key: key.into(),
        value: value.map(<[u8]>::to_vec),
        reply,
    };
    (op, answer)
}

fn values(conn: &Connection) -> Vec<(String, String, Vec<u8>)> {
    let mut statement = conn
        .prepare("SELECT scope, key, value FROM bot_state ORDER BY scope, key")
        .unwrap();
    let rows = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .unwrap();
    rows.collect::<rusqlite::Result<_>>().unwrap()
}

#[test]
fn the_last_write_of_each_value_in_one_batch_wins() {
    let (writer, mut conn) = writer();
    let (kept, _) = put("bot", "kept", Some(b"0"));
    let (gone, _) = put("bot", "gone", Some(b"0"));
    let ops = vec![kept, gone];
    let outcomes = writer.commit(&mut conn, &ops, &mut Known::new());
    writer.answer(ops, outcomes.map_err(|f| writer.error(f)));

    let mut ops = Vec::new();
    let mut answers = Vec::new();
    for (scope, key, value) in [
        ("bot", "kept", Some(&b"1"[..])),
        ("bot", "gone", None),
        ("bot", "back", None),
        ("bot", "back", Some(b"2")),
        ("bot", "kept", Some(b"3")),
        ("other", "kept", Some(b"4")),
        ("bot", "once", Some(b"5")),
        ("bot", "once", None),
    ] {
        let (op, answer) = put(scope, key, value);
        ops.push(op);
        answers.push(answer);
    }
    let outcomes = writer.commit(&mut conn, &ops, &mut Known::new());
    writer.answer(ops, outcomes.map_err(|f| writer.error(f)));
    for mut answer in answers {
        answer.try_recv().unwrap().unwrap();
    }
    let row = |s: &str, k: &str, v: &[u8]| (s.to_owned(), k.to_owned(), v.to_vec());
    assert_eq!(
        values(&conn),
        [
            row("bot", "back", b"2"),
            row("bot", "kept", b"3"),
            row("other", "kept", b"4"),
        ]
    );
}
