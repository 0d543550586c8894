//! Mailbox operations: list, look up, create, ensure, delete, rename, subscriptions,
//! status and usage.

use super::files::{
    is_not_found, make_maildir, move_dir, mtime_nanos, remove_files, sync_dir, UidsFile, UIDS_FILE,
};
use super::rows::{
    exec, find_mailbox, get_mailbox, mailbox_row, next_uidvalidity, MailboxRow, MAILBOX_COLS,
};
use super::sync::slack;
use super::{now_nanos, Core};
use crate::hub::AccountEvent;
use crate::maildir::index::sql_err;
use crate::maildir::keywords;
use crate::maildir::names;
use crate::{MailboxId, MailboxInfo, MailboxStatus, SpecialUse, StoreError, Uid, Usage};
use rusqlite::{params, Connection, Transaction, TransactionBehavior};
use std::fs;
use std::path::PathBuf;

/// Accounts with at most this many mailboxes are listed on the session's thread.
const IN_PLACE_LIST: usize = 64;

impl Core {
    pub fn list_mailboxes(&self) -> Result<Vec<MailboxInfo>, StoreError> {
        let mut conn = self.conn()?;
        self.discover_on(&mut conn)?;
        let out = all_mailboxes(&conn)?;
        self.listing().remember_boxes(&out);
        Ok(out)
    }

    pub fn mailbox(&self, name: &str) -> Result<MailboxInfo, StoreError> {
        let name = names::normalize(name)?;
        let conn = self.conn()?;
        if !self.listing().knows_boxes() {
            let all = all_mailboxes(&conn)?;
            self.listing().remember_boxes(&all);
        }
        find_mailbox(&conn, &name)?
            .map(|m| m.info())
            .ok_or(StoreError::NotFound("mailbox"))
    }

    /// [`Core::mailbox`] from memory, when the mailbox list is known and holds the name.
    pub fn mailbox_in_memory(&self, name: &str) -> Option<MailboxInfo> {
        let name = names::normalize(name).ok()?;
        let found = self.listing().mailbox(&name);
        if found.is_some() {
            self.touch();
        }
        found
    }

    /// [`Core::list_mailboxes`] on the caller's thread: when the mailbox list is known and
    /// small (at most [`IN_PLACE_LIST`] mailboxes), the directories are walked here (a
    /// few small directory reads) and, if they hold exactly the mailboxes of the list,
    /// the list is the answer. `None`: take the blocking path (which adds what was made outside).
    pub fn list_mailboxes_in_memory(&self) -> Option<Vec<MailboxInfo>> {
        let known = self.listing().all_boxes()?;
        if known.len() > IN_PLACE_LIST {
            return None;
        }
        let unchanged =
            |walked: &[(PathBuf, i64)]| walked.iter().all(|(dir, t)| mtime_nanos(dir) == *t);
        if self.listing().walked().is_some_and(unchanged) {
            self.touch();
            return Some(known);
        }
        let mut found = vec!["INBOX".to_string()];
        let mut read = Vec::new();
        self.walk(&self.maildir, "", &mut found, &mut read).ok()?;
        // Every directory known and every known mailbox still there (another process,
        // `mailroom mailbox delete` say, may have deleted one: its row is gone from the
        // index, and the blocking path reads the index).
        if found.len() != known.len() || !found.iter().all(|n| known.iter().any(|m| &m.name == n)) {
            return None;
        }
        let now = now_nanos();
        if read.iter().all(|&(_, t)| t != 0 && now - t > slack(t)) {
            let mut listing = self.listing();
            // Only if the listing was not forgotten meanwhile (a change by this process).
            if listing.knows_boxes() {
                listing.remember_walk(read);
            }
        }
        self.touch();
        Some(known)
    }

    /// The subscribed names from memory, when known.
    pub fn subscriptions_in_memory(&self) -> Option<Vec<String>> {
        self.listing().subscriptions()
    }

    pub fn create_mailbox(
        &self,
        name: &str,
        special_use: Option<SpecialUse>,
    ) -> Result<MailboxInfo, StoreError> {
        let name = names::normalize(name)?;
        let mut conn = self.conn()?;
        let stale = self.listing_changes();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        if find_mailbox(&tx, &name)?.is_some() {
            return Err(StoreError::AlreadyExists("mailbox"));
        }
        if names::mailbox_dir(&self.maildir, &name)
            .join("cur")
            .is_dir()
        {
            // Made by an outside program and not yet discovered: adopt it as it is.
            let id = self.insert_mailbox_from_disk(&tx, &name)?;
            self.sync_mailbox(&tx, id, true, true)?;
            tx.commit().map_err(sql_err)?;
            return Err(StoreError::AlreadyExists("mailbox"));
        }
        let parents = self.create_parents(&tx, &name)?;
        let row = self.create_one(&tx, &name, special_use)?;
        tx.commit().map_err(sql_err)?;
        drop(stale);
        let mut events: Vec<AccountEvent> =
            parents.into_iter().map(AccountEvent::Created).collect();
        events.push(AccountEvent::Created(name));
        self.announce_all(events);
        Ok(row.info())
    }

    /// Creates those of `wanted` that do not exist, in one index transaction.
    pub fn ensure_mailboxes(&self, wanted: &[(String, SpecialUse)]) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        self.ensure_mailboxes_on(&mut conn, wanted)
    }

    pub(super) fn ensure_mailboxes_on(
        &self,
        conn: &mut Connection,
        wanted: &[(String, SpecialUse)],
    ) -> Result<(), StoreError> {
        let _stale = self.listing_changes();
        let mut missing = Vec::new();
        for (name, use_) in wanted {
            let name = names::normalize(name)?;
            if find_mailbox(conn, &name)?.is_none() {
                missing.push((name, *use_));
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        for (name, use_) in &missing {
            // Another process may have made it since the check above.
            if find_mailbox(&tx, name)?.is_some() {
                continue;
            }
            self.create_parents(&tx, name)?;
            self.create_one(&tx, name, Some(*use_))?;
        }
        tx.commit().map_err(sql_err)
    }

    /// Whether the account's files are still there (an outside `account remove` takes
    /// them away under an open account).
    pub fn files_present(&self) -> bool {
        self.maildir.join("cur").is_dir() && self.index_path.is_file()
    }

    /// Creates the missing parents of `name`; returns their names, outermost first.
    fn create_parents(&self, tx: &Transaction<'_>, name: &str) -> Result<Vec<String>, StoreError> {
        let comps: Vec<&str> = name.split(names::DELIMITER).collect();
        let mut made = Vec::new();
        for i in 1..comps.len() {
            let parent = comps[..i].join("/");
            if find_mailbox(tx, &parent)?.is_none() {
                self.create_one(tx, &parent, None)?;
                made.push(parent);
            }
        }
        Ok(made)
    }

    fn create_one(
        &self,
        tx: &Transaction<'_>,
        name: &str,
        special_use: Option<SpecialUse>,
    ) -> Result<MailboxRow, StoreError> {
        let dir = names::mailbox_dir(&self.maildir, name);
        if dir.join("cur").is_dir() {
            // An implicitly created parent that an outside program made: adopt it.
            let id = self.insert_mailbox_from_disk(tx, name)?;
            self.sync_mailbox(tx, id, true, true)?;
            if let Some(su) = special_use {
                exec(
                    tx,
                    "UPDATE mailboxes SET special_use = ?2 WHERE id = ?1",
                    params![id, su.as_imap()],
                )
                .map_err(sql_err)?;
            }
            return get_mailbox(tx, id);
        }
        // A directory left by an earlier life of this name (kept for its inferiors)
        // holds no messages.
        for sub in ["new", "tmp"] {
            remove_files(&dir.join(sub))?;
        }
        make_maildir(&dir)?;
        let uidvalidity = next_uidvalidity(tx, 0)?;
        UidsFile {
            uidvalidity,
            uidnext: 1,
            highest_modseq: 1,
        }
        .write(&dir)?;
        exec(tx,
            "INSERT INTO mailboxes (name, uidvalidity, uidnext, highest_modseq, special_use, recent_from_uid)
             VALUES (?1, ?2, 1, 1, ?3, 1)",
            params![name, uidvalidity, special_use.map(|s| s.as_imap())],
        )
        .map_err(sql_err)?;
        find_mailbox(tx, name)?.ok_or(StoreError::Index("mailbox vanished".into()))
    }

    pub fn delete_mailbox(&self, name: &str) -> Result<(), StoreError> {
        let name = names::normalize(name)?;
        if names::is_inbox(&name) {
            return Err(StoreError::Invalid("INBOX cannot be deleted".into()));
        }
        let mut conn = self.conn()?;
        let stale = self.listing_changes();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        let row = find_mailbox(&tx, &name)?.ok_or(StoreError::NotFound("mailbox"))?;
        let dir = names::mailbox_dir(&self.maildir, &name);
        for sub in ["cur", "new", "tmp"] {
            match fs::remove_dir_all(dir.join(sub)) {
                Err(e) if !is_not_found(&e) => return Err(e.into()),
                _ => {}
            }
        }
        for f in [UIDS_FILE, keywords::FILE] {
            match fs::remove_file(dir.join(f)) {
                Err(e) if !is_not_found(&e) => return Err(e.into()),
                _ => {}
            }
        }
        // Kept if inferiors live inside it.
        let _ = fs::remove_dir(&dir);
        for sql in [
            "DELETE FROM messages WHERE mailbox = ?1",
            "DELETE FROM expunged WHERE mailbox = ?1",
            "DELETE FROM acl WHERE mailbox = ?1",
            "DELETE FROM previews WHERE mailbox = ?1",
            "DELETE FROM sort_keys WHERE mailbox = ?1",
            "DELETE FROM metadata WHERE mailbox = ?1",
            "DELETE FROM pop3_uidls WHERE mailbox = ?1",
            "DELETE FROM mailboxes WHERE id = ?1",
        ] {
            exec(&tx, sql, [row.id]).map_err(sql_err)?;
        }
        tx.commit().map_err(sql_err)?;
        self.changed(&conn, row.id);
        drop(stale);
        self.announce(AccountEvent::Deleted(name));
        Ok(())
    }

    pub fn rename_mailbox(&self, from: &str, to: &str) -> Result<(), StoreError> {
        let from = names::normalize(from)?;
        let to = names::normalize(to)?;
        if from == to {
            return Err(StoreError::AlreadyExists("mailbox"));
        }
        if names::is_inbox(&to) || to.starts_with(&format!("{from}/")) {
            return Err(StoreError::Invalid(
                "cannot rename a mailbox into itself or onto INBOX".into(),
            ));
        }
        let mut conn = self.conn()?;
        let stale = self.listing_changes();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        let src = find_mailbox(&tx, &from)?.ok_or(StoreError::NotFound("mailbox"))?;
        if find_mailbox(&tx, &to)?.is_some() {
            return Err(StoreError::AlreadyExists("mailbox"));
        }
        if names::mailbox_dir(&self.maildir, &to).join("cur").is_dir() {
            let id = self.insert_mailbox_from_disk(&tx, &to)?;
            self.sync_mailbox(&tx, id, true, true)?;
            tx.commit().map_err(sql_err)?;
            return Err(StoreError::AlreadyExists("mailbox"));
        }
        let parents = self.create_parents(&tx, &to)?;
        if names::is_inbox(&from) {
            let inbox = src;
            self.sync_mailbox(&tx, inbox.id, true, false)?;
            let dst = self.create_one(&tx, &to, None)?;
            let src_cur = self.maildir.join("cur");
            let dst_dir = names::mailbox_dir(&self.maildir, &to);
            // The moved file names keep their keyword letters: so must the table.
            match fs::copy(
                self.maildir.join(keywords::FILE),
                dst_dir.join(keywords::FILE),
            ) {
                Err(e) if !is_not_found(&e) => return Err(e.into()),
                _ => {}
            }
            let files: Vec<(Uid, String)> = {
                let mut st = tx
                    .prepare_cached("SELECT uid, file FROM messages WHERE mailbox = ?1")
                    .map_err(sql_err)?;
                let rows = st
                    .query_map([inbox.id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(sql_err)?;
                rows.collect::<Result<_, _>>().map_err(sql_err)?
            };
            for (_, file) in &files {
                match fs::rename(src_cur.join(file), dst_dir.join("cur").join(file)) {
                    Err(e) if !is_not_found(&e) => return Err(e.into()),
                    _ => {}
                }
            }
            sync_dir(&src_cur)?;
            sync_dir(&dst_dir.join("cur"))?;
            let modseq = inbox.highest_modseq + 1;
            exec(&tx,
                "INSERT INTO expunged (mailbox, uid, modseq) SELECT mailbox, uid, ?2 FROM messages WHERE mailbox = ?1",
                params![inbox.id, modseq as i64],
            )
            .map_err(sql_err)?;
            exec(
                &tx,
                "UPDATE messages SET mailbox = ?2 WHERE mailbox = ?1",
                params![inbox.id, dst.id],
            )
            .map_err(sql_err)?;
            exec(&tx,
                "UPDATE mailboxes SET uidnext = ?2, highest_modseq = ?3, cur_mtime = 0 WHERE id = ?1",
                params![dst.id, inbox.uidnext, modseq as i64],
            )
            .map_err(sql_err)?;
            exec(
                &tx,
                "UPDATE mailboxes SET highest_modseq = ?2, cur_mtime = 0 WHERE id = ?1",
                params![inbox.id, modseq as i64],
            )
            .map_err(sql_err)?;
            UidsFile {
                uidvalidity: dst.uidvalidity,
                uidnext: inbox.uidnext,
                highest_modseq: modseq,
            }
            .write(&dst_dir)?;
            UidsFile {
                uidvalidity: inbox.uidvalidity,
                uidnext: inbox.uidnext,
                highest_modseq: modseq,
            }
            .write(&self.maildir)?;
            tx.commit().map_err(sql_err)?;
            self.changed(&conn, inbox.id);
            self.changed(&conn, dst.id);
            drop(stale);
            let mut events: Vec<AccountEvent> =
                parents.into_iter().map(AccountEvent::Created).collect();
            events.push(AccountEvent::Renamed { from, to });
            self.announce_all(events);
            return Ok(());
        }
        let src_dir = names::mailbox_dir(&self.maildir, &from);
        let dst_dir = names::mailbox_dir(&self.maildir, &to);
        if let Some(parent) = dst_dir.parent() {
            fs::create_dir_all(parent)?;
        }
        move_dir(&src_dir, &dst_dir)?;
        let renamed: Vec<(i64, String)> = {
            let mut st = tx
                .prepare_cached(
                    "SELECT id, name FROM mailboxes WHERE name = ?1 OR substr(name, 1, ?2) = ?3",
                )
                .map_err(sql_err)?;
            let prefix = format!("{from}/");
            let rows = st
                .query_map(params![from, prefix.len() as i64, prefix], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .map_err(sql_err)?;
            rows.collect::<Result<_, _>>().map_err(sql_err)?
        };
        for (id, name) in &renamed {
            let new_name = format!("{to}{}", &name[from.len()..]);
            exec(
                &tx,
                "UPDATE mailboxes SET name = ?2 WHERE id = ?1",
                params![id, new_name],
            )
            .map_err(sql_err)?;
        }
        tx.commit().map_err(sql_err)?;
        for (id, _) in renamed {
            self.changed(&conn, id);
        }
        drop(stale);
        let mut events: Vec<AccountEvent> =
            parents.into_iter().map(AccountEvent::Created).collect();
        events.push(AccountEvent::Renamed { from, to });
        self.announce_all(events);
        Ok(())
    }

    pub fn set_subscribed(&self, name: &str, subscribed: bool) -> Result<(), StoreError> {
        let name = names::normalize(name)?;
        let conn = self.conn()?;
        let stale = self.listing_changes();
        let sql = if subscribed {
            "INSERT OR IGNORE INTO subscriptions (name) VALUES (?1)"
        } else {
            "DELETE FROM subscriptions WHERE name = ?1"
        };
        let n = exec(&conn, sql, [&name]).map_err(sql_err)?;
        drop(stale);
        if n > 0 {
            self.announce(AccountEvent::Subscription { name, subscribed });
        }
        Ok(())
    }

    pub fn subscriptions(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.conn()?;
        let mut st = conn
            .prepare_cached("SELECT name FROM subscriptions ORDER BY name")
            .map_err(sql_err)?;
        let rows = st.query_map([], |r| r.get(0)).map_err(sql_err)?;
        let subs: Vec<String> = rows.collect::<Result<_, _>>().map_err(sql_err)?;
        self.listing().remember_subscriptions(&subs);
        Ok(subs)
    }

    /// STATUS counters, from the mailbox's in-memory state (loaded if needed: then STATUS
    /// is O(log n) until the state is dropped unread; counting rows instead took tens of
    /// milliseconds per call at 100,000 messages).
    pub fn status(&self, mailbox: MailboxId) -> Result<MailboxStatus, StoreError> {
        let conn = self.conn()?;
        self.with_state(&conn, mailbox.0, |st| st.status())
    }

    pub fn usage(&self) -> Result<Usage, StoreError> {
        let conn = self.conn()?;
        let (bytes, messages): (i64, i64) = conn
            .query_row(
                "SELECT coalesce(sum(size), 0), count(*) FROM messages",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(sql_err)?;
        Ok(Usage {
            bytes: bytes as u64,
            messages: messages as u64,
        })
    }
}

/// Every mailbox row, sorted by name.
fn all_mailboxes(conn: &Connection) -> Result<Vec<MailboxInfo>, StoreError> {
    let mut st = conn
        .prepare_cached(&format!("SELECT {MAILBOX_COLS} FROM mailboxes"))
        .map_err(sql_err)?;
    let rows = st.query_map([], mailbox_row).map_err(sql_err)?;
    let mut out: Vec<MailboxInfo> = rows
        .map(|r| r.map(|m| m.info()))
        .collect::<Result<_, _>>()
        .map_err(sql_err)?;
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}
