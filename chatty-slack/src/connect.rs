//! Connecting: the tokens and clients (once), `auth.test` with the bot token (who the bot is:
//! the session's own address from then on), Socket Mode opened with the app-level token
//! (`apps.connections.open`, the WebSocket, its `hello`), then the configured channels joined
//! (once): after the socket is open, so that the events the joins cause find it (Slack sends
//! an event that finds no socket again only on its retry timetable, a minute later).
//!
//! HTTP 429 on `auth.test` or `apps.connections.open` fails the attempt with Slack's
//! `Retry-After` ([`Failure::retry_after`]): the driver reports it and waits at least that long
//! before the next attempt.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use chatty_core::driver::{Failure, Link};
use chatty_core::{ConnectionErrorKind, Signal, SystemError};
use slack_morphism::prelude::*;

use crate::PLATFORM;
use crate::api::{ApiError, Named as _, WebApi};
use crate::mapper::Mapper;
use crate::socket::{self, Connection};
use crate::state::{Conn, Http, State, Web};

/// Connects and logs in: the connection said `hello`. A failure is the driver's to log and
/// report.
pub(crate) async fn connect(state: &State, link: &Link) -> Result<Connection, Failure> {
    // rustls needs a process-wide provider; an error means one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let web = state.web(|| web(state))?;
    let mapper = identify(state, &web).await?;
    let conn = Arc::new(Conn { web, mapper });
    state.set_conn(conn.clone());
    let connection = open_socket(state).await?;
    if !state.joined.swap(true, Ordering::AcqRel) {
        join(state, &conn, link).await;
    }
    Ok(connection)
}

/// Opens Socket Mode with the app-level token: `apps.connections.open`, the WebSocket, `hello`.
pub(crate) async fn open_socket(state: &State) -> Result<Connection, Failure> {
    let web = state.web(|| web(state))?;
    let request = SlackApiAppsConnectionOpenRequest::new();
    let session = web.app.session_once();
    let answer = call(
        state,
        "apps.connections.open",
        session.apps_connections_open(&request),
    )
    .await?;
    socket::open(answer.url.value().as_str(), state.config.connect_timeout()).await
}

/// The tokens and clients; a token that cannot be read, or no TLS roots, ends the session.
fn web(state: &State) -> Result<Web, Failure> {
    let config = &state.config;
    let tokens = config
        .load_bot_token()
        .and_then(|bot| config.load_app_token().map(|app| (bot, app)));
    let (bot_secret, app_secret) =
        tokens.map_err(|e| Failure::new(ConnectionErrorKind::Other, e.to_string()).permanent())?;
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| {
            Failure::new(
                ConnectionErrorKind::Tls,
                format!("no TLS root certificates: {e}"),
            )
            .permanent()
        })?
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .build();
    let http: Http =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(connector.clone());
    let connector =
        SlackClientHyperConnector::with_connector(connector).with_slack_api_url(&config.api_base());
    let retries = config.rate_limit_retries;
    Ok(Web {
        api: WebApi::new(connector.clone(), bot_secret.expose(), retries),
        app: WebApi::new(connector, app_secret.expose(), retries),
        http,
        bot_secret,
    })
}

/// `auth.test` with the bot token: the team, the bot's user and bot id.
async fn identify(state: &State, web: &Web) -> Result<Mapper, Failure> {
    let session = web.api.session_once();
    let answer = call(state, "auth.test", session.auth_test()).await?;
    let bot_id = answer.bot_id.as_ref().map(|b| b.value().as_str());
    Mapper::new(
        &state.config.name,
        answer.team_id.value(),
        answer.user_id.value(),
        bot_id.unwrap_or_default(),
    )
    .map_err(|cause| Failure::new(ConnectionErrorKind::Protocol, cause).permanent())
}

/// One Web API call while connecting, within the connect timeout. HTTP 429 fails with Slack's
/// `Retry-After` for the driver to wait out (a second when Slack names none).
async fn call<T>(
    state: &State,
    method: &str,
    call: impl Future<Output = ClientResult<T>>,
) -> Result<T, Failure> {
    let timeout = state.config.connect_timeout();
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e)) => Err(ApiError::from_client(method, e).failure(method)),
        Err(_) => Err(Failure::new(
            ConnectionErrorKind::Unreachable,
            format!(
                "Slack's {method} at {} did not answer within {timeout:?}",
                state.config.api_url
            ),
        )),
    }
}

/// Joins the configured channels; a failure is a system error for the bot, not the end.
async fn join(state: &State, conn: &Conn, link: &Link) {
    for channel in &state.config.channels {
        let request = SlackApiConversationsJoinRequest::new(channel.clone().into());
        let joined = conn.web.api.session().conversations_join(&request).await;
        if let Err((method, e)) = joined.named("conversations.join") {
            let message = format!("joining {channel}: {}", e.describe(method));
            system_error(state, conn, link, message).await;
        }
    }
}

/// Logs a failure inside the session at warn and hands it to the bot as a SystemError;
/// `false` when the bot stopped listening.
pub(crate) async fn system_error(state: &State, conn: &Conn, link: &Link, message: String) -> bool {
    tracing::warn!(session = %state.config.name, "Slack: {message}");
    let error = SystemError::new(PLATFORM, message);
    link.push(Signal::internal(Some(conn.mapper.own().clone()), error))
        .await
        .is_ok()
}
