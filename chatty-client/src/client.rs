//! The window as a bot: the event loop over keys, inbound signals and a clock, and the terminal
//! it runs in.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chatty_core::{Address, Body, Bot, BotError, File, Handle, Inbound, SendError, SignalId};
use crossterm::event::{Event, EventStream, KeyCode, KeyEvent, KeyModifiers};
use futures::stream::{self, BoxStream, Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::{Backend, CrosstermBackend};
use tokio::sync::mpsc;

use crate::render::{max_scroll, render};
use crate::state::{Action, ChatState};

/// How often the window's clock ticks (typing indicators expire on a tick).
pub const TICK: Duration = Duration::from_millis(250);

/// Whether the window goes on after an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on.
    Continue,
    /// Close the window.
    Quit,
}

/// Performs one [`Action`] through `handle` (and on disk), reporting failures as error lines in
/// `state`.
pub async fn perform(state: &mut ChatState, handle: &Handle, action: Action) -> Flow {
    match action {
        Action::Send(signal) => {
            let id = signal.meta.id.clone();
            if let Err(e) = handle.send(*signal).await {
                state.refused(&id, &e);
            }
        }
        Action::SendFile { to, path } => match tokio::fs::read(&path).await {
            Ok(data) => {
                let name = path
                    .file_name()
                    .map_or_else(|| "file".to_owned(), |n| n.to_string_lossy().into_owned());
                let file = File::bytes(name, media_type(&path), data);
                let signal = state.file_sent(&to, file);
                let id = signal.meta.id.clone();
                if let Err(e) = handle.send(signal).await {
                    state.refused(&id, &e);
                }
            }
            Err(e) => state.error(format!("cannot read {}: {e}", path.display())),
        },
        Action::SaveFile { path, data } => match tokio::fs::write(&path, &data).await {
            Ok(()) => state.info(format!("saved {} bytes to {}", data.len(), path.display())),
            Err(e) => state.error(format!("cannot save to {}: {e}", path.display())),
        },
        Action::AskMembers { room } => match handle.members(&room).await {
            Ok(members) => state.set_members(&room, members),
            // A platform that cannot list members: the join and leave lines will tell.
            Err(e) if e.is_not_supported() => {}
            Err(e) => state.error(format!("cannot list the members of {room}: {e}")),
        },
        Action::Quit => return Flow::Quit,
    }
    Flow::Continue
}

/// Starts the download an action asks for (a [`DownloadFile`](chatty_core::DownloadFile) request) on a task of its own,
/// so that the window goes on while it lasts; `None` then. The router answers the request on
/// the inbound stream (the file, or a send failure); a refusal at once comes back on
/// `refusals`. Any other action is returned as it is.
fn download_aside(
    handle: &Handle,
    action: Action,
    refusals: &mpsc::UnboundedSender<(SignalId, SendError)>,
) -> Option<Action> {
    match action {
        Action::Send(request) if matches!(request.body, Body::DownloadFile(_)) => {
            let (handle, refusals) = (handle.clone(), refusals.clone());
            tokio::spawn(async move {
                let id = request.meta.id.clone();
                if let Err(e) = handle.send(*request).await {
                    let _ = refusals.send((id, e));
                }
            });
            None
        }
        action => Some(action),
    }
}

/// A media type for a file name's extension, for the few common ones.
fn media_type(path: &Path) -> Option<&'static str> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match extension.as_str() {
        "txt" | "md" | "log" => "text/plain",
        "html" | "htm" => "text/html",
        "csv" => "text/csv",
        "json" => "application/json",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "zip" => "application/zip",
        _ => return None,
    })
}

/// Called with the state after every change (for tests and embedders that watch the window).
type Observer = Box<dyn FnMut(&ChatState) + Send>;

/// The window's event loop as a bot, on any ratatui backend and any stream of terminal events:
/// [`TerminalClient`] runs it on the real terminal; a test runs it on a
/// [`TestBackend`](ratatui::backend::TestBackend) with keys it makes up.
///
/// The loop draws, then waits for a key (or other terminal event), an inbound signal or a tick;
/// updates the state; performs the resulting actions through the handle; and draws again. It
/// ends on `/quit` or Ctrl-C, or when the events end. When the inbound stream ends (every session
/// ended) the window stays open, saying so, until the person leaves.
pub struct ChatWindow<B: Backend> {
    state: ChatState,
    terminal: Terminal<B>,
    events: BoxStream<'static, Event>,
    observer: Option<Observer>,
}

impl<B: Backend> fmt::Debug for ChatWindow<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatWindow")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<B> ChatWindow<B>
where
    B: Backend + Send + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    /// A window drawing `state` on `terminal`, reading `events`.
    pub fn new(
        state: ChatState,
        terminal: Terminal<B>,
        events: impl Stream<Item = Event> + Send + 'static,
    ) -> Self {
        ChatWindow {
            state,
            terminal,
            events: events.boxed(),
            observer: None,
        }
    }

    /// Calls `observer` with the state after every change.
    #[must_use]
    pub fn observe(mut self, observer: impl FnMut(&ChatState) + Send + 'static) -> Self {
        self.observer = Some(Box::new(observer));
        self
    }

    fn draw(&mut self) -> Result<(), BotError> {
        let area = self.terminal.size().map_err(Box::new)?;
        // The pane is the frame less the input line and status bar; clamping here keeps Page Up
        // from running past the top.
        let areas =
            crate::render::Areas::of(ratatui::layout::Rect::new(0, 0, area.width, area.height));
        let max = max_scroll(
            &self.state,
            areas.conversation.width,
            areas.conversation.height,
            self.state.scroll(),
        );
        self.state.clamp_scroll(max);
        let state = &self.state;
        self.terminal
            .draw(|frame| render(state, frame))
            .map_err(Box::new)?;
        if let Some(observer) = &mut self.observer {
            observer(&self.state);
        }
        Ok(())
    }
}

impl<B> Bot for ChatWindow<B>
where
    B: Backend + Send + 'static,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    async fn run(mut self, mut inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        // Downloads run beside the window; the ones refused at once come back here.
        let (refusals_tx, mut refusals) = mpsc::unbounded_channel();
        self.draw()?;
        let mut ended = false;
        loop {
            let actions = tokio::select! {
                event = self.events.next() => match event {
                    Some(Event::Key(key)) => self.state.input(key),
                    Some(Event::Paste(text)) => self.state.paste(&text),
                    Some(_) => Vec::new(),
                    None => break,
                },
                signal = inbound.next(), if !ended => match signal {
                    Some(signal) => self.state.apply(&signal),
                    // Every session ended: the window stays, showing why, until the person
                    // leaves.
                    None => {
                        ended = true;
                        self.state.info("every session has ended: /quit or Ctrl-C leaves");
                        Vec::new()
                    }
                },
                Some((id, error)) = refusals.recv() => {
                    self.state.refused(&id, &error);
                    Vec::new()
                }
                _ = tick.tick() => self.state.tick(Instant::now()),
            };
            for action in actions {
                let Some(action) = download_aside(&handle, action, &refusals_tx) else {
                    continue;
                };
                if perform(&mut self.state, &handle, action).await == Flow::Quit {
                    self.draw()?;
                    return Ok(());
                }
            }
            self.draw()?;
        }
        Ok(())
    }
}

/// The terminal chat window: a person at a terminal as a bot. Its [`run`](Bot::run) shows the
/// inbound signals in a full-screen window and sends what the person types through the handle;
/// the terminal is put back as it was when it ends, on Ctrl-C, SIGINT, SIGTERM and SIGHUP
/// (each closes the window as Ctrl-C does), and on a panic.
///
/// ```no_run
/// use chatty_client::TerminalClient;
/// use chatty_core::Router;
/// use chatty_direct::Network;
///
/// # async fn example(network: Network) {
/// let window = TerminalClient::new().talk_to(network.address("bot"));
/// Router::new().session(network.endpoint("you")).run(window).await.unwrap();
/// # }
/// ```
#[derive(Debug, Default)]
pub struct TerminalClient {
    state: ChatState,
}

impl TerminalClient {
    /// A window with no conversation open yet.
    pub fn new() -> Self {
        TerminalClient::default()
    }

    /// Opens the conversation with `address` (the bot to talk to) when the window opens.
    #[must_use]
    pub fn talk_to(mut self, address: Address) -> Self {
        self.state.open(address);
        self
    }

    /// The state the window starts with.
    pub fn state(&self) -> &ChatState {
        &self.state
    }
}

impl Bot for TerminalClient {
    async fn run(self, inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        let guard = TerminalGuard::enter()?;
        let terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        // In raw mode Ctrl-C is a key; an interrupt from outside (`kill -INT`) becomes one too,
        // and so do SIGTERM and SIGHUP: the window closes as on Ctrl-C, and the terminal is put
        // back.
        let interrupts = stream::unfold((), |()| async {
            tokio::signal::ctrl_c().await.ok()?;
            Some((quit_key(), ()))
        });
        let keys = EventStream::new().filter_map(|event| async move { event.ok() });
        let events = stream::select(keys, stream::select(interrupts, terminations()));
        let result = ChatWindow::new(self.state, terminal, events)
            .run(inbound, handle)
            .await;
        drop(guard);
        result
    }
}

/// The key that closes the window (Ctrl-C), which a signal to end becomes.
fn quit_key() -> Event {
    Event::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL))
}

/// SIGTERM and SIGHUP, each as the key that closes the window (nothing where there are no such
/// signals). Once the window listens for them they no longer end the process by themselves: the
/// window closes and its program goes on to its end.
fn terminations() -> BoxStream<'static, Event> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut streams = Vec::new();
        for kind in [SignalKind::terminate(), SignalKind::hangup()] {
            match signal(kind) {
                Ok(signals) => streams.push(
                    stream::unfold(signals, |mut signals| async move {
                        signals.recv().await?;
                        Some((quit_key(), signals))
                    })
                    .boxed(),
                ),
                Err(e) => tracing::warn!("the terminal window cannot listen for {kind:?}: {e}"),
            }
        }
        stream::select_all(streams).boxed()
    }
    #[cfg(not(unix))]
    {
        stream::empty().boxed()
    }
}

/// Whether the terminal is in raw mode on the alternate screen (so that restoring twice does
/// nothing).
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Raw mode and the alternate screen while it lives; the terminal as it was after.
struct TerminalGuard;

impl TerminalGuard {
    fn enter() -> io::Result<TerminalGuard> {
        install_panic_hook();
        crossterm::terminal::enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let guard = TerminalGuard;
        crossterm::execute!(
            io::stdout(),
            crossterm::terminal::EnterAlternateScreen,
            crossterm::event::EnableBracketedPaste
        )?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Puts the terminal back: leaves the alternate screen and raw mode, shows the cursor.
fn restore_terminal() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = crossterm::execute!(
            io::stdout(),
            crossterm::event::DisableBracketedPaste,
            crossterm::terminal::LeaveAlternateScreen,
            crossterm::cursor::Show
        );
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// Restores the terminal before a panic's message is printed (so that it can be read).
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            previous(info);
        }));
    });
}
