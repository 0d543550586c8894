//! IMAP4rev2 (RFC 9051) and UTF8=ACCEPT (RFC 6855) for a session that enabled them.
//!
//! The server advertises both `IMAP4rev1` and `IMAP4rev2` (RFC 9051 Appendix A): a
//! session speaks IMAP4rev1 until `ENABLE IMAP4rev2`, and modified UTF-7 mailbox names
//! until `ENABLE IMAP4rev2` or `ENABLE UTF8=ACCEPT`. What changes after
//! `ENABLE IMAP4rev2` (RFC 9051 Appendix E), and where:
//! - no `\Recent` (item 12): SELECT claims none and sends no `* n RECENT`
//!   (`cmd::select`), updates neither (`session::updates`), FETCH FLAGS never holds it
//!   (the session has no recent messages); `STATUS (RECENT)` and the `RECENT`, `NEW` and
//!   `OLD` search keys are not IMAP4rev2 grammar: `BAD` ([`refuse`]);
//! - SELECT/EXAMINE send `* LIST` (item 10) and no `[UNSEEN n]` (item 11);
//! - SEARCH answers with ESEARCH (item 4, `cmd::search`);
//! - LIST marks missing parents `\NonExistent` (LIST-EXTENDED folded in, item 2);
//! - every unsolicited FETCH carries UID (item 21, `session::updates`);
//! - mailbox names, strings and human-readable text in UTF-8 (items 16, 24; [`Session::utf8`]).
//!
//! After `ENABLE UTF8=ACCEPT` (RFC 6855): UTF-8 mailbox names and quoted strings, the
//! `APPEND ... UTF8 (~{n}...)` data item (the parser, [`Session::parse_options`]), and
//! SEARCH without CHARSET ([`refuse`]). Without it, APPEND refuses a message with 8-bit
//! octets in its header fields ([`header_8bit`], RFC 6855 4).

use super::cmd::Reply;
use super::session::Session;
use mailroom_proto::imap::command::{SearchKey, StatusItem};
use mailroom_proto::imap::{CommandBody, ParseOptions};

impl Session {
    /// Mailbox names, quoted strings and response text may be UTF-8: the session sent
    /// `ENABLE UTF8=ACCEPT` (RFC 6855 3) or `ENABLE IMAP4rev2` (RFC 9051 5.1, Appendix A:
    /// "MUST NOT generate UTF-8-quoted strings unless the client has issued ENABLE
    /// IMAP4rev2").
    pub(crate) fn utf8(&self) -> bool {
        self.imap4rev2 || self.utf8_accept
    }

    /// The grammar this session's commands are read with.
    pub(crate) fn parse_options(&self) -> ParseOptions {
        ParseOptions {
            utf8: self.utf8(),
            utf8_append: self.utf8_accept,
        }
    }

    /// Human-readable text for this session: as it is once UTF-8 is on (RFC 9051
    /// Appendix E item 24), else with every non-ASCII character replaced by `?`
    /// (IMAP4rev1 `text = 1*TEXT-CHAR`, 7-bit).
    pub(crate) fn text<'t>(&self, t: &'t str) -> std::borrow::Cow<'t, str> {
        if self.utf8() || t.is_ascii() {
            std::borrow::Cow::Borrowed(t)
        } else {
            std::borrow::Cow::Owned(
                t.chars()
                    .map(|c| if c.is_ascii() { c } else { '?' })
                    .collect(),
            )
        }
    }
}

/// A command the session's enabled grammar refuses, with its `BAD` answer:
/// - after `ENABLE IMAP4rev2`, `STATUS (RECENT)` (also as a LIST-STATUS item) and the
///   `RECENT`, `NEW` and `OLD` search keys: RFC 9051 has `\Recent` no more (Appendix E
///   item 12; `status-att` and `search-key` of section 9 lack them);
/// - after `ENABLE UTF8=ACCEPT`, a SEARCH with CHARSET (RFC 6855 3: "it MUST NOT issue a
///   SEARCH command that contains a charset specification ... SHOULD reject the
///   command with a BAD response").
pub(crate) fn refuse(s: &Session, body: &CommandBody) -> Option<Reply> {
    if s.imap4rev2 {
        let status_recent = match body {
            CommandBody::Status { items, .. } => items.contains(&StatusItem::Recent),
            CommandBody::List(l) => l.returns.status.contains(&StatusItem::Recent),
            _ => false,
        };
        if status_recent {
            return Some(Reply::bad(
                "RECENT is not an IMAP4rev2 status item (RFC 9051 Appendix E item 12)",
            ));
        }
        let key = match body {
            CommandBody::Search(q) => Some(&q.criteria),
            CommandBody::Sort(q) => Some(&q.search),
            CommandBody::Thread(q) => Some(&q.search),
            _ => None,
        };
        if let Some(k) = key.and_then(recent_key) {
            return Some(Reply::bad(&format!(
                "{k} is not an IMAP4rev2 search key (RFC 9051 Appendix E item 12)"
            )));
        }
    }
    if s.utf8_accept {
        if let CommandBody::Search(q) = body {
            if q.charset.is_some() {
                return Some(Reply::bad(
                    "SEARCH CHARSET after ENABLE UTF8=ACCEPT (RFC 6855 section 3): search strings are UTF-8",
                ));
            }
        }
    }
    None
}

/// The first `RECENT`, `NEW` or `OLD` key in a search program.
fn recent_key(k: &SearchKey) -> Option<&'static str> {
    match k {
        SearchKey::Recent => Some("RECENT"),
        SearchKey::New => Some("NEW"),
        SearchKey::Old => Some("OLD"),
        SearchKey::Not(k) => recent_key(k),
        SearchKey::Or(a, b) => recent_key(a).or_else(|| recent_key(b)),
        SearchKey::And(ks) => ks.iter().find_map(recent_key),
        _ => None,
    }
}

/// Whether a message's header fields hold an octet with the high bit set (RFC 6855 4:
/// "the server MUST reject, with a NO response, an APPEND command that includes any
/// 8-bit character in message header fields" when UTF8=ACCEPT is not enabled). `head`
/// is the beginning of the message; the header ends at its first empty line.
pub(crate) fn header_8bit(head: &[u8]) -> bool {
    let end = head
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 2)
        .or_else(|| head.windows(2).position(|w| w == b"\n\n").map(|p| p + 1))
        .unwrap_or(head.len());
    !head[..end].is_ascii()
}

#[cfg(test)]
mod tests {
    use super::header_8bit;

    #[test]
    fn eight_bit_headers() {
        assert!(header_8bit("Subject: caf\u{e9}\r\n\r\nbody".as_bytes()));
        assert!(!header_8bit("Subject: cafe\r\n\r\nbod\u{e9}".as_bytes()));
        assert!(!header_8bit(b"Subject: x\n\nbod\xe9"));
        assert!(header_8bit(b"Subject: \xe9"));
    }
}
