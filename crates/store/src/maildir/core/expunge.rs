//! Removing messages (EXPUNGE, and the source side of a move).

use super::batch::Effects;
use super::files::{is_not_found, locate, UidsFile};
use super::flags::IN_PLACE_FLAGS;
use super::rows::{exec, get_mailbox, sorted_uids, MailboxRow};
use super::Core;
use crate::maildir::index::sql_err;
use crate::maildir::names::{self, FileName};
use crate::{Flags, MailboxId, StoreError, Uid};
use rusqlite::{params, OptionalExtension, Transaction};
use std::fs;
use std::path::{Path, PathBuf};

impl Core {
    pub fn expunge(
        &self,
        mailbox: MailboxId,
        uids: Option<&[Uid]>,
        force: bool,
    ) -> Result<Vec<Uid>, StoreError> {
        let job = expunge_job(mailbox, uids.map(<[Uid]>::to_vec), force, usize::MAX);
        let (removed, cur) = self.write(job)?;
        self.expunged(removed, &cur)
    }

    /// [`Core::expunge`] on the caller's thread when the index connection is free and
    /// at most [`IN_PLACE_FLAGS`] messages go (unlinks and an unflushed commit: no flush
    /// is waited for, see [`Core::expunged`]); `None`: take the blocking path.
    pub fn expunge_in_place(
        &self,
        mailbox: MailboxId,
        uids: Option<&[Uid]>,
        force: bool,
    ) -> Option<Result<Vec<Uid>, StoreError>> {
        if uids.is_some_and(|u| u.len() > IN_PLACE_FLAGS) {
            return None;
        }
        let job = expunge_job(mailbox, uids.map(<[Uid]>::to_vec), force, IN_PLACE_FLAGS);
        let done = self.write_now(job)?;
        Some(done.and_then(|(removed, cur)| self.expunged(removed, &cur)))
    }

    /// After an expunge committed: the unlinks become durable with the next flush of
    /// `cur/`, within FLUSH_DELAY (see durable.rs); the answer does not wait for it.
    fn expunged(&self, removed: Vec<Uid>, cur: &Path) -> Result<Vec<Uid>, StoreError> {
        if !removed.is_empty() {
            self.flush_dir_soon(cur)?;
        }
        Ok(removed)
    }

    /// Removes messages inside the caller's write transaction: the UID high-water file is
    /// made to cover UIDNEXT first (written only when neither it nor the newest message's
    /// file already does), then files are unlinked, then the rows
    /// become tombstones. The caller flushes `cur/` after its commit. More than `max`
    /// victims: `Busy`, before anything is done.
    pub(super) fn expunge_in(
        &self,
        tx: &Transaction<'_>,
        m: &MailboxRow,
        uids: Option<&[Uid]>,
        force: bool,
        max: usize,
    ) -> Result<Vec<Uid>, StoreError> {
        // The partial index messages_deleted spells \Deleted as 8.
        const _: () = assert!(Flags::DELETED.0 == 8);
        let victims: Vec<(Uid, String)> = match uids {
            None => {
                let mut st = tx
                    .prepare_cached(
                        // `(flags & 8) != 0` spelled as in the partial index
                        // messages_deleted (index.rs), so SQLite uses it.
                        "SELECT uid, file FROM messages WHERE mailbox = ?1 AND (flags & 8) != 0 ORDER BY uid",
                    )
                    .map_err(sql_err)?;
                let rows = st
                    .query_map(params![m.id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(sql_err)?;
                rows.collect::<Result<_, _>>().map_err(sql_err)?
            }
            Some(list) => {
                let mut st = tx
                    .prepare_cached(
                        "SELECT uid, file, flags FROM messages WHERE mailbox = ?1 AND uid = ?2",
                    )
                    .map_err(sql_err)?;
                let mut v = Vec::new();
                for uid in sorted_uids(list) {
                    let row: Option<(Uid, String, u8)> = st
                        .query_row(params![m.id, uid], |r| {
                            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                        })
                        .optional()
                        .map_err(sql_err)?;
                    if let Some((uid, file, flags)) = row {
                        if force || Flags(flags).contains(Flags::DELETED) {
                            v.push((uid, file));
                        }
                    }
                }
                v
            }
        };
        if victims.is_empty() {
            return Ok(Vec::new());
        }
        if victims.len() > max {
            // Too many for the caller's thread: the blocking path takes it (nothing done).
            return Err(StoreError::Busy);
        }
        let dir = names::mailbox_dir(&self.maildir, &m.name);
        let cur = dir.join("cur");
        let gone: Vec<Uid> = victims.iter().map(|(u, _)| *u).collect();
        self.cover_uidnext(tx, m, &gone)?;
        for (_, file) in &victims {
            self.tracker.own(&self.key, MailboxId(m.id), cur.join(file));
            match fs::remove_file(cur.join(file)) {
                Ok(()) => {}
                Err(e) if is_not_found(&e) => {
                    if let Some(base) = FileName::parse(file).map(|f| f.base) {
                        if let Some(found) = locate(&cur, &base)? {
                            let _ = fs::remove_file(cur.join(found));
                        }
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.tombstones(tx, m, &gone)?;
        Ok(gone)
    }

    /// Makes the UID high-water mark cover UIDNEXT before `gone` are removed, unless
    /// the files left behind already do: a rebuild takes UIDNEXT from the mark and from
    /// the highest UID in a file name, so while the message with UID UIDNEXT-1 stays, no
    /// UID can be handed out twice (most expunges do not remove the newest message).
    pub(super) fn cover_uidnext(
        &self,
        tx: &Transaction<'_>,
        m: &MailboxRow,
        gone: &[Uid],
    ) -> Result<(), StoreError> {
        let dir = names::mailbox_dir(&self.maildir, &m.name);
        let newest: Option<Uid> = tx
            .prepare_cached("SELECT max(uid) FROM messages WHERE mailbox = ?1")
            .and_then(|mut st| st.query_row([m.id], |r| r.get(0)))
            .map_err(sql_err)?;
        let newest_stays =
            newest.is_some_and(|n| n.saturating_add(1) >= m.uidnext && !gone.contains(&n));
        let marked = || {
            UidsFile::read(&dir)
                .is_some_and(|f| f.uidvalidity == m.uidvalidity && f.uidnext >= m.uidnext)
        };
        if !newest_stays && !marked() {
            UidsFile {
                uidvalidity: m.uidvalidity,
                uidnext: m.uidnext,
                highest_modseq: m.highest_modseq + 1,
            }
            .write(&dir)?;
        }
        Ok(())
    }

    /// Turns the rows of `gone` (whose files are already unlinked or moved) into
    /// tombstones at the mailbox's next modseq.
    pub(super) fn tombstones(
        &self,
        tx: &Transaction<'_>,
        m: &MailboxRow,
        gone: &[Uid],
    ) -> Result<(), StoreError> {
        let modseq = m.highest_modseq + 1;
        for uid in gone {
            exec(
                tx,
                "DELETE FROM messages WHERE mailbox = ?1 AND uid = ?2",
                params![m.id, uid],
            )
            .map_err(sql_err)?;
            exec(
                tx,
                "DELETE FROM previews WHERE mailbox = ?1 AND uid = ?2",
                params![m.id, uid],
            )
            .map_err(sql_err)?;
            exec(
                tx,
                "DELETE FROM sort_keys WHERE mailbox = ?1 AND uid = ?2",
                params![m.id, uid],
            )
            .map_err(sql_err)?;
            exec(
                tx,
                "INSERT OR REPLACE INTO expunged (mailbox, uid, modseq) VALUES (?1, ?2, ?3)",
                params![m.id, uid, modseq as i64],
            )
            .map_err(sql_err)?;
        }
        exec(
            tx,
            "UPDATE mailboxes SET highest_modseq = ?2 WHERE id = ?1",
            params![m.id, modseq as i64],
        )
        .map_err(sql_err)?;
        Ok(())
    }
}

/// The write job of an expunge: the removed UIDs and the mailbox's `cur/`.
fn expunge_job(
    mailbox: MailboxId,
    uids: Option<Vec<Uid>>,
    force: bool,
    max: usize,
) -> impl FnOnce(&Core, &Transaction<'_>, &mut Effects) -> Result<(Vec<Uid>, PathBuf), StoreError>
       + Send
       + 'static {
    move |core, tx, eff| {
        let m = get_mailbox(tx, mailbox.0)?;
        let removed = core.expunge_in(tx, &m, uids.as_deref(), force, max)?;
        if !removed.is_empty() {
            eff.changed(m.id);
        }
        Ok((
            removed,
            names::mailbox_dir(&core.maildir, &m.name).join("cur"),
        ))
    }
}
