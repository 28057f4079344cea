//! Which handler a signal goes to.

use std::collections::HashMap;

use chatty_core::{Address, Body, SignalKind};

use crate::command::{CommandSpec, Outcome, command_line};
use crate::context::{ErasedHandler, Found};

/// The handlers a dispatcher was given, by what they handle.
#[derive(Default, Clone)]
pub(crate) struct Routes {
    pub(crate) commands: Vec<(CommandSpec, ErasedHandler)>,
    pub(crate) messages: Option<ErasedHandler>,
    pub(crate) files: Option<ErasedHandler>,
    pub(crate) status: Option<ErasedHandler>,
    pub(crate) user_defined: HashMap<String, ErasedHandler>,
    pub(crate) any_user_defined: Option<ErasedHandler>,
    pub(crate) kinds: HashMap<SignalKind, ErasedHandler>,
    pub(crate) internal: Option<ErasedHandler>,
    pub(crate) choices: HashMap<String, ErasedHandler>,
    pub(crate) timers: HashMap<String, ErasedHandler>,
    pub(crate) prefix: String,
    pub(crate) prefixes: HashMap<String, String>,
    pub(crate) help: bool,
}

/// Where a signal goes.
pub(crate) enum Route {
    /// To a handler, with what was found in the signal.
    Handler(ErasedHandler, Found),
    /// Answered by the dispatcher itself (a command's error or help, an unknown command).
    Answer(String),
    /// Nowhere: no handler takes it.
    None,
}

impl Routes {
    /// The prefix for commands from `origin`: the one for its session, else for its platform,
    /// else the default.
    pub(crate) fn prefix_for(&self, origin: Option<&Address>) -> &str {
        origin
            .and_then(|o| {
                o.session()
                    .and_then(|s| self.prefixes.get(s))
                    .or_else(|| self.prefixes.get(o.platform()))
            })
            .unwrap_or(&self.prefix)
    }

    /// The route of an inbound signal; `chosen` is the answer it gives to an open question.
    pub(crate) fn route(
        &self,
        body: &Body,
        origin: Option<&Address>,
        chosen: Option<chatty_core::Chosen>,
    ) -> Route {
        if let Some(chosen) = chosen {
            let name = chosen.choice.split('/').next().unwrap_or_default();
            if let Some(h) = self.choices.get(name) {
                let found = Found {
                    chosen: Some(chosen),
                    ..Found::default()
                };
                return Route::Handler(h.clone(), found);
            }
        }
        if let Some(handler) = self.kinds.get(&body.kind()) {
            return Route::Handler(handler.clone(), Found::default());
        }
        let handler = match body {
            Body::Message(m) => {
                if let Some(route) = self.command(&m.text, m.command, origin) {
                    return route;
                }
                &self.messages
            }
            Body::File(_) => &self.files,
            Body::StatusChange(_) => &self.status,
            Body::UserDefined(u) => match self.user_defined.get(&u.name) {
                Some(h) => return Route::Handler(h.clone(), Found::default()),
                None => &self.any_user_defined,
            },
            _ => &self.internal,
        };
        match handler {
            Some(h) => Route::Handler(h.clone(), Found::default()),
            None => Route::None,
        }
    }

    /// The route of a message's text if it is a command (or a request for help).
    fn command(&self, text: &str, marked: bool, origin: Option<&Address>) -> Option<Route> {
        if self.commands.is_empty() && !self.help {
            return None;
        }
        let prefix = if marked { "/" } else { self.prefix_for(origin) };
        // The first line that is not empty: a mail's signature and quoted text are not
        // arguments.
        let first = text.lines().find(|l| !l.trim().is_empty())?;
        let line = command_line(first, prefix, marked)?;
        let words = crate::words(line);
        let name = words.first()?;
        if let Some((spec, handler)) = self
            .commands
            .iter()
            .find(|(spec, _)| spec.names.iter().any(|n| n == name))
        {
            return Some(match spec.parse(prefix, &words) {
                Outcome::Parsed(parsed) => Route::Handler(
                    handler.clone(),
                    Found {
                        command: Some(parsed),
                        prefix: prefix.to_owned(),
                        ..Found::default()
                    },
                ),
                Outcome::Answer(text) => Route::Answer(text),
            });
        }
        if name == "help" && self.help {
            return Some(Route::Answer(self.help_text(prefix, words.get(1))));
        }
        if self.commands.is_empty() {
            return None;
        }
        Some(Route::Answer(format!(
            "Unknown command `{prefix}{name}`. {}",
            self.command_list(prefix)
        )))
    }

    /// The list of commands with a line about each, or one command's help.
    pub(crate) fn help_text(&self, prefix: &str, about: Option<&String>) -> String {
        if let Some(name) = about {
            let name = name.strip_prefix(prefix).unwrap_or(name);
            if let Some((spec, _)) = self
                .commands
                .iter()
                .find(|(spec, _)| spec.names.iter().any(|n| n == name))
            {
                return spec.help(prefix).trim_end().to_owned();
            }
        }
        let mut lines = vec!["Commands:".to_owned()];
        for (spec, _) in &self.commands {
            for (name, about) in spec.names.iter().zip(&spec.abouts) {
                lines.push(format!("  {prefix}{name}  {about}").trim_end().to_owned());
            }
        }
        lines.push(format!(
            "  {prefix}help [COMMAND]  this list, or a command's help"
        ));
        lines.join("\n")
    }

    fn command_list(&self, prefix: &str) -> String {
        let names: Vec<String> = self
            .commands
            .iter()
            .flat_map(|(spec, _)| spec.names.iter())
            .chain(self.help.then(|| "help".to_owned()).as_ref())
            .map(|n| format!("{prefix}{n}"))
            .collect();
        format!("Commands: {}.", names.join(", "))
    }
}
