//! Text matching for SEARCH: case-insensitive substring needles, RFC 2047 encoded-word
//! decoding of header values, and transfer/charset decoding of body parts.

use crate::imap::comparator::casemap;
use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;

/// A SEARCH string, ready to be matched with `i;unicode-casemap` (RFC 5255 4.2 and 4.6:
/// with I18NLEVEL=1 the comparator's substring operation replaces RFC 3501 6.4.4's "case-
/// insensitive" match; see [`crate::imap::comparator`]).
#[derive(Debug)]
pub(crate) struct Needle {
    /// The key's octets, for the `i;octet` fallback (RFC 5255 4.6 (c)).
    raw: Vec<u8>,
    /// The casemapped key, when its octets are UTF-8.
    mapped: Option<String>,
    /// The key is ASCII: ASCII text is matched without mapping it.
    ascii: bool,
}

impl Needle {
    /// The needle of a key's octets (UTF-8, or US-ASCII which is a subset).
    pub(crate) fn new(raw: &[u8]) -> Needle {
        Needle {
            raw: raw.to_vec(),
            mapped: std::str::from_utf8(raw).ok().map(casemap),
            ascii: raw.is_ascii(),
        }
    }

    /// Whether `hay` contains the needle under `i;unicode-casemap`; when either is not
    /// UTF-8, whether its octets contain the needle's (`i;octet`).
    pub(crate) fn found_in(&self, hay: &[u8]) -> bool {
        if self.raw.is_empty() {
            return true;
        }
        let Some(mapped) = &self.mapped else {
            return memchr::memmem::find(hay, &self.raw).is_some();
        };
        if self.ascii && hay.is_ascii() {
            // ASCII text maps to its upper case, letter for letter.
            return find_ascii_ci(hay, mapped.as_bytes());
        }
        match std::str::from_utf8(hay) {
            Ok(h) => casemap(h).contains(mapped.as_str()),
            Err(_) => memchr::memmem::find(hay, &self.raw).is_some(),
        }
    }
}

/// ASCII case-insensitive substring search (`needle` in either case).
fn find_ascii_ci(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    if hay.len() < needle.len() {
        return false;
    }
    let (first, upper) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    let last_start = hay.len() - needle.len();
    let mut i = 0;
    while i <= last_start {
        let Some(off) = hay[i..=last_start]
            .iter()
            .position(|&b| b == first || b == upper)
        else {
            return false;
        };
        let at = i + off;
        if hay[at + 1..at + needle.len()].eq_ignore_ascii_case(rest) {
            return true;
        }
        i = at + 1;
    }
    false
}

/// Text in a named charset as UTF-8 (unknown charsets: lossy UTF-8).
pub(crate) fn charset_to_utf8(charset: &str, data: &[u8]) -> Vec<u8> {
    let cs = charset.trim().to_ascii_lowercase();
    if cs.is_empty() || cs == "utf-8" || cs == "utf8" || cs == "us-ascii" || cs == "ascii" {
        return data.to_vec();
    }
    match charset_decoder(cs.as_bytes()) {
        Some(decode) => decode(data).into_bytes(),
        None => data.to_vec(),
    }
}

/// Undoes a Content-Transfer-Encoding (base64, quoted-printable); other encodings and
/// undecodable data are returned as they are.
pub(crate) fn transfer_decode(encoding: &str, data: Vec<u8>) -> Vec<u8> {
    let decoded = if encoding.eq_ignore_ascii_case("base64") {
        base64_decode(&data)
    } else if encoding.eq_ignore_ascii_case("quoted-printable") {
        quoted_printable_decode(&data)
    } else {
        None
    };
    decoded.unwrap_or(data)
}

/// Decodes RFC 2047 encoded-words (`=?charset?B?...?=`, `=?charset?Q?...?=`) in a header
/// value; whitespace between two adjacent encoded-words is dropped (RFC 2047 6.2).
/// Malformed words are kept as they are.
pub(crate) fn decode_rfc2047(value: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(value.len());
    let mut pos = 0;
    // Where the whitespace after the last decoded word started in `out`.
    let mut after_word: Option<usize> = None;
    while pos < value.len() {
        if value[pos..].starts_with(b"=?") {
            if let Some((decoded, used)) = encoded_word(&value[pos..]) {
                if let Some(ws) = after_word {
                    if out[ws..].iter().all(|b| b.is_ascii_whitespace()) {
                        out.truncate(ws);
                    }
                }
                out.extend_from_slice(&decoded);
                pos += used;
                after_word = Some(out.len());
                continue;
            }
        }
        let b = value[pos];
        if !b.is_ascii_whitespace() {
            after_word = None;
        }
        out.push(b);
        pos += 1;
    }
    out
}

/// One encoded-word at the start of `s`: its decoded text and the octets it took.
fn encoded_word(s: &[u8]) -> Option<(Vec<u8>, usize)> {
    let body = s.get(2..)?;
    let q1 = body.iter().position(|&b| b == b'?')?;
    let charset = std::str::from_utf8(&body[..q1]).ok()?;
    // RFC 2231 language suffix: charset*lang.
    let charset = charset.split('*').next().unwrap_or(charset);
    let enc = *body.get(q1 + 1)?;
    if body.get(q1 + 2) != Some(&b'?') {
        return None;
    }
    let text_start = q1 + 3;
    let rest = body.get(text_start..)?;
    let end = rest.windows(2).position(|w| w == b"?=")?;
    let text = &rest[..end];
    if text.iter().any(|b| b.is_ascii_whitespace()) {
        return None;
    }
    let raw = match enc {
        b'B' | b'b' => base64_decode(text)?,
        b'Q' | b'q' => q_decode(text),
        _ => return None,
    };
    Some((charset_to_utf8(charset, &raw), 2 + text_start + end + 2))
}

/// The "Q" encoding of RFC 2047 4.2.
fn q_decode(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'_' => out.push(b' '),
            b'=' => {
                let hex = text
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'='),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needles() {
        assert!(Needle::new(b"SMALL").found_in(b"a small thing"));
        assert!(Needle::new(b"").found_in(b""));
        assert!(!Needle::new(b"xyz").found_in(b"xy"));
        assert!(Needle::new(b"y").found_in(b"xY"));
        assert!(Needle::new("GRÜSSE".as_bytes()).found_in("viele grüsse".as_bytes()));
        assert!(Needle::new("grüße".as_bytes()).found_in("GRÜßE".as_bytes()));
        assert!(!Needle::new("grüße".as_bytes()).found_in(b"gruesse"));
    }

    #[test]
    fn encoded_words() {
        assert_eq!(
            decode_rfc2047(b"=?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <j@x>"),
            "Jürgen Müller <j@x>".as_bytes()
        );
        assert_eq!(
            decode_rfc2047(b"=?utf-8?b?R3LDvMOfZQ==?= =?utf-8?q?_x?= tail"),
            "Grüße x tail".as_bytes()
        );
        assert_eq!(
            decode_rfc2047(b"=?iso-8859-1?q?caf=E9?="),
            "café".as_bytes()
        );
        for bad in [
            &b"=?"[..],
            b"=?x",
            b"=?a?Z?b?=",
            b"=?a?Q?b c?=",
            b"=?a?Q?=4",
        ] {
            assert_eq!(decode_rfc2047(bad), bad);
        }
    }

    #[test]
    fn transfer_encodings() {
        assert_eq!(
            transfer_decode("BASE64", b"aGVs\r\nbG8=\r\n".to_vec()),
            b"hello"
        );
        assert_eq!(
            transfer_decode("quoted-printable", b"a=3Db=\r\nc".to_vec()),
            b"a=bc"
        );
        assert_eq!(transfer_decode("7bit", b"x".to_vec()), b"x");
        assert_eq!(transfer_decode("base64", b"!!!".to_vec()), b"!!!");
    }
}
