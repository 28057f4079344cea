//! Choices as Block Kit buttons (docs.slack.dev/reference/block-kit/blocks/actions-block,
//! …/block-elements/button-element): a question's options become `button` elements in
//! `actions` blocks, and a click on one of them names the question and the option again.
//!
//! - The `block_id` of each actions block is `chatty_choice/PART/CHOICE_ID` (`PART` counts the
//!   blocks of one question from 0): the answer names its question by it.
//! - The `action_id` of each button is `chatty_choice/INDEX` (the option's place in the
//!   question, from 0), unique in the message; its `value` is the option's value (left out
//!   when empty), its text the label.
//!
//! Slack's documented limits are kept, never truncated: at most 25 elements in an actions
//! block (a question with more options takes several blocks), 50 blocks in a message, 75
//! characters of button text, 2000 of value, 255 of `block_id` and `action_id`, 3000 of
//! section text. A question that does not fit is refused at send with an error naming the
//! limit.

use chatty_core::reexports::serde_json::Value;
use chatty_core::{Choice, ChoiceOption, Chosen, Message};
use slack_morphism::prelude::*;

/// The prefix of the `block_id`s and `action_id`s of the session's buttons.
pub(crate) const PREFIX: &str = "chatty_choice/";

/// At most this many elements in an `actions` block.
pub(crate) const MAX_BUTTONS_PER_BLOCK: usize = 25;
/// At most this many blocks in a message.
pub(crate) const MAX_BLOCKS: usize = 50;
/// A button's text: at most this many characters.
pub(crate) const MAX_LABEL: usize = 75;
/// A button's value: at most this many characters.
pub(crate) const MAX_VALUE: usize = 2000;
/// A `block_id` or `action_id`: at most this many characters.
pub(crate) const MAX_ID: usize = 255;
/// A `section` block's text: at most this many characters.
pub(crate) const MAX_SECTION: usize = 3000;
/// A message's `text`: Slack truncates it past this many characters.
pub(crate) const MAX_TEXT: usize = 40_000;

/// The notification text of a question: its text and numbered options
/// ([`Message::text_with_choice`]); `Err` past the 40 000 characters Slack keeps of a
/// message's `text` (it truncates the rest).
pub(crate) fn fallback(message: &Message) -> Result<String, String> {
    let text = message.text_with_choice();
    let chars = text.chars().count();
    if chars > MAX_TEXT {
        return Err(format!(
            "the question with its numbered options has {chars} characters: Slack keeps at most \
             {MAX_TEXT} of a message's text"
        ));
    }
    Ok(text)
}

/// The `block_id` of the actions block `part` of the question `choice`.
fn block_id(part: usize, choice: &str) -> String {
    format!("{PREFIX}{part}/{choice}")
}

/// The `action_id` of the option at `index`.
fn action_id(index: usize) -> String {
    format!("{PREFIX}{index}")
}

/// The blocks of a question: a `section` block with its text (none when the text is empty),
/// `section_id` as its `block_id`, then the options as buttons, 25 to an actions block.
/// `Err` naming the limit a question does not fit in.
pub(crate) fn blocks(
    choice: &Choice,
    section: &str,
    section_id: Option<String>,
) -> Result<Vec<SlackBlock>, String> {
    let chars = section.chars().count();
    if chars > MAX_SECTION {
        return Err(format!(
            "the question of choice `{}` has {chars} characters: a Slack section block holds at \
             most {MAX_SECTION}",
            choice.id
        ));
    }
    let parts = choice.options.len().div_ceil(MAX_BUTTONS_PER_BLOCK);
    let with_section = usize::from(!section.is_empty());
    if parts + with_section > MAX_BLOCKS {
        return Err(format!(
            "choice `{}` has {} options: a Slack message holds at most {MAX_BLOCKS} blocks of \
             {MAX_BUTTONS_PER_BLOCK} buttons ({} options with the question)",
            choice.id,
            choice.options.len(),
            (MAX_BLOCKS - with_section) * MAX_BUTTONS_PER_BLOCK
        ));
    }
    let last_block_id = block_id(parts.saturating_sub(1), &choice.id);
    if last_block_id.chars().count() > MAX_ID {
        return Err(format!(
            "the id of choice `{}` is too long: as a Slack block_id (`{PREFIX}N/ID`) it holds at \
             most {MAX_ID} characters",
            choice.id
        ));
    }
    let mut out = Vec::with_capacity(parts + with_section);
    if !section.is_empty() {
        let text = SlackBlockText::MarkDown(SlackBlockMarkDownText::new(section.to_owned()));
        out.push(
            SlackSectionBlock::new()
                .with_text(text)
                .opt_block_id(section_id.map(SlackBlockId))
                .into(),
        );
    }
    for (part, options) in choice.options.chunks(MAX_BUTTONS_PER_BLOCK).enumerate() {
        let mut elements = Vec::with_capacity(options.len());
        for (i, option) in options.iter().enumerate() {
            let index = part * MAX_BUTTONS_PER_BLOCK + i;
            elements.push(button(&choice.id, index, option)?.into());
        }
        out.push(
            SlackActionsBlock::new(elements)
                .with_block_id(SlackBlockId(block_id(part, &choice.id)))
                .into(),
        );
    }
    Ok(out)
}

/// The button of the option at `index`.
fn button(
    choice: &str,
    index: usize,
    option: &ChoiceOption,
) -> Result<SlackBlockButtonElement, String> {
    let n = index + 1;
    let label = option.label.chars().count();
    if label == 0 {
        return Err(format!(
            "option {n} of choice `{choice}` has an empty label: a Slack button's text needs at \
             least 1 character"
        ));
    }
    if label > MAX_LABEL {
        return Err(format!(
            "the label of option {n} of choice `{choice}` has {label} characters: a Slack \
             button's text holds at most {MAX_LABEL}"
        ));
    }
    let value = option.value.chars().count();
    if value > MAX_VALUE {
        return Err(format!(
            "the value of option {n} of choice `{choice}` has {value} characters: a Slack \
             button's value holds at most {MAX_VALUE}"
        ));
    }
    let text = SlackBlockPlainTextOnly::from(option.label.as_str());
    Ok(SlackBlockButtonElement::new(text)
        .with_action_id(SlackActionId(action_id(index)))
        .opt_value((!option.value.is_empty()).then(|| option.value.clone())))
}

/// The question a Chatty `block_id` names (`chatty_choice/PART/CHOICE_ID`).
pub(crate) fn choice_of_block(block_id: &str) -> Option<&str> {
    let (part, id) = block_id.strip_prefix(PREFIX)?.split_once('/')?;
    (!part.is_empty() && part.chars().all(|c| c.is_ascii_digit())).then_some(id)
}

/// The option index a Chatty `action_id` names (`chatty_choice/INDEX`).
pub(crate) fn option_of_action(action_id: &str) -> Option<usize> {
    action_id.strip_prefix(PREFIX)?.parse().ok()
}

/// A string field, or `""` when absent.
fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The answer a clicked button (an `actions[]` entry of a `block_actions` payload) gives, if
/// it is one of Chatty's: the question, the option's value and its label; `Err` for one of
/// Chatty's that cannot be read.
pub(crate) fn clicked(action: &Value) -> Option<Result<(Chosen, String), String>> {
    let block_id = action.get("block_id").and_then(Value::as_str)?;
    let action_id = action.get("action_id").and_then(Value::as_str)?;
    let (choice, _) = (choice_of_block(block_id)?, option_of_action(action_id)?);
    let value = match action.get("value") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(v)) => v.clone(),
        Some(other) => {
            return Some(Err(format!(
                "a click on {action_id} whose value is not text: {other}"
            )));
        }
    };
    let label = match str_at(action, "/text/text") {
        "" => value.clone(),
        label => label.to_owned(),
    };
    Some(Ok((Chosen::new(choice, value), label)))
}

/// The question a message's Chatty buttons ask, read back from its actions blocks (a message
/// a Chatty session posted, seen in history or by another Chatty bot).
pub(crate) fn read(message: &Value) -> Option<Choice> {
    let mut id = None;
    let mut options: Vec<(usize, ChoiceOption)> = Vec::new();
    for block in message.get("blocks")?.as_array()? {
        if str_at(block, "/type") != "actions" {
            continue;
        }
        let Some(choice) = choice_of_block(str_at(block, "/block_id")) else {
            continue;
        };
        if id.get_or_insert_with(|| choice.to_owned()) != choice {
            continue;
        }
        let elements = block.get("elements").and_then(Value::as_array);
        for element in elements.into_iter().flatten() {
            let Some(index) = option_of_action(str_at(element, "/action_id")) else {
                continue;
            };
            let option = Choice::new("")
                .option(str_at(element, "/value"), str_at(element, "/text/text"))
                .options
                .pop()?;
            options.push((index, option));
        }
    }
    options.sort_by_key(|(index, _)| *index);
    let mut choice = Choice::new(id?);
    choice.options = options.into_iter().map(|(_, o)| o).collect();
    Some(choice)
}

#[cfg(test)]
mod tests {
    use chatty_core::reexports::serde_json::{self, json};

    use super::*;

    fn priority() -> Choice {
        Choice::new("priority")
            .option("low", "Low")
            .option("normal", "Normal")
            .option("high", "High: on fire")
    }

    fn wire(blocks: &[SlackBlock]) -> Value {
        serde_json::to_value(blocks).unwrap()
    }

    #[test]
    fn a_question_is_a_section_and_an_actions_block_of_buttons() {
        let blocks = blocks(&priority(), "How *urgent*?", Some("chatty:c:q1".into())).unwrap();
        assert_eq!(
            wire(&blocks),
            json!([
                {"type": "section", "block_id": "chatty:c:q1",
                 "text": {"type": "mrkdwn", "text": "How *urgent*?"}},
                {"type": "actions", "block_id": "chatty_choice/0/priority", "elements": [
                    {"type": "button", "action_id": "chatty_choice/0", "value": "low",
                     "text": {"type": "plain_text", "text": "Low"}},
                    {"type": "button", "action_id": "chatty_choice/1", "value": "normal",
                     "text": {"type": "plain_text", "text": "Normal"}},
                    {"type": "button", "action_id": "chatty_choice/2", "value": "high",
                     "text": {"type": "plain_text", "text": "High: on fire"}},
                ]},
            ])
        );
        // Read back as it was asked.
        let message = json!({"blocks": wire(&blocks)});
        assert_eq!(read(&message), Some(priority()));
    }

    #[test]
    fn many_options_take_several_blocks_and_too_many_are_refused() {
        let mut choice = Choice::new("n");
        for i in 0..60 {
            choice = choice.option(format!("v{i}"), format!("Option {i}"));
        }
        let json = wire(&blocks(&choice, "", None).unwrap());
        let sizes: Vec<usize> = json
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["elements"].as_array().unwrap().len())
            .collect();
        assert_eq!(sizes, [25, 25, 10]);
        assert_eq!(json[2]["block_id"], "chatty_choice/2/n");
        assert_eq!(json[2]["elements"][9]["action_id"], "chatty_choice/59");
        assert_eq!(read(&json!({ "blocks": json })), Some(choice));

        let mut huge = Choice::new("huge");
        for i in 0..(49 * 25 + 1) {
            huge = huge.option(i.to_string(), i.to_string());
        }
        let error = blocks(&huge, "q", None).unwrap_err();
        assert!(error.contains("at most 50 blocks of 25 buttons"), "{error}");
        assert!(
            blocks(&huge, "", None).is_ok(),
            "50 blocks without the question"
        );
    }

    #[test]
    fn what_breaks_a_limit_is_refused_naming_it() {
        let long_label = Choice::new("q").option("a", "x".repeat(76));
        let e = blocks(&long_label, "q", None).unwrap_err();
        assert!(e.contains("at most 75"), "{e}");
        assert!(blocks(&Choice::new("q").option("a", "é".repeat(75)), "q", None).is_ok());
        let e = blocks(&Choice::new("q").option("a", ""), "q", None).unwrap_err();
        assert!(e.contains("at least 1"), "{e}");
        let e = blocks(&Choice::new("q").option("v".repeat(2001), "A"), "q", None).unwrap_err();
        assert!(e.contains("at most 2000"), "{e}");
        let e = blocks(&Choice::new("i".repeat(240)).option("a", "A"), "q", None).unwrap_err();
        assert!(e.contains("at most 255"), "{e}");
        let e = blocks(&priority(), &"q".repeat(3001), None).unwrap_err();
        assert!(e.contains("at most 3000"), "{e}");
    }

    #[test]
    fn a_fallback_text_slack_would_truncate_is_refused() {
        let mut choice = Choice::new("wide");
        for i in 0..600 {
            choice = choice.option(i.to_string(), format!("{i:>70}"));
        }
        let message = Message::text("Which?").with_choice(choice);
        assert!(blocks(message.choice.as_ref().unwrap(), "Which?", None).is_ok());
        let e = fallback(&message).unwrap_err();
        assert!(e.contains("at most 40000"), "{e}");
        assert!(fallback(&Message::text("Which?").with_choice(priority())).is_ok());
    }

    #[test]
    fn an_empty_value_is_left_out_and_read_back_empty() {
        let choice = Choice::new("q").option("", "Nothing");
        let json = wire(&blocks(&choice, "", None).unwrap());
        assert!(json[0]["elements"][0].get("value").is_none());
        assert_eq!(read(&json!({ "blocks": json })), Some(choice));
    }

    #[test]
    fn clicks_on_chatty_buttons_name_the_question_and_the_option() {
        let action = json!({"action_id": "chatty_choice/2", "block_id": "chatty_choice/0/a/b",
            "text": {"type": "plain_text", "text": "High", "emoji": true}, "value": "high",
            "type": "button", "action_ts": "1548426417.840180"});
        let (chosen, label) = clicked(&action).unwrap().unwrap();
        assert_eq!(chosen, Chosen::new("a/b", "high"));
        assert_eq!(label, "High");
        let other = json!({"action_id": "approve", "block_id": "x", "value": "1"});
        assert!(clicked(&other).is_none());
        let not_ours = json!({"action_id": "chatty_choice/x", "block_id": "chatty_choice/0/a"});
        assert!(clicked(&not_ours).is_none());
        let bad = json!({"action_id": "chatty_choice/0", "block_id": "chatty_choice/0/a",
            "value": 5});
        assert!(clicked(&bad).unwrap().is_err());
    }
}
