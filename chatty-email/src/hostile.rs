//! Property tests: hostile input to the inbound mapping. Arbitrary bytes, and real mails
//! truncated, overwritten, with broken boundaries, bad encodings and charsets, huge headers,
//! bad dates and addresses, or nested deep, never panic: each is a signal, a delivery report,
//! or a malformed mail with a reason (which the session turns into a `SystemError`).

use chatty_core::reexports::serde_json::json;
use chatty_core::{Body, File, Media, Message as ChattyMessage, Signal, SignalId, UserDefined};
use proptest::prelude::*;
use proptest::sample::Index;

use crate::config::PLATFORM;
use crate::inbound::dsn::tests::POSTFIX_DSN;
use crate::mapper::tests::CLIENT_MAIL;
use crate::mapper::{Inbound, Mapper, Threads};

fn mapper() -> Mapper {
    Mapper::new(PLATFORM, "bot@example.org").unwrap()
}

/// A mail of the corpus: its bytes, its Message-ID, and whether it is a plain message (which
/// stays a message whatever happens to its body, as long as its From line is intact).
struct Sample {
    raw: Vec<u8>,
    id: SignalId,
    plain: bool,
}

/// Real mails: a mail client's, a bounce, and what the session itself writes (a rich
/// message, a file, a user-defined signal).
fn corpus() -> Vec<Sample> {
    let alice = Mapper::new(PLATFORM, "alice@example.org").unwrap();
    let to = |s: Signal| s.to("mailto:bot@example.org".parse().unwrap());
    let written = |signal: Signal, plain: bool| Sample {
        raw: alice.outbound(&signal, &Threads::default()).unwrap().bytes,
        id: signal.meta.id.clone(),
        plain,
    };
    let rich = ChattyMessage::text("rich ünïcode text")
        .with_subject("Grüße")
        .with_html("<p>hi<img src=\"cid:p\"></p>")
        .with_media(
            Media::new(File::bytes("p.png", Some("image/png"), &b"\x89PNG"[..])).with_id("p"),
        )
        .with_attachment(File::bytes("a.bin", None, &[0u8, 255, 10, 13][..]));
    vec![
        Sample {
            raw: CLIENT_MAIL.to_vec(),
            id: SignalId::from("client-1@example.org"),
            plain: true,
        },
        Sample {
            raw: POSTFIX_DSN.as_bytes().to_vec(),
            id: SignalId::from("20261125182942.5A4A598C23B@localhost"),
            plain: false,
        },
        written(to(Signal::new(rich)), true),
        written(
            to(Signal::new(File::bytes("f.txt", None, &b"file"[..]))),
            false,
        ),
        written(
            to(Signal::new(
                UserDefined::new("order", &json!({"tea": 2})).unwrap(),
            )),
            false,
        ),
    ]
}

/// What is done to a real mail.
#[derive(Debug, Clone)]
enum Mutation {
    /// Cut at a point.
    Truncate(Index),
    /// Bytes written over the mail at a point.
    Overwrite(Index, Vec<u8>),
    /// Every MIME boundary (parameter and delimiter lines) replaced.
    Boundary(String),
    /// Closing delimiters (`--b--`) removed.
    Unclosed,
    /// A huge header line, or very many header lines, before the rest.
    HugeHeaders { line: usize, lines: usize },
    /// Header values replaced (Date, To, Cc, Return-Path, Auto-Submitted, Content-Type, …).
    Header(&'static str, String),
    /// From replaced: the mail may lose its sender.
    From(String),
    /// Every Content-Transfer-Encoding and charset replaced.
    Encoding(String, String),
    /// The mail nested in multiparts, the innermost part the mail as `message/rfc822`.
    Nested(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let text = "[ -~\\t\\r\\n\\u{80}-\\u{10FFFF}]{0,60}";
    prop_oneof![
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), prop::collection::vec(any::<u8>(), 1..64))
            .prop_map(|(at, bytes)| Mutation::Overwrite(at, bytes)),
        "[ -~]{0,80}".prop_map(Mutation::Boundary),
        Just(Mutation::Unclosed),
        (0usize..200_000, 0usize..3_000)
            .prop_map(|(line, lines)| Mutation::HugeHeaders { line, lines }),
        (
            prop::sample::select(vec![
                "Date",
                "To",
                "Cc",
                "Message-ID",
                "In-Reply-To",
                "References",
                "Return-Path",
                "Auto-Submitted",
                "Content-Type",
                "Subject",
                "X-Chatty-Signal",
                "X-Chatty-Body",
            ]),
            text
        )
            .prop_map(|(name, value)| Mutation::Header(name, value)),
        text.prop_map(Mutation::From),
        ("[ -~]{0,20}", "[ -~]{0,20}").prop_map(|(cte, cs)| Mutation::Encoding(cte, cs)),
        (1usize..300).prop_map(Mutation::Nested),
    ]
}

/// Whether the mutation leaves the mail's From line and Message-ID as they were.
fn keeps_sender(mutation: &Mutation) -> bool {
    match mutation {
        Mutation::Boundary(_)
        | Mutation::Unclosed
        | Mutation::HugeHeaders { .. }
        | Mutation::Encoding(..) => true,
        // A value with a line break can end the header block before From.
        Mutation::Header(name, value) => {
            !matches!(*name, "Message-ID" | "X-Chatty-Signal" | "X-Chatty-Body")
                && !value.contains(['\r', '\n'])
        }
        Mutation::Truncate(_)
        | Mutation::Overwrite(..)
        | Mutation::From(_)
        | Mutation::Nested(_) => false,
    }
}

/// The header block's end (the blank line), or the end of the mail.
fn header_end(raw: &[u8]) -> usize {
    raw.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(raw.len(), |p| p + 2)
}

/// `raw` with the first header `name` (with its continuation lines) replaced by `value`.
fn replace_header(raw: &[u8], name: &str, value: &str) -> Vec<u8> {
    let end = header_end(raw);
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut out = String::new();
    let mut replaced = false;
    let mut skipping = false;
    for line in head.split_inclusive("\r\n") {
        if skipping && line.starts_with([' ', '\t']) {
            continue;
        }
        skipping = false;
        let is_it = line
            .split_once(':')
            .is_some_and(|(n, _)| n.eq_ignore_ascii_case(name));
        if is_it && !replaced {
            out.push_str(&format!("{name}: {value}\r\n"));
            replaced = true;
            skipping = true;
        } else {
            out.push_str(line);
        }
    }
    if !replaced {
        out.insert_str(0, &format!("{name}: {value}\r\n"));
    }
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&raw[end..]);
    bytes
}

/// The boundaries a mail declares.
fn boundaries(raw: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    text.match_indices("boundary=")
        .filter_map(|(i, _)| {
            let rest = &text[i + "boundary=".len()..];
            let rest = rest.strip_prefix('"').unwrap_or(rest);
            let end = rest.find(['"', ';', '\r', '\n']).unwrap_or(rest.len());
            Some(rest[..end].to_owned()).filter(|b| !b.is_empty())
        })
        .collect()
}

fn replace_all(raw: &[u8], from: &str, to: &str) -> Vec<u8> {
    String::from_utf8_lossy(raw).replace(from, to).into_bytes()
}

fn apply(raw: &[u8], mutation: &Mutation) -> Vec<u8> {
    match mutation {
        Mutation::Truncate(at) => raw[..at.index(raw.len() + 1)].to_vec(),
        Mutation::Overwrite(at, bytes) => {
            let mut out = raw.to_vec();
            let start = at.index(out.len() + 1);
            let end = (start + bytes.len()).min(out.len());
            out.splice(start..end, bytes.iter().copied());
            out
        }
        Mutation::Boundary(new) => boundaries(raw)
            .iter()
            .fold(raw.to_vec(), |out, b| replace_all(&out, b, new)),
        Mutation::Unclosed => boundaries(raw).iter().fold(raw.to_vec(), |out, b| {
            replace_all(&out, &format!("--{b}--"), "")
        }),
        Mutation::HugeHeaders { line, lines } => {
            let mut out = format!("X-Huge: {}\r\n", "a".repeat(*line)).into_bytes();
            for i in 0..*lines {
                out.extend_from_slice(format!("X-Many-{i}: {i}\r\n").as_bytes());
            }
            out.extend_from_slice(raw);
            out
        }
        Mutation::Header(name, value) => replace_header(raw, name, value),
        Mutation::From(value) => replace_header(raw, "From", value),
        Mutation::Encoding(cte, charset) => {
            let text = String::from_utf8_lossy(raw);
            let mut out = String::new();
            for line in text.split_inclusive("\r\n") {
                if line
                    .to_ascii_lowercase()
                    .starts_with("content-transfer-encoding:")
                {
                    out.push_str(&format!("Content-Transfer-Encoding: {cte}\r\n"));
                } else if let Some(i) = line.to_ascii_lowercase().find("charset=") {
                    out.push_str(&line[..i]);
                    out.push_str(&format!("charset={charset}\r\n"));
                } else {
                    out.push_str(line);
                }
            }
            out.into_bytes()
        }
        Mutation::Nested(depth) => {
            let mut out =
                b"From: outer@example.org\r\nMessage-ID: <outer@example.org>\r\n".to_vec();
            for level in 0..*depth {
                out.extend_from_slice(
                    format!(
                        "Content-Type: multipart/mixed; boundary=\"n{level}\"\r\n\r\n--n{level}\r\n"
                    )
                    .as_bytes(),
                );
            }
            out.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
            out.extend_from_slice(raw);
            for level in (0..*depth).rev() {
                out.extend_from_slice(format!("\r\n--n{level}--\r\n").as_bytes());
            }
            out
        }
    }
}

/// What every inbound mail must give: a signal a bot can take, a report, or a reason.
fn check_any(got: &Inbound) -> Result<(), TestCaseError> {
    match got {
        Inbound::Signal(signal) => prop_assert!(matches!(
            signal.body,
            Body::Message(_) | Body::File(_) | Body::UserDefined(_)
        )),
        Inbound::Report(report, _) => prop_assert!(!report.message.is_empty()),
        Inbound::Malformed(reason) => prop_assert!(!reason.trim().is_empty()),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_are_a_signal_or_a_reason(raw in prop::collection::vec(any::<u8>(), 0..4096)) {
        let (got, _) = mapper().inbound(&raw);
        check_any(&got)?;
    }

    #[test]
    fn arbitrary_text_with_headers_is_a_signal_or_a_reason(
        head in "([A-Za-z-]{1,12}:[ -~]{0,40}\r\n){0,8}",
        body in "[ -~\r\n\u{80}-\u{10FFFF}]{0,400}",
    ) {
        let raw = format!("{head}\r\n{body}");
        let (got, _) = mapper().inbound(raw.as_bytes());
        check_any(&got)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn mutated_real_mails_are_a_signal_or_a_reason(
        which in any::<Index>(),
        mutation in mutation(),
    ) {
        let corpus = corpus();
        let sample = which.get(&corpus);
        let raw = apply(&sample.raw, &mutation);
        let (got, _) = mapper().inbound(&raw);
        check_any(&got)?;
        if sample.plain && keeps_sender(&mutation) {
            // A person's mail with its sender intact stays their message, whatever happened
            // to the rest.
            let Inbound::Signal(signal) = &got else {
                return Err(TestCaseError::fail(format!("{got:?}")));
            };
            prop_assert_eq!(&signal.meta.id, &sample.id);
            prop_assert!(matches!(signal.body, Body::Message(_)));
        }
        if let Mutation::Nested(_) = mutation {
            let Inbound::Signal(signal) = &got else {
                return Err(TestCaseError::fail(format!("{got:?}")));
            };
            prop_assert_eq!(signal.meta.id.as_str(), "outer@example.org");
        }
    }

    #[test]
    fn delivery_status_text_of_any_shape_is_read_without_panic(
        text in "([A-Za-z-]{0,20}:?[ -~\t]{0,40}(\r\n|\n|\r\n\r\n)){0,20}",
    ) {
        let raw = POSTFIX_DSN.replace(
            "Reporting-MTA: dns; localhost\r\nArrival-Date: Wed, 25 Nov 2026 18:29:42 +0000 (UTC)\r\n",
            &text,
        );
        let (got, _) = mapper().inbound(raw.as_bytes());
        check_any(&got)?;
        let groups = crate::inbound::dsn::dsn_groups(&text);
        prop_assert!(groups.iter().all(|g| !g.is_empty()));
    }
}

#[test]
fn each_mutation_is_applied() {
    // The mutations change what they say they change, so that the properties above test
    // something.
    let raw = CLIENT_MAIL;
    assert_ne!(apply(raw, &Mutation::Boundary("x".into())), raw);
    assert!(boundaries(raw).len() == 3);
    assert_ne!(apply(raw, &Mutation::Unclosed), raw);
    let nested = apply(raw, &Mutation::Nested(2));
    assert!(String::from_utf8_lossy(&nested).contains("--n1--"));
    let dated = apply(raw, &Mutation::Header("Date", "yesterday".into()));
    assert!(String::from_utf8_lossy(&dated).starts_with("Date: yesterday\r\n"));
    let from = apply(raw, &Mutation::From("nobody".into()));
    assert!(String::from_utf8_lossy(&from).contains("From: nobody\r\nTo:"));
    let encoded = apply(raw, &Mutation::Encoding("x-bad".into(), "bogus".into()));
    let encoded = String::from_utf8_lossy(&encoded);
    assert!(encoded.contains("Content-Transfer-Encoding: x-bad\r\n"));
    assert!(encoded.contains("charset=bogus\r\n") && !encoded.contains("iso-8859-1"));
    assert!(matches!(
        mapper().inbound(&from).0,
        Inbound::Malformed(reason) if reason.contains("From")
    ));
}
