//! Questions with options and their answers as data forms (XEP-0004), both ways.

use chatty_core::{
    Address, Body, Choice, Chosen, FailureKind, Message as ChattyMessage, Signal, SignalId,
};
use tokio_xmpp::Stanza;
use tokio_xmpp::jid::{FullJid, Jid};
use tokio_xmpp::parsers::data_forms::{DataForm, DataFormType, FieldType};
use tokio_xmpp::parsers::disco::{DiscoInfoResult, Identity};
use tokio_xmpp::parsers::message::Message;
use tokio_xmpp::parsers::ns;

use crate::config::XmppConfig;
use crate::mapper::Mapper;
use crate::mapper::test_support::{mapper, mapper_in_room, message};
use crate::ns::{FORM_TYPE_CHOICE, NS_RECEIPTS};
use crate::state::Shared;

fn priority() -> Choice {
    Choice::new("priority")
        .option("low", "Low")
        .option("high", "High: on fire")
}

fn alice() -> Address {
    "xmpp:alice@example.org".parse().unwrap()
}

/// The bot asking Alice how urgent it is.
fn question() -> Signal {
    Signal::new(ChattyMessage::text("How urgent is it?").with_choice(priority())).to(alice())
}

const NUMBERED: &str = "How urgent is it?\n1. Low\n2. High: on fire\n(Answer with a number.)";

fn one_message(mapper: &Mapper, signal: &Signal) -> Message {
    let [Stanza::Message(m)] = <[Stanza; 1]>::try_from(mapper.outbound(signal).unwrap()).unwrap()
    else {
        panic!("one message");
    };
    m
}

fn form_of(m: &Message) -> Option<DataForm> {
    m.payloads
        .iter()
        .find(|p| p.is("x", ns::DATA_FORMS))
        .map(|p| DataForm::try_from(p.clone()).unwrap())
}

/// The form, without the `<instructions>` (xmpp-parsers takes only one).
fn form_of_lenient(m: &Message) -> DataForm {
    let mut element = m
        .payloads
        .iter()
        .find(|p| p.is("x", ns::DATA_FORMS))
        .unwrap()
        .clone();
    while element
        .remove_child("instructions", ns::DATA_FORMS)
        .is_some()
    {}
    DataForm::try_from(element).unwrap()
}

fn body(m: &Message) -> Option<&str> {
    m.get_best_body(vec![]).map(|(_, b)| b.as_str())
}

/// Alice's client submitting `value` for `choice` in a message with the id `id` and the extra
/// children `extra` (a `<thread>`, a reply reference, a body).
fn submission(id: &str, choice: &str, value: &str, extra: &str) -> Message {
    message(&format!(
        "<message xmlns='jabber:client' from='alice@example.org/phone' to='bot@example.org' \
         type='chat' id='{id}'>{extra}<x xmlns='jabber:x:data' type='submit'>\
         <field var='FORM_TYPE' type='hidden'><value>{FORM_TYPE_CHOICE}</value></field>\
         <field var='{choice}'><value>{value}</value></field></x></message>"
    ))
}

/// The message a signal carries.
fn chatty_message(signal: Option<Signal>) -> (Signal, ChattyMessage) {
    let signal = signal.expect("a signal");
    match signal.body.clone() {
        Body::Message(m) => (signal, m),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_question_goes_out_as_a_form_with_numbered_lines_and_its_id_as_thread() {
    let mapper = mapper();
    let asked = question();
    let m = one_message(&mapper, &asked);
    assert_eq!(body(&m), Some(NUMBERED), "for clients without forms");
    assert_eq!(
        m.thread.as_ref().map(|t| t.id.as_str()),
        Some(asked.meta.id.as_str())
    );
    assert_eq!(
        m.id.as_ref().map(|i| i.0.as_str()),
        Some(asked.id().as_str())
    );
    assert!(m.payloads.iter().any(|p| p.is("request", NS_RECEIPTS)));
    let element = m
        .payloads
        .iter()
        .find(|p| p.is("x", ns::DATA_FORMS))
        .unwrap();
    assert_eq!(element.attr("type"), Some("form"));
    let form = form_of(&m).unwrap();
    assert_eq!(form.type_, DataFormType::Form);
    assert_eq!(form.form_type(), Some(FORM_TYPE_CHOICE));
    assert_eq!(form.instructions.as_deref(), Some("How urgent is it?"));
    assert_eq!(form.title, None);
    assert_eq!(
        element.children().next().map(|c| c.name()),
        Some("instructions"),
        "first, as in XEP-0004's examples and schema"
    );
    let [form_type, field] = form.fields.as_slice() else {
        panic!("{:?}", form.fields);
    };
    assert_eq!(form_type.type_, FieldType::Hidden);
    assert_eq!(field.var.as_deref(), Some("priority"));
    assert_eq!(field.type_, FieldType::ListSingle);
    let options: Vec<_> = field
        .options
        .iter()
        .map(|o| (o.value.as_str(), o.label.as_deref()))
        .collect();
    assert_eq!(
        options,
        [("low", Some("Low")), ("high", Some("High: on fire"))]
    );

    // A subject is the form's title too (on one line), and each line of the text is an
    // `<instructions>` of its own (XEP-0004: no newlines in one).
    let titled = Signal::new(
        ChattyMessage::text("Ticket 7 is open.\nHow urgent is it?")
            .with_subject("Ticket\n7")
            .with_choice(priority()),
    )
    .to(alice());
    let m = one_message(&mapper, &titled);
    assert_eq!(form_of_lenient(&m).title.as_deref(), Some("Ticket 7"));
    let element = m
        .payloads
        .iter()
        .find(|p| p.is("x", ns::DATA_FORMS))
        .unwrap();
    let lines: Vec<String> = element
        .children()
        .filter(|c| c.is("instructions", ns::DATA_FORMS))
        .map(|c| c.text())
        .collect();
    assert_eq!(lines, ["Ticket 7 is open.", "How urgent is it?"]);
    assert_eq!(
        m.get_best_subject(vec![]).map(|(_, s)| s.as_str()),
        Some("Ticket\n7")
    );
}

#[test]
fn a_submitted_form_answers_the_question_its_thread_or_reply_names() {
    let mapper = mapper();
    let asked = question();
    one_message(&mapper, &asked);
    let thread = format!("<thread>{}</thread>", asked.meta.id);

    let (signal, m) =
        chatty_message(mapper.inbound_message(submission("a-1", "priority", "high", &thread)));
    assert_eq!(m.chosen, Some(Chosen::new("priority", "high")));
    assert_eq!(m.text, "High: on fire", "the option's label");
    assert_eq!(m.choice, None);
    assert_eq!(signal.meta.response_to, Some(asked.meta.id.clone()));
    assert_eq!(
        signal.meta.origin,
        Some("xmpp:alice@example.org;kind=individual".parse().unwrap())
    );
    assert_eq!(signal.meta.id.as_str(), "a-1");

    // A reply reference (XEP-0461) names the question as well.
    let reply = format!(
        "<reply xmlns='urn:xmpp:reply:0' to='bot@example.org' id='{}'/>",
        asked.meta.id
    );
    let (signal, m) =
        chatty_message(mapper.inbound_message(submission("a-2", "priority", "low", &reply)));
    assert_eq!(signal.meta.response_to, Some(asked.meta.id.clone()));
    assert_eq!(m.text, "Low");

    // Neither: the question is found by the choice's id, and the answer names no message.
    let (signal, m) =
        chatty_message(mapper.inbound_message(submission("a-3", "priority", "low", "")));
    assert_eq!(signal.meta.response_to, None);
    assert_eq!(m.text, "Low");
    assert_eq!(m.chosen, Some(Chosen::new("priority", "low")));

    // A question the session does not know (asked before a restart): the value as text.
    let (signal, m) = chatty_message(mapper.inbound_message(submission(
        "a-4",
        "color",
        "red",
        "<thread>q-9</thread>",
    )));
    assert_eq!(m.text, "red");
    assert_eq!(m.chosen, Some(Chosen::new("color", "red")));
    assert_eq!(signal.meta.response_to, Some(SignalId::from("q-9")));

    // A value the known question does not offer: an error of that stanza.
    let error = mapper.inbound_message(submission("a-5", "priority", "urgent", &thread));
    match error.map(|s| s.body) {
        Some(Body::SystemError(e)) => assert!(e.message.contains("options"), "{e:?}"),
        other => panic!("{other:?}"),
    }

    // Fields a submission adds are ignored (XEP-0004): the question's field answers, named by
    // the thread, or without one as the field of a question the session knows.
    for (id, extra) in [("a-6", thread.as_str()), ("a-7", "")] {
        let xml = format!(
            "<message xmlns='jabber:client' from='alice@example.org/phone' type='chat' \
             id='{id}'>{extra}<x xmlns='jabber:x:data' type='submit'>\
             <field var='FORM_TYPE'><value>{FORM_TYPE_CHOICE}</value></field>\
             <field var='comment'><value>asap</value><value>please</value></field>\
             <field var='priority'><value>high</value></field></x></message>"
        );
        let (_, m) = chatty_message(mapper.inbound_message(message(&xml)));
        assert_eq!(m.chosen, Some(Chosen::new("priority", "high")), "{id}");
        assert_eq!(m.text, "High: on fire", "{id}");
    }
}

#[test]
fn a_question_and_its_answer_round_trip_between_chatty_sessions() {
    let mapper = mapper();
    let asked = question();
    let mut m = one_message(&mapper, &asked);
    m.from = Some(Jid::new("bot@example.org/r").unwrap());
    let back = mapper.inbound_message(m).unwrap();
    assert_eq!(back.meta.id, asked.meta.id);
    assert_eq!(
        back.body, asked.body,
        "the question's text, not the numbered lines"
    );
    let long = Signal::new(
        ChattyMessage::text("Ticket 7 is open.\n\nHow urgent is it?")
            .with_subject("Ticket 7")
            .with_choice(priority()),
    )
    .to(alice());
    let mut m = one_message(&mapper, &long);
    m.from = Some(Jid::new("bot@example.org/r").unwrap());
    assert_eq!(mapper.inbound_message(m).unwrap().body, long.body);

    // The bot answering such a question: a submitted form in the question's thread.
    let mut answer = ChattyMessage::text("High: on fire");
    answer.chosen = Some(Chosen::new("priority", "high"));
    let answer = Signal::new(answer)
        .to(alice())
        .in_response_to(asked.meta.id.clone());
    let mut m = one_message(&mapper, &answer);
    assert_eq!(
        m.thread.as_ref().map(|t| t.id.as_str()),
        Some(asked.meta.id.as_str())
    );
    let form = form_of(&m).unwrap();
    assert_eq!(form.type_, DataFormType::Submit);
    assert_eq!(form.form_type(), Some(FORM_TYPE_CHOICE));
    assert_eq!(body(&m), Some("High: on fire"));
    m.from = Some(Jid::new("bot@example.org/r").unwrap());
    let back = mapper.inbound_message(m).unwrap();
    assert_eq!(back.meta.response_to, Some(asked.meta.id.clone()));
    assert_eq!(back.body, answer.body);
}

#[test]
fn in_a_room_a_question_is_its_numbered_lines_only() {
    let mapper = mapper_in_room();
    let room: Address = "xmpp:r@rooms.example.org;kind=channel".parse().unwrap();
    let asked = Signal::new(ChattyMessage::text("How urgent is it?").with_choice(priority()))
        .to(room.clone());
    let m = one_message(&mapper, &asked);
    assert_eq!(body(&m), Some(NUMBERED));
    assert!(form_of(&m).is_none());
    assert!(m.thread.is_none());

    // A choice without options is its text alone, anywhere.
    let empty = Signal::new(ChattyMessage::text("Nothing to pick").with_choice(Choice::new("n")))
        .to(alice());
    let m = one_message(&mapper, &empty);
    assert_eq!(body(&m), Some("Nothing to pick"));
    assert!(form_of(&m).is_none());
}

#[test]
fn a_choice_named_form_type_is_refused() {
    let asked = Signal::new(
        ChattyMessage::text("?").with_choice(Choice::new("FORM_TYPE").option("a", "A")),
    )
    .to(alice());
    let refusal = mapper().outbound(&asked).unwrap_err();
    assert_eq!(refusal.kind, FailureKind::Rejected);
}

#[test]
fn forms_that_are_not_chattys_are_ignored_and_their_body_arrives() {
    let mapper = mapper();
    let with = |id: &str, form: &str, body: &str| {
        message(&format!(
            "<message xmlns='jabber:client' from='alice@example.org/phone' type='chat' \
             id='{id}'>{body}{form}</message>"
        ))
    };
    let forms = [
        "<x xmlns='jabber:x:data' type='cancel'/>".to_owned(),
        "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>\
         <value>urn:example:other</value></field><field var='a'><value>b</value></field></x>"
            .to_owned(),
        "<x xmlns='jabber:x:data' type='submit'><field var='a'><value>b</value></field></x>"
            .to_owned(),
        format!(
            "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'>\
             <value>{FORM_TYPE_CHOICE}</value></field><field var='p'><value>x</value></field></x>"
        ),
        format!(
            "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'>\
             <value>{FORM_TYPE_CHOICE}</value></field><field var='p'/><field var='q'/></x>"
        ),
        // Malformed, but not Chatty's: not the bot's business either.
        "<x xmlns='jabber:x:data' type='bogus'><field/></x>".to_owned(),
    ];
    for (i, form) in forms.iter().enumerate() {
        let (_, m) = chatty_message(mapper.inbound_message(with(
            &format!("b-{i}"),
            form,
            "<body>never mind</body>",
        )));
        assert_eq!(m.text, "never mind", "{form}");
        assert_eq!((m.chosen, m.choice), (None, None), "{form}");
        assert!(
            mapper
                .inbound_message(with(&format!("n-{i}"), form, ""))
                .is_none(),
            "without a body, nothing: {form}"
        );
    }
}

#[test]
fn malformed_forms_of_chattys_are_errors_of_their_stanza_only() {
    let mapper = mapper();
    let form_type =
        format!("<field var='FORM_TYPE' type='hidden'><value>{FORM_TYPE_CHOICE}</value></field>");
    let malformed = [
        // No value, two values, two fields, no field.
        format!("<x xmlns='jabber:x:data' type='submit'>{form_type}<field var='p'/></x>"),
        format!(
            "<x xmlns='jabber:x:data' type='submit'>{form_type}\
             <field var='p'><value>a</value><value>b</value></field></x>"
        ),
        format!(
            "<x xmlns='jabber:x:data' type='submit'>{form_type}\
             <field var='p'><value>a</value></field><field var='q'><value>b</value></field></x>"
        ),
        format!("<x xmlns='jabber:x:data' type='submit'>{form_type}</x>"),
        // A field without a name, an unknown form type, a second FORM_TYPE.
        format!(
            "<x xmlns='jabber:x:data' type='submit'>{form_type}<field><value>a</value></field></x>"
        ),
        format!("<x xmlns='jabber:x:data' type='bogus'>{form_type}<field var='p'/></x>"),
        format!("<x xmlns='jabber:x:data' type='submit'>{form_type}{form_type}</x>"),
        // A question without options, or not list-single.
        format!(
            "<x xmlns='jabber:x:data' type='form'>{form_type}<field var='p' type='list-single'/></x>"
        ),
        format!(
            "<x xmlns='jabber:x:data' type='form'>{form_type}<field var='p' type='text-single'/></x>"
        ),
        // An option outside a list.
        format!(
            "<x xmlns='jabber:x:data' type='form'>{form_type}<field var='p' type='boolean'>\
             <option><value>1</value></option></field></x>"
        ),
    ];
    for (i, form) in malformed.iter().enumerate() {
        let xml = format!(
            "<message xmlns='jabber:client' from='alice@example.org/phone' type='chat' \
             id='m-{i}'><body>1</body>{form}</message>"
        );
        match mapper.inbound_message(message(&xml)).map(|s| s.body) {
            Some(Body::SystemError(e)) => {
                assert_eq!(e.component, "xmpp");
                assert!(e.message.contains("data form"), "{e:?}");
                assert!(e.message.len() < 500, "{}", e.message);
            }
            other => panic!("{form}: {other:?}"),
        }
        // The next message from the same sender (the same id, sent again fixed) arrives.
        let (_, m) =
            chatty_message(mapper.inbound_message(submission(&format!("m-{i}"), "p", "a", "")));
        assert_eq!(m.chosen, Some(Chosen::new("p", "a")), "{form}");
    }
}

#[tokio::test]
async fn the_form_is_left_out_for_clients_known_not_to_show_forms() {
    let shared = Shared::new(XmppConfig::new("bot@example.org", "pw")).unwrap();
    let info = |features: &[&str]| DiscoInfoResult {
        node: None,
        identities: vec![Identity::new("client", "pc", "en", "Some client")],
        features: features.iter().map(|f| (*f).to_owned()).collect(),
        extensions: Vec::new(),
    };
    let stanzas_to = |to: &str| {
        let signal = Signal::new(ChattyMessage::text("How urgent is it?").with_choice(priority()))
            .to(to.parse().unwrap());
        let mut stanzas = shared.mapper.outbound(&signal).unwrap();
        shared.drop_what_clients_ignore(&mut stanzas);
        let [Stanza::Message(m)] = <[Stanza; 1]>::try_from(stanzas).unwrap() else {
            panic!("one message");
        };
        m
    };
    for (who, features, form) in [
        ("alice", vec![ns::CHATSTATES], false),
        ("bob", vec![ns::DATA_FORMS], true),
    ] {
        let phone = FullJid::new(&format!("{who}@example.org/phone")).unwrap();
        assert!(shared.peers().available(phone.clone(), None).is_none());
        shared.peers().learned(&phone, None, Some(&info(&features)));
        let m = stanzas_to(&format!("xmpp:{who}@example.org"));
        assert_eq!(form_of(&m).is_some(), form, "{who}");
        assert_eq!(body(&m), Some(NUMBERED), "{who}");
    }
    // Clients not known yet: the form goes, with the numbered lines for those without forms.
    let m = stanzas_to("xmpp:carol@example.org");
    assert!(form_of(&m).is_some());
    assert_eq!(body(&m), Some(NUMBERED));
}
