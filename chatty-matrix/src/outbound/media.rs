//! Files out: uploaded to the homeserver's media repository, then sent as `m.file`, `m.image`,
//! `m.audio` or `m.video` events; and files in fetched back with the session's token.
//!
//! A message with files becomes one event per file: the first carries the message's text (and
//! HTML) as its caption (Matrix 1.10: a `filename` beside a `body` that differs); a message's
//! attachments go as `m.file`, its inline media by their media type (`image/…` as `m.image`,
//! and so on); a file signal goes as `m.file`, its name the `body`.

use chatty_core::session::Refusal;
use chatty_core::{Content, FailureKind, File, Message};
use ruma::api::client::authenticated_media::get_content;
use ruma::api::client::media::create_content;
use ruma::events::AnyMessageLikeEventContent;
use ruma::serde::Raw;
use ruma::{MxcUri, OwnedMxcUri};
use serde_json::{Value, json};

use crate::state::Shared;

/// A file to send, and how.
pub(crate) struct Outgoing<'a> {
    pub(crate) file: &'a File,
    /// `m.file` (an attachment, a file signal) or by media type (inline media).
    pub(crate) inline: bool,
}

/// The files of `message`, inline media first.
pub(crate) fn files_of(message: &Message) -> Vec<Outgoing<'_>> {
    let media = message.media.iter().map(|m| Outgoing {
        file: &m.file,
        inline: true,
    });
    let attachments = message.attachments.iter().map(|file| Outgoing {
        file,
        inline: false,
    });
    media.chain(attachments).collect()
}

/// Where `file`'s bytes are on the homeserver, and their size: uploaded when the file has its
/// bytes; an `mxc://` URL as it is; another URL is refused (fetch it first).
pub(crate) async fn upload(
    shared: &Shared,
    token: &str,
    file: &File,
) -> Result<(OwnedMxcUri, Option<u64>), Refusal> {
    match &file.content {
        Content::Bytes { data } => {
            let mut request = create_content::v3::Request::new(data.to_vec());
            request.filename = Some(file.name.clone());
            request.content_type = Some(
                file.media_type
                    .clone()
                    .unwrap_or_else(|| "application/octet-stream".to_owned()),
            );
            let uploaded = super::call(shared, request, token).await?;
            Ok((uploaded.content_uri, u64::try_from(data.len()).ok()))
        }
        Content::Url { url, size } if url.starts_with("mxc://") => {
            Ok((OwnedMxcUri::from(url.as_str()), *size))
        }
        Content::Url { url, .. } => Err(Refusal::new(
            FailureKind::Rejected,
            format!(
                "{}: chatty-matrix sends a file with its bytes or an mxc:// URL, not {url} \
                 (download it first)",
                file.name
            ),
        )),
        _ => Err(Refusal::new(
            FailureKind::Rejected,
            format!("{}: a file content chatty-matrix does not know", file.name),
        )),
    }
}

/// The event content of `outgoing`, stored at `url`: with `caption` (a message's text and
/// HTML) as its body, and `relates_to` (a reply or thread) when given.
pub(crate) fn content(
    outgoing: &Outgoing<'_>,
    url: &MxcUri,
    size: Option<u64>,
    caption: Option<(&str, Option<&str>)>,
    relates_to: Option<&Value>,
) -> Result<Raw<AnyMessageLikeEventContent>, Refusal> {
    let file = outgoing.file;
    let media_type = file.media_type.as_deref();
    let msgtype = match (
        outgoing.inline,
        media_type.and_then(|t| t.split('/').next()),
    ) {
        (true, Some("image")) => "m.image",
        (true, Some("video")) => "m.video",
        (true, Some("audio")) => "m.audio",
        _ => "m.file",
    };
    let mut info = serde_json::Map::new();
    if let Some(media_type) = media_type {
        info.insert("mimetype".into(), media_type.into());
    }
    if let Some(size) = size {
        info.insert("size".into(), size.into());
    }
    let mut content =
        json!({"msgtype": msgtype, "body": file.name, "url": url.as_str(), "info": info});
    if let Some((text, html)) = caption.filter(|(text, _)| !text.is_empty() && *text != file.name) {
        content["body"] = text.into();
        content["filename"] = file.name.clone().into();
        if let Some(html) = html {
            content["format"] = "org.matrix.custom.html".into();
            content["formatted_body"] = html.into();
        }
    }
    if let Some(relates_to) = relates_to {
        content["m.relates_to"] = relates_to.clone();
    }
    let raw = serde_json::value::to_raw_value(&content)
        .map_err(|e| Refusal::new(FailureKind::Other, e.to_string()))?;
    Ok(Raw::from_json(raw))
}

/// Fetches a file delivered as an `mxc://` URL (authenticated media, Matrix 1.11), with the
/// session's token: the same file with its bytes.
pub(crate) async fn download(shared: &Shared, file: File) -> Result<File, Refusal> {
    let Content::Url { url, .. } = &file.content else {
        return Err(Refusal::new(
            FailureKind::Other,
            "the file has its bytes already",
        ));
    };
    let token = shared
        .live()
        .token
        .clone()
        .ok_or_else(|| Refusal::new(FailureKind::Unreachable, "not logged in (yet)"))?;
    let uri = <&MxcUri>::from(url.as_str());
    let request = get_content::v1::Request::from_uri(uri).map_err(|e| {
        Refusal::new(
            FailureKind::Rejected,
            format!("{url} is not an mxc:// URL chatty-matrix can fetch: {e}"),
        )
    })?;
    let fetched = super::call(shared, request, &token).await?;
    let media_type = file.media_type.clone().or(fetched.content_type);
    Ok(File::bytes(
        file.name,
        media_type.as_deref(),
        bytes::Bytes::from(fetched.file),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_of(raw: &Raw<AnyMessageLikeEventContent>) -> Value {
        serde_json::from_str(raw.json().get()).unwrap()
    }

    #[test]
    fn a_file_goes_by_its_name_and_inline_media_by_its_type_with_a_caption() {
        let url = <&MxcUri>::from("mxc://localhost/abc");
        let file = File::bytes("p.png", Some("image/png"), bytes::Bytes::from_static(b"x"));
        let plain = Outgoing {
            file: &file,
            inline: false,
        };
        let value = json_of(&content(&plain, url, Some(1), None, None).unwrap());
        assert_eq!(value["msgtype"], "m.file");
        assert_eq!(value["body"], "p.png");
        assert_eq!(value["url"], "mxc://localhost/abc");
        assert_eq!(value["info"]["mimetype"], "image/png");
        assert_eq!(value["info"]["size"], 1);
        assert!(value.get("filename").is_none());
        let inline = Outgoing {
            file: &file,
            inline: true,
        };
        let reply = json!({"m.in_reply_to": {"event_id": "$q"}});
        let value = json_of(
            &content(
                &inline,
                url,
                None,
                Some(("look", Some("<b>look</b>"))),
                Some(&reply),
            )
            .unwrap(),
        );
        assert_eq!(value["msgtype"], "m.image");
        assert_eq!(value["body"], "look");
        assert_eq!(value["filename"], "p.png");
        assert_eq!(value["formatted_body"], "<b>look</b>");
        assert_eq!(value["m.relates_to"]["m.in_reply_to"]["event_id"], "$q");
    }

    #[test]
    fn a_message_sends_its_inline_media_first_then_its_attachments() {
        let a = File::bytes("a.txt", None, bytes::Bytes::from_static(b"a"));
        let p = File::bytes("p.png", Some("image/png"), bytes::Bytes::from_static(b"p"));
        let message = Message::text("x")
            .with_attachment(a)
            .with_media(chatty_core::Media::new(p));
        let files = files_of(&message);
        let names: Vec<(&str, bool)> = files
            .iter()
            .map(|o| (o.file.name.as_str(), o.inline))
            .collect();
        assert_eq!(names, [("p.png", true), ("a.txt", false)]);
    }
}
