//! Scale-out through the test NATS server: how throughput grows with workers, and the latency
//! the hub adds to each signal.
//!
//! ```text
//! eval "$(scripts/test-servers env)"
//! cargo bench -p chatty-nats --bench workers
//! #   CHATTY_BENCH_PER_WORKER=150 CHATTY_BENCH_RUNS=1 CHATTY_BENCH_PARTITIONS=16
//! #   CHATTY_BENCH_PEOPLE=64
//! ```
//!
//! 1. **Workers**: a bot whose handler waits 20 ms per message, on 1, 2 and 4 workers; the
//!    gateway's platform gives 150 messages per worker at once, from 64 people (16 partitions;
//!    each is read by one worker at a time, so how evenly the people fall into partitions
//!    bounds the gain).
//!    Prints messages answered per second and the ratio to one worker's (the aim: 0.9 × N).
//! 2. **Latency**: 400 messages, one every 5 ms, to an echo bot; the time from the gateway's
//!    session receiving a message to the worker's bot getting it (p50, p99), against the same
//!    bot on the platform's own router (in-process).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chatty_core::journal::MemoryJournal;
use chatty_core::testing::{TestPlatform, message};
use chatty_core::{Body, Bot, Message, Router, Signal, from_fn, now};
use chatty_nats::{NatsConfig, NatsGateway, NatsWorker};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A hub of its own for one measurement.
fn hub() -> NatsConfig {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let url = std::env::var("CHATTY_TEST_NATS_URL")
        .expect("CHATTY_TEST_NATS_URL: run `eval \"$(scripts/test-servers env)\"` first");
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let name = format!(
        "bench{}_{stamp}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    NatsConfig::new(url, name)
        .with_lease(Duration::from_secs(1))
        .with_partitions(u32::try_from(env_or("CHATTY_BENCH_PARTITIONS", 16)).unwrap())
}

/// `count` messages from `people` people, interleaved.
fn from_people(people: usize, count: usize) -> Vec<Signal> {
    (0..count)
        .map(|i| {
            let mut signal = message(&format!("u{}-{i}", i % people));
            signal.meta.origin = format!("test:u{}", i % people).parse().ok();
            signal
        })
        .collect()
}

/// Answers each message after `wait`.
fn slow(wait: Duration) -> impl Bot {
    from_fn(move |signal: Signal, handle| async move {
        if let Body::Message(m) = &signal.body {
            tokio::time::sleep(wait).await;
            handle
                .send(signal.reply(Message::text(format!("re {}", m.text))))
                .await?;
        }
        Ok(())
    })
}

/// Messages answered per second with `workers` workers whose handler waits 20 ms.
async fn throughput(workers: usize, per_worker: usize) -> f64 {
    let config = hub();
    let mut running = Vec::new();
    for _ in 0..workers {
        let worker = NatsWorker::new(config.clone()).unwrap();
        let journal = worker.journal(MemoryJournal::new());
        running.push(tokio::spawn(
            Router::new()
                .session(worker)
                .journal(journal)
                .run(slow(Duration::from_millis(20))),
        ));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The partitions shared out (renewals every third of the 1 s lease).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let count = per_worker * workers;
    let people = env_or("CHATTY_BENCH_PEOPLE", 64);
    let platform = TestPlatform::new("test").giving(from_people(people, count));
    let answers = platform.outbound();
    let start = Instant::now();
    let gateway = tokio::spawn(
        Router::new()
            .session(platform)
            .run(NatsGateway::new(config)),
    );
    if tokio::time::timeout(
        Duration::from_secs(120),
        answers.wait_for(|sent| sent.len() >= count),
    )
    .await
    .is_err()
    {
        panic!(
            "{workers} workers: {} of {count} answered in 2 minutes",
            answers.len()
        );
    }
    let rate = count as f64 / start.elapsed().as_secs_f64();
    gateway.abort();
    for worker in running {
        worker.abort();
    }
    rate
}

/// The p50 and p99, in milliseconds, of `samples` (microseconds).
fn percentiles(mut samples: Vec<i64>) -> (f64, f64) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize] as f64 / 1000.0;
    (at(0.5), at(0.99))
}

/// A bot that records how long each message took from its platform session to it.
fn timing(samples: Arc<Mutex<Vec<i64>>>) -> impl Bot {
    from_fn(move |signal: Signal, handle| {
        let samples = samples.clone();
        async move {
            if let (Body::Message(m), Some(received)) = (&signal.body, signal.meta.received) {
                let took = (now() - received).whole_microseconds();
                samples
                    .lock()
                    .unwrap()
                    .push(i64::try_from(took).unwrap_or(i64::MAX));
                handle
                    .send(signal.reply(Message::text(m.text.clone())))
                    .await?;
            }
            Ok(())
        }
    })
}

/// The latency to the bot, through the hub (`true`) or in-process.
async fn latency(through_hub: bool, count: usize) -> (f64, f64) {
    let samples = Arc::new(Mutex::new(Vec::new()));
    let platform = TestPlatform::new("test")
        .giving(from_people(16, count))
        .paced(Duration::from_millis(5));
    let answers = platform.outbound();
    let mut running = Vec::new();
    if through_hub {
        let config = hub();
        let worker = NatsWorker::new(config.clone()).unwrap();
        let journal = worker.journal(MemoryJournal::new());
        running.push(tokio::spawn(
            Router::new()
                .session(worker)
                .journal(journal)
                .run(timing(samples.clone())),
        ));
        tokio::time::sleep(Duration::from_secs(1)).await;
        running.push(tokio::spawn(
            Router::new()
                .session(platform)
                .run(NatsGateway::new(config)),
        ));
    } else {
        running.push(tokio::spawn(
            Router::new()
                .session(platform)
                .journal(MemoryJournal::new())
                .run(timing(samples.clone())),
        ));
    }
    answers.wait_for(|sent| sent.len() >= count).await;
    for task in running {
        task.abort();
    }
    let samples = samples.lock().unwrap().clone();
    percentiles(samples)
}

#[tokio::main]
async fn main() {
    let per_worker = env_or("CHATTY_BENCH_PER_WORKER", 150);
    let runs = env_or("CHATTY_BENCH_RUNS", 1);
    let people = env_or("CHATTY_BENCH_PEOPLE", 64);
    println!("workers: a 20 ms handler, {per_worker} messages per worker from {people} people");
    for run in 1..=runs {
        let one = throughput(1, per_worker).await;
        let two = throughput(2, per_worker).await;
        let four = throughput(4, per_worker).await;
        println!(
            "run {run}: 1 worker {one:.1}/s, 2 workers {two:.1}/s ({:.2} × one), \
             4 workers {four:.1}/s ({:.2} × one)",
            two / one,
            four / one
        );
    }
    println!("latency to the bot, 400 messages one every 5 ms (p50, p99)");
    for run in 1..=runs {
        let (local50, local99) = latency(false, 400).await;
        let (hub50, hub99) = latency(true, 400).await;
        println!(
            "run {run}: in-process {local50:.3} ms, {local99:.3} ms; \
             through the hub {hub50:.3} ms, {hub99:.3} ms"
        );
    }
}
