//! The IMAP FETCH argument parser (sequence sets, macros, body sections with partial
//! ranges, header field lists, CHANGEDSINCE modifiers): arbitrary arguments after
//! `FETCH` / `UID FETCH` never panic, and an accepted command parses the same again.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailroom_proto::imap::parse_wire;

fuzz_target!(|data: &[u8]| {
    let (uid, args) = match data.split_first() {
        Some((b, rest)) => (b & 1 == 1, rest),
        None => (false, data),
    };
    let mut line = Vec::with_capacity(args.len() + 16);
    line.extend_from_slice(if uid { b"a UID FETCH " } else { b"a FETCH " });
    line.extend_from_slice(args);
    line.extend_from_slice(b"\r\n");
    let first = parse_wire(&line);
    let again = parse_wire(&line);
    assert_eq!(format!("{first:?}"), format!("{again:?}"));
});
