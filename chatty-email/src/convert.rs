//! Mapping between mails and signals, both ways. Pure functions: no network here.
//!
//! Outbound, a signal becomes a MIME mail (mail-builder) and an SMTP envelope. Inbound, a raw
//! mail (mail-parser) becomes one signal, a delivery report (DSN, RFC 3464), or a
//! [`SystemError`] for a mail that cannot be understood; the mails around it are unaffected.

use std::collections::{HashMap, VecDeque};

use chatty_core::reexports::bytes::Bytes;
use chatty_core::reexports::serde_json;
use chatty_core::reexports::time::OffsetDateTime;
use chatty_core::{
    Address, AddressKind, Body, Content, FailureKind, File, Media, Message as ChattyMessage,
    Metadata, Refusal, Signal, SignalId, SystemError, UserDefined,
};
use mail_builder::MessageBuilder;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::date::Date;
use mail_builder::headers::message_id::MessageId;
use mail_builder::headers::text::Text;
use mail_builder::mime::{BodyPart, MimePart};
use mail_parser::{GetHeader, Message, MessageParser, MimeHeaders, PartType};

use crate::PLATFORM;
use crate::config::is_mail_address;

/// The header naming a user-defined signal; its payload is the mail's `application/json` part.
pub const HEADER_SIGNAL: &str = "X-Chatty-Signal";
/// The header marking a mail that carries a File signal (`file`, or `file-url` for a link).
pub const HEADER_BODY: &str = "X-Chatty-Body";
/// The header with a linked file's name (`X-Chatty-Body: file-url`).
pub const HEADER_FILE_NAME: &str = "X-Chatty-File-Name";
/// The domain given to signal ids that are not mail ids (`<id@chatty.invalid>` on the wire;
/// the suffix is taken off again on the way in, so the id is kept end to end).
pub const ID_DOMAIN: &str = "chatty.invalid";
/// The component named in system errors.
pub(crate) const COMPONENT: &str = "email";
/// How many mails' subjects and references are remembered for replies.
const THREAD_MEMORY: usize = 4096;

/// A system error signal about one mail.
pub(crate) fn system_error(message: impl Into<String>) -> Signal {
    Signal::new(SystemError {
        component: COMPONENT.into(),
        message: message.into(),
    })
}

/// Characters kept as they are in the id part of a Message-ID (RFC 5322 `atext` and `.`,
/// without `=`, which escapes the rest).
fn id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/?^_`{|}~.".contains(c)
}

/// A signal id as a Message-ID (without the angle brackets): a mail id (`left@right`) as it
/// is; anything else escaped (`=XX` per byte) with `@chatty.invalid` added.
pub fn wire_id(id: &SignalId) -> String {
    let text = id.as_str();
    // Every `atext` character, `=` included, may stay in an id kept as it is: only ids that end
    // in `@chatty.invalid` are unescaped on the way in.
    let atext = |c: char| id_char(c) || c == '=';
    if let Some((left, right)) = text.split_once('@')
        && !left.is_empty()
        && !right.is_empty()
        && left.chars().all(atext)
        && right.chars().all(atext)
        && !left.starts_with('.')
        && !right.ends_with(ID_DOMAIN)
    {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + ID_DOMAIN.len() + 1);
    for c in text.chars() {
        if id_char(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("={byte:02X}"));
            }
        }
    }
    out.push('@');
    out.push_str(ID_DOMAIN);
    out
}

/// A Message-ID (without angle brackets) as a signal id: the inverse of [`wire_id`].
pub fn signal_id(wire: &str) -> SignalId {
    let wire = wire.trim().trim_start_matches('<').trim_end_matches('>');
    let Some(escaped) = wire
        .strip_suffix(ID_DOMAIN)
        .and_then(|w| w.strip_suffix('@'))
    else {
        return SignalId::from(wire);
    };
    let mut bytes = Vec::with_capacity(escaped.len());
    let raw = escaped.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'='
            && i + 2 < raw.len()
            && let Ok(hex) = std::str::from_utf8(&raw[i + 1..i + 3])
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            bytes.push(byte);
            i += 3;
        } else {
            bytes.push(raw[i]);
            i += 1;
        }
    }
    match String::from_utf8(bytes) {
        Ok(id) if !id.is_empty() => SignalId::from(id),
        _ => SignalId::from(wire),
    }
}

/// What the session remembers of a mail for replies to it: its subject and references.
#[derive(Debug, Clone, Default)]
pub(crate) struct Thread {
    subject: Option<String>,
    references: Vec<String>,
}

/// A bounded memory of threads, by signal id.
#[derive(Debug, Default)]
pub(crate) struct Threads {
    map: HashMap<SignalId, Thread>,
    order: VecDeque<SignalId>,
}

impl Threads {
    pub(crate) fn remember(&mut self, id: SignalId, thread: Thread) {
        if self.map.insert(id.clone(), thread).is_none() {
            self.order.push_back(id);
            while self.order.len() > THREAD_MEMORY {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                }
            }
        }
    }

    fn get(&self, id: &SignalId) -> Option<&Thread> {
        self.map.get(id)
    }
}

/// An outbound mail: its SMTP envelope and bytes.
#[derive(Debug)]
pub(crate) struct Outbound {
    pub(crate) from: String,
    pub(crate) to: Vec<String>,
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
    own_mail: String,
    parser: MessageParser,
}

impl Mapper {
    pub(crate) fn new(name: &str, own_mail: &str) -> Result<Self, String> {
        let mut mapper = Mapper {
            name: name.to_owned(),
            own: Address::new(PLATFORM, "placeholder@localhost").map_err(|e| e.to_string())?,
            own_mail: own_mail.to_owned(),
            parser: MessageParser::default(),
        };
        mapper.own = mapper.address(own_mail)?;
        Ok(mapper)
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
    fn mail_of(address: &Address) -> Result<&str, Refusal> {
        if address.platform() != PLATFORM || !is_mail_address(address.id()) {
            return Err(Refusal::new(
                FailureKind::UnknownAddressee,
                format!("{address} is not a mail address (mailto:user@domain)"),
            ));
        }
        Ok(address.id())
    }

    /// The mail for an outbound signal, or why it cannot be sent.
    pub(crate) fn outbound(&self, signal: &Signal, threads: &Threads) -> Result<Outbound, Refusal> {
        let to: Vec<&str> = signal
            .meta
            .addressees
            .iter()
            .map(Self::mail_of)
            .collect::<Result<_, _>>()?;
        if to.is_empty() {
            return Err(Refusal::new(
                FailureKind::UnknownAddressee,
                "a mail needs at least one addressee",
            ));
        }
        let cc: Vec<&str> = signal
            .meta
            .visible_to
            .iter()
            .map(Self::mail_of)
            .collect::<Result<_, _>>()?;
        let id = wire_id(&signal.meta.id);
        let mut builder = MessageBuilder::new()
            .from(self.own_mail.as_str())
            .to(to.clone())
            .message_id(id.clone());
        if !cc.is_empty() {
            builder = builder.cc(cc.clone());
        }
        let sent = signal.meta.sent.unwrap_or_else(chatty_core::now);
        builder = builder.date(Date::new(sent.unix_timestamp()));
        let parent = signal.meta.response_to.as_ref();
        let parent_thread = parent.and_then(|p| threads.get(p));
        let mut references = Vec::new();
        if let Some(parent) = parent {
            let parent_wire = wire_id(parent);
            if let Some(thread) = parent_thread {
                references.extend(thread.references.iter().cloned());
            }
            references.push(parent_wire.clone());
            builder = builder
                .in_reply_to(parent_wire)
                .references(MessageId::new_list(references.iter().map(String::as_str)));
        }
        let mut subject = None;
        let body: MimePart<'static> = match &signal.body {
            Body::Message(message) => {
                if message.edit.is_some() {
                    return Err(Refusal::new(
                        FailureKind::Rejected,
                        "email cannot edit a mail that was sent",
                    ));
                }
                subject = message.subject.clone().or_else(|| {
                    parent_thread
                        .and_then(|t| t.subject.as_deref())
                        .map(reply_subject)
                });
                message_body(message)
            }
            Body::File(file) => match &file.content {
                Content::Bytes { data } => {
                    builder = builder.header(HEADER_BODY, Text::new("file"));
                    MimePart::new(
                        "multipart/mixed",
                        vec![
                            MimePart::new("text/plain", format!("File: {}\r\n", file.name)),
                            attachment(file, data),
                        ],
                    )
                }
                Content::Url { url, .. } => {
                    builder = builder
                        .header(HEADER_BODY, Text::new("file-url"))
                        .header(HEADER_FILE_NAME, Text::new(file.name.clone()));
                    let mut part = MimePart::new("text/plain", format!("{url}\r\n"));
                    if let Some(media_type) = &file.media_type {
                        part = part.header("X-Chatty-Media-Type", Text::new(media_type.clone()));
                    }
                    part
                }
            },
            Body::UserDefined(user) => {
                if user.name.is_empty() || user.name.chars().any(|c| c.is_control()) {
                    return Err(Refusal::new(
                        FailureKind::Rejected,
                        "a user-defined signal's name must be non-empty, without control characters",
                    ));
                }
                let json = serde_json::to_string(&user.payload).map_err(|e| {
                    Refusal::new(FailureKind::Other, format!("the payload is not JSON: {e}"))
                })?;
                builder = builder.header(HEADER_SIGNAL, Text::new(user.name.clone()));
                MimePart::new(
                    "multipart/mixed",
                    vec![
                        MimePart::new(
                            "text/plain",
                            format!(
                                "A Chatty signal \"{}\"; its payload is the JSON part.\r\n",
                                user.name
                            ),
                        ),
                        MimePart::new(
                            ContentType::new("application/json").attribute("charset", "utf-8"),
                            BodyPart::Text(json.into()),
                        )
                        .inline(),
                    ],
                )
            }
            other => {
                return Err(Refusal::new(
                    FailureKind::Rejected,
                    format!("email cannot carry {:?} signals", other.kind()),
                ));
            }
        };
        if let Some(subject) = &subject {
            builder = builder.subject(subject.clone());
        }
        let bytes = builder
            .body(body)
            .write_to_vec()
            .map_err(|e| Refusal::new(FailureKind::Other, format!("cannot write the mail: {e}")))?;
        Ok(Outbound {
            from: self.own_mail.clone(),
            to: to.into_iter().chain(cc).map(str::to_owned).collect(),
            bytes,
            thread: Thread {
                subject,
                references,
            },
        })
    }

    /// Parses one raw mail.
    pub(crate) fn inbound(&self, raw: &[u8]) -> (Inbound, Option<(SignalId, Thread)>) {
        let Some(mail) = self.parser.parse(raw) else {
            return (
                Inbound::Malformed("a mail that cannot be parsed at all (empty?)".into()),
                None,
            );
        };
        match self.try_inbound(&mail) {
            Ok(result) => result,
            Err(e) => (Inbound::Malformed(e), None),
        }
    }

    fn try_inbound(
        &self,
        mail: &Message<'_>,
    ) -> Result<(Inbound, Option<(SignalId, Thread)>), String> {
        let from = mail
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .filter(|a| is_mail_address(a))
            .ok_or_else(|| {
                let id = mail.message_id().unwrap_or("(none)");
                format!("a mail without a usable From address (Message-ID {id})")
            })?;
        let origin = self.address(from)?;
        let id = mail
            .message_id()
            .filter(|id| !id.is_empty())
            .map_or_else(SignalId::generate, signal_id);
        let mut meta = Metadata::with_id(id.clone());
        meta.origin = Some(origin);
        meta.sent = Some(
            mail.date()
                .and_then(|d| OffsetDateTime::from_unix_timestamp(d.to_timestamp()).ok())
                .unwrap_or_else(chatty_core::now),
        );
        meta.addressees = mail
            .to()
            .into_iter()
            .flat_map(|a| a.iter())
            .filter_map(|a| a.address())
            .filter(|a| is_mail_address(a))
            .filter_map(|a| self.address(a).ok())
            .collect();
        meta.visible_to = mail
            .cc()
            .into_iter()
            .flat_map(|a| a.iter())
            .filter_map(|a| a.address())
            .filter(|a| is_mail_address(a))
            .filter_map(|a| self.address(a).ok())
            .collect();
        let in_reply_to = first_id(mail.in_reply_to());
        let references = id_list(mail.references());
        meta.response_to = in_reply_to
            .clone()
            .or_else(|| references.last().cloned())
            .map(|r| signal_id(&r));

        if let Some(report) = delivery_report(mail) {
            return Ok((Inbound::Report(report, Box::new(meta)), None));
        }

        let subject = mail.subject().map(str::to_owned).filter(|s| !s.is_empty());
        let mut thread_refs = references;
        if thread_refs.is_empty()
            && let Some(parent) = in_reply_to
        {
            thread_refs.push(parent);
        }
        let thread = Thread {
            subject: subject.clone(),
            references: thread_refs,
        };
        let parts = Parts::of(mail);
        let header_text = |name: &str| {
            mail.header(name)
                .and_then(|v| v.as_text())
                .map(|s| s.trim().to_owned())
        };
        let body: Body = if let Some(name) = header_text(HEADER_SIGNAL) {
            let json = parts.json.ok_or_else(|| {
                format!(
                    "the user-defined signal {name:?} in mail {id} has no application/json part"
                )
            })?;
            let payload: serde_json::Value = serde_json::from_slice(&json).map_err(|e| {
                format!("the user-defined signal {name:?} in mail {id} is not JSON: {e}")
            })?;
            UserDefined { name, payload }.into()
        } else {
            match header_text(HEADER_BODY).as_deref() {
                Some("file") => {
                    let file = parts
                        .attachments
                        .into_iter()
                        .next()
                        .ok_or_else(|| format!("the file mail {id} has no attachment"))?;
                    file.into()
                }
                Some("file-url") => {
                    let url = parts.text.unwrap_or_default().trim().to_owned();
                    if url.is_empty() {
                        return Err(format!("the file link mail {id} has no URL"));
                    }
                    let name = header_text(HEADER_FILE_NAME).unwrap_or_else(|| url.clone());
                    File::url(name, parts.url_media_type.as_deref(), url).into()
                }
                _ => ChattyMessage {
                    // An HTML-only mail: its text is the HTML converted by mail-parser.
                    text: match parts.text {
                        Some(text) => text,
                        None if parts.html.is_some() => mail
                            .body_text(0)
                            .map(|t| t.into_owned())
                            .unwrap_or_default(),
                        None => String::new(),
                    },
                    subject,
                    html: parts.html,
                    media: parts.media,
                    attachments: parts.attachments,
                    edit: None,
                }
                .into(),
            }
        };
        Ok((
            Inbound::Signal(Box::new(Signal { meta, body })),
            Some((id, thread)),
        ))
    }
}

/// `Re: subject`, unless the subject is a reply already.
fn reply_subject(subject: &str) -> String {
    if subject.len() >= 3 && subject[..3].eq_ignore_ascii_case("re:") {
        subject.to_owned()
    } else {
        format!("Re: {subject}")
    }
}

/// The MIME body of a message: text (and HTML with its inline media) as alternatives,
/// attachments after them.
fn message_body(message: &ChattyMessage) -> MimePart<'static> {
    let mut text = message.text.clone();
    let mut inline = Vec::new();
    for media in &message.media {
        match &media.file.content {
            Content::Bytes { data } => {
                let mut part = MimePart::new(media_type(&media.file), data.to_vec()).inline();
                if let Some(id) = &media.id {
                    part = part.cid(id.clone());
                }
                part = part.header(
                    "Content-Disposition",
                    ContentType::new("inline").attribute("filename", media.file.name.clone()),
                );
                inline.push(part);
            }
            Content::Url { url, .. } => {
                text.push_str(&format!("\r\n{}: {url}", media.file.name));
            }
        }
    }
    let mut files = Vec::new();
    for file in &message.attachments {
        match &file.content {
            Content::Bytes { data } => files.push(attachment(file, data)),
            Content::Url { url, .. } => text.push_str(&format!("\r\n{}: {url}", file.name)),
        }
    }
    let text_part = MimePart::new("text/plain", text);
    let main = match &message.html {
        Some(html) => {
            let html_part = MimePart::new("text/html", html.clone());
            let html_part = if inline.is_empty() {
                html_part
            } else {
                let mut related = vec![html_part];
                related.append(&mut inline);
                MimePart::new("multipart/related", related)
            };
            MimePart::new("multipart/alternative", vec![text_part, html_part])
        }
        None => text_part,
    };
    if inline.is_empty() && files.is_empty() {
        return main;
    }
    let mut parts = vec![main];
    parts.append(&mut inline);
    parts.append(&mut files);
    MimePart::new("multipart/mixed", parts)
}

fn media_type(file: &File) -> String {
    file.media_type
        .clone()
        .filter(|t| t.contains('/') && !t.chars().any(|c| c.is_whitespace() || c == ';'))
        .unwrap_or_else(|| "application/octet-stream".to_owned())
}

fn attachment(file: &File, data: &Bytes) -> MimePart<'static> {
    MimePart::new(media_type(file), data.to_vec()).attachment(file.name.clone())
}

/// The first message id of a header (In-Reply-To).
fn first_id(value: &mail_parser::HeaderValue<'_>) -> Option<String> {
    id_list(value).into_iter().next()
}

/// The message ids of a header (References), in order.
fn id_list(value: &mail_parser::HeaderValue<'_>) -> Vec<String> {
    match value {
        mail_parser::HeaderValue::Text(t) => vec![t.to_string()],
        mail_parser::HeaderValue::TextList(list) => list.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    }
    .into_iter()
    .map(|s| {
        s.trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_owned()
    })
    .filter(|s| !s.is_empty())
    .collect()
}

/// The leaf parts of a mail, sorted into what a message carries.
#[derive(Default)]
struct Parts {
    text: Option<String>,
    html: Option<String>,
    media: Vec<Media>,
    attachments: Vec<File>,
    json: Option<Vec<u8>>,
    url_media_type: Option<String>,
}

impl Parts {
    fn of(mail: &Message<'_>) -> Parts {
        let mut parts = Parts::default();
        for (index, part) in mail.parts.iter().enumerate() {
            if matches!(part.body, PartType::Multipart(_)) {
                continue;
            }
            let ctype = part.content_type();
            let full_type = ctype.map(|c| match c.subtype() {
                Some(sub) => format!("{}/{}", c.ctype(), sub).to_ascii_lowercase(),
                None => c.ctype().to_ascii_lowercase(),
            });
            let is_attachment = part
                .content_disposition()
                .is_some_and(|d| d.is_attachment());
            let content_id = part.content_id().map(|id| {
                id.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned()
            });
            let name = part.attachment_name().map(str::to_owned);
            if index == 0
                && let Some(media_type) = part
                    .headers
                    .header("X-Chatty-Media-Type")
                    .and_then(|h| h.value().as_text())
            {
                parts.url_media_type = Some(media_type.trim().to_owned());
            }
            match (&part.body, full_type.as_deref()) {
                (PartType::Text(text), None | Some("text/plain"))
                    if !is_attachment && content_id.is_none() && parts.text.is_none() =>
                {
                    // The line break that ends a mail's body (SMTP ends every body with one) is
                    // not part of the text.
                    let text = text
                        .strip_suffix("\r\n")
                        .or_else(|| text.strip_suffix('\n'))
                        .unwrap_or(text);
                    parts.text = Some(text.to_string());
                }
                (PartType::Html(html), _)
                    if !is_attachment && content_id.is_none() && parts.html.is_none() =>
                {
                    parts.html = Some(html.to_string());
                }
                (_, Some("application/json")) if !is_attachment && parts.json.is_none() => {
                    parts.json = Some(part.contents().to_vec());
                }
                _ => {
                    let data = Bytes::copy_from_slice(part.contents());
                    let file = File {
                        name: name.clone().unwrap_or_else(|| format!("part-{index}")),
                        media_type: full_type.clone(),
                        content: Content::Bytes { data },
                    };
                    match content_id {
                        Some(id) if !is_attachment => {
                            parts.media.push(Media { id: Some(id), file })
                        }
                        _ => parts.attachments.push(file),
                    }
                }
            }
        }
        parts
    }
}

/// The delivery report in a `multipart/report; report-type=delivery-status` mail (RFC 3464):
/// the original Message-ID (from the returned message or headers) and, per the first
/// recipient that failed (else the first), the action, status and diagnostic.
fn delivery_report(mail: &Message<'_>) -> Option<Report> {
    let ctype = mail.content_type()?;
    let is_report = ctype.ctype().eq_ignore_ascii_case("multipart")
        && ctype
            .subtype()
            .is_some_and(|s| s.eq_ignore_ascii_case("report"))
        && ctype
            .attribute("report-type")
            .is_some_and(|t| t.eq_ignore_ascii_case("delivery-status"));
    if !is_report {
        return None;
    }
    let mut status_text = None;
    let mut original = None;
    for part in &mail.parts {
        let Some(ct) = part.content_type() else {
            continue;
        };
        let main = ct.ctype().to_ascii_lowercase();
        let sub = ct.subtype().unwrap_or_default().to_ascii_lowercase();
        match (main.as_str(), sub.as_str()) {
            ("message", "delivery-status" | "global-delivery-status") => {
                status_text = Some(String::from_utf8_lossy(part.contents()).into_owned());
            }
            ("message", "rfc822" | "global") => {
                if let PartType::Message(inner) = &part.body {
                    original = original.or_else(|| inner.message_id().map(str::to_owned));
                }
            }
            ("text", "rfc822-headers") => {
                let text = String::from_utf8_lossy(part.contents()).into_owned();
                original = original.or_else(|| header_in(&text, "message-id"));
            }
            _ => {}
        }
    }
    let original = signal_id(&original?);
    let groups = dsn_groups(&status_text.unwrap_or_default());
    // The first group is per message; the rest are per recipient.
    let recipients: Vec<_> = groups.iter().filter(|g| g.contains_key("action")).collect();
    let chosen = recipients
        .iter()
        .find(|g| {
            g.get("action")
                .is_some_and(|a| a.eq_ignore_ascii_case("failed"))
        })
        .or_else(|| recipients.first())?;
    let action = chosen.get("action").map(|a| a.to_ascii_lowercase())?;
    let failed = action == "failed";
    if !failed && !matches!(action.as_str(), "delivered" | "relayed" | "expanded") {
        // `delayed`: the mail is still on its way; nothing changes yet.
        return None;
    }
    let recipient = chosen.get("final-recipient").map(|r| {
        r.split_once(';')
            .map_or(r.as_str(), |(_, a)| a)
            .trim()
            .to_owned()
    });
    let diagnostic = chosen.get("diagnostic-code").map(|d| {
        d.split_once(';')
            .map_or(d.as_str(), |(_, text)| text)
            .trim()
            .to_owned()
    });
    let status = chosen.get("status").cloned();
    let message = match (recipient, diagnostic) {
        (Some(r), Some(d)) => format!("{action} for {r}: {d}"),
        (Some(r), None) => format!("{action} for {r}"),
        (None, Some(d)) => format!("{action}: {d}"),
        (None, None) => action.clone(),
    };
    Some(Report {
        original,
        failed,
        status,
        message,
    })
}

/// The header groups of a `message/delivery-status` body (blank-line separated), with folded
/// lines unfolded and names in lower case.
fn dsn_groups(text: &str) -> Vec<HashMap<String, String>> {
    let mut groups = Vec::new();
    let mut current: HashMap<String, String> = HashMap::new();
    let mut last: Option<String> = None;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            if !current.is_empty() {
                groups.push(std::mem::take(&mut current));
            }
            last = None;
        } else if line.starts_with([' ', '\t']) {
            if let Some(key) = &last
                && let Some(value) = current.get_mut(key)
            {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            let key = name.trim().to_ascii_lowercase();
            current.insert(key.clone(), value.trim().to_owned());
            last = Some(key);
        }
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

/// A header's value in a block of header text (`text/rfc822-headers`), unfolded.
fn header_in(text: &str, name: &str) -> Option<String> {
    dsn_groups(text)
        .into_iter()
        .find_map(|g| g.get(name).cloned())
        .map(|v| {
            v.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chatty_core::reexports::serde_json::json;

    fn mapper(own: &str) -> Mapper {
        Mapper::new(PLATFORM, own).unwrap()
    }

    fn addr(mail: &str) -> Address {
        Address::new(PLATFORM, mail).unwrap()
    }

    fn round_trip(signal: &Signal) -> Signal {
        let alice = mapper("alice@example.org");
        let bob = mapper("bob@example.org");
        let out = alice.outbound(signal, &Threads::default()).unwrap();
        match bob.inbound(&out.bytes).0 {
            Inbound::Signal(s) => *s,
            other => panic!("{other:?}\n{}", String::from_utf8_lossy(&out.bytes)),
        }
    }

    #[test]
    fn ids_survive_the_wire() {
        for id in [
            "0123456789abcdef-0000000000000001",
            "abc@example.org",
            "C123/1700000000.000100",
            "with space and ünïcode",
            "a=b@chatty.invalid",
            "x@y@z",
            "CAF=abc+1@mail.example.com",
        ] {
            let wire = wire_id(&SignalId::from(id));
            assert!(
                wire.chars().all(|c| id_char(c) || c == '=' || c == '@'),
                "{wire}"
            );
            assert_eq!(signal_id(&wire).as_str(), id, "{wire}");
            assert_eq!(signal_id(&format!("<{wire}>")).as_str(), id, "{wire}");
        }
    }

    #[test]
    fn a_rich_message_round_trips() {
        let message = ChattyMessage::text("hello there")
            .with_subject("greetings")
            .with_html("<p>hello <b>there</b><img src=\"cid:pic\"></p>")
            .with_media(Media {
                id: Some("pic".into()),
                file: File::bytes("p.png", Some("image/png"), &b"\x89PNG\r\n"[..]),
            })
            .with_attachment(File::bytes(
                "notes.txt",
                Some("text/plain"),
                &b"some notes"[..],
            ))
            .with_attachment(File::bytes(
                "data.bin",
                Some("application/octet-stream"),
                &[0u8, 1, 2, 255][..],
            ));
        let mut signal = Signal::new(message).to(addr("bob@example.org"));
        signal.meta.visible_to = vec![addr("carol@example.org")];
        signal.meta.sent =
            Some(chatty_core::reexports::time::macros::datetime!(2026-11-25 10:00:00 UTC));
        let got = round_trip(&signal);
        assert_eq!(got.meta.id, signal.meta.id);
        assert_eq!(got.meta.sent, signal.meta.sent);
        assert_eq!(got.meta.origin, Some(addr("alice@example.org")));
        assert_eq!(got.meta.addressees, vec![addr("bob@example.org")]);
        assert_eq!(got.meta.visible_to, vec![addr("carol@example.org")]);
        let Body::Message(m) = got.body else {
            panic!("{:?}", got.body)
        };
        assert_eq!(m.text.trim_end(), "hello there");
        assert_eq!(m.subject.as_deref(), Some("greetings"));
        assert!(m.html.unwrap().contains("<b>there</b>"));
        assert_eq!(m.media.len(), 1);
        assert_eq!(m.media[0].id.as_deref(), Some("pic"));
        assert_eq!(
            m.media[0].file.content,
            Content::Bytes {
                data: Bytes::from_static(b"\x89PNG\r\n")
            }
        );
        let names: Vec<_> = m.attachments.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["notes.txt", "data.bin"]);
        assert_eq!(
            m.attachments[1].content,
            Content::Bytes {
                data: Bytes::from_static(&[0, 1, 2, 255])
            }
        );
        assert_eq!(
            m.attachments[1].media_type.as_deref(),
            Some("application/octet-stream")
        );
    }

    #[test]
    fn external_ids_stay_as_they_are_and_html_only_mail_gets_text() {
        let id = SignalId::from("CAF=abc+1@mail.example.com");
        assert_eq!(wire_id(&id), "CAF=abc+1@mail.example.com");
        let raw = "From: a@example.org\r\nTo: bob@example.org\r\nMessage-ID: <CAF=abc+1@mail.example.com>\r\n\
                   Content-Type: text/html\r\n\r\n<p>Hello <b>there</b></p>\r\n";
        let (Inbound::Signal(got), _) = mapper("bob@example.org").inbound(raw.as_bytes()) else {
            panic!()
        };
        assert_eq!(got.meta.id, id);
        let Body::Message(m) = got.body else { panic!() };
        assert!(
            m.text.contains("Hello") && !m.text.contains("<b>"),
            "{}",
            m.text
        );
        assert!(m.html.is_some());
    }

    #[test]
    fn a_plain_message_has_no_subject_or_html() {
        let got = round_trip(&Signal::message("plain").to(addr("bob@example.org")));
        let Body::Message(m) = got.body else { panic!() };
        assert_eq!(m.text.trim_end(), "plain");
        assert_eq!(m.subject, None);
        assert_eq!(m.html, None);
        assert!(m.attachments.is_empty() && m.media.is_empty());
    }

    #[test]
    fn files_and_user_defined_signals_round_trip() {
        let file = File::bytes("hello.txt", Some("text/plain"), &b"hello file"[..]);
        let got = round_trip(&Signal::new(file.clone()).to(addr("bob@example.org")));
        assert_eq!(got.body, Body::File(file));
        let link = File::url(
            "doc.pdf",
            Some("application/pdf"),
            "https://example.org/doc.pdf",
        );
        let got = round_trip(&Signal::new(link.clone()).to(addr("bob@example.org")));
        assert_eq!(got.body, Body::File(link));
        let user = UserDefined::new("order", &json!({"item": "tea", "count": 2})).unwrap();
        let got = round_trip(&Signal::new(user.clone()).to(addr("bob@example.org")));
        assert_eq!(got.body, Body::UserDefined(user));
    }

    #[test]
    fn replies_thread_with_subject_and_references() {
        let alice = mapper("alice@example.org");
        let bob = mapper("bob@example.org");
        let question = Signal::new(ChattyMessage::text("q").with_subject("Lunch?"))
            .to(addr("bob@example.org"));
        let out = alice.outbound(&question, &Threads::default()).unwrap();
        let (Inbound::Signal(got), Some((id, thread))) = bob.inbound(&out.bytes) else {
            panic!()
        };
        let mut threads = Threads::default();
        threads.remember(id, thread);
        let answer = got.reply(ChattyMessage::text("yes"));
        let out = bob.outbound(&answer, &threads).unwrap();
        assert_eq!(out.to, ["alice@example.org"]);
        let text = String::from_utf8_lossy(&out.bytes).into_owned();
        let wire = wire_id(&question.meta.id);
        assert!(text.contains(&format!("In-Reply-To: <{wire}>")), "{text}");
        assert!(text.contains(&format!("References: <{wire}>")), "{text}");
        assert!(text.contains("Subject: Re: Lunch?"), "{text}");
        let (Inbound::Signal(back), _) = alice.inbound(&out.bytes) else {
            panic!()
        };
        assert_eq!(back.meta.response_to, Some(question.meta.id.clone()));
    }

    #[test]
    fn what_email_cannot_carry_is_refused() {
        let alice = mapper("alice@example.org");
        let threads = Threads::default();
        let no_one = Signal::message("x");
        assert_eq!(
            alice.outbound(&no_one, &threads).unwrap_err().kind,
            FailureKind::UnknownAddressee
        );
        let xmpp = Signal::message("x").to("xmpp:a@b".parse().unwrap());
        assert!(alice.outbound(&xmpp, &threads).is_err());
        let edit = Signal::new(ChattyMessage::text("x").correcting("old".into()))
            .to(addr("bob@example.org"));
        assert!(alice.outbound(&edit, &threads).is_err());
    }

    #[test]
    fn malformed_mails_are_reported_not_panicked_on() {
        let bob = mapper("bob@example.org");
        for raw in [
            &b""[..],
            b"this is not a mail at all\r\n",
            b"From: nobody\r\nSubject: no address\r\n\r\nbody\r\n",
            b"From: a@example.org\r\nX-Chatty-Signal: order\r\nContent-Type: application/json\r\n\r\n{not json\r\n",
            b"From: a@example.org\r\nX-Chatty-Body: file\r\n\r\nno attachment\r\n",
            b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\n",
        ] {
            match bob.inbound(raw).0 {
                Inbound::Malformed(_) => {}
                Inbound::Signal(s) if raw.starts_with(b"From: a@example.org\r\nContent-Type: multipart") => {
                    assert!(matches!(s.body, Body::Message(_)));
                }
                other => panic!("{other:?} for {}", String::from_utf8_lossy(raw)),
            }
        }
    }

    const POSTFIX_DSN: &str = "From: Mail Delivery System <MAILER-DAEMON@localhost>\r
Subject: Undelivered Mail Returned to Sender\r
To: m00@localhost\r
MIME-Version: 1.0\r
Content-Type: multipart/report; report-type=delivery-status;\r
\tboundary=\"B\"\r
Message-Id: <20261125182942.5A4A598C23B@localhost>\r
\r
--B\r
Content-Description: Notification\r
Content-Type: text/plain; charset=utf-8\r
\r
I'm sorry to have to inform you that your message could not be delivered.\r
\r
--B\r
Content-Description: Delivery report\r
Content-Type: message/delivery-status\r
\r
Reporting-MTA: dns; localhost\r
Arrival-Date: Wed, 25 Nov 2026 18:29:42 +0000 (UTC)\r
\r
Final-Recipient: rfc822; x@bounce.localhost\r
Original-Recipient: rfc822;x@bounce.localhost\r
Action: failed\r
Status: 5.1.1\r
Diagnostic-Code: smtp; 550 5.1.1 <x@bounce.localhost> User doesn't exist:\r
    x@bounce.localhost\r
\r
--B\r
Content-Description: Undelivered Message\r
Content-Type: message/rfc822\r
\r
Subject: bounce me\r
Message-ID: <b1=20x@chatty.invalid>\r
From: m00@localhost\r
\r
hello\r
\r
--B--\r
";

    #[test]
    fn a_postfix_bounce_is_a_failed_report_for_the_original() {
        let (got, thread) = mapper("m00@localhost").inbound(POSTFIX_DSN.as_bytes());
        assert!(thread.is_none());
        let Inbound::Report(report, meta) = got else {
            panic!("{got:?}")
        };
        assert_eq!(report.original.as_str(), "b1 x");
        assert!(report.failed);
        assert_eq!(report.status.as_deref(), Some("5.1.1"));
        assert!(
            report.message.contains("x@bounce.localhost"),
            "{}",
            report.message
        );
        assert!(
            report.message.contains("User doesn't exist"),
            "{}",
            report.message
        );
        assert_eq!(meta.origin, Some(addr("MAILER-DAEMON@localhost")));
    }

    #[test]
    fn a_success_report_and_headers_only_reports_are_read() {
        let dsn = POSTFIX_DSN
            .replace("Action: failed", "Action: delivered")
            .replace(
                "Content-Type: message/rfc822",
                "Content-Type: text/rfc822-headers",
            );
        let Inbound::Report(report, _) = mapper("m00@localhost").inbound(dsn.as_bytes()).0 else {
            panic!()
        };
        assert!(!report.failed);
        assert_eq!(report.original.as_str(), "b1 x");
        let delayed = POSTFIX_DSN.replace("Action: failed", "Action: delayed");
        assert!(matches!(
            mapper("m00@localhost").inbound(delayed.as_bytes()).0,
            Inbound::Signal(_)
        ));
    }
}
