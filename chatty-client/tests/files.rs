//! Files in the model, without a terminal: numbered in their conversation, sent from the disk
//! (`/send`) and saved to it (`/save`), downloaded through the session first when they come by
//! URL.

mod common;

use chatty_client::{Action, Flow};
use chatty_core::{Body, Content, FailureKind, File, Message, SendFailure, Signal};
use common::*;

#[test]
fn a_file_is_numbered_in_its_conversation() {
    let mut state = connected();
    state.apply(&from(
        "direct:bot",
        File::url("big.bin", None, "direct-file:1"),
    ));
    assert_eq!(
        last(&state),
        "08:05:09 bot: [file 1] big.bin (unknown type) at direct-file:1"
    );
}

#[test]
fn a_conversation_lists_its_files_by_number() {
    let mut state = connected();
    state.apply(&from(
        "direct:bot",
        File::bytes("a.txt", Some("text/plain"), &b"a"[..]),
    ));
    state.apply(&from(
        "direct:bot",
        Message::text("two").with_attachment(File::url("b.txt", None, "direct-file:b")),
    ));
    let files = state.current().unwrap().files();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0].name, "a.txt");
    assert!(matches!(&files[1].content, Content::Url { url, .. } if url == "direct-file:b"));
}

#[test]
fn save_writes_bytes_or_downloads_a_url_first() {
    let mut state = connected();
    state.apply(&from("direct:bot", File::bytes("a.txt", None, &b"abc"[..])));
    state.apply(&from(
        "direct:bot",
        File::url("b.txt", None, "direct-file:9"),
    ));
    let save = enter(&mut state, "/save 1 /tmp/a.txt");
    assert_eq!(
        save,
        [Action::SaveFile {
            path: "/tmp/a.txt".into(),
            data: b"abc"[..].into()
        }]
    );

    let download = enter(&mut state, "/save 2 /tmp/b.txt");
    let [request] = sent(&download)[..] else {
        panic!("{download:?}")
    };
    assert!(matches!(&request.body, Body::DownloadFile(d) if d.file.name == "b.txt"));
    // The session answers with the bytes: the state asks for them to be saved.
    let mut answer = from("direct:you", File::bytes("b.txt", None, &b"fetched"[..]));
    answer.meta.response_to = Some(request.meta.id.clone());
    assert_eq!(
        state.apply(&answer),
        [Action::SaveFile {
            path: "/tmp/b.txt".into(),
            data: b"fetched"[..].into()
        }]
    );

    // A failed download is an error line.
    let download = enter(&mut state, "/save 2 /tmp/c.txt");
    let id = sent(&download)[0].meta.id.clone();
    state.apply(&Signal::new(SendFailure::new(
        id,
        FailureKind::UnknownAddressee,
        "no file at direct-file:9",
    )));
    assert!(last(&state).contains("could not download to /tmp/c.txt"));
}

#[tokio::test]
async fn sending_a_missing_file_gives_an_error_line_not_a_panic() {
    let mut state = connected();
    let recorder = Recorder::default();
    let flows = enter_and_perform(&mut state, &recorder, "/send /nonexistent/for/sure.txt").await;
    for flow in flows {
        assert_eq!(flow, Flow::Continue);
    }
    assert!(
        last(&state).contains("! cannot read /nonexistent/for/sure.txt"),
        "{}",
        last(&state)
    );
    assert!(
        recorder
            .signals()
            .iter()
            .all(|s| !matches!(s.body, Body::File(_)))
    );
}

#[tokio::test]
async fn sending_and_saving_files_go_through_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("note.txt");
    std::fs::write(&path, "a note").unwrap();
    let mut state = connected();
    let recorder = Recorder::default();
    enter_and_perform(&mut state, &recorder, &format!("/send {}", path.display())).await;
    let signals = recorder.signals();
    let file = signals
        .iter()
        .find_map(|s| match &s.body {
            Body::File(f) => Some((s, f)),
            _ => None,
        })
        .expect("the file was sent");
    assert_eq!(file.0.meta.addressees, [addr("direct:bot")]);
    assert_eq!(file.1.name, "note.txt");
    assert_eq!(file.1.media_type.as_deref(), Some("text/plain"));
    assert!(matches!(&file.1.content, Content::Bytes { data } if &data[..] == b"a note"));
    assert!(last(&state).ends_with("you: [file 1] note.txt (text/plain, 6 bytes)"));

    let out = dir.path().join("copy.txt");
    enter_and_perform(&mut state, &recorder, &format!("/save 1 {}", out.display())).await;
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "a note");
    assert!(last(&state).starts_with("saved 6 bytes to "));

    let bad = dir.path().join("no/such/dir/x");
    enter_and_perform(&mut state, &recorder, &format!("/save 1 {}", bad.display())).await;
    assert!(
        last(&state).contains("! cannot save to"),
        "{}",
        last(&state)
    );
}
