//! The mapper between mails and signals: what it knows (the session's own address and name),
//! the memory of threads for replies, and the types both directions share. The mapping itself
//! is in `inbound/mail.rs` (a raw mail, read with mail-parser, becomes one signal, a delivery
//! report (DSN, RFC 3464, read in `inbound/dsn.rs`), or a [`SystemError`] for a mail that
//! cannot be understood; the mails around it are unaffected) and `outbound/mail.rs` (a signal
//! becomes a MIME mail, built with mail-builder, and an SMTP envelope); `automatic.rs`
//! recognises and writes the markers of mail a machine sent (RFC 3834), `ids.rs` maps signal
//! ids to `Message-ID`s and back, `copies.rs` marks and recognises the copies of the bot's
//! answers to its own mailbox. Pure functions: no network here.

use chatty_core::driver::Recent;
use chatty_core::session::Refusal;
use chatty_core::{Address, AddressKind, FailureKind, Metadata, Signal, SignalId, SystemError};
use mail_parser::MessageParser;

use crate::config::{PLATFORM, is_mail_address};

#[cfg(test)]
pub(crate) mod tests;

/// The header naming a user-defined signal; its payload is the mail's `application/json` part.
pub const HEADER_SIGNAL: &str = "X-Chatty-Signal";
/// The header marking a mail that carries a File signal (`file`, or `file-url` for a link).
pub const HEADER_BODY: &str = "X-Chatty-Body";
/// The header with a linked file's name (`X-Chatty-Body: file-url`).
pub const HEADER_FILE_NAME: &str = "X-Chatty-File-Name";
/// The component named in system errors.
pub(crate) const COMPONENT: &str = "email";
/// How many mails' subjects and references are remembered for replies.
const THREAD_MEMORY: usize = 4096;

/// A system error signal about one mail.
pub(crate) fn system_error(message: impl Into<String>) -> Signal {
    Signal::new(SystemError::new(COMPONENT, message))
}

/// What the session remembers of a mail for replies to it: its subject and references.
#[derive(Debug, Clone, Default)]
pub(crate) struct Thread {
    /// Its subject, for the `Re:` of a reply without one.
    pub(crate) subject: Option<String>,
    /// Its `References` (or its `In-Reply-To`), to which a reply adds the mail itself.
    pub(crate) references: Vec<String>,
}

/// The threads of the last [`THREAD_MEMORY`] mails, by signal id.
#[derive(Debug)]
pub(crate) struct Threads(Recent<SignalId, Thread>);

impl Default for Threads {
    fn default() -> Self {
        Threads(Recent::new(THREAD_MEMORY))
    }
}

impl Threads {
    pub(crate) fn remember(&mut self, id: SignalId, thread: Thread) {
        self.0.insert(id, thread);
    }

    pub(crate) fn get(&self, id: &SignalId) -> Option<&Thread> {
        self.0.get(id)
    }
}

/// An outbound mail: its SMTP envelope and bytes.
#[derive(Debug)]
pub(crate) struct Outbound {
    pub(crate) from: String,
    pub(crate) to: Vec<String>,
    /// Whether the mail goes to the bot's own mailbox too (an answer's copy, marked): one more
    /// envelope recipient, not in the header.
    pub(crate) copy: bool,
    pub(crate) bytes: Vec<u8>,
    pub(crate) thread: Thread,
}

/// A delivery report (DSN) found in an inbound mail.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Report {
    /// The id of the mail it reports on.
    pub(crate) original: SignalId,
    /// What happened: failed, or delivered (relayed, expanded).
    pub(crate) failed: bool,
    /// The DSN status code (`5.1.1`), if given.
    pub(crate) status: Option<String>,
    /// The reason, in words.
    pub(crate) message: String,
}

/// What an inbound mail is.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// A signal for the bot.
    Signal(Box<Signal>),
    /// A delivery report about a mail the bot sent; the signal is its `SendFailure` when it
    /// failed, with the report's own metadata.
    Report(Report, Box<Metadata>),
    /// A mail that cannot be understood: a system error with this message.
    Malformed(String),
}

/// Knows the session's own address and name, and maps with them.
#[derive(Debug, Clone)]
pub(crate) struct Mapper {
    name: String,
    own: Address,
    /// The bot's own mail address (`From:`).
    pub(crate) own_mail: String,
    /// The MIME parser inbound mail is read with.
    pub(crate) parser: MessageParser,
    /// Whether answers get a copy to the bot's own mailbox (`answer_copies`).
    copies: bool,
}

impl Mapper {
    pub(crate) fn new(name: &str, own_mail: &str) -> Result<Self, String> {
        let mut mapper = Mapper {
            name: name.to_owned(),
            own: Address::new(PLATFORM, "placeholder@localhost").map_err(|e| e.to_string())?,
            own_mail: own_mail.to_owned(),
            parser: MessageParser::default(),
            copies: false,
        };
        mapper.own = mapper.address(own_mail)?;
        Ok(mapper)
    }

    /// The mapper with answer copies on or off (off by default).
    pub(crate) fn with_copies(mut self, on: bool) -> Self {
        self.copies = on;
        self
    }

    /// Whether answers get a copy to the bot's own mailbox.
    pub(crate) fn copies(&self) -> bool {
        self.copies
    }

    /// The session name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The bot's own address.
    pub(crate) fn own(&self) -> &Address {
        &self.own
    }

    /// An address on this session for the mail address `mail` (an individual: a list address
    /// cannot be told apart from a person's).
    pub(crate) fn address(&self, mail: &str) -> Result<Address, String> {
        let address = if self.name == PLATFORM {
            Address::new(PLATFORM, mail)
        } else {
            Address::with_session(PLATFORM, &self.name, mail)
        };
        address
            .map(|a| a.with_kind(AddressKind::Individual))
            .map_err(|e| format!("the mail address {mail:?} is not an address: {e}"))
    }

    /// The mail address of a chatty address, if it is one of this platform's.
    pub(crate) fn mail_of(address: &Address) -> Result<&str, Refusal> {
        if address.platform() != PLATFORM || !is_mail_address(address.id()) {
            return Err(Refusal::new(
                FailureKind::UnknownAddressee,
                format!("{address} is not a mail address (mailto:user@domain)"),
            ));
        }
        Ok(address.id())
    }
}
