//! The demo: a Chatty bot over a direct connection, in a chat window.
//!
//! ```sh
//! cargo run -p chatty-examples            # the terminal chat window
//! cargo run -p chatty-examples -- --web   # the web chat window: prints the URL to open
//! printf 'hello\n/time\n/quit\n' | cargo run -q -p chatty-examples   # line by line
//! ```
//!
//! The bot ([`DemoBot`]) is the endpoint `direct:bot` of an in-process network; you are the
//! person `direct:you`: no server, no config.
//!
//! - In a terminal, the demo opens chatty-client's terminal window ([`TerminalClient`]): the
//!   conversation, a side list, an input line; `/help` lists the window's commands, and any
//!   other command goes to the bot as typed (`/time`; `//help` sends `/help`). `/quit` or Ctrl-C
//!   leaves.
//! - With `--web`, it serves chatty-client's web window ([`WebClient`]) on 127.0.0.1 and prints
//!   its URL; every further browser tab is a further person (`direct:guest-1`, …, or the name
//!   in `?as=NAME`). Ctrl-C stops it.
//! - With piped input (or `--lines`), it is line-based: each line you type is a message to the
//!   bot; each signal that reaches you is printed as a line. `/quit`, end of input (Ctrl-D) or
//!   Ctrl-C ends the bot's session, so its lifecycle signals show, and exits.

use std::collections::HashSet;
use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use chatty_client::{TerminalClient, WebClient};

use chatty_core::prelude::*;
use chatty_core::session::Session;
use chatty_core::{AddressKind, Capabilities, Router, now};
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

/// How the demo was asked to run.
#[derive(Debug, PartialEq)]
enum Mode {
    Terminal,
    Web { port: u16 },
    Lines,
    Help,
}

const USAGE: &str = "\
usage: demo [--web [--port PORT] | --lines]

  (nothing)    the terminal chat window, talking to the demo bot (line by line when the
               input or output is not a terminal)
  --web        the web chat window on 127.0.0.1 (a free port, or --port PORT); prints the URL
  --lines      the line-based chat, one line per signal
  --help       this text";

fn mode(args: &[String]) -> Result<Mode, String> {
    let mut web = false;
    let mut lines = false;
    let mut port = 0;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--web" => web = true,
            "--lines" => lines = true,
            "--port" => {
                let value = args.next().ok_or("--port needs a port number")?;
                port = value
                    .parse()
                    .map_err(|_| format!("--port: `{value}` is not a port number"))?;
            }
            "-h" | "--help" => return Ok(Mode::Help),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    match (web, lines) {
        (true, true) => Err("--web and --lines do not go together".into()),
        (true, false) => Ok(Mode::Web { port }),
        (false, true) => Ok(Mode::Lines),
        (false, false) if port != 0 => Err("--port goes with --web".into()),
        (false, false) => {
            let terminal = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
            Ok(if terminal {
                Mode::Terminal
            } else {
                Mode::Lines
            })
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match mode(&args) {
        Ok(Mode::Terminal) => terminal_window().await,
        Ok(Mode::Web { port }) => web_window(port).await,
        Ok(Mode::Lines) => lines().await,
        Ok(Mode::Help) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("demo: {e}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// The bot, running as `direct:bot` on `network` until `stop` fires.
fn start_bot(
    network: &Network,
) -> (
    Address,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), BotError>>,
) {
    let endpoint = network.endpoint("bot");
    let address = endpoint.address().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let bot = DemoBot::new().typing_delay(Duration::from_millis(400));
    let run = tokio::spawn(Router::new().session(endpoint).run_until(bot, async {
        let _ = stopped.await;
    }));
    (address, stop, run)
}

/// Stops the bot and tells how the window ended.
async fn finish(
    window: Result<(), BotError>,
    stop: oneshot::Sender<()>,
    bot: tokio::task::JoinHandle<Result<(), BotError>>,
) -> ExitCode {
    let _ = stop.send(());
    let bot = bot.await;
    match (window, bot) {
        (Err(e), _) => {
            eprintln!("demo: the window stopped with an error: {e}");
            ExitCode::FAILURE
        }
        (Ok(()), Ok(Err(e))) => {
            eprintln!("demo: the bot stopped with an error: {e}");
            ExitCode::FAILURE
        }
        (Ok(()), Err(e)) => {
            eprintln!("demo: the bot panicked: {e}");
            ExitCode::FAILURE
        }
        (Ok(()), Ok(Ok(()))) => ExitCode::SUCCESS,
    }
}

/// The terminal chat window, as `direct:you`.
async fn terminal_window() -> ExitCode {
    let network = Network::new();
    let (bot_address, stop, bot) = start_bot(&network);
    let window = TerminalClient::new().talk_to(bot_address);
    let result = Router::new()
        .session(network.endpoint("you"))
        .run(window)
        .await;
    finish(result, stop, bot).await
}

/// The web chat window on 127.0.0.1:`port`: the first tab is `direct:you`, further tabs guests.
async fn web_window(port: u16) -> ExitCode {
    let network = Network::new();
    let (bot_address, stop, bot) = start_bot(&network);
    let window = match WebClient::bind(SocketAddr::from(([127, 0, 0, 1], port)), None).await {
        Ok(window) => window,
        Err(e) => {
            eprintln!("demo: {e}");
            return ExitCode::FAILURE;
        }
    };
    let guests = network.clone();
    let window = window.talk_to(bot_address).guests(move |name| {
        if name == "bot" || name == "you" {
            return Err(format!("{name} is taken"));
        }
        let session = guests
            .try_endpoint_with(name, Capabilities::all())
            .map_err(|e| e.to_string())?;
        Ok(Arc::new(session) as Arc<dyn Session>)
    });
    // Polled once now, so that Ctrl-C is caught from the moment the URL is printed.
    let mut interrupt = std::pin::pin!(tokio::signal::ctrl_c());
    let _ = chatty_core::reexports::futures::poll!(interrupt.as_mut());
    println!(
        "Chatty demo: open {} in a browser; you are direct:you there, talking with direct:bot \
         over a direct connection. Each further tab is a further person. Ctrl-C stops.",
        window.url()
    );
    let result = Router::new()
        .session(network.endpoint("you"))
        .run_until(window, async {
            let _ = interrupt.await;
        })
        .await;
    finish(result, stop, bot).await
}

/// The line-based chat.
async fn lines() -> ExitCode {
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
