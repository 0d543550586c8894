//! The IMAP command grammar: from a framed [`RawCommand`] to a typed [`Command`].
//!
//! What lives here: [`parse_command`] (the entry point), [`append_target`] (to check an
//! APPEND target before its message is streamed), [`ParseError`] (which keeps the tag so
//! the answer is `tag BAD <reason>`), the shared lexical rules of RFC 3501 section 9
//! (atoms, strings, literals, sequence sets, flags, dates) and one file per command
//! family with a grammar of its own (`append`, `fetch`, `list`, `search`, `store`).
//! What does not: line and literal framing ([`super::frame`]) and state checks (the
//! command table in [`super::command`] says where a command is allowed; the server
//! applies it).
//!
//! Every parser works on a complete command with its literals inline (the framer
//! guarantees this), so no parser suspends. Nested grammar (SEARCH keys) is bounded by
//! [`MAX_SEARCH_DEPTH`] and [`MAX_SEARCH_KEYS`].

mod append;
mod fetch;
mod list;
mod metadata;
mod notify;
mod search;
mod store;

use std::borrow::Cow;
use std::num::NonZeroU32;

use base64::Engine;

use super::command::{CertificateData, Command, CommandBody, QResync, RightsChange, StatusItem};
use super::frame::{RawCommand, StreamedLiteral};
use super::mutf7;
use super::types::{
    is_astring_char, is_atom_char, is_list_char, is_tag_char, month_from_name, Date, DateTime,
    Flag, Mailbox, Secret, SeqNumber, SeqRange, SequenceSet, Tag,
};

pub use notify::{MAX_NOTIFY_GROUPS, MAX_NOTIFY_MAILBOXES};
pub use search::{MAX_SEARCH_DEPTH, MAX_SEARCH_KEYS};

/// A command the grammar refuses. Answer `tag BAD message`, or `* BAD message` when the
/// tag could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// The command's tag, when it was valid.
    pub tag: Option<Tag>,
    /// Why the command was refused (client's fault), for the BAD text.
    pub message: String,
}

/// Internal result: the error is the BAD text.
pub(crate) type PResult<T> = Result<T, String>;

/// How the session reads strings and mailbox names (what ENABLE changed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// `ENABLE UTF8=ACCEPT` (RFC 6855 3) or `ENABLE IMAP4rev2` (RFC 9051 5.1) ran:
    /// quoted strings with 8-bit octets must be UTF-8 (`BAD` otherwise), mailbox names
    /// and LIST patterns are UTF-8 (no modified UTF-7), and APPEND takes the `UTF8`
    /// data item (RFC 6855 4, only with UTF8=ACCEPT: see [`ParseOptions::utf8_append`]).
    pub utf8: bool,
    /// `ENABLE UTF8=ACCEPT` ran: `APPEND ... UTF8 (~{n}...)` is accepted (RFC 6855 4).
    pub utf8_append: bool,
}

/// Parses one complete command (RFC 3501 9):
///
/// ```text
/// command = tag SP (command-any / command-auth / command-nonauth / command-select) CRLF
/// ```
pub fn parse_command(raw: &RawCommand) -> Result<Command, ParseError> {
    parse_command_with(raw, ParseOptions::default())
}

/// [`parse_command`] for a session whose ENABLE changed the grammar ([`ParseOptions`]).
pub fn parse_command_with(raw: &RawCommand, opts: ParseOptions) -> Result<Command, ParseError> {
    let mut c = Cursor::new(raw.data(), raw.streamed());
    c.opts = opts;
    let tag = c
        .tag()
        .map_err(|message| ParseError { tag: None, message })?;
    let body = c.command_body().map_err(|message| ParseError {
        tag: Some(tag.clone()),
        message,
    })?;
    Ok(Command { tag, body })
}

/// Parses a `section-spec` (RFC 3501 9; what goes between `BODY[` and `]`) given alone,
/// as an IMAP URL's `;SECTION=` carries it (RFC 5092 5, after %-decoding).
pub fn parse_section_spec(spec: &[u8]) -> Result<crate::imap::command::Section, String> {
    let mut wrapped = Vec::with_capacity(spec.len() + 2);
    wrapped.push(b'[');
    wrapped.extend_from_slice(spec);
    wrapped.push(b']');
    let mut c = Cursor::new(&wrapped, &[]);
    let s = c.section()?;
    if !c.at_end() {
        return Err("bad section".to_owned());
    }
    Ok(s)
}

/// Parses complete wire bytes of one command (literals inline, CRLF optional). A helper
/// for tests (the server's too) and fuzzing.
pub fn parse_wire(input: &[u8]) -> Result<Command, ParseError> {
    parse_command(&RawCommand::from_bytes(input.to_vec()))
}

/// Parses the beginning of an APPEND command, `tag SP "APPEND" SP mailbox`, from the
/// prefix handed out with [`super::frame::Event::StreamStart`], so the server can refuse
/// a missing mailbox (`NO [TRYCREATE]`) before the client sends the message.
pub fn append_target(prefix: &[u8]) -> Result<(Tag, Mailbox), ParseError> {
    append_target_with(prefix, ParseOptions::default())
}

/// [`append_target`] for a session whose ENABLE changed the grammar ([`ParseOptions`]).
pub fn append_target_with(prefix: &[u8], opts: ParseOptions) -> Result<(Tag, Mailbox), ParseError> {
    let mut c = Cursor::new(prefix, &[]);
    c.opts = opts;
    let tag = c
        .tag()
        .map_err(|message| ParseError { tag: None, message })?;
    let r = (|| {
        c.sp()?;
        if c.eat_keyword("APPEND") {
            c.sp()?;
            return c.mailbox();
        }
        // RFC 8508: [UID SP] REPLACE SP seq-number SP mailbox.
        if c.eat_keyword("UID") {
            c.sp()?;
        }
        if !c.eat_keyword("REPLACE") {
            return Err("not an APPEND or REPLACE command".to_owned());
        }
        c.sp()?;
        c.seq_number()?;
        c.sp()?;
        c.mailbox()
    })();
    r.map(|m| (tag.clone(), m)).map_err(|message| ParseError {
        tag: Some(tag),
        message,
    })
}

/// RFC 3501 9: `base64 = *(4base64-char) [base64-terminal]`, `base64-char = ALPHA /
/// DIGIT / "+" / "/"`, `base64-terminal = (2base64-char "==") / (3base64-char "=")`.
/// `None` for anything else (white space, line breaks, missing padding).
fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(4)
        || !text
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
    {
        return None;
    }
    // The grammar says nothing of the bits the padding leaves over: allow them.
    const ENGINE: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
    );
    ENGINE.decode(text).ok()
}

/// A literal as found by the cursor.
pub(crate) enum Lit<'a> {
    Inline(&'a [u8]),
    Streamed { index: usize, size: u32 },
}

/// A position in a command's octets.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    streamed: &'a [StreamedLiteral],
    /// SEARCH keys parsed so far (bounded by MAX_SEARCH_KEYS).
    pub(crate) search_keys: usize,
    /// What ENABLE changed in the grammar.
    pub(crate) opts: ParseOptions,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8], streamed: &'a [StreamedLiteral]) -> Cursor<'a> {
        Cursor {
            buf,
            pos: 0,
            streamed,
            search_keys: 0,
            opts: ParseOptions::default(),
        }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub(crate) fn try_byte(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn expect(&mut self, b: u8) -> PResult<()> {
        if self.try_byte(b) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("'{}'", char::from(b))))
        }
    }

    /// An error naming what was expected and what was found.
    pub(crate) fn unexpected(&self, expected: &str) -> String {
        match self.peek() {
            None => format!("missing argument: expected {expected}"),
            Some(b) if b.is_ascii_graphic() => {
                format!("expected {expected} at '{}'", char::from(b))
            }
            Some(b) => format!("expected {expected} at octet 0x{b:02x}"),
        }
    }

    pub(crate) fn sp(&mut self) -> PResult<()> {
        if self.try_byte(b' ') {
            Ok(())
        } else {
            Err(self.unexpected("SP"))
        }
    }

    /// The end of the command.
    pub(crate) fn end(&self) -> PResult<()> {
        if self.at_end() {
            Ok(())
        } else {
            Err(self.unexpected("end of command"))
        }
    }

    pub(crate) fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        &self.buf[start..self.pos]
    }

    fn tag(&mut self) -> PResult<Tag> {
        let t = self.take_while(is_tag_char);
        if t.is_empty() {
            return Err("missing or invalid tag".to_owned());
        }
        if !matches!(self.peek(), Some(b' ') | None) {
            return Err("invalid character in tag".to_owned());
        }
        Tag::new(t).ok_or_else(|| "invalid tag".to_owned())
    }

    /// `atom = 1*ATOM-CHAR`.
    pub(crate) fn atom(&mut self) -> PResult<&'a str> {
        let a = self.take_while(is_atom_char);
        if a.is_empty() {
            return Err(self.unexpected("atom"));
        }
        std::str::from_utf8(a).map_err(|_| "invalid atom".to_owned())
    }

    /// A keyword of letters, digits, `.` and `-` (command names, FETCH and SEARCH items),
    /// uppercased.
    pub(crate) fn word(&mut self, what: &str) -> PResult<String> {
        let w = self.take_while(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        if w.is_empty() {
            return Err(self.unexpected(what));
        }
        Ok(String::from_utf8_lossy(w).to_ascii_uppercase())
    }

    /// Consumes `kw` (case-insensitive) if it is next and ends there.
    pub(crate) fn eat_keyword(&mut self, kw: &str) -> bool {
        let end = self.pos + kw.len();
        if end <= self.buf.len()
            && self.buf[self.pos..end].eq_ignore_ascii_case(kw.as_bytes())
            && !self.buf.get(end).copied().is_some_and(is_atom_char)
        {
            self.pos = end;
            true
        } else {
            false
        }
    }

    /// `number = 1*DIGIT` (fits u32).
    pub(crate) fn number(&mut self) -> PResult<u32> {
        let d = self.take_while(|b| b.is_ascii_digit());
        if d.is_empty() {
            return Err(self.unexpected("number"));
        }
        digits_u64(d)
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| "number out of range".to_owned())
    }

    /// `number64` (RFC 9051: fits 63 bits).
    pub(crate) fn number64(&mut self) -> PResult<u64> {
        let d = self.take_while(|b| b.is_ascii_digit());
        if d.is_empty() {
            return Err(self.unexpected("number"));
        }
        digits_u64(d)
            .filter(|&v| v <= i64::MAX as u64)
            .ok_or_else(|| "number out of range".to_owned())
    }

    /// `nz-number`.
    pub(crate) fn nz_number(&mut self) -> PResult<NonZeroU32> {
        NonZeroU32::new(self.number()?).ok_or_else(|| "number must not be 0".to_owned())
    }

    /// `quoted = DQUOTE *QUOTED-CHAR DQUOTE` (8-bit octets tolerated, CR LF NUL not).
    /// With UTF-8 on ([`ParseOptions::utf8`]) the 8-bit octets must be UTF-8
    /// (RFC 6855 3: `quoted =/ DQUOTE *uQUOTED-CHAR DQUOTE`, anything else `BAD`).
    fn quoted(&mut self) -> PResult<Cow<'a, [u8]>> {
        let q = self.quoted_octets()?;
        if self.opts.utf8 && !q.is_ascii() && std::str::from_utf8(&q).is_err() {
            return Err("quoted string is not valid UTF-8 (RFC 6855 section 3)".to_owned());
        }
        Ok(q)
    }

    fn quoted_octets(&mut self) -> PResult<Cow<'a, [u8]>> {
        self.expect(b'"')?;
        let start = self.pos;
        let mut owned: Option<Vec<u8>> = None;
        loop {
            let Some(b) = self.peek() else {
                return Err("unterminated quoted string".to_owned());
            };
            self.pos += 1;
            match b {
                b'"' => {
                    return Ok(match owned {
                        Some(v) => Cow::Owned(v),
                        None => Cow::Borrowed(&self.buf[start..self.pos - 1]),
                    })
                }
                b'\\' => {
                    let v = owned.get_or_insert_with(|| self.buf[start..self.pos - 1].to_vec());
                    match self.peek() {
                        Some(e @ (b'\\' | b'"')) => {
                            v.push(e);
                            self.pos += 1;
                        }
                        _ => return Err("invalid escape in quoted string".to_owned()),
                    }
                }
                b'\r' | b'\n' | 0 => return Err("invalid octet in quoted string".to_owned()),
                _ => {
                    if let Some(v) = owned.as_mut() {
                        v.push(b);
                    }
                }
            }
        }
    }

    /// `literal = "{" number ["+"] "}" CRLF *CHAR8`.
    pub(crate) fn literal(&mut self) -> PResult<Lit<'a>> {
        self.expect(b'{')?;
        let n = self.number()?;
        self.try_byte(b'+');
        self.expect(b'}')?;
        self.try_byte(b'\r');
        if !self.try_byte(b'\n') {
            return Err("literal announcement must end the line".to_owned());
        }
        if let Some(index) = self.streamed.iter().position(|s| s.offset == self.pos) {
            return Ok(Lit::Streamed { index, size: n });
        }
        let end = self.pos + n as usize;
        if end > self.buf.len() {
            return Err("literal data missing".to_owned());
        }
        let data = &self.buf[self.pos..end];
        self.pos = end;
        Ok(Lit::Inline(data))
    }

    /// `string = quoted / literal`.
    pub(crate) fn string(&mut self) -> PResult<Cow<'a, [u8]>> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') => match self.literal()? {
                Lit::Inline(d) => Ok(Cow::Borrowed(d)),
                Lit::Streamed { .. } => Err("unexpected streamed literal".to_owned()),
            },
            _ => Err(self.unexpected("string")),
        }
    }

    /// `astring = 1*ASTRING-CHAR / string`.
    pub(crate) fn astring(&mut self) -> PResult<Cow<'a, [u8]>> {
        match self.peek() {
            Some(b'"' | b'{') => self.string(),
            _ => {
                let a = self.take_while(is_astring_char);
                if a.is_empty() {
                    Err(self.unexpected("astring"))
                } else {
                    Ok(Cow::Borrowed(a))
                }
            }
        }
    }

    /// An astring that must be UTF-8.
    pub(crate) fn astring_utf8(&mut self, what: &str) -> PResult<String> {
        let a = self.astring()?;
        String::from_utf8(a.into_owned()).map_err(|_| format!("{what} is not valid UTF-8"))
    }

    /// `nstring = string / nil`.
    pub(crate) fn nstring(&mut self) -> PResult<Option<Cow<'a, [u8]>>> {
        if self.eat_keyword("NIL") {
            Ok(None)
        } else {
            self.string().map(Some)
        }
    }

    /// `mailbox = "INBOX" / astring`, decoded from modified UTF-7. Any astring parses: a
    /// name that is not valid modified UTF-7 is no syntax error but a name no mailbox has
    /// ([`Mailbox::invalid`], answered `NO` by the server).
    ///
    /// With UTF-8 on ([`ParseOptions::utf8`], RFC 6855 3, RFC 9051 5.1) the name is
    /// UTF-8 as sent, no modified UTF-7; octets that are not UTF-8 are a syntax error.
    pub(crate) fn mailbox(&mut self) -> PResult<Mailbox> {
        let raw = self.astring()?;
        if self.opts.utf8 {
            return String::from_utf8(raw.into_owned())
                .map(Mailbox::from_utf8)
                .map_err(|_| "mailbox name is not valid UTF-8".to_owned());
        }
        Ok(Mailbox::from_wire_lenient(&raw))
    }

    /// A LIST pattern or reference as text: modified UTF-7 decoded, or with UTF-8 on
    /// the UTF-8 as sent; `None` when it is neither (it matches no name).
    fn name_text(&self, raw: &[u8]) -> Option<String> {
        if self.opts.utf8 {
            std::str::from_utf8(raw).ok().map(str::to_owned)
        } else {
            mutf7::decode(raw).ok()
        }
    }

    /// `list-mailbox = 1*list-char / string`, decoded from modified UTF-7; `None` for one
    /// that is not valid modified UTF-7 (no syntax error: it matches no name).
    pub(crate) fn list_mailbox_lenient(&mut self) -> PResult<Option<String>> {
        let raw = match self.peek() {
            Some(b'"' | b'{') => self.string()?,
            _ => {
                let a = self.take_while(is_list_char);
                if a.is_empty() {
                    return Err(self.unexpected("mailbox pattern"));
                }
                Cow::Borrowed(a)
            }
        };
        Ok(self.name_text(&raw))
    }

    /// A mailbox reference (decoded, INBOX not normalised); `None` for one that is not
    /// valid modified UTF-7.
    pub(crate) fn reference_lenient(&mut self) -> PResult<Option<String>> {
        let raw = self.astring()?;
        Ok(self.name_text(&raw))
    }

    pub(crate) fn seq_number(&mut self) -> PResult<SeqNumber> {
        if self.try_byte(b'*') {
            return Ok(SeqNumber::Largest);
        }
        let d = self.take_while(|b| b.is_ascii_digit());
        if d.is_empty() {
            return Err(self.unexpected("sequence number"));
        }
        let v = digits_u64(d)
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| "sequence number out of range".to_owned())?;
        NonZeroU32::new(v)
            .map(SeqNumber::Value)
            .ok_or_else(|| "sequence number 0 is invalid".to_owned())
    }

    /// `sequence-set` (RFC 3501 9; see [`SequenceSet`]).
    pub(crate) fn sequence_set(&mut self) -> PResult<SequenceSet> {
        // RFC 5182: sequence-set =/ seq-last-command; seq-last-command = "$"
        if self.try_byte(b'$') {
            if self.peek().is_some_and(|b| b != b' ' && b != b')') {
                return Err(self.unexpected("end of sequence set after $"));
            }
            return Ok(SequenceSet::saved());
        }
        let mut ranges = Vec::new();
        loop {
            let from = self.seq_number()?;
            let to = if self.try_byte(b':') {
                self.seq_number()?
            } else {
                from
            };
            if self.peek() == Some(b':') {
                return Err("invalid sequence range".to_owned());
            }
            ranges.push(SeqRange { from, to });
            if !self.try_byte(b',') {
                break;
            }
        }
        if self.peek().is_some_and(|b| b != b' ' && b != b')') {
            return Err(self.unexpected("sequence set"));
        }
        SequenceSet::new(ranges).ok_or_else(|| "empty sequence set".to_owned())
    }

    /// `flag = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" /
    /// flag-keyword / flag-extension` (`\Recent` refused: it cannot be stored).
    pub(crate) fn flag(&mut self) -> PResult<Flag> {
        let start = self.pos;
        self.try_byte(b'\\');
        self.take_while(is_atom_char);
        let text = std::str::from_utf8(&self.buf[start..self.pos]).unwrap_or("");
        match Flag::from_wire(text) {
            Some(Flag::Recent) => Err("\\Recent cannot be set".to_owned()),
            Some(f) => Ok(f),
            None => {
                self.pos = start;
                Err(self.unexpected("flag"))
            }
        }
    }

    /// `flag-list = "(" [flag *(SP flag)] ")"`.
    pub(crate) fn flag_list(&mut self) -> PResult<Vec<Flag>> {
        self.expect(b'(')?;
        let mut flags = Vec::new();
        if self.try_byte(b')') {
            return Ok(flags);
        }
        loop {
            flags.push(self.flag()?);
            if self.try_byte(b')') {
                return Ok(flags);
            }
            self.sp()?;
        }
    }

    /// `date = date-text / DQUOTE date-text DQUOTE`;
    /// `date-text = date-day "-" date-month "-" date-year`; `date-day = 1*2DIGIT`.
    pub(crate) fn date(&mut self) -> PResult<Date> {
        let q = self.try_byte(b'"');
        let day = self.take_while(|b| b.is_ascii_digit());
        if day.is_empty() || day.len() > 2 {
            return Err(self.unexpected("date"));
        }
        let d = self.date_rest(day)?;
        if q {
            self.expect(b'"')?;
        }
        Ok(d)
    }

    fn date_rest(&mut self, day: &[u8]) -> PResult<Date> {
        self.expect(b'-')?;
        let month = self.take_while(|b| b.is_ascii_alphabetic());
        let month = month_from_name(month).ok_or_else(|| "invalid month".to_owned())?;
        self.expect(b'-')?;
        let year = self.take_while(|b| b.is_ascii_digit());
        if year.len() != 4 {
            return Err("invalid year".to_owned());
        }
        let day = digits_u64(day).and_then(|v| u8::try_from(v).ok());
        let year = digits_u64(year).and_then(|v| u16::try_from(v).ok());
        match (day, year) {
            (Some(day), Some(year)) => {
                Date::new(year, month, day).ok_or_else(|| "invalid date".to_owned())
            }
            _ => Err("invalid date".to_owned()),
        }
    }

    fn two_digits(&mut self) -> PResult<u8> {
        let d = self.take_while(|b| b.is_ascii_digit());
        if d.len() != 2 {
            return Err("invalid time".to_owned());
        }
        Ok((d[0] - b'0') * 10 + (d[1] - b'0'))
    }

    /// ```text
    /// date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE
    /// date-day-fixed = (SP DIGIT) / 2DIGIT
    /// time = 2DIGIT ":" 2DIGIT ":" 2DIGIT
    /// zone = ("+" / "-") 4DIGIT
    /// ```
    pub(crate) fn date_time(&mut self) -> PResult<DateTime> {
        self.expect(b'"')?;
        self.try_byte(b' ');
        let day = self.take_while(|b| b.is_ascii_digit());
        if day.is_empty() || day.len() > 2 {
            return Err("invalid date-time".to_owned());
        }
        let date = self.date_rest(day)?;
        self.sp()?;
        let h = self.two_digits()?;
        self.expect(b':')?;
        let m = self.two_digits()?;
        self.expect(b':')?;
        let s = self.two_digits()?;
        self.sp()?;
        let neg = match self.peek() {
            Some(b'+') => false,
            Some(b'-') => true,
            _ => return Err("invalid time zone".to_owned()),
        };
        self.pos += 1;
        let z4 = self.take_while(|b| b.is_ascii_digit());
        let [a, b, c, d] = z4 else {
            return Err("invalid time zone".to_owned());
        };
        let zh = (a - b'0') * 10 + (b - b'0');
        let zm = (c - b'0') * 10 + (d - b'0');
        if zm > 59 {
            return Err("invalid time zone".to_owned());
        }
        self.expect(b'"')?;
        let z = i16::from(zh) * 60 + i16::from(zm);
        DateTime::new(date, h, m, s, if neg { -z } else { z })
            .ok_or_else(|| "invalid date-time".to_owned())
    }

    /// `"(" item *(SP item) ")"` of STATUS items.
    pub(crate) fn status_items(&mut self) -> PResult<Vec<StatusItem>> {
        self.expect(b'(')?;
        let mut items = Vec::new();
        // RFC 3501 wants one item at least; `()` is harmless and imap-codec sends it.
        if self.try_byte(b')') {
            return Ok(items);
        }
        loop {
            let w = self.word("status item")?;
            items
                .push(StatusItem::from_name(&w).ok_or_else(|| format!("unknown status item {w}"))?);
            if self.try_byte(b')') {
                return Ok(items);
            }
            self.sp()?;
        }
    }

    fn command_body(&mut self) -> PResult<CommandBody> {
        self.sp()?;
        let name = self.word("command name")?;
        if !self.at_end() && self.peek() != Some(b' ') {
            return Err(format!("unknown command {name}"));
        }
        let body = match name.as_str() {
            "CAPABILITY" => CommandBody::Capability,
            "NOOP" => CommandBody::Noop,
            "LOGOUT" => CommandBody::Logout,
            "STARTTLS" => CommandBody::StartTls,
            "CHECK" => CommandBody::Check,
            "CLOSE" => CommandBody::Close,
            "UNSELECT" => CommandBody::Unselect,
            "UNAUTHENTICATE" => CommandBody::Unauthenticate,
            "EXPUNGE" => CommandBody::Expunge { uids: None },
            "IDLE" => CommandBody::Idle,
            "NAMESPACE" => CommandBody::Namespace,
            "AUTHENTICATE" => self.authenticate()?,
            "LOGIN" => {
                self.sp()?;
                let username = self.astring_utf8("user name")?;
                self.sp()?;
                let password = Secret::new(self.astring()?.into_owned());
                CommandBody::Login { username, password }
            }
            "SELECT" | "EXAMINE" => {
                self.sp()?;
                let mailbox = self.mailbox()?;
                let (condstore, qresync) = self.select_params()?;
                if name == "SELECT" {
                    CommandBody::Select {
                        mailbox,
                        condstore,
                        qresync,
                    }
                } else {
                    CommandBody::Examine {
                        mailbox,
                        condstore,
                        qresync,
                    }
                }
            }
            "CREATE" => {
                self.sp()?;
                let mailbox = self.mailbox()?;
                let special_use = self.create_params()?;
                CommandBody::Create {
                    mailbox,
                    special_use,
                }
            }
            "DELETE" => CommandBody::Delete {
                mailbox: self.sp_mailbox()?,
            },
            "SUBSCRIBE" => CommandBody::Subscribe {
                mailbox: self.sp_mailbox()?,
            },
            "UNSUBSCRIBE" => CommandBody::Unsubscribe {
                mailbox: self.sp_mailbox()?,
            },
            "RENAME" => {
                let from = self.sp_mailbox()?;
                let to = self.sp_mailbox()?;
                CommandBody::Rename { from, to }
            }
            "LIST" => self.list()?,
            "LSUB" => {
                self.sp()?;
                let reference = self.reference_lenient()?;
                self.sp()?;
                let pattern = self.list_mailbox_lenient()?;
                // Not valid modified UTF-7: matches no name (RFC 3501 6.3.9 allows an
                // empty answer), so no pattern at all.
                let pattern = reference.as_ref().and(pattern);
                CommandBody::Lsub {
                    reference: reference.unwrap_or_default(),
                    pattern,
                }
            }
            "STATUS" => {
                let mailbox = self.sp_mailbox()?;
                self.sp()?;
                let items = self.status_items()?;
                CommandBody::Status { mailbox, items }
            }
            "APPEND" => self.append()?,
            "REPLACE" => self.replace(false)?,
            "SEARCH" => self.search(false)?,
            "SORT" => self.sort(false)?,
            "THREAD" => self.thread(false)?,
            "FETCH" => self.fetch(false)?,
            "STORE" => self.store(false)?,
            "COPY" | "MOVE" => self.copy_move(&name, false)?,
            "UID" => {
                self.sp()?;
                let sub = self.word("UID command")?;
                match sub.as_str() {
                    "SEARCH" => self.search(true)?,
                    "SORT" => self.sort(true)?,
                    "THREAD" => self.thread(true)?,
                    "FETCH" => self.fetch(true)?,
                    "STORE" => self.store(true)?,
                    "COPY" | "MOVE" => self.copy_move(&sub, true)?,
                    "REPLACE" => self.replace(true)?,
                    "EXPUNGE" => {
                        self.sp()?;
                        CommandBody::Expunge {
                            uids: Some(self.sequence_set()?),
                        }
                    }
                    _ => return Err(format!("unknown command UID {sub}")),
                }
            }
            "ID" => self.id()?,
            "GETMETADATA" => self.getmetadata()?,
            "SETMETADATA" => self.setmetadata()?,
            "NOTIFY" => self.notify()?,
            "COMPRESS" => {
                // RFC 4978: `compress = "COMPRESS" SP algorithm`, `algorithm = atom`.
                self.sp()?;
                CommandBody::Compress {
                    mechanism: self.atom()?.to_ascii_uppercase(),
                }
            }
            // RFC 5267 5: `"CANCELUPDATE" 1*(SP quoted)`.
            "CANCELUPDATE" => {
                let mut tags = Vec::new();
                while self.try_byte(b' ') {
                    let t = self.quoted()?;
                    let t = String::from_utf8(t.into_owned())
                        .map_err(|_| "CANCELUPDATE tag is not UTF-8".to_owned())?;
                    tags.push(t);
                }
                if tags.is_empty() {
                    return Err(self.unexpected("quoted tag"));
                }
                CommandBody::CancelUpdate(tags)
            }
            "ENABLE" => {
                let mut caps = Vec::new();
                while self.try_byte(b' ') {
                    caps.push(self.atom()?.to_ascii_uppercase());
                }
                if caps.is_empty() {
                    return Err(self.unexpected("capability"));
                }
                CommandBody::Enable(caps)
            }
            "GETACL" => CommandBody::GetAcl {
                mailbox: self.sp_mailbox()?,
            },
            "MYRIGHTS" => CommandBody::MyRights {
                mailbox: self.sp_mailbox()?,
            },
            "SETACL" => {
                let mailbox = self.sp_mailbox()?;
                let identifier = self.sp_identifier()?;
                self.sp()?;
                let r = self.astring_utf8("rights")?;
                let rights = if let Some(r) = r.strip_prefix('+') {
                    RightsChange::Add(valid_rights(r)?)
                } else if let Some(r) = r.strip_prefix('-') {
                    RightsChange::Remove(valid_rights(r)?)
                } else {
                    RightsChange::Replace(valid_rights(&r)?)
                };
                CommandBody::SetAcl {
                    mailbox,
                    identifier,
                    rights,
                }
            }
            "DELETEACL" => {
                let mailbox = self.sp_mailbox()?;
                let identifier = self.sp_identifier()?;
                CommandBody::DeleteAcl {
                    mailbox,
                    identifier,
                }
            }
            "LISTRIGHTS" => {
                let mailbox = self.sp_mailbox()?;
                let identifier = self.sp_identifier()?;
                CommandBody::ListRights {
                    mailbox,
                    identifier,
                }
            }
            "GETQUOTA" => {
                self.sp()?;
                CommandBody::GetQuota {
                    root: self.astring_utf8("quota root")?,
                }
            }
            "GETQUOTAROOT" => CommandBody::GetQuotaRoot {
                mailbox: self.sp_mailbox()?,
            },
            "SETQUOTA" => self.setquota()?,
            _ => return Err(format!("unknown command {name}")),
        };
        self.end()?;
        Ok(body)
    }

    fn sp_mailbox(&mut self) -> PResult<Mailbox> {
        self.sp()?;
        self.mailbox()
    }

    fn sp_identifier(&mut self) -> PResult<String> {
        self.sp()?;
        let id = self.astring_utf8("identifier")?;
        if id.is_empty() || id == "-" {
            return Err("empty identifier".to_owned());
        }
        Ok(id)
    }

    /// `authenticate = "AUTHENTICATE" SP auth-type [SP (base64 / "=")]` (RFC 4959).
    fn authenticate(&mut self) -> PResult<CommandBody> {
        self.sp()?;
        let mechanism = self.atom()?.to_ascii_uppercase();
        let initial_response = if self.try_byte(b' ') {
            if self.try_byte(b'=') {
                Some(Secret::new(Vec::new()))
            } else {
                let b = self
                    .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
                if b.is_empty() {
                    return Err(self.unexpected("base64 initial response"));
                }
                let v = base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .map_err(|_| "invalid base64 in initial response".to_owned())?;
                Some(Secret::new(v))
            }
        } else {
            None
        };
        Ok(CommandBody::Authenticate {
            mechanism,
            initial_response,
        })
    }

    /// `select-params = SP "(" select-param *(SP select-param) ")"`: `CONDSTORE`
    /// (RFC 7162 3.1) and `QRESYNC (...)` (RFC 7162 3.2.5, [`QResync`]), each at most once.
    fn select_params(&mut self) -> PResult<(bool, Option<QResync>)> {
        let mut condstore = false;
        let mut qresync = None;
        if self.try_byte(b' ') {
            self.expect(b'(')?;
            if self.try_byte(b')') {
                return Ok((false, None));
            }
            loop {
                let w = self.word("SELECT parameter")?;
                match w.as_str() {
                    "CONDSTORE" if condstore => return Err("duplicate CONDSTORE".to_owned()),
                    "CONDSTORE" => condstore = true,
                    "QRESYNC" if qresync.is_some() => return Err("duplicate QRESYNC".to_owned()),
                    "QRESYNC" => {
                        self.sp()?;
                        qresync = Some(self.qresync()?);
                    }
                    _ => return Err(format!("unknown SELECT parameter {w}")),
                }
                if self.try_byte(b')') {
                    break;
                }
                self.sp()?;
            }
        }
        Ok((condstore, qresync))
    }

    /// The parenthesised QRESYNC parameter (RFC 7162 3.2.5, [`QResync`]).
    fn qresync(&mut self) -> PResult<QResync> {
        self.expect(b'(')?;
        let uid_validity = self.nz_number()?.get();
        self.sp()?;
        let modseq = self.number64()?;
        if modseq == 0 {
            return Err("mod-sequence-value must be positive".to_owned());
        }
        let no_star = |s: SequenceSet| -> PResult<SequenceSet> {
            if s.has_largest() {
                Err("* is not allowed in known UIDs or sequence numbers".to_owned())
            } else if s.is_saved() {
                Err("$ is not allowed in known UIDs or sequence numbers".to_owned())
            } else {
                Ok(s)
            }
        };
        let mut known_uids = None;
        let mut seq_match = None;
        if self.try_byte(b' ') {
            if self.peek() != Some(b'(') {
                known_uids = Some(no_star(self.sequence_set()?)?);
                if self.try_byte(b' ') {
                    self.expect(b'(')?;
                } else {
                    self.expect(b')')?;
                    return Ok(QResync {
                        uid_validity,
                        modseq,
                        known_uids,
                        seq_match,
                    });
                }
            } else {
                self.expect(b'(')?;
            }
            let seqs = no_star(self.sequence_set()?)?;
            self.sp()?;
            let uids = no_star(self.sequence_set()?)?;
            self.expect(b')')?;
            seq_match = Some((seqs, uids));
        }
        self.expect(b')')?;
        Ok(QResync {
            uid_validity,
            modseq,
            known_uids,
            seq_match,
        })
    }

    /// `create-param = "USE" SP "(" [use-attr *(SP use-attr)] ")"` (RFC 6154).
    fn create_params(&mut self) -> PResult<Vec<String>> {
        let mut attrs = Vec::new();
        if self.try_byte(b' ') {
            self.expect(b'(')?;
            if !self.eat_keyword("USE") {
                return Err(self.unexpected("USE"));
            }
            self.sp()?;
            self.expect(b'(')?;
            if !self.try_byte(b')') {
                loop {
                    self.expect(b'\\')?;
                    let a = self.atom()?;
                    attrs.push(format!("\\{a}"));
                    if self.try_byte(b')') {
                        break;
                    }
                    self.sp()?;
                }
            }
            self.expect(b')')?;
        }
        Ok(attrs)
    }

    /// ```text
    /// copy = "COPY" SP sequence-set SP mailbox [SP "ENCRYPTED" SP certificate-data]
    /// move = "MOVE" SP sequence-set SP mailbox [SP "ENCRYPTED" SP certificate-data]
    /// ```
    /// (RFC 3501 6.4.7, RFC 6851 3.1; `ENCRYPTED` is seed 001's, I13: "The ENCRYPTED
    /// certificateData parameter can be specified after the target mailbox name"; see
    /// [`Cursor::certificate_data`]).
    fn copy_move(&mut self, name: &str, uid: bool) -> PResult<CommandBody> {
        self.sp()?;
        let set = self.sequence_set()?;
        let mailbox = self.sp_mailbox()?;
        let encrypt = if self.try_byte(b' ') {
            if !self.eat_keyword("ENCRYPTED") {
                return Err(self.unexpected("ENCRYPTED"));
            }
            self.sp()?;
            Some(self.certificate_data()?)
        } else {
            None
        };
        Ok(if name == "COPY" {
            CommandBody::Copy {
                uid,
                set,
                mailbox,
                encrypt,
            }
        } else {
            CommandBody::Move {
                uid,
                set,
                mailbox,
                encrypt,
            }
        })
    }

    /// ```text
    /// certificate-data = "*" / astring
    ///     ; the astring's value is 1*(4base64-char) / ... (RFC 3501 `base64`, not
    ///     ; empty): a DER X.509 certificate, base64-encoded
    /// ```
    /// Seed 001 (I13): "certificateData is either a base64-encoded PKI Certificate, or
    /// the asterisk (*) symbol, referring to the personal S/MIME Certificate of the
    /// authenticated user". `*` is no ATOM-CHAR, so the two cannot be confused. Text
    /// that is not base64 fails the grammar (BAD); whether the octets are a certificate
    /// is the server's question (NO).
    fn certificate_data(&mut self) -> PResult<CertificateData> {
        if self.try_byte(b'*') {
            return Ok(CertificateData::Own);
        }
        let text = self.astring()?;
        let der = decode_base64(&text).ok_or_else(|| {
            "certificate data is neither * nor base64 (RFC 3501 base64, no line breaks)".to_owned()
        })?;
        if der.is_empty() {
            return Err("certificate data is empty".to_owned());
        }
        Ok(CertificateData::Der(der))
    }

    /// ```text
    /// id = "ID" SP id-params-list
    /// id-params-list = "(" *(string SP nstring) ")" / nil
    /// ```
    /// At most 30 pairs (RFC 2971 3.3).
    fn id(&mut self) -> PResult<CommandBody> {
        self.sp()?;
        if self.eat_keyword("NIL") {
            return Ok(CommandBody::Id(None));
        }
        self.expect(b'(')?;
        let mut pairs = Vec::new();
        if !self.try_byte(b')') {
            loop {
                if pairs.len() == 30 {
                    return Err("too many ID fields".to_owned());
                }
                let k = String::from_utf8_lossy(&self.string()?).into_owned();
                self.sp()?;
                let v = self
                    .nstring()?
                    .map(|v| String::from_utf8_lossy(&v).into_owned());
                pairs.push((k, v));
                if self.try_byte(b')') {
                    break;
                }
                self.sp()?;
            }
        }
        Ok(CommandBody::Id(Some(pairs)))
    }

    /// ```text
    /// setquota = "SETQUOTA" SP quota-root-name SP setquota-list
    /// setquota-list = "(" [setquota-resource *(SP setquota-resource)] ")"
    /// setquota-resource = resource-name SP number64
    /// ```
    fn setquota(&mut self) -> PResult<CommandBody> {
        self.sp()?;
        let root = self.astring_utf8("quota root")?;
        self.sp()?;
        self.expect(b'(')?;
        let mut limits = Vec::new();
        if !self.try_byte(b')') {
            loop {
                let r = self.atom()?.to_ascii_uppercase();
                self.sp()?;
                let n = self.number64()?;
                limits.push((r, n));
                if self.try_byte(b')') {
                    break;
                }
                self.sp()?;
            }
        }
        Ok(CommandBody::SetQuota { root, limits })
    }
}

/// RFC 4314: rights are lowercase letters and digits.
fn valid_rights(r: &str) -> PResult<String> {
    if r.bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        Ok(r.to_owned())
    } else {
        Err(format!("invalid rights {r:?}"))
    }
}

fn digits_u64(d: &[u8]) -> Option<u64> {
    d.iter().try_fold(0u64, |acc, &b| {
        acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}
