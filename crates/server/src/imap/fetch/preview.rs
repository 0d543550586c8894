//! PREVIEW (RFC 8970): up to 200 characters of a message's first text part, decoded
//! (transfer encoding, charset), HTML reduced to its text, whitespace collapsed. Computed
//! the first time a client asks and cached in the store (`Account::set_preview`); later
//! FETCHes read the cache.
//!
//! `PREVIEW (LAZY)` answers NIL (RFC 8970 3.2, "could not be completed without causing
//! undue delay") when the preview is not cached and its text part is larger than
//! [`LAZY_MAX`]; without LAZY it is always computed. A message without a text part has
//! the empty preview (RFC 8970 3.2: "MUST return a zero-length string").

use super::{read_range, Loader};
use crate::imap::search::text::{charset_to_utf8, transfer_decode};
use mailroom_store::{BodyStructure, StoreError};

/// The longest preview, in characters (RFC 8970 3.3: SHOULD 200, MUST NOT exceed 256).
pub(crate) const MAX_CHARS: usize = 200;
/// At most this much of the text part is read (enough for 200 characters of any text
/// but pathological HTML).
const READ_MAX: u64 = 64 * 1024;
/// `PREVIEW (LAZY)` computes an uncached preview only for text parts up to this size.
pub(crate) const LAZY_MAX: u64 = 16 * 1024;
/// MIME nesting followed when looking for the text part.
const MAX_DEPTH: usize = 64;

/// The preview of the loader's message: cached, or computed (and cached); `None` only
/// for LAZY when computing would mean reading a large part.
pub(super) async fn get(loader: &mut Loader<'_>, lazy: bool) -> Result<Option<String>, StoreError> {
    if let Some(t) = loader.account.preview(loader.mailbox, loader.uid).await? {
        return Ok(Some(t));
    }
    let s = loader.structure().await?;
    let text = match text_part(&s.body, 0) {
        None => String::new(),
        Some(part) => {
            let len = part.end_offset.saturating_sub(part.body_offset);
            if lazy && len > LAZY_MAX {
                return Ok(None);
            }
            let content = loader.content().await?;
            let end = part.body_offset + len.min(READ_MAX);
            let raw = read_range(&content, part.body_offset, end).await?;
            make(part, raw, len > READ_MAX)
        }
    };
    // A cache: failing to write it does not fail the FETCH.
    if let Err(e) = loader
        .account
        .set_preview(loader.mailbox, loader.uid, &text)
        .await
    {
        tracing::debug!(error = %e, "preview not cached");
    }
    Ok(Some(text))
}

/// The part a preview is made of: depth first, the first `text/plain` or `text/html`
/// leaf that is not an attachment, not looking inside attached messages; in a
/// `multipart/alternative` the plain text wins over HTML wherever it is.
pub(crate) fn text_part(p: &BodyStructure, depth: usize) -> Option<&BodyStructure> {
    if depth > MAX_DEPTH {
        return None;
    }
    if p.media_type.eq_ignore_ascii_case("multipart") {
        let mut found = p.parts.iter().filter_map(|c| text_part(c, depth + 1));
        let first = found.next()?;
        if p.media_subtype.eq_ignore_ascii_case("alternative")
            && !first.media_subtype.eq_ignore_ascii_case("plain")
        {
            if let Some(plain) = found.find(|t| t.media_subtype.eq_ignore_ascii_case("plain")) {
                return Some(plain);
            }
        }
        return Some(first);
    }
    let attachment = p
        .disposition
        .as_ref()
        .is_some_and(|(d, _)| d.eq_ignore_ascii_case("attachment"));
    let text = p.media_type.eq_ignore_ascii_case("text")
        && (p.media_subtype.eq_ignore_ascii_case("plain")
            || p.media_subtype.eq_ignore_ascii_case("html"));
    (text && !attachment).then_some(p)
}

/// The preview of a text part's body octets (`truncated`: only the start of them).
pub(crate) fn make(part: &BodyStructure, mut raw: Vec<u8>, truncated: bool) -> String {
    if truncated {
        // Whole lines only: base64 lines are whole groups, QP soft breaks stay intact.
        if let Some(i) = raw.iter().rposition(|&b| b == b'\n') {
            raw.truncate(i + 1);
        }
    }
    let decoded = transfer_decode(&part.encoding, raw);
    let charset = part
        .params
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("charset"))
        .map(|(_, v)| v.as_str())
        .unwrap_or("us-ascii");
    let utf8 = charset_to_utf8(charset, &decoded);
    let text = String::from_utf8_lossy(&utf8);
    if part.media_subtype.eq_ignore_ascii_case("html") {
        collapse(&strip_html(&text))
    } else {
        collapse(&text)
    }
}

/// Whitespace and control characters collapsed to single spaces, trimmed, at most
/// [`MAX_CHARS`] characters.
pub(crate) fn collapse(s: &str) -> String {
    let mut out = String::new();
    let mut n = 0;
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() || c.is_control() {
            space = true;
            continue;
        }
        if n >= MAX_CHARS {
            break;
        }
        if space && !out.is_empty() {
            // Never end on the space.
            if n + 2 > MAX_CHARS {
                break;
            }
            out.push(' ');
            n += 1;
        }
        space = false;
        out.push(c);
        n += 1;
    }
    out
}

/// The text of an HTML document: tags and comments become spaces, the content of
/// `script`, `style`, `head` and `title` goes, character references are decoded.
pub(crate) fn strip_html(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len().min(4096));
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'<' => {
                let inline = is_inline(&b[i + 1..]);
                i = skip_markup(b, i);
                if !inline {
                    out.push(' ');
                }
            }
            b'&' => {
                let end = (i + 12).min(b.len());
                match b[i + 1..end].iter().position(|&c| c == b';') {
                    Some(j) => match entity(&s[i + 1..i + 1 + j]) {
                        Some(c) => {
                            out.push(c);
                            i += j + 2;
                        }
                        None => {
                            out.push('&');
                            i += 1;
                        }
                    },
                    None => {
                        out.push('&');
                        i += 1;
                    }
                }
            }
            _ => {
                let Some(c) = s[i..].chars().next() else {
                    break;
                };
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    out
}

/// Whether the tag after `<` is inline markup (`b`, `/i`, `span`, ...), which does not
/// separate words.
fn is_inline(rest: &[u8]) -> bool {
    let rest = rest.strip_prefix(b"/").unwrap_or(rest);
    let end = rest
        .iter()
        .position(|c| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    let name = &rest[..end];
    [
        &b"a"[..],
        b"b",
        b"i",
        b"u",
        b"em",
        b"strong",
        b"span",
        b"font",
        b"small",
        b"big",
        b"sub",
        b"sup",
        b"code",
        b"tt",
    ]
    .iter()
    .any(|t| name.eq_ignore_ascii_case(t))
}

/// Where the markup starting at `b[i] == b'<'` ends.
fn skip_markup(b: &[u8], i: usize) -> usize {
    let rest = &b[i..];
    if rest.starts_with(b"<!--") {
        return find(b, i + 4, b"-->").map_or(b.len(), |j| j + 3);
    }
    for name in [&b"script"[..], b"style", b"head", b"title"] {
        let after = i + 1 + name.len();
        if rest.len() > name.len() + 1
            && rest[1..=name.len()].eq_ignore_ascii_case(name)
            && !b.get(after).is_some_and(|c| c.is_ascii_alphanumeric())
        {
            // Up to the end of the closing tag.
            let mut close = Vec::with_capacity(name.len() + 2);
            close.extend_from_slice(b"</");
            close.extend_from_slice(name);
            return match find_ci(b, after, &close) {
                Some(j) => find(b, j, b">").map_or(b.len(), |k| k + 1),
                None => b.len(),
            };
        }
    }
    find(b, i + 1, b">").map_or(b.len(), |j| j + 1)
}

fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    b.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

fn find_ci(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    b.get(from..)?
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
        .map(|p| from + p)
}

/// A character reference's character (`amp`, `#233`, `#xE9`, ...).
fn entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let n = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(n);
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "eacute" => 'é',
        "egrave" => 'è',
        "agrave" => 'à',
        "uuml" => 'ü',
        "ouml" => 'ö',
        "auml" => 'ä',
        "szlig" => 'ß',
        "copy" => '©',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "rsquo" => '\u{2019}',
        "lsquo" => '\u{2018}',
        "rdquo" => '\u{201d}',
        "ldquo" => '\u{201c}',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_reduced_to_text() {
        let html = "<html><head><title>T</title><style>p{x:1}</style></head>\
                    <body><!-- c --><p>Caf&eacute; &amp; <b>cr&#232;</b>me&#x21;</p>\
                    <script>alert(1)</script><p>2 &lt; 3 &unknown; &</p></body></html>";
        assert_eq!(
            collapse(&strip_html(html)),
            "Café & crème! 2 < 3 &unknown; &"
        );
    }

    #[test]
    fn unclosed_markup_ends_the_text() {
        assert_eq!(collapse(&strip_html("a <b c")), "a");
        assert_eq!(collapse(&strip_html("a <script>x")), "a");
        assert_eq!(collapse(&strip_html("a <!-- x")), "a");
        assert_eq!(collapse(&strip_html("é&")), "é&");
    }

    #[test]
    fn collapse_limits_characters_not_octets() {
        let s = "é".repeat(300);
        let p = collapse(&s);
        assert_eq!(p.chars().count(), MAX_CHARS);
        assert_eq!(collapse("  a \r\n\t b  "), "a b");
        let words = "ab ".repeat(100);
        assert_eq!(collapse(&words).chars().count(), MAX_CHARS);
        assert!(!collapse(&words).ends_with(' '));
    }
}
