//! The XML namespaces the session speaks besides those xmpp-parsers names (`parsers::ns`).

/// Out of Band Data (XEP-0066): file URLs in messages.
pub(crate) const NS_OOB: &str = "jabber:x:oob";
/// Message Delivery Receipts (XEP-0184).
pub(crate) const NS_RECEIPTS: &str = "urn:xmpp:receipts";
/// The namespace of Chatty's user-defined signals on the wire:
/// `<signal xmlns='urn:chatty:signal:0' name='NAME'>JSON</signal>` in a `<message>`.
pub const NS_SIGNAL: &str = "urn:chatty:signal:0";
/// Message Replies (XEP-0461).
pub const NS_REPLY: &str = "urn:xmpp:reply:0";
/// Message Retraction (XEP-0424).
pub(crate) const NS_RETRACT: &str = "urn:xmpp:message-retract:1";
/// Fallback Indication (XEP-0428): which part of a message is only there for older clients.
pub(crate) const NS_FALLBACK: &str = "urn:xmpp:fallback:0";
/// Message Processing Hints (XEP-0334).
pub(crate) const NS_HINTS: &str = "urn:xmpp:hints";
/// HTTP File Upload (XEP-0363).
pub(crate) const NS_HTTP_UPLOAD: &str = "urn:xmpp:http:upload:0";
/// The `FORM_TYPE` (XEP-0068) of the data forms (XEP-0004) that carry Chatty's choices: a
/// question (`type='form'`, one `list-single` field named by the choice's id) and its answer
/// (`type='submit'`, that field with the chosen value).
pub const FORM_TYPE_CHOICE: &str = "urn:chatty:choice:0";
