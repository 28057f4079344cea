//! IQs: the requests a connection waits answers for (XEP-0030 disco#info and the like), and the
//! answers the bot gives to what others ask it (pings, disco#info).

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

use crate::caps;
use crate::config::ClientType;

/// How long an IQ request (disco#info) may wait for its answer.
pub(crate) const IQ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a contact's client may take to say what it supports (a client that never answers
/// disco#info is taken to support the base of XMPP only).
pub(crate) const DISCO_TIMEOUT: Duration = Duration::from_secs(5);

/// An IQ's id.
pub(crate) fn iq_id(iq: &Iq) -> String {
    match iq {
        Iq::Get { id, .. } | Iq::Set { id, .. } | Iq::Result { id, .. } | Iq::Error { id, .. } => {
            id.clone()
        }
    }
}

/// The IQ requests a connection sent, waiting for their answers, by IQ id.
#[derive(Default)]
pub(crate) struct Pending(HashMap<String, oneshot::Sender<Iq>>);

impl Pending {
    /// Records that `answer` waits for the answer to `iq` (forgetting requests whose askers
    /// stopped waiting).
    pub(crate) fn insert(&mut self, iq: &Iq, answer: oneshot::Sender<Iq>) {
        self.0.retain(|_, waiting| !waiting.is_closed());
        self.0.insert(iq_id(iq), answer);
    }

    /// Whether a request still waits for its answer.
    pub(crate) fn is_waiting(&self) -> bool {
        self.0.values().any(|waiting| !waiting.is_closed())
    }

    /// Hands `iq` (a result or an error) to the request it answers; `Some(iq)` when no request
    /// waits for it.
    /// Whether a request waits for `iq` (an answer to it).
    pub(crate) fn waits_for(&self, iq: &Iq) -> bool {
        self.0.contains_key(&iq_id(iq))
    }

    pub(crate) fn answer(&mut self, iq: Iq) -> Option<Iq> {
        match self.0.remove(&iq_id(&iq)) {
            Some(waiting) => {
                let _ = waiting.send(iq);
                None
            }
            None => Some(iq),
        }
    }
}

/// The answer to an IQ request: a pong to a ping (XEP-0199), the session's identity (a client
/// of `client_type`) and features to disco#info (XEP-0030), `service-unavailable` to the rest.
pub(crate) fn answer_iq(iq: Iq, client_type: ClientType) -> Option<Iq> {
    match iq {
        Iq::Get {
            from, id, payload, ..
        } if payload.is("query", ns::DISCO_INFO)
            && caps::is_own_node(client_type, payload.attr("node")) =>
        {
            let info = caps::own_info(client_type, payload.attr("node").map(str::to_owned));
            Some(Iq::Result {
                from: None,
                to: from,
                id,
                payload: Some(info.into()),
            })
        }
        Iq::Get {
            from, id, payload, ..
        } if payload.is("ping", ns::PING) => Some(Iq::Result {
            from: None,
            to: from,
            id,
            payload: None,
        }),
        Iq::Get { from, id, .. } | Iq::Set { from, id, .. } => Some(Iq::Error {
            from: None,
            to: from,
            id,
            error: StanzaError::new(
                ErrorType::Cancel,
                DefinedCondition::ServiceUnavailable,
                "en",
                "not supported by this bot",
            ),
            payload: None,
        }),
        Iq::Result { .. } | Iq::Error { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_xmpp::jid::Jid;
    use tokio_xmpp::parsers::disco::{DiscoInfoQuery, DiscoInfoResult};

    #[test]
    fn pings_are_answered_and_other_requests_refused() {
        let from = Jid::new("localhost").unwrap();
        let ping = Iq::Get {
            from: Some(from.clone()),
            to: None,
            id: "p1".into(),
            payload: tokio_xmpp::minidom::Element::builder("ping", ns::PING).build(),
        };
        assert!(
            matches!(answer_iq(ping, ClientType::Bot), Some(Iq::Result { id, .. }) if id == "p1")
        );
        let version = Iq::Get {
            from: Some(from),
            to: None,
            id: "v1".into(),
            payload: tokio_xmpp::minidom::Element::builder("query", "jabber:iq:version").build(),
        };
        assert!(
            matches!(answer_iq(version, ClientType::Bot), Some(Iq::Error { id, .. }) if id == "v1")
        );
    }

    #[test]
    fn disco_info_names_the_configured_client_type() {
        let ask = || Iq::Get {
            from: Some(Jid::new("alice@example.org/x").unwrap()),
            to: None,
            id: "d1".into(),
            payload: DiscoInfoQuery { node: None }.into(),
        };
        for (client_type, expected) in [(ClientType::Bot, "bot"), (ClientType::Pc, "pc")] {
            let Some(Iq::Result {
                payload: Some(payload),
                ..
            }) = answer_iq(ask(), client_type)
            else {
                panic!("no result");
            };
            let info = DiscoInfoResult::try_from(payload).unwrap();
            assert_eq!(info.identities[0].category, "client");
            assert_eq!(info.identities[0].type_, expected);
        }
    }
}
