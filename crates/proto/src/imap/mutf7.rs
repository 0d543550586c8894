//! Modified UTF-7 for mailbox names (RFC 3501 section 5.1.3).
//!
//! What lives here: strict decoding of modified UTF-7 to UTF-8 and canonical encoding of
//! UTF-8 to modified UTF-7. What does not: mailbox name policy (hierarchy delimiter, `..`,
//! wildcards in CREATE): that is the server's.
//!
//! Decoding is strict so that every accepted name has exactly one wire form:
//! encode(decode(x)) == x for every x that decodes. Refused: bytes outside printable
//! US-ASCII, a bare `&` without `-`, base64 with non-zero padding bits or a partial
//! UTF-16 unit, unpaired surrogates, printable ASCII hidden in a base64 run, an empty
//! run other than `&-`, and two adjacent runs (`&AOQ-&APY-` must be `&AOQA9g-`).

use std::fmt;

/// Why a mailbox name is not valid modified UTF-7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mutf7Error(&'static str);

impl fmt::Display for Mutf7Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid modified UTF-7 mailbox name: {}", self.0)
    }
}

impl std::error::Error for Mutf7Error {}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

fn b64_value(b: u8) -> Option<u32> {
    match b {
        b'A'..=b'Z' => Some(u32::from(b - b'A')),
        b'a'..=b'z' => Some(u32::from(b - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(b - b'0') + 52),
        b'+' => Some(62),
        b',' => Some(63),
        _ => None,
    }
}

/// Decodes a modified UTF-7 mailbox name to UTF-8.
///
/// ```text
/// RFC 3501 5.1.3: "&" is used to shift to modified BASE64 and "-" to shift back to
/// US-ASCII; "&" itself is represented as "&-"; "," is used instead of "/".
/// ```
pub fn decode(input: &[u8]) -> Result<String, Mutf7Error> {
    let mut out = String::with_capacity(input.len());
    let mut i = 0;
    let mut last_run_end: Option<usize> = None;
    while i < input.len() {
        let b = input[i];
        if b == b'&' {
            let start = i + 1;
            let end = match input[start..].iter().position(|&c| c == b'-') {
                Some(p) => start + p,
                None => return Err(Mutf7Error("'&' without closing '-'")),
            };
            if end == start {
                out.push('&');
                i = end + 1;
                continue;
            }
            if last_run_end == Some(i) {
                return Err(Mutf7Error("two adjacent base64 runs"));
            }
            decode_run(&input[start..end], &mut out)?;
            i = end + 1;
            last_run_end = Some(i);
        } else if (0x20..=0x7e).contains(&b) {
            out.push(char::from(b));
            i += 1;
        } else {
            return Err(Mutf7Error("octet outside printable US-ASCII"));
        }
    }
    Ok(out)
}

fn decode_run(run: &[u8], out: &mut String) -> Result<(), Mutf7Error> {
    let mut bits: u32 = 0;
    let mut nbits = 0u32;
    let mut high: Option<u16> = None;
    for &c in run {
        let v = b64_value(c).ok_or(Mutf7Error("invalid base64 character"))?;
        bits = (bits << 6) | v;
        nbits += 6;
        if nbits >= 16 {
            nbits -= 16;
            let unit = ((bits >> nbits) & 0xffff) as u16;
            bits &= (1 << nbits) - 1;
            match (high.take(), unit) {
                (None, 0xd800..=0xdbff) => high = Some(unit),
                (None, 0xdc00..=0xdfff) => return Err(Mutf7Error("unpaired low surrogate")),
                (None, u) => {
                    if (0x20..=0x7e).contains(&u) {
                        return Err(Mutf7Error("printable US-ASCII inside base64"));
                    }
                    out.push(char::from_u32(u32::from(u)).ok_or(Mutf7Error("invalid code"))?);
                }
                (Some(h), 0xdc00..=0xdfff) => {
                    let cp = 0x10000 + ((u32::from(h) - 0xd800) << 10) + (u32::from(unit) - 0xdc00);
                    out.push(char::from_u32(cp).ok_or(Mutf7Error("invalid code"))?);
                }
                (Some(_), _) => return Err(Mutf7Error("unpaired high surrogate")),
            }
        }
    }
    if high.is_some() {
        return Err(Mutf7Error("unpaired high surrogate"));
    }
    if nbits >= 6 || bits != 0 {
        return Err(Mutf7Error("bad base64 padding"));
    }
    Ok(())
}

/// Encodes a UTF-8 mailbox name to canonical modified UTF-7 (RFC 3501 5.1.3).
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 8);
    let mut units: Vec<u16> = Vec::new();
    for ch in name.chars() {
        if (' '..='~').contains(&ch) {
            flush(&mut units, &mut out);
            if ch == '&' {
                out.push_str("&-");
            } else {
                out.push(ch);
            }
        } else {
            let mut buf = [0u16; 2];
            units.extend_from_slice(ch.encode_utf16(&mut buf));
        }
    }
    flush(&mut units, &mut out);
    out
}

fn flush(units: &mut Vec<u16>, out: &mut String) {
    if units.is_empty() {
        return;
    }
    out.push('&');
    let mut bits: u32 = 0;
    let mut nbits = 0u32;
    for &u in units.iter() {
        bits = (bits << 16) | u32::from(u);
        nbits += 16;
        while nbits >= 6 {
            nbits -= 6;
            out.push(char::from(ALPHABET[((bits >> nbits) & 0x3f) as usize]));
        }
        bits &= (1 << nbits) - 1;
    }
    if nbits > 0 {
        out.push(char::from(
            ALPHABET[((bits << (6 - nbits)) & 0x3f) as usize],
        ));
    }
    out.push('-');
    units.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_example() {
        // RFC 3501 5.1.3: "~peter/mail/台北/日本語"
        let wire = "~peter/mail/&U,BTFw-/&ZeVnLIqe-";
        let utf8 = "~peter/mail/台北/日本語";
        assert_eq!(decode(wire.as_bytes()).as_deref(), Ok(utf8));
        assert_eq!(encode(utf8), wire);
        assert_eq!(decode(b"&U,BTF2XlZyyKng-").as_deref(), Ok("台北日本語"));
        assert_eq!(encode("台北日本語"), "&U,BTF2XlZyyKng-");
        assert_eq!(decode(b"a&-b").as_deref(), Ok("a&b"));
        assert_eq!(encode("a&b"), "a&-b");
        assert_eq!(encode("Entwürfe"), "Entw&APw-rfe");
        assert_eq!(encode("😀"), "&2D3eAA-");
        assert_eq!(decode(b"&2D3eAA-").as_deref(), Ok("😀"));
    }

    #[test]
    fn invalid() {
        for bad in [
            &b"&"[..],
            b"&Jjo",
            b"&U,BTFw-&ZeVnLIqe-", // RFC 3501: superfluous shift
            b"&AGE-",              // "a" encoded
            b"&Jjo!-",
            b"\xc3\xa4",
            b"a\x00b",
            b"&2D0-",      // lone high surrogate
            b"&3gA-",      // lone low surrogate
            b"&AOQ-&APY-", // adjacent runs
            b"&AO-",       // partial unit
        ] {
            assert!(decode(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
