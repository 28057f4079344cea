//! The [`Mapper`]'s side of choices: a question or an answer as a data form on a message
//! going out, and a form of Chatty's coming in as a message (see [`crate::choice`]).

use chatty_core::session::Refusal;
use chatty_core::{
    Address, AddressKind, Chosen, FailureKind, Message as ChattyMessage, Metadata, SignalId,
};
use tokio_xmpp::parsers::message::{Message, Thread};

use crate::choice::{FORM_TYPE, Form, answer_form, question_form};
use crate::mapper::Mapper;

impl Mapper {
    /// Adds the form of `m`'s choice, or of its answer, to `message` (the message `id` to `to`,
    /// answering `response_to`): none in a room (a question there is its numbered lines only),
    /// nor for a choice without options.
    pub(crate) fn add_form(
        &self,
        message: &mut Message,
        to: &Address,
        id: &SignalId,
        response_to: Option<&SignalId>,
        m: &ChattyMessage,
    ) -> Result<(), Refusal> {
        if let Some(choice) = &m.choice {
            if choice.id == FORM_TYPE {
                return Err(Refusal::new(
                    FailureKind::Rejected,
                    "a choice cannot be named FORM_TYPE in XMPP (XEP-0068 names the form's type so)",
                ));
            }
            if to.kind() == AddressKind::Channel || choice.options.is_empty() {
                return Ok(());
            }
            message.payloads.push(question_form(m, choice));
            message.thread = Some(Thread {
                parent: None,
                id: id.to_string(),
            });
            self.questions().asked(id.clone(), choice.clone());
        } else if let Some(chosen) = &m.chosen
            && to.kind() != AddressKind::Channel
        {
            message.payloads.push(answer_form(chosen).into());
            message.thread = response_to.map(|of| Thread {
                parent: None,
                id: of.to_string(),
            });
        }
        Ok(())
    }

    /// The message a form of Chatty's carries: a question, or an answer which answers
    /// (`response_to`) the message its reply reference (XEP-0461) names, else its thread. The
    /// answer is the field named by that question's choice; without such a field (or a known
    /// question), the one field submitted, else the field of a question the session knows.
    /// Its text is the option's label, the value when the session does not know the question.
    pub(crate) fn form_message(
        &self,
        form: Form,
        message: &Message,
        meta: &mut Metadata,
    ) -> Result<ChattyMessage, String> {
        match form {
            Form::Answer(fields) => {
                if meta.response_to.is_none() {
                    meta.response_to = message
                        .thread
                        .as_ref()
                        .map(|t| t.id.trim())
                        .filter(|id| !id.is_empty())
                        .map(SignalId::from);
                }
                let questions = self.questions();
                let of_question = meta
                    .response_to
                    .as_ref()
                    .and_then(|id| questions.get(id))
                    .and_then(|c| fields.iter().find(|(var, _)| *var == c.id));
                let (var, values) = match (of_question, fields.as_slice()) {
                    (Some(field), _) | (None, [field]) => field,
                    (None, _) => fields
                        .iter()
                        .find(|(var, _)| questions.knows(var))
                        .ok_or("submits several fields, none for a question the session knows")?,
                };
                let [value] = values.as_slice() else {
                    return Err(format!(
                        "submits {} values for the choice, not one",
                        values.len()
                    ));
                };
                let chosen = Chosen::new(var.clone(), value.clone());
                let label = questions.label(meta.response_to.as_ref(), &chosen)?;
                let mut m = ChattyMessage::text(label.unwrap_or_else(|| chosen.value.clone()));
                m.chosen = Some(chosen);
                Ok(m)
            }
            Form::Question { text, choice } => {
                let mut m = ChattyMessage::text(text).with_choice(choice);
                m.subject = message.get_best_subject(vec![]).map(|(_, s)| s.clone());
                Ok(m)
            }
        }
    }
}
