//! What the integration tests share: the workspaces they start from, Web API calls over raw
//! HTTP/1.1, a raw Socket Mode client (tokio-tungstenite) that reads JSON frames and
//! acknowledges envelopes, and waits on the local Slack's state.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use chatty_local_slack::{AppCredentials, LocalSlack};
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_tungstenite::tungstenite::Message;

/// How long a test waits for a frame, or for the local Slack to reach a state.
pub const WAIT: Duration = Duration::from_secs(10);

/// A raw Socket Mode connection.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Starts a local Slack, adds the person alice and the app `bot`, and opens their DM: (the
/// local Slack, alice's user id, the app, the DM's id).
pub async fn alice_and_bot_in_a_dm() -> (LocalSlack, String, AppCredentials, String) {
    let slack = LocalSlack::start().await.expect("the local Slack starts");
    let alice = slack.add_user("alice");
    let app = slack.add_app("bot");
    let dm = slack.open_conversation(&[&alice, &app.bot_user_id]);
    (slack, alice, app, dm)
}

/// Starts a local Slack, adds the person alice and the app `bot`, and has alice create the
/// public channel `general`, which the bot user is not in: (the local Slack, alice's user id,
/// the app, the channel's id).
pub async fn alice_and_bot_with_a_channel() -> (LocalSlack, String, AppCredentials, String) {
    let slack = LocalSlack::start().await.expect("the local Slack starts");
    let alice = slack.add_user("alice");
    let app = slack.add_app("bot");
    let general = slack.create_channel("general", &alice, false);
    (slack, alice, app, general)
}

/// [`chatty_local_slack::DEFAULT_SCOPES`] without the scopes `withheld` picks.
pub fn default_scopes_without(withheld: impl Fn(&str) -> bool) -> Vec<&'static str> {
    chatty_local_slack::DEFAULT_SCOPES
        .iter()
        .copied()
        .filter(|s| !withheld(s))
        .collect()
}

/// One HTTP/1.1 request: (status, headers lower-cased, body).
pub async fn http(
    slack: &LocalSlack,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut stream = tokio::net::TcpStream::connect(slack.addr()).await.unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        slack.addr(),
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header end");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, raw[split + 4..].to_vec())
}

/// The value of the header `name` (lower-case) in headers as [`http`] returns them.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A Web API call over HTTP with a JSON body and a bearer token.
pub async fn call(slack: &LocalSlack, token: &str, method: &str, args: Value) -> Value {
    let auth = format!("Bearer {token}");
    let (_, _, body) = http(
        slack,
        "POST",
        &format!("/api/{method}"),
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json; charset=utf-8"),
        ],
        args.to_string().as_bytes(),
    )
    .await;
    serde_json::from_slice(&body).unwrap()
}

/// Opens a Socket Mode connection with apps.connections.open over HTTP; its `hello` is left
/// unread.
pub async fn open_socket(slack: &LocalSlack, app_token: &str) -> Socket {
    let opened = call(slack, app_token, "apps.connections.open", json!({})).await;
    assert_eq!(opened["ok"], true, "{opened}");
    let url = opened["url"].as_str().unwrap();
    let (socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("the socket opens");
    socket
}

/// Opens a Socket Mode connection with apps.connections.open over HTTP and reads its `hello`.
pub async fn connect_over_http(slack: &LocalSlack, app_token: &str) -> Socket {
    let mut socket = open_socket(slack, app_token).await;
    expect_hello(&mut socket).await;
    socket
}

/// Opens a Socket Mode connection with apps.connections.open called in process and reads its
/// `hello`.
pub async fn connect(slack: &LocalSlack, app_token: &str) -> Socket {
    let opened = slack.call(app_token, "apps.connections.open", json!({}));
    let url = opened["url"].as_str().expect("a socket URL");
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    expect_hello(&mut socket).await;
    socket
}

/// Reads the next frame, which must be the `hello` Slack sends first on a connection.
pub async fn expect_hello(socket: &mut Socket) {
    assert_eq!(next_json(socket).await["type"], "hello");
}

/// The next text frame, parsed as JSON (other frames are skipped); panics if none comes within
/// [`WAIT`] or the socket closes.
pub async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a frame in time")
            .expect("the socket is open")
            .expect("a frame");
        if let Message::Text(text) = message {
            return serde_json::from_str(text.as_str()).unwrap();
        }
    }
}

/// Acknowledges `envelope` as Socket Mode asks: `{"envelope_id": …}` sent back.
pub async fn ack(socket: &mut Socket, envelope: &Value) {
    let ack = json!({"envelope_id": envelope["envelope_id"]}).to_string();
    socket.send(Message::text(ack)).await.unwrap();
}

/// The next envelope's event (its `payload.event`), the envelope acknowledged.
pub async fn next_event(socket: &mut Socket) -> Value {
    let envelope = next_json(socket).await;
    ack(socket, &envelope).await;
    envelope["payload"]["event"].clone()
}

/// Waits until no event for `app_id` is pending (each acknowledged, or given up on); fails
/// the test if that takes longer than [`WAIT`].
pub async fn wait_until_nothing_pending(slack: &LocalSlack, app_id: &str) {
    assert!(
        slack
            .wait_until(WAIT, |s| s.pending_events(app_id) == 0)
            .await,
        "events still pending for {app_id} after {WAIT:?}"
    );
}

/// Waits until `app_id` has no socket open; fails the test if that takes longer than [`WAIT`].
pub async fn wait_until_no_socket(slack: &LocalSlack, app_id: &str) {
    assert!(
        slack
            .wait_until(WAIT, |s| s.socket_count(app_id) == 0)
            .await,
        "a socket still open for {app_id} after {WAIT:?}"
    );
}
