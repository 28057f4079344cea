//! Queries: what a bot can ask its sessions and decorators, and their answers.
//!
//! A bot asks through its [`Handle`](crate::Handle) (`handle.members(&room).await`); the router
//! passes the query to the session the address belongs to, and decorators on the way may answer
//! it themselves (the logger answers history). Where a platform cannot say, the answer is
//! [`QueryError::NotSupported`], never a guess.

use serde::{Deserialize, Serialize};

use crate::address::{Address, AddressKind};
use crate::capability::{Features, Signals};
use crate::metadata::SignalId;
use crate::signal::{Availability, FailureKind, Signal};

/// A question to a session or decorator: the ten queries of the bot interface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "query", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Query {
    /// Is the address an individual, a group or a channel?
    AddressKind {
        /// The address asked about.
        address: Address,
    },
    /// The members (components) of a group or channel.
    Members {
        /// The group or channel.
        address: Address,
    },
    /// The current presence of an address.
    Status {
        /// The address asked about.
        address: Address,
    },
    /// Signals received from an address, newest first.
    ReceivedFrom {
        /// The origin; an address without a session qualifier matches every session.
        address: Address,
        /// Which page.
        #[serde(default)]
        page: Page,
    },
    /// Signals sent to an address, newest first.
    SentTo {
        /// The addressee.
        address: Address,
        /// Which page.
        #[serde(default)]
        page: Page,
    },
    /// How far a signal the bot sent got.
    DeliveryStatus {
        /// The signal's id.
        id: SignalId,
    },
    /// An individual's status in a channel: present or not, and role.
    MemberStatus {
        /// The individual.
        member: Address,
        /// The channel.
        channel: Address,
    },
    /// The bot's own status in a channel.
    OwnStatus {
        /// The channel.
        channel: Address,
    },
    /// Which signals an address can receive.
    SupportedSignals {
        /// The address asked about.
        address: Address,
    },
    /// Which message features an address can receive.
    SupportedFeatures {
        /// The address asked about.
        address: Address,
    },
}

/// The kind of a query, without its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum QueryKind {
    /// [`Query::AddressKind`]
    AddressKind,
    /// [`Query::Members`]
    Members,
    /// [`Query::Status`]
    Status,
    /// [`Query::ReceivedFrom`]
    ReceivedFrom,
    /// [`Query::SentTo`]
    SentTo,
    /// [`Query::DeliveryStatus`]
    DeliveryStatus,
    /// [`Query::MemberStatus`]
    MemberStatus,
    /// [`Query::OwnStatus`]
    OwnStatus,
    /// [`Query::SupportedSignals`]
    SupportedSignals,
    /// [`Query::SupportedFeatures`]
    SupportedFeatures,
}

impl Query {
    /// The kind of this query.
    pub fn kind(&self) -> QueryKind {
        match self {
            Query::AddressKind { .. } => QueryKind::AddressKind,
            Query::Members { .. } => QueryKind::Members,
            Query::Status { .. } => QueryKind::Status,
            Query::ReceivedFrom { .. } => QueryKind::ReceivedFrom,
            Query::SentTo { .. } => QueryKind::SentTo,
            Query::DeliveryStatus { .. } => QueryKind::DeliveryStatus,
            Query::MemberStatus { .. } => QueryKind::MemberStatus,
            Query::OwnStatus { .. } => QueryKind::OwnStatus,
            Query::SupportedSignals { .. } => QueryKind::SupportedSignals,
            Query::SupportedFeatures { .. } => QueryKind::SupportedFeatures,
        }
    }

    /// The address that decides which session answers; `None` for a delivery-status query,
    /// which the router puts to every session.
    pub fn address(&self) -> Option<&Address> {
        match self {
            Query::AddressKind { address }
            | Query::Members { address }
            | Query::Status { address }
            | Query::ReceivedFrom { address, .. }
            | Query::SentTo { address, .. }
            | Query::SupportedSignals { address }
            | Query::SupportedFeatures { address } => Some(address),
            Query::MemberStatus { channel, .. } | Query::OwnStatus { channel } => Some(channel),
            Query::DeliveryStatus { .. } => None,
        }
    }
}

/// A page of history: at most `limit` signals older than the signal `before` (newest first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Page {
    /// How many signals at most.
    pub limit: u32,
    /// Start after (older than) this signal; `None`: from the newest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<SignalId>,
}

impl Page {
    /// The first page of `limit` signals.
    pub const fn first(limit: u32) -> Self {
        Page {
            limit,
            before: None,
        }
    }

    /// The same page, starting after (older than) the signal `before`.
    #[must_use]
    pub fn with_before(mut self, before: SignalId) -> Self {
        self.before = Some(before);
        self
    }
}

impl Default for Page {
    fn default() -> Self {
        Page::first(50)
    }
}

/// A page of signals, newest first, and the page after it if there are older ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct History {
    /// The signals, newest first.
    pub signals: Vec<Signal>,
    /// The next (older) page, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Page>,
}

impl History {
    /// A page of `signals`, newest first, and the (older) page after it, if any.
    pub fn new(signals: Vec<Signal>, next: Option<Page>) -> Self {
        History { signals, next }
    }
}

/// The current presence of an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Presence {
    /// Offline, available, away, …
    pub availability: Availability,
    /// The status message, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Presence {
    /// A presence without a status message.
    pub fn new(availability: Availability) -> Self {
        Presence {
            availability,
            message: None,
        }
    }

    /// Sets the status message.
    #[must_use]
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }
}

/// An individual's status in a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MemberStatus {
    /// Present (joined) or not.
    pub present: bool,
    /// The role, where the platform has roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

impl MemberStatus {
    /// Present (joined) or not, without a role.
    pub fn new(present: bool) -> Self {
        MemberStatus {
            present,
            role: None,
        }
    }

    /// Sets the role.
    #[must_use]
    pub fn with_role(mut self, role: impl Into<String>) -> Self {
        self.role = Some(role.into());
        self
    }
}

/// How far a sent signal got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeliveryStatus {
    /// Nothing is known of it.
    Unknown,
    /// Handed to a session, not yet accepted by the platform.
    Pending,
    /// Accepted by the platform (a server took it).
    Sent,
    /// Delivered to the addressee (a receipt, a DSN).
    Delivered,
    /// Read or displayed by the addressee.
    Read,
    /// It failed.
    Failed {
        /// Why.
        kind: FailureKind,
        /// In words.
        message: String,
    },
}

impl DeliveryStatus {
    /// How far along this status is: a later report never moves a status back.
    pub fn rank(&self) -> u8 {
        match self {
            DeliveryStatus::Unknown => 0,
            DeliveryStatus::Pending => 1,
            DeliveryStatus::Sent => 2,
            DeliveryStatus::Delivered => 3,
            DeliveryStatus::Read => 4,
            DeliveryStatus::Failed { .. } => 5,
        }
    }

    /// Moves this status on to `later` unless `later` is behind it (a late "sent" after
    /// "read", say); whether it moved.
    ///
    /// ```
    /// use chatty_core::DeliveryStatus;
    ///
    /// let mut status = DeliveryStatus::Read;
    /// assert!(!status.advance(DeliveryStatus::Sent));
    /// assert_eq!(status, DeliveryStatus::Read);
    /// ```
    pub fn advance(&mut self, later: DeliveryStatus) -> bool {
        if later.rank() < self.rank() {
            return false;
        }
        *self = later;
        true
    }
}

/// An answer to a [`Query`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Answer {
    /// To [`Query::AddressKind`].
    AddressKind {
        /// The kind.
        kind: AddressKind,
    },
    /// To [`Query::Members`].
    Members {
        /// The members.
        members: Vec<Address>,
    },
    /// To [`Query::Status`].
    Status(Presence),
    /// To [`Query::ReceivedFrom`] and [`Query::SentTo`].
    History(History),
    /// To [`Query::DeliveryStatus`].
    DeliveryStatus(DeliveryStatus),
    /// To [`Query::MemberStatus`] and [`Query::OwnStatus`].
    MemberStatus(MemberStatus),
    /// To [`Query::SupportedSignals`].
    SupportedSignals {
        /// The signals.
        signals: Signals,
    },
    /// To [`Query::SupportedFeatures`].
    SupportedFeatures {
        /// The features carried as they are.
        features: Features,
        /// The features carried by a nearest equivalent.
        degraded: Features,
    },
}

/// Why a query got no answer.
///
/// It is serialized (queries and their answers cross process boundaries), so it carries its
/// causes in words and has no [`source`](std::error::Error::source).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "error", rename_all = "snake_case")]
#[non_exhaustive]
pub enum QueryError {
    /// The platform (or this session) cannot answer this kind of query.
    #[error("{query:?} is not supported here: {reason}")]
    NotSupported {
        /// The query's kind.
        query: QueryKind,
        /// Why, in words.
        reason: String,
    },
    /// No session serves the address.
    #[error("no session serves {address}")]
    NoRoute {
        /// The address.
        address: Address,
    },
    /// The session could have answered but failed (network, server error). The cause is kept
    /// in words only: a query error crosses process boundaries as JSON (the proxy, the process
    /// bot), so it carries no [`source`](std::error::Error::source).
    #[error("query failed: {message}")]
    Failed {
        /// In words.
        message: String,
    },
    /// The session or bot connection is closed.
    #[error("the connection is closed")]
    Closed,
}

impl QueryError {
    /// A [`QueryError::NotSupported`] for `query`.
    pub fn not_supported(query: &Query, reason: impl Into<String>) -> Self {
        QueryError::NotSupported {
            query: query.kind(),
            reason: reason.into(),
        }
    }

    /// Whether this is "not supported here" (so another answerer may be asked).
    pub fn is_not_supported(&self) -> bool {
        matches!(self, QueryError::NotSupported { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_query_routes_by_its_address() {
        let a: Address = "xmpp:a@example.org".parse().unwrap();
        let room: Address = "xmpp:r@muc.example.org".parse().unwrap();
        let queries = [
            Query::AddressKind { address: a.clone() },
            Query::Members {
                address: room.clone(),
            },
            Query::Status { address: a.clone() },
            Query::ReceivedFrom {
                address: a.clone(),
                page: Page::default(),
            },
            Query::SentTo {
                address: a.clone(),
                page: Page::first(5),
            },
            Query::MemberStatus {
                member: a.clone(),
                channel: room.clone(),
            },
            Query::OwnStatus {
                channel: room.clone(),
            },
            Query::SupportedSignals { address: a.clone() },
            Query::SupportedFeatures { address: a.clone() },
        ];
        for q in &queries {
            assert!(q.address().is_some());
            let json = serde_json::to_string(q).unwrap();
            assert_eq!(&serde_json::from_str::<Query>(&json).unwrap(), q);
        }
        assert_eq!(
            Query::MemberStatus {
                member: a,
                channel: room.clone()
            }
            .address(),
            Some(&room)
        );
        assert!(Query::DeliveryStatus { id: "x".into() }.address().is_none());
    }

    #[test]
    fn delivery_status_ranks_only_forward() {
        let order = [
            DeliveryStatus::Unknown,
            DeliveryStatus::Pending,
            DeliveryStatus::Sent,
            DeliveryStatus::Delivered,
            DeliveryStatus::Read,
            DeliveryStatus::Failed {
                kind: FailureKind::Bounced,
                message: String::new(),
            },
        ];
        for pair in order.windows(2) {
            assert!(pair[0].rank() < pair[1].rank());
        }
    }

    #[test]
    fn not_supported_names_the_query() {
        let q = Query::Members {
            address: "mailto:list@example.org".parse().unwrap(),
        };
        let e = QueryError::not_supported(&q, "email has no member lists");
        assert!(e.is_not_supported());
        assert_eq!(
            e.to_string(),
            "Members is not supported here: email has no member lists"
        );
    }
}
