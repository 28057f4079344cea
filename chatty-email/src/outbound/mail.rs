//! Outbound: a signal as a MIME mail (mail-builder) and its SMTP envelope.

use chatty_core::reexports::bytes::Bytes;
use chatty_core::reexports::serde_json;
use chatty_core::session::Refusal;
use chatty_core::{Automatic, Body, Content, FailureKind, File, Message as ChattyMessage, Signal};
use mail_builder::MessageBuilder;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::date::Date;
use mail_builder::headers::message_id::MessageId;
use mail_builder::headers::text::Text;
use mail_builder::mime::{BodyPart, MimePart};

use crate::automatic::{SUPPRESS, auto_submitted};
use crate::copies::HEADER_COPY;
use crate::ids::wire_id;
use crate::mapper::{
    HEADER_BODY, HEADER_FILE_NAME, HEADER_SIGNAL, Mapper, Outbound, Thread, Threads,
};

impl Mapper {
    /// The mail for an outbound signal, or why it cannot be sent.
    pub(crate) fn outbound(&self, signal: &Signal, threads: &Threads) -> Result<Outbound, Refusal> {
        let (to, cc) = self.recipients(signal)?;
        let id = wire_id(&signal.meta.id);
        let mut builder = MessageBuilder::new()
            .from(self.own_mail.as_str())
            .to(to.clone())
            .message_id(id.clone());
        if !cc.is_empty() {
            builder = builder.cc(cc.clone());
        }
        if let Some(value) = auto_submitted(signal) {
            builder = builder
                .header("Auto-Submitted", Text::new(value))
                .header("X-Auto-Response-Suppress", Text::new(SUPPRESS));
        }
        let copy = self.wants_copy(signal);
        if copy {
            builder = builder.header(HEADER_COPY, Text::new(self.name().to_owned()));
        }
        if signal.meta.automatic == Some(Automatic::Bulk) {
            builder = builder.header("Precedence", Text::new("bulk"));
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
                _ => {
                    return Err(Refusal::new(
                        FailureKind::Rejected,
                        format!("email cannot carry the content of the file {}", file.name),
                    ));
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
            copy,
            bytes,
            thread: Thread {
                subject,
                references,
            },
        })
    }

    /// `To` (the addressees) and `Cc` (who else sees it) of an outbound signal: each mail
    /// address once (in `To` if it is in both), never the bot's own; when only copies are left
    /// (an answer to the bot's own mail), they become `To`. Addresses are told apart without
    /// regard to case.
    fn recipients<'s>(&self, signal: &'s Signal) -> Result<(Vec<&'s str>, Vec<&'s str>), Refusal> {
        if signal.meta.addressees.is_empty() {
            return Err(Refusal::new(
                FailureKind::UnknownAddressee,
                "a mail needs at least one addressee",
            ));
        }
        let mut seen = vec![self.own_mail.to_lowercase()];
        let mut pick = |addresses: &'s [chatty_core::Address]| {
            let mut picked = Vec::new();
            for address in addresses {
                let mail = Self::mail_of(address)?;
                let key = mail.to_lowercase();
                if !seen.contains(&key) {
                    seen.push(key);
                    picked.push(mail);
                }
            }
            Ok::<_, Refusal>(picked)
        };
        let mut to = pick(&signal.meta.addressees)?;
        let mut cc = pick(&signal.meta.visible_to)?;
        if to.is_empty() {
            std::mem::swap(&mut to, &mut cc);
        }
        if to.is_empty() {
            return Err(Refusal::new(
                FailureKind::UnknownAddressee,
                format!(
                    "a mail only to the bot's own address ({}) is not sent",
                    self.own_mail
                ),
            ));
        }
        Ok((to, cc))
    }
}

/// `Re: subject`, unless the subject is a reply already (any case: `RE:`, `re:`).
fn reply_subject(subject: &str) -> String {
    let is_reply = subject
        .get(..3)
        .is_some_and(|start| start.eq_ignore_ascii_case("re:"));
    if is_reply {
        subject.to_owned()
    } else {
        format!("Re: {subject}")
    }
}

/// The MIME body of a message: text and HTML as alternatives, the media the HTML refers to
/// (by `Content-ID`) in a `multipart/related` with the HTML, other media as inline parts and
/// attachments after them. A question's options (`Message::choice`) are numbered lines in the
/// text, and an ordered list in the HTML: mail has no buttons, the person answers by text.
fn message_body(message: &ChattyMessage) -> MimePart<'static> {
    let mut text = message.text_with_choice();
    let mut related = Vec::new();
    let mut inline = Vec::new();
    for media in &message.media {
        match &media.file.content {
            Content::Bytes { data } => {
                let part = file_part(&media.file, data, "inline");
                match &media.id {
                    Some(id) if message.html.is_some() => related.push(part.cid(id.clone())),
                    Some(id) => inline.push(part.cid(id.clone())),
                    None => inline.push(part),
                }
            }
            Content::Url { url, .. } => {
                text.push_str(&format!("\r\n{}: {url}", media.file.name));
            }
            // Content email has no part for: named, so the mail says what is missing.
            _ => text.push_str(&format!("\r\n{} (not carried)", media.file.name)),
        }
    }
    let mut files = Vec::new();
    for file in &message.attachments {
        match &file.content {
            Content::Bytes { data } => files.push(attachment(file, data)),
            Content::Url { url, .. } => text.push_str(&format!("\r\n{}: {url}", file.name)),
            _ => text.push_str(&format!("\r\n{} (not carried)", file.name)),
        }
    }
    let text_part = MimePart::new("text/plain", text);
    let main = match &message.html {
        Some(html) => {
            let html_part = MimePart::new("text/html", html_with_choice(message, html));
            let html_part = if related.is_empty() {
                html_part
            } else {
                related.insert(0, html_part);
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

/// `html` with the options of `message`'s choice as an ordered list (numbered as in the text)
/// and the text's line on how to answer, before `</body>` if it has one, else at its end;
/// `html` as it is without a choice (or one without options).
fn html_with_choice(message: &ChattyMessage, html: &str) -> String {
    let Some(choice) = message.choice.as_ref().filter(|c| !c.options.is_empty()) else {
        return html.to_owned();
    };
    let mut list = String::from("<ol>");
    for option in &choice.options {
        list.push_str(&format!("<li>{}</li>", escape_html(&option.label)));
    }
    list.push_str("</ol>");
    list.push_str(&format!(
        "<p>{}</p>",
        escape_html(chatty_core::Choice::HOW_TO_ANSWER)
    ));
    match html.to_ascii_lowercase().rfind("</body>") {
        Some(end) => format!("{}{list}{}", &html[..end], &html[end..]),
        None => format!("{html}{list}"),
    }
}

/// Text as HTML: `&`, `<`, `>` and quotes as character references.
fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// A file's `Content-Type`: its media type (`type/subtype`, with parameters such as a text
/// file's charset) where it is one, else `application/octet-stream`.
fn media_type(file: &File) -> ContentType<'static> {
    let fallback = || ContentType::new("application/octet-stream");
    let Some(text) = file.media_type.as_deref() else {
        return fallback();
    };
    let mut pieces = text.split(';');
    let main = pieces.next().unwrap_or_default().trim();
    let valid = main
        .split_once('/')
        .is_some_and(|(t, sub)| is_token(t) && is_token(sub));
    if !valid {
        return fallback();
    }
    let mut content_type = ContentType::new(main.to_ascii_lowercase());
    for parameter in pieces {
        let Some((name, value)) = parameter.split_once('=') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim().trim_matches('"'));
        if is_token(name) && !value.is_empty() && value.chars().all(|c| c.is_ascii_graphic()) {
            content_type = content_type.attribute(name.to_ascii_lowercase(), value.to_owned());
        }
    }
    content_type
}

/// An RFC 2045 token: printable ASCII without spaces and `tspecials`.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?=".contains(c))
}

fn attachment(file: &File, data: &Bytes) -> MimePart<'static> {
    file_part(file, data, "attachment")
}

/// A file as a MIME part, with `Content-Disposition: DISPOSITION; filename=NAME`. A mail
/// (`message/rfc822`) is carried as it is (`7bit` or `8bit`), as RFC 2046 5.2.1 requires, where
/// its lines allow that; otherwise it goes base64-encoded as `application/octet-stream`.
fn file_part(file: &File, data: &Bytes, disposition: &str) -> MimePart<'static> {
    let disposition =
        ContentType::new(disposition.to_owned()).attribute("filename", file.name.clone());
    let is_mail = file
        .media_type
        .as_deref()
        .and_then(|t| t.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("message/rfc822"));
    if is_mail {
        return match unencoded(data) {
            Some(encoding) => MimePart::new(ContentType::new("message/rfc822"), data.to_vec())
                .header("Content-Disposition", disposition)
                .transfer_encoding(encoding),
            None => MimePart::new(ContentType::new("application/octet-stream"), data.to_vec())
                .header("Content-Disposition", disposition),
        };
    }
    MimePart::new(media_type(file), data.to_vec()).header("Content-Disposition", disposition)
}

/// `7bit` or `8bit` when `data` may go unencoded (RFC 2045 2.7, 2.8): CRLF line ends only, no
/// NUL, lines of at most 998 octets; `None` otherwise.
fn unencoded(data: &[u8]) -> Option<&'static str> {
    let mut line = 0usize;
    let mut previous = 0u8;
    for (i, &byte) in data.iter().enumerate() {
        match byte {
            0 => return None,
            b'\r' if data.get(i + 1) != Some(&b'\n') => return None,
            b'\n' if previous != b'\r' => return None,
            b'\n' => line = 0,
            b'\r' => {}
            _ => {
                line += 1;
                if line > 998 {
                    return None;
                }
            }
        }
        previous = byte;
    }
    Some(if data.is_ascii() { "7bit" } else { "8bit" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_choice_is_an_ordered_list_in_the_html() {
        let choice = chatty_core::Choice::new("p")
            .option("low", "Low")
            .option("high", "<b>High</b> & \"hot\"");
        let message = ChattyMessage::text("How urgent?").with_choice(choice);
        let list = "<ol><li>Low</li><li>&lt;b&gt;High&lt;/b&gt; &amp; &quot;hot&quot;</li></ol>\
                    <p>(Answer with a number.)</p>";
        assert_eq!(
            html_with_choice(&message, "<p>How urgent?</p>"),
            format!("<p>How urgent?</p>{list}")
        );
        assert_eq!(
            html_with_choice(&message, "<html><BODY><p>How urgent?</p></BODY></html>"),
            format!("<html><BODY><p>How urgent?</p>{list}</BODY></html>"),
            "inside the body"
        );
        let plain = ChattyMessage::text("No question");
        assert_eq!(html_with_choice(&plain, "<p>x</p>"), "<p>x</p>");
        let empty = ChattyMessage::text("?").with_choice(chatty_core::Choice::new("e"));
        assert_eq!(html_with_choice(&empty, "<p>x</p>"), "<p>x</p>");
    }

    #[test]
    fn what_may_go_unencoded() {
        assert_eq!(unencoded(b"From: a@b\r\n\r\nhi\r\n"), Some("7bit"));
        assert_eq!(unencoded("Subject: café\r\n".as_bytes()), Some("8bit"));
        assert_eq!(unencoded(b"bare\nline feed"), None);
        assert_eq!(unencoded(b"bare\rreturn"), None);
        assert_eq!(unencoded(b"nul\0"), None);
        assert_eq!(unencoded(&[b'x'; 998]), Some("7bit"));
        assert_eq!(unencoded(&[b'x'; 999]), None);
    }

    #[test]
    fn media_types_keep_their_parameters_or_fall_back() {
        let file = |t: Option<&str>| File::bytes("f", t, &b"x"[..]);
        let written = |t: Option<&str>| {
            let part = MimePart::new(media_type(&file(t)), b"x".to_vec());
            let mut out = Vec::new();
            part.write_part(&mut out);
            String::from_utf8(out).unwrap()
        };
        assert!(
            written(Some("text/plain; charset=iso-8859-1"))
                .starts_with("Content-Type: text/plain; charset=\"iso-8859-1\"")
        );
        assert!(written(Some("Image/PNG")).starts_with("Content-Type: image/png"));
        for bad in [
            None,
            Some("png"),
            Some("a b/c"),
            Some("text/plain\r\nBcc: x@y"),
        ] {
            assert!(
                written(bad).starts_with("Content-Type: application/octet-stream"),
                "{bad:?}"
            );
        }
    }
}
