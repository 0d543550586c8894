//! POP3 command grammar: RFC 1939 (USER, PASS, APOP, STAT, LIST, RETR, DELE, NOOP, RSET,
//! QUIT, TOP, UIDL), RFC 2449 (CAPA), RFC 2595 section 4 (STLS), RFC 5034 (AUTH), the
//! `XTND XMIT` submission extension (Eudora, CommuniGate Pro; no RFC), plus
//! the base64 coding of SASL challenges and responses (RFC 5034 section 4).
//!
//! Pure functions over bytes: [`parse_command`] turns one command line (without CRLF) into
//! a [`Command`] whose arguments are already validated (message numbers are `1..=u32::MAX`,
//! line counts are non-negative). The session that drives them, with its states, lives in
//! `mailroom-server` (`pop3`).
//!
//! Does not live here: which command is allowed in which state (the session's table),
//! message numbering, credentials.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use std::fmt;

/// Longest command line accepted, CRLF excluded. RFC 2449 section 4 says 255 octets per
/// argument and 512 octets per command line; we allow twice that, so a long SASL initial
/// response still fits.
pub const MAX_LINE: usize = 1024;

/// Longest argument (RFC 2449 section 4: 255 octets), except SASL data and PASS.
pub const MAX_ARG: usize = 255;

/// A parsed POP3 command.
#[derive(Clone, PartialEq, Eq)]
pub enum Command {
    /// `USER name` (RFC 1939 section 7).
    User(String),
    /// `PASS string` (RFC 1939 section 7); the rest of the line, spaces included.
    Pass(String),
    /// `APOP name digest` (RFC 1939 section 7); the digest is 32 hex digits, lower-cased.
    Apop { name: String, digest: String },
    /// `AUTH [mechanism [initial-response]]` (RFC 5034 section 4; a bare `AUTH` lists the
    /// mechanisms, a common extension). The initial response is kept as sent (`=` is an
    /// empty one), decode it with [`decode_response`].
    Auth {
        mechanism: Option<String>,
        initial: Option<String>,
    },
    /// `STAT` (RFC 1939 section 5).
    Stat,
    /// `LIST [msg]`.
    List(Option<u32>),
    /// `RETR msg`.
    Retr(u32),
    /// `DELE msg`.
    Dele(u32),
    /// `NOOP`.
    Noop,
    /// `RSET`.
    Rset,
    /// `QUIT`.
    Quit,
    /// `TOP msg n` (RFC 1939 section 7).
    Top { msg: u32, lines: u64 },
    /// `UIDL [msg]` (RFC 1939 section 7).
    Uidl(Option<u32>),
    /// `CAPA` (RFC 2449 section 5).
    Capa,
    /// `STLS` (RFC 2595 section 4).
    Stls,
    /// `XTND XMIT`: the client sends a message to submit (seed 000; no RFC).
    XtndXmit,
    /// `XTND other`: an `XTND` subcommand we do not implement (upper-cased).
    Xtnd(String),
}

impl fmt::Debug for Command {
    /// Like a derived `Debug`, but never shows a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Pass(_) => f.write_str("Pass(<secret>)"),
            Command::Auth { mechanism, initial } => f
                .debug_struct("Auth")
                .field("mechanism", mechanism)
                .field("initial", &initial.as_ref().map(|_| "<secret>"))
                .finish(),
            Command::User(u) => f.debug_tuple("User").field(u).finish(),
            Command::Apop { name, .. } => f.debug_struct("Apop").field("name", name).finish(),
            Command::Stat => f.write_str("Stat"),
            Command::List(m) => f.debug_tuple("List").field(m).finish(),
            Command::Retr(m) => f.debug_tuple("Retr").field(m).finish(),
            Command::Dele(m) => f.debug_tuple("Dele").field(m).finish(),
            Command::Noop => f.write_str("Noop"),
            Command::Rset => f.write_str("Rset"),
            Command::Quit => f.write_str("Quit"),
            Command::Top { msg, lines } => f
                .debug_struct("Top")
                .field("msg", msg)
                .field("lines", lines)
                .finish(),
            Command::Uidl(m) => f.debug_tuple("Uidl").field(m).finish(),
            Command::Capa => f.write_str("Capa"),
            Command::Stls => f.write_str("Stls"),
            Command::XtndXmit => f.write_str("XtndXmit"),
            Command::Xtnd(s) => f.debug_tuple("Xtnd").field(s).finish(),
        }
    }
}

impl Command {
    /// The command's keyword, upper case (for logs and the session registry).
    pub fn name(&self) -> &'static str {
        match self {
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Apop { .. } => "APOP",
            Command::Auth { .. } => "AUTH",
            Command::Stat => "STAT",
            Command::List(_) => "LIST",
            Command::Retr(_) => "RETR",
            Command::Dele(_) => "DELE",
            Command::Noop => "NOOP",
            Command::Rset => "RSET",
            Command::Quit => "QUIT",
            Command::Top { .. } => "TOP",
            Command::Uidl(_) => "UIDL",
            Command::Capa => "CAPA",
            Command::Stls => "STLS",
            Command::XtndXmit | Command::Xtnd(_) => "XTND",
        }
    }
}

/// Why a command line was refused. `Display` gives the text after `-ERR `.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Empty line.
    #[error("empty command line")]
    Empty,
    /// NUL, other control characters, or octets that are not UTF-8.
    #[error("command line contains binary data")]
    Binary,
    /// Not a POP3 command we know.
    #[error("unknown command")]
    Unknown,
    /// Too few or too many arguments; says what the command expects.
    #[error("syntax: {0}")]
    Syntax(&'static str),
    /// A message number that is not a number in `1..=4294967295`.
    #[error("invalid message number: {0}")]
    BadMessageNumber(&'static str),
    /// A TOP line count that is not a non-negative number.
    #[error("invalid line count: {0}")]
    BadLineCount(&'static str),
    /// An argument longer than [`MAX_ARG`].
    #[error("argument too long")]
    ArgTooLong,
}

fn msg_number(s: &str) -> Result<u32, ParseError> {
    if s.is_empty() {
        return Err(ParseError::BadMessageNumber("missing"));
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::BadMessageNumber("not a number"));
    }
    match s.parse::<u32>() {
        Ok(0) => Err(ParseError::BadMessageNumber("messages are numbered from 1")),
        Ok(n) => Ok(n),
        Err(_) => Err(ParseError::BadMessageNumber("out of range")),
    }
}

fn line_count(s: &str) -> Result<u64, ParseError> {
    if s.starts_with('-') {
        return Err(ParseError::BadLineCount("must not be negative"));
    }
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::BadLineCount("not a number"));
    }
    s.parse::<u64>()
        .map_err(|_| ParseError::BadLineCount("out of range"))
}

fn arg(s: &str) -> Result<String, ParseError> {
    if s.len() > MAX_ARG {
        Err(ParseError::ArgTooLong)
    } else {
        Ok(s.to_string())
    }
}

/// Parses one command line (without its CRLF). Keywords are case-insensitive (RFC 1939
/// section 3); arguments are separated by single spaces, extra spaces are tolerated.
///
/// ```text
/// command = keyword *(SP argument)     ; RFC 1939 section 3, RFC 2449 section 3
/// ```
pub fn parse_command(line: &[u8]) -> Result<Command, ParseError> {
    let line = std::str::from_utf8(line).map_err(|_| ParseError::Binary)?;
    if line.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(ParseError::Binary);
    }
    let trimmed = line.trim_matches(|c| c == ' ' || c == '\t');
    if trimmed.is_empty() {
        return Err(ParseError::Empty);
    }
    let (verb, rest) = match trimmed.find([' ', '\t']) {
        Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
        None => (trimmed, ""),
    };
    let args: Vec<&str> = rest.split([' ', '\t']).filter(|a| !a.is_empty()).collect();
    let verb = verb.to_ascii_uppercase();
    let none = |c: Command, usage: &'static str| {
        if args.is_empty() {
            Ok(c)
        } else {
            Err(ParseError::Syntax(usage))
        }
    };
    match verb.as_str() {
        "USER" => match args.as_slice() {
            [name] => Ok(Command::User(arg(name)?)),
            _ => Err(ParseError::Syntax("USER name")),
        },
        "PASS" => {
            // The password is the rest of the line: it may contain spaces.
            let pw = line
                .trim_start_matches([' ', '\t'])
                .get(4..)
                .and_then(|s| s.strip_prefix([' ', '\t']))
                .unwrap_or("");
            if pw.is_empty() {
                Err(ParseError::Syntax("PASS password"))
            } else {
                Ok(Command::Pass(pw.to_string()))
            }
        }
        "APOP" => match args.as_slice() {
            [name, digest] => {
                if digest.len() != 32 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                    Err(ParseError::Syntax("APOP digest is 32 hex digits"))
                } else {
                    Ok(Command::Apop {
                        name: arg(name)?,
                        digest: digest.to_ascii_lowercase(),
                    })
                }
            }
            _ => Err(ParseError::Syntax("APOP name digest")),
        },
        "AUTH" => match args.as_slice() {
            [] => Ok(Command::Auth {
                mechanism: None,
                initial: None,
            }),
            [m] => Ok(Command::Auth {
                mechanism: Some(arg(m)?.to_ascii_uppercase()),
                initial: None,
            }),
            [m, ir] => Ok(Command::Auth {
                mechanism: Some(arg(m)?.to_ascii_uppercase()),
                initial: Some(ir.to_string()),
            }),
            _ => Err(ParseError::Syntax("AUTH mechanism [initial-response]")),
        },
        "STAT" => none(Command::Stat, "STAT takes no argument"),
        "LIST" => match args.as_slice() {
            [] => Ok(Command::List(None)),
            [n] => Ok(Command::List(Some(msg_number(n)?))),
            _ => Err(ParseError::Syntax("LIST [msg]")),
        },
        "UIDL" => match args.as_slice() {
            [] => Ok(Command::Uidl(None)),
            [n] => Ok(Command::Uidl(Some(msg_number(n)?))),
            _ => Err(ParseError::Syntax("UIDL [msg]")),
        },
        "RETR" => match args.as_slice() {
            [n] => Ok(Command::Retr(msg_number(n)?)),
            _ => Err(ParseError::Syntax("RETR msg")),
        },
        "DELE" => match args.as_slice() {
            [n] => Ok(Command::Dele(msg_number(n)?)),
            _ => Err(ParseError::Syntax("DELE msg")),
        },
        "TOP" => match args.as_slice() {
            [n, l] => Ok(Command::Top {
                msg: msg_number(n)?,
                lines: line_count(l)?,
            }),
            _ => Err(ParseError::Syntax("TOP msg lines")),
        },
        "NOOP" => none(Command::Noop, "NOOP takes no argument"),
        "RSET" => none(Command::Rset, "RSET takes no argument"),
        "QUIT" => none(Command::Quit, "QUIT takes no argument"),
        "CAPA" => none(Command::Capa, "CAPA takes no argument"),
        "STLS" => none(Command::Stls, "STLS takes no argument"),
        "XTND" => match args.as_slice() {
            [sub] if sub.eq_ignore_ascii_case("XMIT") => Ok(Command::XtndXmit),
            [sub] => Ok(Command::Xtnd(arg(sub)?.to_ascii_uppercase())),
            [] => Err(ParseError::Syntax("XTND subcommand")),
            _ => Err(ParseError::Syntax("XTND XMIT takes no argument")),
        },
        _ => Err(ParseError::Unknown),
    }
}

/// A client's answer to a SASL challenge (RFC 5034 section 4).
#[derive(Clone, PartialEq, Eq)]
pub enum SaslResponse {
    /// `*`: the client cancels the exchange.
    Cancel,
    /// Decoded octets (`=` as an initial response is empty).
    Data(Vec<u8>),
}

impl fmt::Debug for SaslResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SaslResponse::Cancel => f.write_str("Cancel"),
            SaslResponse::Data(d) => write!(f, "Data({} octets)", d.len()),
        }
    }
}

/// Decodes a continuation line or an initial response: `*` cancels, `=` is empty (only
/// meaningful as an initial response), anything else must be base64. `Err` for invalid
/// base64.
pub fn decode_response(s: &[u8]) -> Result<SaslResponse, ParseError> {
    let s = s.trim_ascii();
    match s {
        b"*" => Ok(SaslResponse::Cancel),
        b"=" | b"" => Ok(SaslResponse::Data(Vec::new())),
        _ => B64
            .decode(s)
            .map(SaslResponse::Data)
            .map_err(|_| ParseError::Syntax("invalid base64 in SASL response")),
    }
}

/// The continuation line for a challenge: `+ ` and base64 (RFC 5034 section 4; an empty
/// challenge is `+ ` alone).
pub fn encode_challenge(challenge: &[u8]) -> String {
    format!("+ {}", B64.encode(challenge))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Command, ParseError> {
        parse_command(s.as_bytes())
    }

    #[test]
    fn every_command() {
        assert_eq!(p("USER alice"), Ok(Command::User("alice".into())));
        assert_eq!(p("user alice"), Ok(Command::User("alice".into())));
        assert_eq!(p("PASS a b  c"), Ok(Command::Pass("a b  c".into())));
        assert_eq!(p("pass x"), Ok(Command::Pass("x".into())));
        assert_eq!(
            p("APOP mrose c4c9334bac560ecc979e58001b3e22FB"),
            Ok(Command::Apop {
                name: "mrose".into(),
                digest: "c4c9334bac560ecc979e58001b3e22fb".into()
            })
        );
        assert_eq!(
            p("AUTH"),
            Ok(Command::Auth {
                mechanism: None,
                initial: None
            })
        );
        assert_eq!(
            p("AUTH plain AGEAYg=="),
            Ok(Command::Auth {
                mechanism: Some("PLAIN".into()),
                initial: Some("AGEAYg==".into())
            })
        );
        assert_eq!(p("STAT"), Ok(Command::Stat));
        assert_eq!(p("LIST"), Ok(Command::List(None)));
        assert_eq!(p("LIST 2"), Ok(Command::List(Some(2))));
        assert_eq!(p("RETR 1"), Ok(Command::Retr(1)));
        assert_eq!(p("DELE 4294967295"), Ok(Command::Dele(u32::MAX)));
        assert_eq!(p("NOOP"), Ok(Command::Noop));
        assert_eq!(p("RSET"), Ok(Command::Rset));
        assert_eq!(p("QUIT"), Ok(Command::Quit));
        assert_eq!(p("TOP 1 0"), Ok(Command::Top { msg: 1, lines: 0 }));
        assert_eq!(p("UIDL"), Ok(Command::Uidl(None)));
        assert_eq!(p("UIDL 3"), Ok(Command::Uidl(Some(3))));
        assert_eq!(p("CAPA"), Ok(Command::Capa));
        assert_eq!(p("stls"), Ok(Command::Stls));
        assert_eq!(p("  NOOP  "), Ok(Command::Noop));
    }

    #[test]
    fn bad_arguments_have_reasons() {
        assert_eq!(
            p("RETR 0"),
            Err(ParseError::BadMessageNumber("messages are numbered from 1"))
        );
        assert_eq!(
            p("RETR 99999999999"),
            Err(ParseError::BadMessageNumber("out of range"))
        );
        assert_eq!(
            p("TOP 1 -1"),
            Err(ParseError::BadLineCount("must not be negative"))
        );
        assert_eq!(
            p("RETR -1"),
            Err(ParseError::BadMessageNumber("not a number"))
        );
        assert_eq!(
            p("RETR x"),
            Err(ParseError::BadMessageNumber("not a number"))
        );
        assert_eq!(p("RETR"), Err(ParseError::Syntax("RETR msg")));
        assert_eq!(p("RETR 1 2"), Err(ParseError::Syntax("RETR msg")));
        assert_eq!(p("TOP 1"), Err(ParseError::Syntax("TOP msg lines")));
        assert_eq!(
            p("STAT 1"),
            Err(ParseError::Syntax("STAT takes no argument"))
        );
        assert_eq!(p("USER"), Err(ParseError::Syntax("USER name")));
        assert_eq!(p("PASS"), Err(ParseError::Syntax("PASS password")));
        assert_eq!(p("PASS "), Err(ParseError::Syntax("PASS password")));
        assert!(matches!(p("APOP a b"), Err(ParseError::Syntax(_))));
        assert_eq!(p("XTND XMIT"), Ok(Command::XtndXmit));
        assert_eq!(p("xtnd xmit"), Ok(Command::XtndXmit));
        assert_eq!(p("XTND list"), Ok(Command::Xtnd("LIST".into())));
        assert_eq!(p("XTND"), Err(ParseError::Syntax("XTND subcommand")));
        assert_eq!(
            p("XTND XMIT now"),
            Err(ParseError::Syntax("XTND XMIT takes no argument"))
        );
        assert_eq!(p("PASSWORD x"), Err(ParseError::Unknown));
        assert_eq!(p(""), Err(ParseError::Empty));
        assert_eq!(parse_command(b"NO\0OP"), Err(ParseError::Binary));
        assert_eq!(parse_command(b"\xff\xfe"), Err(ParseError::Binary));
        let long = format!("USER {}", "a".repeat(300));
        assert_eq!(p(&long), Err(ParseError::ArgTooLong));
        assert_eq!(
            ParseError::BadMessageNumber("out of range").to_string(),
            "invalid message number: out of range"
        );
    }

    #[test]
    fn debug_hides_passwords() {
        let s = format!("{:?}", p("PASS hunter2").unwrap());
        assert!(!s.contains("hunter2"), "{s}");
        let s = format!("{:?}", p("AUTH PLAIN AGEAaHVudGVyMg==").unwrap());
        assert!(!s.contains("AGEAaHVudGVyMg"), "{s}");
    }

    #[test]
    fn sasl_coding() {
        assert_eq!(decode_response(b"*"), Ok(SaslResponse::Cancel));
        assert_eq!(decode_response(b"="), Ok(SaslResponse::Data(vec![])));
        assert_eq!(
            decode_response(b"AGEAYg=="),
            Ok(SaslResponse::Data(b"\0a\0b".to_vec()))
        );
        assert!(decode_response(b"!!!").is_err());
        assert_eq!(encode_challenge(b""), "+ ");
        assert_eq!(encode_challenge(b"Username:"), "+ VXNlcm5hbWU6");
    }

    #[test]
    fn never_panics_on_any_byte_split() {
        let input = b"TOP 1 5\r\nLIST 3\r\n\xff\0garbage\r\nRETR 99999999999999999999\r\n";
        for i in 0..input.len() {
            let _ = parse_command(&input[..i]);
            let _ = parse_command(&input[i..]);
        }
    }
}
