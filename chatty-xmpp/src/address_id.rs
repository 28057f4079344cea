//! JIDs as address ids, and back.
//!
//! A JID may hold what a chatty-core address id may not: white space and control characters
//! (a room nickname "John Smith", a resource "Gajim laptop"), or the `;kind=` that starts the
//! kind in an address's textual form. As in XMPP URIs (RFC 5122 §2.7 and §2.8, percent-encoding
//! of UTF-8 octets after RFC 3986 §2.1), those characters are percent-encoded when a JID becomes
//! an address id, and `%` too, so that every id decodes back to its JID:
//! `r@rooms.example.org/John Smith` is `r@rooms.example.org/John%20Smith`. Nothing else is
//! encoded (non-ASCII stays as it is, as in an IRI), so an ordinary JID is its own id.

use std::borrow::Cow;
use std::fmt::Write as _;

use tokio_xmpp::jid::{BareJid, Jid};

/// The sequence that starts the kind in an address's textual form (`xmpp:a@b;kind=channel`).
const KIND_SUFFIX: &str = ";kind=";

/// Whether `c`, at the start of `rest`, must be percent-encoded in an address id.
fn must_encode(c: char, rest: &str) -> bool {
    c == '%' || c.is_whitespace() || c.is_control() || rest.starts_with(KIND_SUFFIX)
}

/// The address id of the JID `jid`: `jid` itself unless it holds white space, control
/// characters, `%` or `;kind=`, which are percent-encoded (upper-case hex, per UTF-8 byte).
pub(crate) fn encode(jid: &str) -> Cow<'_, str> {
    if !jid.char_indices().any(|(i, c)| must_encode(c, &jid[i..])) {
        return Cow::Borrowed(jid);
    }
    let mut id = String::with_capacity(jid.len() + 8);
    for (i, c) in jid.char_indices() {
        if must_encode(c, &jid[i..]) {
            let mut bytes = [0; 4];
            for byte in c.encode_utf8(&mut bytes).bytes() {
                // Writing to a String cannot fail.
                let _ = write!(id, "%{byte:02X}");
            }
        } else {
            id.push(c);
        }
    }
    Cow::Owned(id)
}

/// The JID text an address id stands for: `id` with its percent-encoded bytes decoded (of
/// either case). A `%` not followed by two hex digits, or bytes that are not UTF-8, are an
/// error: such an id names no JID the session would have written.
pub(crate) fn decode(id: &str) -> Result<Cow<'_, str>, String> {
    if !id.contains('%') {
        return Ok(Cow::Borrowed(id));
    }
    let hex = |b: Option<&u8>| b.and_then(|&b| char::from(b).to_digit(16));
    let bytes = id.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let (Some(high), Some(low)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) else {
                return Err(format!(
                    "`%` at byte {i} is not followed by two hex digits (write `%25` for `%`)"
                ));
            };
            // Two hex digits: at most 255.
            out.push(u8::try_from(high * 16 + low).unwrap_or(u8::MAX));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| "its percent-encoded bytes are not UTF-8".to_owned())
}

/// The JID an address id names (decoded), or why it names none.
pub(crate) fn jid(id: &str) -> Result<Jid, String> {
    Jid::new(&decode(id)?).map_err(|e| e.to_string())
}

/// The bare JID an address id names (decoded), or why it names none (a full JID names none).
pub(crate) fn bare_jid(id: &str) -> Result<BareJid, String> {
    BareJid::new(&decode(id)?).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chatty_core::{Address, AddressKind};
    use proptest::prelude::*;

    #[test]
    fn ordinary_jids_are_their_own_ids() {
        for jid in [
            "alice@example.org",
            "alice@example.org/phone",
            "r@rooms.example.org/carol",
            "example.org",
            "ünïcødé@exämple.org/ресурс",
            "a@b/x;y=z",
            "a@b/kind=channel",
            "a@b/;kind",
        ] {
            assert!(matches!(encode(jid), Cow::Borrowed(j) if j == jid), "{jid}");
            assert!(
                matches!(decode(jid), Ok(Cow::Borrowed(j)) if j == jid),
                "{jid}"
            );
        }
    }

    #[test]
    fn spaces_controls_percent_and_the_kind_suffix_are_encoded() {
        for (jid, id) in [
            (
                "r@rooms.example.org/John Smith",
                "r@rooms.example.org/John%20Smith",
            ),
            (
                "alice@example.org/Gajim laptop",
                "alice@example.org/Gajim%20laptop",
            ),
            ("a@b/tab\there", "a@b/tab%09here"),
            ("a@b/new\nline\u{7f}", "a@b/new%0Aline%7F"),
            ("a@b/100%", "a@b/100%25"),
            ("a@b/%20", "a@b/%2520"),
            ("a@b/x;kind=channel", "a@b/x%3Bkind=channel"),
            (
                "a@b/ideographic\u{3000}space",
                "a@b/ideographic%E3%80%80space",
            ),
            ("a@b/nbsp\u{a0}", "a@b/nbsp%C2%A0"),
        ] {
            assert_eq!(encode(jid), id, "{jid:?}");
            assert_eq!(decode(id).unwrap(), jid, "{id:?}");
            Address::new("xmpp", id).unwrap();
        }
    }

    #[test]
    fn decoding_takes_either_case_and_refuses_what_names_no_jid() {
        assert_eq!(
            decode("a@b/x%3bkind=y%c2%a0").unwrap(),
            "a@b/x;kind=y\u{a0}"
        );
        for bad in [
            "a@b/100%", "a@b/%2", "a@b/%zz", "a@b/%+1", "a@b/%FF", "a@b/%C3",
        ] {
            assert!(decode(bad).is_err(), "{bad}");
        }
        assert!(jid("a@b/%zz").is_err());
        assert_eq!(
            jid("r@rooms.example.org/John%20Smith").unwrap().as_str(),
            "r@rooms.example.org/John Smith"
        );
        assert_eq!(
            bare_jid("a%25b@example.org").unwrap().as_str(),
            "a%b@example.org"
        );
        assert!(bare_jid("a@b/full").is_err());
    }

    #[test]
    fn a_jid_whose_preparation_changes_again_still_decodes_to_its_text() {
        // Found by the property test below: nameprep maps `🄐` to `(A)`, and `(A)` to `(a)`.
        let parsed = Jid::new("🄐/ ").unwrap();
        let id = encode(parsed.as_str());
        assert_eq!(decode(&id).unwrap(), parsed.as_str());
        assert_eq!(jid(&id).unwrap(), Jid::new(parsed.as_str()).unwrap());
    }

    /// Text as JIDs may hold it: any characters, with more of the ones to encode.
    fn jid_text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            4 => "\\PC{1,4}",
            2 => "[a-z@/.]{1,4}",
            1 => Just(" ".to_owned()),
            1 => Just("%".to_owned()),
            1 => Just(";kind=".to_owned()),
            1 => Just(";".to_owned()),
            1 => "%[0-9a-fA-F]{2}",
            1 => any::<char>().prop_map(String::from),
            1 => prop::sample::select(vec!['\t', '\n', '\r', '\0', '\u{85}', '\u{2028}', '\u{3000}'])
                .prop_map(String::from),
        ];
        prop::collection::vec(piece, 1..12).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

        #[test]
        fn every_jid_round_trips_as_a_valid_address(text in jid_text()) {
            let id = encode(&text);
            prop_assert_eq!(decode(&id).unwrap(), text.as_str());
            for kind in [AddressKind::Unknown, AddressKind::Individual, AddressKind::Channel] {
                let address = Address::new("xmpp", &id).unwrap().with_kind(kind);
                let back: Address = address.to_string().parse().unwrap();
                prop_assert_eq!(back.id(), &*id);
                prop_assert_eq!(back.kind(), kind);
            }
            // The session's JIDs: the id of a parsed JID names the same text, so it parses as
            // that text does. (Not always as `parsed` itself: stringprep is not idempotent,
            // `🄐` prepares to `(A)` and `(A)` to `(a)`; the encoding must add nothing to that.)
            if let Ok(parsed) = Jid::new(&text) {
                let id = encode(parsed.as_str());
                prop_assert_eq!(decode(&id).unwrap(), parsed.as_str());
                prop_assert_eq!(jid(&id).ok(), Jid::new(parsed.as_str()).ok());
            }
        }

        #[test]
        fn what_needs_no_encoding_is_left_byte_for_byte(text in "(\\PC|;){1,30}") {
            prop_assume!(!text.contains('%') && !text.contains(";kind="));
            prop_assume!(!text.chars().any(|c| c.is_whitespace() || c.is_control()));
            prop_assert!(matches!(encode(&text), Cow::Borrowed(_)));
            prop_assert!(matches!(decode(&text), Ok(Cow::Borrowed(_))));
        }

        #[test]
        fn decoding_any_text_never_panics(text in "\\PC{0,20}|[%0-9a-fA-FzZ ]{0,20}") {
            if let Ok(decoded) = decode(&text) {
                // A decoded id encodes to an id that decodes the same.
                let again = encode(&decoded);
                prop_assert_eq!(decode(&again).unwrap(), decoded.as_ref());
            }
        }
    }
}
