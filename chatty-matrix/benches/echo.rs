//! Echo round trips through the test Synapse: a Chatty bot (a `MatrixSession` behind a `Router`)
//! against a bare echo written directly on hyper (a `/sync` long-poll loop and a `PUT` per
//! answer, no framework), in the same run, driven by one person with a window of messages in
//! flight in a private room.
//!
//! chatty-matrix is its own Matrix client (ruma's types and an own sync loop, no client library
//! underneath), so the bare baseline is the same client-server API with no framework: long-poll
//! `/sync`, and answer each message of someone else in the room with the same text.
//!
//! ```sh
//! scripts/test-servers &                      # the test Synapse on loopback (port 18008)
//! eval "$(scripts/test-servers env)"
//! cargo bench -p chatty-matrix --bench echo   # CHATTY_BENCH_N=500 CHATTY_BENCH_WINDOW=32 CHATTY_BENCH_RUNS=3
//! ```
//!
//! `CHATTY_BENCH_ONLY=bare|chatty|journal|logger` runs that echoing side alone (for a
//! profiler).
//!
//! Prints round trips per second for each side and the ratios. The process's CPU time per round
//! trip (its threads' schedstat, `chatty_test::load::threads_cpu_time`) is printed too: the
//! driver is the same for every echoing side, so the differences are the echoing side's. Synapse
//! runs in its own process on the same 2 cores; its CPU time per round trip (from
//! `/proc/PID/stat`, 10 ms ticks, the process found by its port in its command line) is printed
//! when it can be read.
//!
//! The echoing sides, each in a new private room the driver creates and invites it to, on the
//! same pool account:
//! - **bare**: a hand-written echo on hyper and serde_json doing on the wire what the session
//!   does: a `/sync` long poll (timeline limit 100, as the session's filter) from a position
//!   taken after joining, and for each `m.room.message` of someone else in the room a `PUT
//!   /send` of the same text as an `m.text` with `m.in_reply_to` the message answered (the
//!   session's answer to a `Signal::reply`), one after the other;
//! - **chatty**: a `MatrixSession` (the room configured) behind a `Router` with an echo bot;
//!   also with the journal (SQLite, in a temporary directory), and with the journal and the
//!   Logger on one database, as the runner runs it with a `logger`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chatty_matrix::{MatrixConfig, MatrixSession};
use chatty_test::load::{
    Durable, EchoUntil, Measured, bench_only, echo_router, ended, env_or, print_ratios,
    print_writer, threads_cpu_time,
};
use chatty_test::servers::{MatrixAccount, matrix_account, matrix_server};
use http_body_util::{BodyExt as _, Full};
use hyper::{Method, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::timeout;

/// What the driver sends when it is done: the echoing side ends.
const QUIT: &str = "/quit";

/// The warm-up message, sent (again) until its echo comes back.
const WARM: &str = "warm";

/// How long the driver waits for one echo, and an HTTP request for its answer (over a long
/// poll's 30 s).
const WAIT: Duration = Duration::from_secs(40);

/// A logged-in account speaking plain client-server HTTP over hyper (`TCP_NODELAY`, connections
/// kept alive).
#[derive(Clone)]
struct Http {
    /// The full user ID.
    user_id: String,
    /// The homeserver's base URL.
    base: String,
    /// The access token.
    token: String,
    /// hyper's pooled client.
    client: Client<HttpConnector, Full<Bytes>>,
    /// The next transaction ID's number.
    txn: Arc<AtomicU64>,
}

impl Http {
    /// Logs `account` of the test Synapse in (a new device, logged out by [`Http::logout`]).
    async fn login(account: &MatrixAccount) -> Http {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let mut http = Http {
            user_id: account.user_id.clone(),
            base: matrix_server().url.trim_end_matches('/').to_owned(),
            token: String::new(),
            client: Client::builder(TokioExecutor::new()).build(connector),
            txn: Arc::new(AtomicU64::new(0)),
        };
        let body = json!({"type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": account.user},
            "password": account.password,
            "initial_device_display_name": "chatty-matrix echo bench"});
        let login = http.request(Method::POST, "/login", Some(&body)).await;
        http.token = login["access_token"].as_str().expect("a token").to_owned();
        http
    }

    /// A client-server API request (`path` after `/_matrix/client/v3`); a 429 is waited out (up
    /// to 5 times), anything else but 2xx panics.
    async fn request(&self, method: Method, path: &str, body: Option<&Value>) -> Value {
        let uri = format!("{}/_matrix/client/v3{path}", self.base);
        let body = Bytes::from(body.map(Value::to_string).unwrap_or_default());
        let mut tries = 0;
        loop {
            let mut request = hyper::Request::builder().method(method.clone()).uri(&uri);
            if !self.token.is_empty() {
                request = request.header("authorization", format!("Bearer {}", self.token));
            }
            let request = request
                .header("content-type", "application/json")
                .body(Full::new(body.clone()))
                .expect("a request");
            let response = timeout(WAIT, self.client.request(request))
                .await
                .unwrap_or_else(|_| panic!("{method} {path}: no answer in {WAIT:?}"))
                .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
            let status = response.status();
            let bytes = response.into_body().collect().await.expect("a body");
            let value: Value = serde_json::from_slice(&bytes.to_bytes()).unwrap_or(Value::Null);
            if status == StatusCode::TOO_MANY_REQUESTS && tries < 5 {
                tries += 1;
                let wait = value["retry_after_ms"].as_u64().unwrap_or(500);
                tokio::time::sleep(Duration::from_millis(wait)).await;
                continue;
            }
            assert!(status.is_success(), "{method} {path}: {status} {value}");
            return value;
        }
    }

    /// One `/sync` with `filter` (JSON) from `since`, waiting up to `wait_ms` for news.
    async fn sync(&self, since: Option<&str>, filter: &str, wait_ms: u64) -> Value {
        let mut path = format!("/sync?timeout={wait_ms}&filter={}", encode(filter));
        if let Some(since) = since {
            path.push_str(&format!("&since={}", encode(since)));
        }
        self.request(Method::GET, &path, None).await
    }

    /// Sends an `m.room.message` with `content` to `room`.
    async fn send(&self, room: &str, content: &Value) {
        let txn = self.txn.fetch_add(1, Ordering::Relaxed);
        let path = format!(
            "/rooms/{}/send/m.room.message/b{}.{txn}",
            encode(room),
            std::process::id()
        );
        self.request(Method::PUT, &path, Some(content)).await;
    }

    /// Says `text` in `room`.
    async fn say(&self, room: &str, text: &str) {
        self.send(room, &json!({"msgtype": "m.text", "body": text}))
            .await;
    }

    /// Creates a private room inviting `invite`: its ID.
    async fn create_room(&self, invite: &str) -> String {
        let body = json!({"preset": "private_chat", "invite": [invite], "name": "echo bench"});
        let room = self.request(Method::POST, "/createRoom", Some(&body)).await;
        room["room_id"].as_str().expect("a room ID").to_owned()
    }

    /// Joins `room`.
    async fn join(&self, room: &str) {
        let path = format!("/join/{}", encode(room));
        self.request(Method::POST, &path, Some(&json!({}))).await;
    }

    /// Leaves and forgets `room` (the pool accounts keep their rooms between runs: every later
    /// first sync would carry it).
    async fn leave(&self, room: &str) {
        for what in ["leave", "forget"] {
            let path = format!("/rooms/{}/{what}", encode(room));
            self.request(Method::POST, &path, Some(&json!({}))).await;
        }
    }

    /// Waits until `user` is a joined member of `room`.
    async fn wait_joined(&self, room: &str, user: &str) {
        let path = format!("/rooms/{}/joined_members", encode(room));
        timeout(WAIT, async {
            while self.request(Method::GET, &path, None).await["joined"]
                .get(user)
                .is_none()
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{user} did not join {room} in {WAIT:?}"));
    }

    /// Logs this device out.
    async fn logout(&self) {
        self.request(Method::POST, "/logout", Some(&json!({})))
            .await;
    }
}

/// Percent-encodes a path segment or query value.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A sync filter excluding an account-data type of its own that does not exist, so that no
/// earlier request's answer is served from Synapse's sync cache (as the session's filter does).
fn filter(timeline_limit: u32, rooms: Option<&str>) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nonce = format!(
        "bench.nonce.{}.{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut room = json!({"timeline": {"limit": timeline_limit}});
    if let Some(id) = rooms {
        room["rooms"] = json!([id]);
    }
    json!({"room": room, "account_data": {"not_types": [nonce]}}).to_string()
}

/// The messages (sender, event ID, body) of `room`'s timeline in a sync answer, oldest first;
/// a limited timeline is said (echoes in its gap would be missed).
fn messages(sync: &Value, room: &str) -> Vec<(String, String, String)> {
    let timeline = &sync["rooms"]["join"][room]["timeline"];
    if timeline["limited"] == true {
        println!("  (a limited timeline: events between syncs were skipped)");
    }
    let Some(events) = timeline["events"].as_array() else {
        return Vec::new();
    };
    events
        .iter()
        .filter(|e| e["type"] == "m.room.message")
        .filter_map(|e| {
            Some((
                e["sender"].as_str()?.to_owned(),
                e["event_id"].as_str()?.to_owned(),
                e["content"]["body"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// The position `http` is at now (a sync without waiting, timeline limit 1).
async fn position(http: &Http, rooms: Option<&str>) -> String {
    let first = http.sync(None, &filter(1, rooms), 0).await;
    first["next_batch"].as_str().expect("a position").to_owned()
}

/// The bare echo: long-polls `/sync` from `since` and answers every message of someone else in
/// `room` with its text (an `m.text` replying to it), until [`QUIT`].
async fn bare_echo(http: Http, room: String, since: String) {
    let filter = filter(100, None);
    let mut since = since;
    loop {
        let sync = http.sync(Some(&since), &filter, 30_000).await;
        since = sync["next_batch"].as_str().expect("a position").to_owned();
        for (sender, event_id, body) in messages(&sync, &room) {
            if sender == http.user_id {
                continue;
            }
            if body == QUIT {
                return;
            }
            let answer = json!({"msgtype": "m.text", "body": body,
                "m.relates_to": {"m.in_reply_to": {"event_id": event_id}}});
            http.send(&room, &answer).await;
        }
    }
}

/// The driver's own sync loop on `room` from `since`: passes the text of every message of
/// `echoer` there (the last line of the body, should a reply fallback precede it).
fn watch(
    driver: Http,
    room: String,
    echoer: String,
    since: String,
) -> (mpsc::UnboundedReceiver<String>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let filter = filter(100, Some(&room));
        let mut since = since;
        loop {
            let sync = driver.sync(Some(&since), &filter, 30_000).await;
            since = sync["next_batch"].as_str().expect("a position").to_owned();
            for (sender, _, body) in messages(&sync, &room) {
                let text = body.rsplit('\n').next().unwrap_or_default().to_owned();
                if sender == echoer && tx.send(text).is_err() {
                    return;
                }
            }
        }
    });
    (rx, task)
}

/// The test Synapse's process: the one whose command line names its port's directory
/// (`…/matrix/18008/homeserver.yaml`, as `scripts/test-servers` starts it).
fn synapse_pid() -> Option<u32> {
    let port = format!("/{}/", matrix_server().port);
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline);
            (cmdline.contains("synapse.app.homeserver") && cmdline.contains(&port)).then_some(pid)
        })
}

/// The CPU time (user and system) process `pid` used so far, in seconds (10 ms ticks).
fn process_cpu(pid: Option<u32>) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid?)).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// One echoing side, measured: round trips per second and this process's CPU time per round
/// trip, and Synapse's CPU time per round trip (when its process was found).
struct Side {
    /// The rate and this process's CPU time.
    own: Measured,
    /// Synapse's CPU time per round trip, in milliseconds.
    synapse_ms: Option<f64>,
}

/// Sends `n` messages to `room` with `window` in flight (each a `PUT` of its own, at once) and
/// counts `echoer`'s echoes, after a warm-up round trip; then sends [`QUIT`].
async fn measure(driver: &Http, room: &str, echoer: &str, n: usize, window: usize) -> Side {
    let since = position(driver, Some(room)).await;
    let (mut echoes, watcher) = watch(driver.clone(), room.into(), echoer.into(), since);
    // Warm up: one round trip (the echoing side may still be starting).
    loop {
        driver.say(room, WARM).await;
        let answered = timeout(Duration::from_secs(5), async {
            while let Some(text) = echoes.recv().await {
                if text == WARM {
                    return;
                }
            }
            panic!("the driver's sync loop ended");
        })
        .await;
        if answered.is_ok() {
            break;
        }
    }
    let synapse = synapse_pid();
    let synapse_cpu = process_cpu(synapse);
    let mut sender = None;
    let own = Measured::run(n, threads_cpu_time, async {
        let start = Instant::now();
        let permits = Arc::new(Semaphore::new(window));
        sender = Some({
            let (driver, room, permits) = (driver.clone(), room.to_owned(), permits.clone());
            tokio::spawn(async move {
                for i in 0..n {
                    permits.acquire().await.expect("open").forget();
                    let (driver, room) = (driver.clone(), room.clone());
                    tokio::spawn(async move { driver.say(&room, &format!("m{i}")).await });
                }
            })
        });
        let mut received = 0;
        while received < n {
            let text = timeout(WAIT, echoes.recv())
                .await
                .unwrap_or_else(|_| panic!("no echo for {WAIT:?} after {received} of {n}"))
                .expect("the driver's sync loop runs");
            if text != WARM {
                received += 1;
                permits.add_permits(1);
            }
        }
        start.elapsed().as_secs_f64()
    })
    .await;
    let synapse_ms = match (synapse_cpu, process_cpu(synapse)) {
        (Some(before), Some(after)) => Some((after - before) * 1000.0 / n as f64),
        _ => None,
    };
    if let Some(sender) = sender {
        sender.await.expect("the sender");
    }
    watcher.abort();
    driver.say(room, QUIT).await;
    Side { own, synapse_ms }
}

/// The pool accounts of a process: the driver's and the echoing sides', logged in once.
struct Accounts {
    /// The person sending.
    driver: Http,
    /// The echoing account, as the bare echo speaks (also leaves the rooms afterwards).
    echoer: Http,
    /// The echoing account, for the Chatty session's config.
    echo_account: MatrixAccount,
}

/// The bare echo, in a new room.
async fn bare(accounts: &Accounts, n: usize, window: usize) -> Side {
    let Accounts { driver, echoer, .. } = accounts;
    let room = driver.create_room(&echoer.user_id).await;
    echoer.join(&room).await;
    let since = position(echoer, None).await;
    let task = tokio::spawn(bare_echo(echoer.clone(), room.clone(), since));
    let measured = measure(driver, &room, &echoer.user_id, n, window).await;
    ended(task).await;
    echoer.leave(&room).await;
    driver.leave(&room).await;
    measured
}

/// A Chatty bot echoing in a new room: a `MatrixSession` (the room configured) behind a
/// `Router`, with what `durable` says.
async fn chatty(accounts: &Accounts, n: usize, window: usize, durable: Durable) -> Side {
    let Accounts {
        driver,
        echoer,
        echo_account,
    } = accounts;
    let room = driver.create_room(&echoer.user_id).await;
    let config = MatrixConfig::new(
        matrix_server().url,
        &echo_account.user,
        echo_account.password.as_str(),
    )
    .with_room(&room);
    let mut router = echo_router(MatrixSession::new(config).expect("a valid config"));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut bot = chatty_core::BoxBot::new(EchoUntil(QUIT));
    let mut stats = None;
    if durable != Durable::Nothing {
        let state = chatty_log::StateConfig::new(dir.path().join("state.sqlite"));
        let db = chatty_log::StateDb::open(&state).await.expect("the state");
        stats = Some(db.clone());
        router = router.journal(db.journal("bench").await.expect("the journal"));
        if durable == Durable::JournalAndLogger {
            let store = db.log_store().with_queued_records(true);
            bot = chatty_core::BoxBot::new(chatty_core::LayerExt::wrap(
                EchoUntil(QUIT),
                chatty_log::LoggerLayer::new(store),
            ));
        }
    }
    let task = tokio::spawn(async move {
        let _ = router.run(bot).await;
        drop(dir);
    });
    driver.wait_joined(&room, &echoer.user_id).await;
    let measured = measure(driver, &room, &echoer.user_id, n, window).await;
    ended(task).await;
    if let Some(db) = stats {
        let stats = db.stats();
        print_writer(stats.commits, stats.writes);
    }
    echoer.leave(&room).await;
    driver.leave(&room).await;
    measured
}

/// One side's figures: rate, this process's CPU and Synapse's per round trip.
fn show(side: &Side) -> String {
    let synapse = side
        .synapse_ms
        .map_or_else(|| "n/a".to_owned(), |ms| format!("{ms:.2}"));
    format!("{}, Synapse {synapse} ms", side.own.show(1, 3))
}

#[tokio::main]
async fn main() {
    let n = env_or("CHATTY_BENCH_N", 500);
    let window = env_or("CHATTY_BENCH_WINDOW", 32);
    let runs = env_or("CHATTY_BENCH_RUNS", 3);
    let echo_account = matrix_account();
    let accounts = Accounts {
        driver: Http::login(&matrix_account()).await,
        echoer: Http::login(&echo_account).await,
        echo_account,
    };
    println!(
        "echo round trips through Synapse: {n} per run, {window} in flight, {runs} runs; driver {}, echoer {}",
        accounts.driver.user_id, accounts.echoer.user_id
    );
    println!("(rt/s, the whole process's CPU time per round trip, Synapse's)");
    // `None` for the bare echo.
    if let Some((only, durable)) = bench_only(&[("bare", None)], Some) {
        for run in 1..=runs {
            let m = match durable {
                None => bare(&accounts, n, window).await,
                Some(durable) => chatty(&accounts, n, window, durable).await,
            };
            println!("run {run}: {only} {}", show(&m));
        }
    } else {
        for run in 1..=runs {
            let plain = bare(&accounts, n, window).await;
            println!("run {run}: bare {}", show(&plain));
            let chatty_bare = chatty(&accounts, n, window, Durable::Nothing).await;
            println!("       chatty {}", show(&chatty_bare));
            let journal = chatty(&accounts, n, window, Durable::Journal).await;
            println!("       chatty+journal {}", show(&journal));
            let logged = chatty(&accounts, n, window, Durable::JournalAndLogger).await;
            println!("       chatty+journal+logger {}", show(&logged));
            print_ratios(&[
                ("chatty/bare", &chatty_bare.own, &plain.own),
                ("+journal", &journal.own, &plain.own),
                ("+journal+logger", &logged.own, &plain.own),
            ]);
        }
    }
    accounts.driver.logout().await;
    accounts.echoer.logout().await;
}
