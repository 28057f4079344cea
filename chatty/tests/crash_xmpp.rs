//! The `chatty` program killed in the middle of a burst of 1 000 XMPP messages: the echo bot with
//! the Logger, on an XMPP session, its journal on by default. A person (a raw XMPP client written
//! here, over the test Prosody's plaintext port: no Chatty and no tokio-xmpp code in it, in the
//! test's process, not the bot's) sends the burst (a third with an origin-id, a third with only a
//! stanza id, a third with no id) and keeps sending while the bot is dead; the bot process is
//! SIGKILLed once some answers arrived and started again a second later with the same config.
//! Once every message is answered and nothing more comes, each must have exactly one answer: none
//! lost, none twice.
//!
//! Needs the test Prosody (`scripts/test-servers`; `eval "$(scripts/test-servers env)"`), with
//! its archive (MAM) on, as the test servers run it.

use std::time::Duration;

use common::crash::{lost, ranges, twice};
use common::xmpp_person::{Burst, Ids, start};
use common::xmpp_session_toml;

mod common;

/// 1 000 messages; the kill after 300 answers, for a second; then the rest at full pace.
const BURST: Burst = Burst {
    messages: 1000,
    kill_after: 300,
    dead_for: Duration::from_secs(1),
    pace: Duration::from_millis(3),
    window: 200,
    window_after_restart: false,
    quiet: Duration::from_secs(6),
    deadline: Duration::from_secs(180),
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_burst_loses_and_repeats_no_answer() {
    let dir = tempfile::tempdir().unwrap();
    let hello = |body: &str| body.starts_with("warm-up-");
    let (mut chatty, mut person, bot_jid) = start(dir.path(), config, "info", hello).await;

    let run = format!("x{}", std::process::id());
    let text = |i: usize| format!("{run}-{i:04}");
    // The bot echoes the text.
    let number = |body: &str| {
        (body.len() == run.len() + 5 && body.starts_with(&run))
            .then(|| body[run.len() + 1..].parse::<usize>().ok())
            .flatten()
    };
    let outcome = person
        .burst(&bot_jid, &mut chatty, &BURST, text, Ids::of, number)
        .await;

    let (answers, sent, errors) = (&outcome.answers, outcome.sent, outcome.errors);
    let (at_kill, sent_at_kill) = chatty.at_kill();
    let lost = lost(BURST.messages, answers);
    let twice = twice(answers);
    let (messages, dead_for) = (BURST.messages, BURST.dead_for);
    eprintln!(
        "{sent} of {messages} sent; killed with {at_kill} answers and {sent_at_kill} sent, restarted {dead_for:?} later; \
         {} answers for {} messages, lost {}, answered twice {}, {errors} errors",
        answers.values().sum::<usize>(),
        answers.len(),
        lost.len(),
        twice.len(),
    );
    let report = || format!("lost {}; twice {twice:?}\n{}", ranges(&lost), chatty.logs());
    chatty.assert_once_each(messages, answers.len(), &lost, &twice, report);
}

/// The config file of the echo bot on the account `jid`.
fn config(jid: &str, password: &str) -> String {
    format!(
        r#"
[sessions.chat]
answer_limit = false
{xmpp}
[bots.echo]
sessions = ["chat"]
echo = {{}}
logger = {{}}
"#,
        xmpp = xmpp_session_toml("chat", jid, password),
    )
}

#[test]
fn the_scanner_splits_stanzas_across_reads() {
    use common::xmpp_person::{Scanner, attr, base64};
    let mut scanner = Scanner::default();
    let stream = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' id='x'>\
        <stream:features><mechanisms><mechanism>PLAIN</mechanism></mechanisms></stream:features>\
        <success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>\
        <stream:stream id='y'><message from='a@b' type='chat'><body>hi</body></message>";
    let mut elements = Vec::new();
    for piece in stream.as_bytes().chunks(7) {
        elements.extend(scanner.feed(piece));
    }
    assert_eq!(elements.len(), 3, "{elements:?}");
    assert!(elements[0].starts_with("<stream:features>"));
    assert_eq!(
        elements[1],
        "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
    );
    assert_eq!(
        elements[2],
        "<message from='a@b' type='chat'><body>hi</body></message>"
    );
    assert_eq!(attr(&elements[2], "type").as_deref(), Some("chat"));
    assert_eq!(base64(b"\0t00\0secret-t00"), "AHQwMABzZWNyZXQtdDAw");
}
