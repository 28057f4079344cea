//! Hostile input: whatever bytes a server sends, the codec never panics, reports each bad line
//! on its own, and reads the good line after it.

use bytes::BytesMut;
use proptest::prelude::*;
use tokio_util::codec::Decoder;

use crate::proto::{IrcCodec, Line};

/// Decodes `input` fed in pieces of `piece` bytes, then at end of input.
fn decode(input: &[u8], piece: usize) -> Vec<Result<Line, crate::proto::LineError>> {
    let mut codec = IrcCodec::default();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in input.chunks(piece.max(1)) {
        buf.extend_from_slice(chunk);
        while let Some(item) = codec.decode(&mut buf).expect("decoding never fails") {
            out.push(item);
        }
    }
    while let Some(item) = codec.decode_eof(&mut buf).expect("decoding never fails") {
        out.push(item);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_bytes_then_a_good_line(garbage in proptest::collection::vec(any::<u8>(), 0..2000), piece in 1usize..700) {
        let mut input = garbage;
        input.extend_from_slice(b"\r\n:alice!a@h PRIVMSG #chat :still here\r\n");
        let out = decode(&input, piece);
        let last = out.last().expect("the good line is read");
        let last = last.as_ref().expect("the good line parses");
        prop_assert_eq!(last.command.as_str(), "PRIVMSG");
        prop_assert_eq!(last.params[1].as_str(), "still here");
    }

    #[test]
    fn any_text_parses_or_errs_and_formats_back(text in "\\PC{0,300}") {
        if let Ok(line) = text.parse::<Line>() {
            // What parsed formats, and reads back the same (tags and spacing normalized).
            if let Ok(formatted) = line.format() {
                let again: Line = formatted.parse().expect("a formatted line parses");
                prop_assert_eq!(again, line);
            }
        }
    }

    #[test]
    fn tag_values_round_trip(value in "\\PC{0,100}") {
        let line = Line::new("TAGMSG", ["#a"]).with_tag("+x", Some(&value));
        let again: Line = line.format().unwrap().parse().unwrap();
        let expected = Some(value.as_str()).filter(|v| !v.is_empty());
        prop_assert_eq!(again.tag("+x"), expected);
    }
}

#[test]
fn each_bad_line_is_its_own_error() {
    let mut input = Vec::new();
    input.extend_from_slice(b"PING a\r\n");
    // Read as Latin-1 (not UTF-8): `ÿþ` is no command.
    input.extend_from_slice(b"\xff\xfe not utf-8\r\n");
    input.extend_from_slice(b"@only-tags\r\n");
    input.extend_from_slice(b":src\r\n");
    input.extend_from_slice(b"BAD-CMD x\r\n");
    input.extend_from_slice(format!("PRIVMSG #a :{}\r\n", "x".repeat(600)).as_bytes());
    input.extend_from_slice(b"PING b\r\n");
    let out = decode(&input, 7);
    assert_eq!(out.len(), 7, "{out:?}");
    assert!(out[0].is_ok());
    assert!(out[1..6].iter().all(Result::is_err));
    assert_eq!(out[6].as_ref().unwrap().params, ["b"]);
}

mod mapping {
    //! Whatever lines a server sends, the inbound mapping never panics.

    use proptest::prelude::*;

    use crate::config::IrcConfig;
    use crate::inbound::handle;
    use crate::proto::{Line, Source};
    use crate::state::Shared;

    fn command() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("PRIVMSG"),
            Just("NOTICE"),
            Just("TAGMSG"),
            Just("JOIN"),
            Just("PART"),
            Just("KICK"),
            Just("QUIT"),
            Just("NICK"),
            Just("BATCH"),
            Just("PING"),
            Just("ERROR"),
            Just("005"),
            Just("353"),
            Just("396"),
            Just("001"),
        ]
        .prop_map(str::to_owned)
    }

    fn word() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("bot".to_owned()),
            Just("#chat".to_owned()),
            Just("@#chat".to_owned()),
            Just("".to_owned()),
            Just("+h1".to_owned()),
            Just("-h1".to_owned()),
            "\\PC{0,20}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_line_maps_without_panicking(
            command in command(),
            params in proptest::collection::vec(word(), 0..6),
            nick in proptest::option::of(word()),
            user in proptest::option::of(word()),
            tags in proptest::collection::vec((prop_oneof![Just("msgid"), Just("time"), Just("label"), Just("batch"), Just("+typing")], "\\PC{0,30}"), 0..4),
        ) {
            let shared = Shared::new(IrcConfig::new("s", "bot"));
            let mut line = Line::new(&command, params);
            line.source = nick.map(|nick| Source { nick, user: user.clone(), host: user });
            for (key, value) in tags {
                line = line.with_tag(key, Some(&value));
            }
            // Twice: the first may change the state the second meets (joins, batches).
            let _ = handle(&shared, &line);
            let _ = handle(&shared, &line);
        }
    }
}
