//! Client-visible mailbox names to (owner, mailbox in the owner's store): own names,
//! `~account[@domain]/...`, `~public/...`, mailbox aliases; the inverse for LIST; POP3
//! `mailbox#account` (P8). Pure: no directory or store access.
//!
//! Not here: looking the owner up and opening the mailbox (`open.rs`).

use mailroom_directory::{AccountInfo, MailboxAlias};

/// Whose store a client-visible name points into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    /// The requester's own account.
    Own,
    /// Another account, by name and domain (lower case). `~public` is the account
    /// `public` of the requester's domain.
    Other {
        /// Account name.
        name: String,
        /// Domain name.
        domain: String,
    },
}

/// A client-visible mailbox name resolved to an owner and the name in the owner's store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Whose store.
    pub owner: Owner,
    /// The mailbox name inside that store (`INBOX` normalised to upper case).
    pub mailbox: String,
}

/// Why a name cannot be resolved (IMAP `BAD`/`NO`, POP3 `-ERR`: the client's mistake).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty name, empty component (`a//b`, trailing `/`), `.` or `..`, control characters.
    #[error("invalid mailbox name")]
    Invalid,
    /// `~` with nothing (or no mailbox) after it: `~`, `~boss`, `~boss/`.
    #[error("no mailbox given after the account name")]
    NoMailbox,
    /// `~name` whose account part is not a valid `name` or `name@domain`.
    #[error("invalid account name in a foreign mailbox name")]
    BadAccount,
    /// POP3 `mailbox#account` with nothing before or after the `#`.
    #[error("invalid mailbox#account user name")]
    BadPopUser,
}

/// The prefix of other users' namespace (RFC 2342 "Other Users' Namespace").
pub const OTHER_USERS_PREFIX: &str = "~";
/// The shared namespace prefix (RFC 2342 "Shared Namespace"): the `public` account.
pub const PUBLIC_PREFIX: &str = "~public";
/// The account that holds the shared namespace of a domain.
pub const PUBLIC_ACCOUNT: &str = "public";

fn valid_account_part(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.len() <= 255
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

/// Checks an in-store mailbox name and normalises `INBOX` (any case, also as the first
/// component, `inbox/sub` → `INBOX/sub`).
fn clean_mailbox(name: &str) -> Result<String, NameError> {
    if name.is_empty() || name.chars().any(|c| c.is_control()) {
        return Err(NameError::Invalid);
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == "..")
    {
        return Err(NameError::Invalid);
    }
    if parts[0].eq_ignore_ascii_case("INBOX") {
        parts[0] = "INBOX";
    }
    Ok(parts.join("/"))
}

/// Resolves a `~account[@domain]/mailbox` name (without alias lookup).
fn resolve_foreign(requester: &AccountInfo, rest: &str) -> Result<Target, NameError> {
    let (acct, mailbox) = match rest.split_once('/') {
        Some((a, m)) => (a, m),
        None if rest.is_empty() => return Err(NameError::NoMailbox),
        None => return Err(NameError::NoMailbox),
    };
    if acct.is_empty() {
        // `~/x`: RFC 2342 leaves it to the server; we treat it as invalid.
        return Err(NameError::NoMailbox);
    }
    if mailbox.is_empty() {
        return Err(NameError::NoMailbox);
    }
    let acct = acct.to_ascii_lowercase();
    let (name, domain) = match acct.split_once('@').or_else(|| acct.split_once('%')) {
        Some((n, d)) => (n.to_string(), d.to_string()),
        None => (acct.clone(), requester.domain.clone()),
    };
    if !valid_account_part(&name) || !valid_account_part(&domain) || domain.contains('@') {
        return Err(NameError::BadAccount);
    }
    let mailbox = clean_mailbox(mailbox)?;
    if name == requester.name && domain == requester.domain {
        return Ok(Target {
            owner: Owner::Own,
            mailbox,
        });
    }
    Ok(Target {
        owner: Owner::Other { name, domain },
        mailbox,
    })
}

/// Resolves a client-visible mailbox name for `requester` (I5, seed 001):
///
/// 1. a mailbox alias of the requester (`boss-inbox` → `~boss/INBOX`), also as a prefix
///    (`boss-inbox/sub` → `~boss/INBOX/sub`), is replaced by its target first (once:
///    targets are not alias-expanded again, so aliases cannot loop);
/// 2. `~public/...` → the account `public` of the requester's domain;
/// 3. `~account/...` → `account` of the requester's domain, `~account@domain/...` (or
///    `%domain`) → that account; naming oneself this way is the own account;
/// 4. anything else is the requester's own mailbox (`INBOX` in any case → `INBOX`).
pub fn resolve_name(
    requester: &AccountInfo,
    name: &str,
    aliases: &[MailboxAlias],
) -> Result<Target, NameError> {
    let expanded;
    let mut name = name;
    if !name.starts_with('~') {
        if let Some(a) = aliases.iter().find(|a| {
            name == a.name
                || name
                    .strip_prefix(a.name.as_str())
                    .is_some_and(|r| r.starts_with('/'))
        }) {
            expanded = format!("{}{}", a.target, &name[a.name.len()..]);
            name = &expanded;
        }
    }
    match name.strip_prefix('~') {
        Some(rest) => resolve_foreign(requester, rest),
        None => Ok(Target {
            owner: Owner::Own,
            mailbox: clean_mailbox(name)?,
        }),
    }
}

/// The name a client sees for a mailbox of `owner` (the inverse of [`resolve_name`]
/// without aliases): own names as they are, `~public/x` for the requester domain's
/// public account, `~name/x` within the requester's domain, `~name@domain/x` otherwise.
pub fn client_name(requester: &AccountInfo, owner: &AccountInfo, mailbox: &str) -> String {
    if owner.id == requester.id {
        mailbox.to_string()
    } else if owner.domain == requester.domain {
        format!("~{}/{mailbox}", owner.name)
    } else {
        format!("~{}@{}/{mailbox}", owner.name, owner.domain)
    }
}

/// A POP3 user name split per P8 / seed 000: `mailbox#account`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PopUser {
    /// The login name whose password is checked (after the last `#`): `jsmith`,
    /// `jsmith@client1.com`, `jsmith%client1.com`.
    pub login: String,
    /// The mailbox part (before the last `#`), resolved with [`resolve_name`] relative to
    /// the logged-in account; `None` for a plain login (INBOX).
    pub mailbox: Option<String>,
}

/// Splits a POP3 USER/APOP/SASL name `mailbox#account` (P8). No `#`: the whole name is
/// the login and the mailbox is INBOX. Empty mailbox or account part: [`NameError::BadPopUser`].
pub fn parse_pop_user(user: &str) -> Result<PopUser, NameError> {
    match user.rsplit_once('#') {
        None => Ok(PopUser {
            login: user.to_string(),
            mailbox: None,
        }),
        Some((m, a)) if m.is_empty() || a.is_empty() => Err(NameError::BadPopUser),
        Some((m, a)) => Ok(PopUser {
            login: a.to_string(),
            mailbox: Some(m.to_string()),
        }),
    }
}

/// Checks the syntax of a client-visible mailbox name without resolving it (no requester,
/// no aliases): the checks [`resolve_name`] makes on `~account[@domain]/mailbox` and on
/// own names. POP3 uses it to refuse a malformed `mailbox#account` before the password.
pub fn check_name_syntax(name: &str) -> Result<(), NameError> {
    let Some(rest) = name.strip_prefix('~') else {
        return clean_mailbox(name).map(|_| ());
    };
    let (acct, mailbox) = rest.split_once('/').ok_or(NameError::NoMailbox)?;
    if acct.is_empty() || mailbox.is_empty() {
        return Err(NameError::NoMailbox);
    }
    let acct = acct.to_ascii_lowercase();
    let ok = match acct.split_once('@').or_else(|| acct.split_once('%')) {
        Some((n, d)) => valid_account_part(n) && valid_account_part(d) && !d.contains('@'),
        None => valid_account_part(&acct),
    };
    if !ok {
        return Err(NameError::BadAccount);
    }
    clean_mailbox(mailbox).map(|_| ())
}
