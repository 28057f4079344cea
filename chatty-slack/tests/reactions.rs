//! Reactions against the local Slack: a person's reactions in a DM and a channel reach the bot
//! as reactions to the messages they name, and their removal as retractions of them; the bot's
//! reactions (an emoji, a name with or without colons) go out as `reactions.add` and its
//! retractions as `reactions.remove`; what cannot be named or placed is refused.

mod common;

use chatty_core::reexports::serde_json::{Value, json};
use chatty_core::{Body, EditKind, FailureKind, Message, Signal};
use common::{Bot, WAIT, address, next_message, text, workspace_with_dm};

/// The reactions on the message `ts` of `channel`, as the local Slack keeps them.
fn reactions(slack: &chatty_local_slack::LocalSlack, channel: &str, ts: &str) -> Value {
    slack
        .messages(channel)
        .into_iter()
        .find(|m| m["ts"] == ts)
        .and_then(|m| m.get("reactions").cloned())
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persons_reactions_reach_the_bot_and_their_removal_too() {
    let (slack, alice, app, dm) = workspace_with_dm().await;
    let channel = slack.create_channel("general", &alice, false);
    slack.join(&app.bot_user_id, &channel);
    let mut bot = Bot::start(&slack, app.clone()).await;
    let handle = bot.remote.handle().await;

    // The bot's own message, known by the id its signal had.
    let sent = handle
        .send(Signal::message("react to this").to(address(&slack, &alice)))
        .await
        .unwrap();
    assert!(slack.wait_until(WAIT, |s| s.messages(&dm).len() == 1).await);
    let ts = slack.messages(&dm)[0]["ts"].as_str().unwrap().to_owned();
    slack.react(&alice, &dm, &ts, "thumbsup").unwrap();
    let reaction = next_message(&bot).await;
    let Body::Message(m) = &reaction.body else {
        panic!("{reaction:?}")
    };
    assert!(m.is_reaction());
    assert_eq!(m.text, "👍");
    assert_eq!(m.edit.as_ref().unwrap().of, sent);
    assert_eq!(
        reaction.meta.id.as_str(),
        format!("reaction/{dm}/{ts}/{alice}/thumbsup")
    );
    assert_eq!(reaction.meta.origin, Some(address(&slack, &alice)));
    assert_eq!(reaction.meta.addressees, vec![bot.address.clone()]);

    slack.unreact(&alice, &dm, &ts, "thumbsup").unwrap();
    let removal = next_message(&bot).await;
    let Body::Message(m) = &removal.body else {
        panic!("{removal:?}")
    };
    let edit = m.edit.as_ref().unwrap();
    assert_eq!(
        (edit.kind, &edit.of),
        (EditKind::Retraction, &reaction.meta.id)
    );
    assert_eq!(removal.meta.origin, Some(address(&slack, &alice)));

    // In a channel: a person's message, a custom emoji's name as the key, visible to the
    // channel.
    let said = slack.post(&alice, &channel, "lunch?");
    let lunch = next_message(&bot).await;
    assert_eq!(text(&lunch), "lunch?");
    slack.react(&alice, &channel, &said, "partyparrot").unwrap();
    let party = next_message(&bot).await;
    let Body::Message(m) = &party.body else {
        panic!("{party:?}")
    };
    assert_eq!(m.text, "partyparrot");
    assert_eq!(m.edit.as_ref().unwrap().of, lunch.meta.id);
    assert_eq!(party.meta.visible_to, vec![address(&slack, &channel)]);
    assert!(party.meta.addressees.is_empty());
    // A name of any emoji (emoji-data's, as Slack's clients use) as the emoji, its skin tone
    // as the modifier.
    for (name, key) in [
        ("thinking_face", "🤔"),
        ("female-technologist::skin-tone-4", "👩🏽‍💻"),
    ] {
        slack.react(&alice, &channel, &said, name).unwrap();
        let named = next_message(&bot).await;
        assert_eq!(text(&named), key);
    }
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bots_reactions_go_out_by_name_and_are_withdrawn() {
    let (slack, alice, app, dm) = workspace_with_dm().await;
    let mut bot = Bot::start(&slack, app.clone()).await;
    let handle = bot.remote.handle().await;
    let ts = slack.post(&alice, &dm, "good news");
    let news = next_message(&bot).await;
    let to_alice = address(&slack, &alice);
    let react =
        |key: &str| Signal::new(Message::reaction(news.meta.id.clone(), key)).to(to_alice.clone());

    // An emoji by its character, by name, and by name with colons; any emoji by Slack's name
    // for it, with a skin tone.
    let thumbs = handle.send(react("👍")).await.unwrap();
    handle.send(react("tada")).await.unwrap();
    handle.send(react(":heart:")).await.unwrap();
    handle.send(react("🦀")).await.unwrap();
    handle.send(react("👩🏽‍💻")).await.unwrap();
    let me = app.bot_user_id.as_str();
    let all = json!([
        {"name": "+1", "users": [me], "count": 1},
        {"name": "tada", "users": [me], "count": 1},
        {"name": "heart", "users": [me], "count": 1},
        {"name": "crab", "users": [me], "count": 1},
        {"name": "female-technologist::skin-tone-4", "users": [me], "count": 1},
    ]);
    assert!(
        slack
            .wait_until(WAIT, |s| reactions(s, &dm, &ts) == all)
            .await,
        "{}",
        reactions(&slack, &dm, &ts)
    );

    // A retraction of the reaction's id removes it; the other reactions stay.
    handle
        .send(Signal::new(Message::retraction(thumbs)).to(to_alice.clone()))
        .await
        .unwrap();
    let left = json!([
        {"name": "tada", "users": [me], "count": 1},
        {"name": "heart", "users": [me], "count": 1},
        {"name": "crab", "users": [me], "count": 1},
        {"name": "female-technologist::skin-tone-4", "users": [me], "count": 1},
    ]);
    assert!(
        slack
            .wait_until(WAIT, |s| reactions(s, &dm, &ts) == left)
            .await,
        "{}",
        reactions(&slack, &dm, &ts)
    );
    assert_eq!(slack.call_count("reactions.remove"), 1);

    // What no emoji name names, and a message the session cannot place, are refused.
    for (signal, says) in [
        (react("two words"), "names none"),
        (
            Signal::new(Message::reaction("somewhere-else".into(), "👍")).to(to_alice.clone()),
            "not a message this session knows",
        ),
    ] {
        let id = handle.send(signal).await.unwrap();
        let f = bot.rejection_of(&id).await;
        assert!(f.message.contains(says), "{}", f.message);
    }
    // Slack's refusal comes back with its code: a removal of a reaction that is not there (one
    // named by the id the session gives reactions) is `no_reaction`.
    let gone = handle
        .send(
            Signal::new(Message::retraction(
                format!("reaction/{dm}/{ts}/{me}/eyes").into(),
            ))
            .to(to_alice.clone()),
        )
        .await
        .unwrap();
    let f = bot.next_send_failure().await;
    assert!(
        f.failed == gone
            && f.code.as_deref() == Some("no_reaction")
            && f.kind == FailureKind::Rejected,
        "{f:?}"
    );
    bot.stop().await;
}
