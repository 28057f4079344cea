//! The HTTP side: the page, the WebSocket of each tab, uploads and downloads.

use std::sync::Arc;

use axum::Router as HttpRouter;
use axum::body::Body as HttpBody;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, Multipart, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chatty_core::driver::lock;
use chatty_core::{Content, File};
use futures::{SinkExt as _, StreamExt as _};
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::limits::{DOWNLOAD_TIMEOUT, MAX_UPLOAD, MAX_WS_MESSAGE};
use super::people::{Command, Hub, Person};

/// The page: HTML with the style and the script put in at their markers.
const PAGE_HTML: &str = include_str!("index.html");
const PAGE_CSS: &str = include_str!("style.css");
const PAGE_JS: &str = include_str!("app.js");

/// Serves the page, the WebSocket, uploads and downloads until the window stops.
pub(super) async fn serve(listener: TcpListener, hub: Arc<Hub>) {
    let page: Arc<str> = PAGE_HTML
        .replace("/*STYLE*/", PAGE_CSS)
        .replace("/*SCRIPT*/", PAGE_JS)
        .into();
    let app = HttpRouter::new()
        .route("/", get(move || page_response(page.clone())))
        .route("/ws", get(websocket))
        .route("/upload", post(upload))
        .route("/file", get(download))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD + 64 * 1024))
        .layer(middleware::from_fn_with_state(hub.clone(), authorize))
        // Outermost: the host is checked before the token and everything else.
        .layer(middleware::from_fn_with_state(hub.clone(), guard_host))
        .with_state(hub.clone());
    let mut shutdown = hub.shutdown.subscribe();
    let stop = async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
    {
        tracing::warn!("the web window's server failed: {e}");
    }
}

async fn page_response(page: Arc<str>) -> Response {
    let mut response = (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page.to_string(),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The `Host` a request names (its header, or the authority of an HTTP/2 request).
fn host_of(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.as_str().to_owned()))
}

/// The host check, before anything else: a request that names a host the window does not
/// answer to is refused, whatever it carries (a page of another site reaching this machine by
/// DNS rebinding names that site).
async fn guard_host(State(hub): State<Arc<Hub>>, request: Request, next: Next) -> Response {
    let host = host_of(request.headers(), request.uri());
    match host {
        Some(host) if hub.hosts.accepts(&host) => next.run(request).await,
        other => {
            let named = other.map_or_else(|| "no host".to_owned(), |h| format!("the host `{h}`"));
            let text = format!(
                "this chat window does not answer to {named}: a name it does not know may be a \
                 DNS-rebinding attack from another site. Open it as {} (or, for a window reached \
                 from other machines, list the name in its public names)\n",
                hub.url
            );
            (StatusCode::FORBIDDEN, text).into_response()
        }
    }
}

/// The token check: with a token, every request carries it (`?token=` or a bearer header).
async fn authorize(State(hub): State<Arc<Hub>>, request: Request, next: Next) -> Response {
    if let Some(token) = &hub.token {
        let from_header = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let from_query = request
            .uri()
            .query()
            .and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("token=")));
        let given = from_header.or(from_query);
        if !given.is_some_and(|g| token.matches(g)) {
            return (
                StatusCode::UNAUTHORIZED,
                "this chat window needs its token: add ?token=TOKEN to its address (or send \
                 Authorization: Bearer TOKEN), with the token it was given\n",
            )
                .into_response();
        }
    }
    next.run(request).await
}

#[derive(Debug, Deserialize)]
struct WsQuery {
    #[serde(rename = "as")]
    person: Option<String>,
}

/// Whether the request's `Origin` may open the WebSocket: it must be there (browsers send it
/// on every WebSocket request) and be the page's own origin, or a public name of the window, so
/// that a page of another site open in the same browser cannot chat as the person.
fn origin_allowed(hub: &Hub, headers: &HeaderMap, uri: &Uri) -> bool {
    let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
    match (origin, host_of(headers, uri)) {
        (Some(origin), Some(host)) => hub.hosts.accepts_origin(origin, &host),
        _ => false,
    }
}

async fn websocket(
    State(hub): State<Arc<Hub>>,
    Query(query): Query<WsQuery>,
    headers: HeaderMap,
    uri: Uri,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !origin_allowed(&hub, &headers, &uri) {
        let origin = headers
            .get(header::ORIGIN)
            .and_then(|o| o.to_str().ok())
            .map_or_else(|| "no Origin".to_owned(), |o| format!("the origin `{o}`"));
        return (
            StatusCode::FORBIDDEN,
            format!(
                "the chat window's WebSocket opens only from its own page ({} opens it), not \
                 from {origin}\n",
                hub.url
            ),
        )
            .into_response();
    }
    upgrade
        .max_message_size(MAX_WS_MESSAGE)
        .on_upgrade(move |socket| tab(socket, hub, query.person))
}

/// What a tab sends: see the README.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum TabMessage {
    /// A line of the input box, submitted.
    Say { text: String },
    /// The input box's text changed.
    Input { text: String },
    /// Show a conversation.
    Open { conversation: String },
    /// Answer a question by one of its options (a click on its button).
    Choose { question: String, value: String },
    /// Set one's own presence.
    Status {
        availability: String,
        #[serde(default)]
        message: Option<String>,
    },
}

fn error_message(text: &str) -> WsMessage {
    WsMessage::Text(json!({"type": "error", "message": text}).to_string().into())
}

/// One tab's WebSocket: the person's views and the roster out, the tab's messages in.
async fn tab(socket: WebSocket, hub: Arc<Hub>, wanted: Option<String>) {
    let (mut out, mut incoming) = socket.split();
    let attached = match hub.pick(wanted.as_deref().filter(|w| !w.is_empty())) {
        Ok(attached) => attached,
        Err(e) => {
            let _ = out.send(error_message(&e)).await;
            let _ = out.send(WsMessage::Close(None)).await;
            return;
        }
    };
    hub.publish_roster();
    let person = attached.0.clone();
    let mut views = person.view.subscribe();
    let mut roster = hub.roster.subscribe();
    let mut shutdown = hub.shutdown.subscribe();
    let first = [
        views.borrow_and_update().clone(),
        roster.borrow_and_update().clone(),
    ];
    for message in first.iter().filter(|m| !m.is_empty()) {
        if out
            .send(WsMessage::Text(message.to_string().into()))
            .await
            .is_err()
        {
            return;
        }
    }
    loop {
        let outgoing = tokio::select! {
            changed = views.changed() => match changed {
                Ok(()) => views.borrow_and_update().clone(),
                Err(_) => {
                    let _ = out.send(error_message("this person has left")).await;
                    break;
                }
            },
            changed = roster.changed() => match changed {
                Ok(()) => roster.borrow_and_update().clone(),
                Err(_) => break,
            },
            () = async { let _ = shutdown.wait_for(|stop| *stop).await; } => break,
            message = incoming.next() => match message {
                Some(Ok(WsMessage::Text(text))) => {
                    match handle_tab_message(&person, text.as_str()).await {
                        Ok(()) => continue,
                        Err(e) => {
                            if out.send(error_message(&e)).await.is_err() {
                                break;
                            }
                            continue;
                        }
                    }
                }
                Some(Ok(WsMessage::Binary(_))) => {
                    if out.send(error_message("binary messages are not understood: send JSON text")).await.is_err() {
                        break;
                    }
                    continue;
                }
                Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
                Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => break,
            },
        };
        if outgoing.is_empty() {
            continue;
        }
        if out
            .send(WsMessage::Text(outgoing.to_string().into()))
            .await
            .is_err()
        {
            break;
        }
    }
    let _ = out.send(WsMessage::Close(None)).await;
}

/// Hands a tab's message to its person; an error is for that tab only.
async fn handle_tab_message(person: &Person, text: &str) -> Result<(), String> {
    let message: TabMessage =
        serde_json::from_str(text).map_err(|e| format!("not a message of this window: {e}"))?;
    let command = match message {
        TabMessage::Say { text } => Command::Line(text),
        TabMessage::Input { text } => Command::Input(text),
        TabMessage::Open { conversation } => Command::Open(conversation),
        TabMessage::Choose { question, value } => Command::Choose { question, value },
        TabMessage::Status {
            availability,
            message,
        } => {
            if availability.split_whitespace().count() != 1 {
                return Err(format!("`{availability}` is not an availability"));
            }
            let message = message.unwrap_or_default();
            Command::Line(format!("/status {availability} {message}"))
        }
    };
    person
        .commands
        .send(command)
        .await
        .map_err(|_| "this person has left".to_owned())
}

#[derive(Debug, Deserialize)]
struct FileQuery {
    #[serde(rename = "as")]
    person: String,
    #[serde(default)]
    to: Option<String>,
}

fn find_person(hub: &Hub, name: &str) -> Option<Arc<Person>> {
    lock(&hub.people)
        .iter()
        .find(|p| p.answers_to(name))
        .cloned()
}

fn no_person(name: &str) -> Response {
    (StatusCode::NOT_FOUND, format!("no person {name} here\n")).into_response()
}

/// `POST /upload?as=PERSON[&to=ADDRESS]` with a multipart field `file`: sends it.
async fn upload(
    State(hub): State<Arc<Hub>>,
    Query(query): Query<FileQuery>,
    mut multipart: Multipart,
) -> Response {
    let Some(person) = find_person(&hub, &query.person) else {
        return no_person(&query.person);
    };
    let field = loop {
        match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("file") => break field,
            Ok(Some(_)) => continue,
            Ok(None) => {
                return (StatusCode::BAD_REQUEST, "no field `file` in the upload\n")
                    .into_response();
            }
            Err(e) => {
                return (e.status(), format!("bad upload: {}\n", e.body_text())).into_response();
            }
        }
    };
    let name = field
        .file_name()
        .filter(|n| !n.is_empty())
        .map_or_else(|| "file".to_owned(), str::to_owned);
    let media_type = field
        .content_type()
        .filter(|t| !t.is_empty() && *t != "application/octet-stream")
        .map(str::to_owned);
    let data = match field.bytes().await {
        Ok(data) => data,
        Err(e) => return (e.status(), format!("bad upload: {}\n", e.body_text())).into_response(),
    };
    let file = File::new(name, media_type.as_deref(), Content::Bytes { data });
    let (reply, answer) = oneshot::channel();
    let command = Command::Upload {
        to: query.to,
        file,
        reply,
    };
    if person.commands.send(command).await.is_err() {
        return (StatusCode::GONE, "this person has left\n").into_response();
    }
    match answer.await {
        Ok(Ok(())) => (StatusCode::OK, "sent\n").into_response(),
        Ok(Err(e)) => (StatusCode::BAD_REQUEST, format!("not sent: {e}\n")).into_response(),
        Err(_) => (StatusCode::GONE, "this person has left\n").into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct DownloadQuery {
    #[serde(rename = "as")]
    person: String,
    conversation: String,
    n: usize,
}

/// `GET /file?as=PERSON&conversation=ADDRESS&n=N`: file `N` of the conversation, as an
/// attachment (fetched first through the person's session when it is a URL).
async fn download(State(hub): State<Arc<Hub>>, Query(query): Query<DownloadQuery>) -> Response {
    let Some(person) = find_person(&hub, &query.person) else {
        return no_person(&query.person);
    };
    let (reply, answer) = oneshot::channel();
    let command = Command::Download {
        conversation: query.conversation,
        number: query.n,
        reply,
    };
    if person.commands.send(command).await.is_err() {
        return (StatusCode::GONE, "this person has left\n").into_response();
    }
    let file = match tokio::time::timeout(DOWNLOAD_TIMEOUT, answer).await {
        Ok(Ok(Ok(file))) => file,
        Ok(Ok(Err(e))) => return (StatusCode::NOT_FOUND, format!("{e}\n")).into_response(),
        Ok(Err(_)) => return (StatusCode::GONE, "this person has left\n").into_response(),
        Err(_) => {
            return (StatusCode::GATEWAY_TIMEOUT, "the download took too long\n").into_response();
        }
    };
    let Content::Bytes { data } = file.content else {
        return (StatusCode::BAD_GATEWAY, "the download gave no bytes\n").into_response();
    };
    let media_type = file
        .media_type
        .as_deref()
        .and_then(|t| HeaderValue::from_str(t).ok())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let mut response = Response::new(HttpBody::from(data));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, media_type);
    headers.insert(header::CONTENT_DISPOSITION, content_disposition(&file.name));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // A received file is never run as a page of this window's origin.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `attachment; filename="…"; filename*=UTF-8''…`, the plain name limited to safe characters.
fn content_disposition(name: &str) -> HeaderValue {
    let plain: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_. ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    HeaderValue::from_str(&format!(
        "attachment; filename=\"{plain}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or(HeaderValue::from_static("attachment"))
}
