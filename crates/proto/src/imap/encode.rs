//! Response encoding helpers (RFC 3501 section 9, server side).
//!
//! What lives here: choosing quoted vs literal strings, `nstring`/`NIL`, `astring`,
//! mailbox names in modified UTF-7, flag lists, `date-time`, compressed sequence sets
//! (for ESEARCH, COPYUID, APPENDUID), response codes and status lines. Every helper
//! appends to a caller's `Vec<u8>`. What does not: whole responses such as FETCH or
//! BODYSTRUCTURE (the server builds those from these pieces).

use std::fmt::{self, Write as _};

use super::types::{is_astring_char, DateTime, Flag, Mailbox, Tag};

/// Longest string sent quoted; longer ones go as literals.
pub const MAX_QUOTED: usize = 1024;

fn quotable(s: &[u8]) -> bool {
    s.len() <= MAX_QUOTED
        && s.iter()
            .all(|&b| (0x01..0x80).contains(&b) && b != b'\r' && b != b'\n')
}

/// `string = quoted / literal`: quoted when every octet is a 7-bit TEXT-CHAR (escaping
/// `"` and `\`), a literal otherwise (CR, LF, NUL, 8-bit, or long).
pub fn string(out: &mut Vec<u8>, s: &[u8]) {
    if quotable(s) {
        quote(out, s);
    } else {
        literal(out, s);
    }
}

/// `"` s `"` with `"` and `\` escaped.
fn quote(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// `string` for a session that enabled UTF-8 (`ENABLE UTF8=ACCEPT`, RFC 6855 3:
/// `uQUOTED-CHAR`; `ENABLE IMAP4rev2`, RFC 9051 4.3.1): quoted also when it holds
/// UTF-8, as long as it holds no NUL, CR or LF and is not long; a literal otherwise.
pub fn string_utf8(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() <= MAX_QUOTED
        && !s.iter().any(|&b| matches!(b, 0 | b'\r' | b'\n'))
        && std::str::from_utf8(s).is_ok()
    {
        quote(out, s);
    } else {
        literal(out, s);
    }
}

/// `nstring` with [`string_utf8`].
pub fn nstring_utf8(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        Some(s) => string_utf8(out, s),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// `literal = "{" number "}" CRLF *CHAR8`.
pub fn literal(out: &mut Vec<u8>, s: &[u8]) {
    let _ = write!(Adapter(out), "{{{}}}\r\n", s.len());
    out.extend_from_slice(s);
}

/// A literal, as `literal8` (`~{n}`, RFC 3516) when the octets hold a NUL.
pub fn literal_or_8(out: &mut Vec<u8>, s: &[u8]) {
    if s.contains(&0) {
        out.push(b'~');
    }
    literal(out, s);
}

/// `nstring = string / nil`.
pub fn nstring(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// `astring = 1*ASTRING-CHAR / string`; an atom when possible (and not `NIL`, which a
/// reader of an nstring position would misread).
pub fn astring(out: &mut Vec<u8>, s: &[u8]) {
    if !s.is_empty() && s.iter().all(|&b| is_astring_char(b)) && !s.eq_ignore_ascii_case(b"NIL") {
        out.extend_from_slice(s);
    } else {
        string(out, s);
    }
}

/// A mailbox name, encoded to modified UTF-7, as an astring (`INBOX` as is).
pub fn mailbox(out: &mut Vec<u8>, m: &Mailbox) {
    mailbox_name(out, m.as_str());
}

/// A UTF-8 mailbox name (or pattern), encoded to modified UTF-7, always quoted so that
/// `*`, `%` and spaces are safe.
pub fn mailbox_name(out: &mut Vec<u8>, name: &str) {
    string(out, crate::imap::mutf7::encode(name).as_bytes());
}

/// A mailbox name (or pattern) for a session that enabled UTF-8 (RFC 6855 3, RFC 9051
/// 5.1): the UTF-8 name as it is, quoted; no modified UTF-7.
pub fn mailbox_name_utf8(out: &mut Vec<u8>, name: &str) {
    string_utf8(out, name.as_bytes());
}

/// [`mailbox_name_utf8`] when `utf8`, else [`mailbox_name`] (modified UTF-7).
pub fn mailbox_name_as(out: &mut Vec<u8>, name: &str, utf8: bool) {
    if utf8 {
        mailbox_name_utf8(out, name);
    } else {
        mailbox_name(out, name);
    }
}

/// `flag-list = "(" [flag *(SP flag)] ")"`.
pub fn flag_list<'f>(out: &mut Vec<u8>, flags: impl IntoIterator<Item = &'f Flag>) {
    out.push(b'(');
    for (i, f) in flags.into_iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(f.as_wire().as_bytes());
    }
    out.push(b')');
}

/// `date-time` in quotes: `"17-Jul-1996 02:44:25 -0700"`.
pub fn date_time(out: &mut Vec<u8>, dt: &DateTime) {
    let _ = write!(Adapter(out), "\"{dt}\"");
}

/// Compresses numbers into a sequence set (`1:3,5`); sorts and removes duplicates.
/// Empty input gives an empty string (which is not a valid set: callers check).
pub fn compress_set(numbers: &[u32]) -> String {
    let mut v = numbers.to_vec();
    v.sort_unstable();
    v.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < v.len() {
        let start = v[i];
        let mut end = start;
        while i + 1 < v.len() && v[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = v[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        let _ = if start == end {
            write!(out, "{start}")
        } else {
            write!(out, "{start}:{end}")
        };
        i += 1;
    }
    out
}

/// Compresses a list of numbers keeping its order (for COPYUID, where source and
/// destination sets must correspond): `[4,5,6,2]` → `4:6,2`.
pub fn compress_ordered(numbers: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < numbers.len() {
        let start = numbers[i];
        let mut end = start;
        while i + 1 < numbers.len() && numbers[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = numbers[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        let _ = if start == end {
            write!(out, "{start}")
        } else {
            write!(out, "{start}:{end}")
        };
        i += 1;
    }
    out
}

struct Adapter<'a>(&'a mut Vec<u8>);

impl fmt::Write for Adapter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// A response code (RFC 3501 7.1, RFC 5530, RFC 4315, RFC 7162, RFC 2221, RFC 4469,
/// RFC 9208).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseCode {
    /// `ALERT`.
    Alert,
    /// `BADCHARSET (charsets)`.
    BadCharset(Vec<String>),
    /// `CAPABILITY caps`.
    Capability(Vec<String>),
    /// `PARSE`.
    Parse,
    /// `PERMANENTFLAGS (flags [\*])`.
    PermanentFlags {
        /// The flags.
        flags: Vec<Flag>,
        /// `\*`: new keywords may be created.
        new_keywords: bool,
    },
    /// `READ-ONLY`.
    ReadOnly,
    /// `READ-WRITE`.
    ReadWrite,
    /// `TRYCREATE`.
    TryCreate,
    /// `UIDNEXT n`.
    UidNext(u32),
    /// `UIDVALIDITY n`.
    UidValidity(u32),
    /// `UNSEEN n`.
    Unseen(u32),
    /// `APPENDUID validity uids` (RFC 4315).
    AppendUid {
        /// UIDVALIDITY of the target.
        validity: u32,
        /// The new UIDs.
        uids: Vec<u32>,
    },
    /// `COPYUID validity source-uids dest-uids` (RFC 4315), in corresponding order.
    CopyUid {
        /// UIDVALIDITY of the target.
        validity: u32,
        /// Source UIDs.
        source: Vec<u32>,
        /// Destination UIDs.
        dest: Vec<u32>,
    },
    /// `UIDNOTSTICKY`.
    UidNotSticky,
    /// `CLOSED` (RFC 7162).
    Closed,
    /// `HIGHESTMODSEQ n`.
    HighestModSeq(u64),
    /// `NOMODSEQ`.
    NoModSeq,
    /// `MODIFIED set`.
    Modified(Vec<u32>),
    /// `REFERRAL url` (RFC 2221).
    Referral(String),
    /// `TOOBIG` (RFC 4469).
    TooBig,
    /// `OVERQUOTA` (RFC 9208).
    OverQuota,
    /// `NONEXISTENT` (RFC 5530).
    NonExistent,
    /// `ALREADYEXISTS`.
    AlreadyExists,
    /// `NOPERM`.
    NoPerm,
    /// `INUSE`.
    InUse,
    /// `CANNOT`.
    Cannot,
    /// `LIMIT`.
    Limit,
    /// `SERVERBUG`.
    ServerBug,
    /// `CLIENTBUG`.
    ClientBug,
    /// `UNAVAILABLE`.
    Unavailable,
    /// `AUTHENTICATIONFAILED`.
    AuthenticationFailed,
    /// `AUTHORIZATIONFAILED`.
    AuthorizationFailed,
    /// `PRIVACYREQUIRED`.
    PrivacyRequired,
    /// `CONTACTADMIN`.
    ContactAdmin,
    /// `EXPUNGEISSUED`.
    ExpungeIssued,
    /// `CORRUPTION`.
    Corruption,
    /// `HASCHILDREN`.
    HasChildren,
    /// `USEATTR` (RFC 6154).
    UseAttr,
    /// `COMPRESSIONACTIVE` (RFC 4978).
    CompressionActive,
    /// `METADATA LONGENTRIES n` (RFC 5464 4.2.1).
    MetadataLongEntries(u64),
    /// `METADATA MAXSIZE n` (RFC 5464 4.3).
    MetadataMaxSize(u64),
    /// `METADATA TOOMANY`.
    MetadataTooMany,
    /// `METADATA NOPRIVATE`.
    MetadataNoPrivate,
    /// `UNKNOWN-CTE` (RFC 3516).
    UnknownCte,
    /// `BADEVENT (event-name ...)` (RFC 5465 8): every event the server supports.
    BadEvent(Vec<&'static str>),
    /// `NOTIFICATIONOVERFLOW` (RFC 5465 5.8).
    NotificationOverflow,
    /// `MAILBOXID (objectid)` (RFC 8474 4.1, 4.2).
    MailboxId(String),
    /// `BADURL url` (RFC 4469 4.1): the URL without `]`, CR and LF.
    BadUrl(String),
    /// `UIDREQUIRED` (RFC 9586 3): a message sequence number after ENABLE UIDONLY.
    UidRequired,
}

impl fmt::Display for ResponseCode {
    /// The code text without brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ResponseCode as C;
        match self {
            C::Alert => f.write_str("ALERT"),
            C::BadCharset(v) if v.is_empty() => f.write_str("BADCHARSET"),
            C::BadCharset(v) => {
                f.write_str("BADCHARSET (")?;
                for (i, c) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    let mut b = Vec::new();
                    astring(&mut b, c.as_bytes());
                    f.write_str(&String::from_utf8_lossy(&b))?;
                }
                f.write_str(")")
            }
            C::Capability(v) => {
                f.write_str("CAPABILITY")?;
                for c in v {
                    write!(f, " {c}")?;
                }
                Ok(())
            }
            C::Parse => f.write_str("PARSE"),
            C::PermanentFlags {
                flags,
                new_keywords,
            } => {
                let mut b = Vec::new();
                flag_list(&mut b, flags);
                if *new_keywords {
                    b.pop();
                    if !flags.is_empty() {
                        b.push(b' ');
                    }
                    b.extend_from_slice(b"\\*)");
                }
                write!(f, "PERMANENTFLAGS {}", String::from_utf8_lossy(&b))
            }
            C::ReadOnly => f.write_str("READ-ONLY"),
            C::ReadWrite => f.write_str("READ-WRITE"),
            C::TryCreate => f.write_str("TRYCREATE"),
            C::UidNext(n) => write!(f, "UIDNEXT {n}"),
            C::UidValidity(n) => write!(f, "UIDVALIDITY {n}"),
            C::Unseen(n) => write!(f, "UNSEEN {n}"),
            C::AppendUid { validity, uids } => {
                write!(f, "APPENDUID {validity} {}", compress_ordered(uids))
            }
            C::CopyUid {
                validity,
                source,
                dest,
            } => write!(
                f,
                "COPYUID {validity} {} {}",
                compress_ordered(source),
                compress_ordered(dest)
            ),
            C::UidNotSticky => f.write_str("UIDNOTSTICKY"),
            C::Closed => f.write_str("CLOSED"),
            C::HighestModSeq(n) => write!(f, "HIGHESTMODSEQ {n}"),
            C::NoModSeq => f.write_str("NOMODSEQ"),
            C::Modified(v) => write!(f, "MODIFIED {}", compress_set(v)),
            C::Referral(url) => write!(f, "REFERRAL {url}"),
            C::TooBig => f.write_str("TOOBIG"),
            C::OverQuota => f.write_str("OVERQUOTA"),
            C::NonExistent => f.write_str("NONEXISTENT"),
            C::AlreadyExists => f.write_str("ALREADYEXISTS"),
            C::NoPerm => f.write_str("NOPERM"),
            C::InUse => f.write_str("INUSE"),
            C::Cannot => f.write_str("CANNOT"),
            C::Limit => f.write_str("LIMIT"),
            C::ServerBug => f.write_str("SERVERBUG"),
            C::ClientBug => f.write_str("CLIENTBUG"),
            C::Unavailable => f.write_str("UNAVAILABLE"),
            C::AuthenticationFailed => f.write_str("AUTHENTICATIONFAILED"),
            C::AuthorizationFailed => f.write_str("AUTHORIZATIONFAILED"),
            C::PrivacyRequired => f.write_str("PRIVACYREQUIRED"),
            C::ContactAdmin => f.write_str("CONTACTADMIN"),
            C::ExpungeIssued => f.write_str("EXPUNGEISSUED"),
            C::Corruption => f.write_str("CORRUPTION"),
            C::HasChildren => f.write_str("HASCHILDREN"),
            C::UseAttr => f.write_str("USEATTR"),
            C::CompressionActive => f.write_str("COMPRESSIONACTIVE"),
            C::MetadataLongEntries(n) => write!(f, "METADATA LONGENTRIES {n}"),
            C::MetadataMaxSize(n) => write!(f, "METADATA MAXSIZE {n}"),
            C::MetadataTooMany => f.write_str("METADATA TOOMANY"),
            C::MetadataNoPrivate => f.write_str("METADATA NOPRIVATE"),
            C::BadEvent(events) => write!(f, "BADEVENT ({})", events.join(" ")),
            C::NotificationOverflow => f.write_str("NOTIFICATIONOVERFLOW"),
            C::UnknownCte => f.write_str("UNKNOWN-CTE"),
            C::MailboxId(id) => write!(f, "MAILBOXID ({id})"),
            C::BadUrl(url) => write!(f, "BADURL {url}"),
            C::UidRequired => f.write_str("UIDREQUIRED"),
        }
    }
}

/// The status of a status response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `OK`.
    Ok,
    /// `NO`.
    No,
    /// `BAD`.
    Bad,
    /// `PREAUTH` (greeting only).
    PreAuth,
    /// `BYE`.
    Bye,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
            Status::PreAuth => "PREAUTH",
            Status::Bye => "BYE",
        }
    }
}

/// A complete status line: `tag SP status SP ["[" code "]" SP] text CRLF`, or `*` when
/// `tag` is `None`. CR, LF and NUL in `text` become spaces; an empty text becomes
/// `completed` (resp-text needs one character).
pub fn status_line(
    out: &mut Vec<u8>,
    tag: Option<&Tag>,
    status: Status,
    code: Option<&ResponseCode>,
    text: &str,
) {
    match tag {
        Some(t) => out.extend_from_slice(t.as_str().as_bytes()),
        None => out.push(b'*'),
    }
    out.push(b' ');
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    if let Some(c) = code {
        let _ = write!(Adapter(out), "[{c}] ");
    }
    let text = if text.is_empty() { "completed" } else { text };
    out.extend(text.bytes().map(|b| {
        if matches!(b, b'\r' | b'\n' | 0) {
            b' '
        } else {
            b
        }
    }));
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6855 3 / RFC 9051 4.3: UTF-8 quoted once enabled; NUL, CR, LF, invalid
    /// UTF-8 and long strings still go as literals; names without modified UTF-7.
    #[test]
    fn utf8_strings_and_names() {
        let mut o = Vec::new();
        string_utf8(&mut o, "caf\u{e9} \"x\"".as_bytes());
        assert_eq!(o, "\"caf\u{e9} \\\"x\\\"\"".as_bytes());
        for (s, want) in [
            (&b"a\r\nb"[..], &b"{4}\r\na\r\nb"[..]),
            (b"a\0b", b"{3}\r\na\0b"),
            (b"caf\xe9", b"{4}\r\ncaf\xe9"),
        ] {
            o.clear();
            string_utf8(&mut o, s);
            assert_eq!(o, want);
        }
        o.clear();
        string_utf8(&mut o, "\u{e9}".repeat(MAX_QUOTED).as_bytes());
        assert!(o.starts_with(b"{2048}\r\n"));
        o.clear();
        nstring_utf8(&mut o, None);
        assert_eq!(o, b"NIL");
        o.clear();
        mailbox_name_as(&mut o, "Entw\u{fc}rfe/R&D", true);
        o.push(b' ');
        mailbox_name_as(&mut o, "Entw\u{fc}rfe/R&D", false);
        assert_eq!(o, "\"Entw\u{fc}rfe/R&D\" \"Entw&APw-rfe/R&-D\"".as_bytes());
    }

    #[test]
    fn strings() {
        let mut o = Vec::new();
        string(&mut o, b"a \"b\" \\c");
        assert_eq!(o, b"\"a \\\"b\\\" \\\\c\"");
        o.clear();
        string(&mut o, b"line\r\nbreak");
        assert_eq!(o, b"{11}\r\nline\r\nbreak");
        o.clear();
        string(&mut o, "ü".as_bytes());
        assert_eq!(o, b"{2}\r\n\xc3\xbc");
        o.clear();
        astring(&mut o, b"INBOX");
        o.push(b' ');
        astring(&mut o, b"nil");
        o.push(b' ');
        astring(&mut o, b"");
        assert_eq!(o, b"INBOX \"nil\" \"\"");
        o.clear();
        mailbox_name(&mut o, "Entwürfe");
        assert_eq!(o, b"\"Entw&APw-rfe\"");
    }

    #[test]
    fn sets() {
        assert_eq!(compress_set(&[5, 1, 2, 3, 3]), "1:3,5");
        assert_eq!(compress_set(&[]), "");
        assert_eq!(compress_set(&[u32::MAX, 1]), "1,4294967295");
        assert_eq!(compress_ordered(&[4, 5, 6, 2]), "4:6,2");
    }

    #[test]
    fn lines() {
        let mut o = Vec::new();
        let tag = Tag::new(b"a1");
        status_line(
            &mut o,
            tag.as_ref(),
            Status::No,
            Some(&ResponseCode::PermanentFlags {
                flags: vec![Flag::Seen, Flag::Keyword("$MDN".into())],
                new_keywords: true,
            }),
            "x\r\ny",
        );
        assert_eq!(o, b"a1 NO [PERMANENTFLAGS (\\Seen $MDN \\*)] x  y\r\n");
    }
}
