//! A selected mailbox as one session shows it: message sequence numbers mapped to UIDs
//! and metadata, expunges not yet announced, the session's `\Recent` messages and the
//! last modseq seen (RFC 3501 2.3.1.2, 5.2, 7.4.1).
//!
//! Architecture invariant: `msgs` is in ascending UID order and its index + 1 is the
//! message sequence number the client knows; a message leaves `msgs` only when its
//! `* n EXPUNGE` is written.

use mailroom_proto::imap::SequenceSet;
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
