//! Fidelity: Slack's official Python SDK (slack_sdk's WebClient and built-in SocketModeClient)
//! runs the scenarios chatty-slack's tests run, against the local Slack. The scripts are in
//! `tests/sdk/`; the SDK comes from `scripts/test` (or `scripts/test-servers`), which exports
//! `CHATTY_TEST_SLACK_PYTHON`.

use std::collections::BTreeSet;
use std::time::Duration;

use chatty_local_slack::LocalSlack;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(45);

fn python() -> String {
    std::env::var("CHATTY_TEST_SLACK_PYTHON").unwrap_or_else(|_| {
        panic!(
            "CHATTY_TEST_SLACK_PYTHON is not set: these tests drive the local Slack with Slack's \
             Python SDK. `scripts/test` installs it itself; to run these tests alone, run \
             `scripts/test-servers` and, in another shell, `eval \"$(scripts/test-servers env)\"` \
             before `cargo test -p chatty-local-slack`."
        )
    })
}

/// Starts `tests/sdk/NAME` with `config`; the child runs while the caller acts.
fn spawn(name: &str, config: &Value) -> tokio::process::Child {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk");
    tokio::process::Command::new(python())
        .arg(format!("{dir}/{name}"))
        .arg(config.to_string())
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name} with {}: {e}", python()))
}

/// Waits for a script and returns the JSON on its last line; panics with its stderr if it
/// failed.
async fn finish(name: &str, child: tokio::process::Child) -> Value {
    let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{name} did not finish within 120 s"))
        .expect("the script's output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{name} failed ({}):\n{stderr}\n{stdout}",
        output.status
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{name} printed no JSON ({e}): {stdout}"))
}

/// Waits for `condition`; if it does not hold in time, stops the script and panics with what
/// it logged.
async fn expect(
    slack: &LocalSlack,
    child: &mut tokio::process::Child,
    what: &str,
    condition: impl Fn(&LocalSlack) -> bool,
) {
    if slack.wait_until(WAIT, condition).await {
        return;
    }
    let _ = child.start_kill();
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        use tokio::io::AsyncReadExt as _;
        let _ = tokio::time::timeout(Duration::from_secs(5), err.read_to_string(&mut stderr)).await;
    }
    panic!("{what} did not happen within {WAIT:?}; the script logged:\n{stderr}");
}

async fn run(name: &str, config: &Value) -> Value {
    finish(name, spawn(name, config)).await
}

struct World {
    slack: LocalSlack,
    config: Value,
    alice: String,
    app_id: String,
    dm: String,
}

/// Slack's retry timetable, shortened: at once, after 1 s, after 10 s.
const SHORT_RETRIES: [Duration; 3] = [
    Duration::ZERO,
    Duration::from_secs(1),
    Duration::from_secs(10),
];

async fn world() -> World {
    let slack = LocalSlack::start().await.expect("the local Slack starts");
    let alice = slack.add_user("alice");
    let app = slack.add_app("sdk-bot");
    let channel = slack.create_channel("general", &alice, false);
    let dm = slack.open_conversation(&[&alice, &app.bot_user_id]);
    let config = json!({
        "api_url": slack.api_url(),
        "team": slack.team_id(),
        "bot_token": app.bot_token,
        "app_token": app.app_token,
        "user_token": slack.user_token(&alice).expect("alice's token"),
        "bot_user": app.bot_user_id,
        "bot_id": app.bot_id,
        "alice": alice,
        "channel": channel,
        "dm": dm,
    });
    World {
        slack,
        config,
        alice,
        app_id: app.app_id,
        dm,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_api_methods_answer_as_slack_documents() {
    let w = world().await;
    let result = run("web_api.py", &w.config).await;
    assert_eq!(result["ok"], true);
    assert_eq!(result["dm"], w.dm.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withheld_scopes_revoked_tokens_and_metadata() {
    let slack = LocalSlack::start().await.expect("the local Slack starts");
    let alice = slack.add_user("alice");
    let scopes: Vec<&str> = chatty_local_slack::DEFAULT_SCOPES
        .iter()
        .copied()
        .filter(|s| *s != "im:write")
        .collect();
    let app = slack.add_app_with_scopes("sdk-bot", &scopes);
    let gone = slack.add_app("gone");
    slack.revoke_token(&gone.bot_token);
    let channel = slack.create_channel("general", &alice, false);
    slack.join(&app.bot_user_id, &channel);
    let config = json!({
        "api_url": slack.api_url(),
        "bot_token": app.bot_token,
        "revoked_token": gone.bot_token,
        "user_token": slack.user_token(&alice).expect("alice's token"),
        "alice": alice,
        "channel": channel,
    });
    let result = run("scopes.py", &config).await;
    assert_eq!(result["ok"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_v2_upload_and_download() {
    let w = world().await;
    let result = run("files.py", &w.config).await;
    let file = result["file_id"].as_str().expect("a file id");
    assert_eq!(w.slack.file_bytes(file).unwrap().as_ref(), b"hello file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_waited_out_by_the_sdks_retry_handler() {
    let w = world().await;
    w.slack.rate_limit("chat.postMessage", 4, 1);
    let result = run("rate_limit.py", &w.config).await;
    assert_eq!(result["sent"].as_array().map(Vec::len), Some(5));
    let texts: Vec<Value> = w
        .slack
        .messages(&w.dm)
        .iter()
        .map(|m| m["text"].clone())
        .collect();
    assert_eq!(texts, ["r0", "r1", "r2", "r3", "r4"]);
}

/// The texts of alice's messages among `envelopes`, in the order received.
fn texts_from(envelopes: &[Value], alice: &str) -> Vec<String> {
    envelopes
        .iter()
        .filter(|e| e["type"] == "message" && e["user"] == alice)
        .map(|e| e["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Starts `socket_mode.py` (slack_sdk's SocketModeClient), which collects envelopes until
/// `messages` distinct messages came, and waits until it is connected to the app.
async fn socket_mode_client(w: &World, messages: u32) -> tokio::process::Child {
    let mut config = w.config.clone();
    config["expect"] = messages.into();
    let mut child = spawn("socket_mode.py", &config);
    let app = w.app_id.clone();
    expect(&w.slack, &mut child, "the SDK's connection", |s| {
        s.socket_count(&app) == 1
    })
    .await;
    child
}

/// Where the reconnection scenarios start: Slack's retries shortened, a SocketModeClient
/// waiting for two messages, connected, and alice's `before` acknowledged by it. The client,
/// and how many connections the app had opened by then.
async fn client_past_a_first_ack(w: &World) -> (tokio::process::Child, u32) {
    // What finds no socket open while the client reconnects comes on Slack's next retry
    // (after 1 and 5 minutes; shortened here).
    w.slack.set_retry_schedule(&SHORT_RETRIES);
    let mut child = socket_mode_client(w, 2).await;
    let app = w.app_id.clone();
    w.slack.post(&w.alice, &w.dm, "before");
    expect(&w.slack, &mut child, "the first ack", |s| {
        s.pending_events(&app) == 0
    })
    .await;
    (child, w.slack.connections_opened(&app))
}

/// Waits for `socket_mode.py` to finish; the texts of alice's messages it received, in any
/// order.
async fn texts_received(w: &World, child: tokio::process::Child) -> BTreeSet<String> {
    let result = finish("socket_mode.py", child).await;
    let envelopes = result["envelopes"].as_array().expect("envelopes");
    texts_from(envelopes, &w.alice).into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_mode_delivers_and_acks_events() {
    let w = world().await;
    let child = socket_mode_client(&w, 2).await;
    w.slack.post(&w.alice, &w.dm, "one");
    w.slack.post(&w.alice, &w.dm, "two");
    let result = finish("socket_mode.py", child).await;
    let envelopes = result["envelopes"].as_array().expect("envelopes");
    assert_eq!(texts_from(envelopes, &w.alice), ["one", "two"]);
    let first = &envelopes[0];
    assert_eq!(first["api_app_id"], w.app_id.as_str());
    assert_eq!(first["team_id"], w.slack.team_id().as_str());
    assert_eq!(first["channel"], w.dm.as_str());
    assert_eq!(first["retry_attempt"], 0);
    assert_eq!(
        w.slack.pending_events(&w.app_id),
        0,
        "every envelope was acknowledged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_mode_redelivers_unacknowledged_envelopes() {
    let w = world().await;
    w.slack.set_ack_timeout(Duration::from_millis(300));
    w.slack.ignore_acks(&w.app_id, 1);
    let mut child = socket_mode_client(&w, 1).await;
    let app = w.app_id.clone();
    w.slack.post(&w.alice, &w.dm, "again");
    expect(&w.slack, &mut child, "a redelivery", |s| {
        s.deliveries(&app).len() >= 2
    })
    .await;
    let result = finish("socket_mode.py", child).await;
    let envelopes = result["envelopes"].as_array().expect("envelopes");
    let again: Vec<&Value> = envelopes.iter().filter(|e| e["text"] == "again").collect();
    assert_eq!(again.len(), 2, "{envelopes:?}");
    assert_eq!(again[0]["event_id"], again[1]["event_id"]);
    assert_eq!(
        (
            again[0]["retry_attempt"].clone(),
            again[0]["retry_reason"].clone()
        ),
        (json!(0), json!(""))
    );
    assert_eq!(
        (
            again[1]["retry_attempt"].clone(),
            again[1]["retry_reason"].clone()
        ),
        (json!(1), json!("timeout"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_mode_reconnects_on_disconnect() {
    let w = world().await;
    let (mut child, opened) = client_past_a_first_ack(&w).await;
    let app = w.app_id.clone();
    w.slack.disconnect(&app, "refresh_requested");
    expect(
        &w.slack,
        &mut child,
        "a new connection after `disconnect`",
        |s| s.connections_opened(&app) > opened,
    )
    .await;
    w.slack.post(&w.alice, &w.dm, "after disconnect");
    assert_eq!(
        texts_received(&w, child).await,
        BTreeSet::from(["before".into(), "after disconnect".into()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_mode_reconnects_after_a_killed_socket() {
    let w = world().await;
    let (mut child, opened) = client_past_a_first_ack(&w).await;
    let app = w.app_id.clone();
    w.slack.kill_sockets(&app);
    w.slack.post(&w.alice, &w.dm, "after kill");
    expect(
        &w.slack,
        &mut child,
        "a new connection after the socket died",
        |s| s.connections_opened(&app) > opened,
    )
    .await;
    assert_eq!(
        texts_received(&w, child).await,
        BTreeSet::from(["before".into(), "after kill".into()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_mode_delivers_clicks_and_slash_commands() {
    let w = world().await;
    let app = w.app_id.clone();
    assert!(w.slack.add_slash_command(&app, "/ticket"));
    let mut child = spawn("interactions.py", &w.config);
    expect(
        &w.slack,
        &mut child,
        "the SDK's question with buttons",
        |s| {
            s.socket_count(&app) == 1 && s.messages(&w.dm).iter().any(|m| m.get("blocks").is_some())
        },
    )
    .await;
    let question = w.slack.messages(&w.dm).remove(0);
    let ts = question["ts"].as_str().expect("a ts").to_owned();
    w.slack.click(&w.alice, &w.dm, &ts, "no").expect("a click");
    w.slack
        .slash_command(&w.alice, &w.dm, "/ticket", "open printer on fire")
        .expect("a command");
    let result = finish("interactions.py", child).await;
    assert_eq!(result["ts"], ts.as_str());
    let received = result["received"].as_array().expect("requests");
    assert_eq!(received.len(), 2, "{received:?}");
    // slack_sdk's SocketModeClient runs its listeners on a thread pool, so the two envelopes
    // may be recorded in either order (Slack promises no order between them either).
    let of_type = |kind: &str| {
        received
            .iter()
            .find(|r| r["type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} envelope in {received:?}"))
    };
    let click = of_type("interactive");
    assert_eq!(click["accepts_response_payload"], false);
    assert_eq!(click["payload"]["type"], "block_actions");
    assert_eq!(click["payload"]["actions"][0]["value"], "n");
    assert_eq!(click["payload"]["actions"][0]["block_id"], "deploy");
    let command = of_type("slash_commands");
    assert_eq!(command["accepts_response_payload"], true);
    assert_eq!(command["payload"]["text"], "open printer on fire");
    assert!(w.slack.failed_interactions(&app).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_through_the_sdk() {
    let w = world().await;
    let result = run("reactions.py", &w.config).await;
    let ts = result["ts"].as_str().expect("the message's ts");
    let bot = w.config["bot_user"].as_str().expect("the bot user");
    assert_eq!(
        result["errors"],
        json!({"again": "already_reacted", "colons": "invalid_name",
               "no_message": "message_not_found", "not_reacted": "no_reaction"})
    );
    let reactions = json!([{"name": "thumbsup", "users": [bot], "count": 1}]);
    assert_eq!(result["get"]["type"], "message");
    assert_eq!(result["get"]["channel"], w.dm.as_str());
    assert_eq!(result["get"]["message"]["reactions"], reactions);
    assert_eq!(result["history"], json!([reactions]));
    assert_eq!(result["after"], Value::Null);
    let events = result["events"].as_array().expect("events");
    // slack_sdk's SocketModeClient runs its listeners on a thread pool: the events are
    // recorded in any order.
    let mut kinds: Vec<(&str, &str, &str)> = events
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default();
            (s("type"), s("user"), s("reaction"))
        })
        .collect();
    kinds.sort_unstable();
    let mut expected = [
        ("reaction_added", bot, "thumbsup"),
        ("reaction_added", w.alice.as_str(), "tada"),
        ("reaction_removed", w.alice.as_str(), "tada"),
        ("reaction_removed", bot, "thumbsup"),
    ];
    expected.sort_unstable();
    assert_eq!(kinds, expected);
    let tada = events
        .iter()
        .find(|e| e["type"] == "reaction_added" && e["reaction"] == "tada")
        .expect("the person's reaction");
    assert_eq!(
        tada["item"],
        json!({"type": "message", "channel": w.dm, "ts": ts})
    );
    assert_eq!(tada["item_user"], w.alice.as_str());
}
