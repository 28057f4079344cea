#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod builtin;
#[cfg(feature = "runner")]
#[cfg_attr(docsrs, doc(cfg(feature = "runner")))]
pub mod config;
pub mod process;
#[cfg(feature = "runner")]
mod runner;

pub use builtin::{EchoBot, RelayBot};
pub use chatty_core::*;
#[cfg(feature = "runner")]
pub use config::{ConfigError, load};
pub use process::ProcessBot;
#[cfg(feature = "runner")]
pub use runner::{BotContext, RunError, Runner, SHUTDOWN_GRACE};

/// In-process direct connections between bots, and the test harness ([`chatty_direct`]).
#[cfg(feature = "direct")]
pub mod direct {
    pub use chatty_direct::*;
}

/// Writing bots: typed commands, handlers with extractors, state per person, timers and
/// choices ([`chatty_dispatch`]).
#[cfg(feature = "dispatch")]
pub mod dispatch {
    pub use chatty_dispatch::*;
}

/// The Synchronizer, for blocking bots ([`chatty_sync`]).
#[cfg(feature = "sync")]
pub mod sync {
    pub use chatty_sync::*;
}

/// The Logger decorator ([`chatty_log`]).
#[cfg(feature = "log")]
pub mod log {
    pub use chatty_log::*;
}

/// Proxies: a remote bot or person as a local bot ([`chatty_proxy`]).
#[cfg(feature = "proxy")]
pub mod proxy {
    pub use chatty_proxy::*;
}

/// Scale-out over NATS JetStream: gateways and workers on several machines ([`chatty_nats`]).
#[cfg(feature = "nats")]
pub mod nats {
    pub use chatty_nats::*;
}

/// Chat windows as bots ([`chatty_client`]).
#[cfg(feature = "client")]
pub mod client {
    pub use chatty_client::*;
}

/// Email sessions ([`chatty_email`]).
#[cfg(feature = "email")]
pub mod email {
    pub use chatty_email::*;
}

/// Matrix sessions ([`chatty_matrix`]).
#[cfg(feature = "matrix")]
pub mod matrix {
    pub use chatty_matrix::*;
}

/// IRC sessions ([`chatty_irc`]).
#[cfg(feature = "irc")]
pub mod irc {
    pub use chatty_irc::*;
}

/// Slack sessions ([`chatty_slack`]).
#[cfg(feature = "slack")]
pub mod slack {
    pub use chatty_slack::*;
}

/// XMPP sessions ([`chatty_xmpp`]).
#[cfg(feature = "xmpp")]
pub mod xmpp {
    pub use chatty_xmpp::*;
}
