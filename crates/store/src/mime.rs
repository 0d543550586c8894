//! The parsed structure of a message, computed once when the message is indexed and kept
//! in the index, so FETCH ENVELOPE/BODYSTRUCTURE/BODY[section] and header SEARCH never
//! re-parse or re-read whole files.
//!
//! All offsets and sizes are in the CRLF form of the message (what clients see).
//!
//! The index keeps it in the compact binary form of [`MessageStructure::to_bytes`], read
//! back with [`MessageStructure::from_stored`] (which also reads the older JSON form).

use serde::{Deserialize, Serialize};

/// Everything the IMAP module needs to know about a message without reading it again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageStructure {
    pub envelope: Envelope,
    pub body: BodyStructure,
    /// The whole header block of the top-level message, CRLF form, ending with the empty
    /// line if there is one (for SEARCH HEADER/FROM/SUBJECT... and BODY[HEADER]).
    pub header: Vec<u8>,
    /// The `Date:` header as seconds since the epoch (SENTBEFORE/SENTON/SENTSINCE).
    pub sent_date: Option<i64>,
}

/// RFC 3501 ENVELOPE, fields as raw header values (unfolded, encoded-words kept raw).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub date: Option<String>,
    pub subject: Option<String>,
    pub from: Vec<Address>,
    pub sender: Vec<Address>,
    pub reply_to: Vec<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub bcc: Vec<Address>,
    pub in_reply_to: Option<String>,
    pub message_id: Option<String>,
}

/// One address of an envelope list. A group is written as a start marker
/// (`mailbox = Some(group name)`, `host = None`) and an end marker (all `None`), as in
/// RFC 3501 7.4.2.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub name: Option<String>,
    pub adl: Option<String>,
    pub mailbox: Option<String>,
    pub host: Option<String>,
}

/// One MIME part (RFC 3501 7.4.2 BODYSTRUCTURE), with where it lies in the message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BodyStructure {
    /// Lower-case media type and subtype (`text`, `plain`).
    pub media_type: String,
    pub media_subtype: String,
    /// Content-Type parameters, names lower-case, values as given (unquoted).
    pub params: Vec<(String, String)>,
    pub id: Option<String>,
    pub description: Option<String>,
    /// Content-Transfer-Encoding, as given (default `7BIT`).
    pub encoding: String,
    pub md5: Option<String>,
    /// Content-Disposition type and parameters.
    pub disposition: Option<(String, Vec<(String, String)>)>,
    pub language: Vec<String>,
    pub location: Option<String>,
    /// Offset of the part's header block, of its body, and of the end of its body.
    pub header_offset: u64,
    pub body_offset: u64,
    pub end_offset: u64,
    /// Lines in the body (text/* and message/rfc822).
    pub lines: u64,
    /// Sub-parts of a multipart; for message/rfc822 exactly one: the encapsulated
    /// message's body.
    pub parts: Vec<BodyStructure>,
    /// For message/rfc822: the encapsulated message's envelope.
    pub message_envelope: Option<Box<Envelope>>,
}

impl BodyStructure {
    /// Size of the body in octets (RFC 3501 `body-fld-octets`).
    pub fn body_size(&self) -> u64 {
        self.end_offset.saturating_sub(self.body_offset)
    }
}

mod codec;
mod parse;
pub use codec::{StructureDecodeError, MAX_STORED_DEPTH};
pub use parse::{count_bare_lf, parse_addresses, to_crlf, MAX_DEPTH, MAX_PARTS, MISSING_HOST};
