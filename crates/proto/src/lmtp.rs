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

fn parse_mail(rest: &str) -> Result<Command, ParseError> {
    let arg =
        strip_prefix_ci(rest, "FROM:").ok_or_else(|| syntax("syntax: MAIL FROM:<address>"))?;
    let (from, params) = parse_path(arg)?;
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
            parse_command(b"MAIL FROM:<a> SIZE=x").map_err(|e| e.code),
            Err(501)
        );
        assert_eq!(parse_command(b"NOOP\0").map_err(|e| e.code), Err(501));
        assert_eq!(parse_command(b"\xff\xfe").map_err(|e| e.code), Err(501));
        assert_eq!(
            parse_command(b"MAIL FROM:<a> XFOO=1").map_err(|e| e.code),
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
