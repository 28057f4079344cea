//! The web window end to end in headless Chromium, through chromedriver (WebDriver): open the
//! page, see the bot type while you type, send a message and see the reply, answer a question by
//! a click on its button, upload a file, download the bot's files, and a second tab as a second
//! person. A screenshot of the page is saved as `target/chatty-client-web.png` (next to the `tmp`
//! directory of the target dir).
//!
//! Needs `CHATTY_TEST_WEBDRIVER` (chromedriver's URL), which `scripts/test` and
//! `scripts/test-servers` set (scripts/lib/servers.d/client-tools.sh).

mod common;

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::web::*;
use fantoccini::{Client, ClientBuilder, Locator};
use futures::FutureExt as _;
use serde_json::json;

/// chromedriver's URL, or a clear failure.
fn webdriver() -> String {
    std::env::var("CHATTY_TEST_WEBDRIVER").unwrap_or_else(|_| {
        panic!(
            "CHATTY_TEST_WEBDRIVER is not set: this test drives headless Chromium through \
             chromedriver. Run it through scripts/test, or start the test tools with \
             scripts/test-servers and `eval \"$(scripts/test-servers env)\"`"
        )
    })
}

/// A headless Chromium for tests on a closed network, run as root: fresh profile, downloads to
/// `downloads`; with `phone`, a 360 × 740 px screen (Chromium's mobile emulation).
async fn browser(profile: &Path, downloads: &Path, phone: bool) -> Client {
    let args = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1200,800",
        &format!("--user-data-dir={}", profile.display()),
    ];
    let mut options = json!({
        "args": args,
        "prefs": {
            "download.default_directory": downloads.display().to_string(),
            "download.prompt_for_download": false,
            "safebrowsing.enabled": false,
        },
    });
    if phone {
        options["mobileEmulation"] = json!({
            "deviceMetrics": {"width": 360, "height": 740, "pixelRatio": 2.0, "touch": true},
        });
    }
    if Path::new("/usr/bin/chromium").exists() {
        options["binary"] = json!("/usr/bin/chromium");
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), json!("chrome"));
    capabilities.insert("goog:chromeOptions".into(), options);
    let url = webdriver();
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&url)
        .await
        .unwrap_or_else(|e| panic!("cannot start Chromium through chromedriver at {url}: {e}"))
}

/// Waits until `check` gives `Some`, polling the page; panics with `what` and the page's log.
async fn wait_for<T, F, Fut>(client: &Client, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() > deadline {
            let log = text(client, "#log").await;
            let error = text(client, "#error").await;
            panic!("the page did not show {what} within {WAIT:?}; log:\n{log}\nerror: {error}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The text of the element `css` (empty if there is none).
async fn text(client: &Client, css: &str) -> String {
    match client.find(Locator::Css(css)).await {
        Ok(element) => element.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

async fn wait_text(client: &Client, css: &str, wanted: &str) {
    wait_for(client, &format!("`{wanted}` in {css}"), || async {
        text(client, css).await.contains(wanted).then_some(())
    })
    .await
}

/// The file `name` once the browser has finished downloading it.
async fn downloaded(client: &Client, dir: &Path, name: &str) -> Vec<u8> {
    let path = dir.join(name);
    wait_for(client, &format!("the download of {name}"), || {
        let path = path.clone();
        async move {
            // Chromium writes `NAME.crdownload` and renames it when done.
            let partial = path.with_extension("txt.crdownload");
            if partial.exists() {
                return None;
            }
            std::fs::read(&path).ok()
        }
    })
    .await
}

/// Where the screenshot goes: `target/chatty-client-web.png` (the target dir is the parent of
/// `CARGO_TARGET_TMPDIR`).
fn screenshot_path(name: &str) -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join(name)
}

/// Runs `script` in the page and returns what it returns.
async fn js(client: &Client, script: &str) -> serde_json::Value {
    client
        .execute(script, Vec::new())
        .await
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"))
}

/// Types `line` into the input box and presses Enter.
async fn say(client: &Client, line: &str) {
    let input = client.find(Locator::Css("#input")).await.unwrap();
    input.send_keys(&format!("{line}\u{E007}")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("profile");
    let downloads = dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let web = Web::start().await;
    let client = browser(&profile, &downloads, false).await;
    // Chromium is closed even when a step fails.
    let result = AssertUnwindSafe(drive(&client, &web, dir.path(), &downloads))
        .catch_unwind()
        .await;
    let _ = client.close().await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    web.stop().await;
}

async fn drive(client: &Client, web: &Web, dir: &Path, downloads: &Path) {
    client.goto(&web.url).await.expect("the page opens");
    wait_text(client, "#you", "direct:you").await;
    wait_text(client, "#connection", "connected (direct)").await;
    wait_text(client, "#title", "bot").await;

    // Typing shows the bot typing (it answers "composing" with "composing").
    let input = client.find(Locator::Css("#input")).await.unwrap();
    input.send_keys("hello from Chromium").await.unwrap();
    wait_text(client, "#typing", "bot is typing…").await;
    client
        .find(Locator::Css("#send"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
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
    client
        .find(Locator::Css("#file"))
        .await
        .unwrap()
        .send_keys(&upload.display().to_string())
        .await
        .unwrap();
    client
        .find(Locator::Css("#upload"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(client, "#log", "got your file notes.txt (23 bytes)").await;
    wait_text(client, "#upload-state", "sent notes.txt").await;

    // The bot's files: one with its bytes, one by URL (the server downloads it first).
    let input = client.find(Locator::Css("#input")).await.unwrap();
    input.send_keys("files\u{E007}").await.unwrap(); // Enter
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
    let input = client.find(Locator::Css("#input")).await.unwrap();
    input.send_keys("/join lobby\u{E007}").await.unwrap();
    wait_text(client, "#log", "you joined lobby").await;
    wait_text(client, "#conversations", "# lobby").await;
    wait_text(client, "#conversations", "bot\nyou").await;
    // Back to the bot, by a click in the side list.
    client
        .find(Locator::XPath(
            "//ul[@id='conversations']/li[span[text()='bot']]",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(client, "#title", "bot").await;
    wait_text(client, "#log", "echo: hello from Chromium").await;

    let png = client.screenshot().await.expect("a screenshot");
    let path = screenshot_path("chatty-client-web.png");
    std::fs::write(&path, png).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    println!("screenshot: {}", path.display());

    // `/help` is the page's, a bot's `/time` reaches the bot.
    say(client, "/help").await;
    wait_text(client, "#log", "the file button under the input sends one").await;
    assert!(!text(client, "#log").await.contains("Page Up"));
    say(client, "/time").await;
    wait_text(client, "#log", "bot:echo: /time").await;

    // The status selector shows the status after a reload.
    client
        .find(Locator::Css("#availability option[value='away']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .find(Locator::Css("#status-message"))
        .await
        .unwrap()
        .send_keys("lunch")
        .await
        .unwrap();
    client
        .find(Locator::Css("#set-status"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
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
    let tab = client.new_window(true).await.unwrap();
    client.switch_to_window(tab.handle).await.unwrap();
    client.goto(&web.url).await.unwrap();
    wait_text(client, "#you", "direct:guest-1").await;
    wait_text(client, "#people", "guest-1").await;
    say(client, "I am the guest").await;
    wait_text(client, "#log", "bot:echo: I am the guest").await;
    client.close_window().await.unwrap();
    client.switch_to_window(first.clone()).await.unwrap();
    // A new tab after it is closed is a new person: not the closed tab's guest.
    let tab = client.new_window(true).await.unwrap();
    client.switch_to_window(tab.handle).await.unwrap();
    client.goto(&web.url).await.unwrap();
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
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("profile");
    let downloads = dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let web = Web::start().await;
    let client = browser(&profile, &downloads, true).await;
    let result = AssertUnwindSafe(drive_narrow(&client, &web))
        .catch_unwind()
        .await;
    let _ = client.close().await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    web.stop().await;
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
    let png = client.screenshot().await.expect("a screenshot");
    let path = screenshot_path("chatty-client-web-360.png");
    std::fs::write(&path, png).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    println!("screenshot: {}", path.display());

    // The toggle shows the side list; picking a conversation folds it again.
    say(client, "/join lobby").await;
    wait_text(client, "#log", "you joined lobby").await;
    client
        .find(Locator::Css("#side-toggle"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let layout = js(client, LAYOUT).await;
    assert!(
        inside(&layout, "side"),
        "the side list is not shown: {layout}"
    );
    assert!(layout["scroll"].as_f64().unwrap() <= 360.0, "{layout}");
    wait_text(client, "#conversations", "# lobby").await;
    client
        .find(Locator::XPath(
            "//ul[@id='conversations']/li[span[text()='bot']]",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(client, "#title", "bot").await;
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
