//! The workers of a NATS hub share their bot's state in the PostgreSQL database `[state]` names:
//! a conversation that moves from one worker to another goes on from what the first had kept.
//!
//! In one process: a gateway runner with a direct session, and two worker runners (each with a
//! journal of its own) running the same Rust bot, which counts each person's messages in its
//! state. Needs the test NATS and PostgreSQL servers (`scripts/test-servers`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use chatty::Runner;
use chatty::direct::{Network, Person};
use chatty::prelude::*;
use common::Counter;
use common::running::Running;

mod common;

/// Writes `config` to `name.toml` in a directory `name` of `dir` and runs it, with the counter
/// bot, until told to stop.
fn start(dir: &Path, name: &str, config: &str, network: &Network) -> Running {
    let dir: PathBuf = dir.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, config).unwrap();
    let runner = Runner::new()
        .network(network.clone())
        .bot("counter", |ctx| Ok(Counter(ctx.state())));
    Running::start(runner, path)
}

/// Sends `messages` messages from `alice` to `desk` through `gateway` (whose session may not be
/// up yet) and returns the answers.
async fn talk(
    gateway: &mut Running,
    alice: &Person,
    desk: &Address,
    messages: usize,
) -> Vec<String> {
    let mut answers = Vec::new();
    for _ in 0..messages {
        let answer = gateway.ask(alice, desk, "one more", Duration::from_secs(20));
        answers.push(
            answer
                .await
                .unwrap_or_else(|ended| panic!("the gateway ended: {ended:?}")),
        );
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_that_moves_to_another_worker_goes_on_from_the_shared_state() {
    let id = std::process::id();
    let nats = chatty_test::servers::var("CHATTY_TEST_NATS_URL");
    let postgres = chatty_test::servers::var("CHATTY_TEST_POSTGRES_URL");
    let hub =
        format!("{{ url = \"{nats}\", hub = \"state{id}\", lease_ms = 1000, ack_wait_ms = 3000 }}");
    let network = Network::named(&format!("shared-state-{id}"));
    let dir = tempfile::tempdir().unwrap();
    let mut gateway = start(
        dir.path(),
        "gateway",
        &format!(
            "[sessions.desk.direct]\nnetwork = \"shared-state-{id}\"\nendpoint = \"desk\"\n\n\
             [bots.gateway]\nsessions = [\"desk\"]\nnats = {hub}\n"
        ),
        &network,
    );
    let worker = format!(
        "[sessions.hub]\nanswer_limit = false\nnats = {hub}\n\n\
         [bots.counter]\nsessions = [\"hub\"]\nrust = \"counter\"\n\n\
         [state]\nurl = \"{postgres}\"\nschema = \"shared_state_{id}\"\n"
    );
    let first = start(dir.path(), "worker-1", &worker, &network);
    let alice = Person::join(&network, "alice").await;
    let desk = network.address("desk");
    assert_eq!(talk(&mut gateway, &alice, &desk, 3).await, ["1", "2", "3"]);

    // The first worker stops; the second, with a journal of its own, takes the conversation
    // and goes on from the count the first kept.
    first.stop().await.unwrap();
    let second = start(dir.path(), "worker-2", &worker, &network);
    assert_eq!(talk(&mut gateway, &alice, &desk, 2).await, ["4", "5"]);
    second.stop().await.unwrap();
    gateway.stop().await.unwrap();
}
