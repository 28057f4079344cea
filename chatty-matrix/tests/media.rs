//! Files both ways against the test Synapse, with a person in the test speaking plain
//! client-server HTTP: the bot's file and its message with an attachment are uploaded and sent
//! as `m.file` events the person can fetch; the person's image comes to the bot as a file with
//! an `mxc://` URL, which the bot downloads with its own token.

mod common;

use bytes::Bytes;
use chatty_core::{Body, Content, File, Message};
use chatty_test::servers::matrix_account;
use common::bot::{config, end, joined, run, sent, started};
use common::{Person, next_where};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_both_ways_uploaded_and_downloaded() {
    let bot_account = matrix_account();
    let alice = Person::login(&matrix_account()).await;
    let (running, mut rx) = run(config(&bot_account), None);
    let (handle, own) = started(&mut rx).await;
    let room = alice.create_room(&bot_account.user_id, false).await;
    joined(&mut rx, &own, &room).await;
    alice.wait_joined(&room, &bot_account.user_id).await;
    let asked = alice.say(&room, "the report, please").await;
    let (question, _) = next_where(&mut rx, |s| s.meta.id.as_str() == asked).await;

    // A message with an attachment: one m.file event, the text as its caption, a reply.
    let report = File::bytes(
        "report.txt",
        Some("text/plain"),
        Bytes::from_static(b"all good"),
    );
    let answer = handle
        .send(question.reply_all(Message::text("here it is").with_attachment(report)))
        .await
        .unwrap();
    sent(&handle, &answer).await;
    let event = alice
        .until_message(&room, &bot_account.user_id, |e| {
            e["content"]["msgtype"] == "m.file"
        })
        .await;
    let content = &event["content"];
    assert_eq!(content["body"], "here it is");
    assert_eq!(content["filename"], "report.txt");
    assert_eq!(content["info"]["mimetype"], "text/plain");
    assert_eq!(content["info"]["size"], 8);
    assert_eq!(
        content["m.relates_to"]["m.in_reply_to"]["event_id"],
        asked.as_str()
    );
    let url = content["url"].as_str().expect("an mxc URL");
    assert_eq!(alice.fetch(url).await, Bytes::from_static(b"all good"));

    // A file signal: an m.file named by its body.
    let log = File::bytes("build.log", None, Bytes::from_static(b"ok\n"));
    let mut file = chatty_core::Signal::new(log);
    file.meta.visible_to = question.meta.visible_to.clone();
    file.meta.addressees = question.meta.visible_to.clone();
    let id = handle.send(file).await.unwrap();
    sent(&handle, &id).await;
    let event = alice
        .until_message(&room, &bot_account.user_id, |e| {
            e["content"]["body"] == "build.log"
        })
        .await;
    assert!(event["content"].get("filename").is_none());
    let url = event["content"]["url"].as_str().unwrap();
    assert_eq!(alice.fetch(url).await, Bytes::from_static(b"ok\n"));

    // The person's image: a file with its mxc:// URL, downloaded with the bot's token.
    let mxc = alice.upload("cat.png", "image/png", b"\x89PNG cat").await;
    let image = alice
        .send(
            &room,
            json!({"msgtype": "m.image", "body": "cat.png", "url": mxc,
                   "info": {"mimetype": "image/png", "size": 8}}),
        )
        .await;
    let (got, _) = next_where(&mut rx, |s| s.meta.id.as_str() == image).await;
    let Body::File(file) = got.body else {
        panic!("{got:?}")
    };
    assert_eq!(file.name, "cat.png");
    assert!(matches!(&file.content, Content::Url { url, size: Some(8) } if *url == mxc));
    let fetched = handle.download(&file).await.expect("downloaded");
    let Content::Bytes { data } = &fetched.content else {
        panic!("{fetched:?}")
    };
    assert_eq!(data, &Bytes::from_static(b"\x89PNG cat"));
    assert_eq!(fetched.media_type.as_deref(), Some("image/png"));
    end(&handle, running).await;
}
