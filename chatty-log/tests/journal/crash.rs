//! A process appending to the journal (with the Logger's records and marks on the same writer)
//! is killed with SIGKILL mid-stream; the database opened again holds every append whose
//! future had resolved, in order, and no mark ahead of the signals it covers.
//!
//! The child is this test binary run again on one ignored test,
//! [`child_appends_until_killed`], which prints `appended N .` each time an append resolves
//! (a line cut short by the kill has no `.`, and does not count). It runs against each backend:
//! the child is given the database's configuration (JSON) in [`CHILD`].

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use chatty_core::journal::{Appended, EntryId, Journal};
use chatty_core::{Page, Signal};
use chatty_log::{Direction, LogStore, StateConfig, StateDb};
use futures::StreamExt;
use futures::stream::FuturesOrdered;

use crate::backends::{Backend, Place};
use crate::support::{IDENTITY, addr, alice, text};

/// Where the child writes: its database's configuration, as JSON.
const CHILD: &str = "CHATTY_JOURNAL_CRASH_CHILD";

/// How many resolved appends the parent waits for before it kills the child.
const BEFORE_KILL: usize = 3_000;

/// Every third signal is acknowledged once appended; a mark is set after every hundredth.
fn acked(i: usize) -> bool {
    i.is_multiple_of(3)
}

fn id(i: usize) -> String {
    format!("c{i:08}")
}

#[test]
#[ignore = "the child process of the crash test: runs until killed"]
fn child_appends_until_killed() {
    let config: StateConfig =
        serde_json::from_str(&std::env::var(CHILD).expect("run by the crash test")).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let db = StateDb::open(&config).await.unwrap();
        // Leaked: the futures below borrow them, and the process is killed anyway.
        let journal: &'static _ = Box::leak(Box::new(db.journal(IDENTITY).await.unwrap()));
        let log: &'static _ = Box::leak(Box::new(db.log_store()));
        let mut in_flight = FuturesOrdered::new();
        for i in 0.. {
            let signal: &'static Signal = Box::leak(Box::new(alice(&id(i))));
            // The writes are made here, in this order.
            let append = journal.append("work", signal);
            let record = log.record(Direction::In, signal);
            let mark = (i % 100 == 99).then(|| journal.set_mark("work", "last", &*id(i).leak()));
            in_flight.push_back(async move {
                let appended = append.await.unwrap();
                record.await.unwrap();
                if let Some(mark) = mark {
                    mark.await.unwrap();
                }
                (i, signal, appended)
            });
            while in_flight.len() >= 256 {
                let (i, signal, appended) = in_flight.next().await.unwrap();
                assert_eq!(appended, Appended::New);
                if acked(i) {
                    journal.ack(&EntryId::of("work", signal));
                }
                println!("appended {i} .");
            }
        }
    });
}

/// The append a whole line of the child reports (the first one follows the test harness's
/// `test … ` on the same line).
fn resolved_in(line: &str) -> Option<usize> {
    line.rsplit_once("appended ")?
        .1
        .strip_suffix(" .")?
        .parse()
        .ok()
}

#[test]
fn every_append_that_resolved_survives_a_sigkill_in_order_in_sqlite() {
    every_append_that_resolved_survives_a_sigkill_in_order(Backend::Sqlite);
}

#[test]
fn every_append_that_resolved_survives_a_sigkill_in_order_in_postgres() {
    every_append_that_resolved_survives_a_sigkill_in_order(Backend::Postgres);
}

fn every_append_that_resolved_survives_a_sigkill_in_order(backend: Backend) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let place = runtime.block_on(Place::new(backend));
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "crash::child_appends_until_killed",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, serde_json::to_string(&place.config()).unwrap())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut resolved = BTreeSet::new();
    while resolved.len() < BEFORE_KILL {
        let line = lines
            .next()
            .expect("the child appends until it is killed")
            .unwrap();
        if let Some(i) = resolved_in(&line) {
            resolved.insert(i);
        }
    }
    // SIGKILL, while it appends.
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "{status:?}");
    // What it printed before it died counts too.
    for line in lines {
        if let Some(i) = resolved_in(&line.unwrap()) {
            resolved.insert(i);
        }
    }
    let last = *resolved.last().unwrap();
    assert_eq!(resolved.len(), last + 1, "the child reports in order");

    runtime.block_on(async {
        let db = place.db().await;
        let journal = db.journal(IDENTITY).await.unwrap();
        let log = db.log_store();

        // Pending: every entry not acknowledged, in order, with no gap: a prefix of what was
        // appended (at least what resolved), minus acknowledged ones.
        let pending: Vec<usize> = journal
            .pending("work")
            .await
            .unwrap()
            .iter()
            .map(|p| text(&p.signal)[1..].parse().unwrap())
            .collect();
        assert!(pending.windows(2).all(|w| w[0] < w[1]), "in order");
        let durable = pending.last().map_or(0, |&i| i + 1).max(last + 1);
        let unacked: Vec<usize> = (0..durable).filter(|&i| !acked(i)).collect();
        let pending_unacked: BTreeSet<usize> =
            pending.iter().copied().filter(|&i| !acked(i)).collect();
        let missing: Vec<usize> = unacked
            .iter()
            .copied()
            .filter(|i| !pending_unacked.contains(i))
            .collect();
        assert!(
            missing.is_empty() && pending_unacked.len() == unacked.len(),
            "every unacknowledged append is pending: {} missing, the first {:?}; {} pending",
            missing.len(),
            &missing[..missing.len().min(10)],
            pending_unacked.len()
        );

        // The mark never runs ahead of the signals it covers.
        let mark = journal.mark("work", "last").await.unwrap();
        let marked: usize = mark.as_deref().map_or(0, |m| m[1..].parse().unwrap());
        assert!(marked >= 99 || last < 99, "a mark was set: {mark:?}");

        // The log holds every record made with a resolved append (they were awaited too).
        let history = log
            .history(
                Direction::In,
                &addr("xmpp:alice@example.org"),
                &Page::first(u32::MAX),
            )
            .await
            .unwrap();
        let logged: BTreeSet<usize> = history
            .signals
            .iter()
            .map(|s| text(s)[1..].parse().unwrap())
            .collect();
        assert!(
            resolved.is_subset(&logged),
            "every resolved record is in the log"
        );

        // Every resolved append is there: made again, it is not new; so is the one the mark
        // names.
        for &i in resolved.iter().chain([marked].iter()) {
            assert_eq!(
                journal.append("work", &alice(&id(i))).await.unwrap(),
                Appended::Seen,
                "append {i}"
            );
        }
        // And nothing was kept that was not appended.
        let beyond = durable.max(marked + 1) + 1000;
        assert_eq!(
            journal.append("work", &alice(&id(beyond))).await.unwrap(),
            Appended::New
        );
        eprintln!(
            "{} appends resolved before the kill; {} durable; {} pending; mark {mark:?}",
            resolved.len(),
            durable,
            pending.len()
        );
        db.close().await;
    });
}
