//! Where a web window listens and whom it answers: its address, its token, and why it cannot
//! start.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use chatty_core::{Revealed, SecretError};

use super::limits::MIN_TOKEN_LEN;

/// Why a web window cannot start.
#[derive(Debug)]
pub enum WebError {
    /// The address is not a loopback address and no token was given.
    NeedsToken {
        /// The address asked for.
        address: SocketAddr,
    },
    /// The token is too short or has characters other than letters, digits and `-._~`.
    BadToken(String),
    /// The token could not be read (from its environment variable or file).
    Token(SecretError),
    /// Binding the address failed.
    Bind {
        /// The address asked for.
        address: SocketAddr,
        /// Why.
        source: io::Error,
    },
}

impl fmt::Display for WebError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebError::NeedsToken { address } => write!(
                f,
                "the web window listens on {address}, which is not a loopback address: it needs a token"
            ),
            WebError::BadToken(why) => write!(f, "bad token: {why}"),
            WebError::Token(e) => write!(f, "cannot read the token: {e}"),
            WebError::Bind { address, source } => write!(f, "cannot listen on {address}: {source}"),
        }
    }
}

impl std::error::Error for WebError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WebError::Token(e) => Some(e),
            WebError::Bind { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The token every request must carry: never shown by `Debug`.
#[derive(Clone, Debug)]
pub(super) struct Token(pub(super) Revealed);

impl Token {
    pub(super) fn new(revealed: Revealed) -> Result<Token, WebError> {
        let token = revealed.expose();
        if token.chars().count() < MIN_TOKEN_LEN {
            return Err(WebError::BadToken(format!(
                "it must have at least {MIN_TOKEN_LEN} characters"
            )));
        }
        if !token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
        {
            return Err(WebError::BadToken(
                "only letters, digits and - . _ ~ may be used (it goes in URLs)".into(),
            ));
        }
        Ok(Token(revealed))
    }

    /// Compares in time independent of where the first difference is.
    pub(super) fn matches(&self, given: &str) -> bool {
        let (a, b) = (self.0.expose().as_bytes(), given.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}
