//! Files: HTTP File Upload (XEP-0363) out, Out of Band Data (XEP-0066) URLs both ways, and
//! downloads for `DownloadFile` signals. HTTP over hyper with rustls (ring), the same TLS stack
//! as the XMPP stream; server certificates are checked against the system roots and
//! `SSL_CERT_FILE`.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Request;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// The largest file a download fetches.
pub(crate) const DOWNLOAD_LIMIT: usize = 64 * 1024 * 1024;

/// How long one upload or download may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(60);

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// An HTTP client for uploads and downloads.
#[derive(Clone)]
pub(crate) struct Http {
    client: Client<Connector, Full<Bytes>>,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Http")
    }
}

impl Http {
    /// A client trusting the system's roots (and `SSL_CERT_FILE`).
    pub(crate) fn new() -> Result<Self, String> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| format!("cannot load the system's root certificates: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Http {
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    /// Uploads `data` to an upload slot's PUT URL, with the headers the server asked for.
    pub(crate) async fn put(
        &self,
        url: &str,
        headers: &[(String, String)],
        content_type: Option<&str>,
        data: Bytes,
    ) -> Result<(), String> {
        let mut request = Request::put(url).header(CONTENT_LENGTH, data.len());
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| format!("the upload slot names a bad header {name:?}: {e}"))?;
            let value = HeaderValue::from_str(value)
                .map_err(|e| format!("the upload slot gives a bad header value: {e}"))?;
            request = request.header(name, value);
        }
        let request = request
            .body(Full::new(data))
            .map_err(|e| format!("bad upload URL {url}: {e}"))?;
        let response = tokio::time::timeout(HTTP_TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| format!("the upload to {url} took longer than {HTTP_TIMEOUT:?}"))?
            .map_err(|e| format!("the upload to {url} failed: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("the upload to {url} was refused: HTTP {status}"));
        }
        Ok(())
    }

    /// Fetches `url` (at most [`DOWNLOAD_LIMIT`] bytes).
    pub(crate) async fn get(&self, url: &str) -> Result<(Bytes, Option<String>), String> {
        let request = Request::get(url)
            .body(Full::new(Bytes::new()))
            .map_err(|e| format!("bad URL {url}: {e}"))?;
        let fetch = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| format!("fetching {url} failed: {e}"))?;
            let status = response.status();
            if !status.is_success() {
                return Err(format!("fetching {url}: HTTP {status}"));
            }
            let media_type = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = Limited::new(response.into_body(), DOWNLOAD_LIMIT)
                .collect()
                .await
                .map_err(|e| format!("fetching {url}: {e} (at most {DOWNLOAD_LIMIT} bytes)"))?
                .to_bytes();
            Ok((body, media_type))
        };
        tokio::time::timeout(HTTP_TIMEOUT, fetch)
            .await
            .map_err(|_| format!("fetching {url} took longer than {HTTP_TIMEOUT:?}"))?
    }
}

/// A file name for a URL: its last path segment, or `file`.
pub(crate) fn name_from_url(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit('/')
        .next()
        .filter(|s| !s.is_empty() && !s.contains(':'))
        .map_or_else(|| "file".to_owned(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_last_path_segment() {
        assert_eq!(
            name_from_url("http://h/file_share/abc/report.pdf?x=1"),
            "report.pdf"
        );
        assert_eq!(name_from_url("http://h/"), "file");
        assert_eq!(name_from_url("https:"), "file");
    }
}
