//! Files through the session: uploads (XEP-0363) before a file or attachment is sent, and
//! downloads for `DownloadFile` signals.

use chatty_core::{Address, Body, Content, FailureKind, File, Refusal, Signal};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::disco::{DiscoItemsQuery, DiscoItemsResult};
use tokio_xmpp::parsers::http_upload::{SlotRequest, SlotResult};
use tokio_xmpp::parsers::iq::Iq;

use crate::files::{Http, name_from_url};
use crate::ns::NS_HTTP_UPLOAD;
use crate::session::XmppSession;

impl XmppSession {
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
        Ok(File {
            name: file.name,
            media_type: file.media_type,
            content: Content::Url {
                url: slot.get.url,
                size: Some(size),
            },
        })
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

/// Fetches the file of a `DownloadFile` request: the file with its bytes, in response to the
/// request, or a send failure for it.
pub(crate) async fn download(
    http: Result<Http, String>,
    request: Signal,
    own: Option<Address>,
) -> Signal {
    let failure = |message: String| {
        let mut signal = Signal::new(chatty_core::SendFailure {
            failed: request.meta.id.clone(),
            kind: FailureKind::Unreachable,
            code: Some("download-failed".into()),
            message,
        })
        .in_response_to(request.meta.id.clone());
        signal.meta.origin = own.clone();
        signal.meta.addressees = own.iter().cloned().collect();
        signal
    };
    let Body::DownloadFile(chatty_core::DownloadFile { file }) = &request.body else {
        return failure("not a download request".into());
    };
    let Content::Url { url, .. } = &file.content else {
        return failure(format!("the file {} has its bytes already", file.name));
    };
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return failure(format!("{url} is not an HTTP URL"));
    }
    let http = match http {
        Ok(http) => http,
        Err(e) => return failure(e),
    };
    match http.get(url).await {
        Ok((data, media_type)) => {
            let fetched = File {
                name: if file.name.is_empty() {
                    name_from_url(url)
                } else {
                    file.name.clone()
                },
                media_type: file.media_type.clone().or(media_type),
                content: Content::Bytes { data },
            };
            let mut signal = Signal::new(fetched).in_response_to(request.meta.id.clone());
            signal.meta.origin = own.clone();
            signal.meta.addressees = own.iter().cloned().collect();
            signal.meta.received = Some(chatty_core::now());
            signal
        }
        Err(e) => failure(e),
    }
}
