//! LMTP (RFC 2033) command grammar and DATA decoding.
//!
//! LMTP is SMTP (RFC 5321) with `LHLO` instead of `EHLO` and one reply per accepted
//! recipient after the DATA terminator. This module parses command lines into
//! [`Command`] and decodes the dot-stuffed DATA stream ([`DataDecoder`]); the session
//! that drives them lives in `mailroom-server`.

use std::fmt;

/// Longest command line we accept (RFC 5321 4.5.3.1.4: 512 octets with CRLF; we allow
/// a margin for long addresses with parameters).
pub const MAX_COMMAND_LINE: usize = 2048;

/// A parsed LMTP command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `LHLO domain` (RFC 2033 4.1).
    Lhlo(String),
    /// `MAIL FROM:<reverse-path> [SIZE=n] [BODY=7BIT|8BITMIME]`.
    Mail {
        from: String,
        size: Option<u64>,
        body: Option<String>,
    },
    /// `RCPT TO:<forward-path>`.
    Rcpt { to: String },
    /// `DATA`.
    Data,
    /// `RSET`.
    Rset,
    /// `NOOP [string]`.
    Noop,
    /// `QUIT`.
    Quit,
    /// `VRFY string`.
    Vrfy(String),
    /// `HELO`/`EHLO`: not LMTP (RFC 2033 4.1 requires LHLO).
    Helo,
}

/// Why a command line was refused; carries the reply to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub code: u16,
    pub enhanced: &'static str,
    pub text: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.code, self.enhanced, self.text)
    }
}

fn syntax(text: impl Into<String>) -> ParseError {
    ParseError {
        code: 501,
        enhanced: "5.5.4",
        text: text.into(),
    }
}

/// Parses one command line (without CRLF).
pub fn parse_command(line: &[u8]) -> Result<Command, ParseError> {
    let line = std::str::from_utf8(line).map_err(|_| syntax("command line is not UTF-8"))?;
    if line.bytes().any(|b| b == 0 || (b < 0x20 && b != b'\t')) {
        return Err(syntax("control characters in command line"));
    }
    let (verb, rest) = match line.find(' ') {
        Some(i) => (&line[..i], line[i + 1..].trim()),
        None => (line.trim(), ""),
    };
    match verb.to_ascii_uppercase().as_str() {
        "LHLO" => {
            if rest.is_empty() || rest.contains(' ') {
                Err(syntax("LHLO needs exactly one domain argument"))
            } else {
                Ok(Command::Lhlo(rest.to_string()))
            }
        }
        "HELO" | "EHLO" => Ok(Command::Helo),
        "MAIL" => parse_mail(rest),
        "RCPT" => {
            let arg =
                strip_prefix_ci(rest, "TO:").ok_or_else(|| syntax("syntax: RCPT TO:<address>"))?;
            let (path, params) = parse_path(arg)?;
            if !params.trim().is_empty() {
                return Err(ParseError {
                    code: 555,
                    enhanced: "5.5.4",
                    text: "RCPT parameters are not supported".into(),
                });
            }
            if path.is_empty() {
                return Err(syntax("empty recipient address"));
            }
            Ok(Command::Rcpt { to: path })
        }
        "DATA" if rest.is_empty() => Ok(Command::Data),
        "DATA" => Err(syntax("DATA takes no argument")),
        "RSET" => Ok(Command::Rset),
        "NOOP" => Ok(Command::Noop),
        "QUIT" => Ok(Command::Quit),
        "VRFY" => Ok(Command::Vrfy(rest.to_string())),
        "" => Err(ParseError {
            code: 500,
            enhanced: "5.5.2",
            text: "empty command".into(),
        }),
        _ => Err(ParseError {
            code: 500,
            enhanced: "5.5.1",
            text: "unrecognized command".into(),
        }),
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s[prefix.len()..].trim_start())
}

/// Parses `<path> params` (angle brackets required by RFC 5321, tolerated if missing).
fn parse_path(arg: &str) -> Result<(String, &str), ParseError> {
    if let Some(inner) = arg.strip_prefix('<') {
        let end = inner
            .find('>')
            .ok_or_else(|| syntax("missing '>' after address"))?;
        let path = &inner[..end];
        // Drop a source route (`@a,@b:user@host`, RFC 5321 4.1.2 says to ignore it).
        let path = match path.rfind(':') {
            Some(i) if path.starts_with('@') => &path[i + 1..],
            _ => path,
        };
        Ok((path.to_string(), &inner[end + 1..]))
    } else {
        let end = arg.find(' ').unwrap_or(arg.len());
        Ok((arg[..end].to_string(), &arg[end..]))
    }
}

/// Splits `<reverse-path> params`: the path with its angle brackets (a `>` inside a
/// quoted local part does not end it), and the rest. Without a `<`, the first word is the
/// path (an old habit some clients keep), validated as if it had its brackets.
fn split_reverse_path(arg: &str) -> (std::borrow::Cow<'_, str>, &str) {
    let b = arg.as_bytes();
    if b.first() != Some(&b'<') {
        let end = arg.find(' ').unwrap_or(arg.len());
        return (format!("<{}>", &arg[..end]).into(), &arg[end..]);
    }
    let mut quoted = false;
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b'>' if !quoted => return (arg[..=i].into(), &arg[i + 1..]),
            _ => {}
        }
        i += 1;
    }
    (arg.into(), "")
}

/// `MAIL FROM:<reverse-path> [params]`: the sender must follow RFC 5321 4.1.2
/// ([`crate::address`]), else `501 5.1.7` with the reason.
fn parse_mail(rest: &str) -> Result<Command, ParseError> {
    let arg =
        strip_prefix_ci(rest, "FROM:").ok_or_else(|| syntax("syntax: MAIL FROM:<address>"))?;
    let (path, params) = split_reverse_path(arg);
    let from = crate::address::parse_reverse_path(&path).map_err(|e| ParseError {
        code: 501,
        enhanced: "5.1.7",
        text: format!("bad sender address syntax: {e}"),
    })?;
    let mut size = None;
    let mut body = None;
    for p in params.split_ascii_whitespace() {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        match k.to_ascii_uppercase().as_str() {
            "SIZE" => {
                size = Some(v.parse::<u64>().map_err(|_| syntax("invalid SIZE value"))?);
            }
            "BODY" => {
                let v = v.to_ascii_uppercase();
                if v != "7BIT" && v != "8BITMIME" {
                    return Err(syntax("BODY must be 7BIT or 8BITMIME"));
                }
                body = Some(v);
            }
            _ => {
                return Err(ParseError {
                    code: 555,
                    enhanced: "5.5.4",
                    text: format!("unsupported MAIL parameter {k}"),
                })
            }
        }
    }
    Ok(Command::Mail { from, size, body })
}

/// Decodes the DATA stream (RFC 5321 4.5.2): removes dot-stuffing and finds the
/// terminating `CRLF.CRLF`. Output keeps the message's line endings as sent.
#[derive(Debug, Clone)]
pub struct DataDecoder {
    /// True at the start of a line.
    bol: bool,
    /// A line started with a dot: waiting to see whether it is the terminator.
    dot: DotState,
    done: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DotState {
    None,
    /// Saw `.` at the beginning of a line.
    Dot,
    /// Saw `.` then CR at the beginning of a line.
    DotCr,
}

impl Default for DataDecoder {
    fn default() -> Self {
        DataDecoder::new()
    }
}

impl DataDecoder {
    pub fn new() -> DataDecoder {
        DataDecoder {
            bol: true,
            dot: DotState::None,
            done: false,
        }
    }

    /// True once the terminator was seen.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Decodes `input`, appending message octets to `out`. Returns how many octets of
    /// `input` were consumed: all of them, or up to and including the terminator.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> usize {
        let mut i = 0;
        while i < input.len() && !self.done {
            let b = input[i];
            i += 1;
            match self.dot {
                DotState::Dot => match b {
                    b'\r' => self.dot = DotState::DotCr,
                    b'\n' => {
                        // ".\n": accept a bare-LF terminator too.
                        self.done = true;
                    }
                    _ => {
                        // Stuffed dot: drop it, keep this octet.
                        self.dot = DotState::None;
                        self.bol = false;
                        self.push(b, out);
                    }
                },
                DotState::DotCr => {
                    if b == b'\n' {
                        self.done = true;
                    } else {
                        // ".\r" followed by something else: the dot was stuffing.
                        self.dot = DotState::None;
                        out.push(b'\r');
                        self.bol = false;
                        self.push(b, out);
                    }
                }
                DotState::None => {
                    if self.bol && b == b'.' {
                        self.dot = DotState::Dot;
                    } else {
                        self.push(b, out);
                    }
                }
            }
        }
        i
    }

    fn push(&mut self, b: u8, out: &mut Vec<u8>) {
        out.push(b);
        self.bol = b == b'\n';
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line::dot_stuff;

    /// Issue 14 item 4: malformed senders are refused with `501 5.1.7` and a reason;
    /// the null path stays valid, and a `>` inside a quoted local part does not end it.
    #[test]
    fn strict_sender_grammar() {
        for line in [
            "MAIL FROM:<a b@example.org>",
            "MAIL FROM:<@@>",
            "MAIL FROM:<a@b@c>",
            "MAIL FROM:<a>",
            "MAIL FROM:<a@b",
            "MAIL FROM:a b@c",
        ] {
            let e = parse_command(line.as_bytes()).expect_err(line);
            assert_eq!((e.code, e.enhanced), (501, "5.1.7"), "{line}");
            assert!(e.text.starts_with("bad sender address syntax: "), "{e}");
        }
        assert_eq!(
            parse_command(b"MAIL FROM:<a b@example.org>").map_err(|e| e.to_string()),
            Err("501 5.1.7 bad sender address syntax: space in unquoted local part".into())
        );
        for (line, from) in [
            ("MAIL FROM:<>", ""),
            ("MAIL FROM:<> SIZE=10", ""),
            (
                "MAIL FROM:<\"a> b\"@example.org> SIZE=10",
                "\"a> b\"@example.org",
            ),
            ("MAIL FROM:<@hop.example:u@[192.0.2.1]>", "u@[192.0.2.1]"),
            ("MAIL FROM:u@example.org", "u@example.org"),
        ] {
            match parse_command(line.as_bytes()) {
                Ok(Command::Mail { from: f, .. }) => assert_eq!(f, from, "{line}"),
                other => panic!("{line}: {other:?}"),
            }
        }
    }

    #[test]
    fn parses_commands() {
        assert_eq!(
            parse_command(b"LHLO mx.example.com"),
            Ok(Command::Lhlo("mx.example.com".into()))
        );
        assert_eq!(
            parse_command(b"mail from:<a@b.c> SIZE=100 BODY=8BITMIME"),
            Ok(Command::Mail {
                from: "a@b.c".into(),
                size: Some(100),
                body: Some("8BITMIME".into())
            })
        );
        assert_eq!(
            parse_command(b"MAIL FROM:<>"),
            Ok(Command::Mail {
                from: "".into(),
                size: None,
                body: None
            })
        );
        assert_eq!(
            parse_command(b"RCPT TO:<@relay:user@example.com>"),
            Ok(Command::Rcpt {
                to: "user@example.com".into()
            })
        );
        assert_eq!(parse_command(b"DATA"), Ok(Command::Data));
        assert_eq!(parse_command(b"EHLO x"), Ok(Command::Helo));
    }

    #[test]
    fn refuses_bad_commands() {
        assert_eq!(parse_command(b"FOO").map_err(|e| e.code), Err(500));
        assert_eq!(parse_command(b"MAIL TO:<a>").map_err(|e| e.code), Err(501));
        assert_eq!(parse_command(b"RCPT TO:<>").map_err(|e| e.code), Err(501));
        assert_eq!(
            parse_command(b"MAIL FROM:<a@b> SIZE=x").map_err(|e| e.code),
            Err(501)
        );
        assert_eq!(parse_command(b"NOOP\0").map_err(|e| e.code), Err(501));
        assert_eq!(parse_command(b"\xff\xfe").map_err(|e| e.code), Err(501));
        assert_eq!(
            parse_command(b"MAIL FROM:<a@b> XFOO=1").map_err(|e| e.code),
            Err(555)
        );
    }

    fn decode_all(input: &[u8], chunk: usize) -> (Vec<u8>, usize, bool) {
        let mut d = DataDecoder::new();
        let mut out = Vec::new();
        let mut used = 0;
        for piece in input.chunks(chunk) {
            let n = d.decode(piece, &mut out);
            used += n;
            if d.is_done() {
                break;
            }
        }
        (out, used, d.is_done())
    }

    #[test]
    fn unstuffs_and_finds_terminator() {
        let input = b"Subject: x\r\n\r\n..dot\r\n.\r\nnot end\r\n.\r\nQUIT\r\n";
        for chunk in [1, 2, 3, 5, 1000] {
            let (out, used, done) = decode_all(input, chunk);
            assert!(done);
            assert_eq!(out, b"Subject: x\r\n\r\n.dot\r\n");
            assert_eq!(&input[used..], b"not end\r\n.\r\nQUIT\r\n");
        }
    }

    #[test]
    fn empty_message_and_dot_cr_data() {
        let (out, _, done) = decode_all(b".\r\n", 1);
        assert!(done);
        assert!(out.is_empty());
        let (out, _, done) = decode_all(b".\rx\r\n.\r\n", 1);
        assert!(done);
        assert_eq!(out, b"\rx\r\n");
    }

    #[test]
    fn stuffing_round_trips() {
        let msg = b"a\r\n.b\r\n..c\r\n.\r\nend\r\n";
        let mut stuffed = Vec::new();
        let (mut bol, mut cr) = (true, false);
        dot_stuff(msg, &mut bol, &mut cr, &mut stuffed);
        stuffed.extend_from_slice(b".\r\n");
        let (out, used, done) = decode_all(&stuffed, 1);
        assert!(done);
        assert_eq!(used, stuffed.len());
        assert_eq!(out, msg);
    }

    #[test]
    fn dot_stuff_converts_bare_lf() {
        let mut out = Vec::new();
        let (mut bol, mut cr) = (true, false);
        dot_stuff(b"a\n.b\r\nc", &mut bol, &mut cr, &mut out);
        assert_eq!(out, b"a\r\n..b\r\nc");
    }
}
