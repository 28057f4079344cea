//! Bots in any language: a process that reads signals as JSON lines on its standard input and
//! writes what it sends on its standard output.
//!
//! # The protocol
//!
//! Every line is one JSON object with a `type`. From Chatty to the process (standard input):
//!
//! | `type` | fields | when |
//! |---|---|---|
//! | `hello` | `version` (1), `versions` (`[1, 2]`: those the runner speaks), `bot` (its name in the config) | first, at every start |
//! | `signal` | `signal`: a signal (below) | every signal for the bot, internal ones included |
//! | `answer` | `id`, and `answer` (an answer) or `error` (a text) | the answer to a query |
//! | `error` | `message` | a line from the process could not be used |
//!
//! From the process to Chatty (standard output):
//!
//! | `type` | fields | what it does |
//! |---|---|---|
//! | `hello` | `version`: 2 | version 2 only, as its first line: it speaks version 2 |
//! | `send` | `signal`: a signal; its `meta.id` may be left out | sends it |
//! | `query` | `id` (any JSON value, echoed back), `query`: a query | asks it |
//! | `ack` | `id`: a signal's `meta.id` | version 2: it has finished that signal |
//!
//! A signal is `{"meta": {...}, "body": {...}}` as chatty-core serializes it (see
//! `docs/runner.md`); the simplest answer is
//! `{"type": "send", "signal": {"meta": {"addressees": [ORIGIN], "response_to": ID}, "body":
//! {"type": "message", "text": "…"}}}`. Standard error is passed through to Chatty's.
//!
//! ## Version 2: the program says when it has finished a signal
//!
//! The runner's `hello` says `version: 1` (what it speaks to a program that asks for nothing
//! else, so that a version-1 program that checks the number goes on working) and lists the
//! versions it speaks in `versions`. A program that speaks version 2 answers, as its **first
//! line**, `{"type": "hello", "version": 2}`, and then:
//!
//! - acknowledges **every** `signal` line it is given, once it has finished with it (sent what
//!   it sends in answer), with `{"type": "ack", "id": ID}`, `ID` being the signal's `meta.id`;
//!   in any order, so a program may work on several at once;
//! - when it dies and is started again, the new program is given first, in their order, the
//!   signals the dead one had not acknowledged; those the dead one had been given whole carry
//!   `"redelivered": true` in their `meta`;
//! - answers the dead program had sent to such a signal are not sent again. The runner counts,
//!   per signal, the answers a program sends to it (sends whose `meta.response_to` is its id),
//!   and of the next program's answers to that signal it skips as many. This **assumes that the
//!   program answers a signal the same way each time** it is given it: the same number of
//!   answers, in the same order. A program whose answers vary (a random choice, the time, what
//!   it read elsewhere) may have an answer skipped that was not sent, or one sent twice;
//! - under a runner with a [journal](chatty_core::journal), a signal the program had not
//!   acknowledged when the runner itself stopped (crashed, was killed) is given again after the
//!   runner restarts, also marked `redelivered`, and the answers to it that had left are not
//!   sent again: nothing the program did not finish is lost, nothing it answered is answered
//!   twice.
//!
//! ## Version 1
//!
//! A program that writes any other line first, or nothing at all within 10 seconds of its
//! start, speaks version 1: every program written before version 2, unchanged. A signal is
//! acknowledged once it was written whole to the program's standard input. What version 1 then
//! guarantees: every signal for the bot is written to the program (one whose write failed
//! because the program had died is written to the next one; under a runner with a journal,
//! one not written yet when the runner stopped is given after its restart). What the program
//! had been given but not handled when it, or the runner, died is lost: pipes and the
//! program's own input buffer can hold several signals. A program that must not lose those
//! speaks version 2.
//!
//! # Crashes
//! A process that exits is started again after a backoff (doubling from `restart_min_ms` to
//! `restart_max_ms`, reset after it ran for a minute). Signals that arrive meanwhile wait for it,
//! in order, behind those the last process did not finish (version 2) or whose write failed.
//!
//! # How many signals the program has in hand
//! At most [`IN_HAND`] signals (by default; [`ProcessBot::in_hand`]) wait for the program or
//! for its acknowledgement at once (a version-1 program's are acknowledged once written); the
//! next one is taken from the sessions only when one of them is done. A program that is slow,
//! or down, or never acknowledges, holds the sessions back (the platform keeps what they did
//! not take) instead of filling the runner's memory.
//!
//! # Versioning
//! A new field may appear in any object at any time: ignore what you do not know. A change that
//! would break a program of an earlier version is a new version, which a program asks for in
//! its `hello`.

mod flight;
#[cfg(test)]
mod hostile;
mod lines;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chatty_core::journal::Acks;
use chatty_core::{Bot, BotError, Handle, Inbound, Signal, SystemError};
use futures::StreamExt;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use flight::{Flight, Version};
use lines::{Reader, lock};

/// How many signals a program has in hand at most by default: given to it or waiting for it,
/// and not acknowledged ([`ProcessBot::in_hand`]).
pub const IN_HAND: usize = 1_000;

/// The newest version of the JSON-lines protocol this runner speaks.
pub const PROTOCOL_VERSION: u32 = 2;

/// The versions of the protocol this runner speaks, told to the program in `hello`.
pub const PROTOCOL_VERSIONS: [u32; 2] = [1, 2];

/// How long a program may take to say its `hello` (version 2) before it is taken to speak
/// version 1.
const HELLO_GRACE: Duration = Duration::from_secs(10);

/// How long a process may take to exit after its input closed, before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(10);

/// After running this long, a process that exits is restarted without waiting.
const STABLE_RUN: Duration = Duration::from_secs(60);

/// A bot in another process, speaking the JSON-lines protocol described in the
/// [module docs](self).
///
/// ```no_run
/// use chatty::ProcessBot;
///
/// let bot = ProcessBot::new("echo", "python3").arg("echo.py");
/// # let _ = bot;
/// ```
#[derive(Debug, Clone)]
pub struct ProcessBot {
    name: String,
    command: String,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    dir: Option<PathBuf>,
    restart_min: Duration,
    restart_max: Duration,
    in_hand: usize,
}

impl ProcessBot {
    /// The bot `name` (told to the process in `hello`) run as `command`.
    pub fn new(name: impl Into<String>, command: impl Into<String>) -> Self {
        ProcessBot {
            name: name.into(),
            command: command.into(),
            args: Vec::new(),
            env: BTreeMap::new(),
            dir: None,
            restart_min: Duration::from_millis(500),
            restart_max: Duration::from_secs(30),
            in_hand: IN_HAND,
        }
    }

    /// How many signals the program may have in hand at most (given to it or waiting for it,
    /// and not acknowledged): [`IN_HAND`] by default, at least 1.
    #[must_use]
    pub fn in_hand(mut self, signals: usize) -> Self {
        self.in_hand = signals.max(1);
        self
    }

    /// Adds an argument.
    #[must_use]
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Adds arguments.
    #[must_use]
    pub fn args(mut self, args: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable for the process.
    #[must_use]
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Runs the process in `dir`.
    #[must_use]
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// The restart backoff: the first wait, and the longest.
    #[must_use]
    pub fn restart_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.restart_min = min.max(Duration::from_millis(1));
        self.restart_max = max.max(self.restart_min);
        self
    }

    fn spawn(&self) -> std::io::Result<Child> {
        let mut command = Command::new(&self.command);
        command
            .args(&self.args)
            .envs(&self.env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        command.spawn()
    }
}

/// A line waiting to be written to the process.
#[derive(Debug)]
enum Outgoing {
    /// An inbound signal for the bot, with its place among those in hand (none for what the
    /// runner itself tells the program).
    Signal(Box<Signal>, Option<OwnedSemaphorePermit>),
    /// An answer to a query of the process started `generation`-th.
    Answer { generation: u64, line: String },
    /// An error about one of the process's lines.
    Error { generation: u64, line: String },
}

impl Bot for ProcessBot {
    async fn run(self, mut inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        // Everything for the process goes through one queue that outlives each process, so
        // that signals arriving while it is down wait in order.
        // Unbounded, but never holding more than `in_hand` signals (and the answers to the
        // program's own queries, which it waits for).
        let (queue_tx, queue_rx) = mpsc::unbounded_channel::<Outgoing>();
        let in_hand = Arc::new(Semaphore::new(self.in_hand));
        let queue_rx = Arc::new(tokio::sync::Mutex::new(queue_rx));
        // What the process was given and has not finished: given first to the next one.
        let flight = Arc::new(Mutex::new(Flight::new(handle.clone())));
        let (inbound_done_tx, inbound_done) = tokio::sync::watch::channel(false);
        let forward = {
            let queue_tx = queue_tx.clone();
            tokio::spawn(async move {
                while let Some(signal) = inbound.next().await {
                    // A signal from a platform takes a place among those in hand, and waits
                    // for one: the next stays with the sessions meanwhile. What the router
                    // itself tells the bot (a session ending, a send failure) is not counted.
                    let place = match signal.body.kind().is_internal() {
                        true => None,
                        false => match in_hand.clone().acquire_owned().await {
                            Ok(place) => Some(place),
                            Err(_) => break,
                        },
                    };
                    if queue_tx
                        .send(Outgoing::Signal(Box::new(signal), place))
                        .is_err()
                    {
                        break;
                    }
                }
                let _ = inbound_done_tx.send(true);
            })
        };

        let mut backoff = self.restart_min;
        let mut generation = 0u64;
        loop {
            generation += 1;
            let mut child = match self.spawn() {
                Ok(child) => child,
                Err(e) => {
                    tracing::error!(bot = %self.name, command = %self.command, "cannot start the bot process: {e}; retrying in {backoff:?}");
                    if wait_or_done(backoff, &inbound_done).await {
                        break;
                    }
                    backoff = (backoff * 2).min(self.restart_max);
                    continue;
                }
            };
            let started = Instant::now();
            let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
                return Err("the bot process has no standard input or output".into());
            };
            let again = lock(&flight).restart();
            if !again.is_empty() {
                tracing::info!(bot = %self.name, "giving the new bot process the {} signals the last one did not finish", again.len());
            }
            let (stop_writer, stop) = tokio::sync::oneshot::channel();
            let mut writer = tokio::spawn(write_lines(
                stdin,
                Writer {
                    bot: self.name.clone(),
                    generation,
                    queue: queue_rx.clone(),
                    flight: flight.clone(),
                    again,
                    inbound_done: inbound_done.clone(),
                    stop,
                },
            ));
            let reader = Reader {
                generation,
                handle: handle.clone(),
                queue: queue_tx.clone(),
                flight: flight.clone(),
            };
            read_lines(&self.name, BufReader::new(stdout), &reader).await;
            // Its output ended: it exited, or is about to. The writer stops when idle (a write
            // in progress fails on the closed pipe and stays unwritten for the next process).
            let _ = stop_writer.send(());
            let closed_input = match tokio::time::timeout(Duration::from_secs(5), &mut writer).await
            {
                Ok(closed) => closed.unwrap_or(false),
                Err(_) => {
                    writer.abort();
                    false
                }
            };
            let status = match tokio::time::timeout(EXIT_GRACE, child.wait()).await {
                Ok(status) => status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|e| e.to_string()),
                Err(_) => {
                    let _ = child.kill().await;
                    "killed: it closed its output but did not exit".to_owned()
                }
            };
            if *inbound_done.borrow() && closed_input {
                // Every session ended, everything was written and its input was closed: a
                // normal end. A program that never said hello spoke version 1.
                let mut flight = lock(&flight);
                if flight.version() == Version::Unknown {
                    flight.speaks(Version::One);
                }
                if flight.len() > 0 {
                    tracing::warn!(bot = %self.name, "the bot process ended without acknowledging {} signals: with a journal, they are given again when the runner next starts", flight.len());
                }
                tracing::info!(bot = %self.name, "the bot process ended ({status})");
                break;
            }
            if started.elapsed() >= STABLE_RUN {
                backoff = self.restart_min;
            }
            tracing::warn!(bot = %self.name, "the bot process exited ({status}); restarting it in {backoff:?}");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(self.restart_max);
        }
        forward.abort();
        Ok(())
    }

    /// Explicitly: the process reads ahead of what it has finished. A version-2 program
    /// acknowledges each signal itself; a version-1 program's are acknowledged once written.
    fn acks(&self) -> Acks {
        Acks::Explicit
    }
}

/// Reads the program's lines until its output ends. Until its version is known, waits at most
/// [`HELLO_GRACE`] for its first line; after that it speaks version 1.
async fn read_lines(bot: &str, stdout: BufReader<tokio::process::ChildStdout>, reader: &Reader) {
    // Lines as bytes (`split` keeps what it read in itself, so a wait cut short loses nothing,
    // as `lines` does): a line that is not UTF-8 is answered with an error line, and the lines
    // after it are read on.
    let mut lines = stdout.split(b'\n');
    let hello_by = tokio::time::Instant::now() + HELLO_GRACE;
    loop {
        let unknown = lock(&reader.flight).version() == Version::Unknown;
        let next = if unknown {
            tokio::select! {
                next = lines.next_segment() => next,
                () = tokio::time::sleep_until(hello_by) => {
                    let mut flight = lock(&reader.flight);
                    if flight.version() == Version::Unknown {
                        flight.speaks(Version::One);
                    }
                    continue;
                }
            }
        } else {
            lines.next_segment().await
        };
        match next {
            Ok(Some(mut bytes)) => {
                if bytes.last() == Some(&b'\r') {
                    bytes.pop();
                }
                match String::from_utf8(bytes) {
                    Ok(line) => reader.line(&line).await,
                    Err(e) => {
                        reader.report(format!("a line that is not UTF-8: {}", e.utf8_error()))
                    }
                }
            }
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(bot = %bot, "reading the bot process's output: {e}");
                break;
            }
        }
    }
}

/// Sleeps `wait`; `true` if every session ended meanwhile (or already had).
async fn wait_or_done(wait: Duration, done: &tokio::sync::watch::Receiver<bool>) -> bool {
    let mut done = done.clone();
    if *done.borrow() {
        return true;
    }
    tokio::select! {
        () = tokio::time::sleep(wait) => false,
        _ = done.wait_for(|d| *d) => true,
    }
}

/// What the writer of one process needs.
#[derive(Debug)]
struct Writer {
    bot: String,
    generation: u64,
    queue: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Outgoing>>>,
    flight: Arc<Mutex<Flight>>,
    /// What the last process did not finish, with its entry numbers: written first.
    again: Vec<(u64, Signal)>,
    inbound_done: tokio::sync::watch::Receiver<bool>,
    stop: tokio::sync::oneshot::Receiver<()>,
}

/// Writes the hello line, what the last process did not finish, and then the queue to one
/// process, until the queue ends (every session ended: the process's input is closed; then
/// `true`), a write fails (the process died), or it is stopped.
async fn write_lines(mut stdin: ChildStdin, writer: Writer) -> bool {
    let Writer {
        bot,
        generation,
        queue,
        flight,
        again,
        mut inbound_done,
        mut stop,
    } = writer;
    let hello = json!({"type": "hello", "version": 1, "versions": PROTOCOL_VERSIONS, "bot": bot})
        .to_string();
    if write_line(&mut stdin, &hello).await.is_err() {
        return false;
    }
    for (number, signal) in again {
        if write_line(&mut stdin, &signal_line(&signal)).await.is_err() {
            return false;
        }
        lock(&flight).written(number);
    }
    let mut queue = queue.lock().await;
    loop {
        let next = tokio::select! {
            biased;
            _ = &mut stop => return false,
            next = queue.recv() => next,
            // Every session ended and nothing waits any more: close the input.
            _ = inbound_done.wait_for(|d| *d), if queue.is_empty() => None,
        };
        let Some(next) = next else { break };
        match next {
            Outgoing::Signal(signal, place) => {
                let line = signal_line(&signal);
                let number = lock(&flight).add(*signal, place);
                if write_line(&mut stdin, &line).await.is_err() {
                    // It stays in flight, unwritten: the next process gets it.
                    return false;
                }
                lock(&flight).written(number);
            }
            Outgoing::Answer {
                generation: g,
                line,
            }
            | Outgoing::Error {
                generation: g,
                line,
            } => {
                // An answer for a process that is gone means nothing to the next one.
                if g == generation && write_line(&mut stdin, &line).await.is_err() {
                    return false;
                }
            }
        }
    }
    let _ = stdin.shutdown().await;
    true
}

fn signal_line(signal: &Signal) -> String {
    match serde_json::to_value(signal) {
        Ok(value) => json!({"type": "signal", "signal": value}).to_string(),
        // The program is told, in the signal's place, rather than the writer failing.
        Err(e) => {
            let cause = format!(
                "signal {} could not be written as JSON: {e}",
                signal.meta.id
            );
            let report = Signal::internal(None, SystemError::new("chatty process bot", cause));
            json!({"type": "signal", "signal": report}).to_string()
        }
    }
}

async fn write_line(stdin: &mut ChildStdin, line: &str) -> std::io::Result<()> {
    stdin.write_all(line.as_bytes()).await?;
    stdin.write_all(b"\n").await?;
    stdin.flush().await
}
