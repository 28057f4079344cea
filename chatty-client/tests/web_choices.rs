//! Questions with options in the web window, without a browser: the view carries a question's
//! options for its buttons, and a click (`choose`) reaches the bot as a message with `chosen`
//! set, in response to the question.

mod common;

use common::web::*;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_click_on_an_option_answers_the_question_with_chosen() {
    let web = Web::start().await;
    let mut tab = web.started_tab(None).await;
    let view = ask(&mut tab).await;
    let choice = question(&view).unwrap()["choice"].clone();
    assert_eq!(choice["id"], "priority");
    assert_eq!(
        choice["options"],
        json!([
            {"value": "low", "label": "Low"},
            {"value": "high", "label": "High <b>now</b>"},
        ])
    );
    assert_eq!(
        (&choice["open"], &choice["answer"]),
        (&json!(true), &Value::Null)
    );
    let id = choice["question"].as_str().unwrap().to_owned();

    tab.send_json(json!({"type": "choose", "question": id, "value": "high"}))
        .await;
    // The bot got the label as text, `chosen` and the question's id as `response_to`.
    let acknowledged = format!("chose high for priority (in response to {id}): High <b>now</b>");
    let view = tab
        .until("the bot's acknowledgement", |v| {
            has_said(v, "bot", &acknowledged)
        })
        .await;
    let choice = &question(&view).unwrap()["choice"];
    assert_eq!(
        (&choice["open"], &choice["answer"]),
        (&json!(false), &json!("high"))
    );
    assert!(
        entries(&view)
            .iter()
            .any(|e| e["mine"] == true && e["text"] == "High <b>now</b>"),
        "{view}"
    );

    // A second click is refused with an error line; the bot hears nothing more.
    tab.send_json(json!({"type": "choose", "question": id, "value": "low"}))
        .await;
    tab.until_entry(
        "the refusal",
        "error",
        "you answered that question already: High <b>now</b>",
    )
    .await;
    assert!(!has_entry(&tab.view, "message", "chose low"));
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_an_options_number_in_the_page_answers_too() {
    let web = Web::start().await;
    let mut tab = web.started_tab(None).await;
    let view = ask(&mut tab).await;
    let id = question(&view).unwrap()["choice"]["question"]
        .as_str()
        .unwrap()
        .to_owned();
    tab.say("1").await;
    let acknowledged = format!("chose low for priority (in response to {id}): Low");
    let view = tab
        .until_entry("the bot's acknowledgement", "message", &acknowledged)
        .await;
    assert_eq!(question(&view).unwrap()["choice"]["open"], false);
    web.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_clicks_are_errors_not_messages() {
    let web = Web::start().await;
    let mut tab = web.started_tab(None).await;
    // Not a message of the window: an error for this tab only.
    tab.send_json(json!({"type": "choose", "question": "q"}))
        .await;
    let error = tab.error().await;
    assert!(error.contains("missing field `value`"), "{error}");
    // A question that is not there, an option the question does not have: error lines.
    tab.send_json(json!({"type": "choose", "question": "nowhere", "value": "low"}))
        .await;
    tab.until_entry("no such question", "error", "no such question here")
        .await;
    let view = ask(&mut tab).await;
    let id = question(&view).unwrap()["choice"]["question"].clone();
    tab.send_json(json!({"type": "choose", "question": id, "value": "urgent"}))
        .await;
    let view = tab
        .until_entry(
            "not an option",
            "error",
            "`urgent` is not an option of that question",
        )
        .await;
    assert_eq!(question(&view).unwrap()["choice"]["open"], true);
    web.stop().await;
}
