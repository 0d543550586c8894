//! Object identifiers and save dates of the Maildir backend (RFC 8474 OBJECTID, RFC 8514
//! SAVEDATE): the `mailbox_objects` and `objects` tables of the per-account index, kept in
//! step with the mailbox and message rows by the triggers of
//! [`super::index::OBJECTS_STEP`]. What lives here: the reads. The writes that differ
//! from the triggers' defaults (a copy's EMAILID, an outside message's save date) are
//! part of the statements that insert those rows (`core/append.rs`, `core/sync.rs`).
//!
//! THREADID is not computed: every message's is `None` (RFC 8474 5.2 allows it; the
//! server answers `THREADID NIL` and a SEARCH THREADID matches nothing).

use super::core::Core;
use super::index::sql_err;
use crate::{MailboxId, MessageObject, StoreError, Uid};
use rusqlite::{params, Connection, OptionalExtension};

/// Above this many UIDs, [`Core::objects`] reads the mailbox's rows in one scan instead of
/// one lookup per UID.
const SCAN_ABOVE: usize = 64;

fn object_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MessageObject> {
    Ok(MessageObject {
        uid: r.get(0)?,
        email_id: r.get(1)?,
        thread_id: None,
        save_date: r.get(2)?,
    })
}

impl Core {
    /// The MAILBOXID of a mailbox.
    pub fn mailbox_object_id(&self, mailbox: MailboxId) -> Result<String, StoreError> {
        let conn = self.conn()?;
        read_mailbox_object_id(&conn, mailbox)
    }

    /// [`Core::mailbox_object_id`] on the caller's thread when the index is open and free
    /// (one indexed read; every SELECT asks it); `None`: take the blocking path.
    pub fn mailbox_object_id_in_place(
        &self,
        mailbox: MailboxId,
    ) -> Option<Result<String, StoreError>> {
        self.without_waiting(|conn| read_mailbox_object_id(conn, mailbox))
    }

    /// The objects of the given UIDs that exist, ascending.
    pub fn objects(
        &self,
        mailbox: MailboxId,
        uids: &[Uid],
    ) -> Result<Vec<MessageObject>, StoreError> {
        let conn = self.conn()?;
        read_objects(&conn, mailbox, uids)
    }

    /// [`Core::objects`] on the caller's thread for a few UIDs (at most [`SCAN_ABOVE`])
    /// when the index is open and free; `None`: take the blocking path.
    pub fn objects_in_place(
        &self,
        mailbox: MailboxId,
        uids: &[Uid],
    ) -> Option<Result<Vec<MessageObject>, StoreError>> {
        if uids.len() > SCAN_ABOVE {
            return None;
        }
        self.without_waiting(|conn| read_objects(conn, mailbox, uids))
    }
}

fn read_mailbox_object_id(conn: &Connection, mailbox: MailboxId) -> Result<String, StoreError> {
    let mut st = conn
        .prepare_cached("SELECT object_id FROM mailbox_objects WHERE mailbox = ?1")
        .map_err(sql_err)?;
    st.query_row([mailbox.0], |r| r.get(0))
        .optional()
        .map_err(sql_err)?
        .ok_or(StoreError::NotFound("mailbox"))
}

fn read_objects(
    conn: &Connection,
    mailbox: MailboxId,
    uids: &[Uid],
) -> Result<Vec<MessageObject>, StoreError> {
    let mut want = uids.to_vec();
    want.sort_unstable();
    want.dedup();
    if want.len() > SCAN_ABOVE {
        let mut st = conn
            .prepare_cached(
                "SELECT uid, email_id, save_date FROM objects WHERE mailbox = ?1
                 ORDER BY uid",
            )
            .map_err(sql_err)?;
        let rows = st.query_map([mailbox.0], object_row).map_err(sql_err)?;
        let mut out = Vec::with_capacity(want.len());
        for row in rows {
            let o = row.map_err(sql_err)?;
            if want.binary_search(&o.uid).is_ok() {
                out.push(o);
            }
        }
        return Ok(out);
    }
    let mut st = conn
        .prepare_cached(
            "SELECT uid, email_id, save_date FROM objects WHERE mailbox = ?1 AND uid = ?2",
        )
        .map_err(sql_err)?;
    let mut out = Vec::with_capacity(want.len());
    for uid in want {
        if let Some(o) = st
            .query_row(params![mailbox.0, uid], object_row)
            .optional()
            .map_err(sql_err)?
        {
            out.push(o);
        }
    }
    Ok(out)
}
