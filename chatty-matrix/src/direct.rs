//! Direct chats: the rooms the account's `m.direct` lists (person → rooms), read at every
//! connection, and written when the bot accepts an invitation marked `is_direct` (as clients
//! do), so that a restarted process still knows its direct chats.

use std::collections::BTreeMap;
use std::time::Duration;

use ruma::api::client::config::{get_global_account_data, set_global_account_data};
use ruma::events::GlobalAccountDataEventType;
use ruma::serde::Raw;
use ruma::{OwnedUserId, UserId};

use crate::http::CallError;
use crate::state::Shared;

/// `m.direct`'s content: a person's user ID → the rooms of direct chats with them.
type DirectMap = BTreeMap<String, Vec<String>>;

/// Reads the account's `m.direct` into the session's direct chats (none when it has none).
pub(crate) async fn load(shared: &Shared, token: &str, timeout: Duration) -> Result<(), CallError> {
    let Some(user) = own_user(shared) else {
        return Ok(());
    };
    let request =
        get_global_account_data::v3::Request::new(user, GlobalAccountDataEventType::Direct);
    let map = match shared.http.call(request, Some(token), timeout).await {
        Ok(response) => parse(response.account_data.json().get()),
        Err(CallError::Status { status: 404, .. }) => DirectMap::new(),
        Err(e) => return Err(e),
    };
    apply(shared, &map);
    Ok(())
}

/// Takes an `m.direct` content (from a sync's account data) into the session's direct chats.
pub(crate) fn apply_json(shared: &Shared, content: &str) {
    apply(shared, &parse(content));
}

/// Records `room` as the direct chat with `person`, in memory and in the account's `m.direct`.
pub(crate) async fn record(
    shared: &Shared,
    token: &str,
    room: &str,
    person: &str,
    timeout: Duration,
) -> Result<(), CallError> {
    shared
        .live()
        .direct
        .insert(room.to_owned(), person.to_owned());
    let Some(user) = own_user(shared) else {
        return Ok(());
    };
    let mut map = DirectMap::new();
    for (room, person) in &shared.live().direct {
        map.entry(person.clone()).or_default().push(room.clone());
    }
    let content = serde_json::value::to_raw_value(&map)
        .map_err(|e| CallError::Decode(format!("m.direct: {e}")))?;
    let request = set_global_account_data::v3::Request::new_raw(
        user,
        GlobalAccountDataEventType::Direct,
        Raw::from_json(content),
    );
    shared.http.call(request, Some(token), timeout).await?;
    Ok(())
}

fn own_user(shared: &Shared) -> Option<OwnedUserId> {
    let user = shared.live().user_id.clone()?;
    UserId::parse(user).ok()
}

fn parse(content: &str) -> DirectMap {
    serde_json::from_str(content).unwrap_or_default()
}

fn apply(shared: &Shared, map: &DirectMap) {
    let mut live = shared.live();
    for (person, rooms) in map {
        for room in rooms {
            live.direct.insert(room.clone(), person.clone());
        }
    }
}
