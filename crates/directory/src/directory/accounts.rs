//! Accounts: adding (with a password or an already hashed one), looking up, removing and
//! listing them, passwords and their SCRAM keys, mail secrets, the administrator flag.
//!
//! Not here: checking passwords (`credentials.rs`), alerts (`alerts.rs`), quota limits
//! (`crate::sharing`), the password schemes themselves (`crate::schemes`).

use rusqlite::{params, Connection, OptionalExtension};

use super::{account_row, CachedRow, ACCOUNT_COLS};
use crate::names::{account_name, domain_name};
use crate::schemes::{self, ScramKeys};
use crate::{AccountInfo, DirError, Directory, Secret};

impl Directory {
    /// Splits an operator's account name: `name` (main domain), `name@domain` or
    /// `name%domain`. No router or alias applies.
    pub(crate) fn account_ident(&self, raw: &str) -> Result<(String, String), DirError> {
        let raw = raw.trim();
        let (n, d) = match raw.rsplit_once('@').or_else(|| raw.rsplit_once('%')) {
            Some((n, d)) => (n, domain_name(d)?),
            None => (raw, self.main.clone()),
        };
        Ok((account_name(n)?, d))
    }

    pub(super) fn find_account(
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
}

impl Directory {
    /// Renames an account (`name`, `name@domain`; the new domain must exist), keeping its
    /// id, password, secrets, quota, alerts and mailbox aliases, in one transaction with
    /// what names it elsewhere: address aliases whose target is the old address, mailbox
    /// aliases of other accounts that point into it (`~old/...`), and the grants hint
    /// (`acl_grants`). The ACL entries in the owners' mail stores are the caller's
    /// (`owners_granting`); the mail store itself too.
    pub fn rename_account(
        &self,
        from: &str,
        to: &str,
    ) -> Result<(AccountInfo, AccountInfo), DirError> {
        let (n, d) = self.account_ident(to)?;
        let mut c = self.db();
        let tx = c.transaction()?;
        let (on, od) = self.account_ident(from)?;
        let old = Self::find_account(&tx, &on, &od)?
            .ok_or_else(|| DirError::NotFound(format!("account {on}@{od}")))?;
        if Self::find_account(&tx, &n, &d)?.is_some() {
            return Err(DirError::AlreadyExists(format!("account {n}@{d}")));
        }
        let domain_id =
            Self::domain_id(&tx, &d)?.ok_or_else(|| DirError::NotFound(format!("domain {d}")))?;
        tx.execute(
            "UPDATE accounts SET name = ?2, domain_id = ?3 WHERE id = ?1",
            params![old.id, n, domain_id],
        )?;
        let old_addr = old.address();
        let new_addr = format!("{n}@{d}");
        tx.execute(
            "UPDATE aliases SET target = ?2 WHERE lower(target) = ?1",
            params![old_addr, new_addr],
        )?;
        tx.execute(
            "UPDATE acl_grants SET grantee = ?2 WHERE grantee = ?1",
            params![old_addr, new_addr],
        )?;
        // `~name/...` names an account of the main domain, `~name@domain/...` any.
        let new_ref = if d == self.main {
            n.clone()
        } else {
            new_addr.clone()
        };
        let mut olds = vec![format!("~{old_addr}/")];
        if od == self.main {
            olds.push(format!("~{on}/"));
        }
        for o in &olds {
            tx.execute(
                "UPDATE mailbox_aliases SET target = ?2 || substr(target, ?3)
                 WHERE substr(target, 1, ?4) = ?1",
                params![
                    o,
                    format!("~{new_ref}/"),
                    o.len() as i64 + 1,
                    o.len() as i64
                ],
            )?;
        }
        let new = Self::find_account(&tx, &n, &d)?
            .ok_or_else(|| DirError::NotFound(format!("account {n}@{d}")))?;
        tx.commit()?;
        tracing::info!(from = %old_addr, to = %new.address(), "account renamed");
        Ok((old, new))
    }

    /// The accounts that granted rights to `grantee` (`user@domain`), by the grants
    /// hint: whose ACLs name it.
    pub fn owners_granting(&self, grantee: &str) -> Result<Vec<AccountInfo>, DirError> {
        let c = self.db();
        let mut st = c.prepare(&format!(
            "SELECT {ACCOUNT_COLS} FROM accounts a JOIN domains d ON d.id = a.domain_id
             WHERE a.id IN (SELECT owner_id FROM acl_grants WHERE grantee = ?1)"
        ))?;
        let rows = st.query_map(params![grantee], account_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
