//! The web window's limits and timeouts.

use std::time::Duration;

/// The largest file a tab may upload (16 MiB).
pub const MAX_UPLOAD: usize = 16 * 1024 * 1024;

/// The largest WebSocket message a tab may send (256 KiB): a line of text, not a file.
pub const MAX_WS_MESSAGE: usize = 256 * 1024;

/// How many people (the first one and guests) one web window serves at most.
pub const MAX_PEOPLE: usize = 64;

/// How many of the current conversation's newest entries a view carries (the count of earlier
/// ones is given as `earlier`).
pub const VIEW_ENTRIES: usize = 500;

/// The shortest token accepted.
pub const MIN_TOKEN_LEN: usize = 16;

/// How long a download by URL may take before the link answers with an error.
pub(super) const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the window waits for its server and its guests to end when it stops.
pub(super) const STOP_WAIT: Duration = Duration::from_secs(5);

/// How long a guest stays without a tab before it leaves (a reload comes back well within it):
/// the default of [`WebClient::guest_idle`](crate::WebClient::guest_idle).
pub const GUEST_IDLE: Duration = Duration::from_secs(300);
