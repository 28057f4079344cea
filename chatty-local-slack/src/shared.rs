//! The state the HTTP handlers, the sockets and the test-facing API share.

use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, MutexGuard};

use crate::workspace::Workspace;

/// Shared by the HTTP handlers, the sockets and the test-facing API.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) workspace: Mutex<Workspace>,
    pub(crate) sockets: AtomicU64,
    /// Woken after every Web API call and every ack, for [`LocalSlack::wait_until`](crate::LocalSlack::wait_until).
    pub(crate) changed: tokio::sync::Notify,
}

impl Inner {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Workspace> {
        self.workspace.lock().unwrap_or_else(|p| p.into_inner())
    }
}
