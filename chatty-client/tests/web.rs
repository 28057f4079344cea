//! The web window's server and protocol, without a browser: the page, the WebSocket as a tab's
//! script uses it, uploads and downloads, several tabs as several people, and malformed input.
//! Who may open the window (the token, host names, the `Origin`) is in `web_access.rs`.

mod common;

use chatty_client::WebClient;
use common::web::*;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message as WsMessage;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_page() {
    let web = Web::start().await;
    let page = web.get("/").await;
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
    let view = tab.until_you("the session has started", "direct:you").await;
    assert_eq!(view["person"], "you");
    assert_eq!(view["connection"], "connected (direct)");
    assert!(view["current"].as_str().unwrap().starts_with("direct:bot"));

    // Typing to the bot sends "composing"; the bot shows that it types in return.
    tab.send_json(json!({"type": "input", "text": "hel"})).await;
    tab.until("the bot types", |v| {
        conversation(v, "bot").is_some_and(|c| c["typing"] == json!(["bot"]))
    })
    .await;

    tab.say("hello").await;
    let view = tab
        .until("the echo arrived", |v| has_said(v, "bot", "echo: hello"))
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
    let mut tab = web.started_tab(None).await;
    let nobody = "xmpp:nobody@example.org";
    tab.send_json(json!({"type": "open", "conversation": nobody}))
        .await;
    tab.say("hello?").await;
    let why = format!("not sent: no connection reaches {nobody}");
    tab.until_entry("the refusal in the conversation", "error", &why)
        .await;

    // An upload to it: the same line, and the upload's answer says so too.
    let to = nobody.replace(':', "%3A").replace('@', "%40");
    let upload = format!("/upload?as=you&to={to}");
    let response = web
        .upload(&upload, "notes.txt", "text/plain", b"my notes\n")
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
    let mut tab = web.started_tab(None).await;

    tab.say("/join lobby").await;
    let view = tab
        .until("the lobby lists both members", |v| {
            conversation(v, "lobby").is_some_and(|c| c["members"] == json!(["bot", "you"]))
        })
        .await;
    let lobby = conversation(&view, "lobby").unwrap();
    assert_eq!(lobby["room"], true);
    assert_eq!(lobby["current"], true);
    tab.until_entry("the join line", "status", "you joined lobby")
        .await;

    tab.say("hi all").await;
    tab.until("the echo in the room", |v| {
        has_said(v, "bot", "echo: hi all")
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
    tab.until_entry("the own status line", "info", "you are away (lunch)")
        .await;
    tab.send_json(json!({"type": "status", "availability": "sleepy"}))
        .await;
    tab.until_entry(
        "a bad availability is an error line",
        "error",
        "`sleepy` is not an availability",
    )
    .await;

    tab.say("/leave lobby").await;
    tab.until("the leave line", |v| {
        conversation(v, "lobby").is_some_and(|c| c["members"] == json!([]))
    })
    .await;
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_and_downloads_files() {
    let web = Web::start().await;
    let mut tab = web.started_tab(None).await;

    let response = web
        .upload("/upload?as=you", "notes.txt", "text/plain", b"my notes\n")
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let view = tab
        .until_entry(
            "the bot acknowledged the file",
            "message",
            "got your file notes.txt (9 bytes)",
        )
        .await;
    let sent = entries(&view)
        .into_iter()
        .find(|e| e["kind"] == "file")
        .expect("the sent file is shown");
    assert_eq!(sent["mine"], true);
    assert_eq!(sent["files"][0]["name"], "notes.txt");
    assert_eq!(sent["files"][0]["size"], 9);

    tab.say("files").await;
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
    let hello = web.get(&link(n_bytes)).await;
    assert_eq!(hello.status, 200, "{}", hello.text());
    assert_eq!(hello.body, HELLO);
    assert!(
        hello
            .header("content-disposition")
            .unwrap()
            .starts_with("attachment;")
    );
    assert_eq!(hello.header("content-security-policy"), Some("sandbox"));
    let by_url = web.get(&link(n_url)).await;
    assert_eq!(by_url.status, 200, "{}", by_url.text());
    assert_eq!(by_url.body, BY_URL);

    let missing = web.get(&link(9)).await;
    assert_eq!(missing.status, 404);
    assert!(missing.text().contains("no file 9"), "{}", missing.text());
    let nobody = web.get("/file?as=nobody&conversation=x&n=1").await;
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
        .until_you("the guest started", "direct:guest-1")
        .await;
    assert_eq!(view["person"], "guest-1");
    // A tab may ask for a name.
    let mut third = web.tab(Some("carol")).await;
    third.until_you("carol started", "direct:carol").await;
    let people = loop {
        let names = people_names(&third.people);
        if names.len() == 3 {
            break names;
        }
        third.next().await.expect("the roster");
    };
    assert_eq!(people, ["you", "guest-1", "carol"]);

    // Each talks with the bot on its own.
    second.say("I am a guest").await;
    second
        .until_entry("the guest's echo", "message", "echo: I am a guest")
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
        .until_entry("the guest is away", "status", "guest-1 is away")
        .await;
    let guest = conversation(&first.view, "guest-1").unwrap();
    assert_eq!(guest["presence"]["availability"], "away");

    // And talk to each other.
    first.say("hi guest").await;
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
        .until("the message from you", |v| has_said(v, "you", "hi guest"))
        .await;
    assert_eq!(conversation(&view, "you").unwrap()["unread"], 0);

    // Another tab for `you` shows the same person.
    let mut again = web.tab(Some("you")).await;
    again
        .until_entry("the same conversation", "message", "hi guest")
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
    let mut tab = web.started_tab(None).await;
    let mut other = web.started_tab(Some("you")).await;

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
    tab.until_entry("a bad address is an error line", "error", "cannot open ::")
        .await;
    tab.say("/send /etc/passwd").await;
    tab.until_entry(
        "no files from the server's disk",
        "error",
        "sends files by upload",
    )
    .await;

    // The tab still works, and the other tab saw no error.
    tab.say("still here").await;
    tab.until_entry("the echo", "message", "echo: still here")
        .await;
    other
        .until_entry("the echo in the other tab", "message", "echo: still here")
        .await;
    assert!(other.errors.is_empty(), "{:?}", other.errors);
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_conversation_sends_its_newest_entries() {
    let web = Web::start().await;
    let mut tab = web.started_tab(None).await;
    let talker = chatty_direct::Person::join(&web.network, "talker").await;
    let you = web.network.address("you");
    let total = chatty_client::web::VIEW_ENTRIES + 100;
    for i in 0..total {
        talker.say(&you, format!("line {i}")).await;
    }
    tab.send_json(json!({"type": "open", "conversation": "talker"}))
        .await;
    let last = format!("line {}", total - 1);
    let view = tab.until_entry("the last line", "message", &last).await;
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
    let mut tab = web.started_tab(None).await;
    let big = vec![b'x'; chatty_client::web::MAX_UPLOAD + 100 * 1024];
    let response = web
        .upload(
            "/upload?as=you",
            "big.bin",
            "application/octet-stream",
            &big,
        )
        .await;
    assert_eq!(response.status, 413, "{}", response.text());
    // Nothing was sent.
    tab.say("after").await;
    let view = tab.until_entry("the echo", "message", "echo: after").await;
    assert!(!entries(&view).iter().any(|e| e["kind"] == "file"));
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_lists_what_works_in_the_page() {
    let web = Web::start().await;
    let mut tab = web.started_tab(None).await;
    tab.say("/help").await;
    let view = tab.until_entry("the help", "info", "file button").await;
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
    let mut tab = web.started_tab(None).await;
    tab.say("/time").await;
    tab.until_entry("the bot got /time", "message", "echo: /time")
        .await;
    tab.say("//help").await;
    let view = tab
        .until_entry("the bot got /help", "message", "echo: /help")
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
    let view = tab.until_started().await;
    assert_eq!(view["status"], json!(null));
    tab.send_json(json!({"type": "status", "availability": "away", "message": "lunch"}))
        .await;
    tab.until_entry("the status", "info", "you are away (lunch)")
        .await;
    drop(tab);
    // The reloaded page asks for its person by name, and gets the status with the first view.
    let mut reloaded = web.tab(Some("you")).await;
    let view = reloaded.until_started().await;
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
    guest.say("my secret").await;
    guest
        .until_entry("the echo", "message", "echo: my secret")
        .await;
    drop(guest);
    // A new tab (no name asked for) is a new person, not the closed tab's guest.
    let mut next = web.tab(None).await;
    let view = next
        .until("the next guest", |v| v["person"] == "guest-2")
        .await;
    assert!(!has_entry(&view, "message", "my secret"), "{view}");
    // Nobody shows guest-1 any more: it leaves after its idle time.
    let deadline = tokio::time::Instant::now() + WAIT;
    while people_names(&first.people) != ["you", "guest-2"] {
        assert!(
            tokio::time::Instant::now() < deadline,
            "guest-1 stayed: {}",
            first.people
        );
        first.next().await.expect("the roster without guest-1");
    }
    // A tab asking for the name later is a fresh person of that name.
    let mut again = web.tab(Some("guest-1")).await;
    let view = again.until_you("guest-1 again", "direct:guest-1").await;
    assert!(!has_entry(&view, "message", "my secret"), "{view}");
    web.stop().await;
}
