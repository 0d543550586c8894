//! The outer header of an encrypted message: which header fields of the original stay
//! readable, and the MIME fields that say what the body is.
//!
//! RFC 8551 section 3.1: "A MIME entity that is the whole message includes only the MIME
//! message headers and MIME body and does not include the rfc822 header", and "In order
//! to protect outer, non-content-related message header fields (for instance, the
//! "Subject", "To", "From", and "Cc" fields), the sending client MAY wrap a full MIME
//! message in a message/rfc822 wrapper". Here the whole original message (its header
//! included, octet for octet) is what is encrypted, so every field is protected inside;
//! outside stay the fields a client needs to list the message and to find it again
//! ([`KEPT_FIELDS`]: the ENVELOPE's date, subject, addresses and message id), as in the
//! sample of RFC 8551 section 3.3, followed by [`MIME_FIELDS`].

/// Header fields of the original copied to the outer header, raw (folding kept) and in
/// their original order.
pub const KEPT_FIELDS: [&str; 6] = ["From", "To", "Cc", "Subject", "Date", "Message-ID"];

/// The MIME fields of the outer message and the blank line that ends its header (RFC
/// 8551 sections 3.2.1, 3.2.2 and 3.3: `smime-type=enveloped-data`, the `name` and
/// `filename` parameters `smime.p7m`, base64 transfer encoding).
pub const MIME_FIELDS: &str = "MIME-Version: 1.0\r\n\
Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\n\
Content-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment; filename=smime.p7m\r\n\
\r\n";

/// The outer header for an original message that starts with `head`: the
/// [`KEPT_FIELDS`] found in its header, then [`MIME_FIELDS`].
///
/// `head` is the whole message when `whole` is true; otherwise it is cut somewhere (the
/// caller reads a bounded prefix), and a field that may go on past the cut is left out.
/// Every copied line ends with CRLF.
pub fn outer_header(head: &[u8], whole: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(512 + MIME_FIELDS.len());
    let mut lines = Vec::new();
    let mut rest = head;
    let mut ended = false;
    while !rest.is_empty() {
        let (line, after, terminated) = match memchr_lf(rest) {
            Some(i) => (&rest[..=i], &rest[i + 1..], true),
            None => (rest, &rest[rest.len()..], false),
        };
        if line == b"\r\n" || line == b"\n" {
            ended = true;
            break;
        }
        lines.push((line, terminated));
        rest = after;
    }
    // Whether the header's last line is known to be complete.
    let last_complete = ended || whole;
    let mut i = 0;
    while i < lines.len() {
        let (first, _) = lines[i];
        let mut end = i + 1;
        while end < lines.len() && matches!(lines[end].0.first(), Some(b' ' | b'\t')) {
            end += 1;
        }
        let complete = end < lines.len() || last_complete;
        let all_terminated = lines[i..end].iter().all(|l| l.1) || whole || ended;
        if complete && all_terminated && is_kept(first) {
            for (line, _) in &lines[i..end] {
                let body = line
                    .strip_suffix(b"\n")
                    .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
                    .unwrap_or(line);
                out.extend_from_slice(body);
                out.extend_from_slice(b"\r\n");
            }
        }
        i = end;
    }
    out.extend_from_slice(MIME_FIELDS.as_bytes());
    out
}

fn memchr_lf(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

/// Whether the field starting with `line` is one of [`KEPT_FIELDS`] (RFC 5322 2.2: the
/// name, then a colon; obsolete syntax allows white space before the colon).
fn is_kept(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&c| c == b':') else {
        return false;
    };
    let name = line[..colon].trim_ascii_end();
    if name.is_empty() || name.iter().any(|c| !c.is_ascii_graphic()) {
        return false;
    }
    KEPT_FIELDS
        .iter()
        .any(|k| k.as_bytes().eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outer(head: &str, whole: bool) -> String {
        let h = outer_header(head.as_bytes(), whole);
        let s = String::from_utf8(h).unwrap_or_default();
        s.strip_suffix(MIME_FIELDS)
            .unwrap_or("MIME fields missing")
            .to_owned()
    }

    #[test]
    fn keeps_listed_fields_in_order_with_folding() {
        let m = "Received: from x\r\n\tby y\r\nSubject: a\r\n  folded\r\nX-Spam: yes\r\n\
                 from: A <a@x>\r\nMESSAGE-ID: <1@x>\r\nTo: b@x,\r\n c@x\r\nBcc: secret@x\r\n\
                 Date: Mon, 7 Dec 2026 10:00:00 +0000\r\nCc : d@x\r\nReply-To: e@x\r\n\
                 Content-Type: text/plain\r\n\r\nTo: not a header\r\n";
        assert_eq!(
            outer(m, false),
            "Subject: a\r\n  folded\r\nfrom: A <a@x>\r\nMESSAGE-ID: <1@x>\r\n\
             To: b@x,\r\n c@x\r\nDate: Mon, 7 Dec 2026 10:00:00 +0000\r\nCc : d@x\r\n"
        );
    }

    #[test]
    fn no_fields_no_header() {
        assert_eq!(outer("", true), "");
        assert_eq!(outer("\r\nSubject: body\r\n", true), "");
        assert_eq!(outer("X: 1\r\n\r\n", false), "");
    }

    #[test]
    fn a_cut_field_is_left_out() {
        // Cut in the middle of a line, or after a line that a continuation may follow.
        assert_eq!(outer("From: a\r\nSubject: lo", false), "From: a\r\n");
        assert_eq!(outer("From: a\r\nSubject: long\r\n", false), "From: a\r\n");
        assert_eq!(
            outer("From: a\r\nSubject: long\r\n more", false),
            "From: a\r\n"
        );
        // The same octets as a whole message (no body, no blank line).
        assert_eq!(
            outer("From: a\r\nSubject: long\r\n", true),
            "From: a\r\nSubject: long\r\n"
        );
        assert_eq!(outer("Subject: x", true), "Subject: x\r\n");
    }

    #[test]
    fn lines_end_with_crlf() {
        assert_eq!(
            outer("Subject: a\n b\nFrom: c\n\n", false),
            "Subject: a\r\n b\r\nFrom: c\r\n"
        );
    }

    #[test]
    fn not_fields() {
        assert_eq!(
            outer(
                "From a@b Mon Dec 7 10:00:00 2026\r\nSubject x\r\n: y\r\n\r\n",
                false
            ),
            ""
        );
        assert!(is_kept(b"subject:x"));
        assert!(!is_kept(b"Subjects: x"));
        assert!(!is_kept(b"X-Subject: x"));
        assert!(!is_kept(b"Sub ject: x"));
    }
}
