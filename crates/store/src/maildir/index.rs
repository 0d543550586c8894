//! The per-account SQLite index (`index.sqlite` beside `Maildir/`): its schema and the
//! connection settings. The index is a cache of what the files say plus what files cannot
//! hold (modseqs, keywords beyond the file name, expunge tombstones, parsed structure);
//! it can be deleted and rebuilt from the files (see `core::Core::rebuild`).

use crate::StoreError;
use rusqlite::Connection;
use std::path::Path;
use std::time::Duration;

/// Schema version written into `PRAGMA user_version`.
const VERSION: i64 = 1;

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
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS messages_modseq ON messages (mailbox, modseq);
CREATE TABLE IF NOT EXISTS expunged (
    mailbox INTEGER NOT NULL,
    uid     INTEGER NOT NULL,
    modseq  INTEGER NOT NULL,
    PRIMARY KEY (mailbox, uid)
) WITHOUT ROWID;
";

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
    // One connection per open account: a 64 KiB page cache (SQLite's default is 2 MiB)
    // keeps thousands of open accounts cheap; indexes are small and hot pages stay.
    conn.pragma_update(None, "cache_size", -64)
        .map_err(sql_err)?;
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
    if fresh {
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {VERSION}; COMMIT;"
        ))
        .map_err(sql_err)?;
    }
    // Tables added after version 1: created on every open, so older indexes migrate.
    conn.execute_batch(super::acl::SCHEMA).map_err(sql_err)?;
    Ok((conn, fresh))
}
