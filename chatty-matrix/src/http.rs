//! HTTP under the session: hyper 1 with rustls (ring), the one TLS stack, trusting the system
//! roots (and `SSL_CERT_FILE`) plus the configured CA file; ruma's typed requests and responses
//! on top ([`Http::call`]).

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chatty_core::ConnectionErrorKind;
use chatty_core::driver::Failure;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use ruma::api::auth_scheme::{AuthScheme, SendAccessToken};
use ruma::api::path_builder::VersionHistory;
use ruma::api::{
    IncomingResponseExt as _, MatrixVersion, OutgoingRequest, OutgoingRequestExt as _,
    SupportedVersions,
};
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;

use crate::config::MatrixConfig;

/// The largest response body read (a `/sync` of a busy account is a few MB).
const BODY_LIMIT: usize = 64 * 1024 * 1024;

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CallError {
    /// No answer: the connection failed, was lost, or took too long.
    Transport(String),
    /// The server answered with an error status.
    Status {
        /// The HTTP status.
        status: u16,
        /// The Matrix error code (`M_FORBIDDEN`), when the body has one.
        errcode: String,
        /// The error text.
        error: String,
        /// `retry_after_ms` (or `Retry-After`) of a 429.
        retry_after: Option<Duration>,
    },
    /// The answer could not be read.
    Decode(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Transport(cause) | CallError::Decode(cause) => f.write_str(cause),
            CallError::Status {
                status,
                errcode,
                error,
                ..
            } => write!(f, "HTTP {status} {errcode}: {error}"),
        }
    }
}

impl CallError {
    /// The failure of the connection this error means: a transport error, a 5xx or a 429 is
    /// transient (the driver connects again, after `retry_after_ms` for a 429); an unknown or
    /// soft-logged-out token, or another 4xx, is permanent.
    pub(crate) fn failure(&self) -> Failure {
        match self {
            CallError::Transport(cause) => Failure::new(ConnectionErrorKind::Unreachable, cause),
            CallError::Decode(cause) => Failure::new(ConnectionErrorKind::Protocol, cause),
            CallError::Status {
                status,
                retry_after,
                ..
            } => {
                let failure = Failure::new(ConnectionErrorKind::Other, self.to_string());
                match status {
                    429 => match retry_after {
                        Some(wait) => failure.retry_after(*wait),
                        None => failure,
                    },
                    500.. => failure,
                    401 | 403 => {
                        Failure::new(ConnectionErrorKind::Authentication, self.to_string())
                            .permanent()
                    }
                    _ => Failure::new(ConnectionErrorKind::Protocol, self.to_string()).permanent(),
                }
            }
        }
    }

    /// Whether trying the same request again later can help.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            CallError::Transport(_) => true,
            CallError::Status { status, .. } => *status == 429 || *status >= 500,
            CallError::Decode(_) => false,
        }
    }

    /// The Matrix error code of a refusal.
    pub(crate) fn errcode(&self) -> Option<&str> {
        match self {
            CallError::Status { errcode, .. } => Some(errcode),
            _ => None,
        }
    }
}

/// The HTTP client of one session.
#[derive(Clone)]
pub(crate) struct Http {
    client: Client<Connector, Full<Bytes>>,
    /// The client-server API's base URL: the configured one, or what its
    /// `/.well-known/matrix/client` names ([`Http::discover`]).
    base: Arc<std::sync::RwLock<Arc<str>>>,
    /// The configured homeserver URL, where discovery looks.
    configured: Arc<str>,
    versions: Arc<SupportedVersions>,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http").field("base", &self.base()).finish()
    }
}

impl Http {
    /// A client for the config's homeserver.
    pub(crate) fn new(config: &MatrixConfig) -> Result<Self, Failure> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let tls_failure = |cause: String| Failure::new(ConnectionErrorKind::Tls, cause);
        let mut roots = RootCertStore::empty();
        let loaded = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(loaded.certs);
        if let Some(path) = &config.ca_file {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| tls_failure(format!("ca_file {}: {e}", path.display())).permanent())?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                let cause = format!("ca_file {}: no certificate in it", path.display());
                return Err(tls_failure(cause).permanent());
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_failure(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .build();
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        // The versions the endpoints' paths are chosen by: every client endpoint used here has
        // had its v3 path since Matrix 1.1.
        let versions = SupportedVersions {
            versions: BTreeSet::from([MatrixVersion::V1_1, MatrixVersion::V1_11]),
            features: BTreeSet::new(),
        };
        Ok(Http {
            client,
            base: Arc::new(std::sync::RwLock::new(config.base_url().into())),
            configured: config.base_url().into(),
            versions: Arc::new(versions),
        })
    }

    /// Sends `request` with `token` (when the endpoint wants one) and reads its typed response,
    /// within `timeout`.
    pub(crate) async fn call<R>(
        &self,
        request: R,
        token: Option<&str>,
        timeout: Duration,
    ) -> Result<R::IncomingResponse, CallError>
    where
        R: OutgoingRequest<PathBuilder = VersionHistory>,
        for<'a> R::Authentication: AuthScheme<Input<'a> = SendAccessToken<'a>>,
    {
        let token = token.map_or(SendAccessToken::None, SendAccessToken::IfRequired);
        let request = request
            .try_into_http_request::<Vec<u8>>(
                &self.base(),
                token,
                Cow::Borrowed(self.versions.as_ref()),
            )
            .map_err(|e| CallError::Decode(format!("cannot build the request: {e}")))?;
        let response = self.raw(request, timeout).await?;
        let (parts, body) = response.into_parts();
        R::IncomingResponse::try_from_http_response(hyper::Response::from_parts(
            parts,
            body.as_slice(),
        ))
        .map_err(|e| CallError::Decode(format!("cannot read the server's answer: {e}")))
    }

    /// The client-server API's base URL now.
    pub(crate) fn base(&self) -> Arc<str> {
        self.base
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Server discovery (the spec's `/.well-known/matrix/client`): where the configured URL
    /// names another base URL for the client-server API (`m.homeserver.base_url`), requests go
    /// there from now on. No such file (or an unreadable one, with a warning) keeps the
    /// configured URL; a server out of reach is an error (the connection is tried again).
    pub(crate) async fn discover(&self, timeout: Duration) -> Result<(), CallError> {
        let url = format!("{}/.well-known/matrix/client", self.configured);
        let request = hyper::Request::get(url.as_str())
            .body(Vec::new())
            .map_err(|e| CallError::Decode(format!("{url}: {e}")))?;
        let answer = match self.raw(request, timeout).await {
            Ok(answer) => answer,
            Err(CallError::Status { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        let named = serde_json::from_slice::<serde_json::Value>(answer.body())
            .ok()
            .and_then(|v| v["m.homeserver"]["base_url"].as_str().map(str::to_owned))
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"));
        match named {
            Some(base) => {
                let base = base.trim_end_matches('/');
                if *self.base() != *base {
                    tracing::info!(configured = %self.configured, base, "the homeserver's client API, as its .well-known names it");
                }
                *self
                    .base
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = base.into();
            }
            None => {
                tracing::warn!(%url, "no m.homeserver.base_url in it: the configured URL is used")
            }
        }
        Ok(())
    }

    /// Sends a built request; an error status is a [`CallError::Status`].
    pub(crate) async fn raw(
        &self,
        request: hyper::Request<Vec<u8>>,
        timeout: Duration,
    ) -> Result<hyper::Response<Vec<u8>>, CallError> {
        let (parts, body) = request.into_parts();
        let path = parts.uri.path().to_owned();
        let request = hyper::Request::from_parts(parts, Full::new(Bytes::from(body)));
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| CallError::Transport(format!("{path}: {}", error_chain(&e))))?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, BODY_LIMIT)
                .collect()
                .await
                .map_err(|e| CallError::Transport(format!("{path}: reading the answer: {e}")))?
                .to_bytes();
            Ok::<_, CallError>(hyper::Response::from_parts(parts, body.to_vec()))
        };
        let response = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| CallError::Transport(format!("{path}: no answer within {timeout:?}")))??;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(status_error(&response))
    }
}

/// The error an unsuccessful answer carries.
fn status_error(response: &hyper::Response<Vec<u8>>) -> CallError {
    let json: serde_json::Value = serde_json::from_slice(response.body()).unwrap_or_default();
    let text = |key: &str| {
        json.get(key)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_owned()
    };
    let retry_after = json
        .get("retry_after_ms")
        .and_then(serde_json::Value::as_u64)
        .map(Duration::from_millis)
        .or_else(|| {
            let header = response.headers().get(hyper::header::RETRY_AFTER)?;
            let seconds = header.to_str().ok()?.trim().parse().ok()?;
            Some(Duration::from_secs(seconds))
        });
    CallError::Status {
        status: response.status().as_u16(),
        errcode: text("errcode"),
        error: text("error"),
        retry_after,
    }
}

/// An error with its sources, for a message that says why a connection failed.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> hyper::Response<Vec<u8>> {
        hyper::Response::builder()
            .status(status)
            .body(body.as_bytes().to_vec())
            .unwrap()
    }

    #[test]
    fn rate_limits_server_errors_and_refusals() {
        let limited = status_error(&answer(
            429,
            r#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too Many Requests","retry_after_ms":4570}"#,
        ));
        assert!(limited.is_transient());
        let failure = limited.failure();
        assert!(!failure.is_permanent());
        assert_eq!(
            failure.retry_after_hint(),
            Some(Duration::from_millis(4570))
        );
        let down = status_error(&answer(502, "bad gateway"));
        assert!(down.is_transient() && !down.failure().is_permanent());
        let token = status_error(&answer(
            401,
            r#"{"errcode":"M_UNKNOWN_TOKEN","error":"gone"}"#,
        ));
        assert_eq!(token.errcode(), Some("M_UNKNOWN_TOKEN"));
        assert!(!token.is_transient());
        assert_eq!(token.failure().kind(), ConnectionErrorKind::Authentication);
        assert!(token.failure().is_permanent());
        assert!(CallError::Transport("refused".into()).is_transient());
    }
}
