//! What the integration tests share: a bot that passes every signal to the test, waiting for
//! signals, and a person on the test Synapse speaking plain client-server HTTP.

#![allow(dead_code, unreachable_pub)]

pub mod bot;
mod register;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use chatty_core::{Body, Handle, Signal, from_fn};
use chatty_test::servers::{MatrixAccount, matrix_server};
use http_body_util::{BodyExt as _, Full};
use hyper::Method;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::timeout;

/// How long a test waits for one thing.
pub const WAIT: Duration = Duration::from_secs(20);

/// The signals the spy bot passes on.
pub type Signals = mpsc::UnboundedReceiver<(Signal, Handle)>;

/// A bot passing every signal (with its handle) to the test.
pub fn spy() -> (impl chatty_core::Bot, Signals) {
    let (tx, rx) = mpsc::unbounded_channel();
    let bot = from_fn(move |signal: Signal, handle: Handle| {
        let tx = tx.clone();
        async move {
            let _ = tx.send((signal, handle));
            Ok(())
        }
    });
    (bot, rx)
}

/// The next signal `want` accepts (the others are skipped).
pub async fn next_where(
    rx: &mut Signals,
    mut want: impl FnMut(&Signal) -> bool,
) -> (Signal, Handle) {
    loop {
        let (signal, handle) = timeout(WAIT, rx.recv())
            .await
            .expect("a signal in time")
            .expect("the bot runs");
        if want(&signal) {
            return (signal, handle);
        }
    }
}

/// A message's text.
pub fn text(signal: &Signal) -> Option<&str> {
    match &signal.body {
        Body::Message(m) => Some(&m.text),
        _ => None,
    }
}

/// A user registered for the test, as an account to log in with: no other device, no history.
/// Synapse's presence is the most present of a user's devices, so a pool account that another
/// test's session synced with shortly before stays "online" whatever this test sets.
pub async fn fresh_account(prefix: &str) -> MatrixAccount {
    let person = Person::register(prefix).await;
    let user = person
        .user_id
        .trim_start_matches('@')
        .split(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    MatrixAccount {
        password: format!("secret-{user}"),
        user_id: person.user_id.clone(),
        user,
    }
}

/// A person on the test Synapse, logged in with a password, speaking plain HTTP.
pub struct Person {
    /// The full user ID.
    pub user_id: String,
    token: String,
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
    txn: AtomicU64,
}

impl Person {
    /// Logs `account` of the shared test Synapse in (a new device).
    pub async fn login(account: &MatrixAccount) -> Person {
        Person::login_at(&matrix_server().url, account).await
    }

    /// Logs `account` of the homeserver at `url` in (a new device).
    pub async fn login_at(url: &str, account: &MatrixAccount) -> Person {
        let mut person = Person {
            user_id: account.user_id.clone(),
            token: String::new(),
            base: url.trim_end_matches('/').to_owned(),
            client: Client::builder(TokioExecutor::new()).build_http(),
            txn: AtomicU64::new(0),
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

    /// Registers a new user on the shared test Synapse (an account without history) and logs
    /// it in.
    pub async fn register(prefix: &str) -> Person {
        let server = matrix_server();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let user = format!("{prefix}{}", nanos % 1_000_000_000_000);
        let password = format!("secret-{user}");
        let mut person = Person {
            user_id: format!("@{user}:{}", server.server_name),
            token: String::new(),
            base: server.url.trim_end_matches('/').to_owned(),
            client: Client::builder(TokioExecutor::new()).build_http(),
            txn: AtomicU64::new(0),
        };
        let admin = format!("{}/_synapse/admin/v1/register", person.base);
        let nonce = person.raw(Method::GET, &admin, None).await;
        let nonce = nonce["nonce"].as_str().expect("a nonce").to_owned();
        let data = format!("{nonce}\0{user}\0{password}\0notadmin");
        let mac = register::hmac_sha1_hex(server.shared_secret.as_bytes(), data.as_bytes());
        let body = json!({"nonce": nonce, "username": user, "password": password,
                          "admin": false, "mac": mac});
        let registered = person.raw(Method::POST, &admin, Some(body)).await;
        person.token = registered["access_token"]
            .as_str()
            .expect("a token")
            .to_owned();
        person
    }

    /// A client-server API request (`path` after `/_matrix/client/v3`); panics unless 2xx.
    pub async fn request(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let uri = format!("{}/_matrix/client/v3{path}", self.base);
        self.raw(method, &uri, body).await
    }

    /// Sets this person's presence (`online`, `unavailable`, `offline`) with a status message.
    /// Synapse marks an account that was just active (it sent a message) online again a little
    /// later, so a test sets it again until what it waits for shows.
    pub async fn set_presence(&self, presence: &str, message: &str) {
        let path = format!("/presence/{}/status", self.user_id);
        let body = json!({"presence": presence, "status_msg": message});
        self.request(Method::PUT, &path, Some(body)).await;
    }

    /// Uploads `data` to the media repository: its `mxc://` URL.
    pub async fn upload(&self, name: &str, media_type: &str, data: &'static [u8]) -> String {
        let uri = format!("{}/_matrix/media/v3/upload?filename={name}", self.base);
        let bytes = self.bytes(Method::POST, &uri, media_type, data).await;
        let value: Value = serde_json::from_slice(&bytes).expect("JSON");
        value["content_uri"]
            .as_str()
            .expect("an mxc URL")
            .to_owned()
    }

    /// The bytes at `mxc` (authenticated media).
    pub async fn fetch(&self, mxc: &str) -> Bytes {
        let path = mxc.strip_prefix("mxc://").expect("an mxc URL");
        let uri = format!("{}/_matrix/client/v1/media/download/{path}", self.base);
        self.bytes(Method::GET, &uri, "application/octet-stream", b"")
            .await
    }

    /// A request with a body of bytes: the answer's bytes; panics unless 2xx.
    async fn bytes(
        &self,
        method: Method,
        uri: &str,
        media_type: &str,
        data: &'static [u8],
    ) -> Bytes {
        let request = hyper::Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", media_type)
            .body(Full::new(Bytes::from_static(data)))
            .unwrap();
        let response = timeout(WAIT * 2, self.client.request(request))
            .await
            .expect("an answer in time")
            .expect("the test Synapse");
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        assert!(status.is_success(), "{uri}: {status} {bytes:?}");
        bytes
    }

    /// A request to `uri`; panics unless 2xx.
    async fn raw(&self, method: Method, uri: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut request = hyper::Request::builder().method(method).uri(uri);
        if !self.token.is_empty() {
            request = request.header("authorization", format!("Bearer {}", self.token));
        }
        let request = request
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let response = timeout(WAIT * 2, self.client.request(request))
            .await
            .expect("an answer in time")
            .expect("the test Synapse");
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        assert!(status.is_success(), "{uri}: {status} {value}");
        value
    }

    /// Creates a private room inviting `invite`, a direct chat when `direct`: its ID.
    pub async fn create_room(&self, invite: &str, direct: bool) -> String {
        let room = self
            .request(
                Method::POST,
                "/createRoom",
                Some(json!({"preset": "private_chat", "invite": [invite], "is_direct": direct})),
            )
            .await;
        room["room_id"].as_str().unwrap().to_owned()
    }

    /// Waits until `user` is a joined member of `room`.
    pub async fn wait_joined(&self, room: &str, user: &str) {
        timeout(WAIT, async {
            loop {
                let members = self
                    .request(Method::GET, &format!("/rooms/{room}/joined_members"), None)
                    .await;
                if members["joined"].get(user).is_some() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await
        .expect("joined in time");
    }

    /// Sends a message with `content`: its event ID.
    pub async fn send(&self, room: &str, content: Value) -> String {
        let txn = self.txn.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = format!("/rooms/{room}/send/m.room.message/t{nanos}-{txn}");
        let sent = self.request(Method::PUT, &path, Some(content)).await;
        sent["event_id"].as_str().unwrap().to_owned()
    }

    /// Says `text` in `room`.
    pub async fn say(&self, room: &str, text: &str) -> String {
        self.send(room, json!({"msgtype": "m.text", "body": text}))
            .await
    }

    /// Types in `room` (or stops).
    pub async fn typing(&self, room: &str, on: bool) {
        let path = format!("/rooms/{room}/typing/{}", self.user_id);
        self.request(
            Method::PUT,
            &path,
            Some(json!({"typing": on, "timeout": 30000})),
        )
        .await;
    }

    /// The bodies of the messages from `sender` among the last 400 events of `room`, oldest
    /// first.
    pub async fn bodies(&self, room: &str, sender: &str) -> Vec<String> {
        let page = self
            .request(
                Method::GET,
                &format!("/rooms/{room}/messages?dir=b&limit=400"),
                None,
            )
            .await;
        let mut bodies: Vec<String> = page["chunk"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["type"] == "m.room.message" && e["sender"] == sender)
            .filter_map(|e| e["content"]["body"].as_str().map(str::to_owned))
            .collect();
        bodies.reverse();
        bodies
    }

    /// The first message event from `sender` in `room` that `want` accepts (the last 50 events
    /// asked again until one does).
    pub async fn until_message(
        &self,
        room: &str,
        sender: &str,
        mut want: impl FnMut(&Value) -> bool,
    ) -> Value {
        self.until_event(room, sender, |e| e["type"] == "m.room.message" && want(e))
            .await
    }

    /// The first event from `sender` in `room` that `want` accepts (the last 50 events asked
    /// again until one does).
    pub async fn until_event(
        &self,
        room: &str,
        sender: &str,
        mut want: impl FnMut(&Value) -> bool,
    ) -> Value {
        timeout(WAIT, async {
            loop {
                let page = self
                    .request(
                        Method::GET,
                        &format!("/rooms/{room}/messages?dir=b&limit=50"),
                        None,
                    )
                    .await;
                let found = page["chunk"].as_array().and_then(|events| {
                    events
                        .iter()
                        .rev()
                        .find(|e| e["sender"] == sender && want(e))
                        .cloned()
                });
                if let Some(event) = found {
                    return event;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await
        .expect("the message in time")
    }

    /// The rooms this person is in or invited to by `inviter` (a first sync, so all of them):
    /// for a person registered for the test, the rooms the bot opened with them.
    pub async fn rooms_with(&self, inviter: &str) -> Vec<String> {
        let sync = self.request(Method::GET, "/sync?timeout=0", None).await;
        let mut rooms: Vec<String> = sync["rooms"]["join"]
            .as_object()
            .map(|joined| joined.keys().cloned().collect())
            .unwrap_or_default();
        if let Some(invited) = sync["rooms"]["invite"].as_object() {
            for (room, invite) in invited {
                let events = invite["invite_state"]["events"].as_array();
                if events.is_some_and(|events| events.iter().any(|e| e["sender"] == inviter)) {
                    rooms.push(room.clone());
                }
            }
        }
        rooms.sort();
        rooms
    }

    /// Waits until a sync shows an invitation from `inviter`: the room's ID.
    pub async fn until_invited(&self, inviter: &str) -> String {
        let mut since: Option<String> = None;
        timeout(WAIT, async {
            loop {
                let mut path = String::from("/sync?timeout=5000");
                if let Some(since) = &since {
                    path.push_str(&format!("&since={}", encode(since)));
                }
                let sync = self.request(Method::GET, &path, None).await;
                let invited = sync["rooms"]["invite"].as_object().and_then(|rooms| {
                    rooms.iter().find_map(|(room, invite)| {
                        let from_inviter =
                            invite["invite_state"]["events"]
                                .as_array()?
                                .iter()
                                .any(|e| {
                                    e["type"] == "m.room.member"
                                        && e["state_key"] == self.user_id.as_str()
                                        && e["sender"] == inviter
                                });
                        from_inviter.then(|| room.clone())
                    })
                });
                if let Some(room) = invited {
                    return room;
                }
                since = sync["next_batch"].as_str().map(str::to_owned);
            }
        })
        .await
        .expect("invited in time")
    }

    /// Waits until `text` from `sender` shows in a room the person is in, joining the rooms
    /// `sender` invites them to on the way: the room's ID.
    pub async fn until_said_anywhere(&self, sender: &str, text: &str) -> String {
        let mut since: Option<String> = None;
        timeout(WAIT, async {
            loop {
                let mut path = String::from("/sync?timeout=5000");
                if let Some(since) = &since {
                    path.push_str(&format!("&since={}", encode(since)));
                }
                let sync = self.request(Method::GET, &path, None).await;
                for (room, invite) in sync["rooms"]["invite"].as_object().into_iter().flatten() {
                    let from_sender = invite["invite_state"]["events"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|e| e["state_key"] == self.user_id.as_str() && e["sender"] == sender);
                    if from_sender {
                        self.join(room).await;
                    }
                }
                for (room, joined) in sync["rooms"]["join"].as_object().into_iter().flatten() {
                    let said = joined["timeline"]["events"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|e| e["sender"] == sender && e["content"]["body"] == text);
                    if said {
                        return room.clone();
                    }
                }
                since = sync["next_batch"].as_str().map(str::to_owned);
            }
        })
        .await
        .expect("said in time")
    }

    /// Joins `room`.
    pub async fn join(&self, room: &str) {
        self.request(Method::POST, &format!("/join/{room}"), Some(json!({})))
            .await;
    }

    /// Waits until a sync shows `user` typing in `room`.
    pub async fn until_typing(&self, room: &str, user: &str) {
        let filter = r#"{"room":{"timeline":{"limit":1}}}"#;
        let mut since: Option<String> = None;
        timeout(WAIT, async {
            loop {
                let mut path = format!("/sync?timeout=5000&filter={}", encode(filter));
                if let Some(since) = &since {
                    path.push_str(&format!("&since={}", encode(since)));
                }
                let sync = self.request(Method::GET, &path, None).await;
                let typing = sync["rooms"]["join"][room]["ephemeral"]["events"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|e| e["type"] == "m.typing")
                    .any(|e| {
                        e["content"]["user_ids"]
                            .as_array()
                            .is_some_and(|ids| ids.iter().any(|id| id == user))
                    });
                if typing {
                    return;
                }
                since = sync["next_batch"].as_str().map(str::to_owned);
            }
        })
        .await
        .expect("typing seen in time");
    }
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
