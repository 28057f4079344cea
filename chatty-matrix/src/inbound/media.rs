//! Files in: `m.file`, `m.image`, `m.audio` and `m.video` events as chatty files, their bytes
//! left on the homeserver (an `mxc://` URL, fetched with the session's token by
//! [`download`](crate::outbound::download)).
//!
//! An event whose `filename` differs from its `body` carries a caption (Matrix 1.10): it is a
//! message whose text (and HTML) is the caption, with the file as an attachment (`m.file`) or as
//! inline media (the others). Without a caption it is a file signal.

use chatty_core::{Body, Content, File, Media, Message};
use serde_json::Value;

/// The message types that carry a file.
const FILE_TYPES: [&str; 4] = ["m.file", "m.image", "m.audio", "m.video"];

/// The body of a message event's `content` that carries a file (unencrypted: an encrypted
/// file's key is out of reach without end-to-end encryption); `None` for other contents.
pub(crate) fn body(content: &Value) -> Option<Body> {
    let msgtype = content.get("msgtype")?.as_str()?;
    if !FILE_TYPES.contains(&msgtype) {
        return None;
    }
    let url = content.get("url")?.as_str()?;
    let text = content.get("body").and_then(Value::as_str).unwrap_or("");
    let filename = content
        .get("filename")
        .and_then(Value::as_str)
        .filter(|f| !f.is_empty());
    let info = content.get("info");
    let media_type = info.and_then(|i| i.get("mimetype")).and_then(Value::as_str);
    let size = info.and_then(|i| i.get("size")).and_then(Value::as_u64);
    let name = filename.unwrap_or(text);
    let file = File::new(
        name,
        media_type,
        Content::Url {
            url: url.to_owned(),
            size,
        },
    );
    let caption = filename.filter(|f| *f != text).map(|_| text);
    let Some(caption) = caption else {
        return Some(Body::File(file));
    };
    let mut message = Message::text(caption);
    message.html = content
        .get("format")
        .and_then(Value::as_str)
        .filter(|f| *f == "org.matrix.custom.html")
        .and_then(|_| content.get("formatted_body")?.as_str())
        .map(str::to_owned);
    if msgtype == "m.file" {
        message.attachments.push(file);
    } else {
        message.media.push(Media::new(file));
    }
    Some(Body::Message(message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_file_without_a_caption_is_a_file_signal_with_its_mxc_url() {
        let content = json!({"msgtype": "m.file", "body": "report.pdf", "url": "mxc://localhost/abc",
                             "info": {"mimetype": "application/pdf", "size": 1234}});
        let Some(Body::File(file)) = body(&content) else {
            panic!("{:?}", body(&content))
        };
        assert_eq!(file.name, "report.pdf");
        assert_eq!(file.media_type.as_deref(), Some("application/pdf"));
        assert!(matches!(&file.content,
            Content::Url { url, size: Some(1234) } if url == "mxc://localhost/abc"));
        // The same name as filename is no caption either.
        let named = json!({"msgtype": "m.image", "body": "p.png", "filename": "p.png",
                           "url": "mxc://localhost/p"});
        assert!(matches!(body(&named), Some(Body::File(_))));
    }

    #[test]
    fn a_caption_makes_a_message_with_an_attachment_or_inline_media() {
        let file = json!({"msgtype": "m.file", "body": "see attached", "filename": "hello.txt",
                          "url": "mxc://localhost/h"});
        let Some(Body::Message(m)) = body(&file) else {
            panic!()
        };
        assert_eq!(m.text, "see attached");
        assert_eq!(m.attachments[0].name, "hello.txt");
        assert!(m.media.is_empty());
        let image = json!({"msgtype": "m.image", "body": "look", "filename": "p.png",
                           "format": "org.matrix.custom.html", "formatted_body": "<b>look</b>",
                           "url": "mxc://localhost/p", "info": {"mimetype": "image/png"}});
        let Some(Body::Message(m)) = body(&image) else {
            panic!()
        };
        assert_eq!(m.html.as_deref(), Some("<b>look</b>"));
        assert_eq!(m.media[0].file.name, "p.png");
        assert!(m.attachments.is_empty());
    }

    #[test]
    fn text_an_encrypted_file_and_garbage_are_not_files() {
        assert!(body(&json!({"msgtype": "m.text", "body": "hi"})).is_none());
        let encrypted = json!({"msgtype": "m.file", "body": "x", "file": {"url": "mxc://a/b"}});
        assert!(body(&encrypted).is_none());
        assert!(body(&json!({"msgtype": "m.file", "url": 5})).is_none());
        assert!(body(&json!(null)).is_none());
    }
}
