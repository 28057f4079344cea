//! Connection registration as a state machine without I/O: `CAP LS 302`, `CAP REQ` of the
//! IRCv3 capabilities the session uses, SASL PLAIN, `CAP END`, `PASS`/`NICK`/`USER`, a fallback
//! nick when the nick is taken, and `PONG` while it lasts.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;

use super::line::Line;

/// The IRCv3 capabilities requested when the server offers them (`sasl` only when SASL is
/// configured).
pub const WANTED_CAPS: [&str; 6] = [
    "message-tags",
    "server-time",
    "echo-message",
    "batch",
    "labeled-response",
    CHATHISTORY_CAP,
];

/// The capability of servers that answer `CHATHISTORY` requests (IRCv3, still a draft).
pub const CHATHISTORY_CAP: &str = "draft/chathistory";

/// How many fallback nicks are tried after the configured one before giving up.
const MAX_NICK_ATTEMPTS: u32 = 10;

/// SASL PLAIN credentials.
#[derive(Clone)]
pub struct Sasl {
    /// The account name (authentication and authorization identity).
    pub account: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for Sasl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sasl")
            .field("account", &self.account)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Why registration failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrationError {
    /// SASL is configured but the server does not offer it (or not PLAIN).
    #[error("SASL is configured but the server does not offer SASL PLAIN")]
    SaslUnavailable,
    /// The server refused the SASL login.
    #[error("SASL login refused: {0}")]
    SaslFailed(String),
    /// The server refused the connection password (464).
    #[error("the server refused the password: {0}")]
    BadPassword(String),
    /// The nick is not valid on this server (432), or every fallback was taken.
    #[error("no usable nick: {0}")]
    Nick(String),
    /// The server closed the connection (`ERROR`) or banned the client (465).
    #[error("the server refused the connection: {0}")]
    Refused(String),
}

impl RegistrationError {
    /// Whether trying again cannot help (wrong credentials, a nick the server never accepts,
    /// a ban).
    pub fn is_permanent(&self) -> bool {
        !matches!(self, RegistrationError::Refused(_))
    }
}

/// What registration came to: the nick the server accepted and the capabilities acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// The bot's nick, as the welcome (001) names it.
    pub nick: String,
    /// The capabilities the server acknowledged.
    pub caps: BTreeSet<String>,
    /// Whether the SASL login succeeded.
    pub authenticated: bool,
}

/// What one received line did to the registration.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Lines to send now.
    pub send: Vec<Line>,
    /// Set once the server welcomed the client (001).
    pub registered: Option<Registered>,
}

/// The state of one connection's registration.
///
/// ```
/// use chatty_irc::proto::{Line, Registration};
///
/// let mut reg = Registration::new("bot", "bot", "A bot", None, None);
/// let first: Vec<String> = reg.start().iter().map(ToString::to_string).collect();
/// assert_eq!(first, ["CAP LS 302", "NICK bot", "USER bot 0 * :A bot"]);
/// let ls: Line = ":srv CAP * LS :multi-prefix server-time".parse().unwrap();
/// let sent = reg.handle(&ls).unwrap().send;
/// assert_eq!(sent[0].to_string(), "CAP REQ server-time");
/// let ack: Line = ":srv CAP bot ACK :server-time".parse().unwrap();
/// assert_eq!(reg.handle(&ack).unwrap().send[0].to_string(), "CAP END");
/// let welcome: Line = ":srv 001 bot :Welcome".parse().unwrap();
/// let done = reg.handle(&welcome).unwrap().registered.unwrap();
/// assert!(done.caps.contains("server-time"));
/// ```
#[derive(Debug)]
pub struct Registration {
    nick: String,
    base_nick: String,
    user: String,
    realname: String,
    password: Option<String>,
    sasl: Option<Sasl>,
    nick_attempts: u32,
    offered: BTreeMap<String, Option<String>>,
    acked: BTreeSet<String>,
    /// `CAP REQ`s not answered yet.
    pending: usize,
    /// Capability negotiation has ended (`CAP END` sent, or the server knows no CAP).
    cap_done: bool,
    authenticated: bool,
}

impl Registration {
    /// Registration as `nick` with `user` and `realname`, the server password `password` and
    /// SASL PLAIN `sasl`, if given.
    pub fn new(
        nick: &str,
        user: &str,
        realname: &str,
        password: Option<String>,
        sasl: Option<Sasl>,
    ) -> Self {
        Registration {
            nick: nick.to_owned(),
            base_nick: nick.to_owned(),
            user: user.to_owned(),
            realname: realname.to_owned(),
            password,
            sasl,
            nick_attempts: 0,
            offered: BTreeMap::new(),
            acked: BTreeSet::new(),
            pending: 0,
            cap_done: false,
            authenticated: false,
        }
    }

    /// The nick currently asked for.
    pub fn nick(&self) -> &str {
        &self.nick
    }

    /// The first lines: `CAP LS 302`, `PASS` (with a password), `NICK`, `USER`.
    pub fn start(&mut self) -> Vec<Line> {
        let mut lines = vec![Line::new("CAP", ["LS", "302"])];
        if let Some(password) = &self.password {
            lines.push(Line::new("PASS", [password.as_str()]));
        }
        lines.push(Line::new("NICK", [self.nick.as_str()]));
        lines.push(Line::new(
            "USER",
            [self.user.as_str(), "0", "*", self.realname.as_str()],
        ));
        lines
    }

    /// The next fallback nick after `base` on attempt `n` (1, 2, …): `base_`, then `base2`,
    /// `base3`, …
    pub fn fallback_nick(base: &str, n: u32) -> String {
        if n == 1 {
            format!("{base}_")
        } else {
            format!("{base}{n}")
        }
    }

    /// Handles one line from the server.
    pub fn handle(&mut self, line: &Line) -> Result<Progress, RegistrationError> {
        let mut progress = Progress::default();
        let text = || line.params.last().cloned().unwrap_or_default();
        match line.command.as_str() {
            "PING" => progress
                .send
                .push(Line::new("PONG", line.params.iter().cloned())),
            "CAP" => self.cap(line, &mut progress.send)?,
            "AUTHENTICATE" if line.param(0) == Some("+") => {
                if let Some(sasl) = &self.sasl {
                    progress.send.extend(sasl_plain_lines(sasl));
                }
            }
            // RPL_SASLSUCCESS; ERR_SASLALREADY.
            "903" | "907" => {
                self.authenticated = true;
                self.end_caps(&mut progress.send);
            }
            // ERR_NICKLOCKED, ERR_SASLFAIL, ERR_SASLTOOLONG, ERR_SASLABORTED.
            "902" | "904" | "905" | "906" => return Err(RegistrationError::SaslFailed(text())),
            // ERR_SASLMECHS: PLAIN is not among the mechanisms.
            "908" => return Err(RegistrationError::SaslUnavailable),
            // ERR_NICKNAMEINUSE, ERR_NICKCOLLISION, ERR_UNAVAILRESOURCE.
            "433" | "436" | "437" => {
                self.nick_attempts += 1;
                if self.nick_attempts > MAX_NICK_ATTEMPTS {
                    return Err(RegistrationError::Nick(format!(
                        "{} and {MAX_NICK_ATTEMPTS} fallbacks are taken",
                        self.base_nick
                    )));
                }
                self.nick = Self::fallback_nick(&self.base_nick, self.nick_attempts);
                progress.send.push(Line::new("NICK", [self.nick.as_str()]));
            }
            // ERR_ERRONEUSNICKNAME: a fallback may be too long where the nick was not.
            "432" if self.nick_attempts == 0 => {
                return Err(RegistrationError::Nick(format!(
                    "`{}`: {}",
                    self.nick,
                    text()
                )));
            }
            "432" => {
                return Err(RegistrationError::Nick(format!(
                    "`{}` is taken and the fallback `{}` is not valid here",
                    self.base_nick, self.nick
                )));
            }
            "464" => return Err(RegistrationError::BadPassword(text())),
            "465" | "ERROR" => return Err(RegistrationError::Refused(text())),
            // ERR_UNKNOWNCOMMAND for CAP: a server without capability negotiation; NICK and
            // USER are sent already, registration goes on.
            "421" if line.param(1).is_some_and(|c| c.eq_ignore_ascii_case("CAP")) => {
                if self.sasl.is_some() {
                    return Err(RegistrationError::SaslUnavailable);
                }
                self.cap_done = true;
            }
            "001" => {
                if self.sasl.is_some() && !self.authenticated {
                    return Err(RegistrationError::SaslUnavailable);
                }
                if let Some(nick) = line.param(0) {
                    nick.clone_into(&mut self.nick);
                }
                progress.registered = Some(Registered {
                    nick: self.nick.clone(),
                    caps: self.acked.clone(),
                    authenticated: self.authenticated,
                });
            }
            _ => {}
        }
        Ok(progress)
    }

    /// Handles a `CAP` subcommand.
    fn cap(&mut self, line: &Line, send: &mut Vec<Line>) -> Result<(), RegistrationError> {
        let sub = line.param(1).unwrap_or_default().to_ascii_uppercase();
        let list = line.params.last().map(String::as_str).unwrap_or_default();
        let names = || list.split(' ').filter(|c| !c.is_empty());
        match sub.as_str() {
            "LS" if !self.cap_done => {
                for cap in names() {
                    let (name, value) = match cap.split_once('=') {
                        Some((name, value)) => (name, Some(value.to_owned())),
                        None => (cap, None),
                    };
                    self.offered.insert(name.to_owned(), value);
                }
                // `CAP * LS * :…`: more lines follow.
                if line.params.len() >= 4 && line.param(2) == Some("*") {
                    return Ok(());
                }
                let mut wanted: Vec<&str> = WANTED_CAPS
                    .iter()
                    .copied()
                    .filter(|cap| self.offered.contains_key(*cap))
                    .collect();
                if self.sasl.is_some() {
                    let plain = match self.offered.get("sasl") {
                        None => false,
                        Some(None) => true,
                        Some(Some(mechs)) => mechs.split(',').any(|m| m == "PLAIN"),
                    };
                    if !plain {
                        return Err(RegistrationError::SaslUnavailable);
                    }
                    wanted.push("sasl");
                }
                if wanted.is_empty() {
                    self.end_caps(send);
                } else {
                    self.pending += 1;
                    send.push(Line::new("CAP", ["REQ".to_owned(), wanted.join(" ")]));
                }
            }
            "ACK" => {
                self.acked
                    .extend(names().map(|c| c.trim_start_matches('-').to_owned()));
                self.answered(send);
            }
            "NAK" => {
                let refused: Vec<&str> = names().collect();
                if refused.contains(&"sasl") && self.sasl.is_some() {
                    return Err(RegistrationError::SaslUnavailable);
                }
                // A REQ is taken or refused whole: ask for each capability on its own.
                if refused.len() > 1 {
                    for cap in &refused {
                        self.pending += 1;
                        send.push(Line::new("CAP", ["REQ", cap]));
                    }
                }
                self.answered(send);
            }
            _ => {}
        }
        Ok(())
    }

    /// One `CAP REQ` was answered: once all are, SASL starts or negotiation ends.
    fn answered(&mut self, send: &mut Vec<Line>) {
        self.pending = self.pending.saturating_sub(1);
        if self.pending > 0 || self.cap_done {
            return;
        }
        if self.sasl.is_some() && self.acked.contains("sasl") && !self.authenticated {
            send.push(Line::new("AUTHENTICATE", ["PLAIN"]));
        } else {
            self.end_caps(send);
        }
    }

    /// Sends `CAP END` once.
    fn end_caps(&mut self, send: &mut Vec<Line>) {
        if !self.cap_done {
            self.cap_done = true;
            send.push(Line::new("CAP", ["END"]));
        }
    }
}

/// The `AUTHENTICATE` lines carrying SASL PLAIN credentials: base64 of
/// `account NUL account NUL password` in chunks of 400 bytes, and `AUTHENTICATE +` after a
/// last chunk of exactly 400 bytes (or for an empty payload).
pub fn sasl_plain_lines(sasl: &Sasl) -> Vec<Line> {
    let payload = format!("{0}\0{0}\0{1}", sasl.account, sasl.password);
    let encoded = base64::engine::general_purpose::STANDARD.encode(payload);
    let mut lines: Vec<Line> = encoded
        .as_bytes()
        .chunks(400)
        .map(|chunk| {
            Line::new(
                "AUTHENTICATE",
                [String::from_utf8_lossy(chunk).into_owned()],
            )
        })
        .collect();
    if encoded.len() % 400 == 0 {
        lines.push(Line::new("AUTHENTICATE", ["+"]));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(s: &str) -> Line {
        s.parse().unwrap()
    }

    fn texts(lines: &[Line]) -> Vec<String> {
        lines.iter().map(ToString::to_string).collect()
    }

    fn sasl(password: &str) -> Sasl {
        Sasl {
            account: "bot".into(),
            password: password.into(),
        }
    }

    #[test]
    fn multi_line_ls_then_req_ack_sasl_and_end() {
        let mut reg = Registration::new("bot", "u", "R N", Some("pw".into()), Some(sasl("s")));
        assert_eq!(
            texts(&reg.start()),
            ["CAP LS 302", "PASS pw", "NICK bot", "USER u 0 * :R N"]
        );
        let first = reg
            .handle(&line(":s CAP * LS * :message-tags batch"))
            .unwrap();
        assert!(first.send.is_empty());
        let last = reg
            .handle(&line(
                ":s CAP * LS :echo-message sasl=EXTERNAL,PLAIN server-time",
            ))
            .unwrap();
        assert_eq!(
            texts(&last.send),
            ["CAP REQ :message-tags server-time echo-message batch sasl"]
        );
        let ack = reg
            .handle(&line(
                ":s CAP bot ACK :message-tags server-time echo-message batch sasl",
            ))
            .unwrap();
        assert_eq!(texts(&ack.send), ["AUTHENTICATE PLAIN"]);
        let creds = reg.handle(&line("AUTHENTICATE +")).unwrap();
        assert_eq!(texts(&creds.send), ["AUTHENTICATE Ym90AGJvdABz"]);
        let ok = reg
            .handle(&line(":s 903 bot :SASL authentication successful"))
            .unwrap();
        assert_eq!(texts(&ok.send), ["CAP END"]);
        let done = reg
            .handle(&line(":s 001 bot :Welcome"))
            .unwrap()
            .registered
            .unwrap();
        assert!(done.authenticated);
        assert_eq!(done.caps.len(), 5);
    }

    #[test]
    fn sasl_refused_or_missing_is_an_error() {
        let mut reg = Registration::new("bot", "u", "r", None, Some(sasl("s")));
        reg.start();
        assert_eq!(
            reg.handle(&line(":s CAP * LS :server-time")),
            Err(RegistrationError::SaslUnavailable)
        );
        let mut reg = Registration::new("bot", "u", "r", None, Some(sasl("s")));
        reg.handle(&line(":s CAP * LS :sasl")).unwrap();
        reg.handle(&line(":s CAP * ACK :sasl")).unwrap();
        let refused = reg.handle(&line(":s 904 * :SASL authentication failed"));
        assert!(matches!(refused, Err(RegistrationError::SaslFailed(_))));
        assert!(refused.unwrap_err().is_permanent());
        let mut reg = Registration::new("bot", "u", "r", None, Some(sasl("s")));
        let old = reg.handle(&line(":s 421 bot CAP :Unknown command"));
        assert_eq!(old, Err(RegistrationError::SaslUnavailable));
    }

    #[test]
    fn nak_asks_again_one_by_one() {
        let mut reg = Registration::new("bot", "u", "r", None, None);
        let req = reg.handle(&line(":s CAP * LS :batch server-time")).unwrap();
        assert_eq!(texts(&req.send), ["CAP REQ :server-time batch"]);
        let nak = reg
            .handle(&line(":s CAP * NAK :server-time batch"))
            .unwrap();
        assert_eq!(texts(&nak.send), ["CAP REQ server-time", "CAP REQ batch"]);
        assert!(
            reg.handle(&line(":s CAP * NAK batch"))
                .unwrap()
                .send
                .is_empty()
        );
        let end = reg.handle(&line(":s CAP * ACK server-time")).unwrap();
        assert_eq!(texts(&end.send), ["CAP END"]);
    }

    #[test]
    fn no_caps_offered_or_no_cap_at_all() {
        let mut reg = Registration::new("bot", "u", "r", None, None);
        let end = reg.handle(&line(":s CAP * LS :multi-prefix")).unwrap();
        assert_eq!(texts(&end.send), ["CAP END"]);
        let mut old = Registration::new("bot", "u", "r", None, None);
        assert!(
            old.handle(&line(":s 421 bot CAP :Unknown"))
                .unwrap()
                .send
                .is_empty()
        );
        let done = old
            .handle(&line(":s 001 bot :hi"))
            .unwrap()
            .registered
            .unwrap();
        assert!(done.caps.is_empty());
    }

    #[test]
    fn nick_collision_falls_back_and_ping_is_answered() {
        let mut reg = Registration::new("bot", "u", "r", None, None);
        let next = reg
            .handle(&line(":s 433 * bot :Nickname is already in use"))
            .unwrap();
        assert_eq!(texts(&next.send), ["NICK bot_"]);
        let next = reg.handle(&line(":s 433 * bot_ :in use")).unwrap();
        assert_eq!(texts(&next.send), ["NICK bot2"]);
        let pong = reg.handle(&line("PING :abc def")).unwrap();
        assert_eq!(texts(&pong.send), ["PONG :abc def"]);
        let done = reg
            .handle(&line(":s 001 bot2 :Welcome"))
            .unwrap()
            .registered
            .unwrap();
        assert_eq!(done.nick, "bot2");
        for _ in 2..MAX_NICK_ATTEMPTS {
            reg.handle(&line(":s 433 * x :in use")).unwrap();
        }
        assert!(matches!(
            reg.handle(&line(":s 433 * x :in use")),
            Err(RegistrationError::Nick(_))
        ));
        let mut bad = Registration::new("b@d", "u", "r", None, None);
        let refused = bad.handle(&line(":s 432 * b@d :Erroneous nickname"));
        assert!(matches!(refused, Err(RegistrationError::Nick(_))));
        let mut banned = Registration::new("bot", "u", "r", None, None);
        let error = banned.handle(&line("ERROR :Closing link: (u@host) [K-lined]"));
        assert!(!error.unwrap_err().is_permanent());
    }

    #[test]
    fn sasl_payload_in_chunks_of_400() {
        // account + account + password + 2 NULs = 300 bytes → 400 base64 bytes exactly.
        let exact = Sasl {
            account: "a".repeat(50),
            password: "p".repeat(198),
        };
        let lines = sasl_plain_lines(&exact);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].params[0].len(), 400);
        assert_eq!(lines[1].params[0], "+");
        let long = sasl(&"p".repeat(400));
        let lines = sasl_plain_lines(&long);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].params[0].len(), 400);
        assert!(lines[1].params[0].len() < 400 && lines[1].params[0] != "+");
    }
}
