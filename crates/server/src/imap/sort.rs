//! SORT (RFC 5256 section 3, RFC 5957 DISPLAYFROM/DISPLAYTO): the sort keys of a message,
//! the base subject of section 2.1, and the order.
//!
//! Strings are compared with `i;ascii-casemap` (RFC 5256 section 3: ASCII letters
//! compared without case, other octets as they are) on UTF-8 text: encoded-words are
//! decoded first (RFC 2047). Every tie, after all criteria, is broken by sequence number
//! (RFC 5256 section 3: "the messages are ... sorted ... by sequence number").

use crate::imap::search::text::decode_rfc2047;
use mailroom_proto::imap::command::{SortCriterion, SortKey};
use mailroom_store::mime::Address;
use mailroom_store::{MessageRef, MessageStructure};
use std::cmp::Ordering;

/// The value of one sort key of one message.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Value {
    Number(i64),
    /// Uppercased ASCII (i;ascii-casemap), other octets kept.
    Text(Vec<u8>),
}

/// Whether any criterion needs the message's parsed header (envelope, Date).
pub fn needs_structure(criteria: &[SortCriterion]) -> bool {
    criteria
        .iter()
        .any(|c| !matches!(c.key, SortKey::Arrival | SortKey::Size))
}

fn casemap(text: &[u8]) -> Vec<u8> {
    text.to_ascii_uppercase()
}

/// The first real address of a list (group markers skipped).
fn first(list: &[Address]) -> Option<&Address> {
    list.iter().find(|a| a.host.is_some())
}

/// RFC 5256 section 3: the `addr-mailbox` (local part) of the first address.
fn mailbox_of(list: &[Address]) -> Value {
    let m = first(list).and_then(|a| a.mailbox.as_deref()).unwrap_or("");
    Value::Text(casemap(m.as_bytes()))
}

/// RFC 5957 section 3: the display name of the first address when it has a non-empty
/// one (decoded), else its `addr-spec`; empty when there is no address.
fn display_of(list: &[Address]) -> Value {
    let Some(a) = first(list) else {
        return Value::Text(Vec::new());
    };
    if let Some(name) = a.name.as_deref().map(|n| decode_rfc2047(n.as_bytes())) {
        let name = collapse(&name);
        if !name.is_empty() {
            return Value::Text(casemap(&name));
        }
    }
    let spec = format!(
        "{}@{}",
        a.mailbox.as_deref().unwrap_or(""),
        a.host.as_deref().unwrap_or("")
    );
    Value::Text(casemap(spec.as_bytes()))
}

/// The value of `key` for one message (`s`: its structure, when [`needs_structure`]).
pub fn value(key: SortKey, meta: MessageRef<'_>, s: Option<&MessageStructure>) -> Value {
    let env = s.map(|s| &s.envelope);
    let none: &[Address] = &[];
    match key {
        SortKey::Arrival => Value::Number(meta.internal_date),
        SortKey::Size => Value::Number(i64::try_from(meta.size).unwrap_or(i64::MAX)),
        // RFC 5256: the sent date in UTC; the internal date when there is no usable one.
        SortKey::Date => Value::Number(s.and_then(|s| s.sent_date).unwrap_or(meta.internal_date)),
        SortKey::From => mailbox_of(env.map_or(none, |e| &e.from)),
        SortKey::To => mailbox_of(env.map_or(none, |e| &e.to)),
        SortKey::Cc => mailbox_of(env.map_or(none, |e| &e.cc)),
        SortKey::DisplayFrom => display_of(env.map_or(none, |e| &e.from)),
        SortKey::DisplayTo => display_of(env.map_or(none, |e| &e.to)),
        SortKey::Subject => Value::Text(casemap(&base_subject(
            env.and_then(|e| e.subject.as_deref())
                .unwrap_or("")
                .as_bytes(),
        ))),
    }
}

/// Compares two messages' key values under `criteria`, then by sequence number.
pub fn compare(criteria: &[SortCriterion], a: (&[Value], u32), b: (&[Value], u32)) -> Ordering {
    for (i, c) in criteria.iter().enumerate() {
        let o = a.0.get(i).cmp(&b.0.get(i));
        let o = if c.reverse { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.1.cmp(&b.1)
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
        let a = [Value::Number(10), Value::Text(b"A".to_vec())];
        let b = [Value::Number(10), Value::Text(b"B".to_vec())];
        let big = [Value::Number(20), Value::Text(b"Z".to_vec())];
        assert_eq!(compare(&c, (&a, 2), (&b, 1)), Ordering::Less);
        assert_eq!(compare(&c, (&big, 9), (&a, 1)), Ordering::Less);
        assert_eq!(compare(&c, (&a, 1), (&a, 2)), Ordering::Less);
    }
}
