//! The process bot with real `python3` programs behind a router with a journal: a version-2
//! program SIGKILLed in the middle of a burst while the runner goes on (nothing lost, nothing
//! answered twice), and a version-1 program, which never says hello.

use std::collections::HashMap;
use std::path::Path;

use chatty_core::journal::{Journal, MemoryJournal, answer_id};
use chatty_core::testing::{Recorded, TestPlatform, message, messages};
use chatty_core::{Body, Router, Signal};

use super::ProcessBot;

/// A platform that gives `count` messages in one burst, then `end`, and records what it is
/// sent. Programs handle signals in order, so once `end` is answered every message before it
/// was answered or lost: the test waits for that, never for a count that a loss would keep
/// from coming.
fn burst(count: usize) -> (TestPlatform, Recorded) {
    let mut signals = messages(count);
    signals.push(message("end"));
    let session = TestPlatform::new("test").giving(signals);
    let sent = session.outbound();
    (session, sent)
}

fn text(signal: &Signal) -> &str {
    match &signal.body {
        Body::Message(m) => &m.text,
        _ => "",
    }
}

/// A version-2 program: answers each message twice (`m7.0 by 1`, `m7.1 by 1`: the text, the
/// answer's number, the program's start number) and acknowledges lazily, five signals behind,
/// so that whenever it dies some signals it answered are not acknowledged yet. Its pid goes
/// into `$PIDS`; the first program takes a millisecond a message, and stops (hangs) after
/// answering `$HANG_AT`, so that the test's kill always finds the burst unfinished. At the end of its input it acknowledges the rest.
const LAZY_V2: &str = r#"
import json, os, sys, time

with open(os.environ["PIDS"], "a") as f:
    f.write(f"{os.getpid()}\n")
with open(os.environ["PIDS"]) as f:
    start = len(f.read().split())

def out(line):
    print(json.dumps(line), flush=True)

out({"type": "hello", "version": 2})
done = []
for line in sys.stdin:
    event = json.loads(line)
    if event["type"] != "signal":
        continue
    meta, body = event["signal"]["meta"], event["signal"]["body"]
    if body["type"] == "message" and "origin" in meta:
        for n in range(2):
            out({"type": "send", "signal": {
                "meta": {"addressees": [meta["origin"]], "response_to": meta["id"]},
                "body": {"type": "message", "text": f"{body['text']}.{n} by {start}"}}})
        if start == 1:
            # Busy: the kill finds it at work. It comes at the latest at HANG_AT.
            time.sleep(0.001)
            if body["text"] == os.environ["HANG_AT"]:
                time.sleep(3600)
    done.append(meta["id"])
    if len(done) > 5:
        out({"type": "ack", "id": done.pop(0)})
for id in done:
    out({"type": "ack", "id": id})
"#;

/// Waits until `n` signals were sent.
async fn reach(sent: &Recorded, n: usize) {
    sent.wait_for(|sent| sent.len() >= n).await;
}

/// Waits until an answer whose text starts with `text_start` was sent. If `end` itself was
/// lost, that never comes: the wait then ends after [`LOST`], and the count that follows says
/// what is missing (a bound on a wait for a failure, not an assertion about time).
async fn answered(sent: &Recorded, text_start: &str) {
    let answered = sent.wait_for(|sent| sent.iter().any(|s| text(s).starts_with(text_start)));
    let _ = tokio::time::timeout(LOST, answered).await;
}

/// How long the test waits for the answer to `end` before it counts what it has.
const LOST: std::time::Duration = std::time::Duration::from_secs(120);

fn python(dir: &Path, source: &str) -> ProcessBot {
    let script = dir.join("bot.py");
    std::fs::write(&script, source).unwrap();
    ProcessBot::new("lazy", "python3")
        .arg(script.display().to_string())
        .env("PIDS", dir.join("pids").display().to_string())
        .restart_backoff(
            std::time::Duration::from_millis(10),
            std::time::Duration::from_millis(10),
        )
}

fn pids(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("pids"))
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_2_program_killed_mid_burst_loses_nothing_and_answers_nothing_twice() {
    const COUNT: usize = 1_000;
    let dir = tempfile::tempdir().unwrap();
    let bot = python(dir.path(), LAZY_V2).env("HANG_AT", "m600");
    let journal = MemoryJournal::new();
    let (session, sent) = burst(COUNT);
    let router = Router::new().session(session).journal(journal.clone());

    let killer = {
        let sent = sent.clone();
        let dir = dir.path().to_owned();
        async move {
            // 150 messages answered: the program is busy in the middle of the burst.
            reach(&sent, 300).await;
            let first = pids(&dir).remove(0);
            let status = std::process::Command::new("kill")
                .args(["-KILL", &first])
                .status()
                .unwrap();
            assert!(status.success(), "kill {first}");
        }
    };
    let shutdown = {
        let sent = sent.clone();
        async move {
            killer.await;
            answered(&sent, "end.1").await;
        }
    };
    router.run_until(bot, shutdown).await.unwrap();

    assert_eq!(pids(dir.path()).len(), 2, "one kill, one restart");
    let sent = sent.signals();
    let mut answers: HashMap<String, Vec<String>> = HashMap::new();
    for answer in sent
        .iter()
        .filter(|s| s.meta.response_to != Some("end".into()))
    {
        let of = answer.meta.response_to.clone().unwrap();
        let (said, by) = text(answer).split_once(" by ").unwrap();
        assert_eq!(said.split_once('.').unwrap().0, of.as_str());
        answers
            .entry(of.to_string())
            .or_default()
            .push(format!("{said} {by}"));
    }
    let lost: Vec<String> = (0..COUNT)
        .map(|i| format!("m{i}"))
        .filter(|id| !answers.contains_key(id))
        .collect();
    let twice: Vec<&Vec<String>> = answers.values().filter(|a| a.len() != 2).collect();
    assert!(lost.is_empty(), "lost: {lost:?}");
    assert!(twice.is_empty(), "not answered exactly twice: {twice:?}");
    // Answer n to a signal has the same id whichever program sent it.
    for answer in &sent {
        let of = answer.meta.response_to.as_ref().unwrap();
        let number = text(answer)
            .split([' ', '.'])
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(answer.meta.id, answer_id("test", of, number));
    }
    // The second program did answer part of the burst: the kill was in its middle.
    assert!(sent.iter().any(|s| text(s).ends_with(" by 2")));
    // Everything was acknowledged: nothing is pending for the next start.
    assert!(journal.pending("test").await.unwrap().is_empty());
}

/// A version-1 program: never says hello, answers each message once.
const PLAIN_V1: &str = r#"
import json, sys
for line in sys.stdin:
    event = json.loads(line)
    if event["type"] != "signal":
        continue
    meta, body = event["signal"]["meta"], event["signal"]["body"]
    if body["type"] == "message" and "origin" in meta:
        print(json.dumps({"type": "send", "signal": {
            "meta": {"addressees": [meta["origin"]], "response_to": meta["id"]},
            "body": {"type": "message", "text": body["text"][::-1]}}}), flush=True)
"#;

/// [`PLAIN_V1`] that also writes a line that is not UTF-8 before each answer.
fn not_text_v1() -> String {
    let answer = "        print(json.dumps(";
    let bad = "        sys.stdout.buffer.write(b\"\\xff\\xfe not text\\n\")\n        sys.stdout.buffer.flush()\n";
    assert!(PLAIN_V1.contains(answer));
    PLAIN_V1.replace(answer, &format!("{bad}{answer}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_program_works_unchanged_and_its_signals_are_acknowledged_once_written() {
    reverses_every_message(PLAIN_V1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_that_is_not_utf8_is_refused_and_the_lines_after_it_count() {
    reverses_every_message(&not_text_v1()).await;
}

/// Runs the version-1 program `source`, which answers each message of a burst with its text
/// reversed, and checks that every message was answered and acknowledged.
async fn reverses_every_message(source: &str) {
    const COUNT: usize = 50;
    let dir = tempfile::tempdir().unwrap();
    let bot = python(dir.path(), source);
    let journal = MemoryJournal::new();
    let (session, sent) = burst(COUNT);
    let shutdown = {
        let sent = sent.clone();
        async move { answered(&sent, "dne").await }
    };
    Router::new()
        .session(session)
        .journal(journal.clone())
        .run_until(bot, shutdown)
        .await
        .unwrap();
    let mut texts: Vec<String> = sent.texts().into_iter().filter(|t| t != "dne").collect();
    texts.sort();
    let mut expected: Vec<String> = (0..COUNT)
        .map(|i| format!("m{i}").chars().rev().collect())
        .collect();
    expected.sort();
    assert_eq!(texts, expected);
    assert!(journal.pending("test").await.unwrap().is_empty());
}

/// A version-2 program that answers each message at once and acknowledges it 50 ms later (from
/// another thread), counting how many signals it held unacknowledged at most; it writes that
/// number to `$MAX` at the end of its input.
const SLOW_ACKS: &str = r#"
import json, os, sys, threading

lock = threading.Lock()
in_hand = 0
most = 0

def out(line):
    with lock:
        print(json.dumps(line), flush=True)

def ack(id):
    global in_hand
    with lock:
        in_hand -= 1
    out({"type": "ack", "id": id})

out({"type": "hello", "version": 2})
timers = []
for line in sys.stdin:
    event = json.loads(line)
    if event["type"] != "signal":
        continue
    meta, body = event["signal"]["meta"], event["signal"]["body"]
    if body["type"] != "message" or "origin" not in meta:
        continue
    with lock:
        in_hand += 1
        most = max(most, in_hand)
    out({"type": "send", "signal": {
        "meta": {"addressees": [meta["origin"]], "response_to": meta["id"]},
        "body": {"type": "message", "text": body["text"][::-1]}}})
    timer = threading.Timer(0.05, ack, [meta["id"]])
    timer.start()
    timers.append(timer)
for timer in timers:
    timer.join()
with open(os.environ["MAX"], "w") as f:
    f.write(str(most))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_has_no_more_signals_in_hand_than_it_may() {
    const COUNT: usize = 30;
    let dir = tempfile::tempdir().unwrap();
    let max = dir.path().join("max");
    let bot = python(dir.path(), SLOW_ACKS)
        .env("MAX", max.display().to_string())
        .in_hand(4);
    let (session, sent) = burst(COUNT);
    let shutdown = {
        let sent = sent.clone();
        async move { answered(&sent, "dne").await }
    };
    Router::new()
        .session(session)
        .journal(MemoryJournal::new())
        .run_until(bot, shutdown)
        .await
        .unwrap();
    assert_eq!(sent.len(), COUNT + 1, "every message answered");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !max.exists() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let most: usize = std::fs::read_to_string(&max)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The burst comes at once and each acknowledgement takes 50 ms: without the bound the
    // program would hold many more.
    assert_eq!(most, 4, "at most 4 signals in hand");
}
