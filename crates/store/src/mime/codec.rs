//! The compact binary form of a [`MessageStructure`] kept in the index
//! (`messages.structure`), and the reading of the legacy JSON form it replaces.
//!
//! Layout (version 1), every integer an unsigned LEB128 varint unless said otherwise:
//!
//! ```text
//! blob      = FORMAT_V1 envelope sent-date header part
//! envelope  = opt-str(date) opt-str(subject) addrs(from) addrs(sender) addrs(reply-to)
//!             addrs(to) addrs(cc) addrs(bcc) opt-str(in-reply-to) opt-str(message-id)
//! addrs     = count address*          address = opt-str(name adl mailbox host)
//! sent-date = 0x00 / 0x01 zigzag-varint(i64)
//! header    = len octets              (the raw header block)
//! part      = str(type) str(subtype) params opt-str(id) opt-str(description) str(encoding)
//!             opt-str(md5) (0x00 / 0x01 str(disposition) params) count str(language)*
//!             opt-str(location) header-offset (body - header) (end - body) lines
//!             (0x00 / 0x01 envelope) count part*
//! params    = count (str str)*        str = len UTF-8     opt-str = 0x00 / 0x01 str
//! ```
//!
//! The envelope comes first so ENVELOPE ([`MessageStructure::envelope_from_stored`]) reads
//! only the blob's first bytes. Offset differences use wrapping arithmetic, so any `u64`
//! values round-trip.
//!
//! The first byte is a format tag that no JSON document starts with (JSON objects start
//! with `{`), so [`MessageStructure::from_stored`] tells the forms apart without a
//! migration of existing indexes.
//!
//! Architecture invariant: decoding never panics and never allocates more than a small
//! multiple of the blob's size, whatever the blob holds: every length and count is checked
//! against the bytes remaining before anything is allocated, and nesting is limited to
//! [`MAX_STORED_DEPTH`] levels.

use super::{Address, BodyStructure, Envelope, MessageStructure};
use serde::Deserialize;

/// First byte of a version 1 binary blob. Never the first byte of JSON.
const FORMAT_V1: u8 = 0xB1;

/// Deepest nesting of parts a stored blob may hold (the root part is level 1). Well above
/// what [`MessageStructure::parse`] produces ([`super::MAX_DEPTH`] + 1 levels).
pub const MAX_STORED_DEPTH: usize = 64;

/// Fewest bytes one encoded item takes, used to bound counts before allocating.
const MIN_STR: usize = 1;
const MIN_ADDRESS: usize = 4;
const MIN_PARAM: usize = 2;
const MIN_PART: usize = 16;

/// Why a stored structure could not be read. Always the blob's fault: it is corrupt, was
/// written by a newer version, or was cut short.
#[derive(Debug, thiserror::Error)]
pub enum StructureDecodeError {
    #[error("empty structure blob")]
    Empty,
    #[error("unknown structure format (first byte {0:#04x})")]
    UnknownFormat(u8),
    #[error("structure blob cut short at byte {at}")]
    Truncated { at: usize },
    #[error("bad structure blob at byte {at}: {what}")]
    Malformed { at: usize, what: &'static str },
    #[error("structure blob nests parts deeper than {MAX_STORED_DEPTH} levels")]
    TooDeep,
    #[error("{0} trailing bytes after the structure")]
    TrailingBytes(usize),
    #[error("bad legacy JSON structure: {0}")]
    Json(#[source] serde_json::Error),
}

type Result<T> = std::result::Result<T, StructureDecodeError>;

impl MessageStructure {
    /// The compact binary form stored in the index (see the module docs for the layout).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(self.header.len() + 256));
        w.0.push(FORMAT_V1);
        w.envelope(&self.envelope);
        match self.sent_date {
            None => w.0.push(0),
            Some(d) => {
                w.0.push(1);
                w.int(d);
            }
        }
        w.bytes(&self.header);
        w.part(&self.body);
        w.0
    }

    /// Reads a structure as stored in the index: the binary form of [`Self::to_bytes`] or
    /// the legacy `serde_json` form (first byte `{`).
    pub fn from_stored(bytes: &[u8]) -> Result<MessageStructure> {
        match bytes.first() {
            None => Err(StructureDecodeError::Empty),
            Some(b'{') => serde_json::from_slice(bytes).map_err(StructureDecodeError::Json),
            Some(&FORMAT_V1) => {
                let mut r = Reader { buf: bytes, pos: 1 };
                let envelope = r.envelope()?;
                let sent_date = if r.present()? { Some(r.int()?) } else { None };
                let len = r.len()?;
                let header = r.take(len)?.to_vec();
                let body = r.part(1)?;
                r.finish()?;
                Ok(MessageStructure {
                    envelope,
                    body,
                    header,
                    sent_date,
                })
            }
            Some(&other) => Err(StructureDecodeError::UnknownFormat(other)),
        }
    }

    /// Reads only the top-level envelope of a stored structure (FETCH ENVELOPE). For the
    /// binary form this decodes the blob's first bytes and nothing else, so corruption
    /// further on goes unnoticed here.
    pub fn envelope_from_stored(bytes: &[u8]) -> Result<Envelope> {
        /// The legacy JSON form, every field but the envelope skipped unbuilt.
        #[derive(Deserialize)]
        struct EnvelopeOnly {
            envelope: Envelope,
        }
        match bytes.first() {
            None => Err(StructureDecodeError::Empty),
            Some(b'{') => serde_json::from_slice::<EnvelopeOnly>(bytes)
                .map(|e| e.envelope)
                .map_err(StructureDecodeError::Json),
            Some(&FORMAT_V1) => Reader { buf: bytes, pos: 1 }.envelope(),
            Some(&other) => Err(StructureDecodeError::UnknownFormat(other)),
        }
    }
}

struct Writer(Vec<u8>);

impl Writer {
    fn uint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn int(&mut self, v: i64) {
        self.uint(((v << 1) ^ (v >> 63)) as u64);
    }

    fn len(&mut self, n: usize) {
        self.uint(n as u64);
    }

    fn bytes(&mut self, b: &[u8]) {
        self.len(b.len());
        self.0.extend_from_slice(b);
    }

    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.0.push(0),
            Some(s) => {
                self.0.push(1);
                self.str(s);
            }
        }
    }

    fn params(&mut self, params: &[(String, String)]) {
        self.len(params.len());
        for (n, v) in params {
            self.str(n);
            self.str(v);
        }
    }

    fn addresses(&mut self, list: &[Address]) {
        self.len(list.len());
        for a in list {
            self.opt_str(a.name.as_deref());
            self.opt_str(a.adl.as_deref());
            self.opt_str(a.mailbox.as_deref());
            self.opt_str(a.host.as_deref());
        }
    }

    fn envelope(&mut self, e: &Envelope) {
        self.opt_str(e.date.as_deref());
        self.opt_str(e.subject.as_deref());
        for list in [&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc] {
            self.addresses(list);
        }
        self.opt_str(e.in_reply_to.as_deref());
        self.opt_str(e.message_id.as_deref());
    }

    fn part(&mut self, p: &BodyStructure) {
        self.str(&p.media_type);
        self.str(&p.media_subtype);
        self.params(&p.params);
        self.opt_str(p.id.as_deref());
        self.opt_str(p.description.as_deref());
        self.str(&p.encoding);
        self.opt_str(p.md5.as_deref());
        match &p.disposition {
            None => self.0.push(0),
            Some((kind, params)) => {
                self.0.push(1);
                self.str(kind);
                self.params(params);
            }
        }
        self.len(p.language.len());
        for l in &p.language {
            self.str(l);
        }
        self.opt_str(p.location.as_deref());
        self.uint(p.header_offset);
        self.uint(p.body_offset.wrapping_sub(p.header_offset));
        self.uint(p.end_offset.wrapping_sub(p.body_offset));
        self.uint(p.lines);
        match &p.message_envelope {
            None => self.0.push(0),
            Some(e) => {
                self.0.push(1);
                self.envelope(e);
            }
        }
        self.len(p.parts.len());
        for child in &p.parts {
            self.part(child);
        }
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn malformed<T>(&self, what: &'static str) -> Result<T> {
        Err(StructureDecodeError::Malformed { at: self.pos, what })
    }

    fn byte(&mut self) -> Result<u8> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or(StructureDecodeError::Truncated { at: self.pos })?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(StructureDecodeError::Truncated { at: self.buf.len() })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn uint(&mut self) -> Result<u64> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            // The tenth byte holds the top bit only.
            if shift == 63 && b > 1 {
                return self.malformed("varint overflows 64 bits");
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        self.malformed("varint overflows 64 bits")
    }

    fn int(&mut self) -> Result<i64> {
        let z = self.uint()?;
        Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
    }

    /// A length of bytes that must all be there.
    fn len(&mut self) -> Result<usize> {
        let n = self.uint()?;
        match usize::try_from(n) {
            Ok(n) if n <= self.remaining() => Ok(n),
            _ => Err(StructureDecodeError::Truncated { at: self.buf.len() }),
        }
    }

    /// A count of items taking at least `min_size` bytes each.
    fn count(&mut self, min_size: usize) -> Result<usize> {
        let n = self.uint()?;
        match usize::try_from(n) {
            Ok(n) if n <= self.remaining() / min_size => Ok(n),
            _ => Err(StructureDecodeError::Truncated { at: self.buf.len() }),
        }
    }

    fn present(&mut self) -> Result<bool> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => {
                self.pos -= 1;
                self.malformed("presence byte not 0 or 1")
            }
        }
    }

    fn string(&mut self) -> Result<String> {
        let n = self.len()?;
        let at = self.pos;
        let s = self.take(n)?;
        match std::str::from_utf8(s) {
            Ok(s) => Ok(s.to_string()),
            Err(_) => Err(StructureDecodeError::Malformed {
                at,
                what: "string not UTF-8",
            }),
        }
    }

    fn opt_string(&mut self) -> Result<Option<String>> {
        if self.present()? {
            self.string().map(Some)
        } else {
            Ok(None)
        }
    }

    fn params(&mut self) -> Result<Vec<(String, String)>> {
        let n = self.count(MIN_PARAM)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push((self.string()?, self.string()?));
        }
        Ok(out)
    }

    fn addresses(&mut self) -> Result<Vec<Address>> {
        let n = self.count(MIN_ADDRESS)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(Address {
                name: self.opt_string()?,
                adl: self.opt_string()?,
                mailbox: self.opt_string()?,
                host: self.opt_string()?,
            });
        }
        Ok(out)
    }

    fn envelope(&mut self) -> Result<Envelope> {
        Ok(Envelope {
            date: self.opt_string()?,
            subject: self.opt_string()?,
            from: self.addresses()?,
            sender: self.addresses()?,
            reply_to: self.addresses()?,
            to: self.addresses()?,
            cc: self.addresses()?,
            bcc: self.addresses()?,
            in_reply_to: self.opt_string()?,
            message_id: self.opt_string()?,
        })
    }

    /// One part at nesting level `level` (the root is level 1).
    fn part(&mut self, level: usize) -> Result<BodyStructure> {
        if level > MAX_STORED_DEPTH {
            return Err(StructureDecodeError::TooDeep);
        }
        let media_type = self.string()?;
        let media_subtype = self.string()?;
        let params = self.params()?;
        let id = self.opt_string()?;
        let description = self.opt_string()?;
        let encoding = self.string()?;
        let md5 = self.opt_string()?;
        let disposition = if self.present()? {
            Some((self.string()?, self.params()?))
        } else {
            None
        };
        let n = self.count(MIN_STR)?;
        let mut language = Vec::with_capacity(n);
        for _ in 0..n {
            language.push(self.string()?);
        }
        let location = self.opt_string()?;
        let header_offset = self.uint()?;
        let body_offset = header_offset.wrapping_add(self.uint()?);
        let end_offset = body_offset.wrapping_add(self.uint()?);
        let lines = self.uint()?;
        let message_envelope = if self.present()? {
            Some(Box::new(self.envelope()?))
        } else {
            None
        };
        let n = self.count(MIN_PART)?;
        let mut parts = Vec::with_capacity(n);
        for _ in 0..n {
            parts.push(self.part(level + 1)?);
        }
        Ok(BodyStructure {
            media_type,
            media_subtype,
            params,
            id,
            description,
            encoding,
            md5,
            disposition,
            language,
            location,
            header_offset,
            body_offset,
            end_offset,
            lines,
            parts,
            message_envelope,
        })
    }

    fn finish(&self) -> Result<()> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(StructureDecodeError::TrailingBytes(n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::{to_crlf, MAX_DEPTH};

    /// Real-world shaped messages (LF line ends, made CRLF before parsing).
    const SAMPLES: &[&str] = &[
        // Plain text, folded headers, a Date.
        "Return-Path: <alice@example.org>\n\
Received: from mx.example.org (mx.example.org [192.0.2.1])\n\tby mail.example.com with ESMTPS id 12345\n\tfor <bob@example.com>; Tue, 1 Jul 2003 10:52:37 +0200\n\
Date: Tue, 1 Jul 2003 10:52:37 +0200\n\
From: Alice Example <alice@example.org>\n\
To: bob@example.com\n\
Subject: Lunch\n\
 tomorrow?\n\
Message-ID: <1234@example.org>\n\
\n\
Are you free at noon?\n\
-- \nAlice\n",
        // multipart/alternative.
        "From: news@example.net\n\
To: \"Bob B.\" <bob@example.com>, carol@example.com\n\
Cc: dave@example.com\n\
Subject: Newsletter\n\
Date: Wed, 2 Jul 2003 08:00:00 -0000\n\
MIME-Version: 1.0\n\
Content-Type: multipart/alternative; boundary=\"alt-1\"\n\
\n\
This is a multi-part message in MIME format.\n\
--alt-1\n\
Content-Type: text/plain; charset=utf-8\n\
Content-Transfer-Encoding: quoted-printable\n\
\n\
Hello =E2=80=94 world\n\
--alt-1\n\
Content-Type: text/html; charset=utf-8\n\
\n\
<p>Hello &mdash; world</p>\n\
--alt-1--\n",
        // multipart/mixed with an attachment.
        "From: Eve <eve@example.org>\n\
To: bob@example.com\n\
Subject: Report\n\
In-Reply-To: <abc@example.com>\n\
Content-Type: multipart/mixed; boundary=mix\n\
\n\
--mix\n\
Content-Type: text/plain\n\
\n\
See attached.\n\
--mix\n\
Content-Type: application/pdf; name=\"report.pdf\"\n\
Content-Disposition: attachment; filename=\"report.pdf\"\n\
Content-Transfer-Encoding: base64\n\
Content-ID: <part1@example.org>\n\
Content-Description: The report\n\
Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n\
Content-Language: en, de\n\
Content-Location: http://example.org/report.pdf\n\
\n\
JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSL0ZpbHRlci9GbGF0ZURl\n\
Y29kZT4+CnN0cmVhbQp4nDPQM1Qo5ypUMFAw0DMwslAwtTTVMzI3VLAwMTSyUChKTSxJTQEA\n\
--mix--\n",
        // message/rfc822 nested inside multipart/mixed.
        "From: fwd@example.org\n\
To: bob@example.com\n\
Subject: Fwd: hello\n\
Content-Type: multipart/mixed; boundary=\"outer\"\n\
\n\
--outer\n\
\n\
Forwarded below.\n\
--outer\n\
Content-Type: message/rfc822\n\
\n\
From: Orig <orig@example.net>\n\
Sender: list@example.net\n\
Reply-To: list@example.net\n\
To: fwd@example.org\n\
Subject: hello\n\
Date: Mon, 30 Jun 2003 09:00:00 +0100\n\
Content-Type: multipart/alternative; boundary=in\n\
\n\
--in\n\
\n\
hi\n\
--in\n\
Content-Type: text/html\n\
\n\
<b>hi</b>\n\
--in--\n\
--outer--\n",
        // Groups in address lists, empty group, route address, missing host.
        "From: team: a@x.org, \"B\" <b@y.org>;, c@z.org\n\
To: undisclosed-recipients:;\n\
Cc: <@relay.org:user@dest.org>, user (comment)\n\
Bcc: hidden@example.com\n\
Subject: groups\n\
\n\
body\n",
        // Non-ASCII header (raw UTF-8 and encoded-words), RFC 2231 parameters.
        "From: =?utf-8?q?J=C3=B6rg?= <joerg@example.de>\n\
To: Zoë <zoe@exämple.de>\n\
Subject: Grüße aus Köln ✓\n\
Content-Type: text/plain; charset*=utf-8''%C3%BC; format=flowed\n\
Content-Transfer-Encoding: 8bit\n\
\n\
Schöne Grüße\n",
        // Header only, no body, no empty line.
        "Subject: just a header\n",
        // Nothing at all.
        "",
    ];

    fn samples() -> Vec<MessageStructure> {
        SAMPLES
            .iter()
            .map(|s| MessageStructure::parse(&to_crlf(s.as_bytes())))
            .collect()
    }

    fn deep_message(levels: usize) -> MessageStructure {
        let mut m = Vec::new();
        for i in 0..levels {
            m.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n")
                    .as_bytes(),
            );
        }
        MessageStructure::parse(&m)
    }

    #[test]
    fn samples_parse_as_expected() {
        let s = samples();
        assert_eq!(s[1].body.parts.len(), 2);
        assert_eq!(
            s[2].body.parts[1]
                .disposition
                .as_ref()
                .map(|d| d.0.as_str()),
            Some("attachment")
        );
        assert_eq!(s[2].body.parts[1].language, ["en", "de"]);
        let nested = &s[3].body.parts[1];
        assert!(nested.message_envelope.is_some());
        assert_eq!(nested.parts[0].parts.len(), 2);
        assert_eq!(s[4].envelope.from.len(), 5);
        assert_eq!(s[4].envelope.from[3], Address::default());
        assert_eq!(s[5].envelope.subject.as_deref(), Some("Grüße aus Köln ✓"));
        assert!(s[0].sent_date.is_some());
    }

    #[test]
    fn binary_round_trips() {
        for (i, s) in samples()
            .into_iter()
            .chain([deep_message(1000)])
            .enumerate()
        {
            let b = s.to_bytes();
            assert_eq!(b[0], FORMAT_V1);
            let back = MessageStructure::from_stored(&b).expect("decode");
            assert_eq!(back, s, "sample {i}");
            let env = MessageStructure::envelope_from_stored(&b).expect("envelope");
            assert_eq!(env, s.envelope, "sample {i}");
        }
    }

    #[test]
    fn legacy_json_still_reads() {
        for (i, s) in samples()
            .into_iter()
            .chain([deep_message(1000)])
            .enumerate()
        {
            let json = serde_json::to_vec(&s).expect("json");
            assert_eq!(json[0], b'{');
            assert_eq!(
                MessageStructure::from_stored(&json).expect("json decode"),
                s,
                "sample {i}"
            );
            assert_eq!(
                MessageStructure::envelope_from_stored(&json).expect("json envelope"),
                s.envelope,
                "sample {i}"
            );
            // Both forms decode to the same value.
            assert_eq!(
                MessageStructure::from_stored(&json).expect("json"),
                MessageStructure::from_stored(&s.to_bytes()).expect("binary")
            );
        }
    }

    #[test]
    fn extreme_values_round_trip() {
        let mut s = samples().swap_remove(2);
        s.sent_date = Some(i64::MIN);
        s.body.header_offset = u64::MAX;
        s.body.body_offset = 0;
        s.body.end_offset = u64::MAX - 1;
        s.body.lines = u64::MAX;
        s.body.parts[0].message_envelope = Some(Box::default());
        s.header = (0..=255).collect();
        assert_eq!(
            MessageStructure::from_stored(&s.to_bytes()).expect("decode"),
            s
        );
        s.sent_date = Some(i64::MAX);
        assert_eq!(
            MessageStructure::from_stored(&s.to_bytes()).expect("decode"),
            s
        );
        s.sent_date = Some(-1);
        assert_eq!(
            MessageStructure::from_stored(&s.to_bytes()).expect("decode"),
            s
        );
    }

    #[test]
    fn every_truncation_is_an_error() {
        for s in samples().into_iter().chain([deep_message(50)]) {
            for blob in [s.to_bytes(), serde_json::to_vec(&s).expect("json")] {
                for cut in 0..blob.len() {
                    assert!(
                        MessageStructure::from_stored(&blob[..cut]).is_err(),
                        "prefix {cut} of {}",
                        blob.len()
                    );
                }
                let mut longer = blob.clone();
                longer.push(0);
                assert!(MessageStructure::from_stored(&longer).is_err());
            }
        }
    }

    #[test]
    fn garbled_blobs_never_panic() {
        for s in samples() {
            let blob = s.to_bytes();
            for i in 0..blob.len() {
                for v in [0x00, 0x01, 0x02, 0x7f, 0x80, 0xff, blob[i] ^ 0x01] {
                    let mut g = blob.clone();
                    g[i] = v;
                    let _ = MessageStructure::from_stored(&g);
                    let _ = MessageStructure::envelope_from_stored(&g);
                }
                // A byte dropped or doubled.
                let mut g = blob.clone();
                g.remove(i);
                let _ = MessageStructure::from_stored(&g);
                let mut g = blob.clone();
                g.insert(i, blob[i]);
                let _ = MessageStructure::from_stored(&g);
            }
        }
    }

    #[test]
    fn hostile_blobs_are_refused_cheaply() {
        use StructureDecodeError as E;
        assert!(matches!(MessageStructure::from_stored(b""), Err(E::Empty)));
        assert!(matches!(
            MessageStructure::from_stored(b"["),
            Err(E::UnknownFormat(b'['))
        ));
        assert!(matches!(
            MessageStructure::from_stored(b"{"),
            Err(E::Json(_))
        ));
        // A varint that never ends, and one past 64 bits.
        let mut b = vec![FORMAT_V1, 1];
        b.extend([0xff; 20]);
        assert!(matches!(
            MessageStructure::from_stored(&b),
            Err(E::Truncated { .. } | E::Malformed { .. })
        ));
        let mut b = vec![FORMAT_V1, 1];
        b.extend([0xff; 9]);
        b.push(0x02);
        assert!(matches!(
            MessageStructure::from_stored(&b),
            Err(E::Malformed { .. })
        ));
        // A subject claiming 2^62 bytes; an address list claiming 2^62 entries.
        let mut b = vec![FORMAT_V1, 0, 1];
        b.extend([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40]);
        assert!(matches!(
            MessageStructure::from_stored(&b),
            Err(E::Truncated { .. })
        ));
        let mut b = vec![FORMAT_V1, 0, 0];
        b.extend([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40]);
        b.extend([0; 100]);
        assert!(matches!(
            MessageStructure::from_stored(&b),
            Err(E::Truncated { .. })
        ));
        // A presence byte of 2; a string that is not UTF-8.
        assert!(matches!(
            MessageStructure::from_stored(&[FORMAT_V1, 2]),
            Err(E::Malformed { at: 1, .. })
        ));
        assert!(matches!(
            MessageStructure::from_stored(&[FORMAT_V1, 1, 1, 0xff]),
            Err(E::Malformed { at: 3, .. })
        ));
    }

    #[test]
    fn depth_is_limited() {
        // What the parser makes always decodes.
        let parsed = deep_message(1000);
        let mut levels = 1;
        let mut p = &parsed.body;
        while let Some(c) = p.parts.first() {
            levels += 1;
            p = c;
        }
        assert!(levels > MAX_DEPTH && levels <= MAX_STORED_DEPTH, "{levels}");
        assert!(MessageStructure::from_stored(&parsed.to_bytes()).is_ok());
        // Built by hand one level deeper than allowed: refused, no stack overflow.
        let leaf = parsed.body.parts[0].clone();
        let nest = |levels: usize| {
            let mut body = leaf.clone();
            body.parts.clear();
            for _ in 1..levels {
                let mut outer = leaf.clone();
                outer.parts = vec![body];
                body = outer;
            }
            MessageStructure {
                body,
                ..parsed.clone()
            }
            .to_bytes()
        };
        assert!(MessageStructure::from_stored(&nest(MAX_STORED_DEPTH)).is_ok());
        assert!(matches!(
            MessageStructure::from_stored(&nest(MAX_STORED_DEPTH + 1)),
            Err(StructureDecodeError::TooDeep)
        ));
        assert!(matches!(
            MessageStructure::from_stored(&nest(1_000)),
            Err(StructureDecodeError::TooDeep)
        ));
    }

    proptest::proptest! {
        #[test]
        fn parsed_messages_round_trip(
            raw in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(b"\r\n-:;= \"<>@,aA\xc3\xa9\xff".to_vec()),
                    proptest::num::u8::ANY,
                ],
                0..600,
            ),
            head in proptest::sample::select(vec![
                "",
                "From: a@b.c, g: x@y.z;\r\nSubject: s\r\n",
                "Content-Type: multipart/mixed; boundary=-\r\n\r\n---\r\n",
                "Content-Type: message/rfc822\r\n\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n--a\r\n",
            ]),
        ) {
            let mut msg = head.as_bytes().to_vec();
            msg.extend_from_slice(&raw);
            let s = MessageStructure::parse(&to_crlf(&msg));
            let b = s.to_bytes();
            proptest::prop_assert_eq!(&MessageStructure::from_stored(&b).expect("decode"), &s);
            proptest::prop_assert_eq!(&MessageStructure::envelope_from_stored(&b).expect("env"), &s.envelope);
            let json = serde_json::to_vec(&s).expect("json");
            proptest::prop_assert_eq!(&MessageStructure::from_stored(&json).expect("json decode"), &s);
        }

        #[test]
        fn random_blobs_never_panic(
            raw in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
        ) {
            let mut b = vec![FORMAT_V1];
            b.extend_from_slice(&raw);
            let _ = MessageStructure::from_stored(&b);
            let _ = MessageStructure::envelope_from_stored(&b);
        }
    }
}
