//! Parsing of one framed server response (see [`crate::reader`]) into the few things
//! the load tool tracks. Pure functions over bytes; anything that does not parse is an
//! `Err` the caller counts as a malformed answer, never a panic.
//!
//! ```text
//! response  = "+" text / "*" SP untagged / tag SP ("OK" / "NO" / "BAD") SP resp-text
//! untagged  = number SP ("EXISTS" / "RECENT" / "EXPUNGE" / "FETCH" SP msg-att)
//!           / ("OK" / "NO" / "BAD" / "BYE" / "PREAUTH") SP resp-text
//!           / "CAPABILITY" ... / "STATUS" ... / other
//! resp-text = ["[" code "]" SP] text                               (RFC 3501 section 7.1)
//! ```

/// A value of the IMAP data grammar: atom, string (quoted or literal), NIL, or list.
#[derive(Debug, PartialEq)]
pub enum Val<'a> {
    Atom(&'a [u8]),
    Str(&'a [u8]),
    Nil,
    List(Vec<Val<'a>>),
}

/// Why a response did not parse.
#[derive(Debug, PartialEq, thiserror::Error)]
#[error("malformed response: {0}")]
pub struct ParseError(pub &'static str);

type R<T> = Result<T, ParseError>;

/// Status of a tagged or untagged condition response.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Status {
    Ok,
    No,
    Bad,
    Bye,
    Preauth,
}

/// The response codes the tool uses (RFC 3501 section 7.1, RFC 4315 APPENDUID).
#[derive(Debug, PartialEq)]
pub enum Code<'a> {
    UidNext(u32),
    UidValidity(u32),
    /// PERMANENTFLAGS: whether `\*` (new keywords allowed) is present.
    PermanentFlags {
        new_keywords: bool,
    },
    AppendUid {
        validity: u32,
        uid: u32,
    },
    Capability(&'a [u8]),
    Other,
}

/// The items of a FETCH response the tool checks.
#[derive(Debug, Default, PartialEq)]
pub struct Fetch<'a> {
    pub uid: Option<u32>,
    pub flags: Option<Vec<&'a [u8]>>,
    pub envelope: bool,
    pub bodystructure: bool,
    /// A `BODY[section]` item with string data was present.
    pub body_part: bool,
}

/// One response, classified.
#[derive(Debug, PartialEq)]
pub enum Resp<'a> {
    Continue,
    Tagged {
        tag: &'a [u8],
        status: Status,
        code: Option<Code<'a>>,
    },
    Cond {
        status: Status,
        code: Option<Code<'a>>,
    },
    Exists(u32),
    Recent(u32),
    Expunge(u32),
    Fetch(u32, Fetch<'a>),
    Capability(&'a [u8]),
    Status {
        uidnext: Option<u32>,
    },
    /// FLAGS, LIST, SEARCH and anything else the tool does not track.
    Other,
}

/// Classifies one framed response (`buf` as read by [`crate::reader::read_response`]).
pub fn response(buf: &[u8]) -> R<Resp<'_>> {
    let line = buf.strip_suffix(b"\n").unwrap_or(buf);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let (first, rest) = split_sp(line);
    match first {
        b"+" => Ok(Resp::Continue),
        b"*" => untagged(rest),
        b"" => Err(ParseError("empty response")),
        tag => {
            let (st, text) = split_sp(rest);
            let status = match status(st) {
                Some(s @ (Status::Ok | Status::No | Status::Bad)) => s,
                _ => return Err(ParseError("tagged response without OK/NO/BAD")),
            };
            Ok(Resp::Tagged {
                tag,
                status,
                code: resp_code(text),
            })
        }
    }
}

fn untagged(rest: &[u8]) -> R<Resp<'_>> {
    let (word, rest) = split_sp(rest);
    if let Some(n) = number(word) {
        let (kind, rest) = split_sp(rest);
        return match upper(kind).as_slice() {
            b"EXISTS" => Ok(Resp::Exists(n)),
            b"RECENT" => Ok(Resp::Recent(n)),
            b"EXPUNGE" => Ok(Resp::Expunge(n)),
            b"FETCH" => Ok(Resp::Fetch(n, fetch(rest)?)),
            _ => Ok(Resp::Other),
        };
    }
    if let Some(status) = status(word) {
        return Ok(Resp::Cond {
            status,
            code: resp_code(rest),
        });
    }
    match upper(word).as_slice() {
        b"CAPABILITY" => Ok(Resp::Capability(rest)),
        b"STATUS" => {
            let mut c = Cursor::new(rest);
            c.value(0)?; // mailbox
            c.sp();
            let Val::List(items) = c.value(0)? else {
                return Err(ParseError("STATUS without a list"));
            };
            let mut uidnext = None;
            for pair in items.chunks(2) {
                if let [Val::Atom(k), Val::Atom(v)] = pair {
                    if k.eq_ignore_ascii_case(b"UIDNEXT") {
                        uidnext = Some(number(v).ok_or(ParseError("STATUS UIDNEXT"))?);
                    }
                }
            }
            Ok(Resp::Status { uidnext })
        }
        _ => Ok(Resp::Other),
    }
}

fn fetch(rest: &[u8]) -> R<Fetch<'_>> {
    let mut c = Cursor::new(rest);
    let Val::List(items) = c.value(0)? else {
        return Err(ParseError("FETCH without a list"));
    };
    if items.len() % 2 != 0 {
        return Err(ParseError("FETCH list with an odd number of items"));
    }
    let mut f = Fetch::default();
    for pair in items.chunks(2) {
        let [Val::Atom(name), v] = pair else {
            return Err(ParseError("FETCH item name is not an atom"));
        };
        let name = upper(name);
        match (name.as_slice(), v) {
            (b"UID", Val::Atom(n)) => f.uid = Some(number(n).ok_or(ParseError("FETCH UID"))?),
            (b"UID", _) => return Err(ParseError("FETCH UID")),
            (b"FLAGS", Val::List(fl)) => {
                let mut out = Vec::with_capacity(fl.len());
                for x in fl {
                    let Val::Atom(a) = x else {
                        return Err(ParseError("FETCH FLAGS holds a non-atom"));
                    };
                    out.push(*a);
                }
                f.flags = Some(out);
            }
            (b"FLAGS", _) => return Err(ParseError("FETCH FLAGS is not a list")),
            (b"ENVELOPE", Val::List(l)) if l.len() == 10 => f.envelope = true,
            (b"ENVELOPE", _) => return Err(ParseError("FETCH ENVELOPE is not a 10-list")),
            (b"BODYSTRUCTURE", Val::List(_)) => f.bodystructure = true,
            (b"BODYSTRUCTURE", _) => return Err(ParseError("FETCH BODYSTRUCTURE")),
            (n, Val::Str(_) | Val::Nil) if n.starts_with(b"BODY[") => f.body_part = true,
            _ => {}
        }
    }
    Ok(f)
}

/// The response code at the start of `text`, if any; unknown codes are `Code::Other`.
fn resp_code(text: &[u8]) -> Option<Code<'_>> {
    let inner = text.strip_prefix(b"[")?;
    let end = memchr::memchr(b']', inner)?;
    let (name, args) = split_sp(&inner[..end]);
    let mut nums = args.split(|&b| b == b' ').map(number);
    Some(match upper(name).as_slice() {
        b"UIDNEXT" => Code::UidNext(nums.next().flatten()?),
        b"UIDVALIDITY" => Code::UidValidity(nums.next().flatten()?),
        b"APPENDUID" => Code::AppendUid {
            validity: nums.next().flatten()?,
            uid: nums.next().flatten()?,
        },
        b"PERMANENTFLAGS" => Code::PermanentFlags {
            new_keywords: memchr::memmem::find(args, b"\\*").is_some(),
        },
        b"CAPABILITY" => Code::Capability(args),
        _ => Code::Other,
    })
}

/// Whether a capability list (space separated atoms) holds `cap`.
pub fn has_cap(list: &[u8], cap: &[u8]) -> bool {
    list.split(|&b| b == b' ')
        .any(|c| c.eq_ignore_ascii_case(cap))
}

fn status(w: &[u8]) -> Option<Status> {
    Some(match upper(w).as_slice() {
        b"OK" => Status::Ok,
        b"NO" => Status::No,
        b"BAD" => Status::Bad,
        b"BYE" => Status::Bye,
        b"PREAUTH" => Status::Preauth,
        _ => return None,
    })
}

fn split_sp(b: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memchr(b' ', b) {
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (b, &b[b.len()..]),
    }
}

fn upper(b: &[u8]) -> Vec<u8> {
    b.to_ascii_uppercase()
}

/// A non-zero-padded decimal `number` (RFC 3501) that fits in 32 bits.
pub fn number(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 10 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    b.iter().try_fold(0u32, |acc, d| {
        acc.checked_mul(10)?.checked_add(u32::from(d - b'0'))
    })
}

/// Recursive-descent reader of IMAP data values, with a nesting bound.
struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

const MAX_DEPTH: usize = 64;

impl<'a> Cursor<'a> {
    fn new(b: &'a [u8]) -> Self {
        Cursor { b, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn sp(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    fn value(&mut self, depth: usize) -> R<Val<'a>> {
        if depth > MAX_DEPTH {
            return Err(ParseError("lists nested too deeply"));
        }
        match self.peek() {
            None => Err(ParseError("value expected")),
            Some(b'(') => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.sp();
                    match self.peek() {
                        Some(b')') => {
                            self.pos += 1;
                            return Ok(Val::List(items));
                        }
                        None => return Err(ParseError("unterminated list")),
                        _ => items.push(self.value(depth + 1)?),
                    }
                }
            }
            Some(b'"') => {
                let start = self.pos + 1;
                let mut i = start;
                loop {
                    match self.b.get(i) {
                        None | Some(b'\r' | b'\n') => {
                            return Err(ParseError("unterminated quoted string"))
                        }
                        Some(b'\\') => i += 2,
                        Some(b'"') => break,
                        Some(_) => i += 1,
                    }
                }
                self.pos = i + 1;
                Ok(Val::Str(&self.b[start..i]))
            }
            Some(b'{') => {
                let rest = &self.b[self.pos..];
                let close = memchr::memchr(b'}', rest).ok_or(ParseError("literal marker"))?;
                let digits = rest[1..close].strip_suffix(b"+").unwrap_or(&rest[1..close]);
                let n = number(digits).ok_or(ParseError("literal length"))? as usize;
                let data = rest
                    .get(close + 1..)
                    .and_then(|r| r.strip_prefix(b"\r\n"))
                    .ok_or(ParseError("literal marker without CRLF"))?;
                let lit = data
                    .get(..n)
                    .ok_or(ParseError("literal shorter than its marker"))?;
                self.pos += close + 3 + n;
                Ok(Val::Str(lit))
            }
            Some(_) => {
                let start = self.pos;
                let mut bracket = 0usize;
                while let Some(c) = self.peek() {
                    match c {
                        b'[' => bracket += 1,
                        b']' => bracket = bracket.saturating_sub(1),
                        b' ' | b'(' | b')' if bracket == 0 => break,
                        b'\r' | b'\n' | b'{' | b'"' if bracket == 0 => break,
                        _ => {}
                    }
                    self.pos += 1;
                }
                let a = &self.b[start..self.pos];
                if a.is_empty() {
                    return Err(ParseError("unexpected character"));
                }
                if a.eq_ignore_ascii_case(b"NIL") {
                    Ok(Val::Nil)
                } else {
                    Ok(Val::Atom(a))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_with_literals_and_sections() {
        let r = b"* 3 FETCH (UID 17 FLAGS (\\Seen $lg1) ENVELOPE (NIL \"s\" NIL NIL NIL NIL NIL NIL NIL \"<a@b>\") BODYSTRUCTURE (\"text\" \"plain\" NIL NIL NIL \"7bit\" 3 1) BODY[HEADER.FIELDS (SUBJECT)] {4}\r\na)\"b BODY[1]<0> {3}\r\nx\r\n)\r\n";
        let Ok(Resp::Fetch(3, f)) = response(r) else {
            panic!("{:?}", response(r))
        };
        assert_eq!(f.uid, Some(17));
        assert_eq!(f.flags, Some(vec![&b"\\Seen"[..], b"$lg1"]));
        assert!(f.envelope && f.bodystructure && f.body_part);
    }

    #[test]
    fn codes_and_kinds() {
        assert_eq!(
            response(b"a1 OK [APPENDUID 9 44] done\r\n"),
            Ok(Resp::Tagged {
                tag: b"a1",
                status: Status::Ok,
                code: Some(Code::AppendUid {
                    validity: 9,
                    uid: 44
                })
            })
        );
        assert_eq!(response(b"* 12 EXISTS\r\n"), Ok(Resp::Exists(12)));
        assert_eq!(response(b"* 2 expunge\r\n"), Ok(Resp::Expunge(2)));
        assert_eq!(
            response(b"* OK [PERMANENTFLAGS (\\Seen \\*)] ok\r\n"),
            Ok(Resp::Cond {
                status: Status::Ok,
                code: Some(Code::PermanentFlags { new_keywords: true })
            })
        );
        assert_eq!(
            response(b"* STATUS \"INBOX\" (MESSAGES 3 UIDNEXT 40)\r\n"),
            Ok(Resp::Status { uidnext: Some(40) })
        );
        assert_eq!(response(b"+ go ahead\r\n"), Ok(Resp::Continue));
    }

    #[test]
    fn malformed_is_an_error_not_a_panic() {
        for bad in [
            &b"* 1 FETCH (UID\r\n"[..],
            b"* 1 FETCH (UID x)\r\n",
            b"* 1 FETCH (BODY[] {10}\r\nab)\r\n",
            b"* 1 FETCH (FLAGS \"a)\r\n",
            b"a1 MAYBE\r\n",
            b"\r\n",
            b"* 1 FETCH ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((\r\n",
        ] {
            assert!(response(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        // every prefix of a valid response parses or fails cleanly
        let r = b"* 3 FETCH (UID 17 BODY[1] {3}\r\nx\r\n FLAGS (\\Seen))\r\n";
        for i in 0..r.len() {
            let _ = response(&r[..i]);
        }
    }
}
