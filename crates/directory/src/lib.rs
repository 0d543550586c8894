//! mailroom-directory: who may log in and where mail goes.
//!
//! Lives here:
//! - [`Directory`]: the server-wide SQLite file `directory.db` holding domains (one main
//!   domain plus secondary ones, each optionally bound to local IP addresses), accounts,
//!   aliases and router entries (CommuniGate Pro syntax), with the two resolvers every
//!   access module uses: [`Directory::resolve_recipient`] (delivery) and
//!   [`Directory::resolve_login`] (POP3/IMAP logins, A1/A2, I8, P9).
//! - [`schemes`]: password hashes in Dovecot's `{SCHEME}` syntax, SCRAM-SHA-256 keys and
//!   CRAM-MD5 intermediate states.
//! - [`sasl`]: protocol-neutral server side of SASL PLAIN, LOGIN, CRAM-MD5 and
//!   SCRAM-SHA-256, plus the APOP digest check; no I/O and no base64 (the protocol layer
//!   decodes).
//!
//! - sharing and quota settings (`sharing` module): [`QuotaLimits`] (I10), mailbox aliases
//!   ([`MailboxAlias`], I5) and the grants hint used for LIST of other users' mailboxes.
//!
//! Does not live here: mail stores (the server builds a `mailroom_store::AccountKey` from
//! [`AccountInfo::store_key`]), sessions, sockets, alerts.
//!
//! Architecture invariant: account names and domain names are lower case and restricted to
//! `[a-z0-9._-]` (never starting with a dot), so that they are safe as store keys and paths.
//! Everything that matches names (logins, addresses, router keys) is case-insensitive.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod cache;
mod directory;
mod names;
mod router;
pub mod sasl;
pub mod schemes;
mod sharing;

use std::fmt;
use std::net::IpAddr;

pub use directory::{Directory, DirectorySource, MAX_SMIME_CERT};
pub use router::{RouterEntry, RouterKind};
pub use schemes::{CramMd5Keys, HashScheme, ScramKeys};
pub use sharing::{MailboxAlias, QuotaLimits, MAX_MAILBOX_NAME, MAX_MESSAGES, MAX_STORAGE_KIB};

/// A credential (password, mail secret): never printed by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps raw bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Secret {
        Secret(bytes.into())
    }
    /// The secret's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    /// The secret as UTF-8 text, if it is.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }
    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Secret {
        Secret(s.into_bytes())
    }
}
impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret(s.as_bytes().to_vec())
    }
}
impl From<Vec<u8>> for Secret {
    fn from(v: Vec<u8>) -> Secret {
        Secret(v)
    }
}
impl From<&[u8]> for Secret {
    fn from(v: &[u8]) -> Secret {
        Secret(v.to_vec())
    }
}

/// Errors of the directory layer. `NotFound`, `AlreadyExists`, `Invalid`, `InUse` and `Loop`
/// are the operator's or client's doing; `Db` is ours (disk, SQLite).
#[derive(Debug, thiserror::Error)]
pub enum DirError {
    /// No such domain, account, alias or router entry.
    #[error("not found: {0}")]
    NotFound(String),
    /// The name is already taken.
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// A name, address, hash or router line that cannot be accepted.
    #[error("invalid: {0}")]
    Invalid(String),
    /// The object is still referenced (a domain with accounts, the main domain).
    #[error("in use: {0}")]
    InUse(String),
    /// Aliases or router entries form a loop or a chain too long to follow.
    #[error("alias/router loop at {0}")]
    Loop(String),
    /// The database failed.
    #[error("directory database: {0}")]
    Db(String),
}

impl From<rusqlite::Error> for DirError {
    fn from(e: rusqlite::Error) -> DirError {
        DirError::Db(e.to_string())
    }
}

/// An account as the rest of the server sees it. Holds no credentials.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AccountInfo {
    /// Row id, stable for the account's lifetime.
    pub id: i64,
    /// Account name, lower case, `[a-z0-9._-]`.
    pub name: String,
    /// Domain name, lower case.
    pub domain: String,
    /// Server or domain administrator (for ACL and SETQUOTA work).
    pub admin: bool,
    /// True when a separate mail secret (APOP/CRAM-MD5) is set.
    pub has_mail_secret: bool,
}

impl AccountInfo {
    /// `name@domain`.
    pub fn address(&self) -> String {
        format!("{}@{}", self.name, self.domain)
    }
    /// `(domain, name)`, lower case, for `mailroom_store::AccountKey::new(domain, name)`.
    pub fn store_key(&self) -> (String, String) {
        (self.domain.clone(), self.name.clone())
    }
}

/// A domain served here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainInfo {
    /// Row id.
    pub id: i64,
    /// Name, lower case.
    pub name: String,
    /// True for the main domain.
    pub main: bool,
    /// Local addresses that select this domain for logins without a domain (A1).
    pub addresses: Vec<IpAddr>,
    /// Number of accounts.
    pub accounts: usize,
}

impl fmt::Display for DomainInfo {
    /// `name [main] N account(s) [addresses]`, for listings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name)?;
        if self.main {
            f.write_str(" (main)")?;
        }
        write!(f, " {} account(s)", self.accounts)?;
        for (i, a) in self.addresses.iter().enumerate() {
            f.write_str(if i == 0 { " " } else { "," })?;
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

/// An alias: mail and logins for `address` go to `target`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AliasInfo {
    /// `local@domain`, lower case.
    pub address: String,
    /// What it points to, as given (a local account, another alias, a remote address).
    pub target: String,
}

impl fmt::Display for AliasInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}", self.address, self.target)
    }
}

/// Where a delivery address ends up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recipient {
    /// A local account. `real_to` is the original local part when the address reached the
    /// account through a domain mapping (`client1.com = cl1.local`): it goes into the
    /// `X-Real-To` header (P9).
    Local {
        /// The account.
        account: AccountInfo,
        /// Local part for `X-Real-To`.
        real_to: Option<String>,
    },
    /// Aliased or routed to a remote address (original case kept).
    Remote(String),
    /// No such recipient here.
    Unknown,
}

/// Where a login name ends up (A2: the router and aliases apply to logins too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginTarget {
    /// A local account; `real_to` as in [`Recipient::Local`] (P9 filtering).
    Local {
        /// The account whose password is checked.
        account: AccountInfo,
        /// Local part to filter on, when logged in through a domain mapping.
        real_to: Option<String>,
    },
    /// The account has moved to a remote address: answer with a referral (RFC 2221, I8).
    Remote(String),
    /// No such login.
    Unknown,
}

/// What the SASL mechanisms and APOP need for one account.
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    /// SCRAM-SHA-256 keys (RFC 5802 section 3), if derived.
    pub scram_sha256: Option<ScramKeys>,
    /// The separate APOP/CRAM-MD5 secret, if set.
    pub mail_secret: Option<Secret>,
    /// The password itself, when stored as `{PLAIN}`/`{CLEARTEXT}`.
    pub plaintext: Option<Secret>,
    /// CRAM-MD5 states from a `{CRAM-MD5}` password hash.
    pub cram_md5: Option<CramMd5Keys>,
}

impl Credentials {
    /// The secret APOP checks against (RFC 1939 section 7): the mail secret, else a
    /// plaintext password.
    pub fn apop_secret(&self) -> Option<&Secret> {
        self.mail_secret.as_ref().or(self.plaintext.as_ref())
    }
    /// The CRAM-MD5 keys (RFC 2195): from the mail secret when set, else from a plaintext
    /// password, else from a `{CRAM-MD5}` hash.
    pub fn cram_md5_keys(&self) -> Option<CramMd5Keys> {
        if let Some(s) = &self.mail_secret {
            return Some(CramMd5Keys::from_secret(s.as_bytes()));
        }
        if let Some(p) = &self.plaintext {
            return Some(CramMd5Keys::from_secret(p.as_bytes()));
        }
        self.cram_md5.clone()
    }
}
