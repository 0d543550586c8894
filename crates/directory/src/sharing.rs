//! Per-account settings for sharing and quotas, kept in `directory.db` beside the
//! accounts (rows go with the account, `ON DELETE CASCADE`):
//!
//! - quota limits (RFC 9208 / RFC 2087, product item I10): `STORAGE` in KiB (1024
//!   octets, RFC 9208 section 5.1) and `MESSAGE` counts, each optional (no limit);
//! - mailbox aliases (item I5, for clients that cannot subscribe to foreign mailboxes):
//!   a name in the account's own namespace standing for another full name, e.g.
//!   `boss-inbox` → `~boss/INBOX`; the server resolves them before anything else;
//! - the grants hint: which accounts have granted anything to an identifier, so LIST of
//!   `~` (other users' namespace, RFC 2342) need not open every store. It is a
//!   *superset* hint: the server adds a row whenever it stores a non-empty ACL entry and
//!   may prune it (`set_grants`) after reading the owner's ACLs; rights are always
//!   checked against the ACLs in the owner's store, never against this table.
//!
//! Not here: the ACLs themselves (in each account's store, keyed by mailbox id) and the
//! rights evaluation (`mailroom_server::access`).

use rusqlite::{params, OptionalExtension};

use crate::{AccountInfo, DirError, Directory};

/// Tables of this module, part of the directory schema (`CREATE TABLE IF NOT EXISTS`, so
/// older files migrate on open).
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS quotas(
    account_id INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    storage_kib INTEGER,
    messages INTEGER
);
CREATE TABLE IF NOT EXISTS mailbox_aliases(
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    target TEXT NOT NULL,
    PRIMARY KEY(account_id, name)
);
CREATE TABLE IF NOT EXISTS acl_grants(
    owner_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    grantee TEXT NOT NULL,
    PRIMARY KEY(owner_id, grantee)
);
";

/// Largest `STORAGE` limit accepted, KiB (1 PiB; keeps octet arithmetic far from
/// overflow).
pub const MAX_STORAGE_KIB: u64 = 1 << 40;
/// Largest `MESSAGE` limit accepted (UIDs are 32-bit).
pub const MAX_MESSAGES: u64 = u32::MAX as u64;
/// Longest mailbox alias name or target accepted.
pub const MAX_MAILBOX_NAME: usize = 1024;

/// An account's quota limits (RFC 9208 section 5): `None` means no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QuotaLimits {
    /// `STORAGE` limit in KiB (units of 1024 octets, RFC 9208 section 5.1).
    pub storage_kib: Option<u64>,
    /// `MESSAGE` limit: number of messages in all mailboxes (RFC 9208 section 5.2).
    pub messages: Option<u64>,
}

impl QuotaLimits {
    /// True when neither resource is limited.
    pub fn is_unlimited(&self) -> bool {
        self.storage_kib.is_none() && self.messages.is_none()
    }

    /// The storage limit in octets.
    pub fn storage_bytes(&self) -> Option<u64> {
        self.storage_kib.map(|k| k.saturating_mul(1024))
    }
}

/// A mailbox alias of one account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailboxAlias {
    /// The name the client sees in the account's own namespace (`boss-inbox`).
    pub name: String,
    /// The full name it stands for (`~boss/INBOX`, `~public/news`, `Archive/2024`).
    pub target: String,
}

fn to_i64(v: Option<u64>) -> Option<i64> {
    v.map(|v| i64::try_from(v).unwrap_or(i64::MAX))
}

fn from_i64(v: Option<i64>) -> Option<u64> {
    v.map(|v| u64::try_from(v).unwrap_or(0))
}

fn check_mailbox_text(what: &str, s: &str) -> Result<(), DirError> {
    if s.is_empty() {
        return Err(DirError::Invalid(format!("empty {what}")));
    }
    if s.len() > MAX_MAILBOX_NAME {
        return Err(DirError::Invalid(format!(
            "{what} longer than {MAX_MAILBOX_NAME} octets"
        )));
    }
    if s.chars().any(|c| c.is_control()) {
        return Err(DirError::Invalid(format!(
            "{what} holds control characters"
        )));
    }
    if s.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        return Err(DirError::Invalid(format!(
            "{what} {s:?}: empty, '.' or '..' component"
        )));
    }
    Ok(())
}

impl Directory {
    // ---- quotas --------------------------------------------------------------------

    /// Sets an account's quota limits (`None` = unlimited); both `None` removes the row.
    /// `Invalid` above [`MAX_STORAGE_KIB`] or [`MAX_MESSAGES`].
    pub fn set_quota(
        &self,
        account: &str,
        storage_kib: Option<u64>,
        messages: Option<u64>,
    ) -> Result<QuotaLimits, DirError> {
        if storage_kib.is_some_and(|k| k > MAX_STORAGE_KIB) {
            return Err(DirError::Invalid(format!(
                "storage limit above {MAX_STORAGE_KIB} KiB"
            )));
        }
        if messages.is_some_and(|m| m > MAX_MESSAGES) {
            return Err(DirError::Invalid(format!(
                "message limit above {MAX_MESSAGES}"
            )));
        }
        let a = self.account(account)?;
        let limits = QuotaLimits {
            storage_kib,
            messages,
        };
        let c = self.db();
        if limits.is_unlimited() {
            c.execute("DELETE FROM quotas WHERE account_id = ?1", params![a.id])?;
        } else {
            c.execute(
                "INSERT OR REPLACE INTO quotas(account_id, storage_kib, messages)
                 VALUES (?1, ?2, ?3)",
                params![a.id, to_i64(storage_kib), to_i64(messages)],
            )?;
        }
        tracing::info!(account = %a.address(), ?limits, "quota set");
        Ok(limits)
    }

    /// An account's quota limits (unlimited when none were set).
    pub fn quota(&self, account: &str) -> Result<QuotaLimits, DirError> {
        let a = self.account(account)?;
        self.quota_of(&a)
    }

    /// [`Directory::quota`] on the caller's thread when the directory connection is free
    /// and nothing has to wait; `None`: take the blocking path (which also reports an
    /// unknown account).
    pub fn quota_now(&self, account: &str) -> Option<Result<QuotaLimits, DirError>> {
        let (n, d) = self.account_ident(account).ok()?;
        let found = self.read_now(|c| {
            c.prepare_cached(
                "SELECT q.storage_kib, q.messages FROM accounts a
                 JOIN domains d ON d.id = a.domain_id
                 LEFT JOIN quotas q ON q.account_id = a.id
                 WHERE a.name = ?1 AND d.name = ?2",
            )?
            .query_row(params![n, d], |r| {
                Ok(QuotaLimits {
                    storage_kib: from_i64(r.get(0)?),
                    messages: from_i64(r.get(1)?),
                })
            })
            .optional()
        })?;
        match found {
            Ok(Some(q)) => Some(Ok(q)),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }

    /// The quota limits of an account already looked up (no name resolution).
    pub fn quota_of(&self, account: &AccountInfo) -> Result<QuotaLimits, DirError> {
        let c = self.db();
        let mut st =
            c.prepare_cached("SELECT storage_kib, messages FROM quotas WHERE account_id = ?1")?;
        let mut rows = st.query(params![account.id])?;
        Ok(match rows.next()? {
            Some(r) => QuotaLimits {
                storage_kib: from_i64(r.get(0)?),
                messages: from_i64(r.get(1)?),
            },
            None => QuotaLimits::default(),
        })
    }

    // ---- mailbox aliases -----------------------------------------------------------

    /// Adds (or replaces) a mailbox alias of `account`: `name` stands for `target`.
    /// `name` may not be INBOX or start with `~`; neither may hold empty, `.` or `..`
    /// components or control characters. The target need not exist now (it is resolved,
    /// and its rights checked, at use).
    pub fn add_mailbox_alias(
        &self,
        account: &str,
        name: &str,
        target: &str,
    ) -> Result<MailboxAlias, DirError> {
        check_mailbox_text("alias name", name)?;
        check_mailbox_text("alias target", target.strip_prefix('~').unwrap_or(target))?;
        if name.starts_with('~') || name.eq_ignore_ascii_case("INBOX") {
            return Err(DirError::Invalid(format!(
                "alias name {name:?}: INBOX and names starting with '~' are reserved"
            )));
        }
        if name == target {
            return Err(DirError::Loop(name.to_string()));
        }
        let a = self.account(account)?;
        self.db().execute(
            "INSERT OR REPLACE INTO mailbox_aliases(account_id, name, target) VALUES (?1, ?2, ?3)",
            params![a.id, name, target],
        )?;
        Ok(MailboxAlias {
            name: name.to_string(),
            target: target.to_string(),
        })
    }

    /// Removes a mailbox alias; `NotFound` if there is none of that name.
    pub fn remove_mailbox_alias(&self, account: &str, name: &str) -> Result<(), DirError> {
        let a = self.account(account)?;
        let n = self.db().execute(
            "DELETE FROM mailbox_aliases WHERE account_id = ?1 AND name = ?2",
            params![a.id, name],
        )?;
        if n == 0 {
            return Err(DirError::NotFound(format!(
                "mailbox alias {name} of {}",
                a.address()
            )));
        }
        Ok(())
    }

    /// The mailbox aliases of an account, by name.
    pub fn list_mailbox_aliases(&self, account: &str) -> Result<Vec<MailboxAlias>, DirError> {
        let a = self.account(account)?;
        self.mailbox_aliases_of(&a)
    }

    /// The mailbox aliases of an account already looked up.
    pub fn mailbox_aliases_of(&self, account: &AccountInfo) -> Result<Vec<MailboxAlias>, DirError> {
        Ok(aliases_on(&self.db(), account.id)?)
    }

    /// [`Directory::mailbox_aliases_of`] on the caller's thread when that needs no wait
    /// (see `read_now`); `None`: call `mailbox_aliases_of` from the blocking pool.
    pub fn mailbox_aliases_now(
        &self,
        account: &AccountInfo,
    ) -> Option<Result<Vec<MailboxAlias>, DirError>> {
        self.read_now(|c| aliases_on(c, account.id))
    }

    // ---- grants hint ---------------------------------------------------------------

    /// Notes that `owner` granted something to `grantee` (`user@domain` or `anyone`, as
    /// stored in the ACL, without a leading `-`: negative entries grant nothing).
    pub fn note_grant(&self, owner: &AccountInfo, grantee: &str) -> Result<(), DirError> {
        if grantee.starts_with('-') {
            return Ok(());
        }
        self.db().execute(
            "INSERT OR IGNORE INTO acl_grants(owner_id, grantee) VALUES (?1, ?2)",
            params![owner.id, grantee.to_ascii_lowercase()],
        )?;
        Ok(())
    }

    /// Replaces the grants hint of `owner` with exactly `grantees` (after the server read
    /// every ACL of the owner's store).
    pub fn set_grants(&self, owner: &AccountInfo, grantees: &[String]) -> Result<(), DirError> {
        let mut c = self.db();
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "DELETE FROM acl_grants WHERE owner_id = ?1",
            params![owner.id],
        )?;
        for g in grantees.iter().filter(|g| !g.starts_with('-')) {
            tx.execute(
                "INSERT OR IGNORE INTO acl_grants(owner_id, grantee) VALUES (?1, ?2)",
                params![owner.id, g.to_ascii_lowercase()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The accounts (other than `requester`) that granted anything to `requester`'s
    /// address or to `anyone`, by domain and name: the candidates for LIST of `~`.
    pub fn grantors(&self, requester: &AccountInfo) -> Result<Vec<AccountInfo>, DirError> {
        let c = self.db();
        let mut st = c.prepare(&format!(
            "SELECT DISTINCT {cols} FROM acl_grants g
             JOIN accounts a ON a.id = g.owner_id JOIN domains d ON d.id = a.domain_id
             WHERE (g.grantee = ?1 OR g.grantee = 'anyone') AND a.id != ?2
             ORDER BY d.name, a.name",
            cols = crate::directory::ACCOUNT_COLS
        ))?;
        let rows = st.query_map(
            params![requester.address(), requester.id],
            crate::directory::account_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

fn aliases_on(c: &rusqlite::Connection, account_id: i64) -> rusqlite::Result<Vec<MailboxAlias>> {
    let mut st = c.prepare_cached(
        "SELECT name, target FROM mailbox_aliases WHERE account_id = ?1 ORDER BY name",
    )?;
    let rows = st.query_map(params![account_id], |r| {
        Ok(MailboxAlias {
            name: r.get(0)?,
            target: r.get(1)?,
        })
    })?;
    rows.collect()
}
