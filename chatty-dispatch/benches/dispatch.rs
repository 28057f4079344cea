//! Messages per second, and CPU per message, through the dispatcher, next to a bare bot (one
//! `from_fn` loop matching on the body by hand) answering the same messages on the same
//! in-process network, in the same run.
//!
//! `cargo bench -p chatty-dispatch --bench dispatch`; `CHATTY_BENCH_MESSAGES` (20 000 per
//! round), `CHATTY_BENCH_PEOPLE` (50, each waiting for the answer before saying the next
//! message), `CHATTY_BENCH_ROUNDS` (3).

use std::time::{Duration, Instant};

use chatty_core::state::{MemoryStore, State};
use chatty_core::{Body, Bot, Message, Router, from_fn};
use chatty_direct::{Network, Person};
use chatty_dispatch::prelude::*;
use chatty_test::load::{cpu_time, env_or};

/// The bot's commands for the command variant.
#[derive(clap::Parser)]
#[command(multicall = true)]
enum Cmd {
    /// Says the words back.
    Echo { words: Vec<String> },
}

/// Runs `bot` on a fresh network; `people` people each say `each` messages made by `text` and
/// wait for each answer. Returns the wall time and the process's CPU time.
async fn run(
    bot: impl Bot,
    people: usize,
    each: usize,
    text: fn(usize) -> String,
) -> (Duration, Duration) {
    let network = Network::new();
    let endpoint = network.endpoint("bot");
    let to = endpoint.address().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(Router::new().session(endpoint).run_until(bot, async move {
        let _ = stopped.await;
    }));
    let mut joined = Vec::new();
    for i in 0..people {
        joined.push(Person::join(&network, &format!("p{i}")).await);
    }
    let (started, cpu) = (Instant::now(), cpu_time());
    let talks: Vec<_> = joined
        .into_iter()
        .map(|person| {
            let to = to.clone();
            tokio::spawn(async move {
                for i in 0..each {
                    person.say(&to, text(i)).await;
                    let _ = person.expect_message().await;
                }
            })
        })
        .collect();
    for talk in talks {
        talk.await.expect("a person's talk");
    }
    let took = (started.elapsed(), cpu_time() - cpu);
    let _ = stop.send(());
    let _ = running.await;
    took
}

fn plain(i: usize) -> String {
    format!("hello {i}")
}

fn command(i: usize) -> String {
    format!("!echo hello {i}")
}

async fn measure<B: Bot, F: Fn() -> B>(
    name: &str,
    make: F,
    text: fn(usize) -> String,
    n: usize,
    people: usize,
    rounds: usize,
) -> Vec<(f64, f64)> {
    let each = n / people;
    let total = each * people;
    let mut out = Vec::new();
    let _ = run(make(), people, each / 10 + 1, text).await; // warm-up
    for _ in 0..rounds {
        let (wall, cpu) = run(make(), people, each, text).await;
        out.push((
            total as f64 / wall.as_secs_f64(),
            cpu.as_secs_f64() * 1e6 / total as f64,
        ));
    }
    let rates: Vec<String> = out
        .iter()
        .map(|(r, c)| format!("{r:.0}/s {c:.1} µs"))
        .collect();
    println!("{name:<28} {}", rates.join(", "));
    out
}

fn bare() -> impl Bot {
    from_fn(|signal, handle| async move {
        if let Body::Message(m) = &signal.body {
            handle
                .send(signal.reply(Message::text(m.text.clone())))
                .await?;
        }
        Ok(())
    })
}

fn dispatch_message() -> impl Bot {
    Dispatcher::new()
        .typing_after(None)
        .message(|m: Message| async move { m.text })
}

fn dispatch_command() -> impl Bot {
    async fn echo(Command(Cmd::Echo { words }): Command<Cmd>) -> String {
        words.join(" ")
    }
    Dispatcher::new()
        .typing_after(None)
        .command::<Cmd>()
        .to(echo)
}

fn dispatch_state() -> impl Bot {
    async fn count(_: Message, me: PersonState) -> Result<String, BotError> {
        Ok(me.increment("messages").await?.to_string())
    }
    Dispatcher::new()
        .typing_after(None)
        .state(State::new(MemoryStore::new(), "bench"))
        .message(count)
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let n = env_or("CHATTY_BENCH_MESSAGES", 20_000);
    let people = env_or("CHATTY_BENCH_PEOPLE", 50).max(1);
    let rounds = env_or("CHATTY_BENCH_ROUNDS", 3).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    println!(
        "{n} messages per round from {people} people (one in flight each), {rounds} rounds; \
         messages/s and the process's CPU per message"
    );
    runtime.block_on(async {
        let bare = measure("bare from_fn echo", bare, plain, n, people, rounds).await;
        let variants = [
            (
                "dispatcher, message",
                measure(
                    "dispatcher, message",
                    dispatch_message,
                    plain,
                    n,
                    people,
                    rounds,
                )
                .await,
            ),
            (
                "dispatcher, clap command",
                measure(
                    "dispatcher, clap command",
                    dispatch_command,
                    command,
                    n,
                    people,
                    rounds,
                )
                .await,
            ),
            (
                "dispatcher, person state",
                measure(
                    "dispatcher, person state",
                    dispatch_state,
                    plain,
                    n,
                    people,
                    rounds,
                )
                .await,
            ),
        ];
        let bare_rate = median(&bare.iter().map(|(r, _)| *r).collect::<Vec<_>>());
        let bare_cpu = median(&bare.iter().map(|(_, c)| *c).collect::<Vec<_>>());
        println!(
            "\nmedians, as ratios to the bare bot (rate: higher is faster; CPU: lower is cheaper)"
        );
        for (name, runs) in variants {
            let rate = median(&runs.iter().map(|(r, _)| *r).collect::<Vec<_>>());
            let cpu = median(&runs.iter().map(|(_, c)| *c).collect::<Vec<_>>());
            println!(
                "{name:<28} rate {:.2}×, CPU per message {:.2}×",
                rate / bare_rate,
                cpu / bare_cpu
            );
        }
    });
}
