//! The IMAP SEARCH argument parser (search keys, charsets, RETURN options, nesting
//! limits): arbitrary arguments after `SEARCH` / `UID SEARCH` never panic, and an
//! accepted command parses the same when fed again.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailroom_proto::imap::parse_wire;

fuzz_target!(|data: &[u8]| {
    let (uid, args) = match data.split_first() {
        Some((b, rest)) => (b & 1 == 1, rest),
        None => (false, data),
    };
    let mut line = Vec::with_capacity(args.len() + 16);
    line.extend_from_slice(if uid { b"a UID SEARCH " } else { b"a SEARCH " });
    line.extend_from_slice(args);
    line.extend_from_slice(b"\r\n");
    let first = parse_wire(&line);
    let again = parse_wire(&line);
    assert_eq!(format!("{first:?}"), format!("{again:?}"));
});
