//! A journal behind an [`Arc`] is a journal: one journal shared by several routers (the
//! runner's, one per bot) can be wrapped by a decorator for one of them.

use std::sync::Arc;

use futures::future::BoxFuture;

use super::{Appended, EntryId, Journal, JournalError, Pending};
use crate::metadata::SignalId;
use crate::signal::Signal;

/// Every call goes to the shared journal.
///
/// ```
/// use std::sync::Arc;
/// use chatty_core::journal::{Journal, MemoryJournal};
///
/// fn wants<J: Journal>(_journal: J) {}
/// let shared: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
/// wants(shared.clone());
/// ```
impl<J: Journal + ?Sized> Journal for Arc<J> {
    fn append<'a>(
        &'a self,
        session: &'a str,
        signal: &'a Signal,
    ) -> BoxFuture<'a, Result<Appended, JournalError>> {
        (**self).append(session, signal)
    }

    fn ack(&self, entry: &EntryId) {
        (**self).ack(entry);
    }

    fn pending<'a>(
        &'a self,
        session: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Pending>, JournalError>> {
        (**self).pending(session)
    }

    fn answering(
        &self,
        session: &str,
        of: &SignalId,
        number: u32,
    ) -> BoxFuture<'static, Result<(), JournalError>> {
        (**self).answering(session, of, number)
    }

    fn answered<'a>(
        &'a self,
        session: &'a str,
        of: &'a SignalId,
        number: u32,
    ) -> BoxFuture<'a, Result<(), JournalError>> {
        (**self).answered(session, of, number)
    }

    fn mark<'a>(
        &'a self,
        session: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, JournalError>> {
        (**self).mark(session, name)
    }

    fn set_mark<'a>(
        &'a self,
        session: &'a str,
        name: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<(), JournalError>> {
        (**self).set_mark(session, name, value)
    }
}
