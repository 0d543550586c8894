//! Differential against imap-codec (the oracle of `crates/proto/tests/imap_oracle.rs`):
//! a command imap-codec builds from the input (`Arbitrary`), encodes, and reads back
//! whole must be accepted by our parser, unless it is one we refuse by design (the same
//! list as the oracle test); and on the raw input, when both parsers accept a command,
//! they agree on its tag.
#![no_main]
use arbitrary::{Arbitrary, Unstructured};
use imap_codec::decode::Decoder;
use imap_codec::encode::Encoder;
use imap_codec::imap_types::command::{Command as OCommand, CommandBody as OBody};
use imap_codec::CommandCodec;
use libfuzzer_sys::fuzz_target;
use mailroom_proto::imap::{parse_wire, Tag};

/// Commands outside our grammar (extensions we do not implement).
fn unsupported(body: &OBody<'_>) -> bool {
    matches!(
        body,
        OBody::Compress { .. }
    )
}

/// Refusals that are ours by design (stricter than imap-codec).
fn refused_by_design(msg: &str) -> bool {
    [
        "UTF-7",
        "not valid UTF-8",
        "too many ID fields",
        "unknown SELECT parameter",
        "VANISHED",
        "too many search keys",
        "nested too deep",
        "number out of range",
        "duplicate",
        "invalid header field name",
        // RFC 7162 3.2.5.2: known-uids and seq-match name messages, never `*`.
        "is not allowed in known UIDs",
        "mod-sequence-value must be positive",
        "too many sort criteria",
        // THREAD=REFS and other algorithms are not offered.
        "unknown threading algorithm",
    ]
    .iter()
    .any(|m| msg.contains(m))
}

fuzz_target!(|data: &[u8]| {
    // Raw input: both parsers, no panic; agreement on the tag when both accept.
    if let (Ok(ours), Ok((rest, theirs))) = (parse_wire(data), CommandCodec::default().decode(data)) {
        if rest.is_empty() {
            assert_eq!(ours.tag.as_str(), theirs.tag.inner());
        }
    }
    // Structured: what imap-codec writes and reads back, we read.
    let mut u = Unstructured::new(data);
    let Ok(cmd) = OCommand::arbitrary(&mut u) else {
        return;
    };
    if unsupported(&cmd.body) {
        return;
    }
    let wire = CommandCodec::default().encode(&cmd).dump();
    if !matches!(CommandCodec::default().decode(&wire), Ok((rest, _)) if rest.is_empty()) {
        return;
    }
    if let Err(e) = parse_wire(&wire) {
        // Tags are at most 64 octets here (imap-codec has no limit).
        let long_tag = e.message == "invalid tag" && cmd.tag.inner().len() > Tag::MAX_LEN;
        assert!(
            long_tag || refused_by_design(&e.message),
            "{:?}: {}",
            String::from_utf8_lossy(&wire),
            e.message
        );
    }
});
