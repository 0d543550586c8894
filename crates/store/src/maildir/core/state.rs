//! The in-memory state of open mailboxes: every message's UID, flags, keywords, modseq,
//! internal date and size, the mailbox counters, and the UIDs expunged since it was
//! loaded. One state per mailbox per open account, shared by every session (IMAP and
//! POP3) of the account in this process.
//!
//! Reads that only need metadata (a SELECT's snapshot, the changes a session has not
//! seen yet after each command, STATUS counters) are answered from here on the caller's
//! thread, without SQLite and without a hop to the blocking pool. The index stays the
//! truth: a state is loaded from it once, and after every change this process commits
//! (and whenever a sync looks for changes made by other processes) it catches up by
//! reading the rows whose modseq is above the state's highest modseq and the
//! tombstones above it, so it never diverges from what was committed.
//!
//! Architecture invariant: a state shows only committed changes, and it is caught up
//! under the index connection's lock right after each commit of this process, before
//! the change is announced on the hub. So a session woken by the hub reads a state that
//! already holds the change.
//!
//! What does not live here: message content, parsed structure, mailbox names.

use super::rows::{get_mailbox, meta_row, META_COLS};
use crate::maildir::index::sql_err;
use crate::{
    Changes, Flags, MailboxSnapshot, MailboxStatus, MessageList, MessageMeta, ModSeq, StoreError,
    Uid,
};
use rusqlite::{params, Connection};

/// Expunged UIDs kept for `changes_since`; past this the oldest half is forgotten (and a
/// session that far behind reads the tombstones from the index instead).
const MAX_EXPUNGED: usize = 8192;

/// A read transaction, unless the caller is already inside one (rolled back on drop:
/// it only reads).
fn read_tx(conn: &Connection) -> Result<Option<rusqlite::Transaction<'_>>, StoreError> {
    if conn.is_autocommit() {
        conn.unchecked_transaction().map(Some).map_err(sql_err)
    } else {
        Ok(None)
    }
}

/// The state of one mailbox; see the module docs.
#[derive(Debug)]
pub(super) struct MailboxState {
    uid_validity: u32,
    uid_next: Uid,
    highest_modseq: ModSeq,
    recent_from_uid: Uid,
    /// Ascending UID; shared with the sessions that selected the mailbox (copy on
    /// write, chunk by chunk).
    msgs: MessageList,
    unseen: u32,
    size: u64,
    /// (modseq, UID) of expunges after `floor`, ascending modseq.
    expunged: Vec<(ModSeq, Uid)>,
    /// Changes after this modseq are all known here.
    floor: ModSeq,
    /// Last read, on `Core::clock` (for eviction).
    pub(super) used: u64,
}

/// What a catch-up found.
pub(super) enum CatchUp {
    Unchanged,
    Changed,
    /// The mailbox's UIDVALIDITY changed or it is gone: drop the state.
    Stale,
}

impl MailboxState {
    /// Loads a mailbox's state from the index (inside a read transaction of the caller's,
    /// or on its own: a single statement plus one row).
    pub(super) fn load(conn: &Connection, id: i64, now: u64) -> Result<MailboxState, StoreError> {
        // One read transaction: the row and the messages from the same commit.
        let _read = read_tx(conn)?;
        let m = get_mailbox(conn, id)?;
        let mut st = MailboxState {
            uid_validity: m.uidvalidity,
            uid_next: m.uidnext,
            highest_modseq: m.highest_modseq,
            recent_from_uid: m.recent_from_uid,
            msgs: MessageList::new(),
            unseen: 0,
            size: 0,
            expunged: Vec::new(),
            floor: m.highest_modseq,
            used: now,
        };
        let mut q = conn
            .prepare_cached(&format!(
                "SELECT {META_COLS} FROM messages WHERE mailbox = ?1 ORDER BY uid"
            ))
            .map_err(sql_err)?;
        let rows = q.query_map([id], meta_row).map_err(sql_err)?;
        for r in rows {
            let meta = r.map_err(sql_err)?;
            st.count(meta.flags, meta.size, true);
            st.msgs.push(meta);
        }
        Ok(st)
    }

    /// Adds (or takes away) a message's share of the counters.
    fn count(&mut self, flags: Flags, size: u64, add: bool) {
        let unseen = u32::from(!flags.contains(Flags::SEEN));
        if add {
            self.unseen += unseen;
            self.size += size;
        } else {
            self.unseen = self.unseen.saturating_sub(unseen);
            self.size = self.size.saturating_sub(size);
        }
    }

    /// Brings the state up to what the index holds now: the mailbox row, the rows whose
    /// modseq is above the state's, and the tombstones above it.
    pub(super) fn catch_up(&mut self, conn: &Connection, id: i64) -> Result<CatchUp, StoreError> {
        let _read = read_tx(conn)?;
        let m = match get_mailbox(conn, id) {
            Ok(m) => m,
            Err(StoreError::NotFound(_)) => return Ok(CatchUp::Stale),
            Err(e) => return Err(e),
        };
        if m.uidvalidity != self.uid_validity {
            return Ok(CatchUp::Stale);
        }
        if m.highest_modseq == self.highest_modseq
            && m.uidnext == self.uid_next
            && m.recent_from_uid == self.recent_from_uid
        {
            return Ok(CatchUp::Unchanged);
        }
        if m.highest_modseq == self.highest_modseq {
            // Only the `\Recent` mark (or UIDNEXT) moved: no row or tombstone is newer.
            self.uid_next = m.uidnext;
            self.recent_from_uid = m.recent_from_uid;
            return Ok(CatchUp::Changed);
        }
        let since = self.highest_modseq;
        let changed: Vec<MessageMeta> = {
            let mut q = conn
                .prepare_cached(&format!(
                    "SELECT {META_COLS} FROM messages WHERE mailbox = ?1 AND modseq > ?2 ORDER BY uid"
                ))
                .map_err(sql_err)?;
            let rows = q
                .query_map(params![id, since as i64], meta_row)
                .map_err(sql_err)?;
            rows.collect::<Result<_, _>>().map_err(sql_err)?
        };
        let gone: Vec<(ModSeq, Uid)> = {
            let mut q = conn
                .prepare_cached(
                    "SELECT modseq, uid FROM expunged WHERE mailbox = ?1 AND modseq > ?2 ORDER BY modseq, uid",
                )
                .map_err(sql_err)?;
            let rows = q
                .query_map(params![id, since as i64], |r| {
                    Ok((r.get::<_, i64>(0)? as u64, r.get::<_, Uid>(1)?))
                })
                .map_err(sql_err)?;
            rows.collect::<Result<_, _>>().map_err(sql_err)?
        };
        let mut gone_uids: Vec<Uid> = gone.iter().map(|g| g.1).collect();
        gone_uids.sort_unstable();
        gone_uids.dedup();
        if gone_uids.len() <= 16 {
            for &uid in &gone_uids {
                if let Some(old) = self.msgs.remove(uid) {
                    self.count(old.flags, old.size, false);
                }
            }
        } else {
            let mut present = false;
            for &uid in &gone_uids {
                if let Some(old) = self.msgs.position(uid).and_then(|i| self.msgs.get(i)) {
                    let (flags, size) = (old.flags, old.size);
                    self.count(flags, size, false);
                    present = true;
                }
            }
            if present {
                self.msgs.retain(|u| gone_uids.binary_search(&u).is_err());
            }
        }
        self.expunged.extend(gone);
        for meta in changed {
            let (flags, size) = (meta.flags, meta.size);
            if let Some(old) = self.msgs.upsert(meta) {
                self.count(old.flags, old.size, false);
            }
            self.count(flags, size, true);
        }
        // A UID expunged and its tombstone replaced by a later one keeps one entry.
        if self.expunged.len() > MAX_EXPUNGED {
            let cut = self.expunged.len() / 2;
            self.floor = self.expunged[cut - 1].0.max(self.floor);
            self.expunged.drain(..cut);
        }
        self.uid_next = m.uidnext;
        self.highest_modseq = m.highest_modseq;
        self.recent_from_uid = m.recent_from_uid;
        Ok(CatchUp::Changed)
    }

    /// Every message, as [`crate::Account::messages`] returns them.
    pub(super) fn snapshot(&self) -> MailboxSnapshot {
        MailboxSnapshot {
            uid_validity: self.uid_validity,
            uid_next: self.uid_next,
            highest_modseq: self.highest_modseq,
            messages: self.msgs.clone(),
        }
    }

    /// The changes after `since`, or `None` when the state does not reach back that far.
    pub(super) fn changes_since(&self, since: ModSeq) -> Option<Changes> {
        if since < self.floor {
            return None;
        }
        let mut changes = Changes {
            highest_modseq: self.highest_modseq,
            uid_next: self.uid_next,
            changed: Vec::new(),
            expunged: Vec::new(),
            uid_validity_changed: false,
            current: Some(self.msgs.clone()),
        };
        if since >= self.highest_modseq {
            return Some(changes);
        }
        changes.changed = self
            .msgs
            .iter()
            .filter(|e| e.modseq > since)
            .map(|e| e.to_meta())
            .collect();
        let from = self.expunged.partition_point(|(m, _)| *m <= since);
        let mut gone: Vec<Uid> = self.expunged[from..].iter().map(|(_, u)| *u).collect();
        gone.sort_unstable();
        gone.dedup();
        // A UID both expunged and present again cannot happen (UIDs are never reused).
        changes.expunged = gone;
        Some(changes)
    }

    /// The counters of STATUS, in O(log n).
    pub(super) fn status(&self) -> MailboxStatus {
        let recent_at = self.msgs.rank(self.recent_from_uid);
        MailboxStatus {
            messages: u32::try_from(self.msgs.len()).unwrap_or(u32::MAX),
            unseen: self.unseen,
            uid_next: self.uid_next,
            uid_validity: self.uid_validity,
            highest_modseq: self.highest_modseq,
            size: self.size,
            recent: u32::try_from(self.msgs.len() - recent_at).unwrap_or(u32::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(uid: Uid, flags: u8, kw: &[&str], modseq: ModSeq) -> MessageMeta {
        MessageMeta {
            uid,
            flags: Flags(flags),
            keywords: kw.iter().map(|s| s.to_string()).collect(),
            modseq,
            internal_date: 1_000 + i64::from(uid),
            internal_date_tz: 60,
            size: 100 * u64::from(uid),
        }
    }

    fn state(msgs: &[MessageMeta]) -> MailboxState {
        let mut st = MailboxState {
            uid_validity: 7,
            uid_next: msgs.last().map(|m| m.uid + 1).unwrap_or(1),
            highest_modseq: msgs.iter().map(|m| m.modseq).max().unwrap_or(0),
            recent_from_uid: 2,
            msgs: MessageList::new(),
            unseen: 0,
            size: 0,
            expunged: Vec::new(),
            floor: 0,
            used: 0,
        };
        for m in msgs {
            st.count(m.flags, m.size, true);
            st.msgs.push(m.clone());
        }
        st.floor = st.highest_modseq;
        st
    }

    #[test]
    fn snapshot_and_status_round_trip() {
        let msgs = vec![
            meta(1, 1, &[], 3),
            meta(2, 0, &["$Junk", "work"], 4),
            meta(5, 0, &["$Junk", "work"], 5),
        ];
        let st = state(&msgs);
        assert_eq!(st.snapshot().messages, MessageList::from_metas(msgs));
        let s = st.status();
        assert_eq!((s.messages, s.unseen, s.size, s.recent), (3, 2, 800, 2));
        assert_eq!(s.uid_next, 6);
        assert_eq!(s.highest_modseq, 5);
    }

    #[test]
    fn changes_since_uses_modseqs_and_floor() {
        let mut st = state(&[meta(1, 0, &[], 1), meta(2, 0, &[], 2)]);
        assert!(st.changes_since(1).is_none(), "below the floor");
        let none = st.changes_since(2);
        assert!(none.is_some_and(|c| c.changed.is_empty() && c.expunged.is_empty()));
        // As a catch-up applies them: UID 1 expunged at 3, UID 2 flagged at 4.
        let e = st.msgs.remove(1).expect("UID 1");
        st.count(e.flags, e.size, false);
        st.expunged.push((3, 1));
        let old = st.msgs.upsert(meta(2, 1, &[], 4)).expect("UID 2");
        st.count(old.flags, old.size, false);
        st.count(Flags(1), 200, true);
        st.highest_modseq = 4;
        let c = st.changes_since(2).expect("known");
        assert_eq!(c.expunged, vec![1]);
        assert_eq!(c.changed, vec![meta(2, 1, &[], 4)]);
        let c = st.changes_since(3).expect("known");
        assert!(c.expunged.is_empty());
        assert_eq!(st.status().unseen, 0);
        assert_eq!(st.status().size, 200);
    }
}
