//! The synchronous bot interface.

use std::fmt;

use chatty_core::{BotError, Signal};

use crate::handle::BlockingHandle;
use crate::queue::SignalQueue;
use crate::synchronizer::Synchronizer;

/// The synchronous bot interface, the mirror of [`chatty_core::Bot`] for plain blocking code: a
/// bot runs on a [`SignalQueue`] of inbound signals and sends through a [`BlockingHandle`].
///
/// Wrap it in a [`Synchronizer`] (or with [`SynchronizerLayer`](crate::SynchronizerLayer)) to get
/// a [`Bot`](chatty_core::Bot): it then runs on a thread of its own, behind async sessions.
///
/// ```
/// use chatty_core::{Body, BotError, Message};
/// use chatty_sync::{BlockingHandle, SignalQueue, SyncBot};
///
/// /// Answers every message with its text, reversed.
/// struct Reverser;
///
/// impl SyncBot for Reverser {
///     fn run(self, inbound: SignalQueue, handle: BlockingHandle) -> Result<(), BotError> {
///         for signal in inbound {
///             if let Body::Message(m) = &signal.body {
///                 let text: String = m.text.chars().rev().collect();
///                 handle.send(signal.reply(Message::text(text)))?;
///             }
///         }
///         Ok(())
///     }
/// }
///
/// let bot = Reverser.synchronized(); // a chatty_core::Bot
/// # let _ = bot;
/// ```
pub trait SyncBot: Send + 'static {
    /// Runs the bot until `inbound` ends ([`SignalQueue::receive`] returns `None`: every session
    /// ended) or the bot decides to stop. It may block as it likes.
    ///
    /// # Errors
    /// Whatever stops the bot; the [`Synchronizer`] returns it from its own run.
    fn run(self, inbound: SignalQueue, handle: BlockingHandle) -> Result<(), BotError>;

    /// Wraps the bot in a [`Synchronizer`] with the default settings, making it a
    /// [`Bot`](chatty_core::Bot).
    #[must_use]
    fn synchronized(self) -> Synchronizer<Self>
    where
        Self: Sized,
    {
        Synchronizer::new(self)
    }
}

/// A synchronous bot made of a function called once per inbound signal, in order.
///
/// An error returned by the function stops the bot with that error.
///
/// ```
/// use chatty_core::{Body, Message};
/// use chatty_sync::sync_fn;
///
/// let echo = sync_fn(|signal, handle| {
///     if let Body::Message(m) = &signal.body {
///         handle.send(signal.reply(Message::text(m.text.clone())))?;
///     }
///     Ok(())
/// });
/// # let _ = echo;
/// ```
pub fn sync_fn<F>(f: F) -> SyncFnBot<F>
where
    F: FnMut(Signal, &BlockingHandle) -> Result<(), BotError> + Send + 'static,
{
    SyncFnBot(f)
}

/// The synchronous bot [`sync_fn`] makes.
#[derive(Clone)]
pub struct SyncFnBot<F>(F);

impl<F> fmt::Debug for SyncFnBot<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SyncFnBot")
    }
}

impl<F> SyncBot for SyncFnBot<F>
where
    F: FnMut(Signal, &BlockingHandle) -> Result<(), BotError> + Send + 'static,
{
    fn run(mut self, inbound: SignalQueue, handle: BlockingHandle) -> Result<(), BotError> {
        for signal in inbound {
            (self.0)(signal, &handle)?;
        }
        Ok(())
    }
}
