//! The `chatty` program killed in the middle of a burst of 1 000 XMPP messages to a process bot:
//! `examples/process/reverse.py`, which speaks version 2 of the JSON-lines protocol (it
//! acknowledges each signal once answered), on an XMPP session, the journal on by default. A
//! person (a raw XMPP client written here, over the test Prosody's plaintext port: no Chatty
//! and no tokio-xmpp code in it, in the test's process, not the bot's) sends the burst and keeps
//! sending while the bot is dead; the `chatty` process is SIGKILLed once some answers arrived
//! (its Python program then reads the end of its input and exits) and started again a second
//! later with the same config. Once every message is answered and nothing more comes, each must
//! have exactly one answer: none lost (what the program had read but not acknowledged is given
//! again), none twice (the answers that had left are not sent again).
//!
//! Needs the test Prosody (`scripts/test-servers`; `eval "$(scripts/test-servers env)"`) and
//! `python3`.

use std::path::Path;
use std::time::Duration;

use common::crash::{lost, ranges, twice};
use common::xmpp_person::{Burst, Ids, start};
use common::xmpp_session_toml;

mod common;

/// 1 000 messages; the kill after 300 answers, for a second; the person keeps pace with the bot
/// while it runs.
const BURST: Burst = Burst {
    messages: 1000,
    kill_after: 300,
    dead_for: Duration::from_secs(1),
    pace: Duration::from_millis(3),
    window: 200,
    window_after_restart: true,
    quiet: Duration::from_secs(6),
    deadline: Duration::from_secs(180),
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_the_runner_mid_burst_loses_and_repeats_no_answer_of_a_process_bot() {
    let dir = tempfile::tempdir().unwrap();
    // The log holds the Python program's standard error too.
    let rust_log = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned());
    // The bot answers with the text reversed.
    let hello = |body: &str| body.ends_with("-pu-mraw");
    let (mut chatty, mut person, bot_jid) = start(dir.path(), config, &rust_log, hello).await;

    let run = format!("p{}", std::process::id());
    let text = |i: usize| format!("{run}-{i:04}");
    let number = |body: &str| {
        let said: String = body.chars().rev().collect();
        said.strip_prefix(&run)
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|n| n.parse::<usize>().ok())
    };
    let outcome = person
        .burst(&bot_jid, &mut chatty, &BURST, text, |_| Ids::Origin, number)
        .await;

    let (answers, errors) = (&outcome.answers, outcome.errors);
    let latest_at_kill = outcome.latest_at_kill;
    let (at_kill, sent_at_kill) = chatty.at_kill();
    let lost = lost(BURST.messages, answers);
    let twice = twice(answers);
    let (messages, dead_for) = (BURST.messages, BURST.dead_for);
    eprintln!(
        "{messages} sent; killed with {at_kill} answers and {sent_at_kill} sent, restarted \
         {dead_for:?} later; {} answers for {} messages, lost {}, answered twice {}, {errors} \
         errors",
        answers.values().sum::<usize>(),
        answers.len(),
        lost.len(),
        twice.len(),
    );
    let report = || {
        format!(
            "lost {}; twice {twice:?} (the answer just before the kill: {latest_at_kill:?}; \
             one that left as the process died is sent again unless the session can tell it \
             left, Protocol::sent)\n{}",
            ranges(&lost),
            chatty.logs()
        )
    };
    if !(chatty.restarted() && lost.is_empty() && twice.is_empty()) {
        eprintln!(
            "the logs and the journal are kept in {}",
            dir.keep().display()
        );
    }
    chatty.assert_once_each(messages, answers.len(), &lost, &twice, report);
}

/// The config file of the reverse bot (the Python example) on the account `jid`.
/// `CHATTY_TEST_PROCESS_BOT` names another program to run instead (a version-1 program shows
/// what version 2 is for).
fn config(jid: &str, password: &str) -> String {
    let script = std::env::var("CHATTY_TEST_PROCESS_BOT").unwrap_or_else(|_| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/process/reverse.py")
            .display()
            .to_string()
    });
    format!(
        r#"
[sessions.chat]
answer_limit = false
{xmpp}
[bots.reverse]
sessions = ["chat"]
process = {{ command = "python3", args = [{script:?}], restart_min_ms = 100 }}
"#,
        xmpp = xmpp_session_toml("chat", jid, password),
    )
}
