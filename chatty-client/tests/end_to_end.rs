//! The window's loop as a bot on a direct network with an echo bot, driven by made-up keys.

mod common;

use std::time::Duration;

use chatty_client::{ChatState, ChatWindow, Connection, EntryKind};
use chatty_core::reexports::futures::channel::mpsc;
use chatty_core::{Body, BotError, File, Message, Router, Signal, from_fn};
use chatty_direct::Network;
use common::*;
use crossterm::event::{Event, KeyCode, KeyEvent};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// A running window: the keys to feed it, its state after every change, and its run.
struct Running {
    keys: mpsc::UnboundedSender<Event>,
    states: watch::Receiver<ChatState>,
    window: JoinHandle<Result<(), BotError>>,
    stop_bot: oneshot::Sender<()>,
    end_session: oneshot::Sender<()>,
    bot: JoinHandle<Result<(), BotError>>,
    network: Network,
}

impl Running {
    /// Starts an echo bot as `direct:bot` and the window as `direct:you`, talking to it.
    fn start() -> Running {
        let network = Network::new();
        let files = network.clone();
        let echo = from_fn(move |signal: Signal, handle| {
            let files = files.clone();
            async move {
                let answer: Body = match &signal.body {
                    Body::Message(m) if m.text == "files" => {
                        File::url("by-url.txt", None, files.publish_file(&b"from the bot"[..]))
                            .into()
                    }
                    Body::Message(m) => Message::text(format!("echo: {}", m.text)).into(),
                    Body::File(f) => Message::text(format!("got {}", f.name)).into(),
                    _ => return Ok(()),
                };
                handle.send(signal.reply(answer)).await?;
                Ok(())
            }
        });
        let (stop_bot, stopped) = oneshot::channel::<()>();
        let bot = tokio::spawn(Router::new().session(network.endpoint("bot")).run_until(
            echo,
            async {
                let _ = stopped.await;
            },
        ));

        let (keys, events) = mpsc::unbounded();
        let mut start = ChatState::new();
        start.open(network.address("bot"));
        let (tx, states) = watch::channel(start.clone());
        let terminal = Terminal::new(TestBackend::new(80, 20)).unwrap();
        let window = ChatWindow::new(start, terminal, events).observe(move |state| {
            tx.send_replace(state.clone());
        });
        let (end_session, ended) = oneshot::channel::<()>();
        let window = tokio::spawn(Router::new().session(network.endpoint("you")).run_until(
            window,
            async {
                let _ = ended.await;
            },
        ));
        Running {
            keys,
            states,
            window,
            stop_bot,
            end_session,
            bot,
            network,
        }
    }

    fn press(&self, code: KeyCode) {
        self.keys
            .unbounded_send(Event::Key(KeyEvent::from(code)))
            .unwrap();
    }

    fn type_line(&self, line: &str) {
        for c in line.chars() {
            self.press(KeyCode::Char(c));
        }
        self.press(KeyCode::Enter);
    }

    /// Waits until the state satisfies `done`; returns it.
    async fn until(&mut self, what: &str, done: impl Fn(&ChatState) -> bool) -> ChatState {
        let found = tokio::time::timeout(WAIT, self.states.wait_for(|s| done(s)))
            .await
            .ok()
            .and_then(Result::ok)
            .map(|state| state.clone());
        match found {
            Some(state) => state,
            None => panic!(
                "{what}: not within {WAIT:?}; the state: {:#?}",
                texts(&self.states.borrow())
            ),
        }
    }

    async fn quit(self) {
        self.keys.unbounded_send(Event::Key(ctrl('c'))).unwrap();
        let result = tokio::time::timeout(WAIT, self.window).await;
        assert!(matches!(result, Ok(Ok(Ok(())))), "{result:?}");
        let _ = self.stop_bot.send(());
        let result = tokio::time::timeout(WAIT, self.bot).await;
        assert!(matches!(result, Ok(Ok(Ok(())))), "{result:?}");
    }
}

fn has_line(state: &ChatState, wanted: &str) -> bool {
    state
        .conversation(&addr("direct:bot"))
        .is_some_and(|c| c.entries().iter().any(|e| e.text().ends_with(wanted)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_keys_reach_the_echo_bot_and_its_reply_shows() {
    let mut running = Running::start();
    let state = running
        .until("connected", |s| {
            matches!(s.connection(), Connection::Connected { .. })
        })
        .await;
    assert_eq!(state.own_address(), Some(&addr("direct:you")));

    running.type_line("hello bot");
    let state = running
        .until("the echo", |s| has_line(s, "bot: echo: hello bot"))
        .await;
    let bot = state.conversation(&addr("direct:bot")).unwrap();
    let lines: Vec<String> = bot.entries().iter().map(|e| e.text()).collect();
    let mine = lines.iter().position(|l| l.ends_with("you: hello bot"));
    let echo = lines
        .iter()
        .position(|l| l.ends_with("bot: echo: hello bot"));
    assert!(mine < echo && mine.is_some(), "{lines:#?}");
    assert!(
        !bot.entries()
            .iter()
            .any(|e| matches!(e.kind, EntryKind::Error(_))),
        "{lines:#?}"
    );

    // History: Up brings the line back, Enter sends it again.
    running.press(KeyCode::Up);
    running.press(KeyCode::Enter);
    running
        .until("the second echo", |s| {
            s.conversation(&addr("direct:bot")).is_some_and(|c| {
                c.entries()
                    .iter()
                    .filter(|e| e.text().ends_with("bot: echo: hello bot"))
                    .count()
                    == 2
            })
        })
        .await;
    running.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_go_to_the_bot_and_a_url_file_is_downloaded_and_saved() {
    let dir = tempfile::tempdir().unwrap();
    let note = dir.path().join("note.txt");
    std::fs::write(&note, "a note").unwrap();

    let mut running = Running::start();
    running
        .until("connected", |s| {
            matches!(s.connection(), Connection::Connected { .. })
        })
        .await;
    running.type_line(&format!("/send {}", note.display()));
    running
        .until("the bot got the file", |s| has_line(s, "bot: got note.txt"))
        .await;

    running.type_line("files");
    running
        .until("the URL file", |s| {
            s.conversation(&addr("direct:bot")).is_some_and(|c| {
                c.entries().iter().any(|e| {
                    e.text()
                        .contains("[file 2] by-url.txt (unknown type) at direct-file:")
                })
            })
        })
        .await;
    // File 1 is the one sent; file 2 is the bot's, by URL: saving it downloads it first.
    let saved = dir.path().join("saved.txt");
    running.type_line(&format!("/save 2 {}", saved.display()));
    running
        .until("saved", |s| {
            has_line(s, &format!("saved 12 bytes to {}", saved.display()))
        })
        .await;
    assert_eq!(std::fs::read_to_string(&saved).unwrap(), "from the bot");

    // A message to nobody on the network comes back as an error line.
    running.type_line("/to nobody");
    running.type_line("anyone?");
    running
        .until("the failure", |s| {
            s.conversation(&addr("direct:nobody")).is_some_and(|c| {
                c.entries().iter().any(|e| {
                    matches!(e.kind, EntryKind::Error(_)) && e.text().contains("not delivered")
                })
            })
        })
        .await;

    // Joining a room lists who was there already (a members query) and oneself (the join).
    running.network.join("lobby", "alice");
    running.type_line("/join lobby");
    running
        .until("the members", |s| {
            s.conversation(&addr("direct:lobby"))
                .is_some_and(|c| c.members() == [addr("direct:alice"), addr("direct:you")])
        })
        .await;
    running.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_ends_when_its_keys_end() {
    let running = Running::start();
    drop(running.keys);
    let result = tokio::time::timeout(WAIT, running.window).await;
    assert!(matches!(result, Ok(Ok(Ok(())))), "{result:?}");
    let _ = running.stop_bot.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), running.bot).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_session_ends_the_window_says_so_and_stays_until_quit() {
    let mut running = Running::start();
    running
        .until("connected", |s| {
            matches!(s.connection(), Connection::Connected { .. })
        })
        .await;
    let end = std::mem::replace(&mut running.end_session, oneshot::channel().0);
    end.send(()).unwrap();
    let state = running
        .until("ended", |s| {
            s.connection() == &Connection::Ended && last(s).starts_with("every session has ended")
        })
        .await;
    assert!(
        texts(&state)
            .iter()
            .any(|t| t.contains("* the session ended"))
    );
    assert!(!running.window.is_finished(), "the window stays");
    // Typing now gives an error line, not a panic.
    running.type_line("anyone there?");
    running
        .until("not sent", |s| last(s).contains("! not sent: "))
        .await;
    running.quit().await;
}
