//! Sort-key cache of the Maildir backend (RFC 5256 SORT/THREAD, RFC 5957): the
//! `sort_keys` table of the per-account index, one row per message, written by the server
//! the first time a SORT or THREAD needs a message's keys and read back, a mailbox at a
//! time, by every later one. Rows go with their message (EXPUNGE, MOVE away, a file gone
//! from the directory) and with the mailbox (DELETE). A cache only: a rebuilt index starts
//! empty and the keys are computed again; rows written under another `version` (the
//! server changed how it computes them) are ignored and overwritten.
//!
//! The table is created on every open (`CREATE TABLE IF NOT EXISTS`), so an index of any
//! earlier schema version gains it without a version step of its own.

use super::core::Core;
use super::index::sql_err;
use crate::{MailboxId, SortKeys, StoreError, Uid};
use rusqlite::params;
use std::collections::HashMap;

/// The table. A rowid table (rows carry several strings; see `index.rs` on why large
/// rows do not belong in a `WITHOUT ROWID` table); `refs` holds the References ids
/// separated by single spaces (ids never contain white space).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sort_keys (
    mailbox      INTEGER NOT NULL,
    uid          INTEGER NOT NULL,
    version      INTEGER NOT NULL,
    subject      BLOB NOT NULL,
    reply        INTEGER NOT NULL,
    from_addr    BLOB NOT NULL,
    to_addr      BLOB NOT NULL,
    cc_addr      BLOB NOT NULL,
    display_from BLOB NOT NULL,
    display_to   BLOB NOT NULL,
    sent_date    INTEGER,
    message_id   TEXT,
    refs         TEXT NOT NULL,
    PRIMARY KEY (mailbox, uid)
);
";

/// Rows written per transaction: a first SORT of a large mailbox writes its keys in
/// several short transactions, so other users of the index wait for one at most.
const WRITE_CHUNK: usize = 2_000;

impl Core {
    /// The cached keys of a mailbox written under `version`, by UID.
    pub fn sort_keys(
        &self,
        mailbox: MailboxId,
        version: u32,
    ) -> Result<HashMap<Uid, SortKeys>, StoreError> {
        let conn = self.conn()?;
        let mut st = conn
            .prepare_cached(
                "SELECT uid, subject, reply, from_addr, to_addr, cc_addr, display_from,
                        display_to, sent_date, message_id, refs
                 FROM sort_keys WHERE mailbox = ?1 AND version = ?2",
            )
            .map_err(sql_err)?;
        let rows = st
            .query_map(params![mailbox.0, version], |r| {
                let refs: String = r.get(10)?;
                Ok((
                    r.get::<_, Uid>(0)?,
                    SortKeys {
                        subject: r.get(1)?,
                        reply: r.get(2)?,
                        from: r.get(3)?,
                        to: r.get(4)?,
                        cc: r.get(5)?,
                        display_from: r.get(6)?,
                        display_to: r.get(7)?,
                        sent_date: r.get(8)?,
                        message_id: r.get(9)?,
                        references: refs
                            .split(' ')
                            .filter(|s| !s.is_empty())
                            .map(String::from)
                            .collect(),
                    },
                ))
            })
            .map_err(sql_err)?;
        let mut out = HashMap::new();
        for row in rows {
            let (uid, keys) = row.map_err(sql_err)?;
            out.insert(uid, keys);
        }
        Ok(out)
    }

    /// Caches keys under `version`; keys of messages that are gone are not kept.
    pub fn set_sort_keys(
        &self,
        mailbox: MailboxId,
        version: u32,
        keys: &[(Uid, SortKeys)],
    ) -> Result<(), StoreError> {
        for chunk in keys.chunks(WRITE_CHUNK) {
            let mut conn = self.conn()?;
            let tx = conn.transaction().map_err(sql_err)?;
            {
                let mut st = tx
                    .prepare_cached(
                        "INSERT OR REPLACE INTO sort_keys (mailbox, uid, version, subject,
                             reply, from_addr, to_addr, cc_addr, display_from, display_to,
                             sent_date, message_id, refs)
                         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13
                         WHERE EXISTS (SELECT 1 FROM messages WHERE mailbox = ?1 AND uid = ?2)",
                    )
                    .map_err(sql_err)?;
                for (uid, k) in chunk {
                    st.execute(params![
                        mailbox.0,
                        uid,
                        version,
                        k.subject,
                        k.reply,
                        k.from,
                        k.to,
                        k.cc,
                        k.display_from,
                        k.display_to,
                        k.sent_date,
                        k.message_id,
                        k.references.join(" "),
                    ])
                    .map_err(sql_err)?;
                }
            }
            tx.commit().map_err(sql_err)?;
        }
        Ok(())
    }
}
