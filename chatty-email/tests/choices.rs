//! Questions with options (chatty-core's `Choice`) against the test mail servers: mail has no
//! buttons, so the sent mail carries the options as numbered lines in its text (and an ordered
//! list in its HTML), and the person's answer by text comes back as a reply to the question.

mod common;

use chatty_core::{Body, Choice, Chosen, Message, Signal};
use mail_parser::MessageParser;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_is_sent_as_numbered_lines_and_answered_by_text() {
    let (a, b) = (common::account().await, common::account().await);
    let mut bot = common::bot(common::config(&a, common::imap_inbound())).await;
    let choice = Choice::new("priority")
        .option("low", "Low")
        .option("high", "High: on fire");
    let question = Message::text("How urgent is it?")
        .with_subject("Ticket 7")
        .with_html("<p>How <b>urgent</b> is it?</p>")
        .with_choice(choice.clone());
    let person: chatty_core::Address = format!("mailto:{}", b.address).parse().unwrap();
    let asked = bot.send(Signal::new(question).to(person)).await;

    // The mail as the person's mailbox has it.
    let raw = common::wait_for_mails(&b, 1).await.remove(0);
    let mail = MessageParser::default()
        .parse(raw.as_bytes())
        .expect("a mail");
    let text = mail.body_text(0).expect("a text part");
    assert_eq!(
        text.replace("\r\n", "\n").trim_end(),
        "How urgent is it?\n1. Low\n2. High: on fire\n(Answer with a number.)",
        "{raw}"
    );
    let html = mail.body_html(0).expect("an HTML part");
    assert!(
        html.contains(
            "<p>How <b>urgent</b> is it?</p><ol><li>Low</li><li>High: on fire</li></ol>\
             <p>(Answer with a number.)</p>"
        ),
        "{html}"
    );
    let question_id = mail.message_id().expect("a Message-ID").to_owned();

    // The person answers "2" from their mail client, replying to the question.
    let answer = format!(
        "From: {from}\r\nTo: {to}\r\nSubject: Re: Ticket 7\r\n\
         Message-ID: <answer-{pid}@example.org>\r\nIn-Reply-To: <{question_id}>\r\n\
         References: <{question_id}>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n2\r\n",
        from = b.address,
        to = a.address,
        pid = std::process::id(),
    );
    common::smtp_send(Some(&b.address), &[&a.address], answer.as_bytes()).await;
    let got = bot.next_io().await;
    assert_eq!(got.meta.response_to.as_ref(), Some(&asked));
    let Body::Message(m) = &got.body else {
        panic!("{:?}", got.body)
    };
    assert_eq!(
        m.chosen, None,
        "a text answer: the bot-side dispatcher matches it"
    );
    assert_eq!(
        choice.answer_in(&m.text),
        Some(Chosen::new("priority", "high"))
    );
    bot.finish().await;
}
