//! What can go wrong between a hub's gateway or worker and NATS.

use std::fmt;

/// An error of a gateway or a worker: it says what it was doing and why that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NatsError {
    /// The configuration cannot work (a bad hub name, a user without a password).
    #[error("NATS config: {0}")]
    Config(String),
    /// A password or token could not be read.
    #[error("NATS secret: {0}")]
    Secret(String),
    /// The server could not be reached or refused the login.
    #[error("cannot connect to NATS at {url}: {cause}")]
    Connect {
        /// The server's URL.
        url: String,
        /// Why.
        cause: String,
    },
    /// JetStream refused or failed an operation on a stream, consumer or bucket.
    #[error("JetStream, {what}: {cause}")]
    JetStream {
        /// What was being done.
        what: String,
        /// Why it failed.
        cause: String,
    },
}

impl NatsError {
    /// Whether trying again cannot help: a config that cannot work, an unreadable secret, a
    /// refused login. Anything else (a server out of reach, a JetStream request that timed out)
    /// may pass.
    pub fn is_permanent(&self) -> bool {
        match self {
            NatsError::Config(_) | NatsError::Secret(_) => true,
            NatsError::Connect { cause, .. } => cause.contains("authorization"),
            NatsError::JetStream { .. } => false,
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        NatsError::Config(message.into())
    }

    pub(crate) fn secret(error: impl fmt::Display) -> Self {
        NatsError::Secret(error.to_string())
    }

    pub(crate) fn connect(url: &str, error: impl fmt::Display) -> Self {
        NatsError::Connect {
            url: url.to_owned(),
            cause: error.to_string(),
        }
    }

    pub(crate) fn jetstream(what: impl Into<String>, error: impl fmt::Display) -> Self {
        NatsError::JetStream {
            what: what.into(),
            cause: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_secrets_and_refused_logins_are_permanent_the_rest_may_pass() {
        assert!(NatsError::config("bad hub").is_permanent());
        assert!(NatsError::secret("unreadable").is_permanent());
        assert!(NatsError::connect("nats://x", "authorization violation").is_permanent());
        assert!(!NatsError::connect("nats://x", "connection refused").is_permanent());
        assert!(!NatsError::jetstream("the stream", "timed out").is_permanent());
    }
}
