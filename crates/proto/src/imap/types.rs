//! Value types of the IMAP grammar that cannot hold invalid values.
//!
//! What lives here: [`Tag`], [`Mailbox`], [`SequenceSet`], [`Flag`], [`Date`],
//! [`DateTime`], [`Secret`] and the character classes of RFC 3501 section 9. Each type is
//! built only through a validating constructor (or the parser), so the server never sees
//! a tag with a space, a sequence number `0` or a mailbox name that is not valid UTF-8.
//! What does not: the command AST ([`super::command`]) and the parsers ([`super::parse`]).

use std::fmt;
use std::num::NonZeroU32;

use super::mutf7;

/// `CTL`: %x00-1F / %x7F.
pub(crate) fn is_ctl(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

/// `ATOM-CHAR = <any CHAR except atom-specials>`;
/// `atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials / resp-specials`.
pub(crate) fn is_atom_char(b: u8) -> bool {
    b.is_ascii()
        && !is_ctl(b)
        && !matches!(
            b,
            b'(' | b')' | b'{' | b' ' | b'%' | b'*' | b'"' | b'\\' | b']'
        )
}

/// `ASTRING-CHAR = ATOM-CHAR / resp-specials`.
pub(crate) fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

/// `tag = 1*<any ASTRING-CHAR except "+">`.
pub(crate) fn is_tag_char(b: u8) -> bool {
    is_astring_char(b) && b != b'+'
}

/// `list-char = ATOM-CHAR / list-wildcards / resp-specials`.
pub(crate) fn is_list_char(b: u8) -> bool {
    is_astring_char(b) || b == b'%' || b == b'*'
}

/// A command tag (RFC 3501: `tag = 1*<any ASTRING-CHAR except "+">`), at most 64 octets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tag(String);

impl Tag {
    /// The longest tag we accept.
    pub const MAX_LEN: usize = 64;

    /// Validates a tag.
    pub fn new(s: &[u8]) -> Option<Tag> {
        if s.is_empty() || s.len() > Tag::MAX_LEN || !s.iter().all(|&b| is_tag_char(b)) {
            return None;
        }
        // All tag chars are ASCII.
        std::str::from_utf8(s).ok().map(|s| Tag(s.to_owned()))
    }

    /// The tag text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A mailbox name decoded from modified UTF-7 (RFC 3501 5.1, 5.1.3).
///
/// `INBOX` in any case is normalised to `INBOX`; every other name is kept as sent
/// (decoded). Hierarchy rules (delimiter, `..`, empty levels) are the server's business.
///
/// A name that is a valid `astring` but not valid modified UTF-7 is not a syntax error
/// (the command parses; the server answers `NO`): it is kept as [`Mailbox::invalid`], with
/// its wire octets (lossily as text) for messages only.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox(String, Option<mutf7::Mutf7Error>);

impl Mailbox {
    /// Builds a mailbox name from its wire form (modified UTF-7).
    pub fn from_wire(raw: &[u8]) -> Result<Mailbox, mutf7::Mutf7Error> {
        let s = mutf7::decode(raw)?;
        Ok(Mailbox::from_utf8(s))
    }

    /// Builds a mailbox name from its wire form; a name that is not valid modified
    /// UTF-7 is kept, marked [`Mailbox::invalid`].
    pub fn from_wire_lenient(raw: &[u8]) -> Mailbox {
        match mutf7::decode(raw) {
            Ok(s) => Mailbox::from_utf8(s),
            Err(e) => Mailbox(String::from_utf8_lossy(raw).into_owned(), Some(e)),
        }
    }

    /// Builds a mailbox name from UTF-8 (normalising INBOX).
    pub fn from_utf8(s: String) -> Mailbox {
        if s.eq_ignore_ascii_case("INBOX") {
            Mailbox("INBOX".to_owned(), None)
        } else {
            Mailbox(s, None)
        }
    }

    /// Why the name is not valid modified UTF-7, for a name no mailbox can have.
    pub fn invalid(&self) -> Option<mutf7::Mutf7Error> {
        self.1
    }

    /// The decoded UTF-8 name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the INBOX.
    pub fn is_inbox(&self) -> bool {
        self.0 == "INBOX"
    }

    /// Whether the name holds the LIST wildcards `*` or `%` (refused by CREATE servers).
    pub fn has_wildcards(&self) -> bool {
        self.0.contains(['*', '%'])
    }

    /// The wire form (modified UTF-7).
    pub fn to_wire(&self) -> String {
        mutf7::encode(&self.0)
    }
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A credential that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps secret octets.
    pub fn new(v: Vec<u8>) -> Secret {
        Secret(v)
    }

    /// The secret octets.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// One end of a sequence range: a number or `*` (the largest number in use).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqNumber {
    /// `nz-number`.
    Value(NonZeroU32),
    /// `*`.
    Largest,
}

impl SeqNumber {
    /// Resolves `*` against the largest number in use.
    pub fn resolve(self, largest: u32) -> u32 {
        match self {
            SeqNumber::Value(v) => v.get(),
            SeqNumber::Largest => largest,
        }
    }
}

/// A `seq-number` or `seq-range` of a sequence set. `a:b` and `b:a` are the same range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SeqRange {
    /// First end as sent.
    pub from: SeqNumber,
    /// Second end as sent (equal to `from` for a single number).
    pub to: SeqNumber,
}

impl SeqRange {
    /// The range as `(low, high)` with `*` resolved against `largest`.
    pub fn resolve(&self, largest: u32) -> (u32, u32) {
        let a = self.from.resolve(largest);
        let b = self.to.resolve(largest);
        (a.min(b), a.max(b))
    }
}

/// A non-empty sequence set (RFC 3501 9):
///
/// ```text
/// sequence-set    = (seq-number / seq-range) *("," sequence-set)
/// seq-number      = nz-number / "*"
/// seq-range       = seq-number ":" seq-number
/// ```
///
/// `0`, numbers above `u32::MAX` and `1:*:2` are refused by the parser.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SequenceSet(Vec<SeqRange>);

impl SequenceSet {
    /// Builds a set from ranges; `None` when empty.
    pub fn new(ranges: Vec<SeqRange>) -> Option<SequenceSet> {
        if ranges.is_empty() {
            None
        } else {
            Some(SequenceSet(ranges))
        }
    }

    /// A set of one number.
    pub fn single(n: NonZeroU32) -> SequenceSet {
        SequenceSet(vec![SeqRange {
            from: SeqNumber::Value(n),
            to: SeqNumber::Value(n),
        }])
    }

    /// The ranges as sent.
    pub fn ranges(&self) -> &[SeqRange] {
        &self.0
    }

    /// Whether `n` is in the set, `*` meaning `largest`.
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        self.0.iter().any(|r| {
            let (lo, hi) = r.resolve(largest);
            lo <= n && n <= hi
        })
    }

    /// Sorted, merged `(low, high)` ranges with `*` resolved against `largest`.
    pub fn normalized(&self, largest: u32) -> Vec<(u32, u32)> {
        let mut v: Vec<(u32, u32)> = self.0.iter().map(|r| r.resolve(largest)).collect();
        v.sort_unstable();
        let mut out: Vec<(u32, u32)> = Vec::with_capacity(v.len());
        for (lo, hi) in v {
            match out.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => out.push((lo, hi)),
            }
        }
        out
    }

    /// `$` (RFC 5182 `seq-last-command`): the saved search result. It is held as a set
    /// without ranges, which matches nothing: the server replaces it with the saved
    /// result before use.
    pub fn saved() -> SequenceSet {
        SequenceSet(Vec::new())
    }

    /// Whether this is `$`, the saved search result (RFC 5182).
    pub fn is_saved(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the set mentions `*`.
    pub fn has_largest(&self) -> bool {
        self.0
            .iter()
            .any(|r| r.from == SeqNumber::Largest || r.to == SeqNumber::Largest)
    }
}

impl fmt::Display for SequenceSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_saved() {
            return f.write_str("$");
        }
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let w = |n: SeqNumber, f: &mut fmt::Formatter<'_>| match n {
                SeqNumber::Value(v) => write!(f, "{v}"),
                SeqNumber::Largest => f.write_str("*"),
            };
            w(r.from, f)?;
            if r.to != r.from {
                f.write_str(":")?;
                w(r.to, f)?;
            }
        }
        Ok(())
    }
}

/// A message flag or keyword (RFC 3501 2.3.2, `flag` and `flag-fetch`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Flag {
    /// `\Answered`.
    Answered,
    /// `\Flagged`.
    Flagged,
    /// `\Deleted`.
    Deleted,
    /// `\Seen`.
    Seen,
    /// `\Draft`.
    Draft,
    /// `\Recent` (only in SEARCH/FETCH answers; refused in STORE and APPEND).
    Recent,
    /// `flag-keyword = atom` (e.g. `$MDN`, `$Media`, `Junk`), case as sent.
    Keyword(String),
    /// `flag-extension = "\" atom`, without the backslash.
    Extension(String),
}

impl Flag {
    /// Parses a flag from its wire text (`\Seen`, `$MDN`, ...). `None` if not a flag.
    pub fn from_wire(s: &str) -> Option<Flag> {
        if let Some(rest) = s.strip_prefix('\\') {
            if rest.is_empty() || !rest.bytes().all(is_atom_char) {
                return None;
            }
            Some(match rest.to_ascii_lowercase().as_str() {
                "answered" => Flag::Answered,
                "flagged" => Flag::Flagged,
                "deleted" => Flag::Deleted,
                "seen" => Flag::Seen,
                "draft" => Flag::Draft,
                "recent" => Flag::Recent,
                _ => Flag::Extension(rest.to_owned()),
            })
        } else if !s.is_empty() && s.bytes().all(is_atom_char) {
            Some(Flag::Keyword(s.to_owned()))
        } else {
            None
        }
    }

    /// The wire text of the flag.
    pub fn as_wire(&self) -> std::borrow::Cow<'_, str> {
        use std::borrow::Cow;
        match self {
            Flag::Answered => Cow::Borrowed("\\Answered"),
            Flag::Flagged => Cow::Borrowed("\\Flagged"),
            Flag::Deleted => Cow::Borrowed("\\Deleted"),
            Flag::Seen => Cow::Borrowed("\\Seen"),
            Flag::Draft => Cow::Borrowed("\\Draft"),
            Flag::Recent => Cow::Borrowed("\\Recent"),
            Flag::Keyword(k) => Cow::Borrowed(k.as_str()),
            Flag::Extension(e) => Cow::Owned(format!("\\{e}")),
        }
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_wire())
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Month number (1-12) from its three-letter name, case-insensitive.
pub(crate) fn month_from_name(s: &[u8]) -> Option<u8> {
    MONTHS
        .iter()
        .position(|m| m.as_bytes().eq_ignore_ascii_case(s))
        .and_then(|i| u8::try_from(i + 1).ok())
}

/// The three-letter name of a month (1-12).
pub(crate) fn month_name(m: u8) -> &'static str {
    MONTHS
        .get(usize::from(m.clamp(1, 12)) - 1)
        .copied()
        .unwrap_or("Jan")
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 0,
    }
}

/// A calendar date (`date-text = date-day "-" date-month "-" date-year`), validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    /// A valid date, or `None` (e.g. 30-Feb).
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        if (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month) {
            Some(Date { year, month, day })
        } else {
            None
        }
    }

    /// The year.
    pub fn year(&self) -> u16 {
        self.year
    }

    /// The month (1-12).
    pub fn month(&self) -> u8 {
        self.month
    }

    /// The day of the month (1-31).
    pub fn day(&self) -> u8 {
        self.day
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_epoch(&self) -> i64 {
        // Howard Hinnant's days_from_civil.
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = if y >= 0 { y } else { y - 399 } / 400;
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date of a day count since 1970-01-01.
    pub fn from_days_since_epoch(z: i64) -> Option<Date> {
        let z = z + 719_468;
        let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        Date::new(
            u16::try_from(y).ok()?,
            u8::try_from(m).ok()?,
            u8::try_from(d).ok()?,
        )
    }
}

impl fmt::Display for Date {
    /// `1-Feb-1994`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}-{:04}",
            self.day,
            month_name(self.month),
            self.year
        )
    }
}

/// An IMAP `date-time`, validated:
///
/// ```text
/// date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE
/// zone      = ("+" / "-") 4DIGIT
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    date: Date,
    hour: u8,
    minute: u8,
    second: u8,
    /// Offset from UTC in minutes.
    zone: i16,
}

impl DateTime {
    /// A valid date-time (`zone` in minutes east of UTC, at most ±99:59).
    pub fn new(date: Date, hour: u8, minute: u8, second: u8, zone: i16) -> Option<DateTime> {
        if hour > 23 || minute > 59 || second > 60 || !(-5999..=5999).contains(&zone) {
            return None;
        }
        Some(DateTime {
            date,
            hour,
            minute,
            second,
            zone,
        })
    }

    /// The date-time of a Unix timestamp, shown in the zone `zone` (minutes east of UTC).
    pub fn from_unix(secs: i64, zone: i16) -> Option<DateTime> {
        let local = secs.checked_add(i64::from(zone) * 60)?;
        let days = local.div_euclid(86_400);
        let rem = local.rem_euclid(86_400);
        let date = Date::from_days_since_epoch(days)?;
        DateTime::new(
            date,
            u8::try_from(rem / 3600).ok()?,
            u8::try_from(rem % 3600 / 60).ok()?,
            u8::try_from(rem % 60).ok()?,
            zone,
        )
    }

    /// Seconds since the Unix epoch.
    pub fn to_unix(&self) -> i64 {
        self.date.days_since_epoch() * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - i64::from(self.zone) * 60
    }

    /// The date part.
    pub fn date(&self) -> Date {
        self.date
    }

    /// The zone offset in minutes east of UTC.
    pub fn zone_minutes(&self) -> i16 {
        self.zone
    }
}

impl fmt::Display for DateTime {
    /// `17-Jul-1996 02:44:25 -0700` (without the quotes; `date-day-fixed` pads with SP).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.zone < 0 { '-' } else { '+' };
        let z = self.zone.unsigned_abs();
        write!(
            f,
            "{:>2}-{}-{:04} {:02}:{:02}:{:02} {}{:02}{:02}",
            self.date.day,
            month_name(self.date.month),
            self.date.year,
            self.hour,
            self.minute,
            self.second,
            sign,
            z / 60,
            z % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert!(Date::new(2024, 2, 29).is_some());
        assert!(Date::new(2023, 2, 29).is_none());
        assert!(Date::new(2023, 13, 1).is_none());
        let d = Date::new(1996, 7, 17).into_iter().next();
        let d = d.map(|d| d.days_since_epoch());
        assert_eq!(d, Some(9694));
        assert_eq!(Date::from_days_since_epoch(9694), Date::new(1996, 7, 17));
        let dt = Date::new(1996, 7, 17).and_then(|d| DateTime::new(d, 2, 44, 25, -420));
        assert_eq!(
            dt.map(|d| d.to_string()).as_deref(),
            Some("17-Jul-1996 02:44:25 -0700")
        );
        assert_eq!(dt.map(|d| d.to_unix()), Some(837_596_665));
        let back = DateTime::from_unix(837_596_665, -420);
        assert_eq!(back, dt);
        let d = Date::new(1994, 2, 1).map(|d| DateTime::new(d, 0, 0, 0, 0));
        assert_eq!(
            d.flatten().map(|d| d.to_string()).as_deref(),
            Some(" 1-Feb-1994 00:00:00 +0000")
        );
    }

    #[test]
    fn seqset_normalize() {
        let n = |v: u32| SeqNumber::Value(NonZeroU32::new(v).unwrap_or(NonZeroU32::MIN));
        let s = SequenceSet::new(vec![
            SeqRange {
                from: n(5),
                to: n(3),
            },
            SeqRange {
                from: n(1),
                to: n(1),
            },
            SeqRange {
                from: n(7),
                to: SeqNumber::Largest,
            },
        ]);
        let s = s.into_iter().next();
        assert_eq!(
            s.as_ref().map(|s| s.normalized(6)),
            Some(vec![(1, 1), (3, 7)])
        );
        assert_eq!(s.map(|s| s.to_string()).as_deref(), Some("5:3,1,7:*"));
    }
}
