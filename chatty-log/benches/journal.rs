//! Signals per second appended to the SQLite journal with the Logger's records on the same
//! writer (one `StateDb`, group commit), with many appends in flight; beside it, a bare
//! baseline: the same rows written with raw rusqlite (the writer's binding) in transactions of
//! the same size, on one thread.
//!
//! `cargo bench -p chatty-log --bench journal`
//! (`CHATTY_BENCH_SIGNALS`, default 200 000; `CHATTY_BENCH_ROUNDS`, default 3;
//! `CHATTY_BENCH_INFLIGHT`, default 1 024 appends in flight; `CHATTY_BENCH_ONLY`, one run
//! alone without the baseline, e.g. `NormalAppendRecord`; `CHATTY_BENCH_BACKENDS`, default
//! `sqlite`: `sqlite,postgres` runs each round against both, PostgreSQL in a schema of its own
//! per run in the database `CHATTY_TEST_POSTGRES_URL` names, dropped after the run, with the
//! server's CPU (every `postgres` process of this machine) beside the bench's own).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chatty_core::journal::{EntryId, Journal};
use chatty_core::{Address, Signal};
use chatty_log::{
    Direction, Durability, Location, LogStore, PostgresConfig, StateConfig, StateDb, StateJournal,
    StateStore,
};
use chatty_test::load::{cpu_time, env_or};

/// CPU microseconds per signal.
fn per(used: Duration, n: usize) -> f64 {
    used.as_secs_f64() * 1e6 / n as f64
}

/// What each in-flight task does per signal.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Path_ {
    /// The journal alone: append.
    Journal,
    /// Append, then the Logger's record, each awaited (the Logger's default).
    AppendRecord,
    /// Append awaited, the record queued (`queue_records`).
    AppendQueued,
    /// Append, record, then the bot's acknowledgement (not awaited).
    AppendRecordAck,
}

impl Path_ {
    fn name(self) -> &'static str {
        match self {
            Path_::Journal => "journal append only",
            Path_::AppendRecord => "append + record (awaited)",
            Path_::AppendQueued => "append + record (queued)",
            Path_::AppendRecordAck => "append + record + ack",
        }
    }
}

/// `n` inbound messages as a session would push them.
fn signals(n: usize) -> Vec<Signal> {
    let bot: Address = "xmpp+work:bot@example.org".parse().unwrap();
    let alice: Address = "xmpp+work:alice@example.org/phone".parse().unwrap();
    (0..n)
        .map(|i| {
            let mut s = Signal::message(format!("payload {i}")).to(bot.clone());
            s.meta.origin = Some(alice.clone());
            s.meta.received = Some(chatty_core::now());
            s
        })
        .collect()
}

/// Runs `signals` through `path` with `inflight` tasks; the time, commits and writes.
async fn through(
    db: &StateDb,
    path: Path_,
    signals: Vec<Signal>,
    inflight: usize,
) -> (Duration, u64, u64) {
    let journal = Arc::new(db.journal("bench").await.expect("the journal opens"));
    let store = Arc::new(
        db.log_store()
            .with_queued_records(path == Path_::AppendQueued),
    );
    let before = db.stats();
    // Task k takes signals k, k + inflight, k + 2 inflight, …: what is in flight at once was
    // received at about the same time, as from sessions pushing concurrently.
    let mut chunks: Vec<Vec<Signal>> = (0..inflight).map(|_| Vec::new()).collect();
    for (i, signal) in signals.into_iter().enumerate() {
        chunks[i % inflight].push(signal);
    }
    let started = Instant::now();
    let tasks: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let (journal, store) = (journal.clone(), store.clone());
            tokio::spawn(async move { work(&journal, &store, path, chunk).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("a task ends");
    }
    db.flush().await.expect("the queue is written");
    let elapsed = started.elapsed();
    let after = db.stats();
    (
        elapsed,
        after.commits - before.commits,
        after.writes - before.writes,
    )
}

async fn work(journal: &StateJournal, store: &StateStore, path: Path_, chunk: Vec<Signal>) {
    for signal in chunk {
        journal.append("work", &signal).await.expect("appended");
        if path == Path_::Journal {
            continue;
        }
        store
            .record(Direction::In, &signal)
            .await
            .expect("recorded");
        if path == Path_::AppendRecordAck {
            journal.ack(&EntryId::of("work", &signal));
        }
    }
}

/// The statements of the baseline for `rows` rows each: journal keys, journal signals, log
/// records, addressees.
fn statements(rows: usize) -> [Arc<str>; 4] {
    let many = |head: &str, row: &str, tail: &str| {
        let values = vec![row; rows].join(", ");
        Arc::<str>::from(format!("{head} VALUES {values} {tail}"))
    };
    [
        many(
            "INSERT INTO journal_keys (session, sender, id)",
            "(?, ?, ?)",
            "ON CONFLICT DO NOTHING",
        ),
        many(
            "INSERT INTO journal_pending (seq, session, signal)",
            "(?, ?, ?)",
            "",
        ),
        many(
            "INSERT INTO signals (direction, id, kind, response_to, origin_platform, \
             origin_session, origin_id, recorded_at_ms, signal)",
            "(?, ?, ?, ?, ?, ?, ?, ?, ?)",
            "",
        ),
        many(
            "INSERT INTO addressees (seq, direction, platform, session, id)",
            "(?, ?, ?, ?, ?)",
            "",
        ),
    ]
}

/// The same rows as the journal and the Logger write (a journal key and signal, a record, an
/// addressee per signal), written with raw rusqlite (the writer's binding) on one connection
/// on this thread, in transactions of `batch` signals: no queue, no futures, no thread
/// hand-off; at most `rows` rows per statement, split as the writer splits them (256, 64, 16,
/// 4, 1), or one prepared statement per row (`rows` 1).
fn baseline(
    file: &Path,
    durability: Durability,
    signals: &[Signal],
    batch: usize,
    rows: usize,
) -> Duration {
    let mut conn = rusqlite::Connection::open(file).expect("a connection");
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))
        .expect("WAL");
    let synchronous = match durability {
        Durability::Full => "FULL",
        _ => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", synchronous)
        .expect("synchronous");
    conn.pragma_update(None, "cache_size", -32768)
        .expect("cache_size");
    conn.pragma_update(None, "temp_store", "MEMORY")
        .expect("temp_store");
    let sizes: Vec<usize> = [256, 64, 16, 4, 1]
        .into_iter()
        .filter(|&s| s <= rows)
        .collect();
    let texts: HashMap<usize, [Arc<str>; 4]> = sizes.iter().map(|&s| (s, statements(s))).collect();
    let started = Instant::now();
    for transaction in signals.chunks(batch) {
        let tx = conn.transaction().expect("begin");
        let mut rest = transaction;
        while !rest.is_empty() {
            let size = sizes
                .iter()
                .copied()
                .find(|&s| s <= rest.len())
                .unwrap_or(1);
            let (group, tail) = rest.split_at(size);
            insert(&tx, &texts[&size], group).expect("the rows are inserted");
            rest = tail;
        }
        tx.commit().expect("commit");
    }
    started.elapsed()
}

/// Binds `values` after the `at` parameters bound so far.
fn bind(
    query: &mut rusqlite::CachedStatement<'_>,
    at: &mut usize,
    values: &[&dyn rusqlite::ToSql],
) -> rusqlite::Result<()> {
    for value in values {
        *at += 1;
        query.raw_bind_parameter(*at, value)?;
    }
    Ok(())
}

fn insert(
    tx: &rusqlite::Connection,
    texts: &[Arc<str>; 4],
    group: &[Signal],
) -> rusqlite::Result<()> {
    let [keys, pending, records, addressees] = texts;
    let (mut query, mut at) = (tx.prepare_cached(keys)?, 0);
    for signal in group {
        let entry = EntryId::of("work", signal);
        bind(
            &mut query,
            &mut at,
            &[&&*entry.session, &entry.sender, &entry.id.as_str()],
        )?;
    }
    query.raw_execute()?;
    let first = tx.last_insert_rowid() - group.len() as i64 + 1;
    let (mut query, mut at) = (tx.prepare_cached(pending)?, 0);
    for (seq, signal) in (first..).zip(group) {
        let json = serde_json::to_string(signal).unwrap();
        bind(&mut query, &mut at, &[&seq, &"work", &json])?;
    }
    query.raw_execute()?;
    let (mut query, mut at) = (tx.prepare_cached(records)?, 0);
    for signal in group {
        let origin = signal.meta.origin.as_ref().unwrap();
        let json = serde_json::to_string(signal).unwrap();
        bind(
            &mut query,
            &mut at,
            &[
                &"in",
                &signal.meta.id.as_str(),
                &"message",
                &None::<String>,
                &origin.platform(),
                &origin.session(),
                &origin.id(),
                &0_i64,
                &json,
            ],
        )?;
    }
    query.raw_execute()?;
    let first = tx.last_insert_rowid() - group.len() as i64 + 1;
    let (mut query, mut at) = (tx.prepare_cached(addressees)?, 0);
    for (seq, signal) in (first..).zip(group) {
        let to = &signal.meta.addressees[0];
        bind(
            &mut query,
            &mut at,
            &[&seq, &"in", &to.platform(), &to.session(), &to.id()],
        )?;
    }
    query.raw_execute()?;
    Ok(())
}

/// Removes a database file and SQLite's files beside it (a run writes hundreds of megabytes).
fn remove(file: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = file.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(name);
    }
}

fn rate(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

/// The CPU time of every `postgres` process of this machine (the test server's): what the
/// database server spent, beside the bench's own.
fn server_cpu_time() -> Duration {
    let tick = 100.0; // USER_HZ on Linux.
    let mut ticks = 0_u64;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some((name, rest)) = stat.split_once(") ") else {
            continue;
        };
        if !name.ends_with("(postgres") {
            continue;
        }
        let fields: Vec<&str> = rest.split_whitespace().collect();
        for i in [11, 12] {
            ticks += fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Duration::from_secs_f64(ticks as f64 / tick)
}

/// Where a run writes: an SQLite file, or a schema of the PostgreSQL database.
enum Place {
    File(std::path::PathBuf),
    Schema { url: String, schema: String },
}

impl Place {
    fn config(&self, durability: Durability) -> StateConfig {
        let location = match self {
            Place::File(file) => Location::Sqlite(file.clone()),
            Place::Schema { url, schema } => Location::Postgres(
                PostgresConfig::new(url.clone())
                    .expect("a PostgreSQL URL")
                    .with_schema(schema.clone())
                    .expect("a schema name"),
            ),
        };
        StateConfig::at(location).with_durability(durability)
    }

    /// How many bytes it holds; then removes it.
    async fn size_and_remove(&self) -> u64 {
        match self {
            Place::File(file) => {
                let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
                remove(file);
                size
            }
            Place::Schema { url, schema } => {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(url).await.expect("connects");
                let size: i64 = sqlx::query_scalar(
                    "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint \
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = $1 AND c.relkind = 'r'",
                )
                .bind(schema)
                .fetch_one(&mut conn)
                .await
                .expect("the size");
                let drop = format!("DROP SCHEMA {schema} CASCADE");
                sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
                    .execute(&mut conn)
                    .await
                    .expect("dropped");
                size as u64
            }
        }
    }
}

fn main() {
    let n = env_or("CHATTY_BENCH_SIGNALS", 200_000);
    let rounds = env_or("CHATTY_BENCH_ROUNDS", 3);
    let inflight = env_or("CHATTY_BENCH_INFLIGHT", 1024);
    // One run alone, for profiling: `NormalAppendRecord`, `FullJournal`, …
    let only = std::env::var("CHATTY_BENCH_ONLY").ok();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let dir = tempfile::tempdir().expect("a temporary directory");
    println!("signals per run: {n}, in flight: {inflight}, rounds: {rounds}, files in {dir:?}");
    let backends = std::env::var("CHATTY_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite".into());
    let postgres = backends
        .contains("postgres")
        .then(|| chatty_test::servers::var("CHATTY_TEST_POSTGRES_URL"));
    runtime.block_on(async {
        for r in 0..rounds {
            for backend in backends.split(',') {
                for durability in [Durability::Normal, Durability::Full] {
                    let name = |path: Path_| format!("{r}_{durability:?}_{path:?}").to_lowercase();
                    let place = |path: Path_| match (backend, &postgres) {
                        ("postgres", Some(url)) => Place::Schema {
                            url: url.clone(),
                            schema: format!("bench_{}", name(path)),
                        },
                        _ => Place::File(dir.path().join(format!("state-{}.db", name(path)))),
                    };
                    let batch = runs(&place, backend, durability, r, n, inflight, &only).await;
                    if only.is_none() && backend == "sqlite" {
                        baselines(dir.path(), durability, r, n, batch).await;
                    }
                }
            }
        }
    });
}

/// The runs of one round with one backend and durability; the signals per commit of
/// append + record.
async fn runs(
    place: &dyn Fn(Path_) -> Place,
    backend: &str,
    durability: Durability,
    r: usize,
    count: usize,
    inflight: usize,
    only: &Option<String>,
) -> usize {
    let mut batch = 1;
    for path in [
        Path_::Journal,
        Path_::AppendRecord,
        Path_::AppendQueued,
        Path_::AppendRecordAck,
    ] {
        if only
            .as_ref()
            .is_some_and(|o| *o != format!("{durability:?}{path:?}"))
        {
            continue;
        }
        let place = place(path);
        let db = StateDb::open(&place.config(durability))
            .await
            .expect("the database opens");
        let all = signals(count);
        let (started, server_started) = (cpu_time(), server_cpu_time());
        let (elapsed, commits, writes) = through(&db, path, all, inflight).await;
        let (used, server_used) = (cpu_time() - started, server_cpu_time() - server_started);
        db.close().await;
        let size = place.size_and_remove().await;
        if path == Path_::AppendRecord {
            batch = count.div_ceil(commits.max(1) as usize);
        }
        let server = match place {
            Place::File(_) => String::new(),
            Place::Schema { .. } => format!(" + {:.1} µs server", per(server_used, count)),
        };
        println!(
            "round {r} {backend} {durability:?} {:<28} {:>8.0} signals/s, {:>5.1} µs CPU each{server}, {commits:>6} commits ({:.0} writes each), {:.0} bytes/signal",
            path.name(),
            rate(count, elapsed),
            per(used, count),
            writes as f64 / commits.max(1) as f64,
            size as f64 / count as f64,
        );
    }
    batch
}

/// The bare rusqlite baselines: the same rows, in transactions of `batch` signals.
async fn baselines(dir: &Path, durability: Durability, r: usize, count: usize, batch: usize) {
    let all = signals(count);
    for rows in [1, 256] {
        let file = dir.join(format!("raw-{r}-{durability:?}-{rows}.db"));
        let started = cpu_time();
        // The schema, made as the writer makes it.
        let db = StateDb::open(&StateConfig::new(&file).with_durability(durability))
            .await
            .expect("the schema is made");
        db.close().await;
        let elapsed = baseline(&file, durability, &all, batch, rows);
        let used = cpu_time() - started;
        remove(&file);
        println!(
            "round {r} sqlite {durability:?} {:<28} {:>8.0} signals/s, {:>5.1} µs CPU each ({} signals per transaction, {rows} rows per statement)",
            "bare rusqlite, same rows",
            rate(count, elapsed),
            per(used, count),
            batch,
        );
    }
}
