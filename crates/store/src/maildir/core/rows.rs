//! Index rows and queries: mailbox rows, message metadata rows, the keyword column
//! encoding, UIDVALIDITY bookkeeping.

use super::now_secs;
use crate::maildir::index::sql_err;
use crate::{Flags, MailboxId, MailboxInfo, MessageMeta, ModSeq, SpecialUse, StoreError, Uid};
use rusqlite::{params, Connection, OptionalExtension};

/// One mailbox row of the index.
#[derive(Clone, Debug)]
pub(super) struct MailboxRow {
    pub(super) id: i64,
    pub(super) name: String,
    pub(super) uidvalidity: u32,
    pub(super) uidnext: Uid,
    pub(super) highest_modseq: ModSeq,
    pub(super) special_use: Option<String>,
    pub(super) recent_from_uid: Uid,
    pub(super) new_mtime: i64,
    pub(super) cur_mtime: i64,
}

pub(super) const MAILBOX_COLS: &str =
    "id, name, uidvalidity, uidnext, highest_modseq, special_use, recent_from_uid, new_mtime, cur_mtime";

pub(super) fn mailbox_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MailboxRow> {
    Ok(MailboxRow {
        id: r.get(0)?,
        name: r.get(1)?,
        uidvalidity: r.get(2)?,
        uidnext: r.get(3)?,
        highest_modseq: r.get::<_, i64>(4)? as u64,
        special_use: r.get(5)?,
        recent_from_uid: r.get(6)?,
        new_mtime: r.get(7)?,
        cur_mtime: r.get(8)?,
    })
}

impl MailboxRow {
    pub(super) fn info(&self) -> MailboxInfo {
        MailboxInfo {
            id: MailboxId(self.id),
            name: self.name.clone(),
            uid_validity: self.uidvalidity,
            special_use: self.special_use.as_deref().and_then(SpecialUse::from_imap),
        }
    }
}

pub(super) const META_COLS: &str = "uid, flags, keywords, modseq, internal_date, internal_tz, size";

pub(super) fn meta_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MessageMeta> {
    let keywords: String = r.get(2)?;
    Ok(MessageMeta {
        uid: r.get(0)?,
        flags: Flags(r.get::<_, u8>(1)?),
        keywords: decode_keywords(&keywords),
        modseq: r.get::<_, i64>(3)? as u64,
        internal_date: r.get(4)?,
        internal_date_tz: r.get(5)?,
        size: r.get::<_, i64>(6)? as u64,
    })
}

pub(super) fn decode_keywords(s: &str) -> Vec<String> {
    s.split(' ')
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect()
}

pub(super) fn encode_keywords(k: &[String]) -> String {
    k.join(" ")
}

/// Sorts keywords and drops duplicates (compared case-insensitively, first spelling kept)
/// and anything that is not a valid IMAP atom.
pub fn normalize_keywords(k: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for kw in k {
        let valid = !kw.is_empty()
            && kw.len() <= 128
            && kw
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\]".contains(&b))
            && !kw.starts_with('\\');
        if valid && !out.iter().any(|o| o.eq_ignore_ascii_case(kw)) {
            out.push(kw.clone());
        }
    }
    out.sort();
    out
}

/// UIDs sorted ascending without duplicates.
pub(super) fn sorted_uids(uids: &[Uid]) -> Vec<Uid> {
    let mut v = uids.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

/// Runs one statement through the connection's statement cache (`Connection::execute`
/// parses the SQL anew on every call: a fifth of the server's CPU under load).
pub(super) fn exec(
    conn: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(p)
}

pub(super) fn find_mailbox(
    conn: &Connection,
    name: &str,
) -> Result<Option<MailboxRow>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {MAILBOX_COLS} FROM mailboxes WHERE name = ?1"
    ))
    .and_then(|mut st| st.query_row([name], mailbox_row).optional())
    .map_err(sql_err)
}

pub(super) fn get_mailbox(conn: &Connection, id: i64) -> Result<MailboxRow, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {MAILBOX_COLS} FROM mailboxes WHERE id = ?1"
    ))
    .and_then(|mut st| st.query_row([id], mailbox_row).optional())
    .map_err(sql_err)?
    .ok_or(StoreError::NotFound("mailbox"))
}

pub(super) fn query_metas(
    conn: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
) -> Result<Vec<MessageMeta>, StoreError> {
    let mut st = conn.prepare_cached(sql).map_err(sql_err)?;
    let rows = st.query_map(p, meta_row).map_err(sql_err)?;
    rows.collect::<Result<_, _>>().map_err(sql_err)
}

pub(super) fn is_tombstoned(conn: &Connection, mailbox: i64, uid: Uid) -> Result<bool, StoreError> {
    conn.query_row(
        "SELECT 1 FROM expunged WHERE mailbox = ?1 AND uid = ?2",
        params![mailbox, uid],
        |_| Ok(()),
    )
    .optional()
    .map(|o| o.is_some())
    .map_err(sql_err)
}

/// Remembers the highest UIDVALIDITY handed out in this account.
pub(super) fn note_uidvalidity(conn: &Connection, v: u32) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO meta (key, value) VALUES ('last_uidvalidity', ?1)
         ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
        [v],
    )
    .map_err(sql_err)?;
    Ok(())
}

/// A new UIDVALIDITY: the clock in seconds, or one more than the last one handed out.
pub(super) fn next_uidvalidity(conn: &Connection, floor: u32) -> Result<u32, StoreError> {
    let last: u32 = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'last_uidvalidity'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql_err)?
        .unwrap_or(0);
    let now = u32::try_from(now_secs()).unwrap_or(u32::MAX - 1);
    let v = now.max(last.saturating_add(1)).max(floor).max(1);
    note_uidvalidity(conn, v)?;
    Ok(v)
}
