//! Downloads: a Slack file URL (`url_private`) fetched with the bot token, the bytes handed
//! back as the file.
//!
//! The token goes only to Slack's file hosts and to the configured API host (a local Slack);
//! any other URL is refused without a request, so that a file named by someone else can never
//! make the session hand the bot token to a foreign server. Slack answers a request it does
//! not authorize with its HTML sign-in page and status 200, so an HTML answer where a file of
//! another type was expected is an error, not the file.

use chatty_core::reexports::bytes::Bytes;
use chatty_core::session::Refusal;
use chatty_core::{Content, FailureKind, File};
use hyper::Uri;

use crate::state::{Http, State};

/// The largest file a Download file signal fetches.
const MAX_DOWNLOAD: usize = 1 << 30;

/// The hosts of Slack's private file URLs (api.slack.com/types/file: `url_private`,
/// `url_private_download`; GovSlack's are on slack-gov.com).
const FILE_HOSTS: &[&str] = &["files.slack.com", "files.slack-gov.com"];

/// Whether the bot token may be sent to `url`: an `https` URL on one of Slack's file hosts, or
/// any URL on the configured API host and port (a local Slack or an emulator).
pub(crate) fn may_carry_token(url: &Uri, api: &Uri) -> bool {
    let Some(authority) = url.authority() else {
        return false;
    };
    if api.authority() == Some(authority) && url.scheme() == api.scheme() {
        return true;
    }
    url.scheme_str() == Some("https")
        && authority.port().is_none()
        && FILE_HOSTS.contains(&authority.host().to_ascii_lowercase().as_str())
}

/// Why a downloaded body is not the file: an HTML page where a file of another type was
/// expected (Slack's sign-in page for a token that may not read the file, an error page).
pub(crate) fn not_the_file(
    url: &str,
    content_type: Option<&str>,
    expected: Option<&str>,
    body: &[u8],
) -> Option<String> {
    let is_html = |t: &str| {
        t.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/html"))
    };
    if expected.is_some_and(is_html) {
        return None;
    }
    let start: Vec<u8> = body
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take(15)
        .map(u8::to_ascii_lowercase)
        .collect();
    let looks_html = start.starts_with(b"<!doctype html") || start.starts_with(b"<html");
    if !content_type.is_some_and(is_html) && !looks_html {
        return None;
    }
    let signin = body.windows(7).any(|w| w.eq_ignore_ascii_case(b"sign in"));
    Some(if signin {
        format!("{url} answered Slack's sign-in page: the bot token may not read this file")
    } else {
        format!(
            "{url} answered an HTML page where a file{} was expected",
            expected
                .map(|t| format!(" of type {t}"))
                .unwrap_or_default()
        )
    })
}

/// Fetches a file the session delivered as a URL, with the bot token: the same file with its
/// bytes.
pub(crate) async fn download(state: &State, file: File) -> Result<File, Refusal> {
    let Some(conn) = state.conn() else {
        return Err(Refusal::new(
            FailureKind::Unreachable,
            "the Slack session is not connected yet",
        ));
    };
    let Content::Url { url, .. } = &file.content else {
        return Err(Refusal::new(
            FailureKind::Other,
            "the file has its bytes already",
        ));
    };
    let web = &conn.web;
    let fetched = fetch(
        &web.http,
        url,
        file.media_type.as_deref(),
        web.bot_secret.expose(),
        &state.config.api_url,
    )
    .await;
    match fetched {
        Ok(data) => Ok(File::bytes(file.name, file.media_type.as_deref(), data)),
        Err((kind, message)) => {
            tracing::warn!(session = %state.config.name, ?kind, "Slack download refused: {message}");
            Err(Refusal::new(kind, message))
        }
    }
}

/// GETs `url` with the bot token (redirects followed, the token only to hosts that may carry
/// it), checking that the answer is the file and not an HTML page. `api_url` is the configured
/// Web API base URL.
async fn fetch(
    http: &Http,
    url: &str,
    expected: Option<&str>,
    token: &str,
    api_url: &str,
) -> Result<Bytes, (FailureKind, String)> {
    use hyper::body::Body as _;
    let other = |m: String| (FailureKind::Other, m);
    let api: Uri = api_url
        .parse()
        .map_err(|e| other(format!("the API URL {api_url} is not a URL: {e}")))?;
    let mut target: Uri = url
        .parse()
        .map_err(|e| (FailureKind::Rejected, format!("{url} is not a URL: {e}")))?;
    if !may_carry_token(&target, &api) {
        return Err((
            FailureKind::Rejected,
            format!(
                "{url} is not a Slack file URL (https://files.slack.com/… or the API host {}): \
             it is not fetched with the bot token",
                api.authority().map(|a| a.as_str()).unwrap_or_default()
            ),
        ));
    }
    for _ in 0..5 {
        let mut request = hyper::Request::get(target.clone());
        if may_carry_token(&target, &api) {
            request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request
            .body(String::new())
            .map_err(|e| other(format!("cannot make a request for {url}: {e}")))?;
        let response = http.request(request).await.map_err(|e| {
            (
                FailureKind::Unreachable,
                format!("fetching {url} failed: {e}"),
            )
        })?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(hyper::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .ok_or_else(|| other(format!("{url} redirects nowhere")))?;
            let next: Uri = location
                .parse()
                .map_err(|e| other(format!("{url} redirects to a bad URL: {e}")))?;
            target = if next.authority().is_some() {
                next
            } else {
                let mut parts = target.clone().into_parts();
                parts.path_and_query = next.path_and_query().cloned();
                Uri::from_parts(parts)
                    .map_err(|e| other(format!("{url} redirects to a bad URL: {e}")))?
            };
            continue;
        }
        if !status.is_success() {
            return Err(other(format!("fetching {url} answered HTTP {status}")));
        }
        let content_type = response
            .headers()
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = response.into_body();
        let mut data = Vec::new();
        while let Some(frame) =
            std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
        {
            let frame = frame.map_err(|e| {
                (
                    FailureKind::Unreachable,
                    format!("reading {url} failed: {e}"),
                )
            })?;
            if let Ok(chunk) = frame.into_data() {
                data.extend_from_slice(&chunk);
                if data.len() > MAX_DOWNLOAD {
                    let why = format!("{url} is larger than {MAX_DOWNLOAD} bytes");
                    return Err((FailureKind::TooLarge, why));
                }
            }
        }
        if let Some(why) = not_the_file(url, content_type.as_deref(), expected, &data) {
            return Err((FailureKind::Rejected, why));
        }
        return Ok(Bytes::from(data));
    }
    Err(other(format!("{url} redirects too often")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(text: &str) -> Uri {
        text.parse().unwrap()
    }

    #[test]
    fn the_token_goes_only_to_slack_file_hosts_and_the_api_host() {
        let slack = uri("https://slack.com/api/");
        let local = uri("http://127.0.0.1:4000/api/");
        for ok in [
            "https://files.slack.com/files-pri/T1-F1/a.txt",
            "https://FILES.slack.com/files-pri/T1-F1/download/a.txt",
            "https://files.slack-gov.com/files-pri/T1-F1/a.txt",
        ] {
            assert!(may_carry_token(&uri(ok), &slack), "{ok}");
        }
        assert!(may_carry_token(
            &uri("http://127.0.0.1:4000/files-pri/T1-F1/a.txt"),
            &local
        ));
        for refused in [
            "https://example.org/files-pri/T1-F1/a.txt",
            "http://files.slack.com/files-pri/T1-F1/a.txt",
            "https://files.slack.com.example.org/a.txt",
            "https://files.slack.com:8443/a.txt",
            "https://acme.slack.com/files/U1/F1/a.txt",
            "https://slack-files.com/T1-F1-abc",
        ] {
            assert!(!may_carry_token(&uri(refused), &slack), "{refused}");
        }
        // The same host on another port, or another scheme, is another server.
        assert!(!may_carry_token(&uri("http://127.0.0.1:4001/x"), &local));
        assert!(!may_carry_token(&uri("https://127.0.0.1:4000/x"), &local));
    }

    #[test]
    fn html_where_a_file_was_expected_is_an_error() {
        let page = b"<!DOCTYPE html><html><body>Something went wrong</body></html>";
        let why = not_the_file(
            "u",
            Some("text/html; charset=utf-8"),
            Some("text/plain"),
            page,
        );
        assert!(why.unwrap().contains("HTML page"));
        // Without a content type, by its first bytes.
        assert!(not_the_file("u", None, Some("image/png"), b"  <html><p>x</p></html>").is_some());
        let signin = b"<html><body>Sign in to Acme</body></html>";
        let why = not_the_file("u", Some("text/html"), None, signin).unwrap();
        assert!(why.contains("sign-in"), "{why}");
        // An HTML file is a file, and other bytes are the file.
        assert!(not_the_file("u", Some("text/html"), Some("text/html"), page).is_none());
        assert!(not_the_file("u", Some("text/plain"), Some("text/plain"), b"hello").is_none());
        assert!(not_the_file("u", Some("application/octet-stream"), None, b"\x89PNG").is_none());
    }
}
