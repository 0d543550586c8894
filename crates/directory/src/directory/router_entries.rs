//! Router entries as stored in the directory: adding (refusing loops and domains of ours),
//! removing, listing, and the lookup resolution uses.
//!
//! Not here: the CommuniGate Pro line grammar (`crate::router`), following the entries
//! (`resolve.rs`).

use rusqlite::{params, Connection, OptionalExtension};

use super::CachedRow;
use crate::names::{domain_name, parse_address};
use crate::router::{parse_line, RouterEntry, RouterKind};
use crate::{DirError, Directory};

impl Directory {
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

    pub(super) fn router_lookup(
        &self,
        c: &Connection,
        key: &str,
    ) -> Result<Option<RouterKind>, DirError> {
        let line: Option<String> = c
            .cached_row(
                "SELECT line FROM router WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()?;
        Ok(line.and_then(|l| parse_line(&l, &self.main).ok()))
    }
}
