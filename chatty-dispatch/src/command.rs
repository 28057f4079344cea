//! Commands: a line such as `!ticket open printer on fire` parsed into a type the bot author
//! derives with clap.
//!
//! clap does the typed arguments, the errors that say what was expected and the help; this
//! module finds a command's words in a message (its prefix, or the platform's own mark for a
//! Slack slash command) and renders clap's output for a chat.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use clap::CommandFactory;

/// A parsed command, before the handler's [`Command`](crate::Command) extractor takes it.
pub(crate) type Parsed = Box<dyn Any + Send>;

/// What parsing a command line gave: the command, or what to answer instead (the error, the
/// help).
pub(crate) enum Outcome {
    /// The command, typed.
    Parsed(Parsed),
    /// Not what the command takes, or a request for help: the text to answer with.
    Answer(String),
}

/// Parses a command's words, given the prefix they were written with.
type ParseFn = dyn Fn(&str, &[String]) -> Outcome + Send + Sync;

/// A command's help, given the prefix.
type HelpFn = dyn Fn(&str) -> String + Send + Sync;

/// One command a dispatcher knows: its names, its help, and its parser.
#[derive(Clone)]
pub(crate) struct CommandSpec {
    /// The names a line may start with (a multicall enum has one per variant).
    pub(crate) names: Vec<String>,
    /// One line about each name, for the list of commands.
    pub(crate) abouts: Vec<String>,
    parse: Arc<ParseFn>,
    help: Arc<HelpFn>,
}

impl fmt::Debug for CommandSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandSpec")
            .field("names", &self.names)
            .field("abouts", &self.abouts)
            .finish_non_exhaustive()
    }
}

impl CommandSpec {
    /// The spec of a clap command type `T`.
    pub(crate) fn of<T: clap::Parser + Send + 'static>() -> Self {
        let command = T::command();
        let about_of =
            |c: &clap::Command| c.get_about().map(ToString::to_string).unwrap_or_default();
        let mut names = Vec::new();
        let mut abouts = Vec::new();
        if command.is_multicall_set() {
            for sub in command.get_subcommands() {
                for name in std::iter::once(sub.get_name()).chain(sub.get_all_aliases()) {
                    names.push(name.to_owned());
                    abouts.push(about_of(sub));
                }
            }
        } else {
            for name in std::iter::once(command.get_name()).chain(command.get_all_aliases()) {
                names.push(name.to_owned());
                abouts.push(about_of(&command));
            }
        }
        CommandSpec {
            names,
            abouts,
            parse: {
                // clap's command built once per prefix: building it for each line cost more
                // than the parsing.
                let built: Mutex<HashMap<String, clap::Command>> = Mutex::default();
                Arc::new(move |prefix: &str, words: &[String]| {
                    let mut command = built
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .entry(prefix.to_owned())
                        .or_insert_with(|| {
                            let mut command = for_chat::<T>(prefix);
                            command.build();
                            command
                        })
                        .clone();
                    parse::<T>(&mut command, prefix, words)
                })
            },
            help: Arc::new(|prefix| {
                let mut command = for_chat::<T>(prefix);
                command.render_help().to_string()
            }),
        }
    }

    /// Parses `words` (the command's name first); `prefix` is how the person wrote it (`!`), for
    /// the usage lines of errors and help.
    pub(crate) fn parse(&self, prefix: &str, words: &[String]) -> Outcome {
        (self.parse)(prefix, words)
    }

    /// The command's help, as `prefix` writes it.
    pub(crate) fn help(&self, prefix: &str) -> String {
        (self.help)(prefix)
    }
}

/// `T`'s clap command, set up for a chat: usage lines with the prefix (`!ticket`). Without
/// clap's `color` feature, its text is plain.
fn for_chat<T: CommandFactory>(prefix: &str) -> clap::Command {
    let command = T::command();
    if command.is_multicall_set() {
        // Each subcommand is a command of its own (`!ping`); clap names it without the
        // prefix, which `in_chat` adds.
        command
    } else {
        let name = format!("{prefix}{}", command.get_name());
        command.bin_name(name)
    }
}

/// Parses `words` with `command`, `T`'s clap command for `prefix`.
fn parse<T: clap::Parser + Send + 'static>(
    command: &mut clap::Command,
    prefix: &str,
    words: &[String],
) -> Outcome {
    let result = command
        .try_get_matches_from_mut(words)
        .and_then(|matches| T::from_arg_matches(&matches).map_err(|e| e.format(command)));
    match result {
        Ok(parsed) => Outcome::Parsed(Box::new(parsed)),
        Err(e) => Outcome::Answer(in_chat(command, prefix, words, &e)),
    }
}

/// clap's text for an error or a help request, as a chat shows it: the usage of the command
/// the words name, with the prefix the person typed.
fn in_chat(command: &mut clap::Command, prefix: &str, words: &[String], e: &clap::Error) -> String {
    let mut text = e.render().to_string().trim_end().to_owned();
    let multicall = command.is_multicall_set();
    command.build();
    // The deepest subcommand the words name.
    let mut path: Vec<String> = Vec::new();
    let mut at: &clap::Command = command;
    for word in words.iter().skip(usize::from(!multicall)) {
        match at.find_subcommand(word) {
            Some(sub) => {
                path.push(sub.get_name().to_owned());
                at = sub;
            }
            None => break,
        }
    }
    let full = if multicall {
        format!("{prefix}{}", path.join(" "))
    } else {
        std::iter::once(format!("{prefix}{}", command.get_name()))
            .chain(path.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let is_help = matches!(
        e.kind(),
        clap::error::ErrorKind::DisplayHelp
            | clap::error::ErrorKind::DisplayVersion
            | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if !is_help && !text.contains("Usage:") {
        let usage = at.clone().render_usage().to_string();
        text = format!("{text}\n\n{}", usage.trim_end());
    }
    if multicall && let Some(name) = path.first() {
        text = text.replace(&format!("Usage: {name}"), &format!("Usage: {prefix}{name}"));
    }
    text.replace("try '--help'", &format!("try '{full} --help'"))
}

/// Where a message's command words start: after the prefix, or, for a message the platform
/// marked as a command (a Slack slash command), after its `/`. `None` for other messages.
pub(crate) fn command_line<'a>(text: &'a str, prefix: &str, marked: bool) -> Option<&'a str> {
    let text = text.trim_start();
    if marked {
        return Some(text.strip_prefix('/').unwrap_or(text));
    }
    if prefix.is_empty() {
        return None;
    }
    let rest = text.strip_prefix(prefix)?;
    // `! ticket` and `!!` are not commands.
    rest.starts_with(|c: char| c.is_alphanumeric())
        .then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Parser, Subcommand};

    /// Tickets.
    #[derive(Debug, Parser, PartialEq)]
    #[command(name = "ticket")]
    enum Ticket {
        /// Opens a ticket.
        Open {
            /// What is wrong.
            #[arg(required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
            text: Vec<String>,
        },
        /// Lists your tickets.
        List,
        /// Closes a ticket.
        Close {
            /// Its number.
            n: u32,
        },
    }

    #[derive(Debug, Parser, PartialEq)]
    #[command(multicall = true)]
    enum Small {
        /// Answers pong.
        Ping,
        /// Says it back.
        Say { words: Vec<String> },
    }

    #[derive(Debug, Subcommand, PartialEq)]
    enum Unused {}

    fn w(line: &str) -> Vec<String> {
        crate::words(line)
    }

    fn parsed<T: 'static>(outcome: Outcome) -> T {
        match outcome {
            Outcome::Parsed(p) => *p.downcast::<T>().unwrap(),
            Outcome::Answer(a) => panic!("not parsed: {a}"),
        }
    }

    fn answer(outcome: Outcome) -> String {
        match outcome {
            Outcome::Parsed(_) => panic!("parsed"),
            Outcome::Answer(a) => a,
        }
    }

    #[test]
    fn typed_arguments() {
        let spec = CommandSpec::of::<Ticket>();
        assert_eq!(spec.names, ["ticket"]);
        assert_eq!(
            parsed::<Ticket>(spec.parse("!", &w("ticket open printer -on fire"))),
            Ticket::Open {
                text: w("printer -on fire")
            }
        );
        assert_eq!(
            parsed::<Ticket>(spec.parse("!", &w("ticket list"))),
            Ticket::List
        );
        assert_eq!(
            parsed::<Ticket>(spec.parse("!", &w("ticket close 7"))),
            Ticket::Close { n: 7 }
        );
    }

    #[test]
    fn errors_say_what_was_expected_with_the_prefix() {
        let spec = CommandSpec::of::<Ticket>();
        let e = answer(spec.parse("!", &w("ticket close seven")));
        assert!(e.contains("invalid value 'seven'"), "{e}");
        assert!(e.contains("!ticket close <N>"), "{e}");
        let e = answer(spec.parse("!", &w("ticket shut 7")));
        assert!(e.contains("unrecognized subcommand 'shut'"), "{e}");
        let e = answer(spec.parse("!", &w("ticket open")));
        assert!(e.contains("<TEXT>..."), "{e}");
        assert!(!e.contains('\u{1b}'), "no terminal colours: {e:?}");
    }

    #[test]
    fn help_is_generated() {
        let spec = CommandSpec::of::<Ticket>();
        let help = spec.help("!");
        assert!(help.contains("Usage: !ticket <COMMAND>"), "{help}");
        assert!(help.contains("Opens a ticket"), "{help}");
        let asked = answer(spec.parse("!", &w("ticket close --help")));
        assert!(asked.contains("Its number"), "{asked}");
        assert!(asked.contains("Usage: !ticket close <N>"), "{asked}");
    }

    #[test]
    fn multicall_commands_are_each_a_name() {
        let spec = CommandSpec::of::<Small>();
        assert_eq!(spec.names, ["ping", "say"]);
        assert_eq!(parsed::<Small>(spec.parse("/", &w("ping"))), Small::Ping);
        assert_eq!(
            parsed::<Small>(spec.parse("/", &w("say a b"))),
            Small::Say { words: w("a b") }
        );
        let e = answer(spec.parse("/", &w("ping extra")));
        assert!(e.contains("/ping"), "{e}");
    }

    #[test]
    fn command_lines_need_the_prefix_or_the_platforms_mark() {
        assert_eq!(
            command_line("!ticket list", "!", false),
            Some("ticket list")
        );
        assert_eq!(command_line("  !ticket", "!", false), Some("ticket"));
        assert_eq!(command_line("ticket list", "!", false), None);
        assert_eq!(command_line("! ticket", "!", false), None);
        assert_eq!(command_line("!!", "!", false), None);
        assert_eq!(command_line("/ticket list", "!", true), Some("ticket list"));
        assert_eq!(command_line("bot: help", "bot: ", false), Some("help"));
        assert_eq!(command_line("help", "", false), None);
    }
}
