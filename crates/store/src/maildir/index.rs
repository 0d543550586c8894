//! The per-account SQLite index (`index.sqlite` beside `Maildir/`): its schema and the
//! connection settings. The index is a cache of what the files say plus what files cannot
//! hold (modseqs, keywords beyond the file name, expunge tombstones, parsed structure);
//! it can be deleted and rebuilt from the files (see `core::Core::rebuild`).

use crate::StoreError;
use rusqlite::Connection;
use std::path::Path;
use std::time::Duration;

/// Schema version written into `PRAGMA user_version`. Version 2 made `messages` a rowid
/// table (see [`migrate_1_to_2`]); version 3 indexes tombstones by modseq (every
/// catch-up of an in-memory mailbox state reads the tombstones above its modseq; without
/// the index that read scanned every tombstone the mailbox ever had); version 4 indexes
/// the messages flagged `\Deleted` (EXPUNGE looks them up instead of scanning the
/// mailbox; the literal 8 is `Flags::DELETED`); version 5 adds the object identifiers
/// and save dates of RFC 8474 and RFC 8514 ([`OBJECTS_STEP`]).
const VERSION: i64 = 5;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS mailboxes (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT NOT NULL UNIQUE,
    uidvalidity     INTEGER NOT NULL,
    uidnext         INTEGER NOT NULL,
    highest_modseq  INTEGER NOT NULL,
    special_use     TEXT,
    recent_from_uid INTEGER NOT NULL,
    new_mtime       INTEGER NOT NULL DEFAULT 0,
    cur_mtime       INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS subscriptions (
    name TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS messages (
    mailbox       INTEGER NOT NULL,
    uid           INTEGER NOT NULL,
    base          TEXT NOT NULL,
    file          TEXT NOT NULL,
    flags         INTEGER NOT NULL,
    keywords      TEXT NOT NULL,
    modseq        INTEGER NOT NULL,
    internal_date INTEGER NOT NULL,
    internal_tz   INTEGER NOT NULL,
    size          INTEGER NOT NULL,
    raw_size      INTEGER NOT NULL,
    crlf_clean    INTEGER NOT NULL,
    structure     BLOB NOT NULL,
    PRIMARY KEY (mailbox, uid)
);
CREATE INDEX IF NOT EXISTS messages_modseq ON messages (mailbox, modseq);
CREATE TABLE IF NOT EXISTS expunged (
    mailbox INTEGER NOT NULL,
    uid     INTEGER NOT NULL,
    modseq  INTEGER NOT NULL,
    PRIMARY KEY (mailbox, uid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS expunged_modseq ON expunged (mailbox, modseq);
CREATE INDEX IF NOT EXISTS messages_deleted ON messages (mailbox, uid) WHERE (flags & 8) != 0;
";

/// Version 5, a self-contained step run on fresh indexes too (after [`SCHEMA`], which
/// stays the version 4 shape): the MAILBOXID of each mailbox (RFC 8474 4) in
/// `mailbox_objects`, and the EMAILID (RFC 8474 5.1) and save date (RFC 8514 3: Unix
/// seconds, NULL when unknown) of each message in `objects`. They live in tables of their
/// own, small rows beside the `messages` rows that carry the parsed structure, so that
/// SEARCH SAVEDSINCE or FETCH EMAILID over a mailbox reads a few octets a message.
///
/// Triggers keep them in step with `messages` and `mailboxes`, whatever path writes
/// those (append, copy, move, outside deliveries found by a sync, a rebuild, import):
/// - a new mailbox row gets a fresh random MAILBOXID (`F` + 24 hex digits), kept by
///   RENAME (an update of the name) and removed with the row;
/// - a new message row gets a fresh random EMAILID (`M` + 24 hex digits) and the save
///   date "now"; COPY and MOVE then give the copy its source's EMAILID, a sync the
///   file's modification time (`core/append.rs`, `core/sync.rs`);
/// - a message row moved to another mailbox (RENAME INBOX) takes its object row along
///   with the save date "now" (RFC 8514 3: a message moved gets a new save date);
/// - a deleted message row (EXPUNGE, MOVE's tombstones, DELETE) takes its object row.
///
/// Rows indexed before this step get random ids and no save date (FETCH SAVEDATE NIL).
pub const OBJECTS_STEP: &str = "
CREATE TABLE IF NOT EXISTS mailbox_objects (
    mailbox   INTEGER PRIMARY KEY,
    object_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS objects (
    mailbox   INTEGER NOT NULL,
    uid       INTEGER NOT NULL,
    email_id  TEXT NOT NULL,
    save_date INTEGER,
    PRIMARY KEY (mailbox, uid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS objects_email_id ON objects (email_id);
INSERT OR IGNORE INTO mailbox_objects (mailbox, object_id)
    SELECT id, 'F' || lower(hex(randomblob(12))) FROM mailboxes;
INSERT OR IGNORE INTO objects (mailbox, uid, email_id, save_date)
    SELECT mailbox, uid, 'M' || lower(hex(randomblob(12))), NULL FROM messages;
CREATE TRIGGER IF NOT EXISTS mailbox_objects_new AFTER INSERT ON mailboxes BEGIN
    INSERT OR REPLACE INTO mailbox_objects (mailbox, object_id)
        VALUES (new.id, 'F' || lower(hex(randomblob(12))));
END;
CREATE TRIGGER IF NOT EXISTS mailbox_objects_gone AFTER DELETE ON mailboxes BEGIN
    DELETE FROM mailbox_objects WHERE mailbox = old.id;
END;
CREATE TRIGGER IF NOT EXISTS objects_new AFTER INSERT ON messages BEGIN
    INSERT OR REPLACE INTO objects (mailbox, uid, email_id, save_date)
        VALUES (new.mailbox, new.uid, 'M' || lower(hex(randomblob(12))),
                CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER IF NOT EXISTS objects_moved AFTER UPDATE OF mailbox, uid ON messages
    WHEN new.mailbox != old.mailbox OR new.uid != old.uid BEGIN
    DELETE FROM objects WHERE mailbox = new.mailbox AND uid = new.uid;
    UPDATE objects SET mailbox = new.mailbox, uid = new.uid,
            save_date = CAST(strftime('%s', 'now') AS INTEGER)
        WHERE mailbox = old.mailbox AND uid = old.uid;
END;
CREATE TRIGGER IF NOT EXISTS objects_gone AFTER DELETE ON messages BEGIN
    DELETE FROM objects WHERE mailbox = old.mailbox AND uid = old.uid;
END;
";

/// Version 1 kept `messages` as a `WITHOUT ROWID` table. Its rows carry the parsed
/// structure (often several KiB), so most spilled onto overflow pages, and SQLite compares
/// a key against such a cell only after reading the whole record: every lookup by
/// (mailbox, uid) read all overflow pages of the ~7 cells its binary search touched (six
/// 2-4 KiB reads per POP3 RETR, a fifth of the server's CPU under POP3 load). As a rowid
/// table the key lives in a small separate index and a lookup reads one row's local part.
/// The old table is set aside, [`SCHEMA`] makes the new one (the columns are unchanged),
/// and the rows are copied with one `INSERT ... SELECT`.
fn migrate_1_to_2() -> String {
    format!(
        "ALTER TABLE messages RENAME TO messages_v1;
         DROP INDEX messages_modseq;
         {SCHEMA}
         INSERT INTO messages SELECT mailbox, uid, base, file, flags, keywords, modseq,
             internal_date, internal_tz, size, raw_size, crlf_clean, structure FROM messages_v1;
         DROP TABLE messages_v1;
         PRAGMA user_version = 2;"
    )
}

/// Brings an index of an older version up to [`VERSION`], in one transaction; another
/// process may have done it meanwhile, so the version is read again under the lock.
fn migrate(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch("BEGIN IMMEDIATE").map_err(sql_err)?;
    let r = (|| {
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(sql_err)?;
        if version == 1 {
            conn.execute_batch(&migrate_1_to_2()).map_err(sql_err)?;
        }
        if version <= 2 {
            conn.execute_batch(
                "CREATE INDEX IF NOT EXISTS expunged_modseq ON expunged (mailbox, modseq);
                 PRAGMA user_version = 3;",
            )
            .map_err(sql_err)?;
        }
        if version <= 3 {
            conn.execute_batch(
                "CREATE INDEX IF NOT EXISTS messages_deleted ON messages (mailbox, uid)
                     WHERE (flags & 8) != 0;
                 PRAGMA user_version = 4;",
            )
            .map_err(sql_err)?;
        }
        if version <= 4 {
            conn.execute_batch(&format!("{OBJECTS_STEP} PRAGMA user_version = 5;"))
                .map_err(sql_err)?;
        }
        conn.execute_batch("COMMIT").map_err(sql_err)
    })();
    if r.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    r
}

/// Maps SQLite errors: lock contention is `Busy`, the rest `Index`.
pub fn sql_err(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy) | Some(rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::Busy
        }
        Some(rusqlite::ErrorCode::DiskFull) => StoreError::Io(std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            "disk full",
        )),
        _ => StoreError::Index(e.to_string()),
    }
}

/// How long a call waits for a lock another connection holds.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens (creating if needed) an account's index. Returns the connection and whether the
/// index was just created (so the caller rebuilds it from the files).
pub fn open(path: &Path) -> Result<(Connection, bool), StoreError> {
    let conn = Connection::open(path).map_err(sql_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sql_err)?;
    // Cached statements stay prepared across bindings (see the directory's open).
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map_err(sql_err)?;
    // Switching to WAL takes an exclusive lock (and may answer BUSY at once while another
    // process writes); once the file is in WAL mode it stays so: leave it alone.
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .map_err(sql_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql_err)?;
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(sql_err)?;
    // One connection per open account: a 256 KiB page cache (SQLite's default is 2 MiB)
    // keeps thousands of open accounts cheap; indexes are small and hot pages stay.
    conn.pragma_update(None, "cache_size", -256)
        .map_err(sql_err)?;
    // Every statement of the hot paths stays prepared (about 30 of them; rusqlite keeps
    // 16 by default, and parsing SQL was a fifth of the CPU of a loaded server).
    conn.set_prepared_statement_cache_capacity(52);
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(sql_err)?;
    if version > VERSION {
        return Err(StoreError::Corrupt(format!(
            "index {} has schema version {version}, newer than this program's {VERSION}",
            path.display()
        )));
    }
    let fresh = version == 0;
    if version > 0 && version < VERSION {
        migrate(&conn)?;
    }
    if fresh {
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {SCHEMA} {OBJECTS_STEP} PRAGMA user_version = {VERSION}; COMMIT;"
        ))
        .map_err(sql_err)?;
    }
    // Tables added after version 1: created on every open, so older indexes migrate.
    conn.execute_batch(super::acl::SCHEMA).map_err(sql_err)?;
    conn.execute_batch(super::metadata::SCHEMA)
        .map_err(sql_err)?;
    conn.execute_batch(super::preview::SCHEMA)
        .map_err(sql_err)?;
    conn.execute_batch(super::sortkeys::SCHEMA)
        .map_err(sql_err)?;
    conn.execute_batch(super::core::IMPORT_SCHEMA)
        .map_err(sql_err)?;
    Ok((conn, fresh))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// An index written by version 1 (messages `WITHOUT ROWID`) is migrated on open, rows
    /// and all, and opening it again changes nothing.
    #[test]
    fn version_1_index_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.sqlite");
        {
            let c = Connection::open(&path).unwrap();
            let v1 = SCHEMA.replace(
                "    PRIMARY KEY (mailbox, uid)\n);\nCREATE INDEX IF NOT EXISTS messages_modseq",
                "    PRIMARY KEY (mailbox, uid)\n) WITHOUT ROWID;\nCREATE INDEX IF NOT EXISTS messages_modseq",
            );
            assert_ne!(v1, SCHEMA, "the version 1 schema differs");
            c.execute_batch(&v1).unwrap();
            c.execute_batch("PRAGMA user_version = 1").unwrap();
            for uid in 1..=3i64 {
                c.execute(
                    "INSERT INTO messages VALUES (1, ?1, 'b', 'f', 0, '', ?1, 0, 0, 10, 9, 1, ?2)",
                    rusqlite::params![uid, vec![7u8; 5000]],
                )
                .unwrap();
            }
        }
        for _ in 0..2 {
            let (c, fresh) = open(&path).unwrap();
            assert!(!fresh);
            let v: i64 = c
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .unwrap();
            assert_eq!(v, VERSION);
            let sql: String = c
                .query_row(
                    "SELECT sql FROM sqlite_master WHERE name = 'messages'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert!(!sql.contains("WITHOUT ROWID"), "{sql}");
            let rows: Vec<(i64, i64, Vec<u8>)> = c
                .prepare("SELECT uid, modseq, structure FROM messages ORDER BY uid")
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(rows.len(), 3);
            assert!(rows.iter().all(|(u, m, s)| u == m && s.len() == 5000));
            let idx: i64 = c
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE name = 'messages_modseq'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(idx, 1);
        }
    }

    /// A version 4 index gets the object tables on open: a random MAILBOXID per mailbox
    /// and EMAILID per message, no save date for the messages it already had; the
    /// triggers then give new rows theirs.
    #[test]
    fn version_4_index_gets_object_ids() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.sqlite");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(SCHEMA).unwrap();
            c.execute_batch(
                "PRAGMA user_version = 4;
                 INSERT INTO mailboxes (name, uidvalidity, uidnext, highest_modseq,
                     recent_from_uid) VALUES ('INBOX', 1, 3, 2, 1);
                 INSERT INTO messages VALUES (1, 1, 'b', 'f', 0, '', 1, 0, 0, 10, 9, 1, x'00');
                 INSERT INTO messages VALUES (1, 2, 'c', 'g', 0, '', 2, 0, 0, 10, 9, 1, x'00');",
            )
            .unwrap();
        }
        let (c, fresh) = open(&path).unwrap();
        assert!(!fresh);
        let rows: Vec<(i64, String, Option<i64>)> = c
            .prepare("SELECT uid, email_id, save_date FROM objects ORDER BY uid")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows.len(), 2);
        assert!(rows
            .iter()
            .all(|(_, id, d)| id.len() == 25 && id.starts_with('M') && d.is_none()));
        assert_ne!(rows[0].1, rows[1].1);
        let mb: String = c
            .query_row(
                "SELECT object_id FROM mailbox_objects WHERE mailbox = 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(mb.starts_with('F') && mb.len() == 25, "{mb}");
        c.execute_batch(
            "INSERT INTO messages VALUES (1, 3, 'd', 'h', 0, '', 3, 0, 0, 10, 9, 1, x'00');",
        )
        .unwrap();
        let saved: Option<i64> = c
            .query_row("SELECT save_date FROM objects WHERE uid = 3", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert!(saved.is_some_and(|t| t > 1_700_000_000));
        c.execute_batch("DELETE FROM messages WHERE uid = 1; DELETE FROM mailboxes;")
            .unwrap();
        let left: i64 = c
            .query_row("SELECT count(*) FROM objects WHERE uid = 1", [], |r| {
                r.get(0)
            })
            .unwrap();
        let boxes: i64 = c
            .query_row("SELECT count(*) FROM mailbox_objects", [], |r| r.get(0))
            .unwrap();
        assert_eq!((left, boxes), (0, 0));
    }

    #[test]
    fn newer_index_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.sqlite");
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA user_version = 99")
            .unwrap();
        assert!(matches!(open(&path), Err(StoreError::Corrupt(_))));
    }
}
