//! The [`Directory`]: domains, accounts, aliases and router entries in one server-wide
//! SQLite file (`directory.db`, WAL, busy timeout), and the resolvers built on them.
//!
//! This file: opening the file (with retries while another process holds a lock), the
//! schema, the connection and its statement cache, the hash scheme for new passwords, and
//! the account row shared by every query that returns accounts. The `impl Directory`
//! blocks of the other concerns live beside it:
//! - `domains.rs`: domains and the local IP addresses bound to them (A1);
//! - `accounts.rs`: accounts, their passwords, mail secrets and administrator flags;
//! - `aliases.rs`: address aliases;
//! - `router_entries.rs`: stored router entries (the line grammar is `crate::router`);
//! - `resolve.rs`: `resolve_recipient` and `resolve_login`, and the resolution rules;
//! - `alerts.rs`: alerts shown at the next login (P10, I7);
//! - `credentials.rs`: password and APOP checks, SASL credentials, [`DirectorySource`];
//! - `smime.rs`: accounts' S/MIME certificates (`COPY … ENCRYPTED *`, I13).
//!
//! Not here: password schemes ([`crate::schemes`]) and SASL exchanges ([`crate::sasl`]);
//! quota limits, mailbox aliases and the grants hint (`crate::sharing`).

mod accounts;
mod alerts;
mod aliases;
mod credentials;
mod domains;
mod resolve;
mod router_entries;
mod smime;

pub use credentials::DirectorySource;
pub use smime::MAX_SMIME_CERT;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, Params, Row};

/// `query_row` through the connection's statement cache: the lookups every login and
/// every delivery make are parsed once per connection, not once per call.
trait CachedRow {
    fn cached_row<T, P: Params, F: FnOnce(&Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<T>;
}

impl CachedRow for Connection {
    fn cached_row<T, P: Params, F: FnOnce(&Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

use crate::names::domain_name;
use crate::schemes::HashScheme;
use crate::{AccountInfo, DirError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS domains(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS domain_addresses(
    ip TEXT PRIMARY KEY,
    domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS accounts(
    id INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: ids may be kept elsewhere (ACLs)
    domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE RESTRICT,
    name TEXT NOT NULL,
    password TEXT NOT NULL,
    scram TEXT,
    mail_secret BLOB,
    admin INTEGER NOT NULL DEFAULT 0,
    UNIQUE(domain_id, name)
);
CREATE TABLE IF NOT EXISTS alerts(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS aliases(
    address TEXT PRIMARY KEY,
    target TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS router(
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    line TEXT NOT NULL
);
";

/// The directory. `Send + Sync`; every call takes the connection lock briefly (password
/// hashing and verification run outside it).
pub struct Directory {
    conn: Mutex<Connection>,
    main: String,
    scheme: Mutex<HashScheme>,
    cache: crate::cache::LoginCache,
}

pub(crate) const ACCOUNT_COLS: &str = "a.id, a.name, d.name, a.admin, a.mail_secret IS NOT NULL";

pub(crate) fn account_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AccountInfo> {
    Ok(AccountInfo {
        id: r.get(0)?,
        name: r.get(1)?,
        domain: r.get(2)?,
        admin: r.get(3)?,
        has_mail_secret: r.get(4)?,
    })
}

impl Directory {
    /// Opens (creating if needed) the directory file at `path`. `main_domain` is the main
    /// domain (created when missing); accounts named without a domain belong to it.
    pub fn open(path: &Path, main_domain: &str) -> Result<Directory, DirError> {
        // Another handle (the CLI, the server, a second thread) may hold a lock for which
        // SQLite reports BUSY without waiting (WAL recovery, the journal-mode switch):
        // retry for a while before giving up.
        let mut attempt = 0;
        loop {
            match Self::try_open(path, main_domain) {
                Err(DirError::Db(m)) if attempt < 50 && is_busy(&m) => {
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20 * attempt.min(10)));
                }
                other => return other,
            }
        }
    }

    fn try_open(path: &Path, main_domain: &str) -> Result<Directory, DirError> {
        let conn = Connection::open(path)?;
        // Before anything that may wait for another process's lock (the CLI and the
        // server share the file).
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Switching to WAL takes an exclusive lock; once the file is in WAL mode (it stays
        // so), leave it alone.
        let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            conn.pragma_update(None, "journal_mode", "WAL")?;
        }
        Self::init(conn, main_domain)
    }

    /// An in-memory directory (tests, tools).
    pub fn open_in_memory(main_domain: &str) -> Result<Directory, DirError> {
        Self::init(Connection::open_in_memory()?, main_domain)
    }

    fn init(conn: Connection, main_domain: &str) -> Result<Directory, DirError> {
        let main = domain_name(main_domain)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.set_prepared_statement_cache_capacity(64);
        // Query planner stability: without it SQLite marks a statement to be parsed again
        // whenever a parameter it looked at while planning is bound anew, so every cached
        // login lookup (account join domain, alerts, IP-bound domains) was parsed on each
        // use: a fifth of the server's CPU per IMAP login.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(crate::sharing::SCHEMA)?;
        conn.execute_batch(smime::SCHEMA)?;
        conn.execute(
            "INSERT OR IGNORE INTO domains(name) VALUES (?1)",
            params![main],
        )?;
        conn.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES ('main_domain', ?1)",
            params![main],
        )?;
        Ok(Directory {
            conn: Mutex::new(conn),
            main,
            scheme: Mutex::new(HashScheme::DEFAULT),
            cache: crate::cache::LoginCache::default(),
        })
    }

    pub(crate) fn db(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs a short indexed read on the caller's thread without waiting for anything:
    /// only when the connection is not in use, with SQLite's busy wait off. `None` when
    /// that is not possible or another process holds a lock (the caller then takes the
    /// blocking path). For async callers to which a hop to the blocking pool costs more
    /// than the read (a few microseconds on a hot page cache).
    pub(crate) fn read_now<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Option<Result<T, DirError>> {
        let c = self.conn.try_lock().ok()?;
        c.busy_timeout(std::time::Duration::ZERO).ok()?;
        let r = f(&c);
        let _ = c.busy_timeout(std::time::Duration::from_secs(5));
        match r {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) =>
            {
                None
            }
            r => Some(r.map_err(DirError::from)),
        }
    }

    /// The main domain's name.
    pub fn main_domain(&self) -> String {
        self.main.clone()
    }

    /// Chooses how new passwords are hashed (default [`HashScheme::DEFAULT`]).
    pub fn set_hash_scheme(&self, scheme: HashScheme) {
        *self.scheme.lock().unwrap_or_else(|e| e.into_inner()) = scheme;
    }

    fn hash_scheme(&self) -> HashScheme {
        *self.scheme.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// True for SQLite's "database is locked" / "busy" errors.
fn is_busy(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("database is locked") || m.contains("busy")
}
