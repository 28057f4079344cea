//! The demo bot: an echo with a twist, and a few commands that show off the standard interface.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chatty_core::prelude::*;
use chatty_core::reexports::serde_json::json;
use chatty_core::{AddressKind, File, TypingState, UserDefined, now};

/// The commands the bot knows, with what they do: the text of `/help`.
pub const COMMANDS: &[(&str, &str)] = &[
    (
        "/help",
        "this list (with a subject, and as HTML for clients that show it)",
    ),
    ("/time", "the time, in UTC"),
    (
        "/whoami",
        "who you are, as the network tells the bot (two queries)",
    ),
    (
        "/stats",
        "a user-defined signal `stats` with how many messages you sent",
    ),
    (
        "/send PATH",
        "the file at PATH (on the bot's machine), sent as a file",
    ),
];

/// The demo bot.
///
/// - A message is answered with an echo and the text backwards; a line starting with `/` is a
///   command (see [`COMMANDS`]).
/// - Every answer is preceded by a typing notification (`Status::Typing`, composing).
/// - A file is acknowledged with its name and size.
/// - When its session is about to end, it says goodbye to everyone it talked with.
/// - Answers go to everyone who saw the message ([`Signal::reply_all`]): the room, the person,
///   or a mail's sender with its other recipients as copies.
/// - Anything a machine sent ([`Signal::is_automatic`]: an out-of-office, a bounce, a list,
///   another bot) is never answered, so that two responders never answer each other forever.
///
/// ```
/// use chatty_direct::Harness;
/// use chatty_examples::DemoBot;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let harness = Harness::start(DemoBot::new()).await;
/// harness.say("hello").await;
/// let _typing = harness.next().await; // `* bot is typing…`
/// let (_, answer) = harness.expect_message().await;
/// assert_eq!(answer.text, "echo: hello (backwards: olleh)");
/// harness.stop().await.unwrap();
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct DemoBot {
    typing_delay: Duration,
    /// `/send PATH` is refused (for a bot that strangers can reach).
    no_files: bool,
}

impl DemoBot {
    /// The bot, answering at once.
    pub fn new() -> Self {
        DemoBot::default()
    }

    /// Makes the bot "type" for `delay` between its typing notification and its answer.
    #[must_use]
    pub fn typing_delay(mut self, delay: Duration) -> Self {
        self.typing_delay = delay;
        self
    }

    /// Turns `/send PATH` off: a bot on a public account must not hand out its machine's files.
    #[must_use]
    pub fn without_files(mut self) -> Self {
        self.no_files = true;
        self
    }

    /// The answer to `text` from `from`, who has now sent `count` messages.
    async fn answer(&self, text: &str, from: &Address, count: u64, handle: &Handle) -> Body {
        let text = text.trim();
        let (command, argument) = text.split_once(' ').unwrap_or((text, ""));
        match command {
            "/help" => help().into(),
            "/time" => {
                let t = now();
                let clock = format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second());
                Message::text(format!("The time is {clock} UTC on {}.", t.date())).into()
            }
            "/whoami" => Message::text(whoami(from, handle).await).into(),
            "/stats" => {
                UserDefined::from_value("stats", json!({ "from": from.id(), "messages": count }))
                    .into()
            }
            "/send" if self.no_files => {
                Message::text("Sending files is turned off for this bot.").into()
            }
            "/send" => read_file(argument.trim()).await,
            _ if command.starts_with('/') => {
                Message::text(format!("I don't know {command}; try /help.")).into()
            }
            _ => {
                let backwards: String = text.chars().rev().collect();
                Message::text(format!("echo: {text} (backwards: {backwards})")).into()
            }
        }
    }
}

impl Bot for DemoBot {
    async fn run(self, mut inbound: Inbound, handle: Handle) -> Result<(), BotError> {
        // Whom the bot talked with, and how many messages each sent.
        let mut people: BTreeMap<Address, u64> = BTreeMap::new();
        while let Some(signal) = inbound.next().await {
            if signal.is_automatic() {
                continue;
            }
            let Some(from) = signal.meta.origin.clone() else {
                continue;
            };
            match &signal.body {
                Body::Message(message) => {
                    let count = people.entry(from.clone()).or_default();
                    *count += 1;
                    let count = *count;
                    for conversation in signal.reply_addresses() {
                        let typing = Status::Typing {
                            conversation,
                            state: TypingState::Composing,
                        };
                        // Where typing cannot be carried (email), the send is refused: the
                        // answer comes without it.
                        carry_on(handle.send(Signal::new(StatusChange::new(typing))).await)?;
                    }
                    tokio::time::sleep(self.typing_delay).await;
                    let answer = self.answer(&message.text, &from, count, &handle).await;
                    carry_on(handle.send(signal.reply_all(answer)).await)?;
                }
                Body::File(file) => {
                    let text = format!("Thanks for {} ({}).", file.name, size(file));
                    carry_on(handle.send(signal.reply_all(Message::text(text))).await)?;
                }
                // The session is about to end: the last chance to send.
                Body::SessionAboutToEnd(_) => {
                    for person in people.keys() {
                        carry_on(handle.say(person, "Goodbye!").await)?;
                    }
                }
                _ => {}
            }
        }
        Ok(()) // every session has ended
    }
}

/// Stops the bot only when nothing can be sent any more (every session has ended); a send
/// refused at once (a signal the session cannot carry, the answer limit) is left out.
fn carry_on(sent: Result<SignalId, SendError>) -> Result<(), SendError> {
    match sent {
        Err(e) if e.is_closed() => Err(e),
        Err(_) | Ok(_) => Ok(()),
    }
}

/// `/help`: the commands, with a subject and an HTML version.
fn help() -> Message {
    let mut text = String::from("Say anything and I echo it. Commands:");
    let mut html = String::from("<p>Say anything and I echo it. Commands:</p><ul>");
    for (command, what) in COMMANDS {
        text.push_str(&format!("\n  {command:<11} {what}"));
        html.push_str(&format!("<li><code>{command}</code>: {what}</li>"));
    }
    html.push_str("</ul>");
    Message::text(text).with_subject("Commands").with_html(html)
}

/// `/whoami`: asks the network what kind of address `from` is and what their presence is.
async fn whoami(from: &Address, handle: &Handle) -> String {
    let kind = match handle.address_kind(from).await {
        Ok(kind) => kind.as_str().to_owned(),
        Err(e) => format!("unknown ({e})"),
    };
    let presence = match handle.status(from).await {
        Ok(presence) => format!("{:?}", presence.availability).to_lowercase(),
        Err(e) => format!("unknown ({e})"),
    };
    let plain = from.with_kind(AddressKind::Unknown); // without `;kind=…`
    format!("You are {plain} ({kind}, {presence}).")
}

/// `/send PATH`: the file, or a message saying why not.
async fn read_file(path: &str) -> Body {
    if path.is_empty() {
        return Message::text("Usage: /send PATH").into();
    }
    match tokio::fs::read(path).await {
        Ok(data) => {
            let name = Path::new(path)
                .file_name()
                .map_or(path.into(), |n| n.to_string_lossy());
            File::bytes(name, Some(media_type(path)), data).into()
        }
        Err(e) => Message::text(format!("I cannot send {path}: {e}.")).into(),
    }
}

/// A media type from a file name's extension.
fn media_type(path: &str) -> &'static str {
    let extension = Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("");
    match extension.to_ascii_lowercase().as_str() {
        "txt" | "rs" | "toml" | "md" => "text/plain",
        "html" | "htm" => "text/html",
        "json" => "application/json",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        _ => "application/octet-stream",
    }
}

/// A file's size in words.
fn size(file: &File) -> String {
    match &file.content {
        chatty_core::Content::Bytes { data } => format!("{} bytes", data.len()),
        chatty_core::Content::Url { size: Some(n), .. } => format!("{n} bytes, by URL"),
        _ => "by URL".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chatty_core::Automatic;
    use chatty_direct::Harness;

    #[tokio::test]
    async fn never_answers_what_a_machine_sent() {
        let harness = Harness::start(DemoBot::new()).await;
        let mut out_of_office = Signal::message("I am away until Monday");
        out_of_office.meta.automatic = Some(Automatic::Replied);
        harness.send(out_of_office).await.unwrap();
        let mut other_bot = Signal::new(File::bytes("x.txt", None, &b"x"[..]));
        other_bot.meta.automatic = Some(Automatic::Bot);
        harness.send(other_bot).await.unwrap();
        harness.say("hello").await;
        // The first thing the bot says answers the person: nothing came before it.
        let first = harness.next().await.unwrap();
        assert!(matches!(first.body, Body::StatusChange(_)), "{first:?}");
        let (_, answer) = harness.expect_message().await;
        assert_eq!(answer.text, "echo: hello (backwards: olleh)");
        harness.stop().await.unwrap();
    }
}
