//! Who commits: the waiting task when the writer is idle, the writer's thread otherwise; in
//! order either way.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chatty_core::Signal;
use chatty_core::journal::{Appended, EntryId};
use tokio::sync::oneshot;

use super::*;
use crate::config::Durability;
use crate::db::connection::{self, Place};
use crate::db::ops::{Counters, Unwritten};

/// A queue on a file in `dir`, with its thread running.
fn queue(dir: &tempfile::TempDir, durability: Durability) -> (Arc<WriteQueue>, Arc<Counters>) {
    let path = dir.path().join("state.sqlite");
    let timeout = Duration::from_secs(5);
    let conn = connection::open(Place::File(&path), &path, durability, timeout).unwrap();
    let counters = Arc::new(Counters::default());
    let writer = Writer {
        keys_kept: 100_000,
        path,
        counters: counters.clone(),
        unwritten: Unwritten::default(),
    };
    let by_tasks = durability == Durability::Normal;
    let queue = Arc::new(WriteQueue::new(writer, conn, by_tasks, timeout).unwrap());
    let thread = queue.clone();
    std::thread::spawn(move || thread.run());
    (queue, counters)
}

fn append(text: &str) -> (Op, oneshot::Receiver<Result<Appended, LogError>>) {
    append_of(&Signal::message(text))
}

fn append_of(signal: &Signal) -> (Op, oneshot::Receiver<Result<Appended, LogError>>) {
    let (reply, answer) = oneshot::channel();
    let op = Op::Append {
        entry: EntryId::of("work", signal),
        json: serde_json::to_string(signal).unwrap(),
        reply,
    };
    (op, answer)
}

fn commits(counters: &Counters) -> u64 {
    counters.commits.load(Ordering::Relaxed)
}

/// Waits up to 5 s for `answer`.
fn answered<T>(mut answer: oneshot::Receiver<Result<T, LogError>>) -> Result<T, LogError> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match answer.try_recv() {
            Ok(result) => return result,
            Err(oneshot::error::TryRecvError::Empty) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => panic!("no answer within 5 s: {e}"),
        }
    }
}

/// Waits until the writer's thread waits with nothing to do (it commits what it finds queued
/// when it comes to look, so a test of the task's own commit starts once it is idle).
fn idle(queue: &WriteQueue) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !queue.state().thread_idle {
        assert!(Instant::now() < deadline, "the writer's thread is not idle");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_waiting_task_commits_a_small_batch_itself_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (queue, counters) = queue(&dir, Durability::Normal);
    idle(&queue);
    let (a, mut first) = append("m1");
    let (b, mut second) = append("m2");
    assert!(queue.push(a) && queue.push(b));
    queue.drive();
    // Committed on this thread before `drive` returned: both, in one commit.
    assert_eq!(first.try_recv().unwrap().unwrap(), Appended::New);
    assert_eq!(second.try_recv().unwrap().unwrap(), Appended::New);
    assert_eq!(commits(&counters), 1);
}

#[test]
fn with_durability_full_the_thread_commits() {
    let dir = tempfile::tempdir().unwrap();
    let (queue, counters) = queue(&dir, Durability::Full);
    let (a, first) = append("m1");
    assert!(queue.push(a));
    queue.drive();
    assert_eq!(answered(first).unwrap(), Appended::New);
    assert_eq!(commits(&counters), 1);
}

#[test]
fn a_held_database_sends_the_batch_to_the_thread_without_waiting_and_keeps_the_order() {
    let dir = tempfile::tempdir().unwrap();
    let (queue, _) = queue(&dir, Durability::Normal);
    let other = rusqlite::Connection::open(dir.path().join("state.sqlite")).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let m1 = Signal::message("m1");
    let (a, first) = append_of(&m1);
    assert!(queue.push(a));
    let started = Instant::now();
    queue.drive();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the task did not wait for the lock: {:?}",
        started.elapsed()
    );
    // Made after the first, while the thread waits for the lock.
    let (b, second) = append_of(&m1);
    assert!(queue.push(b));
    queue.drive();
    other.execute_batch("COMMIT").unwrap();
    // The first is new; the second, the same entry, is seen: they applied in their order.
    assert_eq!(answered(first).unwrap(), Appended::New);
    assert_eq!(answered(second).unwrap(), Appended::Seen);
}

#[test]
fn writes_nobody_waits_for_are_committed_by_the_thread() {
    let dir = tempfile::tempdir().unwrap();
    let (queue, counters) = queue(&dir, Durability::Normal);
    let signal = Signal::message("m1");
    assert!(queue.push(Op::Ack {
        entry: EntryId::of("work", &signal),
    }));
    let deadline = Instant::now() + Duration::from_secs(5);
    while commits(&counters) == 0 {
        assert!(Instant::now() < deadline, "not committed within 5 s");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn the_thread_commits_what_is_queued_when_the_last_handle_is_gone_and_then_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let (queue, _) = queue(&dir, Durability::Normal);
    let (a, first) = append("m1");
    assert!(queue.push(a));
    queue.stop();
    assert_eq!(answered(first).unwrap(), Appended::New);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (b, _) = append("m2");
        if !queue.push(b) {
            break;
        }
        assert!(Instant::now() < deadline, "still taking writes after 5 s");
        std::thread::sleep(Duration::from_millis(5));
    }
}
