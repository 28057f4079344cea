//! Rendering with ratatui's test backend: what the screen shows after given signals and keys.

mod common;

use std::time::Instant;

use chatty_client::{Areas, ChatState, render};
use chatty_core::{Choice, Message, Signal, Status, StatusChange, TypingState};
use common::*;
use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

/// Draws `state` on a `width` × `height` test terminal; returns the buffer and the areas.
fn draw(state: &ChatState, width: u16, height: u16) -> (Buffer, Areas) {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| render(state, frame)).unwrap();
    let buffer = terminal.backend().buffer().clone();
    (buffer, Areas::of(Rect::new(0, 0, width, height)))
}

/// The text of row `y` (relative to `area`) within `area`, without trailing spaces.
fn row(buffer: &Buffer, area: Rect, y: u16) -> String {
    (area.x..area.x + area.width)
        .map(|x| buffer[(x, area.y + y)].symbol())
        .collect::<String>()
        .trim_end()
        .to_owned()
}

/// Every row of `area`.
fn rows(buffer: &Buffer, area: Rect) -> Vec<String> {
    (0..area.height).map(|y| row(buffer, area, y)).collect()
}

fn chat() -> ChatState {
    let mut state = connected();
    state.apply(&from("direct:bot", Message::text("first")));
    enter(&mut state, "second");
    state.apply(&from("direct:bot", Message::text("echo: second")));
    state
}

#[test]
fn the_last_message_is_the_last_line_of_the_conversation_pane() {
    let state = chat();
    let (buffer, areas) = draw(&state, 80, 12);
    let pane = rows(&buffer, areas.conversation);
    let last = pane.iter().rev().find(|l| !l.is_empty()).unwrap();
    assert_eq!(last, "08:05:09 bot: echo: second");
    assert_eq!(
        pane[areas.conversation.height as usize - 1],
        *last,
        "at the bottom"
    );
    assert!(pane.iter().any(|l| l.ends_with(" you: second")));
    assert!(pane.iter().any(|l| l == "08:05:09 bot: first"));
}

#[test]
fn the_status_bar_shows_own_address_conversation_and_connection() {
    let state = chat();
    let (buffer, areas) = draw(&state, 100, 12);
    let status = row(&buffer, areas.status, 0);
    assert!(status.contains("direct:you"), "{status}");
    assert!(status.contains("with bot"), "{status}");
    assert!(status.contains("connected (direct)"), "{status}");

    let (buffer, areas) = draw(&ChatState::new(), 100, 12);
    let status = row(&buffer, areas.status, 0);
    assert!(status.contains("not connected"), "{status}");
    assert!(status.contains("connecting"), "{status}");
}

#[test]
fn the_side_list_shows_conversations_rooms_members_and_unread() {
    let mut state = chat();
    state.apply(&from("direct:alice", Message::text("psst")));
    for who in ["direct:carol", "direct:dave"] {
        state.apply(&from(
            who,
            StatusChange::new(Status::InRoom {
                room: addr("direct:lobby;kind=channel"),
                present: true,
                role: None,
            }),
        ));
    }
    let (buffer, areas) = draw(&state, 90, 14);
    let side = rows(&buffer, areas.side);
    assert!(side[0].contains("chats"), "{side:?}");
    let side: Vec<String> = side
        .iter()
        .map(|l| l.trim_start_matches('│').to_owned())
        .collect();
    assert_eq!(side[1], "> bot");
    assert_eq!(side[2], "  alice (1)");
    assert_eq!(side[3], "  #lobby");
    assert_eq!(side[4], "    carol");
    assert_eq!(side[5], "    dave");
    let status = row(&buffer, areas.status, 0);
    assert!(status.contains("1 unread"), "{status}");

    // Tab shows alice: her unread count goes.
    state.input(key(KeyCode::Tab));
    let (buffer, areas) = draw(&state, 90, 14);
    let side = rows(&buffer, areas.side);
    assert!(side[1].ends_with("  bot"), "{side:?}");
    assert!(side[2].ends_with("> alice"), "{side:?}");
    let pane = rows(&buffer, areas.conversation);
    assert!(pane.iter().any(|l| l == "08:05:09 alice: psst"));
}

#[test]
fn the_input_line_shows_what_is_typed_with_the_cursor() {
    let mut state = chat();
    type_text(&mut state, "half a thought");
    let mut terminal = Terminal::new(TestBackend::new(60, 10)).unwrap();
    terminal.draw(|frame| render(&state, frame)).unwrap();
    let areas = Areas::of(Rect::new(0, 0, 60, 10));
    let buffer = terminal.backend().buffer().clone();
    assert_eq!(row(&buffer, areas.input, 0), "> half a thought");
    terminal
        .backend_mut()
        .assert_cursor_position((2 + 14, areas.input.y));

    // A line longer than the window scrolls to keep the cursor in view.
    type_text(&mut state, &" and more".repeat(10));
    let (buffer, areas) = draw(&state, 30, 6);
    let input = row(&buffer, areas.input, 0);
    assert!(input.starts_with("> "), "{input}");
    assert!(input.ends_with("and more"), "{input}");
}

#[test]
fn someone_typing_shows_under_the_conversation_and_goes() {
    let mut state = chat();
    state.apply(&from(
        "direct:bot",
        StatusChange::new(Status::Typing {
            conversation: addr("direct:you"),
            state: TypingState::Composing,
        }),
    ));
    let (buffer, areas) = draw(&state, 80, 10);
    let pane = rows(&buffer, areas.conversation);
    assert_eq!(pane.last().unwrap(), "bot is typing…");
    state.tick(Instant::now() + chatty_client::TYPING_EXPIRY);
    let (buffer, areas) = draw(&state, 80, 10);
    let pane = rows(&buffer, areas.conversation);
    assert_eq!(pane.last().unwrap(), "08:05:09 bot: echo: second");
}

#[test]
fn long_lines_wrap_and_page_up_scrolls_back() {
    let mut state = connected();
    for i in 0..40 {
        state.apply(&from("direct:bot", Message::text(format!("line {i}"))));
    }
    state.apply(&from(
        "direct:bot",
        Message::text("a long message that does not fit on one line of a narrow window"),
    ));
    let (buffer, areas) = draw(&state, 40, 10);
    let pane = rows(&buffer, areas.conversation);
    assert!(pane.iter().all(|l| l.chars().count() <= 40));
    assert_eq!(
        pane.last().unwrap(),
        "not fit on one line of a narrow window"
    );

    state.input(key(KeyCode::PageUp));
    let (buffer, areas) = draw(&state, 40, 10);
    let pane = rows(&buffer, areas.conversation);
    assert!(
        pane.last().unwrap().contains("more lines below"),
        "{pane:?}"
    );
    assert!(pane.iter().any(|l| l.ends_with("bot: line 30")), "{pane:?}");

    state.input(key(KeyCode::PageDown));
    let (buffer, areas) = draw(&state, 40, 10);
    assert_eq!(
        rows(&buffer, areas.conversation).last().unwrap(),
        "not fit on one line of a narrow window"
    );

    // Scrolling far past the top shows the first lines.
    for _ in 0..20 {
        state.input(key(KeyCode::PageUp));
    }
    let (buffer, areas) = draw(&state, 40, 10);
    let pane = rows(&buffer, areas.conversation);
    assert!(pane[0].contains("connected to direct"), "{pane:?}");
    assert!(pane[2].ends_with("bot: line 0"), "{pane:?}");
}

#[test]
fn a_long_conversation_draws_only_what_is_visible() {
    let mut state = connected();
    let mut hello = from("direct:bot", Message::text("x"));
    for i in 0..100_000 {
        hello.meta.id = format!("m{i}").into();
        if let chatty_core::Body::Message(m) = &mut hello.body {
            m.text = format!("message {i}");
        }
        state.apply(&hello);
    }
    let started = Instant::now();
    for _ in 0..20 {
        let (buffer, areas) = draw(&state, 80, 24);
        let pane = rows(&buffer, areas.conversation);
        assert_eq!(pane.last().unwrap(), "08:05:09 bot: message 99999");
    }
    // Twenty frames of a 100 000-entry conversation: fast, as only the tail is laid out.
    assert!(
        started.elapsed().as_secs_f64() < 5.0,
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn tiny_and_resized_terminals_render_without_panic() {
    let mut state = chat();
    type_text(&mut state, "typing in a tiny window");
    state.apply(&Signal::new(Message::text("no origin")));
    for (w, h) in [
        (20, 5),
        (1, 1),
        (0, 0),
        (3, 2),
        (20, 1),
        (200, 60),
        (49, 8),
        (50, 8),
    ] {
        let (buffer, areas) = draw(&state, w, h);
        if h >= 3 && w >= 20 {
            assert!(row(&buffer, areas.input, 0).starts_with("> "), "{w}x{h}");
        }
    }
    // One terminal resized between frames: drawing follows the new size.
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal.draw(|frame| render(&state, frame)).unwrap();
    terminal.backend_mut().resize(30, 6);
    terminal.draw(|frame| render(&state, frame)).unwrap();
    let areas = Areas::of(Rect::new(0, 0, 30, 6));
    assert_eq!(areas.side.width, 0, "no side list when narrow");
    let status = row(terminal.backend().buffer(), areas.status, 0);
    assert!(status.starts_with(" direct:you"), "{status}");
}

#[test]
fn a_question_shows_its_options_as_numbered_lines_under_its_text() {
    let mut state = chat();
    let choice = Choice::new("priority")
        .option("low", "Low")
        .option("high", "High");
    state.apply(&from(
        "direct:bot",
        Message::text("How urgent is it?").with_choice(choice),
    ));
    let (buffer, areas) = draw(&state, 80, 12);
    let pane = rows(&buffer, areas.conversation);
    let end = pane.len();
    assert_eq!(
        pane[end - 4..],
        [
            "08:05:09 bot: How urgent is it?",
            "1. Low",
            "2. High",
            "(Answer with a number.)",
        ],
        "{pane:#?}"
    );

    // Answered by its number: the question says which, and the answer is the label.
    enter(&mut state, "2");
    let (buffer, areas) = draw(&state, 80, 12);
    let pane = rows(&buffer, areas.conversation);
    let end = pane.len();
    assert_eq!(pane[end - 2], "(answered: High)", "{pane:#?}");
    assert!(pane[end - 1].ends_with(" you: High"), "{pane:#?}");
}
