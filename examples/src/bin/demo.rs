//! The demo: a Chatty bot over a direct connection, in a line-based terminal chat.
//!
//! ```sh
//! cargo run -p chatty-examples --bin demo
//! printf 'hello\n/time\n/quit\n' | cargo run -q -p chatty-examples --bin demo
//! ```
//!
//! The bot ([`DemoBot`]) is the endpoint `direct:bot` of an in-process network; you are the
//! person `direct:you`. Each line you type is a message to the bot; each signal that reaches you
//! is printed as a line. `/quit`, end of input (Ctrl-D) or Ctrl-C ends the bot's session, so its
//! lifecycle signals show, and exits.

use std::collections::HashSet;
use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::time::Duration;

use chatty_core::prelude::*;
use chatty_core::{Router, now};
use chatty_direct::{Network, Person};
use chatty_examples::{DemoBot, terminal};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep_until};

/// How long the demo waits for the bot's last answers after you quit.
const LAST_ANSWERS: Duration = Duration::from_secs(10);

/// A bot that hands its lifecycle signals (session started, about to end, ended) to the terminal
/// and every signal to the bot it wraps: these are internal, so you would not see them otherwise.
struct ShowLifecycle<B> {
    bot: B,
    notices: mpsc::UnboundedSender<Signal>,
}

impl<B: Bot> Bot for ShowLifecycle<B> {
    async fn run(self, inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        let notices = self.notices;
        let inbound = inbound.inspect(move |signal| {
            if matches!(
                signal.body,
                Body::SessionStarted(_) | Body::SessionAboutToEnd(_) | Body::SessionEnded(_)
            ) {
                let _ = notices.send(signal.clone());
            }
        });
        self.bot.run(inbound.boxed(), handle).await
    }
}

/// The terminal: prints signals, and remembers which messages still wait for an answer.
#[derive(Default)]
struct Screen {
    unanswered: HashSet<SignalId>,
}

impl Screen {
    fn show(&mut self, signal: &Signal) {
        if let Some(asked) = &signal.meta.response_to {
            self.unanswered.remove(asked);
        }
        if let Some(line) = terminal::describe(signal) {
            println!("{line}");
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let network = Network::new();
    let endpoint = network.endpoint("bot");
    let bot_address = endpoint.address().clone();

    // The bot runs until `stop` fires; then the router ends its session.
    let (notices_tx, mut notices) = mpsc::unbounded_channel();
    let (stop, stopped) = oneshot::channel::<()>();
    let bot = ShowLifecycle {
        bot: DemoBot::new().typing_delay(Duration::from_millis(250)),
        notices: notices_tx,
    };
    let mut bot_run = tokio::spawn(Router::new().session(endpoint).run_until(bot, async {
        let _ = stopped.await;
    }));

    let mut you = Person::join(&network, "you").await;
    you.set_wait(Duration::from_secs(3600));
    // Piped input is not echoed by a terminal: show it.
    let piped = !std::io::stdin().is_terminal();
    println!(
        "Chatty demo: you are {}, talking with {} over a direct connection.\n\
         Type a message, /help for the bot's commands, /quit or Ctrl-D to leave.",
        you.address().with_kind(AddressKind::Unknown),
        bot_address.with_kind(AddressKind::Unknown),
    );

    // Wait for the bot to be online (its `SessionStarted`) before reading what you type.
    let mut screen = Screen::default();
    match notices.recv().await {
        Some(started) if matches!(started.body, Body::SessionStarted(_)) => screen.show(&started),
        other => {
            eprintln!("the bot did not start: {other:?}");
            return ExitCode::FAILURE;
        }
    }

    // Biased: what reached you is printed before what the bot saw later.
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    loop {
        tokio::select! {
            biased;
            Some(signal) = you.next() => screen.show(&signal),
            Some(notice) = notices.recv() => screen.show(&notice),
            _ = tokio::signal::ctrl_c() => break,
            // Piped input is read one line per answer, so that the output reads as a chat.
            line = lines.next_line(), if !piped || screen.unanswered.is_empty() => match line {
                Ok(Some(line)) => {
                    let line = line.trim();
                    if line.is_empty() {
                        continue;
                    }
                    if piped {
                        println!("{} you: {line}", terminal::clock(now()));
                    }
                    if line == "/quit" {
                        break;
                    }
                    screen.unanswered.insert(you.say(&bot_address, line).await);
                }
                Ok(None) => break,
                Err(e) => {
                    eprintln!("cannot read the terminal: {e}");
                    break;
                }
            },
        }
    }

    // Wait for the answers to what you said (a session that ends takes the bot's outlet with
    // it), then end the bot's session and show its lifecycle signals.
    let deadline = Instant::now() + LAST_ANSWERS;
    while !screen.unanswered.is_empty() {
        tokio::select! {
            biased;
            Some(signal) = you.next() => screen.show(&signal),
            Some(notice) = notices.recv() => screen.show(&notice),
            _ = tokio::signal::ctrl_c() => break,
            () = sleep_until(deadline) => {
                eprintln!("{} messages were not answered", screen.unanswered.len());
                break;
            }
        }
    }
    let _ = stop.send(());
    let result = loop {
        tokio::select! {
            biased;
            Some(signal) = you.next() => screen.show(&signal),
            Some(notice) = notices.recv() => screen.show(&notice),
            result = &mut bot_run => break result,
        }
    };
    while let Some(signal) = you.try_next() {
        screen.show(&signal);
    }
    while let Ok(notice) = notices.try_recv() {
        screen.show(&notice);
    }
    you.leave().await;

    match result {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("the bot stopped with an error: {e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("the bot panicked: {e}");
            ExitCode::FAILURE
        }
    }
}
