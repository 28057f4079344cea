//! The demo program, run with piped input as a user would pipe it.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs the demo with `input` on its standard input; fails the test if it takes over a minute.
fn demo(input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_demo"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the demo starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap(); // and closes standard input
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!(
                "the demo did not exit within a minute: {:?}",
                child.wait_with_output()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn answers_and_quits_on_quit() {
    let output = demo("hello\n/time\n/quit\nthis is never sent\n");
    let out = stdout(&output);
    assert!(output.status.success(), "{output:?}");
    assert!(output.stderr.is_empty(), "{output:?}");
    assert!(out.contains(" * bot: session started on direct\n"), "{out}");
    assert!(out.contains(" * bot is typing…\n"), "{out}");
    assert!(
        out.contains(" bot: echo: hello (backwards: olleh)\n"),
        "{out}"
    );
    assert!(out.contains(" bot: The time is "), "{out}");
    assert!(
        out.contains(" * bot: session about to end (shutdown)\n"),
        "{out}"
    );
    assert!(
        out.trim_end().ends_with("* bot: session ended (shutdown)"),
        "{out}"
    );
    assert!(!out.contains("never sent"), "{out}");
    // Piped input is read one line per answer: the output reads as a chat.
    let order = [
        "* bot: session started",
        "you: hello",
        "* bot is typing…",
        "bot: echo: hello",
        "you: /time",
        "bot: The time is",
        "you: /quit",
        "* bot: session about to end",
        "* bot: session ended",
    ]
    .map(|line| out.find(line).unwrap());
    assert!(order.is_sorted(), "{out}");
    // The bot's goodbye, sent when it learnt its session was about to end, arrives before the
    // session ends (its line and the "about to end" line come from two sides: either first).
    let goodbye = out.find("bot: Goodbye!").expect("a goodbye");
    assert!(goodbye > order[6] && goodbye < order[8], "{out}");
}

#[test]
fn end_of_input_quits_too() {
    let output = demo("/stats\n");
    let out = stdout(&output);
    assert!(output.status.success(), "{output:?}");
    assert!(
        out.contains(r#" bot: <stats> {"from":"you","messages":1}"#),
        "{out}"
    );
    assert!(out.contains("* bot: session ended (shutdown)"), "{out}");
}

#[test]
fn no_input_at_all() {
    let output = demo("");
    let out = stdout(&output);
    assert!(output.status.success(), "{output:?}");
    assert!(out.contains("* bot: session ended (shutdown)"), "{out}");
}
