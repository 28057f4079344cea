//! The limits Block Kit documents for the blocks a message may carry
//! (docs.slack.dev/reference/block-kit/blocks, …/block-elements/button-element,
//! …/composition-objects/text-object), checked as Slack checks them: a message that breaks
//! one is refused with `invalid_blocks` and an `errors` list naming each place, as
//! `must be less than 26 items [json-pointer:/blocks/1/elements]`.
//!
//! Only the limits of the blocks apps post here are checked (the number of blocks, `block_id`,
//! `section` text, `actions` elements, buttons); other block types pass as they are.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::Reply;

/// At most 50 blocks in a message.
const MAX_BLOCKS: usize = 50;
/// At most 25 elements in an `actions` block.
const MAX_ACTIONS: usize = 25;
/// `block_id` and `action_id`: at most 255 characters.
const MAX_ID: usize = 255;
/// A `section` block's text: at most 3000 characters.
const MAX_SECTION_TEXT: usize = 3000;
/// A button's text: at most 75 characters.
const MAX_BUTTON_TEXT: usize = 75;
/// A button's value: at most 2000 characters.
const MAX_BUTTON_VALUE: usize = 2000;

/// Checks `blocks` (an array); `Err` with Slack's `invalid_blocks` answer.
pub(crate) fn check(blocks: &Value) -> Result<(), Reply> {
    let Some(list) = blocks.as_array() else {
        return Err(Reply::error("invalid_blocks_format"));
    };
    let mut errors = Vec::new();
    if list.len() > MAX_BLOCKS {
        errors.push(format!(
            "no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]"
        ));
    }
    let mut block_ids = HashSet::new();
    let mut action_ids = HashSet::new();
    for (i, block) in list.iter().enumerate() {
        let at = format!("/blocks/{i}");
        let Some(kind) = block.get("type").and_then(Value::as_str) else {
            errors.push(format!("missing required field: type [json-pointer:{at}]"));
            continue;
        };
        if let Some(id) = block.get("block_id").and_then(Value::as_str) {
            longer(&mut errors, id, MAX_ID, &format!("{at}/block_id"));
            if !block_ids.insert(id.to_owned()) {
                errors.push(format!(
                    "block_id values must be unique [json-pointer:{at}/block_id]"
                ));
            }
        }
        match kind {
            "section" => {
                if let Some(text) = block.pointer("/text/text").and_then(Value::as_str) {
                    longer(
                        &mut errors,
                        text,
                        MAX_SECTION_TEXT,
                        &format!("{at}/text/text"),
                    );
                }
                if let Some(accessory) = block.get("accessory") {
                    element(
                        &mut errors,
                        &mut action_ids,
                        accessory,
                        &format!("{at}/accessory"),
                    );
                }
            }
            "actions" => {
                let elements = block
                    .get("elements")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                if elements.is_empty() {
                    errors.push(format!(
                        "must provide at least 1 item [json-pointer:{at}/elements]"
                    ));
                }
                if elements.len() > MAX_ACTIONS {
                    errors.push(format!(
                        "must be less than {} items [json-pointer:{at}/elements]",
                        MAX_ACTIONS + 1
                    ));
                }
                for (j, e) in elements.iter().enumerate() {
                    element(
                        &mut errors,
                        &mut action_ids,
                        e,
                        &format!("{at}/elements/{j}"),
                    );
                }
            }
            _ => {}
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    let messages: Vec<String> = errors.iter().map(|e| format!("[ERROR] {e}")).collect();
    let mut reply = Reply::error("invalid_blocks");
    reply.body["errors"] = json!(errors);
    reply.body["response_metadata"] = json!({ "messages": messages });
    Err(reply)
}

/// Checks an interactive element (a button's text, value and `action_id`).
fn element(errors: &mut Vec<String>, action_ids: &mut HashSet<String>, e: &Value, at: &str) {
    if let Some(id) = e.get("action_id").and_then(Value::as_str) {
        longer(errors, id, MAX_ID, &format!("{at}/action_id"));
        if !action_ids.insert(id.to_owned()) {
            errors.push(format!(
                "action_id values must be unique [json-pointer:{at}/action_id]"
            ));
        }
    }
    if e.get("type").and_then(Value::as_str) != Some("button") {
        return;
    }
    match e.pointer("/text/text").and_then(Value::as_str) {
        Some("") | None => errors.push(format!(
            "must be more than 0 characters [json-pointer:{at}/text/text]"
        )),
        Some(text) => longer(errors, text, MAX_BUTTON_TEXT, &format!("{at}/text/text")),
    }
    if e.pointer("/text/type").and_then(Value::as_str) != Some("plain_text") {
        errors.push(format!(
            "must be a plain_text text object [json-pointer:{at}/text]"
        ));
    }
    if let Some(value) = e.get("value").and_then(Value::as_str) {
        longer(errors, value, MAX_BUTTON_VALUE, &format!("{at}/value"));
    }
}

/// Records an error when `text` has more than `max` characters.
fn longer(errors: &mut Vec<String>, text: &str, max: usize, at: &str) {
    if text.chars().count() > max {
        errors.push(format!(
            "must be less than {} characters [json-pointer:{at}]",
            max + 1
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn button(id: &str, text: &str, value: &str) -> Value {
        json!({"type": "button", "action_id": id, "value": value,
               "text": {"type": "plain_text", "text": text}})
    }

    #[test]
    fn documented_limits_are_refused_with_their_place() {
        let ok = json!([
            {"type": "section", "text": {"type": "mrkdwn", "text": "Priority?"}},
            {"type": "actions", "block_id": "q", "elements": [button("a", "Low", "low")]},
        ]);
        assert!(check(&ok).is_ok());
        let many: Vec<Value> = (0..26).map(|i| button(&i.to_string(), "x", "x")).collect();
        let cases = [
            (
                json!([{"type": "actions", "elements": many}]),
                "/blocks/0/elements]",
            ),
            (
                json!([{"type": "actions", "elements": [button("a", &"x".repeat(76), "v")]}]),
                "/blocks/0/elements/0/text/text]",
            ),
            (
                json!([{"type": "actions", "elements": [button("a", "x", &"v".repeat(2001))]}]),
                "/blocks/0/elements/0/value]",
            ),
            (
                json!([{"type": "actions", "block_id": "b".repeat(256),
                        "elements": [button("a", "x", "v")]}]),
                "/blocks/0/block_id]",
            ),
            (
                json!([{"type": "actions", "elements": [button("a", "x", "v"), button("a", "y", "w")]}]),
                "/blocks/0/elements/1/action_id]",
            ),
            (
                json!([{"type": "actions", "elements": []}]),
                "/blocks/0/elements]",
            ),
        ];
        for (blocks, place) in cases {
            let reply = check(&blocks).unwrap_err();
            assert_eq!(reply.body["error"], "invalid_blocks");
            let errors = reply.body["errors"].to_string();
            assert!(errors.contains(place), "{place}: {errors}");
        }
        let fifty_one: Vec<Value> = (0..51).map(|_| json!({"type": "divider"})).collect();
        assert!(check(&Value::Array(fifty_one)).is_err());
        assert_eq!(
            check(&json!({})).unwrap_err().body["error"],
            "invalid_blocks_format"
        );
    }
}
