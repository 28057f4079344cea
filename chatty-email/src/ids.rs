//! Signal ids on the wire: a signal id as a `Message-ID` and back; the id of a mail without
//! one.

use chatty_core::SignalId;
use rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256;

/// The domain given to signal ids that are not mail ids (`<id@chatty.invalid>` on the wire;
/// the suffix is taken off again on the way in, so the id is kept end to end).
pub const ID_DOMAIN: &str = "chatty.invalid";

/// Characters kept as they are in the id part of a Message-ID (RFC 5322 `atext` and `.`,
/// without `=`, which escapes the rest).
fn id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/?^_`{|}~.".contains(c)
}

/// A signal id as a Message-ID (without the angle brackets): a mail id (`left@right`) as it
/// is; anything else escaped (`=XX` per byte) with `@chatty.invalid` added.
pub fn wire_id(id: &SignalId) -> String {
    let text = id.as_str();
    // Every `atext` character, `=` included, may stay in an id kept as it is: only ids that end
    // in `@chatty.invalid` are unescaped on the way in.
    let atext = |c: char| id_char(c) || c == '=';
    if let Some((left, right)) = text.split_once('@')
        && !left.is_empty()
        && !right.is_empty()
        && left.chars().all(atext)
        && right.chars().all(atext)
        && !left.starts_with('.')
        && !right.ends_with(ID_DOMAIN)
    {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + ID_DOMAIN.len() + 1);
    for c in text.chars() {
        if id_char(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("={byte:02X}"));
            }
        }
    }
    out.push('@');
    out.push_str(ID_DOMAIN);
    out
}

/// A Message-ID (without angle brackets) as a signal id: the inverse of [`wire_id`].
pub fn signal_id(wire: &str) -> SignalId {
    let wire = wire.trim().trim_start_matches('<').trim_end_matches('>');
    let Some(escaped) = wire
        .strip_suffix(ID_DOMAIN)
        .and_then(|w| w.strip_suffix('@'))
    else {
        return SignalId::from(wire);
    };
    let mut bytes = Vec::with_capacity(escaped.len());
    let raw = escaped.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'='
            && i + 2 < raw.len()
            && let Ok(hex) = std::str::from_utf8(&raw[i + 1..i + 3])
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            bytes.push(byte);
            i += 3;
        } else {
            bytes.push(raw[i]);
            i += 1;
        }
    }
    match String::from_utf8(bytes) {
        Ok(id) if !id.is_empty() => SignalId::from(id),
        _ => SignalId::from(wire),
    }
}

/// The id of a mail without a `Message-ID`: `mail-sha256-` and the first 128 bits of the
/// SHA-256 of its bytes, in hex. The same mail read again (after a restart, over another
/// connection, after its folder's UIDVALIDITY changed) gets the same id, so that the journal
/// knows it again; two deliveries of one text differ in their trace fields (`Received:`,
/// `Delivered-To:`), so they get two ids.
pub(crate) fn raw_id(raw: &[u8]) -> SignalId {
    // SHA-256 of the TLS stack linked already (rustls with ring): no other dependency.
    let Some(suite) = TLS13_AES_128_GCM_SHA256.tls13() else {
        // A TLS 1.3 suite always is one.
        return SignalId::generate();
    };
    let digest = suite.common.hash_provider.hash(raw);
    let mut id = String::from("mail-sha256-");
    for byte in digest.as_ref().iter().take(16) {
        id.push_str(&format!("{byte:02x}"));
    }
    SignalId::from(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_survive_the_wire() {
        for id in [
            "0123456789abcdef-0000000000000001",
            "abc@example.org",
            "C123/1700000000.000100",
            "with space and ünïcode",
            "a=b@chatty.invalid",
            "x@y@z",
            "CAF=abc+1@mail.example.com",
        ] {
            let wire = wire_id(&SignalId::from(id));
            assert!(
                wire.chars().all(|c| id_char(c) || c == '=' || c == '@'),
                "{wire}"
            );
            assert_eq!(signal_id(&wire).as_str(), id, "{wire}");
            assert_eq!(signal_id(&format!("<{wire}>")).as_str(), id, "{wire}");
        }
    }

    #[test]
    fn a_mail_without_message_id_gets_the_id_of_its_bytes() {
        let one = raw_id(b"From: a@example.org\r\n\r\nhello\r\n");
        assert_eq!(one, raw_id(b"From: a@example.org\r\n\r\nhello\r\n"));
        assert_ne!(one, raw_id(b"From: a@example.org\r\n\r\nhello!\r\n"));
        // SHA-256 of the empty string: e3b0c442 98fc1c14 9afbf4c8 996fb924 ...
        assert_eq!(
            raw_id(b"").as_str(),
            "mail-sha256-e3b0c44298fc1c149afbf4c8996fb924"
        );
        // Kept as it is on the wire and back (an answer's In-Reply-To names it).
        assert_eq!(signal_id(&wire_id(&one)), one);
    }
}
