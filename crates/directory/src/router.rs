//! Router lines in CommuniGate Pro syntax, parsed into [`RouterKind`].
//!
//! Supported forms (a `;` starts a comment):
//! - `client1.com = cl1.local`: domain mapping. Every address `@client1.com` goes to the
//!   account `cl1` of the main domain (`.local` means "a local account", as in CommuniGate
//!   Pro); the original local part is kept for `X-Real-To` (P9).
//! - `client1.com = client2.com`: domain rewrite. `x@client1.com` becomes `x@client2.com`.
//! - `<j.smith> = John@othercompany.com`: address alias. A left side without `@` is in the
//!   main domain. The right side may be `name.local` (local account of the main domain),
//!   `name` (same), or any address (local or remote; remote keeps its case).
//!
//! Not supported: wildcards (`*`), `@` IP-address routes, module prefixes (`smtp:`...).

use crate::names::{account_name, domain_name, parse_address, strip_brackets, MAX_ADDRESS};
use crate::DirError;

/// What one router line does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouterKind {
    /// `domain = account.local`: any address in `domain` goes to `account` of the main
    /// domain, with the local part kept as `real_to`.
    DomainToAccount {
        /// The mapped domain (lower case).
        domain: String,
        /// The account name in the main domain.
        account: String,
    },
    /// `domain = otherdomain`: the domain part is rewritten.
    DomainToDomain {
        /// The mapped domain.
        domain: String,
        /// The domain it is rewritten to.
        target: String,
    },
    /// `<address> = target`: one address is redirected.
    Address {
        /// `local@domain`, lower case.
        address: String,
        /// `local@domain`; a remote target keeps its original case.
        target: String,
    },
}

/// A stored router entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterEntry {
    /// Row id.
    pub id: i64,
    /// The line, normalized (`lhs = rhs`).
    pub line: String,
    /// What it does.
    pub kind: RouterKind,
}

impl std::fmt::Display for RouterEntry {
    /// The normalized line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.line)
    }
}

impl RouterKind {
    /// The lookup key: the domain for domain entries, the address for address entries.
    pub fn key(&self) -> String {
        match self {
            RouterKind::DomainToAccount { domain, .. }
            | RouterKind::DomainToDomain { domain, .. } => domain.clone(),
            RouterKind::Address { address, .. } => format!("<{address}>"),
        }
    }
    /// The normalized line.
    pub fn line(&self) -> String {
        match self {
            RouterKind::DomainToAccount { domain, account } => {
                format!("{domain} = {account}.local")
            }
            RouterKind::DomainToDomain { domain, target } => format!("{domain} = {target}"),
            RouterKind::Address { address, target } => format!("<{address}> = {target}"),
        }
    }
}

/// Parses a router line; `main` completes addresses without a domain.
pub fn parse_line(line: &str, main: &str) -> Result<RouterKind, DirError> {
    if line.len() > MAX_ADDRESS {
        return Err(DirError::Invalid("router line too long".into()));
    }
    let line = line.split(';').next().unwrap_or("");
    let (lhs, rhs) = line
        .split_once('=')
        .ok_or_else(|| DirError::Invalid("router line needs 'left = right'".into()))?;
    let (lhs, rhs) = (lhs.trim(), strip_brackets(rhs));
    if lhs.is_empty() || rhs.is_empty() {
        return Err(DirError::Invalid("router line has an empty side".into()));
    }
    if lhs.contains('*') || rhs.contains('*') {
        return Err(DirError::Invalid(
            "router wildcards are not supported".into(),
        ));
    }
    let target_addr = |rhs: &str| -> Result<String, DirError> {
        if let Some(name) = rhs.strip_suffix(".local").filter(|_| !rhs.contains('@')) {
            return Ok(format!("{}@{main}", account_name(name)?));
        }
        let a = parse_address(rhs)?;
        match a.domain {
            Some(_) => {
                // Keep the original case of the local part (remote targets, referrals).
                let (local, dom) = rhs.rsplit_once('@').unwrap_or((rhs, ""));
                Ok(format!("{local}@{}", domain_name(dom)?))
            }
            None => Ok(format!("{}@{main}", account_name(&a.local)?)),
        }
    };
    if lhs.starts_with('<') {
        let a = parse_address(lhs)?;
        let address = format!("{}@{}", a.local, a.domain.as_deref().unwrap_or(main));
        return Ok(RouterKind::Address {
            address,
            target: target_addr(rhs)?,
        });
    }
    let domain = domain_name(lhs)?;
    if rhs.contains('@') {
        return Err(DirError::Invalid(
            "a domain can be mapped to 'account.local' or another domain, not an address".into(),
        ));
    }
    if let Some(name) = rhs.strip_suffix(".local") {
        return Ok(RouterKind::DomainToAccount {
            domain,
            account: account_name(name)?,
        });
    }
    Ok(RouterKind::DomainToDomain {
        domain,
        target: domain_name(rhs)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_seed_lines() {
        assert_eq!(
            parse_line("client1.com = Cl1.local", "company.com").unwrap(),
            RouterKind::DomainToAccount {
                domain: "client1.com".into(),
                account: "cl1".into()
            }
        );
        assert_eq!(
            parse_line("<j.smith> = John@othercompany.com", "company.com").unwrap(),
            RouterKind::Address {
                address: "j.smith@company.com".into(),
                target: "John@othercompany.com".into()
            }
        );
        assert_eq!(
            parse_line(" old.com=new.com ; moved", "x").unwrap().line(),
            "old.com = new.com"
        );
        assert_eq!(
            parse_line("<info@a.com> = boss", "m.org").unwrap().line(),
            "<info@a.com> = boss@m.org"
        );
        assert_eq!(
            parse_line("<info@a.com> = boss.local", "m.org")
                .unwrap()
                .line(),
            "<info@a.com> = boss@m.org"
        );
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "=",
            "a.com",
            "a.com =",
            "= b.com",
            "a.com = x@b.com",
            "<*@a.com> = b",
            "a..com = b.local",
            "<a b> = c",
            "a.com = .local",
        ] {
            assert!(parse_line(bad, "m").is_err(), "{bad:?}");
        }
    }
}
