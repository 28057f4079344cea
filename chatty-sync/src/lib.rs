#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(
    missing_debug_implementations,
    missing_docs,
    rust_2018_idioms,
    unreachable_pub
)]

mod channel;
mod error;
mod handle;
mod park;
mod queue;
mod sync_bot;
mod synchronizer;

pub use channel::{DEFAULT_CAPACITY, QueueBot, channel};
pub use error::{ReceiveError, SynchronizerError, TryReceiveError};
pub use handle::BlockingHandle;
pub use queue::SignalQueue;
pub use sync_bot::{SyncBot, SyncFnBot, sync_fn};
pub use synchronizer::{Synchronizer, SynchronizerLayer};
