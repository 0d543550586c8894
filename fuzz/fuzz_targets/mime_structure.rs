//! The MIME structure parser run at index time: any message (converted to CRLF as the
//! store does) parses without panic, every part's offsets lie inside the message, and
//! the stored binary form reads back to the same structure.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailroom_store::mime::to_crlf;
use mailroom_store::{BodyStructure, MessageStructure};

fn check(part: &BodyStructure, len: u64, depth: usize) {
    assert!(depth < 10_000);
    assert!(part.header_offset <= part.body_offset, "header after body");
    assert!(part.body_offset <= part.end_offset, "body ends before it starts");
    assert!(part.end_offset <= len, "body past the end");
    for p in &part.parts {
        assert!(p.header_offset >= part.body_offset, "sub-part before its parent's body");
        assert!(p.end_offset <= part.end_offset, "sub-part past its parent's end");
        check(p, len, depth + 1);
    }
}

fuzz_target!(|data: &[u8]| {
    let msg = to_crlf(data);
    let s = MessageStructure::parse(&msg);
    check(&s.body, msg.len() as u64, 0);
    assert!(s.header.len() <= msg.len());
    let stored = s.to_bytes();
    let back = MessageStructure::from_stored(&stored).expect("own encoding reads back");
    assert_eq!(back, s);
});
