//! The session against a homeserver scripted in the test on 127.0.0.1 (plain HTTP/1.1): a
//! rate-limited sync (429 with `retry_after_ms`) is a `ConnectionError` whose retry waits at
//! least what the server asked, and the session connects again without logging in again, from
//! the position it had; a gap back-filled while connected stops at the last event seen; a
//! server whose `/.well-known/matrix/client` names the test Synapse sends the session there.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chatty_core::Body;
use chatty_matrix::MatrixConfig;
use common::bot::{end, run};
use common::{next_where, text};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// The requests the server saw: method and path with query.
type Seen = Arc<Mutex<Vec<String>>>;

/// What the scripted server answers to a path, given how many syncs it saw (this one
/// included): status and JSON body.
type Script = fn(&str, usize) -> (u16, String);

/// Records a request; answers it as `script` says.
fn answer(seen: &Seen, script: Script, method: &str, target: &str) -> (u16, String) {
    let path = target.split('?').next().unwrap_or(target);
    let syncs = {
        let mut seen = seen.lock().unwrap();
        seen.push(format!("{method} {target}"));
        seen.iter().filter(|r| r.contains("/sync")).count()
    };
    script(path, syncs)
}

/// A server whose second sync is rate-limited.
fn rate_limited(path: &str, syncs: usize) -> (u16, String) {
    match path {
        "/_matrix/client/v3/login" => (
            200,
            r#"{"user_id":"@bot:fake","access_token":"tok","device_id":"chatty-matrix"}"#.into(),
        ),
        "/_matrix/client/v3/joined_rooms" => (200, r#"{"joined_rooms":[]}"#.into()),
        "/_matrix/client/v3/sync" => match syncs {
            1 => (200, r#"{"next_batch":"s1"}"#.into()),
            2 => (
                429,
                r#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too Many Requests","retry_after_ms":1500}"#
                    .into(),
            ),
            n => (200, format!(r#"{{"next_batch":"s{n}"}}"#)),
        },
        // m.direct and anything else: not found.
        _ => (404, r#"{"errcode":"M_NOT_FOUND","error":"not here"}"#.into()),
    }
}

/// Serves one connection: request after request (keep-alive).
async fn serve(mut socket: TcpStream, seen: Seen, script: Script) {
    let mut buffer = Vec::new();
    loop {
        let head_end = loop {
            if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        while buffer.len() < head_end + length {
            let mut chunk = [0u8; 4096];
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        buffer.drain(..head_end + length);
        let mut words = head.split_whitespace();
        let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        let (status, body) = answer(&seen, script, method, target);
        if target.contains("/sync") && target.contains("since=") {
            // A long poll with nothing new.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let response = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if socket.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Starts a server answering as `script`: its port.
async fn start(script: Script, seen: &Seen) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = seen.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(serve(socket, seen.clone(), script));
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_sync_waits_and_goes_on_from_its_position() {
    let seen: Seen = Arc::default();
    let port = start(rate_limited, &seen).await;
    let config = MatrixConfig::new(format!("http://127.0.0.1:{port}"), "bot", "pw")
        .with_reconnect_backoff(Duration::from_millis(50), Duration::from_millis(100));
    let (running, mut rx) = run(config, None);
    let (started, handle) =
        next_where(&mut rx, |s| matches!(s.body, Body::SessionStarted(_))).await;
    assert_eq!(
        started.meta.origin.unwrap().to_string(),
        "matrix:@bot:fake;kind=individual"
    );
    let (limited, _) = next_where(&mut rx, |s| matches!(s.body, Body::ConnectionError(_))).await;
    let Body::ConnectionError(error) = &limited.body else {
        unreachable!()
    };
    assert!(error.cause.contains("429"), "{error:?}");
    let retry = error.retry_in.expect("it tries again");
    assert!(
        retry >= Duration::from_millis(1500),
        "the server's wait: {retry:?}"
    );

    // Back, from the position of the first sync, without a second login.
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let resumed = seen
                .lock()
                .unwrap()
                .iter()
                .filter(|r| r.contains("/sync") && r.contains("since=s1"))
                .count();
            if resumed >= 2 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("synced again from s1");
    let seen = seen.lock().unwrap().clone();
    let logins = seen.iter().filter(|r| r.contains("/login")).count();
    assert_eq!(logins, 1, "{seen:#?}");

    end(&handle, running).await;
}

/// A room message event.
fn event(id: &str, body: &str) -> String {
    format!(
        r#"{{"type":"m.room.message","event_id":"${id}","sender":"@alice:fake","origin_server_ts":1,"content":{{"msgtype":"m.text","body":"{body}"}}}}"#
    )
}

/// A server with a room whose second sync is limited: the back-fill returns the events
/// missed, then ones the session saw in the first sync.
fn gap(path: &str, syncs: usize) -> (u16, String) {
    match path {
        "/_matrix/client/v3/login" => (
            200,
            r#"{"user_id":"@bot:fake","access_token":"tok","device_id":"chatty-matrix"}"#.into(),
        ),
        "/_matrix/client/v3/joined_rooms" => (200, r#"{"joined_rooms":["!room"]}"#.into()),
        "/_matrix/client/v3/sync" => match syncs {
            1 => (
                200,
                format!(
                    r#"{{"next_batch":"s1","rooms":{{"join":{{"!room":{{"timeline":{{"events":[{},{}],"limited":false}}}}}}}}}}"#,
                    event("e1", "one"),
                    event("e2", "two")
                ),
            ),
            2 => (
                200,
                format!(
                    r#"{{"next_batch":"s2","rooms":{{"join":{{"!room":{{"timeline":{{"events":[{},{}],"limited":true,"prev_batch":"p"}}}}}}}}}}"#,
                    event("e9", "nine"),
                    event("e10", "ten")
                ),
            ),
            n => (200, format!(r#"{{"next_batch":"s{n}"}}"#)),
        },
        p if p.ends_with("/messages") => (
            200,
            format!(
                r#"{{"start":"p","end":"q","chunk":[{},{},{},{}]}}"#,
                event("e8", "eight"),
                event("e7", "seven"),
                event("e2", "two"),
                event("e1", "one")
            ),
        ),
        _ => (
            404,
            r#"{"errcode":"M_NOT_FOUND","error":"not here"}"#.into(),
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_while_connected_is_filled_back_to_the_last_event_seen() {
    let seen: Seen = Arc::default();
    let port = start(gap, &seen).await;
    let config = MatrixConfig::new(format!("http://127.0.0.1:{port}"), "bot", "pw");
    let (running, mut rx) = run(config, None);
    let (_, handle) = next_where(&mut rx, |s| matches!(s.body, Body::SessionStarted(_))).await;
    let mut given = Vec::new();
    while given.len() < 4 {
        let (signal, _) = next_where(&mut rx, |s| text(s).is_some()).await;
        given.push(text(&signal).unwrap().to_owned());
    }
    // "one" and "two" were the first sync's past; the back-fill stops at "two", seen already.
    assert_eq!(given, ["seven", "eight", "nine", "ten"]);
    let asked: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.contains("/messages"))
        .cloned()
        .collect();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(
        asked[0].contains("dir=b") && asked[0].contains("from=p") && asked[0].contains("to=s1"),
        "{asked:?}"
    );
    end(&handle, running).await;
}

/// A server that only names the test Synapse as its client API (`/.well-known/matrix/client`).
fn well_known(path: &str, _syncs: usize) -> (u16, String) {
    match path {
        "/.well-known/matrix/client" => {
            let synapse = chatty_test::servers::matrix_server().url;
            (
                200,
                format!(r#"{{"m.homeserver":{{"base_url":"{synapse}"}}}}"#),
            )
        }
        _ => (
            404,
            r#"{"errcode":"M_NOT_FOUND","error":"not here"}"#.into(),
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_well_known_file_names_the_homeservers_client_api() {
    let seen: Seen = Arc::default();
    let port = start(well_known, &seen).await;
    let account = chatty_test::servers::matrix_account();
    let config = MatrixConfig::new(
        format!("http://127.0.0.1:{port}/"),
        &account.user,
        account.password.as_str(),
    )
    .with_reconnect_backoff(Duration::from_millis(50), Duration::from_millis(100));
    let (running, mut rx) = run(config, None);
    // Logged in at the test Synapse: the bot's own address is its user there.
    let (started, handle) =
        next_where(&mut rx, |s| matches!(s.body, Body::SessionStarted(_))).await;
    assert_eq!(started.meta.origin.unwrap().id(), account.user_id);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        ["GET /.well-known/matrix/client"],
        "nothing else asked here"
    );
    end(&handle, running).await;
}
