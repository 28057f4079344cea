//! The model: inbound signals, keys and commands, without a terminal. Files (numbered, sent,
//! saved and downloaded) are in `files.rs`.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chatty_client::{Action, ChatState, Connection, EntryKind, Flow, TYPING_EXPIRY};
use chatty_core::session::Refusal;
use chatty_core::{
    Availability, Body, ConnectionError, ConnectionErrorKind, FailureKind, File, Message,
    SendError, SendFailure, SessionEnd, Signal, Status, StatusChange, SystemError, TypingState,
    Unsupported,
};
use common::*;
use crossterm::event::KeyCode;

#[test]
fn a_message_shows_time_sender_subject_and_attachments() {
    let mut state = connected();
    state.apply(&from("direct:bot", Message::text("hello")));
    assert_eq!(last(&state), "08:05:09 bot: hello");

    let with_all = Message::text("see attached")
        .with_subject("Report")
        .with_attachment(File::bytes("a.txt", Some("text/plain"), &b"hello"[..]));
    state.apply(&from("direct:bot", with_all));
    assert_eq!(
        last(&state),
        "08:05:09 bot: [Report] see attached\n  [file 1] a.txt (text/plain, 5 bytes)"
    );
}

#[test]
fn a_room_message_shows_in_the_room_with_its_sender() {
    let mut state = connected();
    let mut said = from("direct:alice", Message::text("hi all"));
    said.meta.visible_to = vec![addr("direct:lobby;kind=channel")];
    state.apply(&said);
    let room = state.conversation(&addr("direct:lobby")).unwrap();
    assert!(room.is_room());
    assert_eq!(room.entries()[0].text(), "08:05:09 alice: hi all");
    assert_eq!(room.unread(), 1, "not shown, so unread");
    // Alice has no conversation of her own: she spoke in the room.
    assert!(state.conversation(&addr("direct:alice")).is_none());
}

fn in_room(who: &str, present: bool) -> Signal {
    status_from(
        who,
        Status::InRoom {
            room: addr("direct:lobby;kind=channel"),
            present,
            role: None,
        },
    )
}

#[test]
fn joins_and_leaves_show_as_lines_and_keep_the_members_list() {
    let mut state = connected();
    state.apply(&in_room("direct:alice", true));
    state.apply(&in_room("direct:bob", true));
    state.apply(&in_room("direct:you", true));
    state.apply(&in_room("direct:alice", false));
    let room = state.conversation(&addr("direct:lobby")).unwrap();
    assert_eq!(room.members(), &[addr("direct:bob"), addr("direct:you")]);
    let lines: Vec<String> = room.entries().iter().map(|e| e.text()).collect();
    assert_eq!(
        lines,
        [
            "08:05:09 * alice joined lobby",
            "08:05:09 * bob joined lobby",
            "08:05:09 * you joined lobby",
            "08:05:09 * alice left lobby",
        ]
    );
    // Leaving oneself forgets the members.
    state.apply(&in_room("direct:you", false));
    let room = state.conversation(&addr("direct:lobby")).unwrap();
    assert!(room.members().is_empty());
}

fn typing(who: &str, state: TypingState) -> Signal {
    status_from(
        who,
        Status::Typing {
            conversation: addr("direct:you"),
            state,
        },
    )
}

#[test]
fn typing_shows_then_expires_or_ends_with_the_message() {
    let mut state = connected();
    state.apply(&typing("direct:bot", TypingState::Composing));
    let typists = |s: &ChatState| s.current().unwrap().typing().cloned().collect::<Vec<_>>();
    assert_eq!(typists(&state), [addr("direct:bot")]);

    state.tick(Instant::now());
    assert_eq!(typists(&state), [addr("direct:bot")], "not expired yet");
    state.tick(Instant::now() + TYPING_EXPIRY + Duration::from_secs(1));
    assert!(typists(&state).is_empty(), "expired");

    state.apply(&typing("direct:bot", TypingState::Composing));
    state.apply(&from("direct:bot", Message::text("done")));
    assert!(typists(&state).is_empty(), "the message ends it");

    state.apply(&typing("direct:bot", TypingState::Composing));
    state.apply(&typing("direct:bot", TypingState::Paused));
    assert!(typists(&state).is_empty(), "paused ends it");
    assert_eq!(texts(&state).len(), 2, "typing is no entry");
}

#[test]
fn presence_shows_as_a_line_and_in_the_conversation() {
    let mut state = connected();
    let mut away = StatusChange::new(Status::Presence {
        availability: Availability::Away,
    });
    away.message = Some("brb".into());
    state.apply(&from("direct:bot", away));
    assert_eq!(last(&state), "08:05:09 * bot is away (brb)");
    assert_eq!(
        state.current().unwrap().presence(),
        Some(&(Availability::Away, Some("brb".to_owned())))
    );
}

#[test]
fn a_send_failure_shows_as_an_error_line_in_its_conversation() {
    let (mut state, actions) = hello_then_other();
    let hello = sent_message(&actions);
    state.apply(&Signal::new(SendFailure::new(
        hello.meta.id.clone(),
        FailureKind::UnknownAddressee,
        "no such endpoint",
    )));
    assert_error_line(
        &state,
        "direct:bot",
        "! not delivered: no such endpoint (unknown addressee)",
    );
}

#[test]
fn an_unsupported_signal_shows_as_an_error_line_in_its_conversation() {
    let (mut state, actions) = hello_then_other();
    let hello = sent_message(&actions);
    state.apply(&Signal::new(Unsupported::new(
        hello.meta.id.clone(),
        "direct:bot cannot receive html",
    )));
    assert_error_line(
        &state,
        "direct:bot",
        "! not sent: direct:bot cannot receive html",
    );
    // Of a signal the window does not know: in the conversation shown.
    state.apply(&Signal::new(Unsupported::new(
        "unknown".into(),
        "no typing here",
    )));
    assert!(last(&state).ends_with("! not sent: no typing here"));
}

#[tokio::test]
async fn a_send_refused_at_once_shows_why_in_its_conversation() {
    let recorder = Recorder::default();
    let refusals = [
        (
            SendError::NoRoute {
                address: addr("xmpp:bot@example.org"),
            },
            "! not sent: no connection reaches xmpp:bot@example.org",
        ),
        (
            SendError::Unsupported {
                reason: "this session cannot carry a message subject".into(),
            },
            "! not sent: this session cannot carry a message subject",
        ),
        (
            SendError::Refused(
                Refusal::new(FailureKind::RateLimited, "too many answers")
                    .with_code("answer-limit"),
            ),
            "! not sent: too many answers (rate limited)",
        ),
        (SendError::Closed, "! not sent: the connection is closed"),
    ];
    for (error, line) in refusals {
        let (mut state, actions) = hello_then_other();
        recorder.refuse(Some(error.clone()));
        for flow in perform_all(&mut state, &recorder, actions).await {
            assert_eq!(flow, Flow::Continue, "{error}");
        }
        assert_error_line(&state, "direct:bot", line);
        let bot = state.conversation(&addr("direct:bot")).unwrap();
        // The refused typing notification says nothing; only the message has a line.
        let errors = bot
            .entries()
            .iter()
            .filter(|e| matches!(e.kind, EntryKind::Error(_)))
            .count();
        assert_eq!(errors, 1, "{error}");
        assert!(
            state
                .conversation(&addr("direct:other"))
                .unwrap()
                .entries()
                .is_empty(),
            "{error}"
        );
    }
    assert!(recorder.signals().is_empty());

    // A file refused at once: the same, in the conversation it was for.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("note.txt");
    std::fs::write(&path, "a note").unwrap();
    let mut state = connected();
    recorder.refuse(Some(SendError::Unsupported {
        reason: "this session cannot carry files".into(),
    }));
    enter_and_perform(&mut state, &recorder, &format!("/send {}", path.display())).await;
    assert!(
        last(&state).ends_with("! not sent: this session cannot carry files"),
        "{}",
        last(&state)
    );

    // A download refused at once says which file could not be saved.
    let mut state = connected();
    state.apply(&from(
        "direct:bot",
        File::url("b.txt", None, "direct-file:9"),
    ));
    recorder.refuse(Some(SendError::NoRoute {
        address: addr("direct:you"),
    }));
    enter_and_perform(&mut state, &recorder, "/save 1 /tmp/b.txt").await;
    assert!(
        last(&state).contains("could not download to /tmp/b.txt: no connection reaches direct:you"),
        "{}",
        last(&state)
    );
}

#[test]
fn lifecycle_signals_set_the_connection_state() {
    let mut state = ChatState::new();
    assert_eq!(state.connection(), &Connection::Connecting);
    state = connected();
    assert_eq!(state.own_address(), Some(&addr("direct:you")));
    assert_eq!(state.connection().to_string(), "connected (direct)");
    state.apply(&Signal::new(
        ConnectionError::new(ConnectionErrorKind::Unreachable, "no route")
            .with_retry_in(Duration::from_secs(5)),
    ));
    assert_eq!(state.connection().to_string(), "retrying: no route");
    assert!(last(&state).ends_with("! connection error: no route, retrying in 5s"));
    state.apply(&Signal::new(Body::SessionEnded(SessionEnd::because(
        "shutdown",
    ))));
    assert_eq!(state.connection(), &Connection::Ended);
    assert!(last(&state).ends_with("* the session ended (shutdown)"));
    state.apply(&Signal::new(SystemError::new("logger", "disk full")));
    assert!(last(&state).ends_with("! logger: disk full"));
}

#[test]
fn enter_sends_the_line_as_a_message_to_the_current_conversation() {
    let mut state = connected();
    let actions = enter(&mut state, "hello bot");
    let messages: Vec<_> = sent(&actions)
        .into_iter()
        .filter(|s| matches!(&s.body, Body::Message(m) if m.text == "hello bot"))
        .collect();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].meta.addressees, [addr("direct:bot")]);
    assert!(last(&state).ends_with(" you: hello bot"));
    assert_eq!(state.input_line(), "");

    // `//` sends a line that starts with `/`.
    let actions = enter(&mut state, "//etc/passwd is a path");
    assert!(message_texts(&actions).contains(&"/etc/passwd is a path"));
    // An empty line sends nothing.
    assert!(message_texts(&enter(&mut state, "   ")).is_empty());
}

#[test]
fn typing_notifications_go_out_rate_limited() {
    let mut state = connected();
    let typing_states = |actions: &[Action]| {
        sent(actions)
            .into_iter()
            .filter_map(|s| match &s.body {
                Body::StatusChange(StatusChange {
                    status:
                        Status::Typing {
                            conversation,
                            state,
                        },
                    ..
                }) => Some((conversation.id().to_owned(), *state)),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let first = type_text(&mut state, "h");
    assert_eq!(
        typing_states(&first),
        [("bot".into(), TypingState::Composing)]
    );
    assert!(
        typing_states(&type_text(&mut state, "ello")).is_empty(),
        "rate limited"
    );
    let sending = state.input(key(KeyCode::Enter));
    assert_eq!(
        typing_states(&sending),
        [("bot".into(), TypingState::Active)]
    );
    assert_eq!(sent(&sending).len(), 2, "the message and the active state");

    type_text(&mut state, "x");
    let cleared = state.input(key(KeyCode::Backspace));
    assert_eq!(
        typing_states(&cleared),
        [("bot".into(), TypingState::Paused)]
    );

    type_text(&mut state, "y");
    assert!(state.tick(Instant::now()).is_empty());
    let idle = state.tick(Instant::now() + Duration::from_secs(6));
    assert_eq!(typing_states(&idle), [("bot".into(), TypingState::Paused)]);

    // Commands are not typing.
    state.input(key(KeyCode::Esc));
    assert!(
        typing_states(&type_text(&mut state, "/help"))
            .iter()
            .all(|(_, s)| *s != TypingState::Composing)
    );
}

#[test]
fn input_history_goes_up_and_down() {
    let mut state = connected();
    enter(&mut state, "one");
    enter(&mut state, "two");
    type_text(&mut state, "dr");
    let up = |state: &mut ChatState| {
        state.input(key(KeyCode::Up));
        state.input_line().to_owned()
    };
    assert_eq!(up(&mut state), "two");
    assert_eq!(up(&mut state), "one");
    assert_eq!(up(&mut state), "one", "stays at the oldest");
    state.input(key(KeyCode::Down));
    assert_eq!(state.input_line(), "two");
    state.input(key(KeyCode::Down));
    assert_eq!(state.input_line(), "dr", "back to the draft");
}

#[test]
fn the_cursor_moves_and_edits_in_the_middle() {
    let mut state = connected();
    type_text(&mut state, "ac");
    state.input(key(KeyCode::Left));
    type_text(&mut state, "b");
    assert_eq!(state.input_line(), "abc");
    assert_eq!(state.cursor(), 2);
    state.input(key(KeyCode::Home));
    state.input(key(KeyCode::Delete));
    assert_eq!(state.input_line(), "bc");
    state.input(key(KeyCode::End));
    state.input(key(KeyCode::Backspace));
    assert_eq!(state.input_line(), "b");
    state.input(key(KeyCode::Esc));
    assert_eq!(state.input_line(), "");
    state.paste("pasted\ntext");
    assert_eq!(state.input_line(), "pasted text");
}

#[test]
fn switching_conversations_and_unread_counts() {
    let mut state = connected();
    state.apply(&from("direct:alice", Message::text("psst")));
    state.apply(&from("direct:alice", File::bytes("f", None, &b"x"[..])));
    let alice = state.conversation(&addr("direct:alice")).unwrap();
    assert_eq!(alice.unread(), 2);
    state.apply(&from("direct:bot", Message::text("shown")));
    assert_eq!(
        state.current().unwrap().unread(),
        0,
        "the shown one is read"
    );

    state.input(key(KeyCode::Tab));
    assert_eq!(state.current().unwrap().address(), &addr("direct:alice"));
    assert_eq!(state.current().unwrap().unread(), 0);
    state.input(key(KeyCode::Tab));
    assert_eq!(
        state.current().unwrap().address(),
        &addr("direct:bot"),
        "cycles"
    );
    state.input(key(KeyCode::BackTab));
    assert_eq!(state.current().unwrap().address(), &addr("direct:alice"));

    enter(&mut state, "/to bot");
    assert_eq!(state.current().unwrap().address(), &addr("direct:bot"));
    enter(&mut state, "/to xmpp:carol@example.org");
    assert_eq!(
        state.current().unwrap().address(),
        &addr("xmpp:carol@example.org")
    );
    assert_eq!(state.conversations().len(), 3);
}

#[test]
fn bad_commands_give_error_lines() {
    let mut state = connected();
    // Without a conversation, a command the window does not know has nowhere to go.
    let mut alone = ChatState::new();
    assert!(enter(&mut alone, "/frobnicate now").is_empty());
    assert!(
        last(&alone).ends_with(
            "! /frobnicate is not a command of this window, and there is no conversation to send it to: /to ADDRESS opens one, /help lists the commands"
        ),
        "{}",
        last(&alone)
    );
    enter(&mut state, "/to Bad Platform:x");
    assert!(last(&state).contains("! /to: "), "{}", last(&state));
    enter(&mut state, "/to 1nvalid:x");
    assert!(
        last(&state).contains("is not a platform name"),
        "{}",
        last(&state)
    );
    enter(&mut state, "/to");
    assert!(last(&state).ends_with("! usage: /to ADDRESS"));
    enter(&mut state, "/status sleepy");
    assert!(last(&state).contains("`sleepy` is not an availability"));
    enter(&mut state, "/save 3 out.txt");
    assert!(last(&state).contains("no file 3 here"));
    enter(&mut state, "/save");
    assert!(last(&state).ends_with("usage: /save N PATH"));
    enter(&mut state, "/send");
    assert!(last(&state).ends_with("usage: /send PATH"));
    assert_eq!(
        state.current().unwrap().address(),
        &addr("direct:bot"),
        "unchanged"
    );
}

#[test]
fn commands_produce_their_actions() {
    let mut state = connected();
    assert_eq!(enter(&mut state, "/quit"), [Action::Quit]);
    assert_eq!(state.input(ctrl('c')), [Action::Quit]);

    let status = enter(&mut state, "/status away brb");
    let [signal] = sent(&status)[..] else {
        panic!("{status:?}")
    };
    assert_eq!(
        signal.body,
        Body::StatusChange(
            StatusChange::new(Status::Presence {
                availability: Availability::Away
            })
            .with_message("brb")
        )
    );

    assert_eq!(
        enter(&mut state, "/send /tmp/some file.txt"),
        [Action::SendFile {
            to: addr("direct:bot"),
            path: PathBuf::from("/tmp/some file.txt")
        }]
    );

    let join = enter(&mut state, "/join lobby");
    assert_eq!(
        join.last(),
        Some(&Action::AskMembers {
            room: addr("direct:lobby")
        })
    );
    assert!(matches!(
        &sent(&join)[0].body,
        Body::StatusChange(StatusChange { status: Status::InRoom { room, present: true, .. }, .. })
            if room == &addr("direct:lobby")
    ));
    assert!(state.current().unwrap().is_room());
    let leave = enter(&mut state, "/leave");
    assert!(matches!(
        &sent(&leave)[0].body,
        Body::StatusChange(StatusChange {
            status: Status::InRoom { present: false, .. },
            ..
        })
    ));

    let before = texts(&state).len();
    enter(&mut state, "/help");
    assert!(texts(&state).len() > before + 5);
    assert!(texts(&state).iter().any(|t| t.starts_with("/save N PATH")));
}

#[test]
fn without_a_conversation_lines_go_to_the_console() {
    let mut state = ChatState::new();
    enter(&mut state, "hello");
    assert!(state.current().is_none());
    assert!(last(&state).ends_with("! no conversation to send to: /to ADDRESS opens one"));
    assert_eq!(state.console().len(), 1);
    // The first conversation that appears is shown.
    state.apply(&from("direct:bot", Message::text("hi")));
    assert_eq!(state.current().unwrap().address(), &addr("direct:bot"));
}

#[test]
fn a_whole_input_line_at_once_gives_the_same_typing_and_commands_as_keys() {
    let mut state = connected();
    // Setting the input (a web page's box) sends "composing" once, as the first key does.
    let actions = state.set_input("hel");
    let typing: Vec<_> = sent(&actions)
        .into_iter()
        .filter_map(|s| match &s.body {
            Body::StatusChange(c) => match &c.status {
                Status::Typing { state, .. } => Some(*state),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(typing, [TypingState::Composing]);
    assert!(state.set_input("hell").is_empty(), "no second composing");
    assert!(state.set_input("hell").is_empty(), "no change, nothing");
    assert_eq!(state.input_line(), "hell");
    assert_eq!(state.cursor(), 4);
    // Control characters become spaces.
    state.set_input("a\nb");
    assert_eq!(state.input_line(), "a b");

    // Submitting a line sends it and ends the typing ("active").
    let actions = state.submit_line("hello");
    let signals = sent(&actions);
    assert!(matches!(&signals[0].body, Body::Message(m) if m.text == "hello"));
    assert!(signals.iter().any(|s| matches!(&s.body,
        Body::StatusChange(c) if matches!(c.status, Status::Typing { state: TypingState::Active, .. }))));
    assert_eq!(state.input_line(), "");
    assert_eq!(last(&state).split_once(' ').unwrap().1, "you: hello");

    // A command line is a command.
    let actions = state.submit_line("/status away lunch");
    assert!(matches!(&sent(&actions)[0].body,
        Body::StatusChange(c) if c.status == Status::Presence { availability: Availability::Away }));
    assert_eq!(last(&state), "you are away (lunch)");
}

#[test]
fn other_slash_commands_go_to_the_conversation_as_they_are() {
    let mut state = connected();
    // A bot's command (the demo bot's `/time`) is sent to the bot as typed.
    let actions = enter(&mut state, "/time");
    let messages: Vec<_> = sent(&actions)
        .into_iter()
        .filter_map(|s| match &s.body {
            Body::Message(m) => Some((m.text.clone(), s.meta.addressees[0].id().to_owned())),
            _ => None,
        })
        .collect();
    assert_eq!(messages, [("/time".to_owned(), "bot".to_owned())]);
    assert!(last(&state).ends_with("you: /time"), "{}", last(&state));
    let actions = enter(&mut state, "/whoami  please");
    assert!(message_texts(&actions).contains(&"/whoami  please"));
    // The window's own commands stay the window's; `//` sends one of them to the bot.
    let actions = enter(&mut state, "/help");
    assert!(message_texts(&actions).is_empty());
    assert!(
        texts(&state)
            .iter()
            .any(|t| t.contains("Any other /command goes to the conversation"))
    );
    let actions = enter(&mut state, "//help");
    assert!(message_texts(&actions).contains(&"/help"));
}

#[test]
fn the_own_presence_is_remembered() {
    let mut state = connected();
    assert_eq!(state.own_presence(), None);
    enter(&mut state, "/status away lunch");
    assert_eq!(
        state.own_presence(),
        Some(&(Availability::Away, Some("lunch".to_owned())))
    );
    enter(&mut state, "/status busy");
    assert_eq!(state.own_presence(), Some(&(Availability::Busy, None)));
    // A bad one changes nothing.
    enter(&mut state, "/status sleepy");
    assert_eq!(state.own_presence(), Some(&(Availability::Busy, None)));
}
