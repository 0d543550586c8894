//! The UIDL format (`pop3.uidl_format`), Dovecot style: `%v` is the mailbox UIDVALIDITY,
//! `%u` the message UID; a `X`/`x` modifier prints them in upper/lower-case hex, none in
//! decimal; `0` and a width pad (`%08Xv`); `%%` is a percent sign. `{uidvalidity}` and
//! `{uid}` are accepted as decimal spellings. The default `%08Xv%08Xu` gives Dovecot's
//! ids, stable across sessions, restarts and index rebuilds because UIDVALIDITY and UIDs
//! are (store invariant).
//!
//! RFC 1939 section 7: a unique-id is 1 to 70 characters in 0x21..=0x7E; characters
//! outside that range in the format are dropped, and a format without the UID falls back
//! to the default (the ids would not be unique).

/// One piece of a parsed format.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Lit(String),
    Var {
        uid: bool,
        hex: Option<bool>,
        width: usize,
        zero: bool,
    },
}

/// A parsed UIDL format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UidlFormat(Vec<Piece>);

/// The default format.
pub const DEFAULT: &str = "%08Xv%08Xu";

impl UidlFormat {
    /// Parses a format; an unusable one gives the default.
    pub fn parse(fmt: &str) -> UidlFormat {
        Self::try_parse(fmt).unwrap_or_else(|| {
            tracing::warn!(format = fmt, "unusable pop3.uidl_format, using {DEFAULT}");
            Self::try_parse(DEFAULT).unwrap_or(UidlFormat(Vec::new()))
        })
    }

    fn try_parse(fmt: &str) -> Option<UidlFormat> {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut rest = fmt;
        while let Some(c) = rest.chars().next() {
            if let Some(r) = rest.strip_prefix("{uidvalidity}") {
                flush(&mut lit, &mut pieces);
                pieces.push(var(false, None, 0, false));
                rest = r;
            } else if let Some(r) = rest.strip_prefix("{uid}") {
                flush(&mut lit, &mut pieces);
                pieces.push(var(true, None, 0, false));
                rest = r;
            } else if c == '%' {
                let spec = &rest[1..];
                if let Some(r) = spec.strip_prefix('%') {
                    lit.push('%');
                    rest = r;
                    continue;
                }
                let zero = spec.starts_with('0');
                let digits = spec.bytes().take_while(u8::is_ascii_digit).count();
                let width: usize = spec[..digits].parse().unwrap_or(0).min(20);
                let spec = &spec[digits..];
                let (hex, spec) = match spec.chars().next() {
                    Some('X') => (Some(true), &spec[1..]),
                    Some('x') => (Some(false), &spec[1..]),
                    _ => (None, spec),
                };
                let uid = match spec.chars().next() {
                    Some('u') => true,
                    Some('v') => false,
                    _ => return None,
                };
                flush(&mut lit, &mut pieces);
                pieces.push(var(uid, hex, width, zero));
                rest = &spec[1..];
            } else {
                if (0x21..=0x7e).contains(&(c as u32)) {
                    lit.push(c);
                }
                rest = &rest[c.len_utf8()..];
            }
        }
        flush(&mut lit, &mut pieces);
        let has_uid = pieces
            .iter()
            .any(|p| matches!(p, Piece::Var { uid: true, .. }));
        has_uid.then_some(UidlFormat(pieces))
    }

    /// The unique-id of message `uid` in a mailbox of `uid_validity` (at most 70
    /// characters).
    pub fn render(&self, uid_validity: u32, uid: u32) -> String {
        let mut s = String::new();
        for p in &self.0 {
            match p {
                Piece::Lit(l) => s.push_str(l),
                Piece::Var {
                    uid: is_uid,
                    hex,
                    width,
                    zero,
                } => {
                    let v = if *is_uid { uid } else { uid_validity };
                    let w = *width;
                    let t = match (hex, zero) {
                        (Some(true), true) => format!("{v:0w$X}"),
                        (Some(true), false) => format!("{v:w$X}"),
                        (Some(false), true) => format!("{v:0w$x}"),
                        (Some(false), false) => format!("{v:w$x}"),
                        (None, true) => format!("{v:0w$}"),
                        (None, false) => format!("{v:w$}"),
                    };
                    // Space padding is not allowed in a unique-id.
                    s.push_str(t.trim_start());
                }
            }
        }
        s.truncate(70);
        s
    }
}

fn var(uid: bool, hex: Option<bool>, width: usize, zero: bool) -> Piece {
    Piece::Var {
        uid,
        hex,
        width,
        zero,
    }
}

fn flush(lit: &mut String, pieces: &mut Vec<Piece>) {
    if !lit.is_empty() {
        pieces.push(Piece::Lit(std::mem::take(lit)));
    }
}
