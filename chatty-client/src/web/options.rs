//! Where a web window listens and whom it answers: its address, its token, and why it cannot
//! start.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use chatty_core::{Revealed, Secret, SecretError};

use super::hosts::{Hosts, public_name};
use super::limits::MIN_TOKEN_LEN;

/// Where a web window listens and whom it answers. [`WebOptions::check`] checks them all without
/// listening (what `chatty check` does); [`WebClient::open`](crate::WebClient::open) checks them
/// the same way and listens.
///
/// ```
/// use chatty_client::web::WebOptions;
/// use chatty_core::Secret;
///
/// // Loopback needs nothing more.
/// assert!(WebOptions::new("127.0.0.1:8080".parse().unwrap()).check().is_ok());
/// // Other machines: a token, and the names the window is reached by.
/// let public = WebOptions::new("0.0.0.0:8080".parse().unwrap())
///     .token(Secret::inline("0123456789abcdef"))
///     .public_name("chat.example.org");
/// assert!(public.check().is_ok());
/// assert!(WebOptions::new("0.0.0.0:8080".parse().unwrap()).check().is_err());
/// ```
#[derive(Debug, Clone)]
pub struct WebOptions {
    /// The address to listen on (port 0 picks a free port).
    pub bind: SocketAddr,
    /// The token every request must carry (`?token=` or `Authorization: Bearer`): needed for an
    /// address that is not a loopback address, and for public names.
    pub token: Option<Secret>,
    /// The host names (or IP addresses) the window is reached by from other machines, besides
    /// loopback names and the address it listens on: a request naming any other host in `Host`
    /// is refused (DNS rebinding). Only with a token.
    pub public_names: Vec<String>,
}

/// Options that passed [`WebOptions::check`]: the token read and checked, the hosts to accept.
#[derive(Debug)]
pub(super) struct Checked {
    pub(super) token: Option<Token>,
    pub(super) hosts: Hosts,
}

impl WebOptions {
    /// Listening on `bind`, without a token or public names.
    pub fn new(bind: SocketAddr) -> Self {
        WebOptions {
            bind,
            token: None,
            public_names: Vec::new(),
        }
    }

    /// Sets the token.
    #[must_use]
    pub fn token(mut self, token: Secret) -> Self {
        self.token = Some(token);
        self
    }

    /// Adds a public name.
    #[must_use]
    pub fn public_name(mut self, name: impl Into<String>) -> Self {
        self.public_names.push(name.into());
        self
    }

    /// Checks everything a window checks before it listens: the token can be read and is one
    /// ([`MIN_TOKEN_LEN`] letters, digits or `-._~` at least); an address other than loopback,
    /// or public names, come with a token; the public names are host names or IP addresses.
    ///
    /// # Errors
    /// The first problem found.
    pub fn check(&self) -> Result<(), WebError> {
        self.checked().map(|_| ())
    }

    pub(super) fn checked(&self) -> Result<Checked, WebError> {
        let token = match &self.token {
            Some(secret) => Some(Token::new(secret.reveal().map_err(WebError::Token)?)?),
            None => None,
        };
        if token.is_none() && !self.bind.ip().is_loopback() {
            return Err(WebError::NeedsToken { address: self.bind });
        }
        if token.is_none() && !self.public_names.is_empty() {
            return Err(WebError::PublicNamesNeedToken);
        }
        let public = self
            .public_names
            .iter()
            .map(|name| public_name(name).map_err(WebError::BadPublicName))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Checked {
            token,
            hosts: Hosts::new(self.bind.ip(), public),
        })
    }
}

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
    /// Public names were given without a token.
    PublicNamesNeedToken,
    /// A public name is not a host name or IP address.
    BadPublicName(String),
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
            WebError::PublicNamesNeedToken => f.write_str(
                "public names make the web window reachable from other machines: it needs a token",
            ),
            WebError::BadPublicName(why) => write!(f, "bad public name: {why}"),
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
