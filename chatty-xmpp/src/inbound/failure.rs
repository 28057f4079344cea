//! Error stanzas: a `type='error'` message or presence becomes the send failure of the stanza
//! it answers (by id).

use chatty_core::{
    Address, AddressKind, Automatic, FailureKind, SendFailure, Signal, SignalId, now,
};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::message::Message;
use tokio_xmpp::parsers::ns;
use tokio_xmpp::parsers::presence::Presence;

use crate::inbound::message::origin_id;
use crate::mapper::{Mapper, system_error};

impl Mapper {
    /// A `type='error'` message: the failure of the message with its id.
    pub(crate) fn send_failure(
        &self,
        message: &Message,
        origin: Address,
    ) -> Result<Signal, String> {
        let failed = origin_id(message)
            .or_else(|| message.id.as_ref().map(|id| id.0.clone()))
            .filter(|id| !id.is_empty())
            .ok_or_else(|| format!("an error message from {origin} without an id"))?;
        let (error, condition) = error_of(&message.payloads);
        let text = error.and_then(|e| {
            e.children()
                .find(|c| c.is("text", ns::XMPP_STANZAS))
                .map(Element::text)
        });
        let kind = match condition.as_deref() {
            Some(
                "item-not-found"
                | "service-unavailable"
                | "recipient-unavailable"
                | "remote-server-not-found"
                | "gone"
                | "jid-malformed",
            ) => FailureKind::UnknownAddressee,
            Some(
                "forbidden"
                | "not-allowed"
                | "not-authorized"
                | "not-acceptable"
                | "policy-violation"
                | "registration-required"
                | "subscription-required",
            ) => FailureKind::Rejected,
            Some("resource-constraint") => FailureKind::RateLimited,
            Some("remote-server-timeout") => FailureKind::Unreachable,
            _ => FailureKind::Other,
        };
        let message_text = match (&condition, text) {
            (_, Some(text)) if !text.is_empty() => text,
            (Some(condition), _) => format!("{origin} answered with the error {condition}"),
            (None, _) => format!("{origin} answered with an error"),
        };
        let failed = SignalId::from(failed);
        let mut failure = SendFailure::new(failed.clone(), kind, message_text);
        failure.code = condition;
        let mut signal = Signal::new(failure);
        signal.meta.response_to = Some(failed);
        signal.meta.sent = Some(now());
        signal.meta.origin = Some(origin);
        signal.meta.addressees = vec![self.own().clone()];
        // A machine's answer: never one to answer in turn.
        signal.meta.automatic = Some(Automatic::Report);
        Ok(signal)
    }

    /// A presence of type error: the failure of the presence with its id (a room refusing a
    /// join, say; the room is then forgotten, so that it is not joined again).
    ///
    /// An error without an id from a contact is nothing: it answers the bot's broadcast
    /// presence, which the server copies to every resource of every contact, and which comes
    /// back when one of them is gone (Prosody bounces what a hibernated stream-management
    /// session still held with `recipient-unavailable` when that session ends). Nothing the
    /// bot sent failed, so it is only traced. A room's error without an id is still reported:
    /// the room was left.
    pub(crate) fn presence_error(
        &self,
        presence: &Presence,
        from: &Jid,
        in_room: bool,
    ) -> Option<Signal> {
        let (_, condition) = error_of(&presence.payloads);
        if in_room {
            self.state().leave_room(&from.to_bare());
        }
        let condition_text = || condition.as_deref().unwrap_or("(no condition)").to_owned();
        let Some(id) = presence.id.as_deref().filter(|id| !id.is_empty()) else {
            if !in_room {
                tracing::debug!(
                    from = %from,
                    "a presence error without an id (a broadcast presence bounced): {}",
                    condition_text()
                );
                return None;
            }
            return Some(system_error(format!(
                "{from} answered a presence with the error {}",
                condition_text()
            )));
        };
        let kind = match condition.as_deref() {
            Some("item-not-found" | "remote-server-not-found" | "jid-malformed") => {
                FailureKind::UnknownAddressee
            }
            Some(
                "forbidden"
                | "not-allowed"
                | "not-authorized"
                | "registration-required"
                | "conflict"
                | "service-unavailable",
            ) => FailureKind::Rejected,
            _ => FailureKind::Other,
        };
        let mut failure = SendFailure::new(
            SignalId::from(id),
            kind,
            format!(
                "{from} refused: {}",
                condition.as_deref().unwrap_or("an error")
            ),
        );
        failure.code = condition;
        let mut signal = Signal::new(failure);
        signal.meta.response_to = Some(SignalId::from(id));
        signal.meta.sent = Some(now());
        signal.meta.origin = self
            .address(from.to_bare().as_str(), AddressKind::Individual)
            .ok();
        signal.meta.addressees = vec![self.own().clone()];
        // A machine's answer: never one to answer in turn.
        signal.meta.automatic = Some(Automatic::Report);
        Some(signal)
    }
}

/// The `<error/>` among a stanza's payloads, and its defined condition (`item-not-found`, …).
fn error_of(payloads: &[Element]) -> (Option<&Element>, Option<String>) {
    let error = payloads.iter().find(|p| p.is("error", ns::DEFAULT_NS));
    let condition = error.and_then(|e| {
        e.children()
            .find(|c| c.has_ns(ns::XMPP_STANZAS) && c.name() != "text")
            .map(|c| c.name().to_owned())
    });
    (error, condition)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapper::test_support::{mapper, message};
    use chatty_core::Body;

    #[test]
    fn error_message_is_a_send_failure_naming_the_id() {
        let m = message(
            "<message xmlns='jabber:client' from='nobody@example.org' type='error' id='sent-1'>\
             <error type='cancel'><service-unavailable \
             xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>",
        );
        let signal = mapper().inbound_message(m).unwrap();
        assert_eq!(
            signal.meta.response_to.as_ref().map(SignalId::as_str),
            Some("sent-1")
        );
        match signal.body {
            Body::SendFailure(f) => {
                assert_eq!(f.failed.as_str(), "sent-1");
                assert_eq!(f.kind, FailureKind::UnknownAddressee);
                assert_eq!(f.code.as_deref(), Some("service-unavailable"));
            }
            other => panic!("{other:?}"),
        }
    }

    fn presence(xml: &str) -> Presence {
        Presence::try_from(xml.parse::<Element>().unwrap()).unwrap()
    }

    #[test]
    fn a_contacts_presence_error_without_an_id_is_no_signal() {
        // As Prosody bounces the bot's broadcast presence from a contact's hibernated session.
        let bounced = presence(
            "<presence xmlns='jabber:client' from='alice@example.org/phone' type='error'>\
             <error type='cancel'><recipient-unavailable \
             xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>",
        );
        let from = Jid::new("alice@example.org/phone").unwrap();
        assert_eq!(mapper().presence_error(&bounced, &from, false), None);
    }

    #[test]
    fn a_presence_error_with_an_id_is_the_failure_of_that_presence() {
        let refused = presence(
            "<presence xmlns='jabber:client' from='alice@example.org' type='error' id='p-1'>\
             <error type='auth'><forbidden \
             xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>",
        );
        let from = Jid::new("alice@example.org").unwrap();
        let signal = mapper().presence_error(&refused, &from, false).unwrap();
        match signal.body {
            Body::SendFailure(f) => {
                assert_eq!(f.failed.as_str(), "p-1");
                assert_eq!(f.kind, FailureKind::Rejected);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_rooms_presence_error_without_an_id_is_reported() {
        let refused = presence(
            "<presence xmlns='jabber:client' from='r@rooms.example.org/bot' type='error'>\
             <error type='cancel'><not-allowed \
             xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>",
        );
        let from = Jid::new("r@rooms.example.org/bot").unwrap();
        let signal = mapper().presence_error(&refused, &from, true).unwrap();
        match signal.body {
            Body::SystemError(e) => assert!(e.message.contains("not-allowed"), "{e:?}"),
            other => panic!("{other:?}"),
        }
    }
}
