//! Answers to questions with options: a typed line that names an option of the conversation's
//! open question, and a click on an option's button (the web window).

use chatty_core::{Chosen, Message, Signal, SignalId, TypingState};

use super::ChatState;
use super::entries::{Action, Entry, EntryKind};

impl ChatState {
    /// Answers the question asked by the message `question` with its option `value`, as a click
    /// on the option's button does: sends, to the conversation the question was asked in and in
    /// response to it, a message whose text is the option's label and whose
    /// [`chosen`](chatty_core::Message::chosen) names the option. The question is answered from
    /// then on (its buttons are disabled). An error line instead when there is no such question
    /// from someone else, it is answered already, or it has no such option.
    ///
    /// ```
    /// use chatty_client::{Action, ChatState};
    /// use chatty_core::{Body, Choice, Message, Signal};
    ///
    /// let mut state = ChatState::new();
    /// state.open("direct:bot".parse().unwrap());
    /// let question = Message::text("How urgent?")
    ///     .with_choice(Choice::new("priority").option("low", "Low").option("high", "High"));
    /// let mut asked = Signal::new(question);
    /// asked.meta.origin = Some("direct:bot".parse().unwrap());
    /// state.apply(&asked);
    ///
    /// let actions = state.choose(&asked.meta.id, "high");
    /// let Some(Action::Send(answer)) = actions.first() else { panic!("{actions:?}") };
    /// let Body::Message(m) = &answer.body else { panic!() };
    /// assert_eq!(m.text, "High");
    /// assert_eq!(m.chosen.as_ref().unwrap().value, "high");
    /// assert_eq!(answer.meta.response_to.as_ref(), Some(&asked.meta.id));
    /// // Answered: a second click is refused.
    /// assert!(state.choose(&asked.meta.id, "low").is_empty());
    /// ```
    pub fn choose(&mut self, question: &SignalId, value: &str) -> Vec<Action> {
        let Some((index, at)) = self.find_question(question) else {
            self.error("no such question here");
            return Vec::new();
        };
        let EntryKind::Message {
            mine,
            question: Some(asked),
            ..
        } = &self.conversations[index].entries[at].kind
        else {
            return Vec::new();
        };
        if *mine {
            self.error("that question is your own: the others answer it");
            return Vec::new();
        }
        if let Some(label) = asked.answer_label() {
            let label = label.to_owned();
            self.error(format!("you answered that question already: {label}"));
            return Vec::new();
        }
        let Some(chosen) = asked.choice.chosen(value) else {
            self.error(format!("`{value}` is not an option of that question"));
            return Vec::new();
        };
        self.answer(index, at, chosen)
    }

    /// A typed line (not a command): the answer to the current conversation's open question
    /// when it names one of its options (by number, label or value: `Choice::answer_in`), else a
    /// message of its text.
    pub(super) fn send_line(&mut self, line: &str) -> Vec<Action> {
        if let Some(index) = self.current
            && let Some(at) = self.conversations[index].last_question
            && let Some(chosen) = self.conversations[index]
                .open_question()
                .and_then(|q| q.choice.answer_in(line))
        {
            return self.answer(index, at, chosen);
        }
        self.send_text(line)
    }

    /// Where the question asked by the message `id` is: its conversation's index and its
    /// entry's.
    fn find_question(&self, id: &SignalId) -> Option<(usize, usize)> {
        self.conversations
            .iter()
            .enumerate()
            .find_map(|(index, conversation)| {
                conversation
                    .entries
                    .iter()
                    .rposition(|entry| {
                        matches!(
                            &entry.kind,
                            EntryKind::Message { question: Some(q), .. } if &q.message == id
                        )
                    })
                    .map(|at| (index, at))
            })
    }

    /// Sends `chosen` as the answer to the question of entry `at` of conversation `index`.
    fn answer(&mut self, index: usize, at: usize, chosen: Chosen) -> Vec<Action> {
        let conversation = &mut self.conversations[index];
        let EntryKind::Message {
            question: Some(question),
            ..
        } = &mut conversation.entries[at].kind
        else {
            return Vec::new();
        };
        let label = question
            .choice
            .options
            .iter()
            .find(|o| o.value == chosen.value)
            .map_or_else(|| chosen.value.clone(), |o| o.label.clone());
        question.answer = Some(chosen.value.clone());
        let asked = question.message.clone();
        let to = conversation.address.clone();
        let mut message = Message::text(label.clone());
        message.chosen = Some(chosen);
        let signal = Signal::new(message).to(to.clone()).in_response_to(asked);
        self.sent.insert(signal.meta.id.clone(), to);
        self.answers.insert(signal.meta.id.clone(), (index, at));
        self.push(
            index,
            Entry::now(EntryKind::Message {
                from: "you".into(),
                mine: true,
                subject: None,
                text: label,
                attachments: Vec::new(),
                question: None,
            }),
        );
        let mut actions = vec![Action::Send(Box::new(signal))];
        actions.extend(self.stop_typing(TypingState::Active));
        actions
    }

    /// An answer that was not sent (or not delivered) leaves its question open again.
    pub(super) fn reopen(&mut self, id: &SignalId) {
        let Some((index, at)) = self.answers.remove(id) else {
            return;
        };
        if let EntryKind::Message {
            question: Some(question),
            ..
        } = &mut self.conversations[index].entries[at].kind
        {
            question.answer = None;
        }
    }
}
