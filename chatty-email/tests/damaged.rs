//! A mail the server cannot give (its file unreadable on the server) among good ones: a system
//! error naming it, the mail around it arriving once, and the mail left on the server. Needs
//! the test mail servers (see the crate README).

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::time::Duration;

use chatty_core::Body;

/// The files of `user`'s INBOX on the test Dovecot (maildir), beside its control script.
fn maildir_files(user: &str) -> Vec<PathBuf> {
    let ctl = PathBuf::from(chatty_test::servers::var("CHATTY_TEST_MAIL_DOVECOT_CTL"));
    let maildir = ctl
        .parent()
        .expect("the mail directory")
        .join("home")
        .join(user)
        .join("Maildir");
    let mut files = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(entries) = std::fs::read_dir(maildir.join(sub)) {
            files.extend(entries.map(|e| e.expect("a maildir entry").path()));
        }
    }
    files
}

/// Makes the mail whose text holds `marker` unreadable to Dovecot (`chmod 000`, the mail
/// server's user not being the file's reader); its path.
fn damage(user: &str, marker: &str) -> PathBuf {
    let file = maildir_files(user)
        .into_iter()
        .find(|f| std::fs::read_to_string(f).is_ok_and(|text| text.contains(marker)))
        .expect("the mail's file");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    file
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_the_server_cannot_give_is_a_system_error_and_the_mail_around_it_arrives() {
    let b = common::account().await;
    let run = std::process::id();
    for (n, inbound) in [common::imap_inbound(), common::pop3_inbound()]
        .into_iter()
        .enumerate()
    {
        let mail = |i: u32| {
            format!(
                "From: a@example.org\r\nTo: {}\r\nMessage-ID: <mail-{n}-{i}-{run}@example.org>\r\n\
                 Subject: {i}\r\n\r\nmail {i}\r\n",
                b.address
            )
        };
        for i in 1..=3 {
            common::append(&b, mail(i).as_bytes()).await;
        }
        let damaged = damage(&b.user, &format!("<mail-{n}-2-{run}@"));
        let bob = common::bot(common::config(&b, inbound)).await;
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(bob.next_io().await);
        }
        // The error comes when the server refuses the mail, which may be before the mail
        // fetched with it is handed over; the mail comes in order.
        let mut mails = Vec::new();
        let mut errors = Vec::new();
        for signal in &got {
            match &signal.body {
                Body::Message(m) => mails.push(m.text.trim().to_owned()),
                Body::SystemError(e) => errors.push(e.message.clone()),
                _ => panic!("{signal:?}"),
            }
        }
        assert_eq!(mails, ["mail 1", "mail 3"], "{got:#?}");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains("the server did not give it"),
            "{}",
            errors[0]
        );
        // Nothing more: no mail again, no error again.
        let more = tokio::time::timeout(Duration::from_secs(4), bob.next_io()).await;
        assert!(more.is_err(), "{more:?}");
        bob.finish().await;
        // The mail is left where it was, whole.
        std::fs::set_permissions(&damaged, std::fs::Permissions::from_mode(0o644))
            .expect("chmod back");
        let left: Vec<PathBuf> = maildir_files(&b.user);
        let kept = left
            .iter()
            .find(|f| {
                std::fs::read_to_string(f).is_ok_and(|t| t.contains(&format!("<mail-{n}-2-{run}@")))
            })
            .expect("the mail still on the server");
        // Not marked handled (maildir's flags follow `:2,`; `S` is \Seen).
        let name = kept.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!name.rsplit(":2,").next().unwrap().contains('S'), "{name}");
        chatty_test::servers::empty_inbox(&b).await;
    }
}
