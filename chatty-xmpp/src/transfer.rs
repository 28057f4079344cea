//! Files through the session: uploads (XEP-0363) before a file or attachment is sent, and
//! downloads of the files others sent.

use chatty_core::session::Refusal;
use chatty_core::{Body, Content, FailureKind, File, Signal};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::disco::{DiscoItemsQuery, DiscoItemsResult};
use tokio_xmpp::parsers::http_upload::{SlotRequest, SlotResult};
use tokio_xmpp::parsers::iq::Iq;

use crate::files::name_from_url;
use crate::ns::NS_HTTP_UPLOAD;
use crate::state::Shared;

impl Shared {
    /// The server's HTTP upload service: from the config, or found among the items of the
    /// account's domain (disco#items, then disco#info of each).
    async fn upload_service(&self) -> Result<Jid, String> {
        let mut known = self.upload_service.lock().await;
        if let Some(service) = known.as_ref() {
            return Ok(service.clone());
        }
        let service = match &self.config.upload_service {
            Some(service) => Jid::new(service)
                .map_err(|e| format!("upload_service `{service}` is not a JID: {e}"))?,
            None => {
                let domain = Jid::new(self.jid.domain().as_str())
                    .map_err(|e| format!("the account's domain is not a JID: {e}"))?;
                let iq = Iq::from_get(
                    format!("items-{}", chatty_core::SignalId::generate()),
                    DiscoItemsQuery {
                        node: None,
                        rsm: None,
                    },
                )
                .with_to(domain.clone());
                let items =
                    match self.request(iq, "disco#items").await? {
                        Iq::Result {
                            payload: Some(payload),
                            ..
                        } => DiscoItemsResult::try_from(payload)
                            .map_err(|e| {
                                format!(
                                    "{domain} answered disco#items with something malformed: {e}"
                                )
                            })?
                            .items,
                        _ => Vec::new(),
                    };
                let mut found = None;
                for item in items {
                    if let Some(info) = self.disco_info(item.jid.clone()).await?
                        && info.features.contains(NS_HTTP_UPLOAD)
                    {
                        found = Some(item.jid);
                        break;
                    }
                }
                found.ok_or_else(|| {
                    format!("the server {domain} offers no HTTP file upload (XEP-0363)")
                })?
            }
        };
        *known = Some(service.clone());
        Ok(service)
    }

    /// Uploads `file`'s bytes (XEP-0363) and returns the file with the URL to fetch it from.
    async fn upload(&self, file: File) -> Result<File, String> {
        let Content::Bytes { data } = file.content else {
            return Ok(file);
        };
        let service = self.upload_service().await?;
        let request = SlotRequest {
            filename: file.name.clone(),
            size: data.len() as u64,
            content_type: file.media_type.clone(),
        };
        let iq = Iq::from_get(
            format!("slot-{}", chatty_core::SignalId::generate()),
            request,
        )
        .with_to(service.clone());
        let slot = match self.request(iq, "an upload slot").await? {
            Iq::Result {
                payload: Some(payload),
                ..
            } => SlotResult::try_from(payload)
                .map_err(|e| format!("{service} answered with a malformed upload slot: {e}"))?,
            Iq::Error { error, .. } => {
                return Err(format!(
                    "{service} refused an upload slot for {} ({} bytes): {:?}",
                    file.name,
                    data.len(),
                    error.defined_condition
                ));
            }
            _ => return Err(format!("{service} answered the slot request with nothing")),
        };
        let headers: Vec<(String, String)> = slot
            .put
            .headers
            .iter()
            .map(|h| (h.name.as_str().to_owned(), h.value.clone()))
            .collect();
        let size = data.len() as u64;
        self.http()?
            .put(&slot.put.url, &headers, file.media_type.as_deref(), data)
            .await?;
        Ok(File::new(
            file.name,
            file.media_type.as_deref(),
            Content::Url {
                url: slot.get.url,
                size: Some(size),
            },
        ))
    }

    /// Uploads the bytes of a file signal, or of a message's attachments, first.
    pub(crate) async fn upload_files(&self, mut signal: Signal) -> Result<Signal, Refusal> {
        let refuse = |e: String| Refusal::new(FailureKind::Rejected, e).with_code("upload-failed");
        match &mut signal.body {
            Body::File(file) if matches!(file.content, Content::Bytes { .. }) => {
                let uploaded = self.upload(file.clone()).await.map_err(refuse)?;
                *file = uploaded;
            }
            Body::Message(message)
                if message
                    .attachments
                    .iter()
                    .any(|f| matches!(f.content, Content::Bytes { .. })) =>
            {
                let mut uploaded = Vec::with_capacity(message.attachments.len());
                for file in std::mem::take(&mut message.attachments) {
                    uploaded.push(self.upload(file).await.map_err(refuse)?);
                }
                message.attachments = uploaded;
            }
            _ => {}
        }
        Ok(signal)
    }
}

/// Fetches a file the platform delivered as a URL (HTTP or HTTPS only): the file with its
/// bytes, or why it cannot be had.
pub(crate) async fn download(shared: &Shared, file: File) -> Result<File, Refusal> {
    let failed = |message: String| {
        Refusal::new(FailureKind::Unreachable, message).with_code("download-failed")
    };
    let Content::Url { url, .. } = &file.content else {
        return Err(failed(format!(
            "the file {} has its bytes already",
            file.name
        )));
    };
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(failed(format!("{url} is not an HTTP URL")));
    }
    let (data, media_type) = shared
        .http()
        .map_err(failed)?
        .get(url)
        .await
        .map_err(failed)?;
    let name = if file.name.is_empty() {
        name_from_url(url)
    } else {
        file.name
    };
    Ok(File::new(
        name,
        file.media_type.or(media_type).as_deref(),
        Content::Bytes { data },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::XmppConfig;

    #[tokio::test]
    async fn only_http_urls_are_fetched() {
        let shared = Shared::new(XmppConfig::new("bot@example.org", "pw")).unwrap();
        for url in [
            "file:///etc/passwd",
            "ftp://example.org/a.txt",
            "gopher://h/x",
        ] {
            let refusal = download(&shared, File::url("a.txt", None, url))
                .await
                .unwrap_err();
            assert_eq!(refusal.kind, FailureKind::Unreachable, "{url}");
            assert_eq!(refusal.code.as_deref(), Some("download-failed"), "{url}");
            assert!(
                refusal.message.contains("not an HTTP URL"),
                "{url}: {refusal:?}"
            );
        }
        let bytes = File::bytes("b.txt", None, &b"here"[..]);
        let refusal = download(&shared, bytes).await.unwrap_err();
        assert!(refusal.message.contains("bytes already"), "{refusal:?}");
    }
}
