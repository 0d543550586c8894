//! Credentials: password checks (through the login cache), what SASL and APOP need for an
//! account, and [`DirectorySource`], the directory as SASL sees it on one connection.
//!
//! Not here: setting passwords and mail secrets (`accounts.rs`), the hash schemes
//! (`crate::schemes`), the SASL exchanges (`crate::sasl`).

use std::net::IpAddr;

use rusqlite::{params, OptionalExtension};

use super::CachedRow;
use crate::sasl::CredentialSource;
use crate::schemes::{self, ScramKeys};
use crate::{AccountInfo, Credentials, DirError, Directory, LoginTarget, Secret};

/// Stored password hash, SCRAM keys, mail secret.
type StoredCreds = (String, Option<String>, Option<Vec<u8>>);

impl Directory {
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
