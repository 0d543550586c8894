//! One IMAP command line (with inline literals) parsed directly.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mailroom_proto::imap::parse_wire(data);
});
