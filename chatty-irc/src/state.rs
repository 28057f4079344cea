//! What the session keeps between its parts: the config, the queue of lines to send, and what
//! the current connection learned (nick, capabilities, channels and their members, lines waiting
//! for their echo), and the channels' histories.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use chatty_core::driver::lock;
use chatty_core::{Address, AddressKind, SignalId};
use tokio::sync::{mpsc, oneshot};

use crate::config::{IrcConfig, PLATFORM};
use crate::history::History;
use crate::kicks::Rejoin;
use crate::msgids::MsgIds;
use crate::proto::{CaseMapping, Line};

/// One line for the writer; `confirms`: the signal it is the last line of, marked `Sent` once
/// the server echoed it (echo-message) or, without echo-message, once it was written.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) line: Line,
    pub(crate) confirms: Option<SignalId>,
    /// Told once the line is with the server (echoed, or written without echo-message); dropped
    /// untold when the connection ends first, after writing it.
    pub(crate) done: Option<oneshot::Sender<()>>,
}

impl Outgoing {
    /// A line confirming nothing.
    pub(crate) fn line(line: Line) -> Self {
        Outgoing {
            line,
            confirms: None,
            done: None,
        }
    }
}

/// A line sent that waits for its echo.
#[derive(Debug)]
pub(crate) struct Echo {
    /// The `label` tag it carried (labeled-response), if any.
    pub(crate) label: Option<String>,
    /// The signal to mark `Sent` once it is echoed.
    pub(crate) confirms: Option<SignalId>,
    /// Told once it is echoed.
    pub(crate) done: Option<oneshot::Sender<()>>,
}

/// What one connection learned; reset on every new connection.
#[derive(Debug)]
pub(crate) struct Live {
    /// The bot's nick on the server.
    pub(crate) nick: String,
    /// The bot's user and host as the server shows them (from its own JOIN), for the room a
    /// relay prefix takes.
    pub(crate) user: Option<String>,
    pub(crate) host: Option<String>,
    /// The IRCv3 capabilities acknowledged.
    pub(crate) caps: BTreeSet<String>,
    /// Whether a connection is registered now.
    pub(crate) connected: bool,
    /// The channel prefixes (ISUPPORT `CHANTYPES`; `#&` until the server says).
    pub(crate) chantypes: String,
    /// How the server folds nicks and channel names (ISUPPORT `CASEMAPPING`; RFC 1459's until
    /// the server says).
    pub(crate) casemapping: CaseMapping,
    /// Joined channels (folded name) and their members (nicks as last seen).
    pub(crate) channels: HashMap<String, BTreeSet<String>>,
    /// Lines sent waiting for their echo, in order.
    pub(crate) echoes: VecDeque<Echo>,
    /// The next `label` tag's number.
    pub(crate) next_label: u64,
    /// The last signal whose message went to each target (folded), for a reply naming the
    /// target without a label (`401 ERR_NOSUCHNICK`).
    pub(crate) sent_to: HashMap<String, SignalId>,
    /// How many messages a `CHATHISTORY` request asks for, when the server takes them
    /// (`draft/chathistory` acknowledged and ISUPPORT `CHATHISTORY`).
    pub(crate) chathistory: Option<usize>,
    /// The channels the bot was kicked from (folded name), and its tries to join them again.
    pub(crate) rejoins: HashMap<String, Rejoin>,
}

impl Live {
    fn new(nick: &str) -> Self {
        Live {
            nick: nick.to_owned(),
            user: None,
            host: None,
            caps: BTreeSet::new(),
            connected: false,
            chantypes: "#&".to_owned(),
            casemapping: CaseMapping::default(),
            channels: HashMap::new(),
            echoes: VecDeque::new(),
            next_label: 0,
            chathistory: None,
            sent_to: HashMap::new(),
            rejoins: HashMap::new(),
        }
    }

    /// Whether the server acknowledged `cap`.
    pub(crate) fn has(&self, cap: &str) -> bool {
        self.caps.contains(cap)
    }

    /// Whether `name` is a channel on this server.
    pub(crate) fn is_channel(&self, name: &str) -> bool {
        name.starts_with(|c| self.chantypes.contains(c))
    }

    /// Whether `nick` is the bot's own.
    pub(crate) fn is_own(&self, nick: &str) -> bool {
        self.casemapping.same(nick, &self.nick)
    }

    /// `name` (a nick or channel) folded as the server compares names.
    pub(crate) fn fold(&self, name: &str) -> String {
        self.casemapping.fold(name)
    }

    /// Starts a new connection's state, keeping the nick asked for. The lines waiting for
    /// their echo were written: they count as with the server (their echo will not come); the
    /// signals they confirm are returned, to be marked `Sent`.
    pub(crate) fn reset(&mut self, nick: &str) -> Vec<SignalId> {
        let mut written = Vec::new();
        for echo in self.echoes.drain(..) {
            if let Some(done) = echo.done {
                let _ = done.send(());
            }
            written.extend(echo.confirms);
        }
        *self = Live::new(nick);
        written
    }
}

/// The session's state shared by its tasks.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: IrcConfig,
    /// Lines to send, in order; the current connection's writer drains them.
    pub(crate) outgoing: mpsc::UnboundedSender<Outgoing>,
    /// The receiving end, held by one connection's writer at a time.
    pub(crate) queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Outgoing>>,
    live: Mutex<Live>,
    /// The channels' histories: kept across connections.
    history: Mutex<History>,
    /// The msgids a reaction can name: kept across connections.
    msgids: Mutex<MsgIds>,
}

impl Shared {
    /// The state of a session for `config` (checked already).
    pub(crate) fn new(config: IrcConfig) -> Self {
        let (outgoing, queue) = mpsc::unbounded_channel();
        let live = Mutex::new(Live::new(&config.nick));
        Shared {
            config,
            outgoing,
            queue: tokio::sync::Mutex::new(queue),
            live,
            history: Mutex::default(),
            msgids: Mutex::default(),
        }
    }

    /// The connection's state.
    pub(crate) fn live(&self) -> MutexGuard<'_, Live> {
        lock(&self.live)
    }

    /// The channels' histories (positions, message ids given, history batches being read).
    pub(crate) fn history(&self) -> MutexGuard<'_, History> {
        lock(&self.history)
    }

    /// The bot leaves `channel` itself (it sent its own presence there as ended): no more
    /// tries to join it again after a kick.
    pub(crate) fn cancel_rejoin(&self, channel: &str) {
        let mut live = self.live();
        let key = live.fold(channel);
        live.rejoins.remove(&key);
    }

    /// The msgids of messages given to the bot and of the bot's own (echoed), for reactions.
    pub(crate) fn msgids(&self) -> MutexGuard<'_, MsgIds> {
        lock(&self.msgids)
    }

    /// `name` (a nick or channel) folded as the server compares names. Locks the connection's
    /// state: not to be called while holding it.
    pub(crate) fn fold(&self, name: &str) -> String {
        self.live().fold(name)
    }

    /// An address on this session for the platform's own `id`.
    pub(crate) fn address(&self, id: &str, kind: AddressKind) -> Option<Address> {
        let name = &self.config.name;
        let address = if name == PLATFORM {
            Address::new(PLATFORM, id)
        } else {
            Address::with_session(PLATFORM, name, id)
        };
        address.ok().map(|a| a.with_kind(kind))
    }

    /// The address of the channel `name` (`irc:#chat;kind=channel`, lower case: channel names
    /// are case-insensitive).
    pub(crate) fn channel(&self, name: &str) -> Option<Address> {
        self.address(&name.to_ascii_lowercase(), AddressKind::Channel)
    }

    /// The address of the person (or bot) with `nick` (`irc:alice;kind=individual`).
    pub(crate) fn person(&self, nick: &str) -> Option<Address> {
        self.address(nick, AddressKind::Individual)
    }

    /// The bot's own address: its current nick.
    pub(crate) fn own(&self) -> Option<Address> {
        let nick = self.live().nick.clone();
        self.person(&nick)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_folding() {
        let shared = Shared::new(IrcConfig::new("s", "Bot"));
        assert_eq!(
            shared.channel("#Chat").unwrap().to_string(),
            "irc:#chat;kind=channel"
        );
        assert_eq!(shared.own().unwrap().to_string(), "irc:Bot;kind=individual");
        let named = Shared::new(IrcConfig::new("s", "bot").with_name("libera"));
        assert_eq!(
            named.person("alice").unwrap().to_string(),
            "irc+libera:alice;kind=individual"
        );
        assert_eq!(shared.fold("[Bot]\\~"), "{bot}|^");
        assert!(shared.live().is_own("bOT"));
        shared.live().casemapping = CaseMapping::Ascii;
        assert_eq!(shared.fold("[Bot]\\~"), "[bot]\\~");
        assert!(shared.live().is_channel("&local"));
        assert!(!shared.live().is_channel("alice"));
    }
}
