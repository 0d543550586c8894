//! The [`Directory`]: domains, accounts, aliases and router entries in one server-wide
//! SQLite file (`directory.db`, WAL, busy timeout), and the resolvers built on them.
//!
//! Resolution (the same for delivery and logins, A2), at most [`MAX_HOPS`] steps, each
//! address visited once (a revisit is a [`DirError::Loop`]):
//! 1. a router address entry `<local@domain> = target` redirects;
//! 2. an alias `local@domain -> target` redirects;
//! 3. in a local domain, the account `local` is the answer (or `Unknown`);
//! 4. a router domain entry maps the domain: `domain = acct.local` sends the address to
//!    account `acct` of the main domain, remembering `local` as `real_to` (X-Real-To, P9);
//!    `domain = other` rewrites the domain;
//! 5. otherwise the domain is not ours: `Remote(address)` if we got there through a
//!    redirection, `Unknown` if the address was given as is.
//!
//! Not here: password schemes ([`crate::schemes`]) and SASL exchanges ([`crate::sasl`]).

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension, Params, Row};

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

use crate::names::{account_name, domain_name, parse_address, Addr};
use crate::router::{parse_line, RouterEntry, RouterKind};
use crate::sasl::CredentialSource;
use crate::schemes::{self, HashScheme, ScramKeys};
use crate::{
    AccountInfo, AliasInfo, Credentials, DirError, DomainInfo, LoginTarget, Recipient, Secret,
};

/// Most redirections (router entries, aliases, domain mappings) followed for one address.
pub const MAX_HOPS: usize = 16;

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

/// Stored password hash, SCRAM keys, mail secret.
type StoredCreds = (String, Option<String>, Option<Vec<u8>>);

enum Resolved {
    Local(AccountInfo, Option<String>),
    Remote(String),
    Unknown,
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

    // ---- domains -------------------------------------------------------------------

    fn domain_id(c: &Connection, name: &str) -> Result<Option<i64>, DirError> {
        Ok(c.cached_row(
            "SELECT id FROM domains WHERE name = ?1",
            params![name],
            |r| r.get(0),
        )
        .optional()?)
    }

    /// Adds a secondary domain.
    pub fn add_domain(&self, name: &str) -> Result<(), DirError> {
        let name = domain_name(name)?;
        let c = self.db();
        let router_key: Option<String> = c
            .cached_row(
                "SELECT line FROM router WHERE key = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(line) = router_key {
            return Err(DirError::AlreadyExists(format!(
                "{name} is mapped by the router ({line})"
            )));
        }
        let n = c.execute(
            "INSERT OR IGNORE INTO domains(name) VALUES (?1)",
            params![name],
        )?;
        if n == 0 {
            return Err(DirError::AlreadyExists(format!("domain {name}")));
        }
        Ok(())
    }

    /// Removes a secondary domain with no accounts left (its address bindings go with it).
    pub fn remove_domain(&self, name: &str) -> Result<(), DirError> {
        let name = domain_name(name)?;
        if name == self.main {
            return Err(DirError::InUse(format!("{name} is the main domain")));
        }
        let c = self.db();
        let id = Self::domain_id(&c, &name)?
            .ok_or_else(|| DirError::NotFound(format!("domain {name}")))?;
        let n: i64 = c.cached_row(
            "SELECT COUNT(*) FROM accounts WHERE domain_id = ?1",
            params![id],
            |r| r.get(0),
        )?;
        if n > 0 {
            return Err(DirError::InUse(format!(
                "domain {name} still has {n} account(s)"
            )));
        }
        c.execute("DELETE FROM domains WHERE id = ?1", params![id])?;
        Ok(())
    }

    /// All domains, the main one first.
    pub fn list_domains(&self) -> Result<Vec<DomainInfo>, DirError> {
        let c = self.db();
        let mut st = c.prepare(
            "SELECT d.id, d.name, (SELECT COUNT(*) FROM accounts a WHERE a.domain_id = d.id)
             FROM domains d ORDER BY d.name",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, name, accounts) = row?;
            let mut ips =
                c.prepare_cached("SELECT ip FROM domain_addresses WHERE domain_id = ?1")?;
            let addresses = ips
                .query_map(params![id], |r| r.get::<_, String>(0))?
                .filter_map(|s| s.ok().and_then(|s| s.parse().ok()))
                .collect();
            out.push(DomainInfo {
                id,
                main: name == self.main,
                name,
                addresses,
                accounts: usize::try_from(accounts).unwrap_or(0),
            });
        }
        out.sort_by_key(|d| !d.main);
        Ok(out)
    }

    /// True when `name` is a domain of ours (not counting router mappings).
    pub fn has_domain(&self, name: &str) -> Result<bool, DirError> {
        let Ok(name) = domain_name(name) else {
            return Ok(false);
        };
        Ok(Self::domain_id(&self.db(), &name)?.is_some())
    }

    /// Binds local IP addresses to a domain (A1): a login without a domain on a
    /// connection to one of them is in this domain. Replaces the domain's previous list.
    /// An address already bound to another domain is refused.
    pub fn set_domain_addresses(&self, domain: &str, addrs: &[IpAddr]) -> Result<(), DirError> {
        let domain = domain_name(domain)?;
        let mut c = self.db();
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let id = Self::domain_id(&tx, &domain)?
            .ok_or_else(|| DirError::NotFound(format!("domain {domain}")))?;
        tx.execute(
            "DELETE FROM domain_addresses WHERE domain_id = ?1",
            params![id],
        )?;
        for ip in addrs {
            let ip = canonical_ip(*ip).to_string();
            let other: Option<String> = tx
                .cached_row(
                    "SELECT d.name FROM domain_addresses x JOIN domains d ON d.id = x.domain_id
                     WHERE x.ip = ?1",
                    params![ip],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(other) = other {
                return Err(DirError::AlreadyExists(format!(
                    "address {ip} already selects domain {other}"
                )));
            }
            tx.execute(
                "INSERT INTO domain_addresses(ip, domain_id) VALUES (?1, ?2)",
                params![ip, id],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The domain bound to a local address, if any (A1).
    pub fn domain_for_ip(&self, ip: IpAddr) -> Result<Option<String>, DirError> {
        Self::domain_for_ip_in(&self.db(), ip)
    }

    fn domain_for_ip_in(c: &Connection, ip: IpAddr) -> Result<Option<String>, DirError> {
        Ok(c.cached_row(
            "SELECT d.name FROM domain_addresses x JOIN domains d ON d.id = x.domain_id
             WHERE x.ip = ?1",
            params![canonical_ip(ip).to_string()],
            |r| r.get(0),
        )
        .optional()?)
    }

    // ---- accounts ------------------------------------------------------------------

    /// Splits an operator's account name: `name` (main domain), `name@domain` or
    /// `name%domain`. No router or alias applies.
    fn account_ident(&self, raw: &str) -> Result<(String, String), DirError> {
        let raw = raw.trim();
        let (n, d) = match raw.rsplit_once('@').or_else(|| raw.rsplit_once('%')) {
            Some((n, d)) => (n, domain_name(d)?),
            None => (raw, self.main.clone()),
        };
        Ok((account_name(n)?, d))
    }

    fn find_account(
        c: &Connection,
        name: &str,
        domain: &str,
    ) -> Result<Option<AccountInfo>, DirError> {
        Ok(c.cached_row(
            &format!(
                "SELECT {ACCOUNT_COLS} FROM accounts a JOIN domains d ON d.id = a.domain_id
                 WHERE a.name = ?1 AND d.name = ?2"
            ),
            params![name, domain],
            account_row,
        )
        .optional()?)
    }

    /// Looks an account up by `name`, `name@domain` or `name%domain` (no router, no
    /// aliases).
    pub fn account(&self, name_or_addr: &str) -> Result<AccountInfo, DirError> {
        let (n, d) = self.account_ident(name_or_addr)?;
        Self::find_account(&self.db(), &n, &d)?
            .ok_or_else(|| DirError::NotFound(format!("account {n}@{d}")))
    }

    /// Adds an account with a password, hashed in the configured scheme; SCRAM-SHA-256 keys
    /// are derived at the same time. `name` is in the main domain, `name@domain` in a
    /// domain that must exist.
    pub fn add_account(
        &self,
        name_or_addr: &str,
        password: &Secret,
    ) -> Result<AccountInfo, DirError> {
        let hash = schemes::hash_password(password.as_bytes(), self.hash_scheme())?;
        let scram = ScramKeys::generate(password.as_bytes()).to_dovecot();
        self.insert_account(name_or_addr, &hash, Some(&scram))
    }

    /// Adds an account with an already hashed password in `{SCHEME}` syntax (imports
    /// from Dovecot and others keep their hashes). SCRAM keys are derived when the hash is
    /// `{PLAIN}` or is itself `{SCRAM-SHA-256}`, else at the first successful password
    /// login.
    pub fn add_account_with_hash(
        &self,
        name_or_addr: &str,
        hash: &str,
    ) -> Result<AccountInfo, DirError> {
        let hash = hash.trim();
        schemes::check_stored(hash)?;
        let scram = Self::scram_from_hash(hash);
        self.insert_account(name_or_addr, hash, scram.as_deref())
    }

    fn scram_from_hash(hash: &str) -> Option<String> {
        if let Some(p) = schemes::plaintext(hash) {
            return Some(ScramKeys::generate(p.as_bytes()).to_dovecot());
        }
        schemes::stored_scram(hash).map(|k| k.to_dovecot())
    }

    fn insert_account(
        &self,
        name_or_addr: &str,
        hash: &str,
        scram: Option<&str>,
    ) -> Result<AccountInfo, DirError> {
        let (name, domain) = self.account_ident(name_or_addr)?;
        let mut c = self.db();
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let did = Self::domain_id(&tx, &domain)?
            .ok_or_else(|| DirError::NotFound(format!("domain {domain}")))?;
        if Self::find_account(&tx, &name, &domain)?.is_some() {
            return Err(DirError::AlreadyExists(format!("account {name}@{domain}")));
        }
        let alias: Option<String> = tx
            .cached_row(
                "SELECT target FROM aliases WHERE address = ?1",
                params![format!("{name}@{domain}")],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(t) = alias {
            return Err(DirError::AlreadyExists(format!(
                "{name}@{domain} is an alias (to {t})"
            )));
        }
        tx.execute(
            "INSERT INTO accounts(domain_id, name, password, scram) VALUES (?1, ?2, ?3, ?4)",
            params![did, name, hash, scram],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        tracing::info!(account = %format!("{name}@{domain}"), "account added");
        Ok(AccountInfo {
            id,
            name,
            domain,
            admin: false,
            has_mail_secret: false,
        })
    }

    /// Changes an account's password (and its SCRAM keys).
    pub fn set_password(&self, account: &str, password: &Secret) -> Result<(), DirError> {
        let hash = schemes::hash_password(password.as_bytes(), self.hash_scheme())?;
        let scram = ScramKeys::generate(password.as_bytes()).to_dovecot();
        self.update_password(account, &hash, Some(&scram))
    }

    /// Replaces an account's password with an already hashed one (`{SCHEME}` syntax).
    pub fn set_password_hash(&self, account: &str, hash: &str) -> Result<(), DirError> {
        let hash = hash.trim();
        schemes::check_stored(hash)?;
        let scram = Self::scram_from_hash(hash);
        self.update_password(account, hash, scram.as_deref())
    }

    fn update_password(
        &self,
        account: &str,
        hash: &str,
        scram: Option<&str>,
    ) -> Result<(), DirError> {
        let a = self.account(account)?;
        self.db().execute(
            "UPDATE accounts SET password = ?1, scram = ?2 WHERE id = ?3",
            params![hash, scram, a.id],
        )?;
        self.cache.forget(a.id);
        Ok(())
    }

    /// Sets or clears the separate APOP/CRAM-MD5 secret (the seed's `apoppasswd`). It is
    /// stored retrievably: APOP (RFC 1939 section 7) and CRAM-MD5 (RFC 2195) need it.
    pub fn set_mail_secret(&self, account: &str, secret: Option<&Secret>) -> Result<(), DirError> {
        if let Some(s) = secret {
            if s.is_empty() || s.len() > schemes::MAX_PASSWORD {
                return Err(DirError::Invalid(
                    "mail secret must be 1 to 1024 bytes".into(),
                ));
            }
        }
        let a = self.account(account)?;
        self.db().execute(
            "UPDATE accounts SET mail_secret = ?1 WHERE id = ?2",
            params![secret.map(|s| s.as_bytes()), a.id],
        )?;
        Ok(())
    }

    /// Sets or clears the administrator flag.
    pub fn set_admin(&self, account: &str, admin: bool) -> Result<(), DirError> {
        let a = self.account(account)?;
        self.db().execute(
            "UPDATE accounts SET admin = ?1 WHERE id = ?2",
            params![admin, a.id],
        )?;
        Ok(())
    }

    /// Removes an account and returns what it was (the caller removes its mail store).
    pub fn remove_account(&self, account: &str) -> Result<AccountInfo, DirError> {
        let a = self.account(account)?;
        self.db()
            .execute("DELETE FROM accounts WHERE id = ?1", params![a.id])?;
        tracing::info!(account = %a.address(), "account removed");
        Ok(a)
    }

    /// Accounts of one domain, or of all domains, ordered by domain then name.
    pub fn list_accounts(&self, domain: Option<&str>) -> Result<Vec<AccountInfo>, DirError> {
        let c = self.db();
        let dom = domain.map(domain_name).transpose()?;
        if let Some(d) = &dom {
            if Self::domain_id(&c, d)?.is_none() {
                return Err(DirError::NotFound(format!("domain {d}")));
            }
        }
        let mut st = c.prepare(&format!(
            "SELECT {ACCOUNT_COLS} FROM accounts a JOIN domains d ON d.id = a.domain_id
             WHERE ?1 IS NULL OR d.name = ?1 ORDER BY d.name, a.name"
        ))?;
        let rows = st.query_map(params![dom], account_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ---- aliases -------------------------------------------------------------------

    /// `local@domain` (domain defaulting to the main one), lower case.
    fn full_address(&self, a: &Addr) -> String {
        format!("{}@{}", a.local, a.domain.as_deref().unwrap_or(&self.main))
    }

    /// The target as stored: the local part keeps its case (remote addresses, referrals).
    fn target_address(&self, raw: &str) -> Result<String, DirError> {
        let a = parse_address(raw)?;
        let t = crate::names::strip_brackets(raw);
        Ok(match a.domain {
            Some(d) => {
                let local = t.rsplit_once('@').map(|(l, _)| l).unwrap_or(t);
                format!("{local}@{d}")
            }
            None => format!("{}@{}", a.local, self.main),
        })
    }

    /// Adds an alias: mail and logins for `address` go to `target` (an account, another
    /// alias, or a remote address). Refused when `address` is an account, or when the alias
    /// would close a loop.
    pub fn add_alias(&self, address: &str, target: &str) -> Result<AliasInfo, DirError> {
        let address = self.full_address(&parse_address(address)?);
        let target = self.target_address(target)?;
        {
            let c = self.db();
            if let Some((l, d)) = address.rsplit_once('@') {
                if Self::find_account(&c, l, d)?.is_some() {
                    return Err(DirError::AlreadyExists(format!("{address} is an account")));
                }
            }
            let n = c.execute(
                "INSERT OR IGNORE INTO aliases(address, target) VALUES (?1, ?2)",
                params![address, target],
            )?;
            if n == 0 {
                return Err(DirError::AlreadyExists(format!("alias {address}")));
            }
        }
        if let Err(e @ DirError::Loop(_)) = self.resolve_recipient(&address) {
            self.db()
                .execute("DELETE FROM aliases WHERE address = ?1", params![address])?;
            return Err(e);
        }
        Ok(AliasInfo { address, target })
    }

    /// Removes an alias.
    pub fn remove_alias(&self, address: &str) -> Result<AliasInfo, DirError> {
        let address = self.full_address(&parse_address(address)?);
        let c = self.db();
        let target: String = c
            .cached_row(
                "SELECT target FROM aliases WHERE address = ?1",
                params![address],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| DirError::NotFound(format!("alias {address}")))?;
        c.execute("DELETE FROM aliases WHERE address = ?1", params![address])?;
        Ok(AliasInfo { address, target })
    }

    /// All aliases as `(address, target)`, by address.
    pub fn list_aliases(&self) -> Result<Vec<(String, String)>, DirError> {
        let c = self.db();
        let mut st = c.prepare("SELECT address, target FROM aliases ORDER BY address")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ---- router --------------------------------------------------------------------

    /// Adds a router line in CommuniGate Pro syntax (`client1.com = cl1.local`,
    /// `<j.smith> = John@othercompany.com`). A domain of ours cannot be mapped; a line that
    /// would close a loop is refused.
    pub fn add_router(&self, line: &str) -> Result<RouterEntry, DirError> {
        let kind = parse_line(line, &self.main)?;
        let key = kind.key();
        let line = kind.line();
        let id = {
            let c = self.db();
            if let RouterKind::DomainToAccount { domain, .. }
            | RouterKind::DomainToDomain { domain, .. } = &kind
            {
                if Self::domain_id(&c, domain)?.is_some() {
                    return Err(DirError::AlreadyExists(format!(
                        "{domain} is a domain of this server; remove it before mapping it"
                    )));
                }
            }
            let n = c.execute(
                "INSERT OR IGNORE INTO router(key, line) VALUES (?1, ?2)",
                params![key, line],
            )?;
            if n == 0 {
                return Err(DirError::AlreadyExists(format!("router entry for {key}")));
            }
            c.last_insert_rowid()
        };
        let probe = match &kind {
            RouterKind::Address { address, .. } => address.clone(),
            RouterKind::DomainToAccount { domain, .. }
            | RouterKind::DomainToDomain { domain, .. } => {
                format!("postmaster@{domain}")
            }
        };
        if let Err(e @ DirError::Loop(_)) = self.resolve_recipient(&probe) {
            self.db()
                .execute("DELETE FROM router WHERE id = ?1", params![id])?;
            return Err(e);
        }
        Ok(RouterEntry { id, line, kind })
    }

    /// Removes a router entry, named by its whole line or by its left side.
    pub fn remove_router(&self, line_or_key: &str) -> Result<RouterEntry, DirError> {
        let key = match parse_line(line_or_key, &self.main) {
            Ok(k) => k.key(),
            Err(_) => {
                let l = line_or_key.trim();
                if l.starts_with('<') {
                    let a = parse_address(l)?;
                    format!("<{}>", self.full_address(&a))
                } else {
                    domain_name(l)?
                }
            }
        };
        let c = self.db();
        let (id, line): (i64, String) = c
            .cached_row(
                "SELECT id, line FROM router WHERE key = ?1",
                params![key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .ok_or_else(|| DirError::NotFound(format!("router entry for {key}")))?;
        c.execute("DELETE FROM router WHERE id = ?1", params![id])?;
        let kind = parse_line(&line, &self.main)?;
        Ok(RouterEntry { id, line, kind })
    }

    /// All router entries, in the order they were added.
    pub fn list_router(&self) -> Result<Vec<RouterEntry>, DirError> {
        let c = self.db();
        let mut st = c.prepare("SELECT id, line FROM router ORDER BY id")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, line) = row?;
            match parse_line(&line, &self.main) {
                Ok(kind) => out.push(RouterEntry { id, line, kind }),
                Err(e) => tracing::warn!(%line, error = %e, "unreadable router entry skipped"),
            }
        }
        Ok(out)
    }

    fn router_lookup(&self, c: &Connection, key: &str) -> Result<Option<RouterKind>, DirError> {
        let line: Option<String> = c
            .cached_row(
                "SELECT line FROM router WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()?;
        Ok(line.and_then(|l| parse_line(&l, &self.main).ok()))
    }

    // ---- resolution ----------------------------------------------------------------

    fn resolve(&self, c: &Connection, start: Addr) -> Result<Resolved, DirError> {
        let mut local = start.local;
        let mut domain = start.domain.unwrap_or_else(|| self.main.clone());
        // The address as last written (original case, for remote targets).
        let mut written = format!("{local}@{domain}");
        let mut real_to: Option<String> = None;
        let mut seen = HashSet::new();
        for hop in 0..=MAX_HOPS {
            let key = format!("{local}@{domain}");
            if !seen.insert(key.clone()) {
                return Err(DirError::Loop(key));
            }
            let mut next: Option<String> = None;
            if let Some(RouterKind::Address { target, .. }) =
                self.router_lookup(c, &format!("<{key}>"))?
            {
                next = Some(target);
            } else if let Some(t) = c
                .cached_row(
                    "SELECT target FROM aliases WHERE address = ?1",
                    params![key],
                    |r| r.get::<_, String>(0),
                )
                .optional()?
            {
                next = Some(t);
            } else if Self::domain_id(c, &domain)?.is_some() {
                return Ok(match Self::find_account(c, &local, &domain)? {
                    Some(a) => Resolved::Local(a, real_to),
                    None => Resolved::Unknown,
                });
            } else {
                match self.router_lookup(c, &domain)? {
                    Some(RouterKind::DomainToAccount { account, .. }) => {
                        real_to.get_or_insert_with(|| local.clone());
                        next = Some(format!("{account}@{}", self.main));
                    }
                    Some(RouterKind::DomainToDomain { target, .. }) => {
                        next = Some(format!("{local}@{target}"));
                    }
                    _ => {}
                }
            }
            match next {
                Some(t) => {
                    let a = parse_address(&t)?;
                    local = a.local;
                    domain = a.domain.unwrap_or_else(|| self.main.clone());
                    written = t;
                }
                None if hop == 0 => return Ok(Resolved::Unknown),
                None => return Ok(Resolved::Remote(written)),
            }
        }
        Err(DirError::Loop(written))
    }

    /// Where mail for `address` goes (RFC 5321 forward-path, `<...>` or bare; a bare
    /// local part is in the main domain). Router entries and aliases apply, matching is
    /// case-insensitive, redirections are bounded ([`MAX_HOPS`]). `postmaster` and other
    /// role names exist only when aliased.
    pub fn resolve_recipient(&self, address: &str) -> Result<Recipient, DirError> {
        let a = match parse_address(address) {
            Ok(a) => a,
            Err(_) => return Ok(Recipient::Unknown),
        };
        Ok(match self.resolve(&self.db(), a)? {
            Resolved::Local(account, real_to) => Recipient::Local { account, real_to },
            Resolved::Remote(r) => Recipient::Remote(r),
            Resolved::Unknown => Recipient::Unknown,
        })
    }

    /// Where a login name leads (A1, A2, I8, P9): `user`, `user@domain` or `user%domain`;
    /// without a domain, the domain bound to `local_ip` (the address the client connected
    /// to), else the main domain. The router and aliases apply as for delivery.
    pub fn resolve_login(
        &self,
        login: &str,
        local_ip: Option<IpAddr>,
    ) -> Result<LoginTarget, DirError> {
        let login = login.trim();
        let c = self.db();
        let addr = if login.contains('@') {
            parse_address(login)
        } else if let Some((user, dom)) = login.rsplit_once('%') {
            parse_address(&format!("{user}@{dom}"))
        } else {
            let dom = match local_ip {
                Some(ip) => Self::domain_for_ip_in(&c, ip)?,
                None => None,
            };
            parse_address(login).map(|a| Addr {
                local: a.local,
                domain: Some(dom.unwrap_or_else(|| self.main.clone())),
            })
        };
        let Ok(addr) = addr else {
            return Ok(LoginTarget::Unknown);
        };
        Ok(match self.resolve(&c, addr)? {
            Resolved::Local(account, real_to) => LoginTarget::Local { account, real_to },
            Resolved::Remote(r) => LoginTarget::Remote(r),
            Resolved::Unknown => LoginTarget::Unknown,
        })
    }

    // ---- alerts (P10, I7) -------------------------------------------------------------

    /// Queues an alert for an account; returns its id. The POP3 module refuses logins with
    /// `-ERR ALERT: text` while alerts are pending; IMAP shows them as `* OK [ALERT]`.
    pub fn add_alert(&self, account: &str, text: &str) -> Result<i64, DirError> {
        let text = text.trim();
        if text.is_empty() || text.len() > 1000 || text.bytes().any(|b| b < 0x20 || b == 0x7f) {
            return Err(DirError::Invalid(
                "alert text must be 1 to 1000 printable characters on one line".into(),
            ));
        }
        let a = self.account(account)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let c = self.db();
        c.execute(
            "INSERT INTO alerts(account_id, text, created) VALUES (?1, ?2, ?3)",
            params![a.id, text, now],
        )?;
        Ok(c.last_insert_rowid())
    }

    /// The pending alerts of an account, oldest first: (id, text).
    pub fn list_alerts(&self, account: &AccountInfo) -> Result<Vec<(i64, String)>, DirError> {
        let c = self.db();
        let mut st = c.prepare("SELECT id, text FROM alerts WHERE account_id = ?1 ORDER BY id")?;
        let rows = st.query_map(params![account.id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Takes (removes and returns) the oldest pending alert of an account: it has been
    /// shown to the user.
    pub fn take_alert(&self, account: &AccountInfo) -> Result<Option<String>, DirError> {
        let c = self.db();
        let row: Option<(i64, String)> = c
            .cached_row(
                "SELECT id, text FROM alerts WHERE account_id = ?1 ORDER BY id LIMIT 1",
                params![account.id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((id, _)) = &row {
            c.execute("DELETE FROM alerts WHERE id = ?1", params![id])?;
        }
        Ok(row.map(|(_, t)| t))
    }

    /// Removes one alert by id (`mailroom alert remove`).
    pub fn remove_alert(&self, id: i64) -> Result<(), DirError> {
        let n = self
            .db()
            .execute("DELETE FROM alerts WHERE id = ?1", params![id])?;
        if n == 0 {
            return Err(DirError::NotFound(format!("alert {id}")));
        }
        Ok(())
    }

    // ---- credentials ---------------------------------------------------------------

    fn stored(&self, account: &AccountInfo) -> Result<Option<StoredCreds>, DirError> {
        Ok(self
            .db()
            .cached_row(
                "SELECT password, scram, mail_secret FROM accounts WHERE id = ?1",
                params![account.id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?)
    }

    /// Checks a password against the account's stored hash (constant-time digest
    /// comparison). The mail secret is not a login password. After a successful check,
    /// missing SCRAM-SHA-256 keys (imported hashes) are derived and stored.
    pub fn verify_password(&self, account: &AccountInfo, password: &Secret) -> bool {
        let Ok(Some((hash, scram, _))) = self.stored(account) else {
            return false;
        };
        if self.cache.hit(account.id, &hash, password.as_bytes()) {
            return true;
        }
        let ok = schemes::verify_password(&hash, password.as_bytes());
        if ok {
            self.cache.insert(account.id, &hash, password.as_bytes());
        }
        if ok && scram.is_none() {
            let keys = ScramKeys::generate(password.as_bytes()).to_dovecot();
            if let Err(e) = self.db().execute(
                "UPDATE accounts SET scram = ?1 WHERE id = ?2 AND scram IS NULL",
                params![keys, account.id],
            ) {
                tracing::warn!(account = %account.address(), error = %e, "could not store SCRAM keys");
            }
        }
        ok
    }

    /// What the SASL mechanisms and APOP need for `account`.
    pub fn credentials(&self, account: &AccountInfo) -> Result<Credentials, DirError> {
        let (hash, scram, secret) = self
            .stored(account)?
            .ok_or_else(|| DirError::NotFound(format!("account {}", account.address())))?;
        Ok(Credentials {
            scram_sha256: scram
                .as_deref()
                .and_then(ScramKeys::parse)
                .or_else(|| schemes::stored_scram(&hash)),
            mail_secret: secret.map(Secret::from),
            plaintext: schemes::plaintext(&hash).map(Secret::from),
            cram_md5: schemes::stored_cram_md5(&hash),
        })
    }

    /// Checks an APOP digest (RFC 1939 section 7) against the mail secret, or a plaintext
    /// password when no mail secret is set.
    pub fn verify_apop(&self, account: &AccountInfo, timestamp: &str, hex_digest: &str) -> bool {
        match self.credentials(account) {
            Ok(c) => c
                .apop_secret()
                .is_some_and(|s| crate::sasl::apop_digest_ok(timestamp, s.as_bytes(), hex_digest)),
            Err(_) => false,
        }
    }

    /// A [`CredentialSource`] for SASL on a connection to `local_ip`.
    pub fn sasl_source(&self, local_ip: Option<IpAddr>) -> DirectorySource<'_> {
        DirectorySource {
            dir: self,
            local_ip,
        }
    }
}

/// True for SQLite's "database is locked" / "busy" errors.
fn is_busy(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("database is locked") || m.contains("busy")
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) count as their IPv4 address.
fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The directory as seen by SASL on one connection (the local address selects the domain
/// of logins without one).
pub struct DirectorySource<'a> {
    dir: &'a Directory,
    local_ip: Option<IpAddr>,
}

impl CredentialSource for DirectorySource<'_> {
    fn lookup(&self, login: &str) -> Result<LoginTarget, DirError> {
        self.dir.resolve_login(login, self.local_ip)
    }
    fn credentials(&self, account: &AccountInfo) -> Result<Credentials, DirError> {
        self.dir.credentials(account)
    }
    fn verify_password(&self, account: &AccountInfo, password: &Secret) -> bool {
        self.dir.verify_password(account, password)
    }
}
