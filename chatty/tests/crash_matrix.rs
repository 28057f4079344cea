//! The `chatty` program killed in the middle of a burst of Matrix messages: the echo bot with the
//! Logger, on a Matrix session of the test Synapse, its journal on by default. A person (plain
//! client-server HTTP written here: no Chatty code in it, in the test's process, not the bot's)
//! opens a direct chat with the bot and says the burst in it, and keeps saying it while the bot
//! is dead; the bot process is SIGKILLed once some answers arrived and started again a second
//! later with the same config. What was said while it was away comes from the sync after the
//! journal's mark (with its gaps filled). Once every message is answered and nothing more comes,
//! each must have exactly one answer: none lost, none twice.
//!
//! Synapse carries about 50 messages a second here, both ways together, so the burst is 400
//! messages (the other crash tests send 1 000 to faster servers).
//!
//! Needs the test Synapse (`scripts/test-servers`; `eval "$(scripts/test-servers env)"`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use chatty_test::servers::{MatrixAccount, matrix_account, matrix_server};
use common::crash::Chatty;
use http_body_util::{BodyExt as _, Full};
use hyper::Method;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

mod common;

/// How many messages the person says.
const MESSAGES: usize = 400;
/// How many answers must have arrived before the kill.
const KILL_AFTER: usize = 120;
/// How long the bot stays dead.
const DEAD_FOR: Duration = Duration::from_secs(1);
/// How many messages may wait for their answer while the bot runs (then full pace).
const WINDOW: usize = 40;
/// How long nothing must come, once every message is answered, to count.
const QUIET: Duration = Duration::from_secs(6);
/// The longest the whole exchange may take.
const DEADLINE: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_burst_loses_and_repeats_no_answer() {
    let dir = tempfile::tempdir().unwrap();
    let bot = matrix_account();
    let person = Person::login(&matrix_account()).await;
    let mut chatty = Chatty::start(dir.path(), &config(&bot), "info");

    // A direct chat with the bot, which accepts the invitation once it runs.
    let room = person.create_direct_chat(&bot.user_id).await;
    let mut heard = person.listen(room.clone(), bot.user_id.clone());
    warm_up(&person, &room, &mut heard, &mut chatty).await;

    let run = format!("x{}", std::process::id());
    let text = move |i: usize| format!("x{}-{i:04}", std::process::id());
    let number = |body: &str| {
        (body.len() == run.len() + 5 && body.starts_with(&run))
            .then(|| body[run.len() + 1..].parse::<usize>().ok())
            .flatten()
    };
    // The messages go from a task of their own, one after the other (a send is never cut
    // short), as many as the loop below allows.
    let sent = Arc::new(AtomicUsize::new(0));
    let (allow, mut allowed) = mpsc::unbounded_channel::<()>();
    let sender = {
        let (person, room, sent) = (person.clone(), room.clone(), sent.clone());
        tokio::spawn(async move {
            while allowed.recv().await.is_some() {
                let i = sent.load(Ordering::Relaxed);
                person.say(&room, &text(i)).await;
                sent.store(i + 1, Ordering::Relaxed);
            }
        })
    };
    let mut answers: BTreeMap<usize, usize> = BTreeMap::new();
    let mut granted = 0;
    let started = Instant::now();
    let mut last_answer = Instant::now();
    loop {
        let answered: usize = answers.values().sum();
        let limit = if chatty.killed() {
            MESSAGES
        } else {
            (answered + WINDOW).min(MESSAGES)
        };
        while granted < limit {
            allow.send(()).unwrap();
            granted += 1;
        }
        tokio::select! {
            body = heard.recv() => {
                let body = body.expect("the person's sync runs");
                if let Some(i) = number(&body).filter(|i| *i < MESSAGES) {
                    *answers.entry(i).or_default() += 1;
                    last_answer = Instant::now();
                }
            }
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        let total: usize = answers.values().sum();
        chatty.step(total, sent.load(Ordering::Relaxed), KILL_AFTER, DEAD_FOR);
        let done =
            chatty.restarted() && answers.len() >= MESSAGES && last_answer.elapsed() >= QUIET;
        if done || started.elapsed() > DEADLINE {
            break;
        }
    }
    chatty.stop();
    sender.abort();
    let sent = sent.load(Ordering::Relaxed);

    chatty.assert_burst(MESSAGES, sent, DEAD_FOR, &answers);
}

/// The config file of the echo bot on the account `bot`.
fn config(bot: &MatrixAccount) -> String {
    let server = matrix_server();
    format!(
        r#"
[sessions.chat]
answer_limit = false

[sessions.chat.matrix]
homeserver = "{url}"
user = "{user}"
password = {{ inline = "{password}" }}
connect_timeout_ms = 5000
reconnect_min_ms = 200
reconnect_max_ms = 2000

[bots.echo]
sessions = ["chat"]
echo = {{}}
logger = {{}}
"#,
        url = server.url,
        user = bot.user,
        password = bot.password,
    )
}

/// Says `warm-up-N` in the room every two seconds until the bot answers one (it may still be
/// logging in and joining).
async fn warm_up(
    person: &Person,
    room: &str,
    heard: &mut mpsc::UnboundedReceiver<String>,
    chatty: &mut Chatty,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    for n in 0.. {
        assert!(
            Instant::now() < deadline,
            "no answer to the warm-up within a minute:\n{}",
            chatty.tail()
        );
        chatty.check();
        person.say(room, &format!("warm-up-{n}")).await;
        let wait = tokio::time::sleep(Duration::from_secs(2));
        tokio::pin!(wait);
        loop {
            tokio::select! {
                () = &mut wait => break,
                body = heard.recv() => {
                    if body.expect("the person's sync runs").starts_with("warm-up-") {
                        return;
                    }
                }
            }
        }
    }
}

/// The person: a logged-in device of a pool account, speaking the client-server API.
#[derive(Clone)]
struct Person {
    token: String,
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Person {
    /// Logs `account` in.
    async fn login(account: &MatrixAccount) -> Person {
        let mut person = Person {
            token: String::new(),
            base: matrix_server().url.trim_end_matches('/').to_owned(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        };
        let login = person
            .request(
                Method::POST,
                "/login",
                Some(json!({"type": "m.login.password",
                    "identifier": {"type": "m.id.user", "user": account.user},
                    "password": account.password})),
            )
            .await;
        person.token = login["access_token"].as_str().expect("a token").to_owned();
        person
    }

    /// A client-server API request (`path` after `/_matrix/client/v3`); panics unless 2xx.
    async fn request(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let uri = format!("{}/_matrix/client/v3{path}", self.base);
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut request = hyper::Request::builder().method(method).uri(&uri);
        if !self.token.is_empty() {
            request = request.header("authorization", format!("Bearer {}", self.token));
        }
        let request = request
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let response = tokio::time::timeout(Duration::from_secs(60), self.client.request(request))
            .await
            .expect("an answer in time")
            .expect("the test Synapse");
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        assert!(status.is_success(), "{uri}: {status} {value}");
        value
    }

    /// Creates a direct chat inviting `user`: the room's ID.
    async fn create_direct_chat(&self, user: &str) -> String {
        let body = json!({"preset": "trusted_private_chat", "invite": [user], "is_direct": true});
        let room = self.request(Method::POST, "/createRoom", Some(body)).await;
        room["room_id"].as_str().unwrap().to_owned()
    }

    /// Says `text` in `room`.
    async fn say(&self, room: &str, text: &str) {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = format!("/rooms/{room}/send/m.room.message/t{nanos}");
        let body = json!({"msgtype": "m.text", "body": text});
        self.request(Method::PUT, &path, Some(body)).await;
    }

    /// The bodies of what `sender` says in `room`, from now on, read by a sync loop of the
    /// person's own (a limited timeline filled from `/messages`, so that nothing is missed).
    fn listen(&self, room: String, sender: String) -> mpsc::UnboundedReceiver<String> {
        let (tx, rx) = mpsc::unbounded_channel();
        let person = self.clone();
        tokio::spawn(async move {
            let first = person.request(Method::GET, "/sync?timeout=0", None).await;
            let mut since = first["next_batch"].as_str().unwrap().to_owned();
            loop {
                let path = format!("/sync?timeout=5000&since={}", encode(&since));
                let sync = person.request(Method::GET, &path, None).await;
                let timeline = &sync["rooms"]["join"][&room]["timeline"];
                let mut events: Vec<Value> =
                    timeline["events"].as_array().cloned().unwrap_or_default();
                if timeline["limited"] == true
                    && let Some(from) = timeline["prev_batch"].as_str()
                {
                    let mut gap = person.gap(&room, from, &since).await;
                    gap.extend(events);
                    events = gap;
                }
                for event in events {
                    if event["type"] == "m.room.message"
                        && event["sender"] == sender.as_str()
                        && let Some(body) = event["content"]["body"].as_str()
                        && tx.send(body.to_owned()).is_err()
                    {
                        return;
                    }
                }
                since = sync["next_batch"].as_str().unwrap().to_owned();
            }
        });
        rx
    }

    /// The events of `room` between the sync token `to` and `from` (a gap), oldest first.
    async fn gap(&self, room: &str, from: &str, to: &str) -> Vec<Value> {
        let mut events = Vec::new();
        let mut from = from.to_owned();
        loop {
            let path = format!(
                "/rooms/{room}/messages?dir=b&limit=100&from={}&to={}",
                encode(&from),
                encode(to)
            );
            let page = self.request(Method::GET, &path, None).await;
            let chunk = page["chunk"].as_array().cloned().unwrap_or_default();
            if chunk.is_empty() {
                break;
            }
            events.extend(chunk);
            match page["end"].as_str() {
                Some(end) => from = end.to_owned(),
                None => break,
            }
        }
        events.reverse();
        events
    }
}

/// Percent-encodes a token for a query string.
fn encode(token: &str) -> String {
    token
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
