//! FETCH data items (RFC 3501 6.4.5, 7.4.2): rendering of one message's FETCH response.
//!
//! What lives here: [`fetch_data`], which writes the parenthesised list of one message's
//! data items, reading only what the items need (metadata alone for FLAGS/UID/...; the
//! structure parsed at index time for ENVELOPE/BODYSTRUCTURE/HEADER; the message's
//! octets only for body sections). ENVELOPE and BODYSTRUCTURE syntax is in
//! [`structure`]; header field selection in [`header`]. What does not: setting `\Seen`,
//! UID resolution, sequence numbers, the `* n FETCH` framing (the session's FETCH
//! command does those).

mod header;
mod structure;

use mailroom_proto::imap::command::{FetchAttribute, Section, SectionText};
use mailroom_proto::imap::encode;
use mailroom_proto::imap::DateTime;
use mailroom_store::{
    Account, BodyStructure, MailboxId, MessageContent, MessageMeta, MessageStructure, StoreError,
};
use std::fmt::Write as _;
use std::sync::Arc;

pub(crate) use header::{header_field_values, select_fields};
pub(crate) use structure::is_message;

/// One message as FETCH and SEARCH see it in a session's view of a mailbox.
#[derive(Clone, Copy, Debug)]
pub struct MsgRef<'a> {
    /// Its message sequence number in the session's view.
    pub seq: u32,
    /// Its metadata (flags as they are now, after any `\Seen` the FETCH itself set).
    pub meta: &'a MessageMeta,
    /// `\Recent` for this session.
    pub recent: bool,
}

/// True when fetching `attrs` sets `\Seen` (RFC 3501 6.4.5: `BODY[...]` without `.PEEK`,
/// `RFC822`, `RFC822.TEXT`).
pub fn sets_seen(attrs: &[FetchAttribute]) -> bool {
    attrs.iter().any(|a| {
        matches!(
            a,
            FetchAttribute::Rfc822
                | FetchAttribute::Rfc822Text
                | FetchAttribute::BodySection { peek: false, .. }
        )
    })
}

/// Reads above this size go through `spawn_blocking` (the content handle is blocking).
const INLINE_READ: u64 = 64 * 1024;

/// Reads `start..end` of a message's CRLF form.
pub(crate) async fn read_range(
    content: &Arc<dyn MessageContent>,
    start: u64,
    end: u64,
) -> Result<Vec<u8>, StoreError> {
    let len = end.saturating_sub(start);
    if len == 0 {
        return Ok(Vec::new());
    }
    if len <= INLINE_READ {
        return Ok(content.read_range(start, len)?);
    }
    let c = Arc::clone(content);
    tokio::task::spawn_blocking(move || c.read_range(start, len))
        .await
        .map_err(|e| StoreError::Io(std::io::Error::other(e)))?
        .map_err(StoreError::Io)
}

/// The structure and content of one message, each loaded on first use.
struct Loader<'a> {
    account: &'a Arc<dyn Account>,
    mailbox: MailboxId,
    uid: u32,
    structure: Option<Arc<MessageStructure>>,
    content: Option<Arc<dyn MessageContent>>,
}

impl Loader<'_> {
    async fn structure(&mut self) -> Result<Arc<MessageStructure>, StoreError> {
        if let Some(s) = &self.structure {
            return Ok(Arc::clone(s));
        }
        let s = self.account.structure(self.mailbox, self.uid).await?;
        self.structure = Some(Arc::clone(&s));
        Ok(s)
    }

    async fn content(&mut self) -> Result<Arc<dyn MessageContent>, StoreError> {
        if let Some(c) = &self.content {
            return Ok(Arc::clone(c));
        }
        let c = self.account.open_message(self.mailbox, self.uid).await?;
        self.content = Some(Arc::clone(&c));
        Ok(c)
    }

    async fn range(&mut self, start: u64, end: u64) -> Result<Vec<u8>, StoreError> {
        if start >= end {
            return Ok(Vec::new());
        }
        let c = self.content().await?;
        read_range(&c, start, end).await
    }
}

/// What a section is: a range of the message's octets, or octets built from them.
enum SectionData {
    Range(u64, u64),
    Bytes(Vec<u8>),
}

/// Finds the part a section's part path names (RFC 3501 6.4.5): part numbers index the
/// parts of a multipart; part 1 of a non-multipart message (top level or encapsulated)
/// is its body; a message/rfc822 part's numbers index the encapsulated message's body.
pub(crate) fn resolve_part<'s>(root: &'s BodyStructure, path: &[u32]) -> Option<&'s BodyStructure> {
    let mut cur = root;
    // Whether `cur` is the body of a message (the top level or an encapsulated one).
    let mut message_body = true;
    for &n in path {
        let body = if message_body {
            cur
        } else if is_message(cur) {
            cur.parts.first()?
        } else {
            cur
        };
        let is_body_of_message = message_body || is_message(cur);
        let index = usize::try_from(n).ok()?.checked_sub(1)?;
        cur = if body.media_type.eq_ignore_ascii_case("multipart") && !body.parts.is_empty() {
            body.parts.get(index)?
        } else if index == 0 && is_body_of_message {
            body
        } else {
            return None;
        };
        message_body = false;
    }
    Some(cur)
}

async fn section_data(
    loader: &mut Loader<'_>,
    section: &Section,
) -> Result<SectionData, StoreError> {
    let s = loader.structure().await?;
    let path: Vec<u32> = section.part.iter().map(|n| n.get()).collect();
    if path.is_empty() {
        return Ok(match &section.text {
            None => {
                let size = loader.content().await?.size();
                SectionData::Range(0, size)
            }
            Some(SectionText::Header) | Some(SectionText::Mime) => {
                SectionData::Bytes(s.header.clone())
            }
            Some(SectionText::HeaderFields(names)) => {
                SectionData::Bytes(select_fields(&s.header, names, false))
            }
            Some(SectionText::HeaderFieldsNot(names)) => {
                SectionData::Bytes(select_fields(&s.header, names, true))
            }
            Some(SectionText::Text) => SectionData::Range(s.body.body_offset, s.body.end_offset),
        });
    }
    let Some(part) = resolve_part(&s.body, &path) else {
        return Ok(SectionData::Bytes(Vec::new()));
    };
    let inner = is_message(part).then(|| part.parts.first()).flatten();
    Ok(match (&section.text, inner) {
        (None, _) => SectionData::Range(part.body_offset, part.end_offset),
        (Some(SectionText::Mime), _) => SectionData::Range(part.header_offset, part.body_offset),
        (Some(SectionText::Header), Some(m)) => SectionData::Range(m.header_offset, m.body_offset),
        (Some(SectionText::HeaderFields(names)), Some(m)) => {
            let h = loader.range(m.header_offset, m.body_offset).await?;
            SectionData::Bytes(select_fields(&h, names, false))
        }
        (Some(SectionText::HeaderFieldsNot(names)), Some(m)) => {
            let h = loader.range(m.header_offset, m.body_offset).await?;
            SectionData::Bytes(select_fields(&h, names, true))
        }
        (Some(SectionText::Text), Some(m)) => SectionData::Range(m.body_offset, m.end_offset),
        // HEADER/TEXT of a part that is not a message: nothing.
        (Some(_), None) => SectionData::Bytes(Vec::new()),
    })
}

/// `section-spec` as it is echoed in the response name: `1.2.HEADER.FIELDS (A B)`.
fn section_name(out: &mut Vec<u8>, section: &Section) {
    let mut s = String::new();
    for (i, n) in section.part.iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        let _ = write!(s, "{n}");
    }
    out.extend_from_slice(s.as_bytes());
    if let Some(text) = &section.text {
        if !section.part.is_empty() {
            out.push(b'.');
        }
        let (kw, names): (&[u8], Option<&Vec<String>>) = match text {
            SectionText::Header => (b"HEADER", None),
            SectionText::HeaderFields(n) => (b"HEADER.FIELDS", Some(n)),
            SectionText::HeaderFieldsNot(n) => (b"HEADER.FIELDS.NOT", Some(n)),
            SectionText::Text => (b"TEXT", None),
            SectionText::Mime => (b"MIME", None),
        };
        out.extend_from_slice(kw);
        if let Some(names) = names {
            out.extend_from_slice(b" (");
            for (i, n) in names.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                encode::astring(out, n.as_bytes());
            }
            out.push(b')');
        }
    }
}

/// `date-time` of the internal date, in the zone it was given in.
fn internal_date(out: &mut Vec<u8>, meta: &MessageMeta) {
    let zone = i16::try_from(meta.internal_date_tz).unwrap_or(0);
    match DateTime::from_unix(meta.internal_date, zone).or_else(|| DateTime::from_unix(0, 0)) {
        Some(dt) => encode::date_time(out, &dt),
        None => out.extend_from_slice(b"\" 1-Jan-1970 00:00:00 +0000\""),
    }
}

fn flags(out: &mut Vec<u8>, msg: &MsgRef<'_>) {
    out.push(b'(');
    let mut first = true;
    let mut put = |out: &mut Vec<u8>, f: &str| {
        if !first {
            out.push(b' ');
        }
        first = false;
        out.extend_from_slice(f.as_bytes());
    };
    for f in msg.meta.flags.names() {
        put(out, f);
    }
    for k in &msg.meta.keywords {
        put(out, k);
    }
    if msg.recent {
        put(out, "\\Recent");
    }
    out.push(b')');
}

/// Appends the parenthesised data of one FETCH response, `(UID 4 FLAGS (\Seen) ...)`,
/// to `out`: the items in the order of `attrs`, without the `* n FETCH ` prefix and
/// without CRLF.
///
/// ```text
/// msg-att = "(" (msg-att-dynamic / msg-att-static) *(SP (msg-att-dynamic / msg-att-static)) ")"
/// msg-att-static = "ENVELOPE" SP envelope / "INTERNALDATE" SP date-time /
///                  "RFC822" [".HEADER" / ".TEXT"] SP nstring / "RFC822.SIZE" SP number /
///                  "BODY" ["STRUCTURE"] SP body /
///                  "BODY" section ["<" number ">"] SP nstring / "UID" SP uniqueid
/// ```
pub async fn fetch_data(
    account: &Arc<dyn Account>,
    mailbox: MailboxId,
    msg: MsgRef<'_>,
    attrs: &[FetchAttribute],
    out: &mut Vec<u8>,
) -> Result<(), StoreError> {
    let mut loader = Loader {
        account,
        mailbox,
        uid: msg.meta.uid,
        structure: None,
        content: None,
    };
    // Render into a scratch buffer so that a failure leaves `out` untouched.
    let mut buf = Vec::with_capacity(64);
    buf.push(b'(');
    for (i, attr) in attrs.iter().enumerate() {
        if i > 0 {
            buf.push(b' ');
        }
        match attr {
            FetchAttribute::Flags => {
                buf.extend_from_slice(b"FLAGS ");
                flags(&mut buf, &msg);
            }
            FetchAttribute::Uid => {
                let _ = write!(Adapter(&mut buf), "UID {}", msg.meta.uid);
            }
            FetchAttribute::Rfc822Size => {
                let _ = write!(Adapter(&mut buf), "RFC822.SIZE {}", msg.meta.size);
            }
            FetchAttribute::ModSeq => {
                let _ = write!(Adapter(&mut buf), "MODSEQ ({})", msg.meta.modseq);
            }
            FetchAttribute::InternalDate => {
                buf.extend_from_slice(b"INTERNALDATE ");
                internal_date(&mut buf, msg.meta);
            }
            FetchAttribute::Envelope => {
                let s = loader.structure().await?;
                buf.extend_from_slice(b"ENVELOPE ");
                structure::envelope(&mut buf, &s.envelope);
            }
            FetchAttribute::Body => {
                let s = loader.structure().await?;
                buf.extend_from_slice(b"BODY ");
                structure::body(&mut buf, &s.body, false);
            }
            FetchAttribute::BodyStructure => {
                let s = loader.structure().await?;
                buf.extend_from_slice(b"BODYSTRUCTURE ");
                structure::body(&mut buf, &s.body, true);
            }
            FetchAttribute::Rfc822 => {
                let size = loader.content().await?.size();
                let data = loader.range(0, size).await?;
                buf.extend_from_slice(b"RFC822 ");
                encode::string(&mut buf, &data);
            }
            FetchAttribute::Rfc822Header => {
                let s = loader.structure().await?;
                buf.extend_from_slice(b"RFC822.HEADER ");
                encode::string(&mut buf, &s.header);
            }
            FetchAttribute::Rfc822Text => {
                let s = loader.structure().await?;
                let data = loader.range(s.body.body_offset, s.body.end_offset).await?;
                buf.extend_from_slice(b"RFC822.TEXT ");
                encode::string(&mut buf, &data);
            }
            FetchAttribute::BodySection {
                section, partial, ..
            } => {
                let data = section_data(&mut loader, section).await?;
                buf.extend_from_slice(b"BODY[");
                section_name(&mut buf, section);
                buf.push(b']');
                let bytes = match (data, partial) {
                    (SectionData::Range(s, e), None) => loader.range(s, e).await?,
                    (SectionData::Range(s, e), Some((origin, len))) => {
                        let from = s.saturating_add(u64::from(*origin)).min(e);
                        let to = from.saturating_add(u64::from(len.get())).min(e);
                        loader.range(from, to).await?
                    }
                    (SectionData::Bytes(b), None) => b,
                    (SectionData::Bytes(b), Some((origin, len))) => {
                        let from = usize::try_from(*origin).unwrap_or(usize::MAX).min(b.len());
                        let to = from
                            .saturating_add(usize::try_from(len.get()).unwrap_or(usize::MAX))
                            .min(b.len());
                        b[from..to].to_vec()
                    }
                };
                if let Some((origin, _)) = partial {
                    let _ = write!(Adapter(&mut buf), "<{origin}>");
                }
                buf.push(b' ');
                encode::string(&mut buf, &bytes);
            }
        }
    }
    buf.push(b')');
    out.extend_from_slice(&buf);
    Ok(())
}

/// `fmt::Write` into a byte vector.
struct Adapter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Adapter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}
