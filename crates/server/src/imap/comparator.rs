//! The `i;unicode-casemap` comparator (RFC 5051), the one comparator of I18NLEVEL=1
//! (RFC 5255 section 4.3): SEARCH substring matching ([`crate::imap::search`]) and the
//! SORT and THREAD string keys ([`crate::imap::sortkeys`]) use it.
//!
//! RFC 5051 section 2: each character is mapped to its titlecase property
//! (UnicodeData.txt's simple titlecase mapping), then decomposed with every
//! decomposition (canonical and compatibility: "effectively Normalization Form KD");
//! the results are compared as octets (`i;octet`). The titlecase table comes from the
//! `unicode-case-mapping` crate (Unicode 16 data), the decomposition from
//! `unicode-normalization` (the rust-lang maintained NFKD).
//!
//! RFC 5255 section 4.6: text that is not valid UTF-8 cannot be prepared; substring
//! matches then compare the original octets (`i;octet`), and ordering puts such strings
//! after every valid one ([`sort_form`]).
//!
//! Not here: I18NLEVEL=2 (the COMPARATOR command and the choice of comparators), which
//! mailroom does not claim; `COMPARATOR` is an unknown command to it.

use unicode_normalization::UnicodeNormalization;

/// The simple titlecase mapping of `c` (UnicodeData.txt field 14), or `c` itself.
///
/// `to_titlecase` gives the full mapping (SpecialCasing.txt over UnicodeData.txt): a
/// single character is the simple mapping; several (`ß` → `Ss`, `ﬁ` → `Fi`) come from
/// SpecialCasing only, and those characters have no simple titlecase mapping.
fn titlecase(c: char) -> char {
    match unicode_case_mapping::to_titlecase(c) {
        [t, 0, 0] if t != 0 => char::from_u32(t).unwrap_or(c),
        _ => c,
    }
}

/// The "titlecased canonicalized UTF-8" of `s` (RFC 5051 section 2).
pub fn casemap(s: &str) -> String {
    if s.is_ascii() {
        // ASCII letters titlecase to upper case, and nothing ASCII decomposes.
        return s.to_ascii_uppercase();
    }
    s.chars().map(titlecase).nfkd().collect()
}

/// A string's form for ordering: the casemapped UTF-8, or for octets that are not
/// UTF-8, `0xFF` and the octets as they are, so they sort after every valid string
/// (no UTF-8 text contains `0xFF`) and among themselves as `i;octet` (RFC 5255 4.6).
pub fn sort_form(text: &[u8]) -> Vec<u8> {
    match std::str::from_utf8(text) {
        Ok(s) => casemap(s).into_bytes(),
        Err(_) => {
            let mut v = Vec::with_capacity(text.len() + 1);
            v.push(0xff);
            v.extend_from_slice(text);
            v
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5051_example_and_properties() {
        // RFC 5051 section 2: U+01C4 becomes U+0044 U+007A U+030C.
        assert_eq!(casemap("\u{1C4}"), "D\u{7A}\u{30C}");
        assert_eq!(casemap("\u{1C6}"), casemap("\u{1C4}"));
        assert_eq!(casemap("\u{1C5}"), casemap("\u{1C4}"));
        // Case and composition do not matter.
        assert_eq!(casemap("café"), casemap("CAFE\u{301}"));
        assert_eq!(casemap("Grüße"), "GRU\u{308}\u{df}E");
        assert_eq!(casemap("Ωμέγα"), casemap("ΩΜΈΓΑ"));
        // Compatibility decomposition ("effectively NFKD").
        assert_eq!(casemap("\u{2460}"), "1");
        assert_eq!(casemap("x\u{FB01}"), "Xfi");
        // Greek with ypogegrammeni: the simple titlecase (one character), not the full
        // upper case.
        assert_eq!(casemap("\u{1F80}"), "\u{391}\u{313}\u{345}");
        assert_eq!(casemap("plain ascii 123"), "PLAIN ASCII 123");
    }

    #[test]
    fn invalid_utf8_sorts_after_valid_text() {
        let valid = sort_form("\u{10FFFF}".as_bytes());
        let bad = sort_form(b"\xd0\xc0");
        assert!(valid < bad);
        assert!(sort_form(b"\xd0\xc0") < sort_form(b"\xd0\xc1\xff"));
        assert_eq!(sort_form(b"abc"), b"ABC");
    }
}
