//! Questions with options (chatty-core's `Choice`) against the test Prosody: a person whose
//! client announces data forms (XEP-0004) gets the question as a form with the numbered lines as
//! its body, and submitting it gives the bot a message with `chosen` answering the question; a
//! client without forms gets the numbered lines only; malformed submissions are harmless; two
//! Chatty bots carry the question and its answer as they are.

mod common;

use chatty_core::{Body, Choice, Chosen, Features, Message, Signal};
use chatty_test::xmpp::PlainClient;
use chatty_xmpp::FORM_TYPE_CHOICE;
use common::bot;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::caps::{self, Caps};
use tokio_xmpp::parsers::data_forms::{DataForm, DataFormType, Field, FieldType};
use tokio_xmpp::parsers::disco::{DiscoInfoResult, Identity};
use tokio_xmpp::parsers::hashes::Algo;
use tokio_xmpp::parsers::message::{Lang, Message as XmppMessage, Thread};
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::presence::Presence;

const NUMBERED: &str = "How urgent is it?\n1. Low\n2. High: on fire\n(Answer with a number.)";

fn question() -> Message {
    Message::text("How urgent is it?").with_choice(
        Choice::new("priority")
            .option("low", "Low")
            .option("high", "High: on fire"),
    )
}

/// A person's plain client announcing `features` (with entity capabilities) to the bot, and the
/// bot having learnt them: returns the client and the person's address.
async fn person_with(
    chatty: &common::Bot,
    features: &[&str],
) -> (PlainClient, chatty_core::Address) {
    let person = common::account();
    let mut client = PlainClient::connect(&person.jid, &person.password).await;
    let info = DiscoInfoResult {
        node: None,
        identities: vec![Identity::new("client", "pc", "en", "Plain")],
        features: features.iter().map(|f| (*f).to_owned()).collect(),
        extensions: Vec::new(),
    };
    let hash = caps::hash_caps(&caps::compute_disco(&info), Algo::Sha_1).unwrap();
    let caps = Caps::new("https://example.org/plain", hash);
    let bot_jid = Jid::new(chatty.address.id()).unwrap();
    client
        .send(
            Presence::available()
                .with_to(bot_jid)
                .with_payloads(vec![caps.into()]),
        )
        .await;
    client.answer_disco(info).await;
    let address: chatty_core::Address = format!("xmpp:{};kind=individual", client.jid().to_bare())
        .parse()
        .unwrap();
    // Time for the bot to take the answer in (a query meanwhile would ask the client again,
    // which is not listening now).
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    (client, address)
}

fn form_of(m: &XmppMessage) -> Option<DataForm> {
    m.payloads
        .iter()
        .find(|p| p.is("x", ns::DATA_FORMS))
        .map(|p| DataForm::try_from(p.clone()).expect("a well-formed form"))
}

/// A chat message from the plain client to the bot, in the thread `thread`, with `payload`.
fn to_bot(chatty: &common::Bot, thread: &str, payload: Element) -> XmppMessage {
    let mut m = XmppMessage::chat(Some(Jid::new(chatty.address.id()).unwrap()));
    m.thread = Some(Thread {
        parent: None,
        id: thread.to_owned(),
    });
    m.payloads.push(payload);
    m
}

#[tokio::test]
async fn a_client_with_forms_gets_the_form_and_its_submission_answers_the_question() {
    let mut chatty = bot(common::config(&common::account())).await;
    let (mut client, person) = person_with(&chatty, &[ns::DISCO_INFO, ns::DATA_FORMS]).await;
    let handle = chatty.remote.handle().await;
    let (features, _) = handle.supported_features(&person).await.unwrap();
    assert!(features.contains(Features::CHOICES), "{features:?}");

    let asked = chatty
        .send(Signal::new(question()).to(person.clone()))
        .await;
    let got = client.next_body().await;
    assert_eq!(
        got.get_best_body(vec![]).map(|(_, b)| b.as_str()),
        Some(NUMBERED)
    );
    let thread = got.thread.clone().expect("a thread to answer in").id;
    assert_eq!(thread, asked.as_str());
    let form = form_of(&got).expect("the form");
    assert_eq!(form.type_, DataFormType::Form);
    assert_eq!(form.form_type(), Some(FORM_TYPE_CHOICE));
    assert_eq!(form.instructions.as_deref(), Some("How urgent is it?"));
    let field = form
        .fields
        .iter()
        .find(|f| f.var.as_deref() == Some("priority"))
        .expect("the choice's field");
    assert_eq!(field.type_, FieldType::ListSingle);
    let labels: Vec<_> = field.options.iter().map(|o| o.label.as_deref()).collect();
    assert_eq!(labels, [Some("Low"), Some("High: on fire")]);

    // The person picks "High: on fire" and submits.
    let answer = DataForm::new(
        DataFormType::Submit,
        FORM_TYPE_CHOICE,
        vec![Field::new("priority", FieldType::ListSingle).with_value("high")],
    );
    client.send(to_bot(&chatty, &thread, answer.into())).await;
    let signal = chatty.next_io().await;
    let Body::Message(m) = &signal.body else {
        panic!("{signal:?}");
    };
    assert_eq!(m.chosen, Some(Chosen::new("priority", "high")));
    assert_eq!(m.text, "High: on fire");
    assert_eq!(signal.meta.response_to, Some(asked.clone()));
    assert_eq!(signal.meta.origin.as_ref(), Some(&person));

    // Malformed submissions (two values; a field without a name) and a cancelled form without
    // a body are harmless: an error each for the malformed ones, and what follows arrives.
    let form_type = Field::new("FORM_TYPE", FieldType::Hidden).with_value(FORM_TYPE_CHOICE);
    let mut two = Field::new("priority", FieldType::ListSingle).with_value("low");
    two.values.push("high".into());
    let two_values = DataForm {
        type_: DataFormType::Submit,
        title: None,
        instructions: None,
        fields: vec![form_type, two],
    };
    client
        .send(to_bot(&chatty, &thread, two_values.into()))
        .await;
    let nameless: Element = format!(
        "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>{FORM_TYPE_CHOICE}\
         </value></field><field><value>low</value></field></x>"
    )
    .parse()
    .unwrap();
    client.send(to_bot(&chatty, &thread, nameless)).await;
    let cancel: Element = "<x xmlns='jabber:x:data' type='cancel'/>".parse().unwrap();
    client.send(to_bot(&chatty, &thread, cancel)).await;
    let text = XmppMessage::chat(Some(Jid::new(chatty.address.id()).unwrap()))
        .with_body(Lang::new(), "2".into());
    client.send(text).await;
    for _ in 0..2 {
        match chatty.next_io().await.body {
            Body::SystemError(e) => assert!(e.message.contains("data form"), "{e:?}"),
            other => panic!("expected a system error, got {other:?}"),
        }
    }
    match chatty.next_io().await.body {
        Body::Message(m) => {
            assert_eq!(m.text, "2");
            assert_eq!(m.chosen, None, "a text answer is the dispatcher's to match");
        }
        other => panic!("expected the text answer, got {other:?}"),
    }
    client.close().await;
    chatty.finish().await;
}

#[tokio::test]
async fn a_client_without_forms_gets_the_numbered_lines_only() {
    let mut chatty = bot(common::config(&common::account())).await;
    let (mut client, person) = person_with(&chatty, &[ns::DISCO_INFO, ns::CHATSTATES]).await;
    let handle = chatty.remote.handle().await;
    let (features, degraded) = handle.supported_features(&person).await.unwrap();
    assert!(!features.contains(Features::CHOICES));
    assert!(degraded.contains(Features::CHOICES), "{degraded:?}");

    chatty
        .send(Signal::new(question()).to(person.clone()))
        .await;
    let got = client.next_body().await;
    assert_eq!(
        got.get_best_body(vec![]).map(|(_, b)| b.as_str()),
        Some(NUMBERED)
    );
    assert!(
        form_of(&got).is_none(),
        "no form for a client without forms"
    );

    // The person answers by text, as the numbered lines say.
    let reply = XmppMessage::chat(Some(Jid::new(chatty.address.id()).unwrap()))
        .with_body(Lang::new(), "2".into());
    client.send(reply).await;
    let signal = chatty.next_io().await;
    let Body::Message(m) = &signal.body else {
        panic!("{signal:?}");
    };
    assert_eq!(m.text, "2");
    let choice = question().choice.unwrap();
    assert_eq!(
        choice.answer_in(&m.text),
        Some(Chosen::new("priority", "high"))
    );
    client.close().await;
    chatty.finish().await;
}

#[tokio::test]
async fn two_chatty_bots_ask_and_answer_with_forms() {
    let mut alice = bot(common::config(&common::account())).await;
    let mut bob = bot(common::config(&common::account())).await;
    let asked = alice
        .send(Signal::new(question()).to(bob.address.clone()))
        .await;
    let got = bob.next_io().await;
    assert_eq!(got.meta.id, asked);
    assert_eq!(
        got.body,
        Body::Message(question()),
        "the question with its choice, not the numbered lines"
    );

    // Bob's bot answers it as a click would: a message with `chosen`, its label as text.
    let mut answer = Message::text("High: on fire");
    answer.chosen = Some(Chosen::new("priority", "high"));
    bob.send(got.reply(answer.clone())).await;
    let back = alice.next_io().await;
    assert_eq!(back.meta.response_to, Some(asked));
    assert_eq!(back.body, Body::Message(answer));
    alice.finish().await;
    bob.finish().await;
}
