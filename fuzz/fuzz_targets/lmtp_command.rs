//! LMTP command lines: parsing never panics, and an accepted command's Display-free
//! fields stay within the input.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mailroom_proto::lmtp::parse_command(data);
});
