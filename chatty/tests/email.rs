//! The runner against the test mail servers: a proxy, declared in the config file, reaches a
//! remote echo bot over email, with `response_to` kept on the local side.

use std::time::Duration;

use chatty::Runner;
use chatty::direct::{Network, Person};
use chatty_test::servers::{MailAccount, mail_account, mail_server};

/// An email session table for `account` on the test servers.
fn email_session_toml(name: &str, account: &MailAccount, dir: &std::path::Path) -> String {
    let server = mail_server();
    format!(
        r#"
[sessions.{name}.email]
address = "{address}"
user = "{user}"
password = {{ inline = "{password}" }}
state_path = "{state}"
connect_timeout_ms = 5000
reconnect_min_ms = 200
reconnect_max_ms = 2000
smtp = {{ host = "{host}", port = {submission} }}
inbound = {{ protocol = "imap", host = "{host}", port = {imap}, poll_interval_ms = 1000 }}
"#,
        address = account.address,
        user = account.user,
        password = account.password,
        state = dir.join(format!("{name}.json")).display(),
        host = server.host,
        submission = server.submission_port,
        imap = server.imap_port,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_reaches_a_remote_echo_bot_over_email() {
    let dir = tempfile::tempdir().unwrap();
    let echo_account = mail_account().await;
    let proxy_account = mail_account().await;
    let path = dir.path().join("proxy.toml");
    std::fs::write(
        &path,
        format!(
            r#"{echo}
{proxy}
[sessions.proxy-near.direct]
network = "near-mail"
endpoint = "proxy"

[bots.echo]
sessions = ["echo-mail"]
echo = {{}}

[bots.proxy]
sessions = ["proxy-near", "proxy-mail"]
proxy = {{ remote = "mailto:{remote}" }}
"#,
            echo = email_session_toml("echo-mail", &echo_account, dir.path()),
            proxy = email_session_toml("proxy-mail", &proxy_account, dir.path()),
            remote = echo_account.address,
        ),
    )
    .unwrap();
    let near = Network::named("near-mail");
    let runner = Runner::new().network(near.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(async move {
        runner
            .run_file(&path, async move {
                let _ = stopped.await;
            })
            .await
    });
    let mut alice = Person::join(&near, "alice").await;
    alice.set_wait(Duration::from_secs(30));
    let proxy = near.address("proxy");
    for i in 0..3 {
        // The runner builds its sessions first; until then the proxy's endpoint is not there.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let asked = loop {
            let said = chatty::Signal::message(format!("over email {i}")).to(proxy.clone());
            match alice.send(said).await {
                Ok(id) => break id,
                Err(refusal) => {
                    assert!(!run.is_finished(), "the run ended: {refusal:?}");
                    assert!(tokio::time::Instant::now() < deadline, "{refusal:?}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        let (answer, message) = alice.expect_message().await;
        assert_eq!(message.text, format!("over email {i}"));
        assert_eq!(answer.meta.response_to, Some(asked));
    }
    stop.send(()).unwrap();
    run.await.unwrap().unwrap();
}
