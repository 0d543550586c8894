//! A selected mailbox as one session shows it: message sequence numbers mapped to UIDs
//! and metadata, expunges not yet announced, the session's `\Recent` messages and the
//! last modseq seen (RFC 3501 2.3.1.2, 5.2, 7.4.1).
//!
//! Architecture invariant: `msgs` is in ascending UID order and its index + 1 is the
//! message sequence number the client knows; a message leaves `msgs` only when its
//! `* n EXPUNGE` is written.

use crate::access;
use mailroom_proto::imap::encode::{status_line, ResponseCode, Status};
use mailroom_proto::imap::{Flag, SequenceSet};
use mailroom_store::acl::Rights;
use mailroom_store::{Account, MailboxId, MailboxWatch, MessageList, MessageRef, ModSeq, Uid};
use std::sync::Arc;

/// The selected mailbox.
pub(crate) struct Selected {
    /// The store of the mailbox's owner (the user's own, or another account's for a
    /// foreign mailbox, I5): the view, change watch and `\Recent` claim all use it.
    pub account: Arc<dyn Account>,
    /// The user's rights on the mailbox when it was selected (RFC 4314 section 4).
    pub rights: Rights,
    pub id: MailboxId,
    /// EXAMINE (or no write access).
    pub read_only: bool,
    /// The view, ascending UIDs: shared with the store and the other sessions that
    /// have the mailbox selected, copied (chunk by chunk) only where this view differs.
    pub msgs: MessageList,
    /// UIDs expunged by someone but still in the view (ascending).
    pub gone: Vec<Uid>,
    /// UIDs recent for this session (ascending).
    pub recent: Vec<Uid>,
    /// Last modseq whose changes are in the view.
    pub modseq: ModSeq,
    pub uid_validity: u32,
    pub uid_next: Uid,
    /// The keywords the client was last told of in `* FLAGS` (RFC 3501 7.2.6): a
    /// keyword that appears on a message of the view and is not here is announced with
    /// a new `* FLAGS` and `* OK [PERMANENTFLAGS]` before any FETCH that shows it.
    pub keywords: Vec<String>,
    /// `$Service` messages are left out of this view ([`crate::service`]).
    pub hide_service: bool,
    /// Held while the mailbox is selected: the store watches a watched mailbox for
    /// outside changes (and then need not look for them at every SELECT and NOOP).
    pub _watch: Box<dyn MailboxWatch>,
}

impl Selected {
    /// Index of a UID in the view.
    pub fn index_of(&self, uid: Uid) -> Option<usize> {
        self.msgs.position(uid)
    }

    /// The UID of message `i` of the view (0 past the end: never a real UID).
    pub fn uid_at(&self, i: usize) -> Uid {
        self.msgs.uid(i).unwrap_or(0)
    }

    /// Whether a UID is `\Recent` for this session.
    pub fn is_recent(&self, uid: Uid) -> bool {
        self.recent.binary_search(&uid).is_ok()
    }

    /// Resolves a sequence set (or a UID set) to ascending indices into `msgs`.
    ///
    /// Sequence numbers above the mailbox size are a client error (RFC 3501 9,
    /// `seq-number`); UIDs that are absent are skipped silently, and `*` is the largest
    /// UID in use, so `n:*` with n above it still names the last message (6.4.8).
    pub fn resolve(&self, set: &SequenceSet, uid: bool) -> Result<Vec<usize>, String> {
        let mut out = Vec::new();
        if uid {
            let Some(last) = self.msgs.last() else {
                return Ok(out);
            };
            for (lo, hi) in set.normalized(last.uid) {
                let start = self.msgs.rank(lo);
                let end = match hi.checked_add(1) {
                    Some(above) => self.msgs.rank(above),
                    None => self.msgs.len(),
                };
                out.extend(start..end);
            }
            return Ok(out);
        }
        let len = self.msgs.len() as u32;
        if len == 0 {
            return Err("no messages in the mailbox, so no sequence number is valid".into());
        }
        for (lo, hi) in set.normalized(len) {
            if hi > len {
                return Err(format!(
                    "message sequence number {hi} out of range (the mailbox has {len} messages)"
                ));
            }
            out.extend((lo - 1) as usize..hi as usize);
        }
        Ok(out)
    }

    /// Adds the keywords of `kws` the client was not yet told of to
    /// [`Selected::keywords`]; true if there was any.
    pub fn learn_keywords<'k>(&mut self, kws: impl IntoIterator<Item = &'k String>) -> bool {
        let mut new = false;
        for k in kws {
            if !self.keywords.iter().any(|x| x.eq_ignore_ascii_case(k)) {
                self.keywords.push(k.clone());
                new = true;
            }
        }
        new
    }

    /// Writes `* FLAGS (...)` with the system flags and every known keyword, and the
    /// `* OK [PERMANENTFLAGS (...)]` that goes with it (RFC 3501 7.2.6, 7.1): at SELECT
    /// and whenever a new keyword appears in the mailbox.
    pub fn write_flags_lines(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft");
        for k in &self.keywords {
            out.push(b' ');
            out.extend_from_slice(k.as_bytes());
        }
        out.extend_from_slice(b")\r\n");
        let perm = self.permanent_flags();
        status_line(out, None, Status::Ok, Some(&perm), "flags permitted");
    }

    /// `PERMANENTFLAGS`: none under EXAMINE; otherwise the flags the rights let the user
    /// change (RFC 4314 section 4, SELECT), with the known keywords and `\*` when `w`
    /// allows keywords.
    pub fn permanent_flags(&self) -> ResponseCode {
        if self.read_only {
            return ResponseCode::PermanentFlags {
                flags: vec![],
                new_keywords: false,
            };
        }
        let (seen, deleted, others) = access::allowed_flags(self.rights);
        let mut flags = Vec::new();
        if others {
            flags.extend([Flag::Answered, Flag::Flagged]);
        }
        if deleted {
            flags.push(Flag::Deleted);
        }
        if seen {
            flags.push(Flag::Seen);
        }
        if others {
            flags.push(Flag::Draft);
            flags.extend(self.keywords.iter().map(|k| Flag::Keyword(k.clone())));
        }
        ResponseCode::PermanentFlags {
            flags,
            new_keywords: others,
        }
    }

    /// The first unseen message's sequence number.
    pub fn first_unseen(&self) -> Option<u32> {
        self.msgs
            .iter()
            .position(|m| !m.flags.contains(mailroom_store::Flags::SEEN))
            .map(|i| i as u32 + 1)
    }
}

/// Writes a flag list `(\Seen kw \Recent)`.
pub(crate) fn write_flags(out: &mut Vec<u8>, meta: MessageRef<'_>, recent: bool) {
    out.push(b'(');
    let mut first = true;
    let mut sep = |out: &mut Vec<u8>| {
        if !first {
            out.push(b' ');
        }
        first = false;
    };
    for n in meta.flags.names() {
        sep(out);
        out.extend_from_slice(n.as_bytes());
    }
    for k in meta.keywords {
        sep(out);
        out.extend_from_slice(k.as_bytes());
    }
    if recent {
        sep(out);
        out.extend_from_slice(b"\\Recent");
    }
    out.push(b')');
}
