//! `chatty-chat`: the terminal chat window talking to a small echo bot over a direct connection,
//! with no server and no config.
//!
//! ```sh
//! cargo run -p chatty-client --example chatty-chat            # in the terminal
//! cargo run -p chatty-client --example chatty-chat -- --web   # in the browser: prints the URL
//! ```
//!
//! You are `direct:you`; the bot is `direct:bot`. It shows that it is typing, then echoes each
//! message; `files` makes it send two files (one with its bytes, one by URL) to try `/save`;
//! `ask` makes it ask a question with options (numbered lines in the terminal, buttons in the
//! browser), and it says which option you chose; a file you `/send` is acknowledged. The bot is also in the room `direct:lobby` (`/join lobby`),
//! where it echoes too. `/quit` or Ctrl-C leaves and puts the terminal back. With `--web`, the
//! web window on 127.0.0.1 instead: each further browser tab is a further person
//! (`direct:guest-1`, …); Ctrl-C stops it.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use chatty_client::{TerminalClient, WebClient};
use chatty_core::session::Session;
use chatty_core::{
    Body, Capabilities, Choice, File, Message, Router, Signal, Status, StatusChange, TypingState,
    from_fn,
};
use chatty_direct::Network;
use tokio::sync::oneshot;

#[tokio::main]
async fn main() -> ExitCode {
    let network = Network::new();
    let bot_endpoint = network.endpoint("bot");
    let bot_address = bot_endpoint.address().clone();

    let lobby = network.channel("lobby");
    let files = network.clone();
    let echo = from_fn(move |signal: Signal, handle| {
        let files = files.clone();
        let lobby = lobby.clone();
        async move {
            if let Body::SessionStarted(_) = signal.body {
                let join = StatusChange::new(Status::InRoom {
                    room: lobby,
                    present: true,
                    role: None,
                });
                handle.send(Signal::new(join)).await?;
                return Ok(());
            }
            // The room it was said in, or the person who said it.
            let Some(conversation) = signal.reply_addresses().into_iter().next() else {
                return Ok(());
            };
            let answer = match &signal.body {
                Body::Message(m) if m.text.trim() == "files" => {
                    let bytes = File::bytes(
                        "hello.txt",
                        Some("text/plain"),
                        &b"hello from the echo bot\n"[..],
                    );
                    handle.send(signal.reply(bytes)).await?;
                    let url = files.publish_file(&b"fetched by URL\n"[..]);
                    File::url("by-url.txt", Some("text/plain"), url).into()
                }
                Body::Message(m) if m.text.trim() == "ask" => Message::text("How urgent is it?")
                    .with_choice(
                        Choice::new("priority")
                            .option("low", "Low")
                            .option("high", "High"),
                    )
                    .into(),
                Body::Message(Message {
                    chosen: Some(chosen),
                    ..
                }) => Message::text(format!("you chose {} for {}", chosen.value, chosen.choice))
                    .into(),
                Body::Message(m) => Message::text(format!("echo: {}", m.text)).into(),
                Body::File(f) => Message::text(format!("got your file {}", f.name)).into(),
                _ => return Ok(()),
            };
            let typing = |state| {
                Signal::new(StatusChange::new(Status::Typing {
                    conversation: conversation.clone(),
                    state,
                }))
            };
            handle.send(typing(TypingState::Composing)).await?;
            tokio::time::sleep(Duration::from_millis(600)).await;
            let answer: Body = answer;
            handle.send(signal.reply(answer)).await?;
            Ok(())
        }
    });

    let (stop, stopped) = oneshot::channel::<()>();
    let bot = tokio::spawn(Router::new().session(bot_endpoint).run_until(echo, async {
        let _ = stopped.await;
    }));

    let result = if std::env::args().any(|a| a == "--web") {
        let window = match WebClient::local().await {
            Ok(window) => window,
            Err(e) => {
                eprintln!("chatty-chat: {e}");
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
        println!("chatty-chat: open {} (Ctrl-C stops)", window.url());
        Router::new()
            .session(network.endpoint("you"))
            .run_until(window, async {
                let _ = interrupt.await;
            })
            .await
    } else {
        let window = TerminalClient::new().talk_to(bot_address);
        Router::new()
            .session(network.endpoint("you"))
            .run(window)
            .await
    };

    let _ = stop.send(());
    let _ = bot.await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chatty-chat: {e}");
            ExitCode::FAILURE
        }
    }
}
