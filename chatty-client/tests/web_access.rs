//! Who may use the web window, without a browser: the token on every request, the WebSocket
//! only from the page's own origin, only the host names of this machine or the window's public
//! names (against DNS rebinding), and which addresses and names need a token.

mod common;

use chatty_client::web::WebOptions;
use chatty_client::{WebClient, WebError};
use chatty_core::Secret;
use common::web::*;

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

    let refused = web.get("/").await;
    assert_eq!(refused.status, 401);
    assert!(
        refused.text().contains("add ?token=TOKEN"),
        "{}",
        refused.text()
    );
    assert!(!refused.text().contains(token));
    let wrong = web.get("/?token=0123456789abcdef-tokeX").await;
    assert_eq!(wrong.status, 401);
    let page = web.get(&web.path("/")).await;
    assert_eq!(page.status, 200);
    let bearer = format!("Bearer {token}");
    let page = http(web.address, "GET", "/", &[("Authorization", &bearer)], None).await;
    assert_eq!(page.status, 200);
    let upload = web
        .upload("/upload?as=you", "x.txt", "text/plain", b"x")
        .await;
    assert_eq!(upload.status, 401);
    let download = web.get("/file?as=you&conversation=x&n=1").await;
    assert_eq!(download.status, 401);

    let without = format!("ws://{}/ws", web.address);
    assert!(
        Tab::connect(&without).await.is_err(),
        "a WebSocket without the token"
    );
    web.started_tab(None).await;
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
    tab.until_started().await;
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
    tab.until_started().await;
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
