//! A platform for tests: one configurable [`Protocol`](crate::driver::Protocol), so that a
//! test of the driver, the router, the journal or a decorator writes what the platform does
//! instead of a session of its own. Not for production use.
//!
//! Compiled for chatty-core's own tests, and for other crates' tests under the `testing`
//! feature (off by default):
//!
//! ```toml
//! [dev-dependencies]
//! chatty-core = { workspace = true, features = ["testing"] }
//! ```
//!
//! A [`TestPlatform`] gives what it is told to (by default nothing), takes what the bot sends
//! and keeps it in a [`Recorded`] list the test holds while the router owns the platform:
//!
//! ```
//! use chatty_core::testing::{TestPlatform, messages};
//! use chatty_core::{Body, Message, Router, Signal, from_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let platform = TestPlatform::new("test").giving(messages(2));
//! let sent = platform.outbound();
//! let bot = from_fn(|signal: Signal, handle| async move {
//!     if let Body::Message(m) = &signal.body {
//!         let text = format!("re {}", m.text);
//!         handle.send(signal.reply(Message::text(text))).await?;
//!         if m.text == "m1" {
//!             handle.end_sessions("done").await?;
//!         }
//!     }
//!     Ok(())
//! });
//! Router::new().session(platform).run(bot).await.unwrap();
//! assert_eq!(sent.texts(), ["re m0", "re m1"]);
//! # }
//! ```

mod platform;
mod protocol;
mod recorded;

pub use platform::TestPlatform;
pub use recorded::Recorded;

use crate::{Address, Signal, SignalId};

/// A message from `test:alice` whose text and id are both `text`: a platform that names its
/// messages gives it with the same id every time.
///
/// ```
/// let m0 = chatty_core::testing::message("m0");
/// assert_eq!(m0.id().as_str(), "m0");
/// assert_eq!(m0.meta.origin, "test:alice".parse().ok());
/// ```
pub fn message(text: &str) -> Signal {
    let mut signal = Signal::message(text);
    signal.meta.id = SignalId::from(text);
    signal.meta.origin = Some("test:alice".parse::<Address>().expect("a valid address"));
    signal
}

/// The messages `m0`, `m1`, … up to `m{count - 1}`, each made by [`message`].
pub fn messages(count: usize) -> Vec<Signal> {
    (0..count).map(|i| message(&format!("m{i}"))).collect()
}
