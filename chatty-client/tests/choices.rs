//! Questions with options in the model: how they show, and how the person answers them (a
//! typed number or label, or a click in the web window through `ChatState::choose`).

mod common;

use chatty_client::{Action, ChatState, EntryKind};
use chatty_core::{
    Body, Choice, Chosen, FailureKind, Message, SendError, SendFailure, Signal, SignalId,
};
use common::*;

fn priority() -> Choice {
    Choice::new("priority")
        .option("low", "Low")
        .option("normal", "Normal")
        .option("high", "High: on fire")
}

/// The bot asks `text` with `choice`; returns the question's signal.
fn ask(state: &mut ChatState, text: &str, choice: Choice) -> Signal {
    let question = from("direct:bot", Message::text(text).with_choice(choice));
    state.apply(&question);
    question
}

/// The messages among `actions`, with their signals.
fn messages(actions: &[Action]) -> Vec<(&Signal, &Message)> {
    sent(actions)
        .into_iter()
        .filter_map(|s| match &s.body {
            Body::Message(m) => Some((s, m)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_question_shows_its_options_as_numbered_lines_in_cores_wording() {
    let mut state = connected();
    let question = ask(&mut state, "How urgent is it?", priority());
    let Body::Message(asked) = &question.body else {
        unreachable!()
    };
    // The same text as on platforms without buttons (email).
    assert_eq!(
        last(&state),
        format!("08:05:09 bot: {}", asked.text_with_choice())
    );
    assert_eq!(
        last(&state),
        "08:05:09 bot: How urgent is it?\n1. Low\n2. Normal\n3. High: on fire\n(Answer with a number.)"
    );
    let conversation = state.current().unwrap();
    let open = conversation.open_question().expect("an open question");
    assert_eq!(open.message, question.meta.id);
    assert_eq!(open.choice, priority());
    let EntryKind::Message { question: kept, .. } = &conversation.entries()[1].kind else {
        panic!("a message entry")
    };
    assert_eq!(kept.as_ref(), Some(open));

    // A choice without options asks nothing: the text alone.
    ask(&mut state, "Nothing to choose", Choice::new("empty"));
    assert_eq!(last(&state), "08:05:09 bot: Nothing to choose");
    assert!(state.current().unwrap().open_question().is_some());
}

#[test]
fn a_typed_number_or_label_answers_the_open_question_with_chosen() {
    let mut state = connected();
    let question = ask(&mut state, "How urgent?", priority());
    let actions = enter(&mut state, "3");
    let answers = messages(&actions);
    assert_eq!(answers.len(), 1, "{actions:?}");
    let (signal, message) = answers[0];
    assert_eq!(message.text, "High: on fire", "the label is the text");
    assert_eq!(message.chosen, Some(Chosen::new("priority", "high")));
    assert_eq!(signal.meta.response_to.as_ref(), Some(&question.meta.id));
    assert_eq!(signal.meta.addressees, [addr("direct:bot")]);
    // Shown as what was sent; the question says what was chosen and is no longer open.
    assert!(
        last(&state).ends_with(" you: High: on fire"),
        "{}",
        last(&state)
    );
    let texts = texts(&state);
    assert!(
        texts[texts.len() - 2].ends_with("3. High: on fire\n(answered: High: on fire)"),
        "{texts:?}"
    );
    assert!(state.current().unwrap().open_question().is_none());

    // Answered: the same line is a plain message now.
    let actions = enter(&mut state, "3");
    let (_, message) = messages(&actions)[0];
    assert_eq!((message.text.as_str(), &message.chosen), ("3", &None));

    // A label answers too, whatever its case; a line naming no option is a plain message and
    // leaves the question open.
    ask(&mut state, "Again?", priority());
    let actions = enter(&mut state, "tomorrow maybe");
    let (_, message) = messages(&actions)[0];
    assert_eq!(
        (message.text.as_str(), &message.chosen),
        ("tomorrow maybe", &None)
    );
    assert!(state.current().unwrap().open_question().is_some());
    let actions = enter(&mut state, "  normal. ");
    let (_, message) = messages(&actions)[0];
    assert_eq!(message.text, "Normal");
    assert_eq!(message.chosen, Some(Chosen::new("priority", "normal")));
}

#[test]
fn only_the_newest_question_is_answered_by_typing_an_older_one_by_a_click() {
    let mut state = connected();
    let first = ask(&mut state, "First?", priority());
    let second = ask(
        &mut state,
        "Second?",
        Choice::new("colour")
            .option("red", "Red")
            .option("blue", "Blue"),
    );
    let actions = enter(&mut state, "1");
    let (signal, message) = messages(&actions)[0];
    assert_eq!(message.chosen, Some(Chosen::new("colour", "red")));
    assert_eq!(signal.meta.response_to.as_ref(), Some(&second.meta.id));

    // The first question is still unanswered: a click answers it.
    let actions = state.choose(&first.meta.id, "low");
    let (signal, message) = messages(&actions)[0];
    assert_eq!(message.text, "Low");
    assert_eq!(message.chosen, Some(Chosen::new("priority", "low")));
    assert_eq!(signal.meta.response_to.as_ref(), Some(&first.meta.id));
    assert!(last(&state).ends_with(" you: Low"));
}

#[test]
fn a_click_on_an_answered_unknown_or_own_question_or_a_wrong_option_is_an_error_line() {
    let mut state = connected();
    let question = ask(&mut state, "How urgent?", priority());
    assert!(state.choose(&question.meta.id, "urgent").is_empty());
    assert!(last(&state).ends_with("! `urgent` is not an option of that question"));
    assert!(state.choose(&SignalId::from("nowhere"), "low").is_empty());
    assert!(last(&state).ends_with("! no such question here"));

    assert_eq!(messages(&state.choose(&question.meta.id, "low")).len(), 1);
    assert!(state.choose(&question.meta.id, "high").is_empty());
    assert!(
        last(&state).ends_with("! you answered that question already: Low"),
        "{}",
        last(&state)
    );

    // A question of the person's own (an echo of it) has no buttons to click.
    let mut own = from("direct:you", Message::text("Mine?").with_choice(priority()));
    own.meta.addressees = vec![addr("direct:bot")];
    state.apply(&own);
    assert!(state.current().unwrap().open_question().is_none());
    assert!(state.choose(&own.meta.id, "low").is_empty());
    assert!(last(&state).ends_with("! that question is your own: the others answer it"));
}

#[test]
fn an_answer_that_does_not_arrive_leaves_the_question_open() {
    let mut state = connected();
    let question = ask(&mut state, "How urgent?", priority());
    let actions = state.choose(&question.meta.id, "high");
    let (signal, _) = messages(&actions)[0];
    state.refused(&signal.meta.id, &SendError::Closed);
    assert!(last(&state).ends_with("! not sent: the connection is closed"));
    let open = state.current().unwrap().open_question();
    assert_eq!(open.map(|q| &q.message), Some(&question.meta.id));

    // Answered again by typing; then a failure that comes back later opens it again too.
    let actions = enter(&mut state, "2");
    let (signal, _) = messages(&actions)[0];
    assert!(state.current().unwrap().open_question().is_none());
    let failure = SendFailure::new(signal.meta.id.clone(), FailureKind::Rejected, "no");
    state.apply(&from("direct:bot", failure));
    assert!(state.current().unwrap().open_question().is_some());
}

#[test]
fn a_question_in_a_room_is_answered_in_the_room() {
    let mut state = connected();
    let mut question = from(
        "direct:bot",
        Message::text("Lunch?").with_choice(Choice::new("lunch").option("yes", "Yes")),
    );
    question.meta.visible_to = vec![addr("direct:lobby;kind=channel")];
    state.apply(&question);
    let lobby = addr("direct:lobby");
    let index = state
        .conversations()
        .iter()
        .position(|c| c.address() == &lobby)
        .unwrap();
    state.switch_to(index);
    let actions = enter(&mut state, "yes");
    let (signal, message) = messages(&actions)[0];
    assert_eq!(message.chosen, Some(Chosen::new("lunch", "yes")));
    assert_eq!(signal.meta.addressees, [addr("direct:lobby;kind=channel")]);
}
