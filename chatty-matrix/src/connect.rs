//! Connecting: the password login (once per process: the access token is kept in memory), the
//! direct chats of `m.direct`, the configured rooms joined, then the first `/sync`.

use std::sync::Arc;
use std::time::Duration;

use chatty_core::ConnectionErrorKind;
use chatty_core::driver::{Failure, Link};
use ruma::api::client::filter::{FilterDefinition, RoomEventFilter, RoomFilter};
use ruma::api::client::membership::{join_room_by_id_or_alias, joined_rooms};
use ruma::api::client::session::login;
use ruma::api::client::sync::sync_events;
use ruma::{OwnedDeviceId, OwnedRoomOrAliasId, UInt};

use crate::http::CallError;
use crate::state::Shared;

/// The journal mark holding the `next_batch` of the last sync given to the bot.
pub(crate) const MARK: &str = "sync";

/// The most events one room's timeline carries in a sync (Synapse's ceiling: more are a gap).
const TIMELINE_LIMIT: u32 = 100;

/// A connection: the answer of its first sync, and whether that answer is the past (a first
/// sync without a position: what it holds happened before the bot ran).
#[derive(Debug)]
pub struct Connection {
    pub(crate) first: Box<sync_events::v3::Response>,
    pub(crate) since: Option<String>,
}

/// Logs in (unless logged in already), joins the configured rooms and makes the first sync,
/// from the journal's mark (or the last position of this process).
pub(crate) async fn connect(shared: Arc<Shared>, link: &Link) -> Result<Connection, Failure> {
    let config = &shared.config;
    let timeout = config.connect_timeout();
    let token = shared.live().token.clone();
    let token = match token {
        Some(token) => token,
        None => {
            shared
                .http
                .discover(timeout)
                .await
                .map_err(|e| e.failure())?;
            login(&shared, timeout).await?
        }
    };
    crate::direct::load(&shared, &token, timeout)
        .await
        .map_err(|e| lost_token(&shared, &e))?;
    // The rooms the bot is in already (after a restart the process knows none): their events
    // in the first sync are news, not the past of a room just joined.
    let joined = shared
        .http
        .call(joined_rooms::v3::Request::new(), Some(&token), timeout)
        .await
        .map_err(|e| lost_token(&shared, &e))?;
    {
        let mut live = shared.live();
        for room in joined.joined_rooms {
            live.rooms.entry(room.to_string()).or_default();
        }
    }
    for room in &config.rooms {
        let Ok(target) = OwnedRoomOrAliasId::try_from(room.as_str()) else {
            continue;
        };
        let request = join_room_by_id_or_alias::v3::Request::new(target);
        if let Err(e) = shared.http.call(request, Some(&token), timeout).await {
            if e.is_transient() {
                return Err(e.failure());
            }
            tracing::warn!(room, error = %e, "cannot join a configured room");
        }
    }
    let since = shared.live().since.clone();
    let since = match since {
        Some(since) => Some(since),
        None => link.mark(MARK).await.map_err(|e| {
            Failure::new(
                ConnectionErrorKind::Other,
                format!("reading the sync mark: {e}"),
            )
        })?,
    };
    let first = sync(&shared, &token, since.as_deref(), Duration::ZERO, timeout)
        .await
        .map_err(|e| lost_token(&shared, &e))?;
    shared.live().connected = true;
    Ok(Connection {
        first: Box::new(first),
        since,
    })
}

/// `m.login.password` as the configured user and device; keeps the token and the user ID.
async fn login(shared: &Shared, timeout: Duration) -> Result<String, Failure> {
    let config = &shared.config;
    let password = config.load_password().map_err(|e| {
        Failure::new(ConnectionErrorKind::Authentication, e.to_string()).permanent()
    })?;
    let identifier = login::v3::LoginInfo::Password(login::v3::Password::new(
        ruma::api::client::uiaa::UserIdentifier::Matrix(
            ruma::api::client::uiaa::MatrixUserIdentifier::new(config.localpart().to_owned()),
        ),
        password.expose().to_owned(),
    ));
    let mut request = login::v3::Request::new(identifier);
    request.device_id = Some(OwnedDeviceId::from(config.device_id()));
    request.initial_device_display_name = Some(
        config
            .display_name
            .clone()
            .unwrap_or_else(|| "Chatty bot".to_owned()),
    );
    let response = shared
        .http
        .call(request, None, timeout)
        .await
        .map_err(|e| match &e {
            CallError::Status { status: 403, .. } => {
                Failure::new(ConnectionErrorKind::Authentication, e.to_string()).permanent()
            }
            _ => e.failure(),
        })?;
    tracing::info!(session = %config.name, user = %response.user_id, device = %response.device_id, "logged in");
    let mut live = shared.live();
    live.token = Some(response.access_token.clone());
    live.user_id = Some(response.user_id.to_string());
    Ok(response.access_token)
}

/// One `/sync` from `since`, waiting up to `wait` on the server for news.
pub(crate) async fn sync(
    shared: &Shared,
    token: &str,
    since: Option<&str>,
    wait: Duration,
    timeout: Duration,
) -> Result<sync_events::v3::Response, CallError> {
    let mut timeline = RoomEventFilter::default();
    timeline.limit = Some(UInt::from(TIMELINE_LIMIT));
    let mut room = RoomFilter::default();
    room.timeline = timeline;
    let mut filter = FilterDefinition::default();
    filter.room = room;
    // Synapse keeps a sync's answer for 2 minutes (`sync_response_cache_duration`) and gives
    // it again for the same request: a process starting again within that time, without a
    // position, would get the previous process's first sync, and then everything since it
    // as news. A filter of this process's own (excluding an event type that does not exist)
    // makes its requests its own.
    filter.account_data.not_types = vec![format!("chatty.nonce.{}", shared.nonce)];
    let mut request = sync_events::v3::Request::new();
    request.filter = Some(sync_events::v3::Filter::FilterDefinition(filter));
    request.since = since.map(str::to_owned);
    request.timeout = Some(wait);
    // A sync marks the account online unless told otherwise: once the bot set its presence,
    // each sync keeps it.
    if let Some(own) = shared.live().own_presence.clone() {
        request.set_presence = own;
    }
    shared.http.call(request, Some(token), wait + timeout).await
}

/// The failure a failed sync means; a token the server no longer knows is dropped, so that the
/// next connection logs in again.
pub(crate) fn lost_token(shared: &Shared, error: &CallError) -> Failure {
    if error.errcode() == Some("M_UNKNOWN_TOKEN") {
        shared.live().token = None;
        return Failure::new(ConnectionErrorKind::Authentication, error.to_string());
    }
    error.failure()
}
