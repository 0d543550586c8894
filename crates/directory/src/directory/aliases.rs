//! Address aliases: mail and logins for one address go to another (an account, another
//! alias, or a remote address).
//!
//! Not here: following them (`resolve.rs`); mailbox aliases (`crate::sharing`).

use rusqlite::{params, OptionalExtension};

use super::CachedRow;
use crate::names::{parse_address, Addr};
use crate::{AliasInfo, DirError, Directory};

impl Directory {
    /// `local@domain` (domain defaulting to the main one), lower case.
    pub(super) fn full_address(&self, a: &Addr) -> String {
        format!("{}@{}", a.local, a.domain.as_deref().unwrap_or(&self.main))
    }

    /// The target as stored: the local part keeps its case (remote addresses, referrals).
    fn target_address(&self, raw: &str) -> Result<String, DirError> {
        let a = parse_address(raw)?;
        let t = crate::names::strip_brackets(raw);
        Ok(match a.domain {
            Some(d) => {
                let local = t.rsplit_once('@').map(|(l, _)| l).unwrap_or(t);
                format!("{local}@{d}")
            }
            None => format!("{}@{}", a.local, self.main),
        })
    }

    /// Adds an alias: mail and logins for `address` go to `target` (an account, another
    /// alias, or a remote address). Refused when `address` is an account, or when the alias
    /// would close a loop.
    pub fn add_alias(&self, address: &str, target: &str) -> Result<AliasInfo, DirError> {
        let address = self.full_address(&parse_address(address)?);
        let target = self.target_address(target)?;
        {
            let c = self.db();
            if let Some((l, d)) = address.rsplit_once('@') {
                if Self::find_account(&c, l, d)?.is_some() {
                    return Err(DirError::AlreadyExists(format!("{address} is an account")));
                }
            }
            let n = c.execute(
                "INSERT OR IGNORE INTO aliases(address, target) VALUES (?1, ?2)",
                params![address, target],
            )?;
            if n == 0 {
                return Err(DirError::AlreadyExists(format!("alias {address}")));
            }
        }
        if let Err(e @ DirError::Loop(_)) = self.resolve_recipient(&address) {
            self.db()
                .execute("DELETE FROM aliases WHERE address = ?1", params![address])?;
            return Err(e);
        }
        Ok(AliasInfo { address, target })
    }

    /// Removes an alias.
    pub fn remove_alias(&self, address: &str) -> Result<AliasInfo, DirError> {
        let address = self.full_address(&parse_address(address)?);
        let c = self.db();
        let target: String = c
            .cached_row(
                "SELECT target FROM aliases WHERE address = ?1",
                params![address],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| DirError::NotFound(format!("alias {address}")))?;
        c.execute("DELETE FROM aliases WHERE address = ?1", params![address])?;
        Ok(AliasInfo { address, target })
    }

    /// All aliases as `(address, target)`, by address.
    pub fn list_aliases(&self) -> Result<Vec<(String, String)>, DirError> {
        let c = self.db();
        let mut st = c.prepare("SELECT address, target FROM aliases ORDER BY address")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
