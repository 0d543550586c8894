//! Preview cache of the Maildir backend (RFC 8970 PREVIEW): the `previews` table of the
//! per-account index, one text per message, written by the server the first time it
//! computes a preview and removed with the message (EXPUNGE, a file gone from the
//! directory, DELETE of the mailbox). A cache only: a rebuilt index starts empty and the
//! previews are computed again.

use super::core::Core;
use super::index::sql_err;
use crate::{MailboxId, StoreError, Uid};
use rusqlite::{params, OptionalExtension};

/// The table, created on every open (`CREATE TABLE IF NOT EXISTS` migrates old indexes).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS previews (
    mailbox INTEGER NOT NULL,
    uid     INTEGER NOT NULL,
    text    TEXT NOT NULL,
    PRIMARY KEY (mailbox, uid)
) WITHOUT ROWID;
";

impl Core {
    /// The cached preview of a message, if any.
    pub fn preview(&self, mailbox: MailboxId, uid: Uid) -> Result<Option<String>, StoreError> {
        let conn = self.conn()?;
        let mut st = conn
            .prepare_cached("SELECT text FROM previews WHERE mailbox = ?1 AND uid = ?2")
            .map_err(sql_err)?;
        st.query_row(params![mailbox.0, uid], |r| r.get(0))
            .optional()
            .map_err(sql_err)
    }

    /// Caches a message's preview; nothing happens when the message is gone.
    pub fn set_preview(&self, mailbox: MailboxId, uid: Uid, text: &str) -> Result<(), StoreError> {
        let conn = self.conn()?;
        let mut st = conn
            .prepare_cached(
                "INSERT OR REPLACE INTO previews (mailbox, uid, text) SELECT ?1, ?2, ?3
                 WHERE EXISTS (SELECT 1 FROM messages WHERE mailbox = ?1 AND uid = ?2)",
            )
            .map_err(sql_err)?;
        st.execute(params![mailbox.0, uid, text]).map_err(sql_err)?;
        Ok(())
    }
}
