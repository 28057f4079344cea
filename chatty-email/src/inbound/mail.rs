//! Inbound: a raw mail (mail-parser) as a signal, a delivery report, or why it cannot be
//! understood.

use chatty_core::reexports::bytes::Bytes;
use chatty_core::reexports::serde_json;
use chatty_core::reexports::time::OffsetDateTime;
use chatty_core::{
    Body, Content, File, Media, Message as ChattyMessage, Metadata, Signal, SignalId, UserDefined,
};
use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{Encoding, GetHeader, Message, MessagePart, MimeHeaders, PartType};

use super::dsn::delivery_report;
use crate::automatic;
use crate::config::is_mail_address;
use crate::ids::{raw_id, signal_id};
use crate::mapper::{HEADER_BODY, HEADER_FILE_NAME, HEADER_SIGNAL, Inbound, Mapper, Thread};

impl Mapper {
    /// Parses one raw mail.
    pub(crate) fn inbound(&self, raw: &[u8]) -> (Inbound, Option<(SignalId, Thread)>) {
        let Some(mail) = self.parser.parse(raw) else {
            return (
                Inbound::Malformed("a mail that cannot be parsed at all (empty?)".into()),
                None,
            );
        };
        match self.try_inbound(&mail, raw) {
            Ok(result) => result,
            Err(e) => (Inbound::Malformed(e), None),
        }
    }

    fn try_inbound(
        &self,
        mail: &Message<'_>,
        raw: &[u8],
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
        // The same mail read again must get the same id (the journal knows it by its sender
        // and id): its Message-ID, or else the hash of its bytes.
        let id = mail
            .message_id()
            .filter(|id| !id.is_empty())
            .map_or_else(|| raw_id(raw), signal_id);
        let mut meta = Metadata::with_id(id.clone());
        meta.origin = Some(origin);
        meta.automatic = automatic::detect(mail);
        meta.sent = Some(
            mail.date()
                .and_then(|d| OffsetDateTime::from_unix_timestamp(d.to_timestamp()).ok())
                .unwrap_or_else(chatty_core::now),
        );
        // The mail addresses of a header, as chatty addresses (groups and malformed ones
        // skipped).
        let addresses = |header: Option<&mail_parser::Address<'_>>| -> Vec<chatty_core::Address> {
            header
                .into_iter()
                .flat_map(|a| a.iter())
                .filter_map(|a| a.address())
                .filter(|a| is_mail_address(a))
                .filter_map(|a| self.address(a).ok())
                .collect()
        };
        meta.addressees = addresses(mail.to());
        meta.visible_to = addresses(mail.cc());
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
            UserDefined::from_value(name, payload).into()
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
                _ => {
                    // An HTML-only mail: its text is the HTML converted by mail-parser.
                    let text = match parts.text {
                        Some(text) => text,
                        None if parts.html.is_some() => mail
                            .body_text(0)
                            .map(|t| t.into_owned())
                            .unwrap_or_default(),
                        None => String::new(),
                    };
                    let mut message = ChattyMessage::text(text);
                    message.subject = subject;
                    message.html = parts.html;
                    message.media = parts.media;
                    message.attachments = parts.attachments;
                    message.into()
                }
            }
        };
        Ok((
            Inbound::Signal(Box::new(Signal { meta, body })),
            Some((id, thread)),
        ))
    }
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
    /// Sorts the leaf parts: the first `text/plain` and `text/html` parts are the text and the
    /// HTML (further unnamed inline `text/plain` parts, such as a list's footer, are added to
    /// the text); a part with a `Content-ID` or shown inline (`Content-Disposition: inline`,
    /// or an image, audio or video part that is not an attachment) is media; every other part
    /// is an attachment, with its bytes as they were sent (a text file keeps its charset, named
    /// in its media type: `text/plain; charset=iso-8859-1`).
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
            let disposition = part.content_disposition();
            let is_attachment = disposition.is_some_and(|d| d.is_attachment());
            let shown_inline = !is_attachment
                && (disposition.is_some_and(|d| d.is_inline())
                    || matches!(part.body, PartType::InlineBinary(_)));
            let content_id = part
                .content_id()
                .map(|id| {
                    id.trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .to_owned()
                })
                .filter(|id| !id.is_empty());
            let name = part.attachment_name().map(str::to_owned);
            if index == 0
                && let Some(media_type) = part
                    .headers
                    .header("X-Chatty-Media-Type")
                    .and_then(|h| h.value().as_text())
            {
                parts.url_media_type = Some(media_type.trim().to_owned());
            }
            let plain = matches!(full_type.as_deref(), None | Some("text/plain"));
            match &part.body {
                PartType::Text(text) if plain && !is_attachment && content_id.is_none() => {
                    // The line break that ends a mail's body (SMTP ends every body with one) is
                    // not part of the text.
                    let text = text
                        .strip_suffix("\r\n")
                        .or_else(|| text.strip_suffix('\n'))
                        .unwrap_or(text);
                    match &mut parts.text {
                        None => {
                            parts.text = Some(text.to_owned());
                            continue;
                        }
                        Some(body) if name.is_none() => {
                            body.push_str("\r\n");
                            body.push_str(text);
                            continue;
                        }
                        Some(_) => {}
                    }
                }
                PartType::Html(html)
                    if !is_attachment && content_id.is_none() && parts.html.is_none() =>
                {
                    parts.html = Some(html.to_string());
                    continue;
                }
                _ if full_type.as_deref() == Some("application/json")
                    && !is_attachment
                    && parts.json.is_none() =>
                {
                    parts.json = Some(part.contents().to_vec());
                    continue;
                }
                _ => {}
            }
            let file = File::new(
                name.unwrap_or_else(|| format!("part-{index}")),
                file_type(full_type, ctype, part).as_deref(),
                Content::Bytes {
                    data: Bytes::from(sent_bytes(mail, part)),
                },
            );
            match content_id {
                Some(id) if !is_attachment => parts.media.push(Media::new(file).with_id(id)),
                None if shown_inline => parts.media.push(Media::new(file)),
                _ => parts.attachments.push(file),
            }
        }
        parts
    }
}

/// A file part's media type: its type, and for text its charset.
fn file_type(
    full_type: Option<String>,
    ctype: Option<&mail_parser::ContentType<'_>>,
    part: &MessagePart<'_>,
) -> Option<String> {
    let charset = ctype
        .and_then(|c| c.attribute("charset"))
        .map(str::trim)
        .filter(|c| !c.is_empty() && c.chars().all(|c| c.is_ascii_graphic() && c != '"'));
    match (full_type, charset) {
        (Some(t), Some(charset)) if part.is_text() => Some(format!("{t}; charset={charset}")),
        (t, _) => t,
    }
}

/// A part's bytes as they were sent: the transfer encoding (base64, quoted-printable) undone,
/// but text not converted to UTF-8 (mail-parser converts text parts; a file keeps its bytes).
fn sent_bytes(mail: &Message<'_>, part: &MessagePart<'_>) -> Vec<u8> {
    if !part.is_text() || part.is_encoding_problem {
        return part.contents().to_vec();
    }
    let raw = mail
        .raw_message
        .get(part.offset_body as usize..part.offset_end as usize)
        .unwrap_or_default();
    let decoded = match part.encoding {
        Encoding::Base64 => base64_decode(raw),
        Encoding::QuotedPrintable => quoted_printable_decode(raw),
        Encoding::None => Some(raw.to_vec()),
    };
    decoded.unwrap_or_else(|| part.contents().to_vec())
}
