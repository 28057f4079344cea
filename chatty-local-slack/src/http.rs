//! The HTTP side: `/api/METHOD` (GET query, form, JSON or multipart arguments, the token in
//! `Authorization: Bearer` or a `token` argument), the upload URLs of files v2, `url_private`
//! downloads, and the Socket Mode WebSocket endpoint.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::{Map, Value};

use crate::shared::Inner;
use crate::workspace::Reply;

pub(crate) fn router(inner: Arc<Inner>) -> Router {
    Router::new()
        .route("/api/{method}", any(api))
        .route("/upload/v1/{key}", post(upload))
        .route("/files-pri/{file}/{name}", get(download))
        .route(
            "/files-pri/{file}/download/{name}",
            get(download_attachment),
        )
        .route("/link/", get(link))
        .with_state(inner)
}

fn json_response(reply: Reply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    let mut response = (status, reply.body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    if let Some(seconds) = reply.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned())
}

/// The method's arguments, from the query string and the body in any encoding Slack accepts
/// (api.slack.com/web#posting_json and #basics).
async fn arguments(req: Request) -> Result<Map<String, Value>, String> {
    let mut args = Map::new();
    if req.uri().query().is_some() {
        let Query(pairs) =
            Query::<Vec<(String, String)>>::try_from_uri(req.uri()).map_err(|e| e.to_string())?;
        for (k, v) in pairs {
            args.insert(k, Value::String(v));
        }
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.starts_with("application/json") {
        let bytes = Bytes::from_request(req, &())
            .await
            .map_err(|e| e.to_string())?;
        if !bytes.is_empty() {
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(map)) => args.extend(map),
                _ => return Err("invalid_json".into()),
            }
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        let axum::Form(pairs) = axum::Form::<Vec<(String, String)>>::from_request(req, &())
            .await
            .map_err(|_| "invalid_form_data".to_owned())?;
        for (k, v) in pairs {
            args.insert(k, Value::String(v));
        }
    } else if content_type.starts_with("multipart/form-data") {
        let mut multipart = Multipart::from_request(req, &())
            .await
            .map_err(|_| "invalid_form_data".to_owned())?;
        while let Ok(Some(field)) = multipart.next_field().await {
            let name = field.name().unwrap_or_default().to_owned();
            let text = field.text().await.unwrap_or_default();
            args.insert(name, Value::String(text));
        }
    }
    Ok(args)
}

async fn api(
    State(inner): State<Arc<Inner>>,
    Path(method): Path<String>,
    req: Request,
) -> Response {
    let headers = req.headers().clone();
    inner.lock().count_call(&method);
    let args = match arguments(req).await {
        Ok(args) => args,
        Err(code) => return json_response(Reply::error(&code)),
    };
    let token =
        bearer(&headers).or_else(|| args.get("token").and_then(Value::as_str).map(str::to_owned));
    let mut state = inner.lock();
    let reply = state.api(&method, token.as_deref(), &args);
    drop(state);
    inner.changed.notify_waiters();
    tracing::debug!(%method, ok = reply.body["ok"].as_bool(), "web api call");
    json_response(reply)
}

/// Files v2 step 2: the bytes are POSTed to the upload URL, raw or as a multipart form
/// (api.slack.com/messaging/files#upload).
async fn upload(
    State(inner): State<Arc<Inner>>,
    Path(key): Path<String>,
    req: Request,
) -> Response {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let data = if content_type.starts_with("multipart/form-data") {
        let Ok(mut multipart) = Multipart::from_request(req, &()).await else {
            return (StatusCode::BAD_REQUEST, "bad multipart").into_response();
        };
        let mut data = None;
        while let Ok(Some(field)) = multipart.next_field().await {
            if let Ok(bytes) = field.bytes().await {
                data = Some(bytes);
                break;
            }
        }
        match data {
            Some(d) => d,
            None => return (StatusCode::BAD_REQUEST, "no file part").into_response(),
        }
    } else {
        match Bytes::from_request(req, &()).await {
            Ok(b) => b,
            Err(_) => return (StatusCode::BAD_REQUEST, "bad body").into_response(),
        }
    };
    let mut state = inner.lock();
    let Some(id) = state.uploads.remove(&key) else {
        return (StatusCode::NOT_FOUND, "no such upload").into_response();
    };
    let len = data.len();
    if let Some(file) = state.files.get_mut(&id) {
        file.length = len as u64;
        file.bytes = Some(data);
    }
    (StatusCode::OK, format!("OK - {len}")).into_response()
}

async fn download(
    State(inner): State<Arc<Inner>>,
    Path((file, _name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    serve_file(&inner, &file, &headers, false)
}

async fn download_attachment(
    State(inner): State<Arc<Inner>>,
    Path((file, _name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    serve_file(&inner, &file, &headers, true)
}

/// `url_private`: the bytes for a token that may see the file. Without a valid token Slack
/// answers with its sign-in page (HTML, status 200), not an error status: clients must check
/// the content type (api.slack.com/types/file#authentication).
fn serve_file(inner: &Inner, team_file: &str, headers: &HeaderMap, attachment: bool) -> Response {
    let state = inner.lock();
    let id = team_file
        .split_once('-')
        .map(|(_, f)| f)
        .unwrap_or(team_file);
    let signin = || {
        let mut r = (
            StatusCode::OK,
            "<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in to Chatty Local</body></html>",
        )
            .into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        r
    };
    let Ok(caller) = state.authenticate(bearer(headers).as_deref()) else {
        return signin();
    };
    let Some(file) = state.files.get(id) else {
        return (StatusCode::NOT_FOUND, "file not found").into_response();
    };
    let Some(bytes) = file.bytes.clone() else {
        return (StatusCode::NOT_FOUND, "file not found").into_response();
    };
    if !state.may_download(&caller, file) {
        return signin();
    }
    let mut response = (StatusCode::OK, bytes).into_response();
    if let Ok(v) = HeaderValue::from_str(&file.mimetype) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    if attachment
        && let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", file.name))
    {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

#[derive(serde::Deserialize)]
struct LinkQuery {
    ticket: Option<String>,
}

/// The WebSocket URL that apps.connections.open hands out; each ticket works once.
async fn link(
    State(inner): State<Arc<Inner>>,
    Query(query): Query<LinkQuery>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let app = {
        let mut state = inner.lock();
        query.ticket.and_then(|t| state.tickets.remove(&t))
    };
    match app {
        Some(app) => upgrade.on_upgrade(move |ws| crate::socket::serve(inner, app, ws)),
        None => (StatusCode::UNAUTHORIZED, "invalid or used ticket").into_response(),
    }
}
