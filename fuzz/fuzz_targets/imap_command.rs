//! One IMAP command line (with inline literals) parsed directly, with the IMAP4rev1
//! grammar and with the UTF-8 grammar of a session that enabled UTF8=ACCEPT.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailroom_proto::imap::{parse_command_with, ParseOptions, RawCommand};

fuzz_target!(|data: &[u8]| {
    let _ = mailroom_proto::imap::parse_wire(data);
    let raw = RawCommand::from_bytes(data.to_vec());
    let _ = parse_command_with(
        &raw,
        ParseOptions {
            utf8: true,
            utf8_append: true,
        },
    );
});
