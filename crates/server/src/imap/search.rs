//! SEARCH (RFC 3501 6.4.4): evaluation of search keys over a session's view of a mailbox.
//!
//! What lives here: [`search`], which compiles a [`SearchKey`] once (needles lower-cased,
//! dates as day numbers) and evaluates it per message in three rounds, each with more
//! data: metadata only (flags, size, dates, UIDs, sequence numbers), then the structure
//! parsed at index time (header keys, sent date), then the decoded body text. A message
//! reaches a later round only when the earlier data left the answer open (three-valued
//! logic), so flag/size/date/UID searches never touch message content, and `UNSEEN BODY
//! x` reads only unseen messages. What does not: the SEARCH/ESEARCH response (the
//! session's SEARCH command), text decoding helpers ([`text`]).
//!
//! Architecture invariant: a key that only needs metadata never calls
//! `Account::structure` or `Account::open_message`.

pub(crate) mod text;

use super::fetch::{header_field_values, is_message, read_range, MsgRef};
use mailroom_proto::imap::command::SearchKey;
use mailroom_proto::imap::{Date, SequenceSet};
use mailroom_store::{
    Account, BodyStructure, Flags, MailboxId, MessageObject, MessageStructure, StoreError,
};
use std::sync::Arc;
use text::{charset_to_utf8, decode_rfc2047, transfer_decode, Needle};

/// Why a SEARCH could not be run.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// `NO [BADCHARSET (US-ASCII UTF-8)]` (RFC 3501 6.4.4).
    #[error("unsupported charset")]
    BadCharset,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A compiled search key.
#[derive(Debug)]
enum Key {
    Const(bool),
    /// A system flag set (`true`) or clear (`false`).
    Flag(Flags, bool),
    Recent(bool),
    /// `NEW`: recent and unseen.
    New,
    Keyword(String, bool),
    Larger(u64),
    Smaller(u64),
    /// Internal date: day number before / on / since.
    Before(i64),
    On(i64),
    Since(i64),
    SentBefore(i64),
    SentOn(i64),
    SentSince(i64),
    /// Save date (RFC 8514): day number before / on / since.
    SavedBefore(i64),
    SavedOn(i64),
    SavedSince(i64),
    /// EMAILID / THREADID exactly this object id (RFC 8474 6).
    EmailId(String),
    ThreadId(String),
    /// Internal date (Unix seconds) at or before / at or after (RFC 5032 OLDER, YOUNGER).
    AtOrBefore(i64),
    AtOrAfter(i64),
    /// A header field (lower-case name) containing the needle.
    Header(String, Needle),
    /// An address header field (`from`, `to`, `cc`, `bcc`) containing the needle, as
    /// written or with its addresses normalized (comments and folding whitespace out).
    Address(String, Needle),
    Body(Needle),
    Text(Needle),
    Seq(SequenceSet),
    Uid(SequenceSet),
    ModSeq(u64),
    Not(Box<Key>),
    Or(Box<Key>, Box<Key>),
    And(Vec<Key>),
}

fn days(d: &Date) -> i64 {
    d.days_since_epoch()
}

/// The server's clock in Unix seconds (RFC 5032 3: intervals count back from it).
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn compile(key: &SearchKey) -> Key {
    use SearchKey as S;
    let header = |name: &str, s: &[u8]| Key::Header(name.to_string(), Needle::new(s));
    match key {
        S::All => Key::Const(true),
        S::Answered => Key::Flag(Flags::ANSWERED, true),
        S::Unanswered => Key::Flag(Flags::ANSWERED, false),
        S::Deleted => Key::Flag(Flags::DELETED, true),
        S::Undeleted => Key::Flag(Flags::DELETED, false),
        S::Draft => Key::Flag(Flags::DRAFT, true),
        S::Undraft => Key::Flag(Flags::DRAFT, false),
        S::Flagged => Key::Flag(Flags::FLAGGED, true),
        S::Unflagged => Key::Flag(Flags::FLAGGED, false),
        S::Seen => Key::Flag(Flags::SEEN, true),
        S::Unseen => Key::Flag(Flags::SEEN, false),
        S::Recent => Key::Recent(true),
        S::Old => Key::Recent(false),
        S::New => Key::New,
        S::Keyword(k) => Key::Keyword(k.clone(), true),
        S::Unkeyword(k) => Key::Keyword(k.clone(), false),
        S::Larger(n) => Key::Larger(*n),
        S::Smaller(n) => Key::Smaller(*n),
        S::Before(d) => Key::Before(days(d)),
        S::On(d) => Key::On(days(d)),
        S::Since(d) => Key::Since(days(d)),
        S::SentBefore(d) => Key::SentBefore(days(d)),
        S::SentOn(d) => Key::SentOn(days(d)),
        S::SentSince(d) => Key::SentSince(days(d)),
        // RFC 8514 4.3: every mailbox keeps save dates, so SAVEDATESUPPORTED matches
        // every message.
        S::SavedBefore(d) => Key::SavedBefore(days(d)),
        S::SavedOn(d) => Key::SavedOn(days(d)),
        S::SavedSince(d) => Key::SavedSince(days(d)),
        S::SaveDateSupported => Key::Const(true),
        S::EmailId(id) => Key::EmailId(id.clone()),
        S::ThreadId(id) => Key::ThreadId(id.clone()),
        S::Older(n) => Key::AtOrBefore(now() - i64::from(n.get())),
        S::Younger(n) => Key::AtOrAfter(now() - i64::from(n.get())),
        S::Bcc(s) => Key::Address("bcc".into(), Needle::new(s)),
        S::Cc(s) => Key::Address("cc".into(), Needle::new(s)),
        S::From(s) => Key::Address("from".into(), Needle::new(s)),
        S::To(s) => Key::Address("to".into(), Needle::new(s)),
        S::Subject(s) => header("subject", s),
        S::Header(name, s) => header(&name.to_ascii_lowercase(), s),
        S::Body(s) => Key::Body(Needle::new(s)),
        S::Text(s) => Key::Text(Needle::new(s)),
        S::Uid(set) => Key::Uid(set.clone()),
        S::SequenceSet(set) => Key::Seq(set.clone()),
        S::ModSeq(n) => Key::ModSeq(*n),
        S::Not(k) => Key::Not(Box::new(compile(k))),
        S::Or(a, b) => Key::Or(Box::new(compile(a)), Box::new(compile(b))),
        S::And(ks) => Key::And(ks.iter().map(compile).collect()),
    }
}

impl Key {
    /// Whether evaluating the key needs the messages' [`MessageObject`]s.
    fn needs_objects(&self) -> bool {
        match self {
            Key::SavedBefore(_)
            | Key::SavedOn(_)
            | Key::SavedSince(_)
            | Key::EmailId(_)
            | Key::ThreadId(_) => true,
            Key::Not(k) => k.needs_objects(),
            Key::Or(a, b) => a.needs_objects() || b.needs_objects(),
            Key::And(ks) => ks.iter().any(Key::needs_objects),
            _ => false,
        }
    }
}

/// What is known of one message while it is evaluated.
#[derive(Default)]
struct Data<'o> {
    /// Its object ids and save date, read for every message first when the key needs them.
    object: Option<&'o MessageObject>,
    structure: Option<Arc<MessageStructure>>,
    /// The decoded texts of the body parts (and headers of encapsulated messages).
    body: Option<Vec<Vec<u8>>>,
}

/// The largest sequence number and UID in the view (what `*` means).
struct View {
    max_seq: u32,
    max_uid: u32,
}

/// Day number of a timestamp seen in a zone (minutes east of UTC).
fn local_day(secs: i64, zone_minutes: i32) -> i64 {
    secs.saturating_add(i64::from(zone_minutes) * 60)
        .div_euclid(86_400)
}

/// The day of the message's `Date:` header, in the header's own zone (RFC 3501 6.4.4:
/// "disregarding time and timezone"); the internal date when there is no usable one.
fn sent_day(s: &MessageStructure, m: &MsgRef<'_>) -> i64 {
    let parsed = s
        .envelope
        .date
        .as_deref()
        .and_then(mail_parser::DateTime::parse_rfc822)
        .and_then(|d| Date::new(d.year, d.month, d.day));
    match (parsed, s.sent_date) {
        (Some(d), _) => d.days_since_epoch(),
        (None, Some(t)) => local_day(t, 0),
        (None, None) => local_day(m.meta.internal_date, m.meta.internal_date_tz),
    }
}

/// The day of the save date in UTC (as FETCH SAVEDATE shows it, `+0000`); a message
/// without one uses its internal date (RFC 8514 4.3's fallback).
fn saved_day(o: &MessageObject, m: &MsgRef<'_>) -> i64 {
    match o.save_date {
        Some(t) => local_day(t, 0),
        None => local_day(m.meta.internal_date, m.meta.internal_date_tz),
    }
}

fn header_matches(header: &[u8], name: &str, needle: &Needle) -> bool {
    header_field_values(header, name).iter().any(|v| {
        needle.found_in(v)
            || (v.windows(2).any(|w| w == b"=?") && needle.found_in(&decode_rfc2047(v)))
    })
}

/// An address field matches as written, or with each address normalized to
/// `name <mailbox@host>` (RFC 5322 3.4; as Dovecot searches them): the comments and
/// folding whitespace of `<user (comment)@ (comment) domain.org>` do not hide
/// `user@domain.org`, and a name taken from a comment is found too.
fn address_matches(header: &[u8], name: &str, needle: &Needle) -> bool {
    if header_matches(header, name, needle) {
        return true;
    }
    header_field_values(header, name).iter().any(|v| {
        let text = normalized_addresses(&String::from_utf8_lossy(v));
        needle.found_in(text.as_bytes())
            || (text.contains("=?") && needle.found_in(&decode_rfc2047(text.as_bytes())))
    })
}

/// The addresses of a field value as `name <mailbox@host>, mailbox@host, ...` (group
/// names as `group:`).
fn normalized_addresses(value: &str) -> String {
    let mut out = String::new();
    for a in mailroom_store::mime::parse_addresses(value) {
        let (Some(mailbox), Some(host)) = (&a.mailbox, &a.host) else {
            if let Some(group) = &a.mailbox {
                out.push_str(group);
                out.push_str(": ");
            }
            continue;
        };
        if !out.is_empty() && !out.ends_with(' ') {
            out.push_str(", ");
        }
        match &a.name {
            Some(n) => {
                out.push_str(n);
                out.push_str(" <");
                out.push_str(mailbox);
                out.push('@');
                out.push_str(host);
                out.push('>');
            }
            None => {
                out.push_str(mailbox);
                out.push('@');
                out.push_str(host);
            }
        }
    }
    out
}

fn and3(a: Option<bool>, b: impl FnOnce() -> Option<bool>) -> Option<bool> {
    match a {
        Some(false) => Some(false),
        Some(true) => b(),
        None => match b() {
            Some(false) => Some(false),
            _ => None,
        },
    }
}

/// Evaluates `key` for one message: `None` when `data` lacks what the key needs.
fn eval(key: &Key, m: &MsgRef<'_>, view: &View, data: &Data<'_>) -> Option<bool> {
    let meta = m.meta;
    let internal_day = || local_day(meta.internal_date, meta.internal_date_tz);
    Some(match key {
        Key::Const(b) => *b,
        Key::Flag(f, set) => meta.flags.contains(*f) == *set,
        Key::Recent(r) => m.recent == *r,
        Key::New => m.recent && !meta.flags.contains(Flags::SEEN),
        Key::Keyword(k, set) => meta.keywords.iter().any(|x| x.eq_ignore_ascii_case(k)) == *set,
        Key::Larger(n) => meta.size > *n,
        Key::Smaller(n) => meta.size < *n,
        Key::Before(d) => internal_day() < *d,
        Key::On(d) => internal_day() == *d,
        Key::Since(d) => internal_day() >= *d,
        Key::AtOrBefore(t) => meta.internal_date <= *t,
        Key::AtOrAfter(t) => meta.internal_date >= *t,
        Key::Seq(set) => set.contains(m.seq, view.max_seq),
        Key::Uid(set) => set.contains(meta.uid, view.max_uid),
        Key::ModSeq(n) => meta.modseq >= *n,
        Key::SavedBefore(d) => saved_day(data.object?, m) < *d,
        Key::SavedOn(d) => saved_day(data.object?, m) == *d,
        Key::SavedSince(d) => saved_day(data.object?, m) >= *d,
        Key::EmailId(id) => data.object?.email_id == *id,
        // RFC 8474 5.2: without THREADID support a SEARCH THREADID matches nothing.
        Key::ThreadId(id) => data.object?.thread_id.as_deref() == Some(id.as_str()),
        Key::SentBefore(d) => sent_day(data.structure.as_deref()?, m) < *d,
        Key::SentOn(d) => sent_day(data.structure.as_deref()?, m) == *d,
        Key::SentSince(d) => sent_day(data.structure.as_deref()?, m) >= *d,
        Key::Header(name, needle) => {
            header_matches(&data.structure.as_deref()?.header, name, needle)
        }
        Key::Address(name, needle) => {
            address_matches(&data.structure.as_deref()?.header, name, needle)
        }
        Key::Body(needle) => data.body.as_ref()?.iter().any(|t| needle.found_in(t)),
        Key::Text(needle) => {
            let s = data.structure.as_deref()?;
            let header = needle.found_in(&s.header)
                || (s.header.windows(2).any(|w| w == b"=?")
                    && needle.found_in(&decode_rfc2047(&s.header)));
            header || data.body.as_ref()?.iter().any(|t| needle.found_in(t))
        }
        Key::Not(k) => !eval(k, m, view, data)?,
        Key::Or(a, b) => match eval(a, m, view, data) {
            Some(true) => true,
            Some(false) => eval(b, m, view, data)?,
            None => match eval(b, m, view, data) {
                Some(true) => true,
                _ => return None,
            },
        },
        Key::And(keys) => {
            let mut acc = Some(true);
            for k in keys {
                acc = and3(acc, || eval(k, m, view, data));
                if acc == Some(false) {
                    break;
                }
            }
            return acc;
        }
    })
}

/// The parts whose text BODY searches: leaves of the MIME tree, and the header blocks of
/// encapsulated messages, as `(part, header_only)`.
fn text_parts<'s>(p: &'s BodyStructure, depth: usize, out: &mut Vec<(&'s BodyStructure, bool)>) {
    if depth > 200 {
        return;
    }
    if p.media_type.eq_ignore_ascii_case("multipart") && !p.parts.is_empty() {
        for c in &p.parts {
            text_parts(c, depth + 1, out);
        }
    } else if is_message(p) {
        if let Some(inner) = p.parts.first() {
            out.push((inner, true));
            text_parts(inner, depth + 1, out);
        }
    } else {
        out.push((p, false));
    }
}

/// The searchable texts of a message's body: text parts transfer-decoded and converted
/// to UTF-8 from their charset, other parts as they are.
async fn body_texts(
    account: &Arc<dyn Account>,
    mailbox: MailboxId,
    uid: u32,
    s: &MessageStructure,
) -> Result<Vec<Vec<u8>>, StoreError> {
    let content = account.open_message(mailbox, uid).await?;
    let mut parts = Vec::new();
    text_parts(&s.body, 0, &mut parts);
    let mut out = Vec::with_capacity(parts.len());
    for (p, header_only) in parts {
        if header_only {
            let h = read_range(&content, p.header_offset, p.body_offset).await?;
            out.push(decode_rfc2047(&h));
            continue;
        }
        let raw = read_range(&content, p.body_offset, p.end_offset).await?;
        if p.media_type.eq_ignore_ascii_case("text") {
            let decoded = transfer_decode(&p.encoding, raw);
            let charset = p
                .params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("charset"))
                .map(|(_, v)| v.as_str())
                .unwrap_or("us-ascii");
            out.push(charset_to_utf8(charset, &decoded));
        } else {
            out.push(raw);
        }
    }
    Ok(out)
}

/// Evaluates `key` over `msgs` (the session's view, ascending sequence numbers) and
/// returns the indices into `msgs` of the messages that match, ascending.
///
/// `charset` is the command's CHARSET: `None`, `US-ASCII` and `UTF-8` are accepted (keys
/// are compared as UTF-8), anything else is [`SearchError::BadCharset`]. Sequence sets
/// are resolved with `*` as the last message's sequence number and UID (so `n:*` with
/// `n` above the highest still names the last message, RFC 3501 6.4.8). A message that
/// vanished from the store meanwhile does not match.
pub async fn search(
    account: &Arc<dyn Account>,
    mailbox: MailboxId,
    msgs: &[MsgRef<'_>],
    key: &SearchKey,
    charset: Option<&str>,
) -> Result<Vec<usize>, SearchError> {
    if let Some(cs) = charset {
        if !(cs.eq_ignore_ascii_case("US-ASCII") || cs.eq_ignore_ascii_case("UTF-8")) {
            return Err(SearchError::BadCharset);
        }
    }
    let key = compile(key);
    let view = View {
        max_seq: msgs.last().map(|m| m.seq).unwrap_or(0),
        max_uid: msgs.last().map(|m| m.meta.uid).unwrap_or(0),
    };
    let objects = if key.needs_objects() {
        let uids: Vec<u32> = msgs.iter().map(|m| m.meta.uid).collect();
        account.objects(mailbox, &uids).await?
    } else {
        Vec::new()
    };
    let mut hits = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let mut data = Data::default();
        if !objects.is_empty() {
            match objects.binary_search_by_key(&m.meta.uid, |o| o.uid) {
                Ok(k) => data.object = objects.get(k),
                Err(_) => continue, // gone meanwhile
            }
        } else if key.needs_objects() {
            continue;
        }
        let mut r = eval(&key, m, &view, &data);
        if r.is_none() {
            match account.structure(mailbox, m.meta.uid).await {
                Ok(s) => data.structure = Some(s),
                Err(StoreError::NotFound(_)) => continue,
                Err(e) => return Err(e.into()),
            }
            r = eval(&key, m, &view, &data);
        }
        if r.is_none() {
            if let Some(s) = data.structure.clone() {
                match body_texts(account, mailbox, m.meta.uid, &s).await {
                    Ok(b) => data.body = Some(b),
                    Err(StoreError::NotFound(_)) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            r = eval(&key, m, &view, &data);
        }
        if r == Some(true) {
            hits.push(i);
        }
    }
    Ok(hits)
}
