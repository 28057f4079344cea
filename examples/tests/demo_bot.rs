//! The demo bot, command by command, in the `chatty_direct::Harness`.

use chatty_core::{Body, Signal, Status, TypingState};
use chatty_direct::Harness;
use chatty_examples::{COMMANDS, DemoBot};

/// Says `text` to the bot; checks that a typing notification comes first and that the answer
/// answers it; returns the answer.
async fn ask(harness: &Harness, text: &str) -> Signal {
    let asked = harness.say(text).await;
    let typing = harness.next().await.expect("a typing notification");
    assert!(
        matches!(
            &typing.body,
            Body::StatusChange(c) if matches!(c.status, Status::Typing { state: TypingState::Composing, .. })
        ),
        "{typing:?}"
    );
    let answer = harness.next().await.expect("an answer");
    assert_eq!(answer.meta.response_to.as_ref(), Some(&asked));
    assert_eq!(answer.meta.origin.as_ref(), Some(harness.bot()));
    answer
}

fn text(signal: &Signal) -> &str {
    match &signal.body {
        Body::Message(m) => &m.text,
        other => panic!("expected a message, got {other:?}"),
    }
}

#[tokio::test]
async fn echoes_with_a_twist() {
    let harness = Harness::start(DemoBot::new()).await;
    let answer = ask(&harness, "hello").await;
    assert_eq!(text(&answer), "echo: hello (backwards: olleh)");
    harness.stop().await.unwrap();
}

#[tokio::test]
async fn help_has_a_subject_and_html() {
    let harness = Harness::start(DemoBot::new()).await;
    let answer = ask(&harness, "/help").await;
    let Body::Message(m) = &answer.body else {
        panic!("{answer:?}")
    };
    assert_eq!(m.subject.as_deref(), Some("Commands"));
    let html = m.html.as_deref().expect("an HTML version");
    for (command, _) in COMMANDS {
        assert!(m.text.contains(command), "{}", m.text);
        assert!(html.contains(&format!("<code>{command}</code>")), "{html}");
    }
    harness.stop().await.unwrap();
}

#[tokio::test]
async fn time_is_utc() {
    let harness = Harness::start(DemoBot::new()).await;
    let answer = ask(&harness, "/time").await;
    let text = text(&answer);
    assert!(
        text.starts_with("The time is ") && text.contains(" UTC on "),
        "{text}"
    );
    harness.stop().await.unwrap();
}

#[tokio::test]
async fn whoami_asks_the_network() {
    let harness = Harness::start(DemoBot::new()).await;
    let answer = ask(&harness, "/whoami").await;
    assert_eq!(
        text(&answer),
        "You are direct:tester (individual, available)."
    );
    harness.stop().await.unwrap();
}

#[tokio::test]
async fn stats_is_a_user_defined_signal() {
    let harness = Harness::start(DemoBot::new()).await;
    ask(&harness, "one").await;
    let answer = ask(&harness, "/stats").await;
    let Body::UserDefined(stats) = &answer.body else {
        panic!("{answer:?}")
    };
    assert_eq!(stats.name, "stats");
    assert_eq!(stats.payload["from"], "tester");
    assert_eq!(stats.payload["messages"], 2);
    harness.stop().await.unwrap();
}

#[tokio::test]
async fn send_answers_with_the_file_or_says_why_not() {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("demo-bot-send.txt");
    std::fs::write(&path, "some text\n").unwrap();
    let harness = Harness::start(DemoBot::new()).await;

    let answer = ask(&harness, &format!("/send {}", path.display())).await;
    let Body::File(file) = &answer.body else {
        panic!("{answer:?}")
    };
    assert_eq!(file.name, "demo-bot-send.txt");
    assert_eq!(file.media_type.as_deref(), Some("text/plain"));
    assert!(matches!(&file.content, chatty_core::Content::Bytes { data } if data == "some text\n"));

    let missing = ask(&harness, "/send /no/such/file").await;
    assert!(
        text(&missing).starts_with("I cannot send /no/such/file: "),
        "{missing:?}"
    );
    let usage = ask(&harness, "/send").await;
    assert_eq!(text(&usage), "Usage: /send PATH");
    harness.stop().await.unwrap();
}

#[tokio::test]
async fn unknown_commands_point_to_help() {
    let harness = Harness::start(DemoBot::new()).await;
    let answer = ask(&harness, "/dance").await;
    assert_eq!(text(&answer), "I don't know /dance; try /help.");
    harness.stop().await.unwrap();
}

#[tokio::test]
async fn files_are_acknowledged() {
    let harness = Harness::start(DemoBot::new()).await;
    let file = chatty_core::File::bytes("a.bin", None, vec![0u8; 3]);
    let sent = harness.send(Signal::new(file)).await.unwrap();
    let (answer, message) = harness.expect_message().await;
    assert_eq!(message.text, "Thanks for a.bin (3 bytes).");
    assert_eq!(answer.meta.response_to, Some(sent));
    harness.stop().await.unwrap();
}
