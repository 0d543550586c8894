//! METADATA storage of the Maildir backend (RFC 5464): the `metadata` table of the
//! per-account index, keyed by mailbox id (0 for the account's server entries), so
//! mailbox entries follow RENAME and go with DELETE.
//!
//! Limitation: like ACLs, entries are not in the files; losing `index.sqlite` drops them.

use super::core::Core;
use super::index::sql_err;
use crate::{MailboxId, StoreError};
use rusqlite::{params, OptionalExtension};

/// The table, created on every open (`CREATE TABLE IF NOT EXISTS` migrates old indexes).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS metadata (
    mailbox INTEGER NOT NULL,
    name    TEXT NOT NULL,
    value   BLOB NOT NULL,
    PRIMARY KEY (mailbox, name)
) WITHOUT ROWID;
";

fn target(conn: &rusqlite::Connection, mailbox: Option<MailboxId>) -> Result<i64, StoreError> {
    let Some(m) = mailbox else {
        return Ok(0);
    };
    conn.query_row("SELECT 1 FROM mailboxes WHERE id = ?1", [m.0], |_| Ok(()))
        .optional()
        .map_err(sql_err)?
        .ok_or(StoreError::NotFound("mailbox"))?;
    Ok(m.0)
}

impl Core {
    /// Every entry of a mailbox (or of the account), sorted by name.
    pub fn metadata(
        &self,
        mailbox: Option<MailboxId>,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let conn = self.conn()?;
        let id = target(&conn, mailbox)?;
        let mut st = conn
            .prepare("SELECT name, value FROM metadata WHERE mailbox = ?1 ORDER BY name")
            .map_err(sql_err)?;
        let rows = st
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(sql_err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(sql_err)
    }

    /// Sets (`Some`) and removes (`None`) entries in one transaction; false (and nothing
    /// changed) when the target would end up with more than `max_entries`.
    pub fn set_metadata(
        &self,
        mailbox: Option<MailboxId>,
        changes: &[(String, Option<Vec<u8>>)],
        max_entries: usize,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction().map_err(sql_err)?;
        let id = target(&tx, mailbox)?;
        for (name, value) in changes {
            match value {
                Some(v) => tx.execute(
                    "INSERT OR REPLACE INTO metadata (mailbox, name, value) VALUES (?1, ?2, ?3)",
                    params![id, name, v],
                ),
                None => tx.execute(
                    "DELETE FROM metadata WHERE mailbox = ?1 AND name = ?2",
                    params![id, name],
                ),
            }
            .map_err(sql_err)?;
        }
        let n: i64 = tx
            .query_row(
                "SELECT COUNT(*) FROM metadata WHERE mailbox = ?1",
                [id],
                |r| r.get(0),
            )
            .map_err(sql_err)?;
        if usize::try_from(n).unwrap_or(usize::MAX) > max_entries {
            return Ok(false);
        }
        tx.commit().map_err(sql_err)?;
        self.announce(crate::hub::AccountEvent::Metadata {
            mailbox,
            entries: changes.iter().map(|(n, _)| n.clone()).collect(),
        });
        Ok(true)
    }
}
