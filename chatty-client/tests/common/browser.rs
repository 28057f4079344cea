//! For the web window's tests in a browser: headless Chromium through chromedriver (WebDriver),
//! waiting for the page, typing, clicks, downloads and screenshots.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use futures::FutureExt as _;
use futures::future::LocalBoxFuture;
use serde_json::json;

use super::web::{WAIT, Web};

/// chromedriver's URL, or a clear failure.
pub fn webdriver() -> String {
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
pub async fn browser(profile: &Path, downloads: &Path, phone: bool) -> Client {
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

/// Runs `drive` with a [`Web`] window and a headless Chromium (see [`browser`]), given the
/// Chromium, the window, a temporary directory and the `downloads` directory in it. Chromium is
/// closed even when a step fails; the window is stopped after a run that passed.
pub async fn in_chromium<F>(phone: bool, drive: F)
where
    F: for<'a> FnOnce(&'a Client, &'a Web, &'a Path, &'a Path) -> LocalBoxFuture<'a, ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("profile");
    let downloads = dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let web = Web::start().await;
    let client = browser(&profile, &downloads, phone).await;
    let result = AssertUnwindSafe(drive(&client, &web, dir.path(), &downloads))
        .catch_unwind()
        .await;
    let _ = client.close().await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    web.stop().await;
}

/// Waits until `check` gives `Some`, polling the page; panics with `what` and the page's log.
pub async fn wait_for<T, F, Fut>(client: &Client, what: &str, mut check: F) -> T
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
pub async fn text(client: &Client, css: &str) -> String {
    match client.find(Locator::Css(css)).await {
        Ok(element) => element.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Waits until the text of the element `css` has `wanted` in it.
pub async fn wait_text(client: &Client, css: &str, wanted: &str) {
    wait_for(client, &format!("`{wanted}` in {css}"), || async {
        text(client, css).await.contains(wanted).then_some(())
    })
    .await
}

/// The file `name` once the browser has finished downloading it.
pub async fn downloaded(client: &Client, dir: &Path, name: &str) -> Vec<u8> {
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

/// Where the screenshot `name` goes: in the target dir (the parent of `CARGO_TARGET_TMPDIR`).
pub fn screenshot_path(name: &str) -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join(name)
}

/// Saves a screenshot of the page as `name` (see [`screenshot_path`]) and prints where.
pub async fn save_screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("a screenshot");
    let path = screenshot_path(name);
    std::fs::write(&path, png).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    println!("screenshot: {}", path.display());
}

/// Runs `script` in the page and returns what it returns.
pub async fn js(client: &Client, script: &str) -> serde_json::Value {
    client
        .execute(script, Vec::new())
        .await
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"))
}

/// Clicks the element `locator` finds.
pub async fn click(client: &Client, locator: Locator<'_>) {
    client.find(locator).await.unwrap().click().await.unwrap();
}

/// Types `keys` into the element `css`.
pub async fn type_into(client: &Client, css: &str, keys: &str) {
    let element = client.find(Locator::Css(css)).await.unwrap();
    element.send_keys(keys).await.unwrap();
}

/// Types `line` into the input box and presses Enter.
pub async fn say(client: &Client, line: &str) {
    type_into(client, "#input", &format!("{line}\u{E007}")).await;
}

/// Clicks the conversation `name` in the side list and waits until it is the one shown.
pub async fn pick_in_side_list(client: &Client, name: &str) {
    let item = format!("//ul[@id='conversations']/li[span[text()='{name}']]");
    click(client, Locator::XPath(&item)).await;
    wait_text(client, "#title", name).await;
}

/// Opens `url` in a new tab and switches to it.
pub async fn open_tab(client: &Client, url: &str) {
    let tab = client.new_window(true).await.unwrap();
    client.switch_to_window(tab.handle).await.unwrap();
    client.goto(url).await.unwrap();
}
