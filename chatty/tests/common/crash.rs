//! What the SIGKILL crash tests share: the `chatty` program under test (started with a config,
//! SIGKILLed, started again, its logs), and the count of lost and repeated answers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::time::Instant;

/// The `chatty` program under test: `chatty run bot.toml`, run twice (before and after the kill),
/// each run's output in a log of its own (`run-1.log`, `run-2.log`) beside the config.
pub(crate) struct Chatty {
    config: PathBuf,
    logs: [PathBuf; 2],
    rust_log: String,
    child: Child,
    /// When it was killed.
    killed_at: Option<Instant>,
    /// The answers and the messages sent when [`Chatty::step`] killed it.
    at_kill: Option<(usize, usize)>,
    restarted: bool,
}

impl Chatty {
    /// Writes `config` to `bot.toml` in `dir` (the journal beside it, by default) and starts
    /// `chatty run` on it, with `RUST_LOG` set to `rust_log`.
    pub(crate) fn start(dir: &Path, config: &str, rust_log: &str) -> Chatty {
        let path = dir.join("bot.toml");
        std::fs::write(&path, config).unwrap();
        let logs = [dir.join("run-1.log"), dir.join("run-2.log")];
        let child = spawn(&path, &logs[0], rust_log);
        Chatty {
            config: path,
            logs,
            rust_log: rust_log.to_owned(),
            child,
            killed_at: None,
            at_kill: None,
            restarted: false,
        }
    }

    /// SIGKILLs it and waits until it is gone.
    pub(crate) fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
        self.killed_at = Some(Instant::now());
    }

    /// Starts it again with the same config, its log in `run-2.log`.
    pub(crate) fn restart(&mut self) {
        self.child = spawn(&self.config, &self.logs[1], &self.rust_log);
        self.restarted = true;
    }

    /// One step of a burst: kills it once `answered` reaches `kill_after` (noting `answered`
    /// and `sent`), starts it again once it has been dead for `dead_for`, and panics if it
    /// ended by itself while it should run. Whether it killed it now.
    pub(crate) fn step(
        &mut self,
        answered: usize,
        sent: usize,
        kill_after: usize,
        dead_for: Duration,
    ) -> bool {
        let mut killed = false;
        match (self.killed_at, self.restarted) {
            (None, _) if answered >= kill_after => {
                self.kill();
                self.at_kill = Some((answered, sent));
                killed = true;
            }
            (Some(at), false) if at.elapsed() >= dead_for => self.restart(),
            _ => {}
        }
        if !self.dead() {
            self.check();
        }
        killed
    }

    /// Panics if it ended by itself, with the end of its log.
    pub(crate) fn check(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("chatty ended by itself ({status}):\n{}", self.tail());
        }
    }

    /// Stops it (at the end of a test).
    pub(crate) fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether it was killed (and maybe started again since).
    pub(crate) fn killed(&self) -> bool {
        self.killed_at.is_some()
    }

    /// Whether it was killed and is not running again yet.
    pub(crate) fn dead(&self) -> bool {
        self.killed() && !self.restarted
    }

    /// Whether it was started again after the kill.
    pub(crate) fn restarted(&self) -> bool {
        self.restarted
    }

    /// The answers and the messages sent when [`Chatty::step`] killed it ((0, 0) if it did
    /// not).
    pub(crate) fn at_kill(&self) -> (usize, usize) {
        self.at_kill.unwrap_or((0, 0))
    }

    /// The last lines of the current run's log.
    pub(crate) fn tail(&self) -> String {
        tail(&self.logs[usize::from(self.restarted)])
    }

    /// The last lines of both runs' logs, for a report.
    pub(crate) fn logs(&self) -> String {
        format!(
            "--- first run:\n{}\n--- second run:\n{}",
            tail(&self.logs[0]),
            tail(&self.logs[1])
        )
    }

    /// The lines of the second run's log that contain `text`, without their colours.
    pub(crate) fn second_run_lines(&self, text: &str) -> Vec<String> {
        std::fs::read_to_string(&self.logs[1])
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(text))
            .map(plain)
            .collect()
    }

    /// Asserts the end of a burst of `burst` messages: it was killed and started again, the kill
    /// came before the end of the burst, and no message was lost or answered twice; `report`
    /// tells what happened. `messages` is how many messages have an answer.
    pub(crate) fn assert_once_each<V>(
        &self,
        burst: usize,
        messages: usize,
        lost: &[usize],
        twice: &BTreeMap<&usize, &V>,
        report: impl Fn() -> String,
    ) {
        let (at_kill, sent_at_kill) = self.at_kill();
        assert!(self.restarted, "never killed: {messages} answers");
        assert!(
            at_kill < burst && sent_at_kill < burst,
            "the kill came after the burst: {}",
            report()
        );
        assert!(
            lost.is_empty() && twice.is_empty(),
            "{} lost, {} answered twice: {}",
            lost.len(),
            twice.len(),
            report()
        );
    }
}

impl Chatty {
    /// Prints what a burst of `burst` messages came to (`sent` of them sent, `answers` counted
    /// per message, the bot dead for `dead_for`), then asserts as
    /// [`assert_once_each`](Chatty::assert_once_each) does.
    pub(crate) fn assert_burst(
        &self,
        burst: usize,
        sent: usize,
        dead_for: Duration,
        answers: &BTreeMap<usize, usize>,
    ) {
        let (at_kill, sent_at_kill) = self.at_kill();
        let lost = lost(burst, answers);
        let twice = twice(answers);
        eprintln!(
            "{sent} of {burst} sent; killed with {at_kill} answers and {sent_at_kill} sent, \
             restarted {dead_for:?} later; {} answers for {} messages, lost {}, answered twice {}",
            answers.values().sum::<usize>(),
            answers.len(),
            lost.len(),
            twice.len(),
        );
        let report = || format!("lost {}; twice {twice:?}\n{}", ranges(&lost), self.logs());
        self.assert_once_each(burst, answers.len(), &lost, &twice, report);
    }
}

/// A test that fails leaves no `chatty` running: it would go on answering on its account.
impl Drop for Chatty {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts `chatty run config`, its log in `log`.
fn spawn(config: &Path, log: &Path, rust_log: &str) -> Child {
    let log = std::fs::File::create(log).unwrap();
    Command::new(env!("CARGO_BIN_EXE_chatty"))
        .arg("run")
        .arg(config)
        .env("RUST_LOG", rust_log)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("the chatty program starts")
}

/// The answers to a message: how many there are.
pub(crate) trait Answers {
    /// How many answers.
    fn count(&self) -> usize;
}

impl Answers for usize {
    fn count(&self) -> usize {
        *self
    }
}

impl<T> Answers for Vec<T> {
    fn count(&self) -> usize {
        self.len()
    }
}

/// The messages below `burst` without an answer in `answers` (answers per message).
pub(crate) fn lost<V>(burst: usize, answers: &BTreeMap<usize, V>) -> Vec<usize> {
    (0..burst).filter(|i| !answers.contains_key(i)).collect()
}

/// The messages with more than one answer in `answers`, with their answers.
pub(crate) fn twice<V: Answers>(answers: &BTreeMap<usize, V>) -> BTreeMap<&usize, &V> {
    answers.iter().filter(|(_, a)| a.count() > 1).collect()
}

/// `numbers` (ascending) as ranges: `3-7, 9`.
pub(crate) fn ranges(numbers: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < numbers.len() {
        let mut j = i;
        while j + 1 < numbers.len() && numbers[j + 1] == numbers[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            numbers[i].to_string()
        } else {
            format!("{}-{}", numbers[i], numbers[j])
        });
        i = j + 1;
    }
    out.join(", ")
}

/// The last lines of a log.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// A log line without its colours (ANSI escape sequences).
pub(crate) fn plain(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ parameters final-letter
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
