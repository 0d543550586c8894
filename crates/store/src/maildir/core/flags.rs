//! Flag and keyword changes, `\Recent` claims, and the unflushed commits they use.

use super::files::{is_not_found, locate};
use super::rows::{
    encode_keywords, exec, get_mailbox, meta_row, normalize_keywords, sorted_uids, MailboxRow,
    META_COLS,
};
use super::{ConnGuard, Core};
use crate::maildir::index::sql_err;
use crate::maildir::keywords::KeywordFile;
use crate::maildir::names::{self, FileName};
use crate::{FlagOp, Flags, MailboxId, MessageMeta, ModSeq, StoreError, Uid};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::fs;

/// Flag changes of at most this many messages may run on the caller's thread.
pub const IN_PLACE_FLAGS: usize = 64;

impl Core {
    /// [`Core::store_flags`] on the caller's thread, for a few messages, when the index
    /// connection is open and free and no other process holds the write lock (see
    /// [`Core::write_in_place`]): a short unflushed transaction and a rename per message.
    /// `None`: take the blocking path.
    pub fn store_flags_in_place(
        &self,
        mailbox: MailboxId,
        uids: &[Uid],
        op: FlagOp,
        flags: Flags,
        keywords: &[String],
    ) -> Option<Result<Vec<MessageMeta>, StoreError>> {
        if uids.len() > IN_PLACE_FLAGS {
            return None;
        }
        self.write_in_place(|conn| {
            self.store_flags_in(conn, mailbox, uids, op, flags, keywords, None)
                .map(|(changed, _)| changed)
        })
    }

    /// [`Core::claim_recent`] on the caller's thread when nothing has to wait; `None`:
    /// take the blocking path.
    pub fn claim_recent_in_place(
        &self,
        mailbox: MailboxId,
        upto: Option<Uid>,
    ) -> Option<Result<Uid, StoreError>> {
        self.write_in_place(|conn| {
            let first = Self::claim_recent_in(conn, mailbox, upto)?;
            self.catch_up(conn, mailbox.0);
            Ok(first)
        })
    }

    /// A short unflushed write ([`light_sync`]) on the caller's thread
    /// ([`Core::without_waiting`]). A call sent on to the blocking path runs again there:
    /// the transaction was rolled back, and file renames it made are found again by
    /// their base name.
    fn write_in_place<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Option<Result<T, StoreError>> {
        self.without_waiting(|guard| light_sync(guard, f))
    }

    pub fn store_flags(
        &self,
        mailbox: MailboxId,
        uids: &[Uid],
        op: FlagOp,
        flags: Flags,
        keywords: &[String],
    ) -> Result<Vec<MessageMeta>, StoreError> {
        let mut conn = self.conn()?;
        light_sync(&mut conn, |conn| {
            self.store_flags_in(conn, mailbox, uids, op, flags, keywords, None)
                .map(|(changed, _)| changed)
        })
    }

    /// [`Core::store_flags`] for the messages whose modseq is at most `unchanged_since`
    /// (RFC 7162 3.1.3), tested in the same transaction; also returns the UIDs that
    /// failed the test.
    pub fn store_flags_unchanged_since(
        &self,
        mailbox: MailboxId,
        uids: &[Uid],
        op: FlagOp,
        flags: Flags,
        keywords: &[String],
        unchanged_since: ModSeq,
    ) -> Result<(Vec<MessageMeta>, Vec<Uid>), StoreError> {
        let mut conn = self.conn()?;
        light_sync(&mut conn, |conn| {
            self.store_flags_in(
                conn,
                mailbox,
                uids,
                op,
                flags,
                keywords,
                Some(unchanged_since),
            )
        })
    }

    /// Changes flags in one transaction; with `unchanged_since`, only of the messages
    /// whose modseq is at most it, the others returned as failed.
    #[allow(clippy::too_many_arguments)]
    fn store_flags_in(
        &self,
        conn: &mut Connection,
        mailbox: MailboxId,
        uids: &[Uid],
        op: FlagOp,
        flags: Flags,
        keywords: &[String],
        unchanged_since: Option<ModSeq>,
    ) -> Result<(Vec<MessageMeta>, Vec<Uid>), StoreError> {
        let flags = Flags(flags.0 & 31);
        let keywords = normalize_keywords(keywords);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        let m = get_mailbox(&tx, mailbox.0)?;
        let dir = names::mailbox_dir(&self.maildir, &m.name);
        let modseq = m.highest_modseq + 1;
        let mut out = Vec::new();
        let mut kf = KeywordFile::load(&dir);
        let current = {
            let mut st = tx
                .prepare_cached(&format!(
                    "SELECT {META_COLS}, base, file FROM messages WHERE mailbox = ?1 AND uid = ?2"
                ))
                .map_err(sql_err)?;
            let mut v = Vec::new();
            for uid in sorted_uids(uids) {
                let row = st
                    .query_row(params![m.id, uid], |r| {
                        Ok((meta_row(r)?, r.get::<_, String>(7)?, r.get::<_, String>(8)?))
                    })
                    .optional()
                    .map_err(sql_err)?;
                v.extend(row);
            }
            v
        };
        let mut failed = Vec::new();
        for (mut meta, base, file) in current {
            if unchanged_since.is_some_and(|u| meta.modseq > u) {
                failed.push(meta.uid);
                continue;
            }
            let (new_flags, new_kw) = match op {
                FlagOp::Set => (flags, keywords.clone()),
                FlagOp::Add => {
                    let mut k = meta.keywords.clone();
                    k.extend(keywords.iter().cloned());
                    (meta.flags.union(flags), normalize_keywords(&k))
                }
                FlagOp::Remove => (
                    meta.flags.difference(flags),
                    meta.keywords
                        .iter()
                        .filter(|k| !keywords.iter().any(|r| r.eq_ignore_ascii_case(k)))
                        .cloned()
                        .collect(),
                ),
            };
            if new_flags == meta.flags && new_kw == meta.keywords {
                continue;
            }
            let old_letters = FileName::parse(&file)
                .map(|f| f.keyword_letters)
                .unwrap_or_default();
            // Letters of the new keywords, plus letters no keyword is known for.
            let mut letters = kf.assign(&new_kw);
            letters.push_str(&kf.split_letters(&old_letters).1);
            kf.save()?;
            let name = FileName::render(&base, new_flags, &letters);
            if name != file {
                let cur = dir.join("cur");
                self.tracker.own(&self.key, mailbox, cur.join(&file));
                self.tracker.own(&self.key, mailbox, cur.join(&name));
                match fs::rename(cur.join(&file), cur.join(&name)) {
                    Ok(()) => {}
                    Err(e) if is_not_found(&e) => match locate(&cur, &base)? {
                        Some(found) => fs::rename(cur.join(found), cur.join(&name))?,
                        None => continue, // gone; the next sync records the expunge
                    },
                    Err(e) => return Err(e.into()),
                }
            }
            exec(&tx,
                "UPDATE messages SET flags = ?3, keywords = ?4, file = ?5, modseq = ?6 WHERE mailbox = ?1 AND uid = ?2",
                params![m.id, meta.uid, new_flags.0, encode_keywords(&new_kw), name, modseq as i64],
            )
            .map_err(sql_err)?;
            meta.flags = new_flags;
            meta.keywords = new_kw;
            meta.modseq = modseq;
            out.push(meta);
        }
        if !out.is_empty() {
            exec(
                &tx,
                "UPDATE mailboxes SET highest_modseq = ?2 WHERE id = ?1",
                params![m.id, modseq as i64],
            )
            .map_err(sql_err)?;
        }
        tx.commit().map_err(sql_err)?;
        if !out.is_empty() {
            self.changed(conn, m.id);
        }
        Ok((out, failed))
    }

    /// Claims `\Recent` for the messages below `upto` (exclusive), or below UIDNEXT.
    pub fn claim_recent(&self, mailbox: MailboxId, upto: Option<Uid>) -> Result<Uid, StoreError> {
        let mut conn = self.conn()?;
        let first = light_sync(&mut conn, |conn| Self::claim_recent_in(conn, mailbox, upto))?;
        self.catch_up(&conn, mailbox.0);
        Ok(first)
    }

    fn claim_recent_in(
        conn: &mut Connection,
        mailbox: MailboxId,
        upto: Option<Uid>,
    ) -> Result<Uid, StoreError> {
        let claim_to = |m: &MailboxRow| {
            upto.unwrap_or(m.uidnext)
                .min(m.uidnext)
                .max(m.recent_from_uid)
        };
        // Most SELECTs find nothing new to claim: no write transaction then.
        let seen = get_mailbox(conn, mailbox.0)?;
        if claim_to(&seen) == seen.recent_from_uid {
            return Ok(seen.recent_from_uid);
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        let m = get_mailbox(&tx, mailbox.0)?;
        let to = claim_to(&m);
        exec(
            &tx,
            "UPDATE mailboxes SET recent_from_uid = ?2 WHERE id = ?1",
            params![m.id, to],
        )
        .map_err(sql_err)?;
        tx.commit().map_err(sql_err)?;
        Ok(m.recent_from_uid)
    }
}

/// Runs `f` with commits that are not flushed to disk (WAL with `synchronous=NORMAL`):
/// for flag changes and `\Recent` claims only. Such a commit survives a crash of the
/// process (it is in the WAL file) but may be lost with a power failure, as the rename
/// of the Maildir file that carries the same flags may be; a later full commit flushes
/// it. Appends, copies and expunges commit the same way, but only after their files are
/// flushed, and they return after a flush of their directory ([`super::durable`]).
/// The connection stays light until [`Core::conn`] hands it out for anything else.
pub(super) fn light_sync<T>(
    conn: &mut ConnGuard<'_>,
    f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    if !conn.is_light() {
        exec(conn, "PRAGMA synchronous = NORMAL", []).map_err(sql_err)?;
        conn.set_light(true);
    }
    f(conn)
}
