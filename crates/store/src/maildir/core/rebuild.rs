//! The index from the files: rebuilding an empty index, discovering mailbox directories
//! made by outside programs.

use super::files::{is_not_found, make_maildir, mtime_nanos, UidsFile};
use super::rows::{exec, find_mailbox, next_uidvalidity, note_uidvalidity};
use super::{now_nanos, Core};
use crate::maildir::index::sql_err;
use crate::maildir::names;
use crate::StoreError;
use rusqlite::{params, Connection, Transaction, TransactionBehavior};
use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

impl Core {
    /// Fills a new index from the files: every mailbox directory, its UIDVALIDITY and
    /// high-water mark from `mailroom-uids`, every message with the UID in its name.
    pub(super) fn rebuild_on(&self, conn: &mut Connection) -> Result<(), StoreError> {
        let _stale = self.listing_changes();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        let existing: i64 = tx
            .query_row("SELECT count(*) FROM mailboxes", [], |r| r.get(0))
            .map_err(sql_err)?;
        if existing > 0 {
            // Another process rebuilt it first.
            return Ok(());
        }
        let mut found = vec!["INBOX".to_string()];
        self.walk(&self.maildir, "", &mut found, &mut Vec::new())?;
        for name in &found {
            let id = self.insert_mailbox_from_disk(&tx, name)?;
            self.sync_mailbox(&tx, id, true, true)?;
        }
        tx.commit().map_err(sql_err)?;
        Ok(())
    }

    /// Adds mailbox directories created by outside programs to the index.
    pub(super) fn discover_on(&self, conn: &mut Connection) -> Result<(), StoreError> {
        let _stale = self.listing_changes();
        let mut found = vec!["INBOX".to_string()];
        self.walk(&self.maildir, "", &mut found, &mut Vec::new())?;
        let known: HashSet<String> = {
            let mut st = conn
                .prepare_cached("SELECT name FROM mailboxes")
                .map_err(sql_err)?;
            let rows = st.query_map([], |r| r.get(0)).map_err(sql_err)?;
            rows.collect::<Result<_, _>>().map_err(sql_err)?
        };
        if found.iter().all(|n| known.contains(n)) {
            return Ok(());
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        for name in &found {
            if find_mailbox(&tx, name)?.is_none() {
                let id = self.insert_mailbox_from_disk(&tx, name)?;
                self.sync_mailbox(&tx, id, true, true)?;
            }
        }
        tx.commit().map_err(sql_err)
    }

    /// Collects mailbox names (directories holding `cur/`) below `dir`.
    /// `read`: every directory whose entries were read, with its mtime taken before.
    pub(super) fn walk(
        &self,
        dir: &Path,
        prefix: &str,
        out: &mut Vec<String>,
        read: &mut Vec<(PathBuf, i64)>,
    ) -> Result<(), StoreError> {
        read.push((dir.to_path_buf(), mtime_nanos(dir)));
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if is_not_found(&e) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        for entry in entries {
            let entry = entry?;
            let Some(fname) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if matches!(fname.as_str(), "cur" | "new" | "tmp") || fname.starts_with('.') {
                continue;
            }
            if !entry.file_type()?.is_dir() {
                continue;
            }
            let Some(comp) = names::decode_component(&fname) else {
                continue;
            };
            let name = if prefix.is_empty() {
                comp
            } else {
                format!("{prefix}/{comp}")
            };
            let Ok(name) = names::normalize(&name) else {
                continue;
            };
            if names::mailbox_dir(&self.maildir, &name) != entry.path() {
                continue; // not in our canonical encoding
            }
            if entry.path().join("cur").is_dir() && !out.contains(&name) {
                out.push(name.clone());
            }
            if depth(&name) < 64 {
                self.walk(&entry.path(), &name, out, read)?;
            }
        }
        Ok(())
    }

    pub(super) fn insert_mailbox_from_disk(
        &self,
        tx: &Transaction<'_>,
        name: &str,
    ) -> Result<i64, StoreError> {
        let dir = names::mailbox_dir(&self.maildir, name);
        make_maildir(&dir)?;
        let uids = match UidsFile::read(&dir) {
            Some(u) => u,
            None => {
                let u = UidsFile {
                    uidvalidity: next_uidvalidity(tx, 0)?,
                    uidnext: 1,
                    highest_modseq: 0,
                };
                u.write(&dir)?;
                u
            }
        };
        note_uidvalidity(tx, uids.uidvalidity)?;
        // Modseqs restart above anything handed out before: the old index is gone, so
        // take the larger of the saved mark and the clock in microseconds.
        let modseq = (uids.highest_modseq + 1).max((now_nanos() / 1000) as u64);
        exec(
            tx,
            "INSERT INTO mailboxes (name, uidvalidity, uidnext, highest_modseq, recent_from_uid)
             VALUES (?1, ?2, ?3, ?4, ?3)",
            params![name, uids.uidvalidity, uids.uidnext.max(1), modseq as i64],
        )
        .map_err(sql_err)?;
        Ok(tx.last_insert_rowid())
    }
}

fn depth(name: &str) -> usize {
    name.matches('/').count()
}
