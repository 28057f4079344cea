//! Signals per second through a bot with and without the Logger (SQLite file, WAL) on a direct
//! connection, in the same run: the Logger waiting for each record to be committed (the
//! default), queueing its records (`queue_records`), and with `sync_every_record` (durability
//! full). Each line also gives the process's CPU time per signal.
//!
//! `cargo bench -p chatty-log --bench logger` (`CHATTY_BENCH_SIGNALS`, default 20 000;
//! `CHATTY_BENCH_ROUNDS`, default 3).

use std::time::Duration;

use chatty_core::{LayerExt, Router};
use chatty_direct::Network;
use chatty_log::{LoggerConfig, LoggerLayer, SqliteStore};
use chatty_test::load::{Count, cpu_time, env_or, time_flood};
use tokio::sync::oneshot;

/// `n` messages from one bot to another; the receiver is logged when `log` is given.
async fn round(n: usize, log: Option<SqliteStore>) -> Duration {
    let network = Network::new();
    let receiver = network.endpoint("receiver");
    let to = receiver.address().clone();
    let (done_tx, done_rx) = oneshot::channel();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let stop = async move {
        let _ = stop_rx.await;
    };
    let bot = Count {
        n,
        done: Some(done_tx),
    };
    let router = Router::new().session(receiver);
    let receiving = match log {
        Some(store) => tokio::spawn(router.run_until(bot.wrap(LoggerLayer::new(store)), stop)),
        None => tokio::spawn(router.run_until(bot, stop)),
    };
    let elapsed = time_flood(network.endpoint("sender"), to, n, done_rx).await;
    let _ = stop_tx.send(());
    let _ = receiving.await;
    elapsed
}

fn main() {
    let n = env_or("CHATTY_BENCH_SIGNALS", 20_000);
    let rounds = env_or("CHATTY_BENCH_ROUNDS", 3);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let dir = tempfile::tempdir().expect("a temporary directory");
    println!("signals per round: {n}, rounds: {rounds}, SQLite file store (WAL) in {dir:?}");
    runtime.block_on(async {
        for r in 0..rounds {
            let started = cpu_time();
            let plain = round(n, None).await;
            let mut line = format!(
                "round {r}: without logger {:>7.0}/s ({:.1} µs CPU each)",
                n as f64 / plain.as_secs_f64(),
                (cpu_time() - started).as_secs_f64() * 1e6 / n as f64,
            );
            for (name, sync, queued) in [
                ("awaited", false, false),
                ("queued", false, true),
                ("sync_every_record", true, false),
            ] {
                let path = dir.path().join(format!("log-{r}-{name}.db"));
                let config = LoggerConfig::new(&path)
                    .with_sync_every_record(sync)
                    .with_queued_records(queued);
                let store = SqliteStore::open_with(&config)
                    .await
                    .expect("the store opens");
                // Synced writes are slow: a tenth of the signals is enough to measure them.
                let count = if sync { n / 10 } else { n };
                let started = cpu_time();
                let mut logged = round(count, Some(store.clone())).await;
                // Queued records may still be on their way: the time until they are committed
                // counts.
                let flushing = std::time::Instant::now();
                store.db().flush().await.expect("the records are written");
                logged += flushing.elapsed();
                let used = cpu_time() - started;
                store.close().await;
                let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                line.push_str(&format!(
                    ", logged ({name}) {:>6.0}/s ({:.1} µs CPU, {:.0} bytes each)",
                    count as f64 / logged.as_secs_f64(),
                    used.as_secs_f64() * 1e6 / count as f64,
                    size as f64 / count as f64,
                ));
            }
            println!("{line}");
        }
    });
}
