//! The web window's token never reaches a log: every tracing event of a window with a token
//! (the window's own and its server's, at every level; the `log` crate's records too where a
//! build turns tracing-subscriber's `tracing-log` on, as the workspace's does) is captured while the
//! window serves requests with the right token, a wrong one and none, and the token is not in
//! them, nor in the URL to print or in `Debug`.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use chatty_client::WebClient;
use chatty_client::web::WebOptions;
use chatty_core::Secret;
use common::web::*;

const TOKEN: &str = "log-test-0123456789abcdef";

/// Everything written to it, shared.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_in_no_log_line() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let options = WebOptions::new("127.0.0.1:0".parse().unwrap())
        .token(Secret::inline(TOKEN))
        .public_name("chat.example.org");
    assert!(!format!("{options:?}").contains(TOKEN), "{options:?}");
    let client = WebClient::open(options).await.unwrap();
    assert!(!format!("{client:?}").contains(TOKEN), "{client:?}");
    let url = client.url();
    assert!(!url.contains(TOKEN), "{url}");
    tracing::info!(%url, "the URL a program prints");
    let web = Web::start_with(client, Some(TOKEN.to_owned())).await;

    let page = web.get(&web.path("/")).await;
    assert_eq!(page.status, 200);
    let bearer = format!("Bearer {TOKEN}");
    let page = http(web.address, "GET", "/", &[("Authorization", &bearer)], None).await;
    assert_eq!(page.status, 200);
    let wrong = web.get("/?token=wrong-token-0123456").await;
    assert_eq!(wrong.status, 401);
    let rebind = http(
        web.address,
        "GET",
        &web.path("/"),
        &[("Host", "rebind.example")],
        None,
    )
    .await;
    assert_eq!(rebind.status, 403);
    let upload = web
        .upload(
            &web.path("/upload?as=you"),
            "notes.txt",
            "text/plain",
            b"notes\n",
        )
        .await;
    assert_eq!(upload.status, 200, "{}", upload.text());
    let mut tab = web.tab(None).await;
    tab.say("hello").await;
    tab.until_entry("the echo", "message", "echo: hello").await;
    tab.send_text("not JSON").await;
    tab.error().await;
    web.stop().await;

    // The test's own websocket client (a browser's stand-in) logs its request, URL and token,
    // through the `log` crate at trace level: its lines are not the window's.
    let logs: String = captured
        .text()
        .lines()
        .filter(|line| !line.contains(" tungstenite::handshake::client: "))
        .map(|line| format!("{line}\n"))
        .collect();
    // The capture works: the window's connections were logged by the server under it.
    assert!(
        logs.contains("the URL a program prints") && logs.contains("connection"),
        "{logs}"
    );
    assert!(!logs.contains(TOKEN), "the token is in the logs:\n{logs}");
    println!("{} log lines, none with the token", logs.lines().count());
}
