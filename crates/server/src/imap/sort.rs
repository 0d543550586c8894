//! SORT (RFC 5256 section 3, RFC 5957 DISPLAYFROM/DISPLAYTO): the sort keys of a message,
//! the base subject of section 2.1, and the order.
//!
//! Strings are compared with `i;unicode-casemap` (RFC 5051; RFC 5255 4.2: I18NLEVEL=1
//! makes it the comparator of SORT, in place of RFC 5256's `i;ascii-casemap`) on UTF-8
//! text: encoded-words are decoded first (RFC 2047), and the base subject is taken
//! before the comparator applies (RFC 5255 4.2). Every tie, after all criteria, is broken by sequence number
//! (RFC 5256 section 3: "the messages are ... sorted ... by sequence number").

use crate::imap::search::text::decode_rfc2047;
use mailroom_proto::imap::command::{SortCriterion, SortKey};
use mailroom_store::{MessageRef, SortKeys};
use std::cmp::Ordering;

/// A string in comparison form: `i;unicode-casemap` (RFC 5051, RFC 5255 4.2: the
/// comparator of I18NLEVEL=1) prepared once, so that keys compare as octets.
pub fn comparable(text: &[u8]) -> Vec<u8> {
    crate::imap::comparator::sort_form(text)
}

/// One message to sort: its sequence number, metadata and keys.
pub struct Row<'a> {
    pub seq: u32,
    pub meta: MessageRef<'a>,
    pub keys: &'a SortKeys,
}

/// Compares two messages under one key.
fn compare_key(key: SortKey, a: &Row<'_>, b: &Row<'_>) -> Ordering {
    let (x, y) = (a.keys, b.keys);
    match key {
        SortKey::Arrival => a.meta.internal_date.cmp(&b.meta.internal_date),
        SortKey::Size => a.meta.size.cmp(&b.meta.size),
        // RFC 5256: the sent date in UTC; the internal date when there is no usable one.
        SortKey::Date => x
            .sent_date
            .unwrap_or(a.meta.internal_date)
            .cmp(&y.sent_date.unwrap_or(b.meta.internal_date)),
        SortKey::From => x.from.cmp(&y.from),
        SortKey::To => x.to.cmp(&y.to),
        SortKey::Cc => x.cc.cmp(&y.cc),
        SortKey::DisplayFrom => x.display_from.cmp(&y.display_from),
        SortKey::DisplayTo => x.display_to.cmp(&y.display_to),
        SortKey::Subject => x.subject.cmp(&y.subject),
    }
}

/// Compares two messages under `criteria`, then by sequence number.
pub fn compare(criteria: &[SortCriterion], a: &Row<'_>, b: &Row<'_>) -> Ordering {
    for c in criteria {
        let o = compare_key(c.key, a, b);
        let o = if c.reverse { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.seq.cmp(&b.seq)
}

/// Tabs and line breaks to spaces, runs of spaces to one, ends trimmed (RFC 5256 2.1 (1)).
pub(crate) fn collapse(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for &c in s {
        let c = if matches!(c, b'\t' | b'\r' | b'\n') {
            b' '
        } else {
            c
        };
        if c == b' ' && out.last().is_none_or(|&l| l == b' ') {
            continue;
        }
        out.push(c);
    }
    while out.last() == Some(&b' ') {
        out.pop();
    }
    out
}

fn starts_with_ci(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// `subj-blob = "[" *BLOBCHAR "]" *WSP` at the start of `s`: its length.
fn blob(s: &[u8]) -> Option<usize> {
    if s.first() != Some(&b'[') {
        return None;
    }
    let close = s[1..].iter().position(|&c| c == b']' || c == b'[')?;
    if s[1 + close] != b']' {
        return None;
    }
    let mut n = close + 2;
    while s.get(n) == Some(&b' ') {
        n += 1;
    }
    Some(n)
}

/// `subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"` at the start of `s`.
fn refwd(s: &[u8]) -> Option<usize> {
    let mut n = if starts_with_ci(s, b"re") {
        2
    } else if starts_with_ci(s, b"fwd") {
        3
    } else if starts_with_ci(s, b"fw") {
        2
    } else {
        return None;
    };
    while s.get(n) == Some(&b' ') {
        n += 1;
    }
    if let Some(b) = blob(&s[n..]) {
        n += b;
    }
    (s.get(n) == Some(&b':')).then_some(n + 1)
}

/// `subj-leader = (*subj-blob subj-refwd) / WSP` at the start of `s`.
fn leader(s: &[u8]) -> Option<usize> {
    if s.first() == Some(&b' ') {
        return Some(1);
    }
    let mut n = 0;
    loop {
        if let Some(r) = refwd(&s[n..]) {
            return Some(n + r);
        }
        match blob(&s[n..]) {
            Some(b) => n += b,
            None => return None,
        }
    }
}

/// The base subject of RFC 5256 section 2.1, as UTF-8 (not yet case-mapped).
pub fn base_subject(raw: &[u8]) -> Vec<u8> {
    base_subject_reply(raw).0
}

/// The base subject, and whether taking it out removed a reply or forward marker
/// (`subj-refwd`, `subj-trailer` or `subj-fwd`: what THREAD=REFERENCES calls a reply,
/// RFC 5256 section 4 step 5).
pub fn base_subject_reply(raw: &[u8]) -> (Vec<u8>, bool) {
    let mut reply = false;
    // (1) encoded-words decoded, whitespace collapsed.
    let mut s = collapse(&decode_rfc2047(raw));
    loop {
        // (2) trailers: "(fwd)" and whitespace.
        loop {
            if s.last() == Some(&b' ') {
                s.pop();
            } else if s.len() >= 5 && s[s.len() - 5..].eq_ignore_ascii_case(b"(fwd)") {
                s.truncate(s.len() - 5);
                reply = true;
            } else {
                break;
            }
        }
        // (3)-(5): leaders, and a blob when something is left after it.
        loop {
            let mut changed = false;
            while let Some(n) = leader(&s) {
                reply |= s.first() != Some(&b' ');
                s.drain(..n);
                changed = true;
            }
            if let Some(n) = blob(&s) {
                if n < s.len() {
                    s.drain(..n);
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        // (6) "[fwd:" ... "]" around the rest: take it off and start again at (2).
        if starts_with_ci(&s, b"[fwd:") && s.last() == Some(&b']') {
            s = s[5..s.len() - 1].to_vec();
            reply = true;
            continue;
        }
        return (s, reply);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(s: &str) -> String {
        String::from_utf8(base_subject(s.as_bytes())).expect("utf-8")
    }

    #[test]
    fn base_subject_rfc5256_2_1() {
        assert_eq!(base("Re: hello"), "hello");
        assert_eq!(base("RE: Re: re:hello"), "hello");
        assert_eq!(base("Fwd: hello (fwd)"), "hello");
        assert_eq!(base("Fw: [list] Re: hello"), "hello");
        assert_eq!(base("[list] hello"), "hello");
        // A blob that would leave nothing is kept.
        assert_eq!(base("[list]"), "[list]");
        assert_eq!(base("Re: [fwd: Re: hello]"), "hello");
        assert_eq!(base("[Fwd: hello (fwd)]"), "hello");
        assert_eq!(base("re [blob]: hello"), "hello");
        assert_eq!(base("  hello\t  world  "), "hello world");
        assert_eq!(base("Re:"), "");
        assert_eq!(base("=?UTF-8?Q?Re=3A_caf=C3=A9?="), "café");
        assert_eq!(base("=?ISO-8859-1?Q?Aw:_hallo?="), "Aw: hallo");
        assert_eq!(base("Response"), "Response");
        assert_eq!(base("Fwdx: hi"), "Fwdx: hi");
        assert!(base_subject_reply(b"Re: x").1);
        assert!(base_subject_reply(b"x (fwd)").1);
        assert!(!base_subject_reply(b"[list] x").1);
        assert!(!base_subject_reply(b"  x").1);
    }

    #[test]
    fn ties_go_by_sequence_number_and_reverse_flips_only_its_key() {
        use mailroom_store::{Flags, MessageList, MessageMeta};
        let c = [
            SortCriterion {
                reverse: true,
                key: SortKey::Size,
            },
            SortCriterion {
                reverse: false,
                key: SortKey::Subject,
            },
        ];
        let meta = |uid: u32, size: u64| MessageMeta {
            uid,
            flags: Flags::default(),
            keywords: Vec::new(),
            modseq: 1,
            internal_date: 0,
            internal_date_tz: 0,
            size,
        };
        let list = MessageList::from_metas(vec![meta(1, 10), meta(2, 10), meta(3, 20)]);
        let keys = |s: &str| SortKeys {
            subject: s.as_bytes().to_vec(),
            ..SortKeys::default()
        };
        let (ka, kb, kz) = (keys("A"), keys("B"), keys("Z"));
        let m: Vec<_> = list.iter().collect();
        let a = Row {
            seq: 2,
            meta: m[0],
            keys: &ka,
        };
        let b = Row {
            seq: 1,
            meta: m[1],
            keys: &kb,
        };
        let big = Row {
            seq: 9,
            meta: m[2],
            keys: &kz,
        };
        let a1 = Row {
            seq: 1,
            meta: m[0],
            keys: &ka,
        };
        assert_eq!(compare(&c, &a, &b), Ordering::Less);
        assert_eq!(compare(&c, &big, &a1), Ordering::Less);
        assert_eq!(compare(&c, &a1, &a), Ordering::Less);
    }
}
