//! Domains: the main one and secondary ones, and the local IP addresses that select a
//! domain for logins without one (A1).
//!
//! Not here: router domain mappings (`router_entries.rs`), which make a domain that is not
//! ours deliver to one of ours.

use std::net::IpAddr;

use rusqlite::{params, Connection, OptionalExtension};

use super::CachedRow;
use crate::names::domain_name;
use crate::{DirError, Directory, DomainInfo};

impl Directory {
    pub(super) fn domain_id(c: &Connection, name: &str) -> Result<Option<i64>, DirError> {
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

    pub(super) fn domain_for_ip_in(c: &Connection, ip: IpAddr) -> Result<Option<String>, DirError> {
        Ok(c.cached_row(
            "SELECT d.name FROM domain_addresses x JOIN domains d ON d.id = x.domain_id
             WHERE x.ip = ?1",
            params![canonical_ip(ip).to_string()],
            |r| r.get(0),
        )
        .optional()?)
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) count as their IPv4 address.
fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}
