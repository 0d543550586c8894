//! Migration from another server (`mailroom import`): a mailbox's UIDVALIDITY set while
//! it holds no message, UIDNEXT raised to the old server's, and POP3 unique-ids kept per
//! message (the old server's UIDLs, so POP3 clients do not download everything again).
//! Messages are added under their old UIDs by [`Core::append_at`] (`append.rs`).
//!
//! The UIDLs live in the index only (table `pop3_uidls`, created on every open like
//! `acl`): an index rebuilt from the files forgets them, and POP3 then shows the ids of
//! `pop3.uidl_format`.

use super::files::UidsFile;
use super::rows::{exec, get_mailbox, note_uidvalidity};
use super::Core;
use crate::maildir::index::sql_err;
use crate::maildir::names;
use crate::{MailboxId, StoreError, Uid};
use rusqlite::{params, TransactionBehavior};

/// The table of kept POP3 unique-ids.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS pop3_uidls (
    mailbox INTEGER NOT NULL,
    uid     INTEGER NOT NULL,
    uidl    TEXT NOT NULL,
    PRIMARY KEY (mailbox, uid)
) WITHOUT ROWID;
";

impl Core {
    /// Gives a mailbox that holds no message the UIDVALIDITY `v` (UIDNEXT restarts at 1).
    pub fn set_uid_validity(&self, mailbox: MailboxId, v: u32) -> Result<(), StoreError> {
        if v == 0 {
            return Err(StoreError::Invalid("UIDVALIDITY 0 is not allowed".into()));
        }
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        let m = get_mailbox(&tx, mailbox.0)?;
        if m.uidvalidity == v {
            return Ok(());
        }
        let held: i64 = tx
            .query_row(
                "SELECT count(*) FROM messages WHERE mailbox = ?1",
                [m.id],
                |r| r.get(0),
            )
            .map_err(sql_err)?;
        if held > 0 {
            return Err(StoreError::Invalid(format!(
                "mailbox {} holds {held} messages under UIDVALIDITY {}: its UIDVALIDITY cannot change",
                m.name, m.uidvalidity
            )));
        }
        let modseq = m.highest_modseq + 1;
        for sql in [
            "DELETE FROM expunged WHERE mailbox = ?1",
            "DELETE FROM pop3_uidls WHERE mailbox = ?1",
        ] {
            exec(&tx, sql, [m.id]).map_err(sql_err)?;
        }
        exec(
            &tx,
            "UPDATE mailboxes SET uidvalidity = ?2, uidnext = 1, recent_from_uid = 1,
                 highest_modseq = ?3 WHERE id = ?1",
            params![m.id, v, modseq as i64],
        )
        .map_err(sql_err)?;
        note_uidvalidity(&tx, v)?;
        UidsFile {
            uidvalidity: v,
            uidnext: 1,
            highest_modseq: modseq,
        }
        .write(&names::mailbox_dir(&self.maildir, &m.name))?;
        tx.commit().map_err(sql_err)?;
        self.changed(&conn, m.id);
        Ok(())
    }

    /// Raises UIDNEXT to `uid_next` (never lowers it) and marks every message below it
    /// as no longer recent (they were the old server's).
    pub fn finish_import(&self, mailbox: MailboxId, uid_next: Uid) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        let m = get_mailbox(&tx, mailbox.0)?;
        let next = m.uidnext.max(uid_next);
        let recent = m.recent_from_uid.max(next);
        if next == m.uidnext && recent == m.recent_from_uid {
            return Ok(());
        }
        let modseq = m.highest_modseq + 1;
        exec(
            &tx,
            "UPDATE mailboxes SET uidnext = ?2, recent_from_uid = ?3, highest_modseq = ?4
             WHERE id = ?1",
            params![m.id, next, recent, modseq as i64],
        )
        .map_err(sql_err)?;
        // An index rebuilt from the files keeps UIDNEXT from here.
        UidsFile {
            uidvalidity: m.uidvalidity,
            uidnext: next,
            highest_modseq: modseq,
        }
        .write(&names::mailbox_dir(&self.maildir, &m.name))?;
        tx.commit().map_err(sql_err)?;
        self.changed(&conn, m.id);
        Ok(())
    }

    /// Keeps the POP3 unique-ids of messages (replacing earlier ones).
    pub fn set_pop3_uidls(
        &self,
        mailbox: MailboxId,
        uidls: &[(Uid, String)],
    ) -> Result<(), StoreError> {
        for (_, u) in uidls {
            // RFC 1939 section 7: 1 to 70 characters in 0x21..=0x7E.
            if u.is_empty() || u.len() > 70 || !u.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
                return Err(StoreError::Invalid(format!("not a POP3 unique-id: {u:?}")));
            }
        }
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        get_mailbox(&tx, mailbox.0)?;
        for (uid, u) in uidls {
            exec(
                &tx,
                "INSERT OR REPLACE INTO pop3_uidls (mailbox, uid, uidl) VALUES (?1, ?2, ?3)",
                params![mailbox.0, uid, u],
            )
            .map_err(sql_err)?;
        }
        tx.commit().map_err(sql_err)
    }

    /// The kept POP3 unique-ids of a mailbox, by UID.
    pub fn pop3_uidls(&self, mailbox: MailboxId) -> Result<Vec<(Uid, String)>, StoreError> {
        let conn = self.conn()?;
        let mut st = conn
            .prepare_cached("SELECT uid, uidl FROM pop3_uidls WHERE mailbox = ?1 ORDER BY uid")
            .map_err(sql_err)?;
        let rows = st
            .query_map([mailbox.0], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(sql_err)?;
        rows.collect::<Result<_, _>>().map_err(sql_err)
    }
}
