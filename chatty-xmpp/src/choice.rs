//! Choices (chatty-core's [`Choice`] and [`Chosen`]) as Data Forms (XEP-0004) in messages.
//!
//! A question goes out with a form of `type='form'` whose `FORM_TYPE` (XEP-0068) is
//! [`FORM_TYPE_CHOICE`]: the message's text as the instructions, its subject as the title, and
//! one `list-single` field named by the choice's id with the options. Its body is the text with
//! the options as numbered lines, for clients without forms, and its `<thread>` is the
//! question's id, which the submitted form carries back (XEP-0004: in messages, the thread is
//! copied in the reply).
//!
//! An answer comes back as a form of `type='submit'` with that field and the chosen value; the
//! session remembers the questions it asked (the last [`MAX_QUESTIONS`]) to give the answer the
//! option's label as its text. A bot's own answer (a message with [`Chosen`], as a Chatty bot
//! answering another's question) goes out the same way, so two Chatty sessions carry choices
//! both ways. A cancelled form, a result, or a form of another `FORM_TYPE` is not the bot's
//! business: ignored (the message's body, if any, still arrives). A form of Chatty's that is
//! malformed is an error of that one stanza.

use chatty_core::driver::Recent;
use chatty_core::{Choice, Chosen, Message as ChattyMessage, SignalId};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::data_forms::{DataForm, DataFormType, Field, FieldType, Option_};
use tokio_xmpp::parsers::ns;

use crate::ns::FORM_TYPE_CHOICE;

/// How many questions (by the id of the message that asked) the session remembers.
pub(crate) const MAX_QUESTIONS: usize = 10_000;

/// The name of the field that holds a form's type (XEP-0068), which no choice may have.
pub(crate) const FORM_TYPE: &str = "FORM_TYPE";

/// The form that asks `choice`: `message`'s text as the instructions, one `<instructions>` per
/// line (XEP-0004 wants no newlines in one, and allows several; xmpp-parsers holds one, so they
/// are added to its form), its subject as the title (on one line).
pub(crate) fn question_form(message: &ChattyMessage, choice: &Choice) -> Element {
    let mut field = Field::new(&choice.id, FieldType::ListSingle);
    field.required = true;
    field.options = choice
        .options
        .iter()
        .map(|o| Option_ {
            label: Some(o.label.clone()),
            value: o.value.clone(),
        })
        .collect();
    let mut form = DataForm::new(DataFormType::Form, FORM_TYPE_CHOICE, vec![field]);
    form.title = message
        .subject
        .as_ref()
        .map(|s| s.replace(['\r', '\n'], " "));
    let mut element = Element::from(form);
    let rest = element.take_nodes();
    if !message.text.is_empty() {
        for line in message.text.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            let instructions = Element::builder("instructions", ns::DATA_FORMS).append(line);
            element.append_child(instructions.build());
        }
    }
    rest.into_iter().for_each(|node| element.append_node(node));
    element
}

/// The submitted form that answers a question with `chosen`.
pub(crate) fn answer_form(chosen: &Chosen) -> DataForm {
    let field = Field::new(&chosen.choice, FieldType::ListSingle).with_value(&chosen.value);
    DataForm::new(DataFormType::Submit, FORM_TYPE_CHOICE, vec![field])
}

/// What a data form in a message says to the session.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Form {
    /// A question of Chatty's (another Chatty session asking): its text and the choice.
    Question { text: String, choice: Choice },
    /// An answer to a question: the submitted fields (but `FORM_TYPE`), by name with their
    /// values; which of them answers is the question's to say (XEP-0004: fields a submission
    /// adds are ignored).
    Answer(Vec<(String, Vec<String>)>),
}

/// The `FORM_TYPE` a form names, read leniently (before the form is parsed): the first value of
/// its field `FORM_TYPE`.
fn declared_form_type(element: &Element) -> Option<String> {
    element
        .children()
        .filter(|c| c.is("field", ns::DATA_FORMS))
        .find(|c| c.attr("var") == Some(FORM_TYPE))
        .and_then(|c| c.get_child("value", ns::DATA_FORMS))
        .map(|v| v.text().trim().to_owned())
}

/// What the form `element` (`<x xmlns='jabber:x:data'>`) from `from` says, or what is wrong
/// with it (a form of Chatty's that is malformed). `None`, traced, for a form that is not the
/// bot's business, malformed or not: cancelled, a result, or of another `FORM_TYPE`.
pub(crate) fn read(element: &Element, from: &Jid) -> Result<Option<Form>, String> {
    let ignored = |why: &str| {
        tracing::debug!(%from, "ignoring a data form (XEP-0004): {why}");
        Ok(None)
    };
    if element.attr("type") == Some("cancel") {
        return ignored("cancelled");
    }
    if declared_form_type(element).as_deref() != Some(FORM_TYPE_CHOICE) {
        return ignored("not Chatty's FORM_TYPE");
    }
    // Several lines of instructions, which xmpp-parsers does not take: read here.
    let mut element = element.clone();
    let mut lines = Vec::new();
    while let Some(line) = element.remove_child("instructions", ns::DATA_FORMS) {
        lines.push(line.text());
    }
    let form = DataForm::try_from(element).map_err(|e| format!("is malformed: {e}"))?;
    if !matches!(form.type_, DataFormType::Submit | DataFormType::Form) {
        return ignored("a result");
    }
    // Every field but a fixed one has a `var` (xmpp-parsers checks).
    let mut fields: Vec<_> = form
        .fields
        .iter()
        .filter(|f| !f.is_form_type(&form.type_) && f.type_ != FieldType::Fixed)
        .filter_map(|f| Some((f.var.clone()?, f)))
        .collect();
    if form.type_ == DataFormType::Submit {
        if fields.is_empty() {
            return Err("submits no field besides FORM_TYPE".into());
        }
        let named = fields.drain(..).map(|(var, f)| (var, f.values.clone()));
        return Ok(Some(Form::Answer(named.collect())));
    }
    let [(var, field)] = fields.as_slice() else {
        return Err("has not exactly one field besides FORM_TYPE".into());
    };
    let var = var.clone();
    match field.type_ {
        FieldType::ListSingle => {
            if field.options.is_empty() {
                return Err("asks a choice without options".into());
            }
            let choice = field.options.iter().fold(Choice::new(var), |c, o| {
                let label = o.label.clone().unwrap_or_else(|| o.value.clone());
                c.option(o.value.clone(), label)
            });
            let text = lines.join("\n");
            Ok(Some(Form::Question { text, choice }))
        }
        _ => Err("asks a choice in a field that is not list-single".into()),
    }
}

/// The questions the session asked lately, by the id of the message that asked.
#[derive(Debug)]
pub(crate) struct Questions {
    asked: Recent<SignalId, Choice>,
}

impl Default for Questions {
    fn default() -> Self {
        Questions {
            asked: Recent::new(MAX_QUESTIONS),
        }
    }
}

impl Questions {
    /// The message `id` asked `choice`.
    pub(crate) fn asked(&mut self, id: SignalId, choice: Choice) {
        self.asked.insert(id, choice);
    }

    /// The question the message `id` asked, if it is remembered.
    pub(crate) fn get(&self, id: &SignalId) -> Option<&Choice> {
        self.asked.get(id)
    }

    /// Whether a question named `choice` is remembered.
    pub(crate) fn knows(&self, choice: &str) -> bool {
        self.asked.iter().any(|(_, c)| c.id == choice)
    }

    /// The label of the option `chosen` names, in the question it answers: the one asked by the
    /// message `answers` if that is known and has the choice's id, else the latest known
    /// question with that id and option. `None` when the session knows no such question (it
    /// asked before a restart, or long ago); an error when the question is known and has no such
    /// option.
    pub(crate) fn label(
        &self,
        answers: Option<&SignalId>,
        chosen: &Chosen,
    ) -> Result<Option<String>, String> {
        let label_in = |choice: &Choice| {
            choice
                .options
                .iter()
                .find(|o| o.value == chosen.value)
                .map(|o| o.label.clone())
        };
        if let Some(choice) = answers
            .and_then(|id| self.asked.get(id))
            .filter(|c| c.id == chosen.choice)
        {
            return label_in(choice)
                .map(Some)
                .ok_or_else(|| "submits a value that is not one of the question's options".into());
        }
        Ok(self
            .asked
            .iter()
            .filter(|(_, c)| c.id == chosen.choice)
            .find_map(|(_, c)| label_in(c)))
    }
}

#[cfg(test)]
mod tests;
