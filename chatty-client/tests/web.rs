//! The web window's server and protocol, without a browser: the page, the WebSocket as a tab's
//! script uses it, uploads and downloads, several tabs as several people, the token, and
//! malformed input.

mod common;

use chatty_client::web::WebOptions;
use chatty_client::{WebClient, WebError};
use chatty_core::Secret;
use common::web::*;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message as WsMessage;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_page() {
    let web = Web::start().await;
    let page = http(web.address, "GET", "/", &[], None).await;
    assert_eq!(page.status, 200, "{page:?}");
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let text = page.text();
    // The style and script are in the page, not behind further requests.
    assert!(
        text.contains("id=\"log\"") && text.contains("new WebSocket("),
        "{text}"
    );
    assert!(!text.contains("/*SCRIPT*/") && !text.contains("/*STYLE*/"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tab_talks_with_the_bot_and_sees_typing_both_ways() {
    let web = Web::start().await;
    let mut tab = web.tab(None).await;
    let view = tab
        .until("the session has started", |v| {
            v["you"].as_str() == Some("direct:you")
        })
        .await;
    assert_eq!(view["person"], "you");
    assert_eq!(view["connection"], "connected (direct)");
    assert!(view["current"].as_str().unwrap().starts_with("direct:bot"));

    // Typing to the bot sends "composing"; the bot shows that it types in return.
    tab.send_json(json!({"type": "input", "text": "hel"})).await;
    tab.until("the bot types", |v| {
        conversation(v, "bot").is_some_and(|c| c["typing"] == json!(["bot"]))
    })
    .await;

    tab.send_json(json!({"type": "say", "text": "hello"})).await;
    let view = tab
        .until("the echo arrived", |v| {
            entries(v)
                .iter()
                .any(|e| e["from"] == "bot" && e["text"] == "echo: hello")
        })
        .await;
    let mine = entries(&view)
        .into_iter()
        .find(|e| e["text"] == "hello")
        .expect("my message is shown");
    assert_eq!(mine["from"], "you");
    assert_eq!(mine["mine"], true);
    assert_eq!(mine["kind"], "message");
    assert_eq!(mine["time"].as_str().unwrap().len(), 8, "HH:MM:SS");
    // The answer ends the bot's typing.
    assert_eq!(conversation(&view, "bot").unwrap()["typing"], json!([]));
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_no_session_serves_shows_why_in_its_conversation() {
    let web = Web::start().await;
    let mut tab = web.tab(None).await;
    tab.until("started", |v| !v["you"].is_null()).await;
    let nobody = "xmpp:nobody@example.org";
    tab.send_json(json!({"type": "open", "conversation": nobody}))
        .await;
    tab.send_json(json!({"type": "say", "text": "hello?"}))
        .await;
    let why = format!("not sent: no connection reaches {nobody}");
    tab.until("the refusal in the conversation", |v| {
        has_entry(v, "error", &why)
    })
    .await;

    // An upload to it: the same line, and the upload's answer says so too.
    let (kind, body) = multipart("notes.txt", "text/plain", b"my notes\n");
    let to = nobody.replace(':', "%3A").replace('@', "%40");
    let response = http(
        web.address,
        "POST",
        &format!("/upload?as=you&to={to}"),
        &[],
        Some((&kind, &body)),
    )
    .await;
    assert_eq!(response.status, 400, "{}", response.text());
    assert!(
        response
            .text()
            .contains(&format!("no session serves {nobody}")),
        "{}",
        response.text()
    );
    let view = tab
        .until("two refusals", |v| {
            entries(v)
                .iter()
                .filter(|e| e["kind"] == "error" && e["text"].as_str().unwrap().contains(&why))
                .count()
                == 2
        })
        .await;
    assert!(conversation(&view, nobody).is_some_and(|c| c["current"] == true));
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_members_switching_and_own_status() {
    let web = Web::start().await;
    let mut tab = web.tab(None).await;
    tab.until("started", |v| !v["you"].is_null()).await;

    tab.send_json(json!({"type": "say", "text": "/join lobby"}))
        .await;
    let view = tab
        .until("the lobby lists both members", |v| {
            conversation(v, "lobby").is_some_and(|c| c["members"] == json!(["bot", "you"]))
        })
        .await;
    let lobby = conversation(&view, "lobby").unwrap();
    assert_eq!(lobby["room"], true);
    assert_eq!(lobby["current"], true);
    tab.until("the join line", |v| {
        has_entry(v, "status", "you joined lobby")
    })
    .await;

    tab.send_json(json!({"type": "say", "text": "hi all"}))
        .await;
    tab.until("the echo in the room", |v| {
        entries(v)
            .iter()
            .any(|e| e["from"] == "bot" && e["text"] == "echo: hi all")
    })
    .await;

    // Switch back to the bot by its address.
    let bot = conversation(&view, "bot").unwrap()["address"]
        .as_str()
        .unwrap()
        .to_owned();
    tab.send_json(json!({"type": "open", "conversation": bot}))
        .await;
    tab.until("the bot's conversation is shown", |v| {
        conversation(v, "bot").is_some_and(|c| c["current"] == true)
    })
    .await;

    tab.send_json(json!({"type": "status", "availability": "away", "message": "lunch"}))
        .await;
    tab.until("the own status line", |v| {
        has_entry(v, "info", "you are away (lunch)")
    })
    .await;
    tab.send_json(json!({"type": "status", "availability": "sleepy"}))
        .await;
    tab.until("a bad availability is an error line", |v| {
        has_entry(v, "error", "`sleepy` is not an availability")
    })
    .await;

    tab.send_json(json!({"type": "say", "text": "/leave lobby"}))
        .await;
    tab.until("the leave line", |v| {
        conversation(v, "lobby").is_some_and(|c| c["members"] == json!([]))
    })
    .await;
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_and_downloads_files() {
    let web = Web::start().await;
    let mut tab = web.tab(None).await;
    tab.until("started", |v| !v["you"].is_null()).await;

    let (kind, body) = multipart("notes.txt", "text/plain", b"my notes\n");
    let response = http(
        web.address,
        "POST",
        "/upload?as=you",
        &[],
        Some((&kind, &body)),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let view = tab
        .until("the bot acknowledged the file", |v| {
            has_entry(v, "message", "got your file notes.txt (9 bytes)")
        })
        .await;
    let sent = entries(&view)
        .into_iter()
        .find(|e| e["kind"] == "file")
        .expect("the sent file is shown");
    assert_eq!(sent["mine"], true);
    assert_eq!(sent["files"][0]["name"], "notes.txt");
    assert_eq!(sent["files"][0]["size"], 9);

    tab.send_json(json!({"type": "say", "text": "files"})).await;
    let view = tab
        .until("both files arrived", |v| {
            entries(v)
                .iter()
                .filter(|e| e["kind"] == "file" && e["mine"] == false)
                .count()
                == 2
        })
        .await;
    let conversation = view["current"].as_str().unwrap().to_owned();
    let received: Vec<_> = entries(&view)
        .into_iter()
        .filter(|e| e["kind"] == "file" && e["mine"] == false)
        .collect();
    assert_eq!(received[0]["files"][0]["name"], "hello.txt");
    assert!(
        received[1]["files"][0]["url"]
            .as_str()
            .unwrap()
            .starts_with("direct-file:")
    );

    let link = |n: u64| {
        format!(
            "/file?as=you&conversation={}&n={n}",
            conversation
                .replace(':', "%3A")
                .replace(';', "%3B")
                .replace('=', "%3D")
        )
    };
    // File 1 is the upload, 2 the bytes, 3 the URL (fetched through the person's session).
    let n_bytes = received[0]["files"][0]["number"].as_u64().unwrap();
    let n_url = received[1]["files"][0]["number"].as_u64().unwrap();
    assert_eq!((n_bytes, n_url), (2, 3));
    let hello = http(web.address, "GET", &link(n_bytes), &[], None).await;
    assert_eq!(hello.status, 200, "{}", hello.text());
    assert_eq!(hello.body, HELLO);
    assert!(
        hello
            .header("content-disposition")
            .unwrap()
            .starts_with("attachment;")
    );
    assert_eq!(hello.header("content-security-policy"), Some("sandbox"));
    let by_url = http(web.address, "GET", &link(n_url), &[], None).await;
    assert_eq!(by_url.status, 200, "{}", by_url.text());
    assert_eq!(by_url.body, BY_URL);

    let missing = http(web.address, "GET", &link(9), &[], None).await;
    assert_eq!(missing.status, 404);
    assert!(missing.text().contains("no file 9"), "{}", missing.text());
    let nobody = http(
        web.address,
        "GET",
        "/file?as=nobody&conversation=x&n=1",
        &[],
        None,
    )
    .await;
    assert_eq!(nobody.status, 404);
    let no_field = http(
        web.address,
        "POST",
        "/upload?as=you",
        &[],
        Some(("multipart/form-data; boundary=x", b"--x--\r\n")),
    )
    .await;
    assert_eq!(no_field.status, 400, "{}", no_field.text());
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_tabs_are_several_people() {
    let web = Web::start().await;
    let mut first = web.tab(None).await;
    first.until("started", |v| v["person"] == "you").await;
    // The first person is taken: the next tab is a guest of its own.
    let mut second = web.tab(None).await;
    let view = second
        .until("the guest started", |v| {
            v["you"].as_str() == Some("direct:guest-1")
        })
        .await;
    assert_eq!(view["person"], "guest-1");
    // A tab may ask for a name.
    let mut third = web.tab(Some("carol")).await;
    third
        .until("carol started", |v| {
            v["you"].as_str() == Some("direct:carol")
        })
        .await;
    let people = loop {
        let names: Vec<String> = third.people["people"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .collect();
        if names.len() == 3 {
            break names;
        }
        third.next().await.expect("the roster");
    };
    assert_eq!(people, ["you", "guest-1", "carol"]);

    // Each talks with the bot on its own.
    second
        .send_json(json!({"type": "say", "text": "I am a guest"}))
        .await;
    second
        .until("the guest's echo", |v| {
            has_entry(v, "message", "echo: I am a guest")
        })
        .await;
    assert!(!has_entry(&first.view, "message", "I am a guest"));

    // People see each other's presence.
    second
        .send_json(json!({"type": "status", "availability": "away"}))
        .await;
    first
        .until("the guest's presence line", |v| {
            conversation(v, "guest-1").is_some()
        })
        .await;
    first
        .send_json(json!({"type": "open", "conversation": "guest-1"}))
        .await;
    first
        .until("the guest is away", |v| {
            has_entry(v, "status", "guest-1 is away")
        })
        .await;
    let guest = conversation(&first.view, "guest-1").unwrap();
    assert_eq!(guest["presence"]["availability"], "away");

    // And talk to each other.
    first
        .send_json(json!({"type": "say", "text": "hi guest"}))
        .await;
    // It is unread in a conversation the guest does not show yet.
    second
        .until("an unread message from you", |v| {
            conversation(v, "you").is_some_and(|c| c["unread"] == 1 && c["current"] == false)
        })
        .await;
    second
        .send_json(json!({"type": "open", "conversation": "you"}))
        .await;
    let view = second
        .until("the message from you", |v| {
            entries(v)
                .iter()
                .any(|e| e["from"] == "you" && e["text"] == "hi guest")
        })
        .await;
    assert_eq!(conversation(&view, "you").unwrap()["unread"], 0);

    // Another tab for `you` shows the same person.
    let mut again = web.tab(Some("you")).await;
    again
        .until("the same conversation", |v| {
            has_entry(v, "message", "hi guest")
        })
        .await;

    // Names that are not a person's to take are refused, to that tab only.
    let mut taken = web.tab(Some("bot")).await;
    assert_eq!(taken.error().await, "bot is taken");
    let mut bad = web.tab(Some("no%20spaces")).await;
    assert!(bad.error().await.contains("is not a name"));
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_are_errors_for_that_tab() {
    let web = Web::start().await;
    let mut tab = web.tab(None).await;
    tab.until("started", |v| !v["you"].is_null()).await;
    let mut other = web.tab(Some("you")).await;
    other.until("started", |v| !v["you"].is_null()).await;

    tab.send_text("this is not JSON").await;
    assert!(
        tab.error()
            .await
            .starts_with("not a message of this window")
    );
    tab.send_text(r#"{"type": "explode"}"#).await;
    assert!(tab.error().await.contains("unknown variant"));
    tab.send_text(r#"{"type": "say"}"#).await;
    assert!(tab.error().await.contains("missing field `text`"));
    tab.send_text(r#"{"type": "say", "text": 42}"#).await;
    assert!(tab.error().await.contains("invalid type"));
    tab.send_text(r#"[1, 2, 3]"#).await;
    tab.error().await;
    tab.send_raw(WsMessage::binary(vec![0u8, 159, 146, 150]))
        .await;
    assert!(tab.error().await.contains("binary"));
    tab.send_json(json!({"type": "open", "conversation": "::"}))
        .await;
    tab.until("a bad address is an error line", |v| {
        has_entry(v, "error", "cannot open ::")
    })
    .await;
    tab.send_json(json!({"type": "say", "text": "/send /etc/passwd"}))
        .await;
    tab.until("no files from the server's disk", |v| {
        has_entry(v, "error", "sends files by upload")
    })
    .await;

    // The tab still works, and the other tab saw no error.
    tab.send_json(json!({"type": "say", "text": "still here"}))
        .await;
    tab.until("the echo", |v| has_entry(v, "message", "echo: still here"))
        .await;
    other
        .until("the echo in the other tab", |v| {
            has_entry(v, "message", "echo: still here")
        })
        .await;
    assert!(other.errors.is_empty(), "{:?}", other.errors);
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_guards_every_request() {
    let token = "0123456789abcdef-token";
    let client = WebClient::bind("127.0.0.1:0".parse().unwrap(), Some(Secret::inline(token)))
        .await
        .unwrap();
    // The URL can be printed and logged: the token is not in it.
    assert_eq!(client.url(), format!("http://{}/", client.local_addr()));
    assert!(client.has_token());
    assert!(!format!("{client:?}").contains(token), "{client:?}");
    let web = Web::start_with(client, Some(token.to_owned())).await;

    let refused = http(web.address, "GET", "/", &[], None).await;
    assert_eq!(refused.status, 401);
    assert!(
        refused.text().contains("add ?token=TOKEN"),
        "{}",
        refused.text()
    );
    assert!(!refused.text().contains(token));
    let wrong = http(
        web.address,
        "GET",
        "/?token=0123456789abcdef-tokeX",
        &[],
        None,
    )
    .await;
    assert_eq!(wrong.status, 401);
    let page = http(web.address, "GET", &web.path("/"), &[], None).await;
    assert_eq!(page.status, 200);
    let bearer = format!("Bearer {token}");
    let page = http(web.address, "GET", "/", &[("Authorization", &bearer)], None).await;
    assert_eq!(page.status, 200);
    let (kind, body) = multipart("x.txt", "text/plain", b"x");
    let upload = http(
        web.address,
        "POST",
        "/upload?as=you",
        &[],
        Some((&kind, &body)),
    )
    .await;
    assert_eq!(upload.status, 401);
    let download = http(
        web.address,
        "GET",
        "/file?as=you&conversation=x&n=1",
        &[],
        None,
    )
    .await;
    assert_eq!(download.status, 401);

    let without = format!("ws://{}/ws", web.address);
    assert!(
        Tab::connect(&without).await.is_err(),
        "a WebSocket without the token"
    );
    let mut tab = web.tab(None).await;
    tab.until("started", |v| !v["you"].is_null()).await;
    web.stop().await;
}

/// The headers of a WebSocket upgrade, with `extra` ones.
fn upgrade<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut headers = vec![
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade, close"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    headers.extend_from_slice(extra);
    headers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_site_cannot_open_the_websocket() {
    let web = Web::start().await;
    let own = format!("http://{}", web.address);
    let other_port = format!("http://127.0.0.1:{}", web.address.port() + 1);
    for (origin, why) in [
        (None, "no Origin"),
        (Some("http://evil.example"), "another site"),
        (Some("null"), "an opaque origin"),
        (Some(other_port.as_str()), "another local site"),
        (Some("http://localhost"), "loopback, another port"),
    ] {
        let mut headers = upgrade(&[]);
        if let Some(origin) = origin {
            headers.push(("Origin", origin));
        }
        let refused = http(web.address, "GET", "/ws", &headers, None).await;
        assert_eq!(refused.status, 403, "{why}: {}", refused.text());
        assert!(
            refused.text().contains("opens only from its own page"),
            "{}",
            refused.text()
        );
        let url = format!("ws://{}/ws", web.address);
        assert!(Tab::connect_from(&url, origin).await.is_err(), "{why}");
    }
    // The page's own origin opens it.
    let url = format!("ws://{}/ws", web.address);
    let mut tab = Tab::connect_from(&url, Some(&own)).await.expect("opens");
    tab.until("started", |v| !v["you"].is_null()).await;
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_rebinding_host_names_are_refused_on_every_route() {
    let web = Web::start().await;
    let port = web.address.port();
    let rebind = format!("rebind.example:{port}");
    let origin = format!("http://{rebind}");
    let (kind, body) = multipart("x.txt", "text/plain", b"x");
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/ws"),
        ("POST", "/upload?as=you"),
        ("GET", "/file?as=you&conversation=x&n=1"),
        ("GET", "/nothing-here"),
    ] {
        let mut headers = upgrade(&[("Host", &rebind), ("Origin", &origin)]);
        if method == "POST" {
            headers.truncate(0);
            headers.push(("Host", &rebind));
        }
        let body = (method == "POST").then_some((kind.as_str(), body.as_slice()));
        let refused = http(web.address, method, path, &headers, body).await;
        assert_eq!(refused.status, 403, "{method} {path}: {}", refused.text());
        let text = refused.text();
        assert!(
            text.contains(&format!("does not answer to the host `{rebind}`"))
                && text.contains("DNS-rebinding")
                && text.contains(&format!("http://127.0.0.1:{port}/")),
            "{text}"
        );
    }
    // No WebSocket for the rebinding page either.
    let url = format!("ws://{rebind}/ws");
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
            url.as_str(),
        )
        .unwrap();
    request
        .headers_mut()
        .insert("Origin", origin.parse().unwrap());
    let stream = tokio::net::TcpStream::connect(web.address).await.unwrap();
    assert!(
        tokio_tungstenite::client_async(request, stream)
            .await
            .is_err()
    );
    // Loopback names, with or without a port, are this machine.
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "localhost".to_owned(),
        format!("127.0.0.2:{port}"),
        format!("[::1]:{port}"),
    ] {
        let page = http(web.address, "GET", "/", &[("Host", &host)], None).await;
        assert_eq!(page.status, 200, "{host}: {}", page.text());
    }
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_with_a_token_answers_to_its_public_names_only() {
    let token = "0123456789abcdef-public";
    let options = WebOptions::new("127.0.0.1:0".parse().unwrap())
        .token(Secret::inline(token))
        .public_name("Chat.Example.org");
    let client = WebClient::open(options).await.unwrap();
    let port = client.local_addr().port();
    let web = Web::start_with(client, Some(token.to_owned())).await;
    let path = web.path("/");
    let public = format!("chat.example.org:{port}");
    let page = http(web.address, "GET", &path, &[("Host", &public)], None).await;
    assert_eq!(page.status, 200, "{}", page.text());
    // Behind a proxy: Host is loopback, the page's origin the public name.
    let ws = web.path("/ws");
    let url = format!("ws://{}{ws}", web.address);
    let mut tab = Tab::connect_from(&url, Some("https://chat.example.org"))
        .await
        .expect("opens");
    tab.until("started", |v| !v["you"].is_null()).await;
    // Any other name is refused, the right token or not.
    let rebind = format!("rebind.example:{port}");
    let refused = http(web.address, "GET", &path, &[("Host", &rebind)], None).await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(!refused.text().contains(token));
    let refused = http(
        web.address,
        "GET",
        &ws,
        &upgrade(&[("Origin", "https://rebind.example")]),
        None,
    )
    .await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    web.stop().await;
}

#[tokio::test]
async fn refuses_other_addresses_without_a_token() {
    match WebClient::bind("0.0.0.0:0".parse().unwrap(), None).await {
        Err(WebError::NeedsToken { address }) => assert_eq!(address.port(), 0),
        other => panic!("expected NeedsToken, got {other:?}"),
    }
    match WebClient::bind(
        "127.0.0.1:0".parse().unwrap(),
        Some(Secret::inline("short")),
    )
    .await
    {
        Err(WebError::BadToken(why)) => assert!(why.contains("at least 16"), "{why}"),
        other => panic!("expected BadToken, got {other:?}"),
    }
    let spaces = Secret::inline("a token with spaces in it");
    assert!(matches!(
        WebClient::bind("127.0.0.1:0".parse().unwrap(), Some(spaces)).await,
        Err(WebError::BadToken(_))
    ));
    // With a token, any address.
    let client = WebClient::bind(
        "0.0.0.0:0".parse().unwrap(),
        Some(Secret::inline("0123456789abcdef")),
    )
    .await
    .unwrap();
    // Listening everywhere, it is opened on this machine by loopback; the token is not shown.
    assert_eq!(
        client.url(),
        format!("http://127.0.0.1:{}/", client.local_addr().port())
    );
    assert!(!client.url().contains("0123456789abcdef"));
    // Public names need a token, and must be host names.
    let names = WebOptions::new("127.0.0.1:0".parse().unwrap()).public_name("chat.example.org");
    assert!(matches!(
        WebClient::open(names.clone()).await,
        Err(WebError::PublicNamesNeedToken)
    ));
    let bad = names
        .token(Secret::inline("0123456789abcdef"))
        .public_name("https://chat.example.org/");
    match WebClient::open(bad).await {
        Err(WebError::BadPublicName(why)) => assert!(why.contains("not a host name"), "{why}"),
        other => panic!("expected BadPublicName, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_conversation_sends_its_newest_entries() {
    let web = Web::start().await;
    let mut tab = web.tab(None).await;
    tab.until("started", |v| !v["you"].is_null()).await;
    let talker = chatty_direct::Person::join(&web.network, "talker").await;
    let you = web.network.address("you");
    let total = chatty_client::web::VIEW_ENTRIES + 100;
    for i in 0..total {
        talker.say(&you, format!("line {i}")).await;
    }
    tab.send_json(json!({"type": "open", "conversation": "talker"}))
        .await;
    let last = format!("line {}", total - 1);
    let view = tab
        .until("the last line", |v| has_entry(v, "message", &last))
        .await;
    let shown = entries(&view);
    assert_eq!(shown.len(), chatty_client::web::VIEW_ENTRIES);
    assert_eq!(view["earlier"], 100);
    assert_eq!(shown[0]["text"], "line 100");
    talker.leave().await;
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_over_the_limit_is_refused() {
    let web = Web::start().await;
    let mut tab = web.tab(None).await;
    tab.until("started", |v| !v["you"].is_null()).await;
    let big = vec![b'x'; chatty_client::web::MAX_UPLOAD + 100 * 1024];
    let (kind, body) = multipart("big.bin", "application/octet-stream", &big);
    let response = http(
        web.address,
        "POST",
        "/upload?as=you",
        &[],
        Some((&kind, &body)),
    )
    .await;
    assert_eq!(response.status, 413, "{}", response.text());
    // Nothing was sent.
    tab.send_json(json!({"type": "say", "text": "after"})).await;
    let view = tab
        .until("the echo", |v| has_entry(v, "message", "echo: after"))
        .await;
    assert!(!entries(&view).iter().any(|e| e["kind"] == "file"));
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_lists_what_works_in_the_page() {
    let web = Web::start().await;
    let mut tab = web.tab(None).await;
    tab.until("started", |v| !v["you"].is_null()).await;
    tab.send_json(json!({"type": "say", "text": "/help"})).await;
    let view = tab
        .until("the help", |v| has_entry(v, "info", "file button"))
        .await;
    let help: Vec<String> = entries(&view)
        .iter()
        .filter(|e| e["kind"] == "info")
        .map(|e| e["text"].as_str().unwrap().to_owned())
        .collect();
    let all = help.join("\n");
    for wanted in [
        "/to ADDRESS",
        "/join ROOM",
        "status selector",
        "download link",
        "Any other /command goes to the conversation",
        "☰",
    ] {
        assert!(all.contains(wanted), "{wanted} missing from:\n{all}");
    }
    // Not the terminal's keys, nor the commands a tab cannot use.
    for unwanted in [
        "Tab / Shift-Tab",
        "Page Up",
        "Esc",
        "Ctrl-C",
        "/send PATH",
        "/save N",
    ] {
        assert!(!all.contains(unwanted), "{unwanted} in:\n{all}");
    }
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bots_slash_commands_reach_the_bot() {
    let web = Web::start().await;
    let mut tab = web.tab(None).await;
    tab.until("started", |v| !v["you"].is_null()).await;
    tab.send_json(json!({"type": "say", "text": "/time"})).await;
    tab.until("the bot got /time", |v| {
        has_entry(v, "message", "echo: /time")
    })
    .await;
    tab.send_json(json!({"type": "say", "text": "//help"}))
        .await;
    let view = tab
        .until("the bot got /help", |v| {
            has_entry(v, "message", "echo: /help")
        })
        .await;
    assert!(
        !entries(&view).iter().any(|e| e["kind"] == "error"),
        "{view}"
    );
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_own_status_is_in_the_view_after_a_reload() {
    let web = Web::start().await;
    let mut tab = web.tab(None).await;
    let view = tab.until("started", |v| !v["you"].is_null()).await;
    assert_eq!(view["status"], json!(null));
    tab.send_json(json!({"type": "status", "availability": "away", "message": "lunch"}))
        .await;
    tab.until("the status", |v| {
        has_entry(v, "info", "you are away (lunch)")
    })
    .await;
    drop(tab);
    // The reloaded page asks for its person by name, and gets the status with the first view.
    let mut reloaded = web.tab(Some("you")).await;
    let view = reloaded.until("a view", |v| !v["you"].is_null()).await;
    assert_eq!(
        view["status"],
        json!({"availability": "away", "message": "lunch"})
    );
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_tab_never_gets_a_closed_tabs_person() {
    let client = WebClient::local()
        .await
        .unwrap()
        .guest_idle(std::time::Duration::from_millis(300));
    let web = Web::start_with(client, None).await;
    let mut first = web.tab(None).await;
    first.until("started", |v| v["person"] == "you").await;
    let mut guest = web.tab(None).await;
    guest.until("the guest", |v| v["person"] == "guest-1").await;
    guest
        .send_json(json!({"type": "say", "text": "my secret"}))
        .await;
    guest
        .until("the echo", |v| has_entry(v, "message", "echo: my secret"))
        .await;
    drop(guest);
    // A new tab (no name asked for) is a new person, not the closed tab's guest.
    let mut next = web.tab(None).await;
    let view = next
        .until("the next guest", |v| v["person"] == "guest-2")
        .await;
    assert!(!has_entry(&view, "message", "my secret"), "{view}");
    // Nobody shows guest-1 any more: it leaves after its idle time.
    let names = |people: &serde_json::Value| -> Vec<String> {
        people["people"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .collect()
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    while names(&first.people) != ["you", "guest-2"] {
        assert!(
            tokio::time::Instant::now() < deadline,
            "guest-1 stayed: {}",
            first.people
        );
        first.next().await.expect("the roster without guest-1");
    }
    // A tab asking for the name later is a fresh person of that name.
    let mut again = web.tab(Some("guest-1")).await;
    let view = again
        .until("guest-1 again", |v| {
            v["you"].as_str() == Some("direct:guest-1")
        })
        .await;
    assert!(!has_entry(&view, "message", "my secret"), "{view}");
    web.stop().await;
}
