//! The two resolvers: [`Directory::resolve_recipient`] (delivery) and
//! [`Directory::resolve_login`] (logins), on one resolution walk.
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
//! Not here: the entries it follows (`aliases.rs`, `router_entries.rs`), checking the
//! password of the account it finds (`credentials.rs`).

use std::collections::HashSet;
use std::net::IpAddr;

use rusqlite::{params, Connection, OptionalExtension};

use super::CachedRow;
use crate::names::{parse_address, Addr};
use crate::router::RouterKind;
use crate::{AccountInfo, DirError, Directory, LoginTarget, Recipient};

/// Most redirections (router entries, aliases, domain mappings) followed for one address.
pub const MAX_HOPS: usize = 16;

enum Resolved {
    Local(AccountInfo, Option<String>),
    Remote(String),
    Unknown,
}

impl Directory {
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
}
