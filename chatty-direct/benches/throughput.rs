//! Signals per second through a direct connection between two bots, next to a bare
//! `tokio::sync::mpsc` channel carrying the same signals, in the same run.
//!
//! `cargo bench -p chatty-direct --bench throughput` (set `CHATTY_BENCH_SIGNALS` to change the
//! count, default 1 000 000; `CHATTY_BENCH_ROUNDS`, default 5).

use std::time::{Duration, Instant};

use chatty_core::{Address, Router, Signal};
use chatty_direct::Network;
use chatty_test::load::{Count, env_or, payload, time_flood};
use tokio::sync::{mpsc, oneshot};

async fn bare_channel(n: usize) -> Duration {
    let to: Address = "direct:receiver".parse().expect("valid");
    let (tx, mut rx) = mpsc::channel::<Signal>(chatty_core::DEFAULT_CAPACITY);
    let start = Instant::now();
    let producer = tokio::spawn(async move {
        for _ in 0..n {
            if tx.send(payload(&to)).await.is_err() {
                break;
            }
        }
    });
    let mut count = 0;
    while let Some(signal) = rx.recv().await {
        std::hint::black_box(&signal);
        count += 1;
        if count == n {
            break;
        }
    }
    let elapsed = start.elapsed();
    let _ = producer.await;
    assert_eq!(count, n);
    elapsed
}

async fn direct_connection(n: usize) -> Duration {
    let network = Network::new();
    let receiver = network.endpoint("receiver");
    let to = receiver.address().clone();
    let (done_tx, done_rx) = oneshot::channel();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let receiving = tokio::spawn(Router::new().session(receiver).run_until(
        Count {
            n,
            done: Some(done_tx),
        },
        async move {
            let _ = stop_rx.await;
        },
    ));
    let elapsed = time_flood(network.endpoint("sender"), to, n, done_rx).await;
    let _ = stop_tx.send(());
    let _ = receiving.await;
    elapsed
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn main() {
    let n = env_or("CHATTY_BENCH_SIGNALS", 1_000_000);
    let rounds = env_or("CHATTY_BENCH_ROUNDS", 5);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    println!("signals per round: {n}, rounds: {rounds}, tokio multi-thread runtime, 2 workers");
    let (mut bare, mut direct) = (Vec::new(), Vec::new());
    runtime.block_on(async {
        // One warm-up round of each, not counted.
        bare_channel(n / 10).await;
        direct_connection(n / 10).await;
        for _ in 0..rounds {
            bare.push(rate(n, bare_channel(n).await));
            direct.push(rate(n, direct_connection(n).await));
        }
    });
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (b, d) = (median(&mut bare), median(&mut direct));
    println!("bare tokio mpsc    : {:>12.0} signals/s (median)", b);
    println!("direct connection  : {:>12.0} signals/s (median)", d);
    println!("ratio bare/direct  : {:>12.2}x", b / d);
}
