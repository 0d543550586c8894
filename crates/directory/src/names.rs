//! Name rules and address splitting shared by the directory and the router.
//!
//! Account and domain names are lower-cased and limited to `[a-z0-9._-]`, never starting
//! with a dot (the same rule as `mailroom_store::AccountKey`). Addresses are matched
//! case-insensitively; `<...>` brackets are accepted around them.

use crate::DirError;

/// Longest account name accepted.
pub const MAX_NAME: usize = 64;
/// Longest domain name accepted (RFC 1035 2.3.4).
pub const MAX_DOMAIN: usize = 253;
/// Longest address or router line looked at.
pub const MAX_ADDRESS: usize = 512;

fn charset_ok(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

/// Lower-cases and validates an account name.
pub fn account_name(raw: &str) -> Result<String, DirError> {
    let n = raw.trim().to_ascii_lowercase();
    if n.is_empty() {
        return Err(DirError::Invalid("empty account name".into()));
    }
    if n.len() > MAX_NAME {
        return Err(DirError::Invalid(format!(
            "account name longer than {MAX_NAME} characters"
        )));
    }
    if n.starts_with('.') || !charset_ok(&n) {
        return Err(DirError::Invalid(format!(
            "account name {n:?}: only a-z, 0-9, '.', '_', '-' allowed, not starting with '.'"
        )));
    }
    Ok(n)
}

/// Lower-cases and validates a domain name.
pub fn domain_name(raw: &str) -> Result<String, DirError> {
    let d = raw.trim().to_ascii_lowercase();
    if d.is_empty() {
        return Err(DirError::Invalid("empty domain name".into()));
    }
    if d.len() > MAX_DOMAIN {
        return Err(DirError::Invalid(format!(
            "domain name longer than {MAX_DOMAIN} characters"
        )));
    }
    if d.starts_with('.') || d.ends_with('.') || d.contains("..") || !charset_ok(&d) {
        return Err(DirError::Invalid(format!(
            "domain name {d:?}: only a-z, 0-9, '.', '_', '-' allowed, no empty labels"
        )));
    }
    Ok(d)
}

/// Strips surrounding whitespace and one pair of angle brackets.
pub fn strip_brackets(raw: &str) -> &str {
    let t = raw.trim();
    t.strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .map(str::trim)
        .unwrap_or(t)
}

/// A parsed address: lower-cased local part and domain (the domain may be absent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Addr {
    pub local: String,
    pub domain: Option<String>,
}

/// Splits `local@domain` (or bare `local`) at the last `@`. The local part may hold any
/// printable ASCII except spaces, brackets and `@`; it is lower-cased. Returns `Invalid`
/// for empty parts or over-long input.
pub fn parse_address(raw: &str) -> Result<Addr, DirError> {
    if raw.len() > MAX_ADDRESS {
        return Err(DirError::Invalid("address too long".into()));
    }
    let s = strip_brackets(raw).to_ascii_lowercase();
    let (local, domain) = match s.rsplit_once('@') {
        Some((l, d)) => (l.to_string(), Some(domain_name(d)?)),
        None => (s, None),
    };
    if local.is_empty() {
        return Err(DirError::Invalid("empty local part".into()));
    }
    if local
        .bytes()
        .any(|b| !(0x21..0x7f).contains(&b) || b"<>@,;:\\\"[]()".contains(&b))
    {
        return Err(DirError::Invalid(format!("bad local part {local:?}")));
    }
    Ok(Addr { local, domain })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(account_name(" John.Smith ").ok(), Some("john.smith".into()));
        assert!(account_name(".x").is_err());
        assert!(account_name("a/b").is_err());
        assert!(account_name("a b").is_err());
        assert!(account_name("").is_err());
        assert!(account_name(&"a".repeat(65)).is_err());
        assert!(account_name("é").is_err());
        assert_eq!(domain_name("Client1.COM").ok(), Some("client1.com".into()));
        assert!(domain_name("a..b").is_err());
        assert!(domain_name("a.b.").is_err());
        assert!(domain_name("a/b").is_err());
    }

    #[test]
    fn addresses() {
        let a = parse_address("<John@OtherCompany.com>").unwrap();
        assert_eq!(a.local, "john");
        assert_eq!(a.domain.as_deref(), Some("othercompany.com"));
        let a = parse_address("j.smith").unwrap();
        assert_eq!(a.domain, None);
        assert!(parse_address("@x.com").is_err());
        assert!(parse_address("a b@x.com").is_err());
        assert!(parse_address("a@").is_err());
        assert!(parse_address(&"a".repeat(600)).is_err());
    }
}
