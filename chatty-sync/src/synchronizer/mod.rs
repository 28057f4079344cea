//! Decorator that runs a synchronous (blocking) bot behind the async bot interface.

mod layer;
mod service;

pub use layer::SynchronizerLayer;
pub use service::Synchronizer;

/// The thread name the synchronous bot runs on unless set otherwise.
const DEFAULT_THREAD_NAME: &str = "chatty-sync";
