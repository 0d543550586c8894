//! Reading: snapshots, changes since a modseq, message content and structure, the
//! directories the watcher observes.

use super::files::{is_not_found, locate, MessageLocation};
use super::rows::{get_mailbox, query_metas, META_COLS};
use super::Core;
use crate::maildir::index::sql_err;
use crate::maildir::names;
use crate::{
    Changes, MailboxId, MailboxSnapshot, MessageContent, MessageStructure, ModSeq, StoreError, Uid,
};
use rusqlite::{params, Connection, OptionalExtension};
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

impl Core {
    /// Every message of a mailbox, from its in-memory state (loaded on first use).
    pub fn messages(&self, mailbox: MailboxId) -> Result<MailboxSnapshot, StoreError> {
        let conn = self.conn()?;
        self.with_state(&conn, mailbox.0, |st| st.snapshot())
    }

    pub fn changes_since(&self, mailbox: MailboxId, since: ModSeq) -> Result<Changes, StoreError> {
        let mut conn = self.conn()?;
        if let Some(c) = self.with_state(&conn, mailbox.0, |st| st.changes_since(since))? {
            return Ok(c);
        }
        let tx = conn.transaction().map_err(sql_err)?;
        let m = get_mailbox(&tx, mailbox.0)?;
        let changed = query_metas(
            &tx,
            &format!(
                "SELECT {META_COLS} FROM messages WHERE mailbox = ?1 AND modseq > ?2 ORDER BY uid"
            ),
            params![m.id, since as i64],
        )?;
        let expunged: Vec<Uid> = {
            let mut st = tx
                .prepare_cached(
                    "SELECT uid FROM expunged WHERE mailbox = ?1 AND modseq > ?2 ORDER BY uid",
                )
                .map_err(sql_err)?;
            let rows = st
                .query_map(params![m.id, since as i64], |r| r.get(0))
                .map_err(sql_err)?;
            rows.collect::<Result<_, _>>().map_err(sql_err)?
        };
        Ok(Changes {
            highest_modseq: m.highest_modseq,
            uid_next: m.uidnext,
            changed,
            expunged,
            uid_validity_changed: false,
            current: None,
        })
    }

    pub fn open_message(
        &self,
        mailbox: MailboxId,
        uid: Uid,
    ) -> Result<Arc<dyn MessageContent>, StoreError> {
        let loc = {
            let conn = self.conn()?;
            self.locate_message(&conn, mailbox, uid)?
        };
        let file = match File::open(loc.cur.join(&loc.file)) {
            Ok(f) => f,
            Err(e) if is_not_found(&e) => match locate(&loc.cur, &loc.base)? {
                Some(found) => File::open(loc.cur.join(found)).map_err(|e| {
                    if is_not_found(&e) {
                        StoreError::NotFound("message")
                    } else {
                        e.into()
                    }
                })?,
                None => return Err(StoreError::NotFound("message")),
            },
            Err(e) => return Err(e.into()),
        };
        Ok(loc.content(file))
    }

    /// [`Core::open_message`] without waiting for anything: only when the index
    /// connection is open and free, the lookup needs no lock another process holds and
    /// the file is where the index says. `None` means "take the blocking path"; the
    /// lookup is one indexed row read from a hot page cache, a few microseconds, so
    /// callers on async threads may use it (POP3 RETR: a hop to the blocking pool per
    /// message cost more than the read).
    pub fn open_message_in_place(
        &self,
        mailbox: MailboxId,
        uid: Uid,
    ) -> Option<Result<Arc<dyn MessageContent>, StoreError>> {
        let loc = match self.in_place(|conn| self.locate_message(conn, mailbox, uid))? {
            Ok(l) => l,
            Err(e @ StoreError::NotFound(_)) => return Some(Err(e)),
            Err(_) => return None,
        };
        let file = File::open(loc.cur.join(&loc.file)).ok()?;
        Some(Ok(loc.content(file)))
    }

    /// Where the index says a message's file is.
    fn locate_message(
        &self,
        conn: &Connection,
        mailbox: MailboxId,
        uid: Uid,
    ) -> Result<MessageLocation, StoreError> {
        // One statement (one read transaction) on the path every message read takes.
        let row: Option<(String, String, String, i64, i64, bool)> = conn
            .prepare_cached(
                "SELECT b.name, m.base, m.file, m.size, m.raw_size, m.crlf_clean
                 FROM messages m JOIN mailboxes b ON b.id = m.mailbox
                 WHERE m.mailbox = ?1 AND m.uid = ?2",
            )
            .and_then(|mut st| {
                st.query_row(params![mailbox.0, uid], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                })
                .optional()
            })
            .map_err(sql_err)?;
        let Some((name, base, file, size, raw_size, clean)) = row else {
            let mailbox_exists = conn
                .prepare_cached("SELECT 1 FROM mailboxes WHERE id = ?1")
                .and_then(|mut st| st.exists([mailbox.0]))
                .map_err(sql_err)?;
            return Err(StoreError::NotFound(if mailbox_exists {
                "message"
            } else {
                "mailbox"
            }));
        };
        Ok(MessageLocation {
            cur: names::mailbox_dir(&self.maildir, &name).join("cur"),
            base,
            file,
            size: size as u64,
            raw_size: raw_size as u64,
            clean,
        })
    }

    pub fn structure(
        &self,
        mailbox: MailboxId,
        uid: Uid,
    ) -> Result<Arc<MessageStructure>, StoreError> {
        let conn = self.conn()?;
        read_structure(&conn, mailbox, uid)
    }

    /// [`Core::structure`] on the caller's thread when the index connection is open and
    /// free and no other process holds a lock (one indexed row read and a decode of a
    /// compact blob, a few microseconds); `None` means "take the blocking path".
    pub fn structure_in_place(
        &self,
        mailbox: MailboxId,
        uid: Uid,
    ) -> Option<Result<Arc<MessageStructure>, StoreError>> {
        self.in_place(|conn| read_structure(conn, mailbox, uid))
    }

    /// A short read on the caller's thread ([`Core::without_waiting`]).
    fn in_place<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Option<Result<T, StoreError>> {
        self.without_waiting(|conn| f(conn))
    }

    /// The directories of a mailbox that the outside-change watcher observes.
    pub fn watch_dirs(&self, mailbox: MailboxId) -> Result<Vec<PathBuf>, StoreError> {
        let conn = self.conn()?;
        let m = get_mailbox(&conn, mailbox.0)?;
        let dir = names::mailbox_dir(&self.maildir, &m.name);
        Ok(vec![dir.join("new"), dir.join("cur")])
    }
}

/// A message's parsed structure from the index (compact binary, or JSON in rows written
/// before it).
fn read_structure(
    conn: &Connection,
    mailbox: MailboxId,
    uid: Uid,
) -> Result<Arc<MessageStructure>, StoreError> {
    let blob: Vec<u8> = conn
        .prepare_cached("SELECT structure FROM messages WHERE mailbox = ?1 AND uid = ?2")
        .and_then(|mut st| {
            st.query_row(params![mailbox.0, uid], |r| r.get(0))
                .optional()
        })
        .map_err(sql_err)?
        .ok_or(StoreError::NotFound("message"))?;
    MessageStructure::from_stored(&blob)
        .map(Arc::new)
        .map_err(|e| StoreError::Corrupt(format!("bad structure in index: {e}")))
}
