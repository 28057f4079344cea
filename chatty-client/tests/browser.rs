//! The web window end to end in headless Chromium, through chromedriver (WebDriver): open the
//! page, see the bot type while you type, send a message and see the reply, answer a question by
//! a click on its button, upload a file, download the bot's files, and a second tab as a second
//! person. A screenshot of the page is saved as `target/chatty-client-web.png` (next to the `tmp`
//! directory of the target dir).
//!
//! Needs `CHATTY_TEST_WEBDRIVER` (chromedriver's URL), which `scripts/test` and
//! `scripts/test-servers` set (scripts/lib/servers.d/client-tools.sh).

mod common;

use std::path::Path;

use common::browser::*;
use common::web::*;
use fantoccini::{Client, Locator};
use futures::FutureExt as _;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_in_headless_chromium() {
    in_chromium(false, |client, web, dir, downloads| {
        drive(client, web, dir, downloads).boxed_local()
    })
    .await;
}

async fn drive(client: &Client, web: &Web, dir: &Path, downloads: &Path) {
    client.goto(&web.url).await.expect("the page opens");
    wait_text(client, "#you", "direct:you").await;
    wait_text(client, "#connection", "connected (direct)").await;
    wait_text(client, "#title", "bot").await;

    // Typing shows the bot typing (it answers "composing" with "composing").
    type_into(client, "#input", "hello from Chromium").await;
    wait_text(client, "#typing", "bot is typing…").await;
    click(client, Locator::Css("#send")).await;
    wait_text(client, "#log", "bot:echo: hello from Chromium").await;
    wait_text(client, "#log", "you:hello from Chromium").await;
    wait_for(client, "the typing line cleared", || async {
        text(client, "#typing").await.is_empty().then_some(())
    })
    .await;

    // A question's options are buttons, labels as text (no HTML); a click answers it, and the
    // question's buttons are disabled from then on.
    say(client, "ask").await;
    let option = "//div[@class='choice']/button[text()='High <b>now</b>']";
    wait_for(client, "a click on the question's button", || async {
        let button = client.find(Locator::XPath(option)).await.ok()?;
        button.click().await.ok()
    })
    .await;
    wait_text(client, "#log", "chose high for priority").await;
    let buttons = js(
        client,
        "return [document.querySelectorAll('#log b').length, \
         Array.from(document.querySelectorAll('#log .choice button')).map(b => b.disabled)];",
    )
    .await;
    assert_eq!(buttons, json!([0, [true, true]]));

    // Upload a file.
    let upload = dir.join("notes.txt");
    std::fs::write(&upload, b"notes from the browser\n").unwrap();
    type_into(client, "#file", &upload.display().to_string()).await;
    click(client, Locator::Css("#upload")).await;
    wait_text(client, "#log", "got your file notes.txt (23 bytes)").await;
    wait_text(client, "#upload-state", "sent notes.txt").await;

    // The bot's files: one with its bytes, one by URL (the server downloads it first).
    say(client, "files").await;
    wait_text(client, "#log", "by-url.txt").await;
    for (name, bytes) in [("hello.txt", HELLO), ("by-url.txt", BY_URL)] {
        let link = client
            .find(Locator::LinkText(name))
            .await
            .unwrap_or_else(|e| panic!("no link {name}: {e}"));
        link.click().await.unwrap();
        assert_eq!(downloaded(client, downloads, name).await, bytes, "{name}");
    }

    // The room, with its members in the side list.
    say(client, "/join lobby").await;
    wait_text(client, "#log", "you joined lobby").await;
    wait_text(client, "#conversations", "# lobby").await;
    wait_text(client, "#conversations", "bot\nyou").await;
    // Back to the bot, by a click in the side list.
    pick_in_side_list(client, "bot").await;
    wait_text(client, "#log", "echo: hello from Chromium").await;

    save_screenshot(client, "chatty-client-web.png").await;

    // `/help` is the page's, a bot's `/time` reaches the bot.
    say(client, "/help").await;
    wait_text(client, "#log", "the file button under the input sends one").await;
    assert!(!text(client, "#log").await.contains("Page Up"));
    say(client, "/time").await;
    wait_text(client, "#log", "bot:echo: /time").await;

    // The status selector shows the status after a reload.
    click(client, Locator::Css("#availability option[value='away']")).await;
    type_into(client, "#status-message", "lunch").await;
    click(client, Locator::Css("#set-status")).await;
    wait_text(client, "#log", "you are away (lunch)").await;
    client.refresh().await.unwrap();
    wait_text(client, "#you", "direct:you").await;
    wait_for(client, "the status after the reload", || async {
        let shown = js(
            client,
            "return [document.getElementById('availability').value, \
             document.getElementById('status-message').value];",
        )
        .await;
        (shown == json!(["away", "lunch"])).then_some(())
    })
    .await;

    // A second tab is a second person.
    let first = client.window().await.unwrap();
    open_tab(client, &web.url).await;
    wait_text(client, "#you", "direct:guest-1").await;
    wait_text(client, "#people", "guest-1").await;
    say(client, "I am the guest").await;
    wait_text(client, "#log", "bot:echo: I am the guest").await;
    client.close_window().await.unwrap();
    client.switch_to_window(first.clone()).await.unwrap();
    // A new tab after it is closed is a new person: not the closed tab's guest.
    open_tab(client, &web.url).await;
    wait_text(client, "#you", "direct:guest-2").await;
    wait_text(client, "#connection", "connected (direct)").await;
    assert!(!text(client, "#log").await.contains("I am the guest"));
    client.close_window().await.unwrap();
    client.switch_to_window(first).await.unwrap();
    wait_text(client, "#you", "direct:you").await;
    assert!(!text(client, "#log").await.contains("I am the guest"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_360_px_wide_screen() {
    in_chromium(true, |client, web, _, _| {
        drive_narrow(client, web).boxed_local()
    })
    .await;
}

/// The page's width, whether it scrolls sideways, and where the side list, the input box and
/// the send button are.
const LAYOUT: &str = "
    const box = (id) => {
        const e = document.getElementById(id);
        const r = e.getBoundingClientRect();
        const shown = getComputedStyle(e).display !== 'none' && r.width > 0 && r.height > 0;
        return {shown, left: r.left, right: r.right, top: r.top, bottom: r.bottom};
    };
    return {
        width: window.innerWidth,
        height: window.innerHeight,
        scroll: Math.max(document.documentElement.scrollWidth, document.body.scrollWidth),
        side: box('side'),
        input: box('input'),
        send: box('send'),
        upload: box('upload'),
    };";

/// Whether the element `name` of `layout` is shown and inside the screen.
fn inside(layout: &serde_json::Value, name: &str) -> bool {
    let e = &layout[name];
    let (w, h) = (
        layout["width"].as_f64().unwrap(),
        layout["height"].as_f64().unwrap(),
    );
    e["shown"] == true
        && e["left"].as_f64().unwrap() >= 0.0
        && e["right"].as_f64().unwrap() <= w
        && e["top"].as_f64().unwrap() >= 0.0
        && e["bottom"].as_f64().unwrap() <= h
}

async fn drive_narrow(client: &Client, web: &Web) {
    client.goto(&web.url).await.expect("the page opens");
    wait_text(client, "#you", "direct:you").await;
    wait_text(client, "#title", "bot").await;
    // A long line without spaces must wrap, not widen the page.
    say(client, &"x".repeat(300)).await;
    wait_text(client, "#log", "bot:echo: xxxx").await;

    let layout = js(client, LAYOUT).await;
    assert_eq!(layout["width"], 360, "{layout}");
    assert!(
        layout["scroll"].as_f64().unwrap() <= 360.0,
        "it scrolls sideways: {layout}"
    );
    assert_eq!(
        layout["side"]["shown"], false,
        "the side list is folded: {layout}"
    );
    for name in ["input", "send", "upload"] {
        assert!(
            inside(&layout, name),
            "{name} is not on the screen: {layout}"
        );
    }
    save_screenshot(client, "chatty-client-web-360.png").await;

    // The toggle shows the side list; picking a conversation folds it again.
    say(client, "/join lobby").await;
    wait_text(client, "#log", "you joined lobby").await;
    click(client, Locator::Css("#side-toggle")).await;
    let layout = js(client, LAYOUT).await;
    assert!(
        inside(&layout, "side"),
        "the side list is not shown: {layout}"
    );
    assert!(layout["scroll"].as_f64().unwrap() <= 360.0, "{layout}");
    wait_text(client, "#conversations", "# lobby").await;
    pick_in_side_list(client, "bot").await;
    let layout = js(client, LAYOUT).await;
    assert_eq!(layout["side"]["shown"], false, "{layout}");
    assert!(
        inside(&layout, "input") && inside(&layout, "send"),
        "{layout}"
    );
    // And the chat goes on.
    say(client, "small screens work").await;
    wait_text(client, "#log", "bot:echo: small screens work").await;
}
