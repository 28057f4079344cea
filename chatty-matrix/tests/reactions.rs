//! Reactions and read receipts against the test Synapse, with a person in the test speaking
//! plain client-server HTTP: the bot's reaction is an `m.reaction` the person sees and its
//! retraction a redaction; the person's reaction comes to the bot as a reaction; the person's
//! read receipt makes the bot's message `Read`.

mod common;

use chatty_core::{Body, DeliveryStatus, EditKind, Message};
use chatty_test::servers::matrix_account;
use common::bot::{config, end, joined, reaches, run, sent, started};
use common::{Person, next_where, text};
use hyper::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_both_ways_and_a_read_receipt() {
    let bot_account = matrix_account();
    let alice = Person::login(&matrix_account()).await;
    let (running, mut rx) = run(config(&bot_account), None);
    let (handle, own) = started(&mut rx).await;
    let room = alice.create_room(&bot_account.user_id, false).await;
    joined(&mut rx, &own, &room).await;
    alice.wait_joined(&room, &bot_account.user_id).await;
    let asked = alice.say(&room, "deploy now?").await;
    let (question, _) = next_where(&mut rx, |s| text(s) == Some("deploy now?")).await;

    // The bot reacts to the person's message: an annotation of its event, with the key.
    let thumbs = handle
        .send(question.reply_all(Message::reaction(question.meta.id.clone(), "👍")))
        .await
        .unwrap();
    sent(&handle, &thumbs).await;
    let reaction = alice
        .until_event(&room, &bot_account.user_id, |e| e["type"] == "m.reaction")
        .await;
    let relation = &reaction["content"]["m.relates_to"];
    assert_eq!(relation["rel_type"], "m.annotation");
    assert_eq!(relation["event_id"], asked.as_str());
    assert_eq!(relation["key"], "👍");

    // Withdrawn: a retraction of the reaction's id redacts the reaction.
    let withdrawn = handle
        .send(question.reply_all(Message::retraction(thumbs)))
        .await
        .unwrap();
    sent(&handle, &withdrawn).await;
    let redaction = alice
        .until_event(&room, &bot_account.user_id, |e| {
            e["type"] == "m.room.redaction"
        })
        .await;
    let redacts = redaction["redacts"]
        .as_str()
        .or(redaction["content"]["redacts"].as_str());
    assert_eq!(redacts, reaction["event_id"].as_str());

    // The bot answers; the person reacts to the answer: a reaction of the answer's event.
    let answer = handle
        .send(question.reply_all(Message::text("deploying")))
        .await
        .unwrap();
    sent(&handle, &answer).await;
    let said = alice
        .until_message(&room, &bot_account.user_id, |e| {
            e["content"]["body"] == "deploying"
        })
        .await;
    let said = said["event_id"].as_str().unwrap().to_owned();
    alice
        .request(
            Method::PUT,
            &format!("/rooms/{room}/send/m.reaction/r{}", std::process::id()),
            Some(json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": said, "key": "🎉"}})),
        )
        .await;
    let (party, _) = next_where(
        &mut rx,
        |s| matches!(&s.body, Body::Message(m) if m.is_reaction()),
    )
    .await;
    let Body::Message(m) = &party.body else {
        unreachable!()
    };
    assert_eq!(m.text, "🎉");
    let edit = m.edit.as_ref().unwrap();
    assert_eq!(
        (edit.kind, edit.of.as_str()),
        (EditKind::Reaction, said.as_str())
    );
    assert_eq!(party.meta.origin.as_ref().unwrap().id(), alice.user_id);

    // The person reads the answer: it is Read.
    alice
        .request(
            Method::POST,
            &format!("/rooms/{room}/receipt/m.read/{said}"),
            Some(json!({})),
        )
        .await;
    reaches(&handle, &answer, DeliveryStatus::Read).await;
    end(&handle, running).await;
}
