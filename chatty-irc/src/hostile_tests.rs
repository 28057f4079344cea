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
