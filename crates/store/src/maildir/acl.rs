//! ACL storage of the Maildir backend (RFC 4314): the `acl` table of the per-account
//! index, keyed by mailbox id, so entries follow RENAME and go with DELETE.
//!
//! Limitation: the index is a cache that can be rebuilt from the files; ACLs are not in
//! the files, so losing `index.sqlite` drops every ACL of the account (the owner keeps
//! all rights, others lose theirs: the safe direction).

use super::core::Core;
use super::index::sql_err;
use crate::acl::{canonical_identifier, AclEntry, Rights};
use crate::{MailboxId, StoreError};
use rusqlite::{params, Connection, OptionalExtension};

/// The table, created on every open (`CREATE TABLE IF NOT EXISTS` migrates old indexes).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS acl (
    mailbox    INTEGER NOT NULL,
    identifier TEXT NOT NULL,
    rights     INTEGER NOT NULL,
    PRIMARY KEY (mailbox, identifier)
) WITHOUT ROWID;
";

fn check_mailbox(conn: &Connection, mailbox: MailboxId) -> Result<(), StoreError> {
    conn.query_row("SELECT 1 FROM mailboxes WHERE id = ?1", [mailbox.0], |_| {
        Ok(())
    })
    .optional()
    .map_err(sql_err)?
    .ok_or(StoreError::NotFound("mailbox"))
}

fn identifier(raw: &str) -> Result<String, StoreError> {
    canonical_identifier(raw)
        .ok_or_else(|| StoreError::Invalid(format!("invalid ACL identifier {raw:?}")))
}

fn rows(
    conn: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
) -> Result<Vec<(MailboxId, AclEntry)>, StoreError> {
    let mut st = conn.prepare(sql).map_err(sql_err)?;
    let it = st
        .query_map(p, |r| {
            let bits: i64 = r.get(2)?;
            Ok((
                MailboxId(r.get(0)?),
                AclEntry {
                    identifier: r.get(1)?,
                    rights: Rights::from_bits(u16::try_from(bits).unwrap_or(0)),
                },
            ))
        })
        .map_err(sql_err)?;
    it.collect::<Result<_, _>>().map_err(sql_err)
}

impl Core {
    /// The mailbox's entries, sorted by identifier.
    pub fn acl(&self, mailbox: MailboxId) -> Result<Vec<AclEntry>, StoreError> {
        let conn = self.conn()?;
        check_mailbox(&conn, mailbox)?;
        Ok(rows(
            &conn,
            "SELECT mailbox, identifier, rights FROM acl WHERE mailbox = ?1 ORDER BY identifier",
            [mailbox.0],
        )?
        .into_iter()
        .map(|(_, e)| e)
        .collect())
    }

    /// Every entry of every mailbox, by mailbox id then identifier.
    pub fn all_acls(&self) -> Result<Vec<(MailboxId, AclEntry)>, StoreError> {
        let conn = self.conn()?;
        rows(
            &conn,
            "SELECT a.mailbox, a.identifier, a.rights FROM acl a
             JOIN mailboxes m ON m.id = a.mailbox ORDER BY a.mailbox, a.identifier",
            [],
        )
    }

    /// Sets an identifier's rights; empty rights remove the entry.
    pub fn set_acl(
        &self,
        mailbox: MailboxId,
        identifier_raw: &str,
        rights: Rights,
    ) -> Result<(), StoreError> {
        let id = identifier(identifier_raw)?;
        let conn = self.conn()?;
        check_mailbox(&conn, mailbox)?;
        if rights.is_empty() {
            conn.execute(
                "DELETE FROM acl WHERE mailbox = ?1 AND identifier = ?2",
                params![mailbox.0, id],
            )
            .map_err(sql_err)?;
        } else {
            conn.execute(
                "INSERT OR REPLACE INTO acl (mailbox, identifier, rights) VALUES (?1, ?2, ?3)",
                params![mailbox.0, id, i64::from(rights.bits())],
            )
            .map_err(sql_err)?;
        }
        Ok(())
    }

    /// Removes an identifier's entry (no error if it had none, RFC 4314 section 3.2).
    pub fn delete_acl(&self, mailbox: MailboxId, identifier_raw: &str) -> Result<(), StoreError> {
        self.set_acl(mailbox, identifier_raw, Rights::NONE)
    }
}
