//! Files against the test Prosody: bytes uploaded through HTTP File Upload (XEP-0363) and sent
//! as Out of Band Data (XEP-0066), inbound file URLs as File signals, and DownloadFile fetching
//! them; the wire format checked with a plain tokio-xmpp client.

mod common;

use chatty_core::reexports::bytes::Bytes;
use chatty_core::{Body, Content, DownloadFile, File, Message, Signal, SignalKind};
use chatty_test::xmpp::PlainClient;
use common::bot;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::message::{Lang, Message as XmppMessage};

const NS_OOB: &str = "jabber:x:oob";

fn url_of(file: &File) -> String {
    match &file.content {
        Content::Url { url, .. } => url.clone(),
        _ => panic!("expected a URL: {file:?}"),
    }
}

#[tokio::test]
async fn bytes_go_up_and_come_back_down() {
    let mut alice = bot(common::config(&common::account())).await;
    let mut bob = bot(common::config(&common::account())).await;
    let data = Bytes::from(
        (0..200_000u32)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>(),
    );
    let sent = alice
        .send(
            Signal::new(File::bytes(
                "numbers.bin",
                Some("application/octet-stream"),
                data.clone(),
            ))
            .to(bob.address.clone()),
        )
        .await;
    let received = bob.next_io().await;
    assert_eq!(received.id(), &sent);
    let Body::File(file) = &received.body else {
        panic!("expected a file, got {received:?}")
    };
    assert_eq!(file.name, "numbers.bin");
    let url = url_of(file);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let request = bob.send(Signal::new(DownloadFile::new(file.clone()))).await;
    let fetched = bob
        .remote
        .next_of(SignalKind::File)
        .await
        .expect("the download");
    assert_eq!(fetched.meta.response_to, Some(request));
    let Body::File(fetched) = fetched.body else {
        unreachable!()
    };
    assert_eq!(fetched.content, Content::Bytes { data });

    // An attachment is uploaded too, and arrives with the message.
    alice
        .send(
            Signal::new(Message::text("the report").with_attachment(File::bytes(
                "report.txt",
                Some("text/plain"),
                &b"all fine"[..],
            )))
            .to(bob.address.clone()),
        )
        .await;
    let received = bob.next_io().await;
    let Body::Message(m) = &received.body else {
        panic!("expected a message, got {received:?}")
    };
    assert!(m.text.starts_with("the report"), "{}", m.text);
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(m.attachments[0].name, "report.txt");

    // A URL that is not there: a send failure for the request.
    let base = &url[..url.find("/file_share/").expect("Prosody's file share path")];
    let missing = File::url(
        "gone.txt",
        None,
        format!("{base}/file_share/no-such-slot/gone.txt"),
    );
    // No session delivered this URL, so the request names the session to fetch it with.
    let request = bob
        .send(Signal::new(DownloadFile::new(missing)).to(bob.address.clone()))
        .await;
    let failure = bob.remote.next_of(SignalKind::SendFailure).await.unwrap();
    assert!(
        matches!(&failure.body, Body::SendFailure(f) if f.failed == request && f.message.contains("404")),
        "{failure:?}"
    );
    alice.finish().await;
    bob.finish().await;
}

#[tokio::test]
async fn the_wire_format_is_plain_out_of_band_data() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut chatty = bot(common::config(&common::account())).await;
    let person = common::account();
    let mut client = PlainClient::connect(&person.jid, &person.password).await;
    let person_address: chatty_core::Address = format!("xmpp:{}", person.jid).parse().unwrap();

    // The bot sends bytes: the plain client gets the URL in the body and in <x xmlns=oob>.
    let file = File::bytes("hello.txt", Some("text/plain"), &b"hello, file"[..]);
    chatty.send(Signal::new(file).to(person_address)).await;
    let got = client
        .next_message(|m| m.payloads.iter().any(|p| p.is("x", NS_OOB)))
        .await;
    let oob = got.payloads.iter().find(|p| p.is("x", NS_OOB)).unwrap();
    let url = oob.get_child("url", NS_OOB).unwrap().text();
    assert_eq!(
        oob.get_child("desc", NS_OOB).map(Element::text).as_deref(),
        Some("hello.txt")
    );
    assert_eq!(
        got.get_best_body(vec![]).map(|(_, b)| b.clone()),
        Some(url.clone())
    );

    // The plain client sends a URL the same way: the bot gets a File signal with the URL.
    let mut message = XmppMessage::chat(Some(Jid::new(chatty.address.id()).unwrap()));
    message.bodies.insert(Lang::new(), url.clone());
    message.payloads.push(
        Element::builder("x", NS_OOB)
            .append(Element::builder("url", NS_OOB).append(url.as_str()).build())
            .build(),
    );
    client.send(message).await;
    let received = chatty.next_io().await;
    let Body::File(file) = &received.body else {
        panic!("expected a file, got {received:?}")
    };
    assert_eq!(url_of(file), url);
    assert_eq!(file.name, "hello.txt", "named after the URL's last segment");
    chatty.finish().await;
}
