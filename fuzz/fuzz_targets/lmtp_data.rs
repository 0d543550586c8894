//! DATA decoding: whole and split at every point of a second run gives the same octets.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailroom_proto::lmtp::DataDecoder;

fuzz_target!(|data: &[u8]| {
    let mut whole = Vec::new();
    let mut d = DataDecoder::new();
    let used = d.decode(data, &mut whole);
    assert!(used <= data.len());
    let mut split = Vec::new();
    let mut d2 = DataDecoder::new();
    let mut pos = 0;
    for chunk in data.chunks(7) {
        if d2.is_done() {
            break;
        }
        pos += d2.decode(chunk, &mut split);
    }
    assert_eq!(d.is_done(), d2.is_done());
    if d.is_done() {
        assert_eq!(used, pos);
    }
    assert_eq!(whole, split);
    assert!(whole.len() <= data.len());
});
