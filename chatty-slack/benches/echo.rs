//! Round trips through the local Slack: a person posts, an echo bot on a `SlackSession`
//! answers, the person sees the answer. Measures round trips per second one at a time
//! (latency) and a burst (throughput), and the bot process's CPU time per message.
//!
//! ```sh
//! cargo bench -p chatty-slack --bench echo            # 200 round trips, a burst of 500
//! ECHO_N=1000 cargo bench -p chatty-slack --bench echo
//! ```
//!
//! The local Slack runs in the same process, so the CPU time covers both sides; the numbers
//! compare runs of this crate, not Slack itself.

use std::time::{Duration, Instant};

use chatty_core::Router;
use chatty_core::prelude::*;
use chatty_local_slack::LocalSlack;
use chatty_slack::{Secret, SlackConfig, SlackSession};
use chatty_test::load::cpu_time;

struct Echo;

impl Bot for Echo {
    async fn run(self, mut inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        while let Some(signal) = inbound.next().await {
            if let Body::Message(message) = &signal.body {
                handle
                    .send(signal.reply(Message::text(format!("echo: {}", message.text))))
                    .await?;
            }
        }
        Ok(())
    }
}

fn answers(slack: &LocalSlack, dm: &str, bot: &str) -> usize {
    slack
        .messages(dm)
        .iter()
        .filter(|m| m["user"] == bot)
        .count()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("ECHO_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let slack = LocalSlack::start().await.expect("the local Slack starts");
    let alice = slack.add_user("alice");
    let app = slack.add_app("echo");
    let dm = slack.open_conversation(&[&alice, &app.bot_user_id]);
    let config = SlackConfig::new(
        Secret::inline(app.bot_token.as_str()),
        Secret::inline(app.app_token.as_str()),
    )
    .with_api_url(slack.api_url());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let bot = tokio::spawn(
        Router::new()
            .session(SlackSession::new(config).expect("a valid config"))
            .run_until(Echo, async {
                let _ = stopped.await;
            }),
    );
    let wait = Duration::from_secs(60);
    assert!(
        slack
            .wait_until(wait, |s| s.socket_count(&app.app_id) == 1)
            .await
    );

    // One at a time: each message waits for its answer.
    let cpu = cpu_time();
    let start = Instant::now();
    for i in 0..n {
        slack.post(&alice, &dm, &format!("m{i}"));
        let want = i + 1;
        assert!(
            slack
                .wait_until(wait, |s| answers(s, &dm, &app.bot_user_id) >= want)
                .await,
            "answer {want} did not come"
        );
    }
    let elapsed = start.elapsed();
    let cpu_used = cpu_time().saturating_sub(cpu);
    println!(
        "sequential: {n} round trips in {elapsed:.2?}: {:.0}/s, {:.2?} per round trip, CPU {:.2?} per message",
        n as f64 / elapsed.as_secs_f64(),
        elapsed / n as u32,
        cpu_used / n as u32
    );

    // A burst: all posted at once, then every answer awaited.
    let burst = n * 5 / 2;
    let cpu = cpu_time();
    let start = Instant::now();
    for i in 0..burst {
        slack.post(&alice, &dm, &format!("b{i}"));
    }
    let want = n + burst;
    assert!(
        slack
            .wait_until(wait, |s| answers(s, &dm, &app.bot_user_id) >= want)
            .await,
        "the burst was not answered"
    );
    let elapsed = start.elapsed();
    let cpu_used = cpu_time().saturating_sub(cpu);
    println!(
        "burst: {burst} messages answered in {elapsed:.2?}: {:.0}/s, CPU {:.2?} per message",
        burst as f64 / elapsed.as_secs_f64(),
        cpu_used / burst as u32
    );
    let _ = stop.send(());
    let _ = bot.await;
}
