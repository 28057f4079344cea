//! Bots in any language: a process that reads signals as JSON lines on its standard input and
//! writes what it sends on its standard output.
//!
//! # The protocol, version 1
//!
//! Every line is one JSON object with a `type`. From Chatty to the process (standard input):
//!
//! | `type` | fields | when |
//! |---|---|---|
//! | `hello` | `version` (1), `bot` (its name in the config) | first, at every start |
//! | `signal` | `signal`: a signal (below) | every signal for the bot, internal ones included |
//! | `answer` | `id`, and `answer` (an answer) or `error` (a text) | the answer to a query |
//! | `error` | `message` | a line from the process could not be used |
//!
//! From the process to Chatty (standard output):
//!
//! | `type` | fields | what it does |
//! |---|---|---|
//! | `send` | `signal`: a signal; its `meta.id` may be left out | sends it |
//! | `query` | `id` (any JSON value, echoed back), `query`: a query | asks it |
//!
//! A signal is `{"meta": {...}, "body": {...}}` as chatty-core serializes it (see
//! `docs/process-bots.md`); the simplest answer is
//! `{"type": "send", "signal": {"meta": {"addressees": [ORIGIN], "response_to": ID}, "body":
//! {"type": "message", "text": "…"}}}`. Standard error is passed through to Chatty's.
//!
//! # Crashes
//! A process that exits is started again after a backoff (doubling from `restart_min_ms` to
//! `restart_max_ms`, reset after it ran for a minute). Signals that arrive meanwhile wait for it,
//! in order, and a signal whose write failed because the process had died is written again to the
//! next one. What the process had already read but not handled when it crashed is gone with it
//! (pipes and the process's own input buffer can hold several signals); a bot that must not lose
//! those keeps its own journal, or runs behind the Logger and asks it for history on `hello`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chatty_core::{Bot, BotError, Handle, Inbound, Query, Signal, SignalId};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

/// The version of the JSON-lines protocol this runner speaks.
pub const PROTOCOL_VERSION: u32 = 1;

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
        }
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
    /// An inbound signal for the bot.
    Signal(Box<Signal>),
    /// An answer to a query of the process started `generation`-th.
    Answer { generation: u64, line: String },
    /// An error about one of the process's lines.
    Error { generation: u64, line: String },
}

impl Bot for ProcessBot {
    async fn run(self, mut inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        // Everything for the process goes through one queue that outlives each process, so
        // that signals arriving while it is down wait in order.
        let (queue_tx, queue_rx) = mpsc::unbounded_channel::<Outgoing>();
        let queue_rx = Arc::new(tokio::sync::Mutex::new(queue_rx));
        // A signal whose write failed, to be written first to the next process.
        let retry: Arc<Mutex<Option<Signal>>> = Arc::new(Mutex::new(None));
        let (inbound_done_tx, inbound_done) = tokio::sync::watch::channel(false);
        let forward = {
            let queue_tx = queue_tx.clone();
            tokio::spawn(async move {
                while let Some(signal) = inbound.next().await {
                    if queue_tx.send(Outgoing::Signal(Box::new(signal))).is_err() {
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
            let (stop_writer, stop) = tokio::sync::oneshot::channel();
            let mut writer = tokio::spawn(write_lines(
                stdin,
                Writer {
                    bot: self.name.clone(),
                    generation,
                    queue: queue_rx.clone(),
                    retry: retry.clone(),
                    inbound_done: inbound_done.clone(),
                    stop,
                },
            ));
            let mut lines = BufReader::new(stdout).lines();
            loop {
                match lines.next_line().await {
                    Ok(Some(line)) => {
                        handle_line(&line, generation, &handle, &queue_tx).await;
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(bot = %self.name, "reading the bot process's output: {e}");
                        break;
                    }
                }
            }
            // Its output ended: it exited, or is about to. The writer stops when idle (a write
            // in progress fails on the closed pipe and keeps its signal for the next process).
            let _ = stop_writer.send(());
            if tokio::time::timeout(Duration::from_secs(5), &mut writer)
                .await
                .is_err()
            {
                writer.abort();
            }
            let status = match tokio::time::timeout(EXIT_GRACE, child.wait()).await {
                Ok(status) => status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|e| e.to_string()),
                Err(_) => {
                    let _ = child.kill().await;
                    "killed: it closed its output but did not exit".to_owned()
                }
            };
            if *inbound_done.borrow() && retry.lock().unwrap_or_else(|p| p.into_inner()).is_none() {
                // Every session ended and its input was closed: a normal end.
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
    retry: Arc<Mutex<Option<Signal>>>,
    inbound_done: tokio::sync::watch::Receiver<bool>,
    stop: tokio::sync::oneshot::Receiver<()>,
}

/// Writes the hello line and then the queue to one process, until the queue ends (every session
/// ended: the process's input is closed), a write fails (the process died), or it is stopped.
async fn write_lines(mut stdin: ChildStdin, writer: Writer) {
    let Writer {
        bot,
        generation,
        queue,
        retry,
        mut inbound_done,
        mut stop,
    } = writer;
    let hello = json!({"type": "hello", "version": PROTOCOL_VERSION, "bot": bot}).to_string();
    if write_line(&mut stdin, &hello).await.is_err() {
        return;
    }
    let first = retry.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(signal) = first
        && write_signal(&mut stdin, &signal).await.is_err()
    {
        *retry.lock().unwrap_or_else(|p| p.into_inner()) = Some(signal);
        return;
    }
    let mut queue = queue.lock().await;
    loop {
        let next = tokio::select! {
            biased;
            _ = &mut stop => return,
            next = queue.recv() => next,
            // Every session ended and nothing waits any more: close the input.
            _ = inbound_done.wait_for(|d| *d), if queue.is_empty() => None,
        };
        let Some(next) = next else { break };
        match next {
            Outgoing::Signal(signal) => {
                if write_signal(&mut stdin, &signal).await.is_err() {
                    *retry.lock().unwrap_or_else(|p| p.into_inner()) = Some(*signal);
                    return;
                }
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
                    return;
                }
            }
        }
    }
    let _ = stdin.shutdown().await;
}

async fn write_signal(stdin: &mut ChildStdin, signal: &Signal) -> std::io::Result<()> {
    let line = json!({"type": "signal", "signal": signal}).to_string();
    write_line(stdin, &line).await
}

async fn write_line(stdin: &mut ChildStdin, line: &str) -> std::io::Result<()> {
    stdin.write_all(line.as_bytes()).await?;
    stdin.write_all(b"\n").await?;
    stdin.flush().await
}

/// Handles one line from the process: a send or a query; anything else is answered with an
/// error line.
async fn handle_line(
    line: &str,
    generation: u64,
    handle: &Handle,
    queue: &mpsc::UnboundedSender<Outgoing>,
) {
    if line.trim().is_empty() {
        return;
    }
    let report = |message: String| {
        tracing::warn!("bot process: {message}");
        let line = json!({"type": "error", "message": message}).to_string();
        let _ = queue.send(Outgoing::Error { generation, line });
    };
    let value: Value = match serde_json::from_str(line) {
        Ok(value) => value,
        Err(e) => return report(format!("not a JSON line ({e}): {}", shorten(line))),
    };
    match value.get("type").and_then(Value::as_str) {
        Some("send") => match parse_signal(value.get("signal")) {
            Ok(signal) => {
                let id = signal.meta.id.clone();
                match handle.send(signal).await {
                    Ok(_) => {}
                    Err(e) if e.is_closed() => {
                        tracing::debug!("bot process: the bot's connection is closed");
                    }
                    // A refusal reaches the program as the signal it has always read for one:
                    // a send failure or an unsupported signal answering its send.
                    Err(e) => {
                        if let Some(failure) = e.to_signal(&id) {
                            let _ = queue.send(Outgoing::Signal(Box::new(failure)));
                        }
                    }
                }
            }
            Err(e) => report(format!("`send`: {e}")),
        },
        Some("query") => {
            let id = value.get("id").cloned().unwrap_or(Value::Null);
            let query: Query = match value.get("query").cloned().map(serde_json::from_value) {
                Some(Ok(query)) => query,
                Some(Err(e)) => return report(format!("`query`: not a query: {e}")),
                None => return report("`query` without `query`".to_owned()),
            };
            let handle = handle.clone();
            let queue = queue.clone();
            tokio::spawn(async move {
                let line = match handle.query(query).await {
                    Ok(answer) => json!({"type": "answer", "id": id, "answer": answer}),
                    Err(e) => json!({"type": "answer", "id": id, "error": e.to_string()}),
                };
                let _ = queue.send(Outgoing::Answer {
                    generation,
                    line: line.to_string(),
                });
            });
        }
        Some(other) => report(format!(
            "unknown line type `{other}`: expected `send` or `query`"
        )),
        None => report(format!("a line without `type`: {}", shorten(line))),
    }
}

/// A signal from the process: `meta.id` may be left out (a fresh one is made), `meta` too.
fn parse_signal(value: Option<&Value>) -> Result<Signal, String> {
    let Some(Value::Object(object)) = value else {
        return Err("`signal` is missing or not an object".to_owned());
    };
    let mut object = object.clone();
    let meta = object
        .entry("meta")
        .or_insert_with(|| Value::Object(Default::default()));
    let Value::Object(meta) = meta else {
        return Err("`signal.meta` is not an object".to_owned());
    };
    meta.entry("id")
        .or_insert_with(|| Value::String(SignalId::generate().as_str().to_owned()));
    serde_json::from_value(Value::Object(object)).map_err(|e| format!("not a signal: {e}"))
}

fn shorten(line: &str) -> String {
    const MAX: usize = 200;
    if line.len() <= MAX {
        return line.to_owned();
    }
    let mut end = MAX;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &line[..end])
}

#[cfg(test)]
mod hostile;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_from_a_process_needs_no_id() {
        let value = json!({"meta": {"addressees": ["direct:alice"]}, "body": {"type": "message", "text": "hi"}});
        let signal = parse_signal(Some(&value)).unwrap();
        assert!(!signal.id().as_str().is_empty());
        assert_eq!(signal.meta.addressees[0].to_string(), "direct:alice");
        assert!(parse_signal(Some(&json!({"body": {"nonsense": 1}}))).is_err());
        assert!(parse_signal(Some(&json!("text"))).is_err());
        assert!(parse_signal(None).is_err());
        assert!(parse_signal(Some(&json!({"meta": 3, "body": {}}))).is_err());
    }

    #[test]
    fn long_lines_are_shortened_on_a_char_boundary() {
        let line = "é".repeat(300);
        let short = shorten(&line);
        assert!(short.len() <= 204);
        assert!(short.ends_with('…'));
    }
}
