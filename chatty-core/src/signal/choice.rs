//! Choices: a question with options, asked in a message, and a person's answer to it.
//!
//! A [`Choice`] rides in a [`Message`](crate::Message) whose text is the question. Each platform
//! shows it as well as it can, by its [`Capabilities`](crate::Capabilities) for the addressee
//! ([`Features::CHOICES`](crate::Features::CHOICES)): buttons on Slack, a data form (XEP-0004)
//! in XMPP, and where neither exists (email, plain chat windows) numbered lines in the text
//! ([`Choice::numbered`]), answered by text. A session that carries choices as they are turns a
//! click or a submitted form into a message with [`Message::chosen`](crate::Message::chosen) set;
//! a text answer is matched to its option by [`Choice::answer_in`].
//!
//! ```
//! use chatty_core::{Choice, Message};
//!
//! let question = Message::text("How urgent is it?").with_choice(
//!     Choice::new("priority")
//!         .option("low", "Low")
//!         .option("high", "High"),
//! );
//! let choice = question.choice.as_ref().unwrap();
//! assert_eq!(choice.numbered(), "1. Low\n2. High");
//! // On email, the person answers by text: a number, a label or a value.
//! assert_eq!(choice.answer_in("2").unwrap().value, "high");
//! assert_eq!(choice.answer_in(" low. ").unwrap().value, "low");
//! assert!(choice.answer_in("tomorrow").is_none());
//! ```

use serde::{Deserialize, Serialize};

/// A question with options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Choice {
    /// Names the question among the bot's questions; the answer carries it back
    /// ([`Chosen::choice`]).
    pub id: String,
    /// The options, in the order they are shown.
    pub options: Vec<ChoiceOption>,
}

/// One option of a [`Choice`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChoiceOption {
    /// What the answer carries ([`Chosen::value`]): stable, for the bot.
    pub value: String,
    /// What the person sees.
    pub label: String,
}

/// A person's answer to a [`Choice`]: which option they chose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Chosen {
    /// The question's [`Choice::id`].
    pub choice: String,
    /// The chosen option's [`ChoiceOption::value`].
    pub value: String,
}

impl Chosen {
    /// The answer `value` to the question `choice`.
    pub fn new(choice: impl Into<String>, value: impl Into<String>) -> Self {
        Chosen {
            choice: choice.into(),
            value: value.into(),
        }
    }
}

impl Choice {
    /// The line that tells a person how to answer numbered lines, after them in
    /// [`Message::text_with_choice`](crate::Message::text_with_choice).
    pub const HOW_TO_ANSWER: &'static str = "(Answer with a number.)";

    /// A question named `id`, without options yet.
    pub fn new(id: impl Into<String>) -> Self {
        Choice {
            id: id.into(),
            options: Vec::new(),
        }
    }

    /// Adds an option: the `value` the answer carries, the `label` the person sees.
    #[must_use]
    pub fn option(mut self, value: impl Into<String>, label: impl Into<String>) -> Self {
        self.options.push(ChoiceOption {
            value: value.into(),
            label: label.into(),
        });
        self
    }

    /// The options as numbered lines (`1. Low`), for a platform without buttons or forms.
    pub fn numbered(&self) -> String {
        let lines: Vec<String> = self
            .options
            .iter()
            .enumerate()
            .map(|(i, o)| format!("{}. {}", i + 1, o.label))
            .collect();
        lines.join("\n")
    }

    /// The answer naming the option `value`, if this question has it.
    pub fn chosen(&self, value: &str) -> Option<Chosen> {
        self.options
            .iter()
            .any(|o| o.value == value)
            .then(|| Chosen::new(self.id.clone(), value))
    }

    /// Which option a text answer names: its number as shown by [`numbered`](Choice::numbered)
    /// (`2`, `2.`), its label or its value, without regard to case, surrounding spaces or
    /// trailing punctuation; or, when the whole text names none, its first line that is not
    /// empty (a mail's answer above the quoted question). `None` when it names none, or more
    /// than one.
    ///
    /// ```
    /// use chatty_core::Choice;
    ///
    /// let c = Choice::new("p").option("low", "Low").option("high", "High");
    /// let reply = "2\n\nOn Monday, the desk wrote:\n> How urgent is it?\n> 1. Low\n> 2. High";
    /// assert_eq!(c.answer_in(reply).unwrap().value, "high");
    /// ```
    pub fn answer_in(&self, text: &str) -> Option<Chosen> {
        self.answer_in_line(text).or_else(|| {
            let first = text.lines().find(|l| !l.trim().is_empty())?;
            (first.len() < text.trim().len())
                .then(|| self.answer_in_line(first))
                .flatten()
        })
    }

    fn answer_in_line(&self, text: &str) -> Option<Chosen> {
        let said = normalize(text);
        if said.is_empty() {
            return None;
        }
        if let Ok(n) = said.parse::<usize>() {
            return n
                .checked_sub(1)
                .and_then(|i| self.options.get(i))
                .map(|o| Chosen::new(self.id.clone(), o.value.clone()));
        }
        let mut named = self
            .options
            .iter()
            .filter(|o| normalize(&o.label) == said || normalize(&o.value) == said);
        match (named.next(), named.next()) {
            (Some(o), None) => Some(Chosen::new(self.id.clone(), o.value.clone())),
            _ => None,
        }
    }
}

/// Lower case, without surrounding white space, quotes and trailing punctuation.
fn normalize(text: &str) -> String {
    text.trim()
        .trim_matches(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`'))
        .trim_end_matches(['.', '!', ')', ',', ';'])
        .trim()
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn priority() -> Choice {
        Choice::new("priority")
            .option("low", "Low")
            .option("normal", "Normal")
            .option("high", "High: on fire")
    }

    #[test]
    fn numbers_labels_and_values_name_options() {
        let c = priority();
        for (text, value) in [
            ("1", "low"),
            ("2.", "normal"),
            (" 3) ", "high"),
            ("LOW", "low"),
            ("high: on fire!", "high"),
            ("\"normal\"", "normal"),
            ("high", "high"),
        ] {
            assert_eq!(
                c.answer_in(text),
                Some(Chosen::new("priority", value)),
                "{text}"
            );
        }
    }

    #[test]
    fn what_names_no_option_or_several_is_no_answer() {
        let c = priority();
        for text in ["", "  ", "0", "4", "18446744073709551616", "urgent", "1 2"] {
            assert_eq!(c.answer_in(text), None, "{text:?}");
        }
        let twice = Choice::new("q").option("a", "Same").option("b", "same");
        assert_eq!(twice.answer_in("same"), None);
        assert_eq!(twice.answer_in("2"), Some(Chosen::new("q", "b")));
    }

    #[test]
    fn the_first_line_answers_above_a_quote() {
        let c = priority();
        let reply = "\n  low \r\n\r\n> How urgent?\r\n> 1. Low\r\n";
        assert_eq!(c.answer_in(reply), Some(Chosen::new("priority", "low")));
        assert_eq!(c.answer_in("I think\n2"), None, "only the first line");
    }

    #[test]
    fn numbered_lines_follow_the_order_of_the_options() {
        assert_eq!(priority().numbered(), "1. Low\n2. Normal\n3. High: on fire");
        assert_eq!(Choice::new("empty").numbered(), "");
    }

    #[test]
    fn chosen_checks_the_value() {
        assert_eq!(
            priority().chosen("low"),
            Some(Chosen::new("priority", "low"))
        );
        assert_eq!(priority().chosen("Low"), None);
    }

    #[test]
    fn json_shape() {
        let json = serde_json::to_value(Choice::new("p").option("a", "A")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"id": "p", "options": [{"value": "a", "label": "A"}]})
        );
    }
}
