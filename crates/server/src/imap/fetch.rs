//! FETCH data items (RFC 3501 6.4.5, 7.4.2): rendering of one message's FETCH response.
//!
//! What lives here: [`prepare`], which renders the parenthesised list of one message's
//! data items into a [`FetchResponse`], reading only what the items need (metadata alone
//! for FLAGS/UID/RFC822.SIZE/...; the structure parsed at index time for
//! ENVELOPE/BODYSTRUCTURE/HEADER and part sections; the content's size only for `BODY[]`
//! and its partials), and [`FetchResponse::write`], the streaming path of body sections:
//! the literal header, then the range chunk by chunk from the content handle into the
//! connection's output buffer, flushed as it fills. A section is never held whole in
//! memory, and is always a literal, however short. ENVELOPE and BODYSTRUCTURE syntax is in
//! [`structure`]; header field selection in [`header`]. What does not: setting `\Seen`,
//! UID resolution, sequence numbers, the `* n FETCH` framing (the session's FETCH
//! command does those).

mod header;
mod preview;
mod structure;

use mailroom_proto::imap::command::{FetchAttribute, Section, SectionText};
use mailroom_proto::imap::encode;
use mailroom_proto::imap::DateTime;
use mailroom_store::{
    Account, BodyStructure, MailboxId, MessageContent, MessageObject, MessageRef, MessageStructure,
    StoreError,
};
use std::fmt::Write as _;
use std::num::NonZeroU32;
use std::sync::Arc;
use tokio::io::{AsyncWrite, AsyncWriteExt};

pub(crate) use header::{header_field_values, select_fields};
pub(crate) use structure::is_message;

/// One message as FETCH and SEARCH see it in a session's view of a mailbox.
#[derive(Clone, Copy, Debug)]
pub struct MsgRef<'a> {
    /// Its message sequence number in the session's view.
    pub seq: u32,
    /// Its metadata (flags as they are now, after any `\Seen` the FETCH itself set).
    pub meta: MessageRef<'a>,
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
                | FetchAttribute::Binary { peek: false, .. }
        )
    })
}

/// Reads `start..end` of a message's CRLF form into memory: for small ranges (header
/// blocks, SEARCH texts); senders stream ([`FetchResponse::write`]).
pub(crate) async fn read_range(
    content: &Arc<dyn MessageContent>,
    start: u64,
    end: u64,
) -> Result<Vec<u8>, StoreError> {
    Ok(content.read_range(start, end.saturating_sub(start)).await?)
}

/// The structure and content of one message, each loaded on first use.
struct Loader<'a> {
    account: &'a Arc<dyn Account>,
    mailbox: MailboxId,
    uid: u32,
    structure: Option<Arc<MessageStructure>>,
    content: Option<Arc<dyn MessageContent>>,
    object: Option<MessageObject>,
}

impl Loader<'_> {
    /// The message's object ids and save date (RFC 8474, RFC 8514). `NotFound` when it
    /// is gone.
    async fn object(&mut self) -> Result<&MessageObject, StoreError> {
        if self.object.is_none() {
            let o = self.account.objects(self.mailbox, &[self.uid]).await?;
            self.object = Some(
                o.into_iter()
                    .next()
                    .ok_or(StoreError::NotFound("message"))?,
            );
        }
        self.object.as_ref().ok_or(StoreError::NotFound("message"))
    }

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

    /// A small range in memory (`HEADER.FIELDS` of an encapsulated message).
    async fn range(&mut self, start: u64, end: u64) -> Result<Vec<u8>, StoreError> {
        if start >= end {
            return Ok(Vec::new());
        }
        let c = self.content().await?;
        read_range(&c, start, end).await
    }
}

/// One message's FETCH data, ready to send: the rendered text of every item, with the
/// literal headers (`{n}` CRLF) of the sections that are streamed, and for each of those
/// the range of the message's content that follows its header. Preparing does every
/// look-up that can fail (a message expunged meanwhile is `NotFound` here, before any
/// octet is written); writing streams the ranges chunk by chunk.
pub struct FetchResponse {
    text: Vec<u8>,
    /// Ascending positions in `text` where a range of `content` goes.
    splices: Vec<Splice>,
    content: Option<Arc<dyn MessageContent>>,
}

/// `content[start..end]` goes at `text[at]`.
struct Splice {
    at: usize,
    start: u64,
    end: u64,
}

impl FetchResponse {
    /// Octets of the whole response.
    pub fn len(&self) -> u64 {
        let spliced: u64 = self.splices.iter().map(|s| s.end - s.start).sum();
        self.text.len() as u64 + spliced
    }

    /// True for an empty response (never: there are always parentheses).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends the response to `out`, streaming each section's octets from the content
    /// handle straight into `out`, one chunk (at most [`mailroom_store::CONTENT_CHUNK`])
    /// at a time; whenever `out` holds `flush_at` octets or more it is written to `w` and
    /// cleared, so `out` never holds much more than `flush_at` plus one chunk.
    ///
    /// An error after a literal's header was written leaves the response cut short: the
    /// caller must close the connection.
    pub async fn write<W: AsyncWrite + Unpin>(
        self,
        out: &mut Vec<u8>,
        w: &mut W,
        flush_at: usize,
    ) -> std::io::Result<()> {
        let mut from = 0;
        for sp in &self.splices {
            out.extend_from_slice(&self.text[from..sp.at]);
            from = sp.at;
            let Some(content) = self.content.as_ref() else {
                return Err(std::io::Error::other("FETCH range without content"));
            };
            let mut offset = sp.start;
            while offset < sp.end {
                if out.len() >= flush_at {
                    w.write_all(out).await?;
                    w.flush().await?;
                    out.clear();
                }
                offset += content.append_chunk(offset, sp.end, out).await? as u64;
            }
        }
        out.extend_from_slice(&self.text[from..]);
        Ok(())
    }
}

/// Renders FETCH items into text, recording the ranges to stream.
struct Builder {
    text: Vec<u8>,
    splices: Vec<Splice>,
}

impl Builder {
    /// A section's value (`nstring`, never NIL here) for `content[start..end]`: always a
    /// literal, streamed. RFC 3501 7.4.2 allows a quoted string for short data, but
    /// clients read body data as literals (Perl Mail::IMAPClient's `bodypart_string`
    /// returns an empty part for a quoted one), and Dovecot and Cyrus always send
    /// literals: `BODY[...]` and `RFC822*` data are literals here, whatever their size.
    async fn range(
        &mut self,
        loader: &mut Loader<'_>,
        start: u64,
        end: u64,
    ) -> Result<(), StoreError> {
        let len = end.saturating_sub(start);
        // Make sure the message is open (and still there) before promising octets.
        let size = loader.content().await?.size();
        if end > size {
            return Err(StoreError::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "section past the end of the message",
            )));
        }
        let _ = write!(Adapter(&mut self.text), "{{{len}}}\r\n");
        self.splices.push(Splice {
            at: self.text.len(),
            start,
            end,
        });
        Ok(())
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
    let path: Vec<u32> = section.part.iter().map(|n| n.get()).collect();
    if path.is_empty() && section.text.is_none() {
        // BODY[] (and its partials) needs the content's size only, not the structure.
        let size = loader.content().await?.size();
        return Ok(SectionData::Range(0, size));
    }
    let s = loader.structure().await?;
    if path.is_empty() {
        return Ok(match &section.text {
            None => SectionData::Range(0, loader.content().await?.size()),
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

/// Copies what `BODY.PEEK[section]<partial>` of a message returns (the whole message
/// without a section) into `sink`, a chunk at a time, for CATENATE's URLs (RFC 4469 3:
/// "as if the literal returned in a FETCH BODY response were put in place"). `partial`
/// is an IMAP URL's `offset[.length]`. `limit`: the most octets `sink` may then hold,
/// checked before anything is copied (`Ok(false)` when it would be exceeded). A part
/// that does not exist is `NotFound`.
pub(crate) async fn copy_section(
    account: &Arc<dyn Account>,
    mailbox: MailboxId,
    uid: u32,
    section: Option<&Section>,
    partial: Option<(u32, Option<u32>)>,
    sink: &mut mailroom_store::MessageSink,
    limit: u64,
) -> Result<bool, StoreError> {
    let mut loader = Loader {
        account,
        mailbox,
        uid,
        structure: None,
        content: None,
        object: None,
    };
    let whole = Section {
        part: Vec::new(),
        text: None,
    };
    let section = section.unwrap_or(&whole);
    if !section.part.is_empty() {
        let s = loader.structure().await?;
        let path: Vec<u32> = section.part.iter().map(|n| n.get()).collect();
        if resolve_part(&s.body, &path).is_none() {
            return Err(StoreError::NotFound("body part"));
        }
    }
    let (start, end, bytes) = match section_data(&mut loader, section).await? {
        SectionData::Range(a, b) => (a, b, None),
        SectionData::Bytes(v) => (0, v.len() as u64, Some(v)),
    };
    let (start, end) = match partial {
        Some((o, l)) => {
            let from = start.saturating_add(u64::from(o)).min(end);
            let to = l.map_or(end, |l| from.saturating_add(u64::from(l)).min(end));
            (from, to)
        }
        None => (start, end),
    };
    if sink.len().saturating_add(end - start) > limit {
        return Ok(false);
    }
    match bytes {
        Some(v) => {
            let a = usize::try_from(start).unwrap_or(usize::MAX).min(v.len());
            let b = usize::try_from(end).unwrap_or(usize::MAX).min(v.len());
            sink.write(v.get(a..b).unwrap_or_default());
        }
        None => {
            let content = loader.content().await?;
            sink.write_content(&*content, start, end).await?;
        }
    }
    Ok(true)
}

/// The start of the `StoreError::Invalid` text of a part whose Content-Transfer-Encoding
/// BINARY cannot undo (the FETCH answers `NO [UNKNOWN-CTE]`, RFC 3516 4.2).
pub(crate) const UNKNOWN_CTE: &str = "unknown Content-Transfer-Encoding";

/// The content of a part with its Content-Transfer-Encoding undone (RFC 3516 4.2): the
/// whole message for an empty path (no encoding applies to it), nothing for a part
/// that does not exist. The part is held in memory while it is decoded (as SEARCH
/// holds one body part).
async fn binary_data(loader: &mut Loader<'_>, part: &[NonZeroU32]) -> Result<Vec<u8>, StoreError> {
    if part.is_empty() {
        let size = loader.content().await?.size();
        return loader.range(0, size).await;
    }
    let s = loader.structure().await?;
    let path: Vec<u32> = part.iter().map(|n| n.get()).collect();
    let Some(p) = resolve_part(&s.body, &path) else {
        return Ok(Vec::new());
    };
    let enc = p.encoding.to_ascii_lowercase();
    let raw = loader.range(p.body_offset, p.end_offset).await?;
    match enc.as_str() {
        "7bit" | "8bit" | "binary" | "" => Ok(raw),
        "base64" => mail_parser::decoders::base64::base64_decode(&raw).ok_or_else(|| {
            StoreError::Invalid(format!(
                "{UNKNOWN_CTE}: invalid base64 in part {}",
                part_name(part)
            ))
        }),
        "quoted-printable" => mail_parser::decoders::quoted_printable::quoted_printable_decode(
            &raw,
        )
        .ok_or_else(|| {
            StoreError::Invalid(format!(
                "{UNKNOWN_CTE}: invalid quoted-printable in part {}",
                part_name(part)
            ))
        }),
        other => Err(StoreError::Invalid(format!(
            "{UNKNOWN_CTE} {other} in part {}",
            part_name(part)
        ))),
    }
}

/// A part path as sent: `1.2`.
fn part_name(part: &[NonZeroU32]) -> String {
    part.iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(".")
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
fn internal_date(out: &mut Vec<u8>, meta: MessageRef<'_>) {
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
    for k in msg.meta.keywords {
        put(out, k);
    }
    if msg.recent {
        put(out, "\\Recent");
    }
    out.push(b')');
}

/// Appends the parenthesised data of one FETCH response, `(UID 4 FLAGS (\Seen) ...)`,
/// to `out`: the items in the order of `attrs`, without the `* n FETCH ` prefix and
/// without CRLF. The whole response is built in memory: sessions use [`prepare`] and
/// [`FetchResponse::write`], which stream body sections.
pub async fn fetch_data(
    account: &Arc<dyn Account>,
    mailbox: MailboxId,
    msg: MsgRef<'_>,
    attrs: &[FetchAttribute],
    out: &mut Vec<u8>,
) -> Result<(), StoreError> {
    let r = prepare(account, mailbox, msg, attrs, None).await?;
    let mut buf = Vec::new();
    r.write(&mut buf, &mut tokio::io::sink(), usize::MAX)
        .await?;
    out.extend_from_slice(&buf);
    Ok(())
}

/// Prepares the parenthesised data of one FETCH response (see [`FetchResponse`]): every
/// item rendered in the order of `attrs`, body sections of the message's octets left as
/// ranges to stream (always literals). `object` is the message's [`MessageObject`] when
/// the caller read those of many messages at once (else it is read when an item needs it).
///
/// ```text
/// msg-att = "(" (msg-att-dynamic / msg-att-static) *(SP (msg-att-dynamic / msg-att-static)) ")"
/// msg-att-static = "ENVELOPE" SP envelope / "INTERNALDATE" SP date-time /
///                  "RFC822" [".HEADER" / ".TEXT"] SP nstring / "RFC822.SIZE" SP number /
///                  "BODY" ["STRUCTURE"] SP body /
///                  "BODY" section ["<" number ">"] SP nstring / "UID" SP uniqueid
/// ```
pub async fn prepare(
    account: &Arc<dyn Account>,
    mailbox: MailboxId,
    msg: MsgRef<'_>,
    attrs: &[FetchAttribute],
    object: Option<&MessageObject>,
) -> Result<FetchResponse, StoreError> {
    prepare_with(account, mailbox, msg, attrs, object, false).await
}

/// [`prepare`] for a session that enabled UTF-8 when `utf8` (`ENABLE UTF8=ACCEPT`,
/// RFC 6855 3; `ENABLE IMAP4rev2`, RFC 9051 4.3.1): ENVELOPE text in quoted UTF-8.
pub async fn prepare_with(
    account: &Arc<dyn Account>,
    mailbox: MailboxId,
    msg: MsgRef<'_>,
    attrs: &[FetchAttribute],
    object: Option<&MessageObject>,
    utf8: bool,
) -> Result<FetchResponse, StoreError> {
    let mut loader = Loader {
        account,
        mailbox,
        uid: msg.meta.uid,
        structure: None,
        content: None,
        object: object.filter(|o| o.uid == msg.meta.uid).cloned(),
    };
    let mut b = Builder {
        text: Vec::with_capacity(64),
        splices: Vec::new(),
    };
    b.text.push(b'(');
    for (i, attr) in attrs.iter().enumerate() {
        let buf = &mut b.text;
        if i > 0 {
            buf.push(b' ');
        }
        match attr {
            FetchAttribute::Flags => {
                buf.extend_from_slice(b"FLAGS ");
                flags(buf, &msg);
            }
            FetchAttribute::Uid => {
                let _ = write!(Adapter(buf), "UID {}", msg.meta.uid);
            }
            FetchAttribute::Rfc822Size => {
                let _ = write!(Adapter(buf), "RFC822.SIZE {}", msg.meta.size);
            }
            FetchAttribute::ModSeq => {
                let _ = write!(Adapter(buf), "MODSEQ ({})", msg.meta.modseq);
            }
            FetchAttribute::Preview { lazy } => {
                let text = preview::get(&mut loader, *lazy).await?;
                b.text.extend_from_slice(b"PREVIEW ");
                encode::nstring(&mut b.text, text.as_deref().map(str::as_bytes));
            }
            FetchAttribute::Binary { part, partial, .. } => {
                let data = binary_data(&mut loader, part).await?;
                let buf = &mut b.text;
                let _ = write!(Adapter(buf), "BINARY[{}]", part_name(part));
                let slice = match partial {
                    Some((origin, len)) => {
                        let _ = write!(Adapter(buf), "<{origin}>");
                        let from = usize::try_from(*origin)
                            .unwrap_or(usize::MAX)
                            .min(data.len());
                        let to = from
                            .saturating_add(usize::try_from(len.get()).unwrap_or(usize::MAX))
                            .min(data.len());
                        data.get(from..to).unwrap_or_default()
                    }
                    None => &data[..],
                };
                buf.push(b' ');
                encode::literal_or_8(buf, slice);
            }
            FetchAttribute::BinarySize { part } => {
                let data = binary_data(&mut loader, part).await?;
                let _ = write!(
                    Adapter(&mut b.text),
                    "BINARY.SIZE[{}] {}",
                    part_name(part),
                    data.len()
                );
            }
            // RFC 8514 4.2: `"SAVEDATE" SP (date-time / nil)`, NIL when the store has
            // none for the message (indexed before save dates were kept).
            FetchAttribute::SaveDate => {
                let saved = loader.object().await?.save_date;
                b.text.extend_from_slice(b"SAVEDATE ");
                match saved.and_then(|t| DateTime::from_unix(t, 0)) {
                    Some(dt) => encode::date_time(&mut b.text, &dt),
                    None => b.text.extend_from_slice(b"NIL"),
                }
            }
            // RFC 8474 5.3: `"EMAILID" SP "(" objectid ")"`.
            FetchAttribute::EmailId => {
                let o = loader.object().await?;
                let _ = write!(Adapter(&mut b.text), "EMAILID ({})", o.email_id);
            }
            // RFC 8474 5.3: `"THREADID" SP ( "(" objectid ")" / nil )`.
            FetchAttribute::ThreadId => {
                let o = loader.object().await?;
                match &o.thread_id {
                    Some(t) => {
                        let t = t.clone();
                        let _ = write!(Adapter(&mut b.text), "THREADID ({t})");
                    }
                    None => b.text.extend_from_slice(b"THREADID NIL"),
                }
            }
            FetchAttribute::InternalDate => {
                buf.extend_from_slice(b"INTERNALDATE ");
                internal_date(buf, msg.meta);
            }
            FetchAttribute::Envelope => {
                let s = loader.structure().await?;
                b.text.extend_from_slice(b"ENVELOPE ");
                structure::envelope(&mut b.text, &s.envelope, utf8);
            }
            FetchAttribute::Body => {
                let s = loader.structure().await?;
                b.text.extend_from_slice(b"BODY ");
                structure::body(&mut b.text, &s.body, false);
            }
            FetchAttribute::BodyStructure => {
                let s = loader.structure().await?;
                b.text.extend_from_slice(b"BODYSTRUCTURE ");
                structure::body(&mut b.text, &s.body, true);
            }
            FetchAttribute::Rfc822 => {
                let size = loader.content().await?.size();
                b.text.extend_from_slice(b"RFC822 ");
                b.range(&mut loader, 0, size).await?;
            }
            FetchAttribute::Rfc822Header => {
                let s = loader.structure().await?;
                b.text.extend_from_slice(b"RFC822.HEADER ");
                encode::literal(&mut b.text, &s.header);
            }
            FetchAttribute::Rfc822Text => {
                let s = loader.structure().await?;
                b.text.extend_from_slice(b"RFC822.TEXT ");
                b.range(&mut loader, s.body.body_offset, s.body.end_offset)
                    .await?;
            }
            FetchAttribute::BodySection {
                section, partial, ..
            } => {
                let data = section_data(&mut loader, section).await?;
                let buf = &mut b.text;
                buf.extend_from_slice(b"BODY[");
                section_name(buf, section);
                buf.push(b']');
                if let Some((origin, _)) = partial {
                    let _ = write!(Adapter(buf), "<{origin}>");
                }
                buf.push(b' ');
                match (data, partial) {
                    (SectionData::Range(s, e), None) => b.range(&mut loader, s, e).await?,
                    (SectionData::Range(s, e), Some((origin, len))) => {
                        let from = s.saturating_add(*origin).min(e);
                        let to = from.saturating_add(u64::from(len.get())).min(e);
                        b.range(&mut loader, from, to).await?
                    }
                    (SectionData::Bytes(bytes), None) => encode::literal(buf, &bytes),
                    (SectionData::Bytes(bytes), Some((origin, len))) => {
                        let from = usize::try_from(*origin)
                            .unwrap_or(usize::MAX)
                            .min(bytes.len());
                        let to = from
                            .saturating_add(usize::try_from(len.get()).unwrap_or(usize::MAX))
                            .min(bytes.len());
                        encode::literal(buf, &bytes[from..to]);
                    }
                }
            }
        }
    }
    b.text.push(b')');
    Ok(FetchResponse {
        text: b.text,
        splices: b.splices,
        content: loader.content,
    })
}

/// `fmt::Write` into a byte vector.
struct Adapter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Adapter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}
