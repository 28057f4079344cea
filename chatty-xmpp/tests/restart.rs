//! A restart of the server in the middle of a conversation, against the second, restartable
//! test Prosody (restarting the shared one would break the tests beside this one): every message
//! one bot sends is counted at the other, and each arrives exactly once, or comes back to its
//! sender as a send failure. Nothing is lost in silence.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use chatty_core::{Body, Message, Signal, SignalId};
use chatty_test::servers::var;
use chatty_xmpp::{TlsMode, XmppConfig};
use common::bot;

/// An account of the restartable server.
fn config(user: &str) -> XmppConfig {
    let server = common::server();
    let port: u16 = var("CHATTY_TEST_XMPP_RESTART_PORT").parse().unwrap();
    XmppConfig::new(
        format!("{user}@{}", server.domain),
        chatty_xmpp::Secret::inline(format!("secret-{user}")),
    )
    .with_server(server.host, port)
    .with_tls(TlsMode::Starttls)
    .with_connect_timeout(Duration::from_secs(5))
    .with_reconnect_backoff(Duration::from_millis(100), Duration::from_millis(500))
}

fn restart_server() {
    let ctl = var("CHATTY_TEST_XMPP_RESTART_CTL");
    let status = std::process::Command::new(&ctl)
        .arg("restart")
        .status()
        .unwrap();
    assert!(status.success(), "{ctl} restart: {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_loses_nothing_in_silence() {
    let mut alice = bot(config("r00")).await;
    let bob = bot(config("r01")).await;
    const TOTAL: usize = 120;
    let mut sent = Vec::new();
    let mut restart = None;
    for i in 0..TOTAL {
        if i == 40 {
            restart = Some(tokio::task::spawn_blocking(restart_server));
        }
        let id = alice
            .send(Signal::new(Message::text(format!("m{i}"))).to(bob.address.clone()))
            .await;
        sent.push(id);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    restart.unwrap().await.unwrap();

    // Collect until everything is accounted for, or nothing more comes for 15 s.
    let all: BTreeSet<SignalId> = sent.iter().cloned().collect();
    let mut delivered = Vec::new();
    let mut failed = BTreeSet::new();
    loop {
        let accounted = delivered.iter().cloned().collect::<BTreeSet<_>>().len() + failed.len();
        if accounted >= TOTAL {
            break;
        }
        tokio::select! {
            signal = bob.remote.next_within(Duration::from_secs(15)) => match signal {
                Some(signal) => if let Body::Message(_) = signal.body {
                    delivered.push(signal.meta.id.clone());
                },
                None => break,
            },
            signal = alice.remote.next_within(Duration::from_secs(15)) => match signal {
                Some(signal) => if let Body::SendFailure(f) = &signal.body {
                    failed.insert(f.failed.clone());
                },
                None => break,
            },
        }
    }
    let unique: BTreeSet<SignalId> = delivered.iter().cloned().collect();
    eprintln!(
        "{TOTAL} sent across a server restart: {} delivered, {} reported failed",
        unique.len(),
        failed.len()
    );
    assert_eq!(unique.len(), delivered.len(), "a message arrived twice");
    assert!(
        unique.is_disjoint(&failed),
        "a message both arrived and failed"
    );
    let lost: Vec<&SignalId> = all
        .iter()
        .filter(|id| !unique.contains(*id) && !failed.contains(*id))
        .collect();
    assert!(
        lost.is_empty(),
        "lost in silence: {} of {TOTAL}: {lost:?}",
        lost.len()
    );
    alice.finish().await;
    bob.finish().await;
}
