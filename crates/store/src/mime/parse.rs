//! Computing a [`MessageStructure`] from a message's octets (CRLF form).
//!
//! The MIME tree (where each part's header and body lie, sizes, line counts) is found by
//! our own boundary scan, so offsets are exact and bounded: nesting deeper than
//! [`MAX_DEPTH`] and parts beyond [`MAX_PARTS`] are treated as opaque bodies. Header field
//! values for `Content-Type` / `Content-Disposition` (parameters, RFC 2231) and `Date:` are
//! parsed by `mail-parser`; envelope fields are kept raw (unfolded, encoded-words intact)
//! because IMAP clients decode them themselves.
//!
//! Nothing here panics on content: any octets produce some structure.

use super::{Address, BodyStructure, Envelope, MessageStructure};
use mail_parser::{DateTime, HeaderName, MessageParser};

/// Deepest nesting of multiparts / message/rfc822 parsed; deeper parts are opaque. Kept
/// well under serde_json's recursion limit (128) for the structure stored in the index:
/// each level costs two JSON levels.
pub const MAX_DEPTH: usize = 40;
/// Most MIME parts parsed in one message; the rest is left inside the last part.
pub const MAX_PARTS: usize = 10_000;

/// Host written for an address that has no domain (as Dovecot does).
pub const MISSING_HOST: &str = ".MISSING-HOST-NAME.";

impl MessageStructure {
    /// Parses a whole message given in its CRLF form (every line ends in CRLF).
    pub fn parse(data: &[u8]) -> MessageStructure {
        let mut budget = MAX_PARTS;
        let (body, fields) = parse_part(data, 0, data.len(), 0, DefaultType::Text, &mut budget);
        let header_end = usize::try_from(body.body_offset).unwrap_or(data.len());
        let header = data[..header_end.min(data.len())].to_vec();
        let sent_date = field(&fields, "date")
            .and_then(DateTime::parse_rfc822)
            .filter(|d| d.is_valid())
            .map(|d| d.to_timestamp());
        MessageStructure {
            envelope: envelope(&fields),
            body,
            header,
            sent_date,
        }
    }
}

#[derive(Clone, Copy)]
enum DefaultType {
    Text,
    Message,
}

/// One header field: lower-case name and unfolded, trimmed value.
type Field = (String, String);

fn field<'a>(fields: &'a [Field], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Where the header block starting at `start` ends: the offset of the body. The empty line
/// belongs to the header. Without an empty line, the whole range is header.
fn header_end(data: &[u8], start: usize, end: usize) -> usize {
    let slice = &data[start..end];
    if slice.starts_with(b"\r\n") {
        return start + 2;
    }
    let mut pos = 0;
    while let Some(i) = slice[pos..].iter().position(|&b| b == b'\n') {
        let nl = pos + i;
        if slice[nl + 1..].starts_with(b"\r\n") {
            return start + nl + 3;
        }
        pos = nl + 1;
    }
    end
}

/// Splits a header block into fields, unfolding continuation lines.
fn header_fields(block: &[u8]) -> Vec<Field> {
    let mut out: Vec<Field> = Vec::new();
    for line in block.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some((_, v)) = out.last_mut() {
                v.push_str(&String::from_utf8_lossy(line));
            }
            continue;
        }
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            let name = String::from_utf8_lossy(&line[..colon])
                .trim()
                .to_ascii_lowercase();
            let value = String::from_utf8_lossy(&line[colon + 1..]).to_string();
            out.push((name, value));
        } else {
            // Not a field (an mbox "From " line, garbage); keep going.
            out.push((String::new(), String::new()));
        }
    }
    for (_, v) in &mut out {
        let t = v.trim();
        if t.len() != v.len() {
            *v = t.to_string();
        }
    }
    out
}

/// The raw lines (with their continuation lines) of the `Content-Type` and
/// `Content-Disposition` fields of a header block, in their order, then an empty line.
fn content_fields(block: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut keep = false;
    let mut rest = block;
    while !rest.is_empty() {
        let len = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let (line, tail) = rest.split_at(len);
        rest = tail;
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if text.is_empty() {
            keep = false;
            continue;
        }
        if !matches!(text[0], b' ' | b'\t') {
            keep = text.iter().position(|&b| b == b':').is_some_and(|colon| {
                let name = text[..colon].trim_ascii();
                name.eq_ignore_ascii_case(b"content-type")
                    || name.eq_ignore_ascii_case(b"content-disposition")
            });
        }
        if keep {
            out.extend_from_slice(text);
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn lowercase(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// Parses one part spanning `start..end`: its header, then its body (recursively).
/// Returns the structure and the part's header fields.
fn parse_part(
    data: &[u8],
    start: usize,
    end: usize,
    depth: usize,
    default: DefaultType,
    budget: &mut usize,
) -> (BodyStructure, Vec<Field>) {
    let body_start = header_end(data, start, end);
    let fields = header_fields(&data[start..body_start]);
    let (mut media_type, mut media_subtype, mut params) = match default {
        DefaultType::Text => (
            "text".to_string(),
            "plain".to_string(),
            vec![("charset".to_string(), "us-ascii".to_string())],
        ),
        DefaultType::Message => ("message".to_string(), "rfc822".to_string(), Vec::new()),
    };
    let mut disposition = None;
    if fields
        .iter()
        .any(|(n, _)| n == "content-type" || n == "content-disposition")
    {
        // Only the two fields read below go to mail-parser, which would otherwise decode
        // every field of the header (addresses, dates, Received: chains) for nothing.
        let wanted = content_fields(&data[start..body_start]);
        if let Some(msg) = MessageParser::new().parse_headers(&wanted) {
            if let Some(ct) = msg
                .header(HeaderName::ContentType)
                .and_then(|v| v.as_content_type())
            {
                if let Some(sub) = ct.subtype() {
                    media_type = lowercase(ct.ctype());
                    media_subtype = lowercase(sub);
                    params = attributes(ct.attributes());
                }
            }
            if let Some(cd) = msg
                .header(HeaderName::ContentDisposition)
                .and_then(|v| v.as_content_type())
            {
                disposition = Some((cd.ctype().to_string(), attributes(cd.attributes())));
            }
        }
    }
    let encoding = field(&fields, "content-transfer-encoding")
        .filter(|e| !e.is_empty())
        .unwrap_or("7BIT")
        .to_string();
    let language = field(&fields, "content-language")
        .map(|l| {
            l.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let mut part = BodyStructure {
        media_type,
        media_subtype,
        params,
        id: field(&fields, "content-id").map(str::to_string),
        description: field(&fields, "content-description").map(str::to_string),
        encoding,
        md5: field(&fields, "content-md5").map(str::to_string),
        disposition,
        language,
        location: field(&fields, "content-location").map(str::to_string),
        header_offset: start as u64,
        body_offset: body_start as u64,
        end_offset: end as u64,
        lines: count_lines(&data[body_start..end]),
        parts: Vec::new(),
        message_envelope: None,
    };
    if depth >= MAX_DEPTH || *budget == 0 {
        return (part, fields);
    }
    if part.media_type == "multipart" {
        let boundary = part
            .params
            .iter()
            .find(|(n, _)| n == "boundary")
            .map(|(_, v)| v.clone())
            .filter(|b| !b.is_empty());
        if let Some(boundary) = boundary {
            let child_default = if part.media_subtype == "digest" {
                DefaultType::Message
            } else {
                DefaultType::Text
            };
            for (s, e) in split_multipart(data, body_start, end, boundary.as_bytes(), budget) {
                let (child, _) = parse_part(data, s, e, depth + 1, child_default, budget);
                part.parts.push(child);
            }
        }
        if part.parts.is_empty() {
            // RFC 3501 needs at least one part: an empty text/plain at the body's end.
            part.parts.push(empty_text_part(end));
        }
    } else if part.media_type == "message"
        && (part.media_subtype == "rfc822" || part.media_subtype == "global")
        && matches!(
            part.encoding.to_ascii_lowercase().as_str(),
            "7bit" | "8bit" | "binary"
        )
    {
        *budget = budget.saturating_sub(1);
        let (child, child_fields) =
            parse_part(data, body_start, end, depth + 1, DefaultType::Text, budget);
        part.message_envelope = Some(Box::new(envelope(&child_fields)));
        part.parts.push(child);
    }
    (part, fields)
}

fn empty_text_part(at: usize) -> BodyStructure {
    BodyStructure {
        media_type: "text".into(),
        media_subtype: "plain".into(),
        params: vec![("charset".into(), "us-ascii".into())],
        id: None,
        description: None,
        encoding: "7BIT".into(),
        md5: None,
        disposition: None,
        language: Vec::new(),
        location: None,
        header_offset: at as u64,
        body_offset: at as u64,
        end_offset: at as u64,
        lines: 0,
        parts: Vec::new(),
        message_envelope: None,
    }
}

fn attributes(attrs: Option<&[mail_parser::Attribute<'_>]>) -> Vec<(String, String)> {
    attrs
        .unwrap_or_default()
        .iter()
        .map(|a| (a.name.to_ascii_lowercase(), a.value.to_string()))
        .collect()
}

/// Lines of a body (RFC 3501 `body-fld-lines`): its lines of text, a last line without
/// a line ending included (in a multipart the CRLF before a delimiter belongs to the
/// delimiter, so `Hello\r\nWorld` before one is two lines), as Cyrus counts them.
fn count_lines(body: &[u8]) -> u64 {
    let n = body.iter().filter(|&&b| b == b'\n').count() as u64;
    if body.last().is_some_and(|&b| b != b'\n') {
        n + 1
    } else {
        n
    }
}

/// Finds the parts of a multipart body: `(start, end)` of each, where a part ends before
/// the CRLF that precedes the next delimiter line (RFC 2046 5.1.1). A part after the last
/// delimiter without a close delimiter runs to `end`.
fn split_multipart(
    data: &[u8],
    start: usize,
    end: usize,
    boundary: &[u8],
    budget: &mut usize,
) -> Vec<(usize, usize)> {
    let mut parts = Vec::new();
    let mut open: Option<usize> = None; // start of the current part
    let mut line_start = start;
    while line_start < end {
        let line_end = data[line_start..end]
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| line_start + i + 1)
            .unwrap_or(end);
        let line = &data[line_start..line_end];
        if let Some(close) = delimiter(line, boundary) {
            // The CRLF before the delimiter belongs to it.
            let part_end =
                if line_start >= start + 2 && &data[line_start - 2..line_start] == b"\r\n" {
                    line_start - 2
                } else {
                    line_start
                };
            if let Some(s) = open.take() {
                parts.push((s, part_end.max(s)));
            }
            if close {
                return parts;
            }
            if *budget == 0 {
                return parts;
            }
            *budget -= 1;
            open = Some(line_end);
        }
        line_start = line_end;
    }
    if let Some(s) = open {
        parts.push((s, end.max(s)));
    }
    parts
}

/// If `line` is a delimiter line for `boundary`: `Some(true)` for the close delimiter.
fn delimiter(line: &[u8], boundary: &[u8]) -> Option<bool> {
    let rest = line.strip_prefix(b"--")?.strip_prefix(boundary)?;
    let (close, rest) = match rest.strip_prefix(b"--") {
        Some(r) => (true, r),
        None => (false, rest),
    };
    rest.iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .then_some(close)
}

/// The envelope of a message from its header fields (RFC 3501 7.4.2).
fn envelope(fields: &[Field]) -> Envelope {
    let text = |n: &str| field(fields, n).map(str::to_string);
    let addrs = |n: &str| field(fields, n).map(parse_addresses).unwrap_or_default();
    Envelope {
        date: text("date"),
        subject: text("subject"),
        from: addrs("from"),
        sender: addrs("sender"),
        reply_to: addrs("reply-to"),
        to: addrs("to"),
        cc: addrs("cc"),
        bcc: addrs("bcc"),
        in_reply_to: text("in-reply-to"),
        message_id: text("message-id"),
    }
}

#[derive(Debug, PartialEq)]
enum Tok {
    Word(String),
    /// The addr-spec inside `<...>`, route included, comments and whitespace removed.
    Angle(String),
    Special(char),
    /// A comment's text, without its outer parentheses (RFC 5322 3.2.2).
    Comment(String),
}

/// Reads a quoted string after its opening `"` (RFC 5322 3.2.4): the text with its
/// quoted-pairs undone.
fn quoted(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> String {
    let mut s = String::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => {
                if let Some(n) = chars.next() {
                    s.push(n);
                }
            }
            _ => s.push(c),
        }
    }
    s
}

/// Reads a comment after its opening `(` (RFC 5322 3.2.2: comments nest, quoted-pairs
/// are undone): its text, inner parentheses kept.
fn comment(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> String {
    let mut s = String::new();
    let mut depth = 1usize;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    s.push(n);
                }
                continue;
            }
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            _ => {}
        }
        s.push(c);
    }
    s
}

fn tokenize(v: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => {}
            '"' => out.push(Tok::Word(quoted(&mut chars))),
            '(' => out.push(Tok::Comment(comment(&mut chars))),
            '<' => {
                // angle-addr = [CFWS] "<" addr-spec ">" [CFWS], obs-route before the
                // addr-spec (RFC 5322 3.4, 4.4): CFWS may sit between any two tokens.
                let mut s = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '>' => break,
                        '(' => {
                            comment(&mut chars);
                        }
                        // A quoted local part is kept unquoted, as outside `<>`.
                        '"' => s.push_str(&quoted(&mut chars)),
                        c if c.is_whitespace() => {}
                        c => s.push(c),
                    }
                }
                out.push(Tok::Angle(s));
            }
            ',' | ':' | ';' | '@' => out.push(Tok::Special(c)),
            _ => {
                let mut s = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() || "\"(<>,:;@".contains(n) {
                        break;
                    }
                    s.push(n);
                    chars.next();
                }
                out.push(Tok::Word(s));
            }
        }
    }
    out
}

/// Parses an address list leniently (RFC 5322 3.4), keeping names raw (encoded-words
/// are not decoded). As UW-imapd and Dovecot do, an addr-spec without a display name
/// takes its (last) comment as the name: `user@domain (Real Name)` is named `Real Name`.
/// A group is a start marker and an end marker (RFC 3501 7.4.2); an obsolete route
/// `<@a.org,@b.org:user@domain>` becomes the address's `adl`, `@a.org,@b.org`.
pub fn parse_addresses(value: &str) -> Vec<Address> {
    let mut out = Vec::new();
    let mut cur: Vec<Tok> = Vec::new();
    let mut in_group = false;
    for tok in tokenize(value) {
        match tok {
            Tok::Special(':') if !in_group && !cur.iter().any(|t| matches!(t, Tok::Angle(_))) => {
                out.push(Address {
                    name: None,
                    adl: None,
                    mailbox: Some(phrase(&cur)),
                    host: None,
                });
                cur.clear();
                in_group = true;
            }
            Tok::Special(',') => flush_address(&mut cur, &mut out),
            Tok::Special(';') if in_group => {
                flush_address(&mut cur, &mut out);
                out.push(Address::default());
                in_group = false;
            }
            t => cur.push(t),
        }
    }
    flush_address(&mut cur, &mut out);
    if in_group {
        out.push(Address::default());
    }
    out
}

fn phrase(toks: &[Tok]) -> String {
    toks.iter()
        .filter_map(|t| match t {
            Tok::Word(w) => Some(w.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn flush_address(cur: &mut Vec<Tok>, out: &mut Vec<Address>) {
    if cur.is_empty() {
        return;
    }
    let toks = std::mem::take(cur);
    if let Some(pos) = toks.iter().position(|t| matches!(t, Tok::Angle(_))) {
        let name = phrase(&toks[..pos]);
        let Tok::Angle(spec) = &toks[pos] else {
            return;
        };
        // obs-route = obs-domain-list ":" (RFC 5322 4.4).
        let (adl, spec) = match spec.strip_prefix('@').and_then(|s| s.split_once(':')) {
            Some((route, rest)) => (Some(format!("@{route}")), rest.to_string()),
            None => (None, spec.clone()),
        };
        if spec.is_empty() && name.is_empty() {
            return;
        }
        let (mailbox, host) = split_spec(&spec);
        out.push(Address {
            name: (!name.is_empty()).then_some(name),
            adl,
            mailbox: Some(mailbox),
            host: Some(host),
        });
    } else {
        let mut spec = String::new();
        let mut name = None;
        for t in &toks {
            match t {
                Tok::Word(w) => spec.push_str(w),
                Tok::Special(c) => spec.push(*c),
                Tok::Comment(c) => name = Some(c.trim()),
                Tok::Angle(_) => {}
            }
        }
        if spec.is_empty() {
            // Only comments: no address.
            return;
        }
        let (mailbox, host) = split_spec(&spec);
        out.push(Address {
            name: name.filter(|n| !n.is_empty()).map(str::to_string),
            adl: None,
            mailbox: Some(mailbox),
            host: Some(host),
        });
    }
}

fn split_spec(spec: &str) -> (String, String) {
    match spec.rsplit_once('@') {
        Some((l, d)) if !d.is_empty() => (l.to_string(), d.to_string()),
        Some((l, _)) => (l.to_string(), MISSING_HOST.to_string()),
        None => (spec.to_string(), MISSING_HOST.to_string()),
    }
}

/// Converts octets to their CRLF form: every bare LF becomes CRLF.
pub fn to_crlf(data: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let bare = count_bare_lf(data, false);
    if bare == 0 {
        return std::borrow::Cow::Borrowed(data);
    }
    let mut out = Vec::with_capacity(data.len() + bare as usize);
    let mut prev = 0u8;
    for &b in data {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    std::borrow::Cow::Owned(out)
}

/// Counts LFs not preceded by CR; `prev_cr` says whether the octet before `data` was CR.
pub fn count_bare_lf(data: &[u8], prev_cr: bool) -> u64 {
    let mut prev = if prev_cr { b'\r' } else { 0 };
    let mut n = 0;
    for &b in data {
        if b == b'\n' && prev != b'\r' {
            n += 1;
        }
        prev = b;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    /// mail-parser reads the same Content-Type and Content-Disposition from the two
    /// fields alone as from the whole header.
    #[test]
    fn content_fields_parse_as_the_whole_header() {
        let headers: &[&[u8]] = &[
            b"From: a@b.c\r\nContent-Type: text/html; charset=utf-8\r\nSubject: x\r\n\r\n",
            b"Received: from x\r\n\tby y\r\ncontent-type: multipart/mixed;\r\n boundary=\"=_a b\"\r\nContent-Disposition: attachment;\r\n\tfilename=\"r\xe9sum\xe9.pdf\"\r\n\r\n",
            b"Content-Type: text/plain\r\nContent-Type: text/html\r\n\r\n",
            b"CONTENT-DISPOSITION : inline\r\nX-Content-Type: nope/nope\r\n",
            b"Subject: no content fields\r\n\r\n",
            b"Content-Type: application/octet-stream; name*=UTF-8''%E2%82%AC.bin\r\n\r\n",
        ];
        for h in headers {
            let whole = MessageParser::new().parse_headers(*h);
            let fields = content_fields(h);
            let part = MessageParser::new().parse_headers(&fields);
            let ct = |m: &Option<mail_parser::Message<'_>>| {
                m.as_ref()
                    .and_then(|m| m.header(HeaderName::ContentType))
                    .and_then(|v| v.as_content_type())
                    .map(|c| {
                        (
                            c.ctype().to_string(),
                            c.subtype().map(str::to_string),
                            attributes(c.attributes()),
                        )
                    })
            };
            let cd = |m: &Option<mail_parser::Message<'_>>| {
                m.as_ref()
                    .and_then(|m| m.header(HeaderName::ContentDisposition))
                    .and_then(|v| v.as_content_type())
                    .map(|c| (c.ctype().to_string(), attributes(c.attributes())))
            };
            assert_eq!(ct(&whole), ct(&part), "{}", String::from_utf8_lossy(h));
            assert_eq!(cd(&whole), cd(&part), "{}", String::from_utf8_lossy(h));
        }
    }

    #[test]
    fn simple_message_sizes_and_lines() {
        let m = b"Subject: hi\r\nFrom: a@b.c\r\n\r\nline one\r\nline two\r\n";
        let s = MessageStructure::parse(m);
        assert_eq!(s.header, b"Subject: hi\r\nFrom: a@b.c\r\n\r\n");
        assert_eq!(s.body.header_offset, 0);
        assert_eq!(s.body.body_offset, 28);
        assert_eq!(s.body.end_offset, 48);
        assert_eq!(s.body.body_size(), 20);
        assert_eq!(s.body.lines, 2);
        assert_eq!(
            (s.body.media_type.as_str(), s.body.media_subtype.as_str()),
            ("text", "plain")
        );
        assert_eq!(
            s.body.params,
            vec![("charset".to_string(), "us-ascii".to_string())]
        );
        assert_eq!(s.body.encoding, "7BIT");
        assert_eq!(s.envelope.subject.as_deref(), Some("hi"));
        assert!(s.sent_date.is_none());
    }

    #[test]
    fn line_counts() {
        assert_eq!(count_lines(b""), 0);
        assert_eq!(count_lines(b"a"), 1);
        assert_eq!(count_lines(b"a\r\n"), 1);
        assert_eq!(count_lines(b"a\r\nb"), 2);
        assert_eq!(count_lines(b"\r\n\r\n"), 2);
    }

    #[test]
    fn multipart_offsets_by_hand() {
        let m = b"Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n\r\nplain\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--b--\r\n";
        assert_eq!(m.len(), 114);
        let s = MessageStructure::parse(m);
        let b = &s.body;
        assert_eq!(b.media_subtype, "alternative");
        assert_eq!((b.body_offset, b.end_offset, b.body_size()), (51, 114, 63));
        assert_eq!(b.parts.len(), 2);
        let p1 = &b.parts[0];
        assert_eq!(
            (p1.header_offset, p1.body_offset, p1.end_offset),
            (56, 58, 63)
        );
        assert_eq!((p1.media_type.as_str(), p1.lines), ("text", 1));
        let p2 = &b.parts[1];
        assert_eq!(
            (p2.header_offset, p2.body_offset, p2.end_offset),
            (70, 97, 105)
        );
        assert_eq!(
            (p2.media_subtype.as_str(), p2.lines, p2.body_size()),
            ("html", 1, 8)
        );
        assert!(p2.params.is_empty());
    }

    #[test]
    fn nested_multipart_and_message() {
        let m = b"Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n\
--outer\r\nContent-Type: multipart/alternative; boundary=\"outer-inner\"\r\n\r\n\
--outer-inner\r\n\r\na\r\n--outer-inner--\r\n\
--outer\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\nSender: s@x.y\r\n\r\nbody\r\n\
--outer--";
        let s = MessageStructure::parse(m);
        assert_eq!(s.body.parts.len(), 2);
        let alt = &s.body.parts[0];
        assert_eq!(alt.media_subtype, "alternative");
        // `--outer-inner` is not taken for the `outer` boundary.
        assert_eq!(alt.parts.len(), 1);
        assert_eq!(alt.parts[0].body_size(), 1);
        let msg = &s.body.parts[1];
        assert_eq!(msg.media_subtype, "rfc822");
        let env = msg.message_envelope.as_deref().expect("envelope");
        assert_eq!(env.subject.as_deref(), Some("in"));
        assert_eq!(env.sender[0].mailbox.as_deref(), Some("s"));
        // "body": the CRLF before the close delimiter belongs to the delimiter.
        assert_eq!(msg.parts[0].body_size(), 4);
        assert_eq!(msg.lines, 4);
        assert_eq!(
            &m[msg.parts[0].body_offset as usize..msg.end_offset as usize],
            b"body"
        );
    }

    #[test]
    fn digest_defaults_to_message() {
        let m = b"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: x\r\n\r\ny\r\n--d--\r\n";
        let s = MessageStructure::parse(m);
        let p = &s.body.parts[0];
        assert_eq!(
            (p.media_type.as_str(), p.media_subtype.as_str()),
            ("message", "rfc822")
        );
        assert_eq!(
            p.message_envelope
                .as_deref()
                .and_then(|e| e.subject.as_deref()),
            Some("x")
        );
    }

    #[test]
    fn rfc2231_parameters_via_mail_parser() {
        let m = b"Content-Type: application/pdf;\r\n name*0=\"long\";\r\n name*1=\"name.pdf\"\r\nContent-Disposition: attachment; filename=x.pdf\r\n\r\n%PDF";
        let s = MessageStructure::parse(m);
        assert_eq!(
            s.body.params,
            vec![("name".to_string(), "longname.pdf".to_string())]
        );
        let (t, p) = s.body.disposition.clone().expect("disposition");
        assert_eq!(t, "attachment");
        assert_eq!(p, vec![("filename".to_string(), "x.pdf".to_string())]);
    }

    #[test]
    fn addresses() {
        let a = parse_addresses("\"Doe, John\" <john@x.org>, =?utf-8?q?J=C3=B6rg?= <j@y.de>");
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].name.as_deref(), Some("Doe, John"));
        assert_eq!(
            (a[0].mailbox.as_deref(), a[0].host.as_deref()),
            (Some("john"), Some("x.org"))
        );
        assert_eq!(a[1].name.as_deref(), Some("=?utf-8?q?J=C3=B6rg?="));
        let g = parse_addresses("team: a@x.org, b@y.org;, c@z.org");
        assert_eq!(g.len(), 5);
        assert_eq!(
            (g[0].mailbox.as_deref(), g[0].host.as_deref()),
            (Some("team"), None)
        );
        assert_eq!(g[3], Address::default());
        assert_eq!(g[4].mailbox.as_deref(), Some("c"));
        let empty_group = parse_addresses("undisclosed-recipients:;");
        assert_eq!(empty_group.len(), 2);
        let route = parse_addresses("<@relay.org:user@dest.org>");
        assert_eq!(route[0].adl.as_deref(), Some("@relay.org"));
        assert_eq!(route[0].host.as_deref(), Some("dest.org"));
        let bare = parse_addresses("user (comment)");
        assert_eq!(bare[0].host.as_deref(), Some(MISSING_HOST));
        assert_eq!(bare[0].name.as_deref(), Some("comment"));
        assert!(parse_addresses("").is_empty());
    }

    fn addr(name: Option<&str>, adl: Option<&str>, mailbox: &str, host: &str) -> Address {
        Address {
            name: name.map(str::to_string),
            adl: adl.map(str::to_string),
            mailbox: Some(mailbox.to_string()),
            host: Some(host.to_string()),
        }
    }

    /// Names from comments (UW-imapd, Dovecot): the last comment of an addr-spec without
    /// a display name; comments inside `<>` and in a display name are left out.
    #[test]
    fn names_from_comments() {
        assert_eq!(
            parse_addresses("user@domain (Real Name)"),
            vec![addr(Some("Real Name"), None, "user", "domain")]
        );
        assert_eq!(
            parse_addresses("user (first) @ (second) domain.org (Real \\(Name\\))"),
            vec![addr(Some("Real (Name)"), None, "user", "domain.org")]
        );
        assert_eq!(
            parse_addresses("a@x.org (A (nested) one), b@y.org"),
            vec![
                addr(Some("A (nested) one"), None, "a", "x.org"),
                addr(None, None, "b", "y.org"),
            ]
        );
        assert_eq!(
            parse_addresses("<user-from (comment)@ (comment) domain.org>"),
            vec![addr(None, None, "user-from", "domain.org")]
        );
        assert_eq!(
            parse_addresses("Real (really) Name <a@x.org> (ignored)"),
            vec![addr(Some("Real Name"), None, "a", "x.org")]
        );
        assert_eq!(
            parse_addresses("a@x.org ()"),
            vec![addr(None, None, "a", "x.org")]
        );
        assert_eq!(parse_addresses("(only a comment)"), vec![]);
        assert_eq!(
            parse_addresses("<\"john doe\"@x.org>, \"jane doe\"@y.org"),
            vec![
                addr(None, None, "john doe", "x.org"),
                addr(None, None, "jane doe", "y.org"),
            ]
        );
    }

    /// Groups and obsolete routes as RFC 3501 7.4.2 and RFC 5322 4.4 write them.
    #[test]
    fn groups_and_routes_exact() {
        let end = Address::default();
        let start = |n: &str| Address {
            mailbox: Some(n.to_string()),
            ..Address::default()
        };
        assert_eq!(
            parse_addresses("A Group: Ed <ed@x.org>, c@y.org (C);, last@z.org"),
            vec![
                start("A Group"),
                addr(Some("Ed"), None, "ed", "x.org"),
                addr(Some("C"), None, "c", "y.org"),
                end.clone(),
                addr(None, None, "last", "z.org"),
            ]
        );
        assert_eq!(
            parse_addresses("\"The: Group\":;"),
            vec![start("The: Group"), end.clone()]
        );
        assert_eq!(
            parse_addresses("Open: a@x.org"),
            vec![start("Open"), addr(None, None, "a", "x.org"), end]
        );
        assert_eq!(
            parse_addresses("Routed <@relay1.org, @relay2.org: user@dest.org>"),
            vec![addr(
                Some("Routed"),
                Some("@relay1.org,@relay2.org"),
                "user",
                "dest.org"
            )]
        );
        assert_eq!(
            parse_addresses("<@relay.org:user@dest.org>"),
            vec![addr(None, Some("@relay.org"), "user", "dest.org")]
        );
    }

    #[test]
    fn folded_headers_are_unfolded() {
        let m = b"Subject: one\r\n two\r\nDate: Tue, 1 Jul 2003 10:52:37 +0200\r\n\r\n";
        let s = MessageStructure::parse(m);
        assert_eq!(s.envelope.subject.as_deref(), Some("one two"));
        assert_eq!(s.sent_date, Some(1_057_049_557));
    }

    #[test]
    fn limits_hold_on_hostile_input() {
        let mut deep = Vec::new();
        for i in 0..1000 {
            deep.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n")
                    .as_bytes(),
            );
        }
        let s = MessageStructure::parse(&deep);
        let mut depth = 0;
        let mut p = &s.body;
        while let Some(c) = p.parts.first() {
            depth += 1;
            p = c;
        }
        assert!(depth <= MAX_DEPTH + 1, "depth {depth}");
        assert!(serde_json::to_vec(&s)
            .and_then(|v| serde_json::from_slice::<MessageStructure>(&v))
            .is_ok());
        let mut many = b"Content-Type: multipart/mixed; boundary=x\r\n\r\n".to_vec();
        for _ in 0..(MAX_PARTS + 50) {
            many.extend_from_slice(b"--x\r\n\r\n");
        }
        let s = MessageStructure::parse(&many);
        assert!(s.body.parts.len() <= MAX_PARTS);
        for garbage in [
            &b""[..],
            b"\r\n",
            b"\0\0\0",
            b"--x--\r\n",
            b":\r\n\r\n",
            b"\xff\xfe",
        ] {
            let _ = MessageStructure::parse(garbage);
        }
    }

    #[test]
    fn crlf_conversion() {
        assert_eq!(to_crlf(b"a\nb\r\nc\n").as_ref(), b"a\r\nb\r\nc\r\n");
        assert_eq!(count_bare_lf(b"\n", true), 0);
        assert_eq!(count_bare_lf(b"\n", false), 1);
        assert!(matches!(to_crlf(b"a\r\n"), std::borrow::Cow::Borrowed(_)));
    }
}
