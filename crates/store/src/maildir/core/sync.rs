//! Syncing a mailbox's index with its directory (changes made by outside programs).

use super::files::{
    clean_tmp, index_file, is_not_found, make_maildir, mtime_nanos, sync_dir, UidsFile,
};
use super::rows::{
    decode_keywords, encode_keywords, exec, get_mailbox, is_tombstoned, normalize_keywords,
    MailboxRow,
};
use super::{now_nanos, Core};
use crate::maildir::index::sql_err;
use crate::maildir::keywords::KeywordFile;
use crate::maildir::names::{self, base_with_uid, FileName};
use crate::{Flags, MailboxId, StoreError, Uid};
use rusqlite::{params, Transaction, TransactionBehavior};
use std::collections::{HashMap, HashSet};
use std::fs;

/// A directory changed less than this long ago is always rescanned: another change in
/// the same clock tick of the file system would not move its mtime again. Two seconds
/// where timestamps have whole seconds (a directory mtime with no fraction); where they
/// have a finer grain (ext4, XFS, Btrfs, tmpfs: the kernel's coarse clock, a few
/// milliseconds), a tenth of a second.
const MTIME_SLACK_NS: i64 = 2_000_000_000;
const MTIME_SLACK_FINE_NS: i64 = 100_000_000;

/// The slack for a directory mtime `t` (nanoseconds since the epoch), see
/// [`MTIME_SLACK_NS`].
pub(super) fn slack(t: i64) -> i64 {
    if t % 1_000_000_000 == 0 {
        MTIME_SLACK_NS
    } else {
        MTIME_SLACK_FINE_NS
    }
}

impl Core {
    /// Syncs a mailbox with its directory; returns whether anything changed.
    pub fn sync(&self, mailbox: MailboxId, force: bool) -> Result<bool, StoreError> {
        let seen = self.tracker.sync_started(&self.key, mailbox);
        let changed = self.sync_unmarked(mailbox, force)?;
        if let Some(seen) = seen {
            self.tracker.sync_done(&self.key, mailbox, seen);
        }
        Ok(changed)
    }

    /// [`Core::sync`] without the bookkeeping of outside events.
    fn sync_unmarked(&self, mailbox: MailboxId, force: bool) -> Result<bool, StoreError> {
        // Cheap check without the write lock first.
        {
            let conn = self.conn()?;
            let m = get_mailbox(&conn, mailbox.0)?;
            if !force && self.unchanged(&m) {
                // The files did not change, but another process may have committed to
                // the index (`mailroom deliver`): bring the in-memory state up to it.
                if self.catch_up(&conn, mailbox.0) {
                    self.notify(mailbox.0);
                }
                return Ok(false);
            }
        }
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        let changed = self.sync_mailbox(&tx, mailbox.0, force, false)?;
        tx.commit().map_err(sql_err)?;
        if changed {
            self.changed(&conn, mailbox.0);
        } else if self.catch_up(&conn, mailbox.0) {
            self.notify(mailbox.0);
        }
        Ok(changed)
    }

    /// True if neither `new/` nor `cur/` changed since the last full scan (and the last
    /// change is old enough that a same-second change cannot hide behind it).
    fn unchanged(&self, m: &MailboxRow) -> bool {
        let dir = names::mailbox_dir(&self.maildir, &m.name);
        let new_m = mtime_nanos(&dir.join("new"));
        let cur_m = mtime_nanos(&dir.join("cur"));
        new_m != 0
            && cur_m != 0
            && new_m == m.new_mtime
            && cur_m == m.cur_mtime
            && now_nanos() - new_m > slack(new_m)
            && now_nanos() - cur_m > slack(cur_m)
    }

    /// The scan behind [`Core::sync`], inside the caller's write transaction.
    /// `rebuilding`: every file keeps the UID in its name when it does not clash.
    pub(super) fn sync_mailbox(
        &self,
        tx: &Transaction<'_>,
        id: i64,
        force: bool,
        rebuilding: bool,
    ) -> Result<bool, StoreError> {
        let m = get_mailbox(tx, id)?;
        if !force && self.unchanged(&m) {
            return Ok(false);
        }
        let dir = names::mailbox_dir(&self.maildir, &m.name);
        make_maildir(&dir)?;
        let new_mtime = mtime_nanos(&dir.join("new"));
        let cur_mtime = mtime_nanos(&dir.join("cur"));
        clean_tmp(&dir.join("tmp"));

        // What the files say: (in new/?, file name, parsed name).
        let mut files: Vec<(bool, String, FileName)> = Vec::new();
        for (sub, is_new) in [("cur", false), ("new", true)] {
            for entry in fs::read_dir(dir.join(sub))? {
                let entry = entry?;
                let Some(fname) = entry.file_name().to_str().map(str::to_string) else {
                    continue;
                };
                if let Some(parsed) = FileName::parse(&fname) {
                    files.push((is_new, fname, parsed));
                }
            }
        }
        let kf = KeywordFile::load(&dir);
        // What the index says: base -> (uid, file, flags, keywords).
        let mut rows: HashMap<String, (Uid, String, Flags, String)> = HashMap::new();
        {
            let mut st = tx
                .prepare_cached(
                    "SELECT uid, base, file, flags, keywords FROM messages WHERE mailbox = ?1",
                )
                .map_err(sql_err)?;
            let it = st
                .query_map([id], |r| {
                    Ok((
                        r.get::<_, Uid>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        Flags(r.get(3)?),
                        r.get::<_, String>(4)?,
                    ))
                })
                .map_err(sql_err)?;
            for row in it {
                let (uid, base, file, flags, keywords) = row.map_err(sql_err)?;
                rows.insert(base, (uid, file, flags, keywords));
            }
        }
        let mut taken: HashSet<Uid> = rows.values().map(|r| r.0).collect();
        let mut modseq = m.highest_modseq;
        let mut uidnext = m.uidnext;
        let mut changed = false;
        let mut seen: HashSet<String> = HashSet::new();
        // The names cur/ holds once the scan is done (to verify the recorded mtimes).
        let mut expected: HashSet<String> = HashSet::new();
        let mut fresh: Vec<(bool, String, FileName)> = Vec::new();
        for (is_new, fname, parsed) in files {
            let Some((uid, file, flags, keywords)) = rows.get(&parsed.base).cloned() else {
                fresh.push((is_new, fname, parsed));
                continue;
            };
            if !seen.insert(parsed.base.clone()) {
                // A second file with an indexed base (new/ and cur/): treat as new.
                fresh.push((is_new, fname, parsed));
                continue;
            }
            let mut name = fname.clone();
            if is_new {
                name = FileName::render(&parsed.base, parsed.flags, &parsed.keyword_letters);
                if let Err(e) =
                    fs::rename(dir.join("new").join(&fname), dir.join("cur").join(&name))
                {
                    if is_not_found(&e) {
                        continue;
                    }
                    return Err(e.into());
                }
                changed = true;
            }
            // Keywords as the letters say, keeping those that have no letter.
            let kw = decode_keywords(&keywords);
            let (defined, _) = kf.split_letters(&parsed.keyword_letters);
            let new_kw = if defined == kf.letters(&kw) {
                kw
            } else {
                let mut k: Vec<String> = kw
                    .into_iter()
                    .filter(|k| kf.letter_of(k).is_none())
                    .collect();
                k.extend(
                    defined
                        .chars()
                        .filter_map(|c| kf.name_of(c).map(str::to_string)),
                );
                normalize_keywords(&k)
            };
            let new_kw = encode_keywords(&new_kw);
            if parsed.flags != flags || new_kw != keywords {
                modseq += 1;
                exec(
                    tx,
                    "UPDATE messages SET flags = ?3, file = ?4, modseq = ?5, keywords = ?6
                     WHERE mailbox = ?1 AND uid = ?2",
                    params![id, uid, parsed.flags.0, name, modseq as i64, new_kw],
                )
                .map_err(sql_err)?;
                changed = true;
            } else if name != file {
                exec(
                    tx,
                    "UPDATE messages SET file = ?3 WHERE mailbox = ?1 AND uid = ?2",
                    params![id, uid, name],
                )
                .map_err(sql_err)?;
            }
            expected.insert(name);
        }
        // Indexed messages whose file is gone were removed from outside.
        let mut gone: Vec<Uid> = rows
            .iter()
            .filter(|(base, _)| !seen.contains(*base))
            .map(|(_, r)| r.0)
            .collect();
        if !gone.is_empty() {
            gone.sort_unstable();
            modseq += 1;
            for uid in &gone {
                exec(
                    tx,
                    "DELETE FROM messages WHERE mailbox = ?1 AND uid = ?2",
                    params![id, uid],
                )
                .map_err(sql_err)?;
                exec(
                    tx,
                    "DELETE FROM previews WHERE mailbox = ?1 AND uid = ?2",
                    params![id, uid],
                )
                .map_err(sql_err)?;
                exec(
                    tx,
                    "DELETE FROM sort_keys WHERE mailbox = ?1 AND uid = ?2",
                    params![id, uid],
                )
                .map_err(sql_err)?;
                exec(
                    tx,
                    "INSERT OR REPLACE INTO expunged (mailbox, uid, modseq) VALUES (?1, ?2, ?3)",
                    params![id, uid, modseq as i64],
                )
                .map_err(sql_err)?;
            }
            changed = true;
        }
        // New files: those carrying a UID at or above UIDNEXT keep it (an append whose
        // index transaction never committed); others get the next UID.
        fresh.sort_by(|a, b| {
            (a.2.uid.is_none(), a.2.uid, &a.1).cmp(&(b.2.uid.is_none(), b.2.uid, &b.1))
        });
        for (is_new, fname, parsed) in fresh {
            let src = dir.join(if is_new { "new" } else { "cur" }).join(&fname);
            if let Some(u) = parsed.uid {
                if !rebuilding && u < m.uidnext && !taken.contains(&u) && is_tombstoned(tx, id, u)?
                {
                    // Expunged, but the unlink did not survive a crash.
                    match fs::remove_file(&src) {
                        Err(e) if !is_not_found(&e) => return Err(e.into()),
                        _ => {}
                    }
                    continue;
                }
            }
            let uid = match parsed.uid {
                Some(u) if (u >= uidnext || rebuilding) && !taken.contains(&u) => u,
                _ => uidnext,
            };
            if uid == u32::MAX {
                return Err(StoreError::Corrupt("UIDs exhausted".into()));
            }
            let base = if parsed.uid == Some(uid) {
                parsed.base.clone()
            } else {
                base_with_uid(&parsed.base, uid)
            };
            let name = FileName::render(&base, parsed.flags, &parsed.keyword_letters);
            let dst = dir.join("cur").join(&name);
            if src != dst {
                if let Err(e) = fs::rename(&src, &dst) {
                    if is_not_found(&e) {
                        continue;
                    }
                    return Err(e.into());
                }
            }
            let info = match index_file(&dst) {
                Ok(i) => i,
                Err(e) if is_not_found(&e) => continue,
                Err(e) => return Err(e.into()),
            };
            modseq += 1;
            exec(tx,
                "INSERT INTO messages (mailbox, uid, base, file, flags, keywords, modseq, internal_date,
                     internal_tz, size, raw_size, crlf_clean, structure)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?12, ?6, ?7, 0, ?8, ?9, ?10, ?11)",
                params![
                    id,
                    uid,
                    base,
                    name,
                    parsed.flags.0,
                    modseq as i64,
                    info.mtime,
                    info.size as i64,
                    info.raw_size as i64,
                    info.size == info.raw_size,
                    info.structure,
                    encode_keywords(&normalize_keywords(
                        &parsed
                            .keyword_letters
                            .chars()
                            .filter_map(|c| kf.name_of(c).map(str::to_string))
                            .collect::<Vec<_>>()
                    ))
                ],
            )
            .map_err(sql_err)?;
            // A message found in the directory was saved when its file was written
            // (RFC 8514 3; the insert trigger said "now").
            exec(
                tx,
                "UPDATE objects SET save_date = ?3 WHERE mailbox = ?1 AND uid = ?2",
                params![id, uid, info.mtime],
            )
            .map_err(sql_err)?;
            taken.insert(uid);
            uidnext = uidnext.max(uid + 1);
            changed = true;
            expected.insert(name);
        }
        if changed {
            sync_dir(&dir.join("cur"))?;
            sync_dir(&dir.join("new"))?;
        }
        // Record the mtimes seen before the scan only if we changed nothing (our renames
        // moved them) and they were already old: a change made in the same clock tick as
        // the last one, after our readdir, would not move the mtime again. After a scan
        // that changed the directories, record their mtimes only once a second listing
        // shows exactly what the scan left (see `verified_mtimes`).
        let now = now_nanos();
        let settled = |t: i64| if now - t > slack(t) { t } else { 0 };
        let (nm, cm) = if changed {
            verified_mtimes(&dir, &expected)
        } else {
            (settled(new_mtime), settled(cur_mtime))
        };
        exec(tx,
            "UPDATE mailboxes SET uidnext = ?2, highest_modseq = ?3, new_mtime = ?4, cur_mtime = ?5 WHERE id = ?1",
            params![id, uidnext, modseq as i64, nm, cm],
        )
        .map_err(sql_err)?;
        if !gone.is_empty() || rebuilding {
            UidsFile {
                uidvalidity: m.uidvalidity,
                uidnext,
                highest_modseq: modseq,
            }
            .write(&dir)?;
        }
        Ok(changed)
    }
}

/// The mtimes of `new/` and `cur/` after a scan that changed them, if they can be trusted:
/// taken once the clock tick they fall in is over (so a later change moves them), then a
/// second listing must show `new/` without messages and `cur/` holding exactly
/// `expected`, and the mtimes must not have moved meanwhile. `(0, 0)` ("scan next time")
/// on any doubt, and where timestamps have whole seconds. Costs one listing of `cur/`
/// after a scan that found work, and saves a full scan (index rows and all) at the next
/// SELECT or POP3 login.
fn verified_mtimes(dir: &std::path::Path, expected: &HashSet<String>) -> (i64, i64) {
    let (new, cur) = (dir.join("new"), dir.join("cur"));
    let (tn, tc) = (mtime_nanos(&new), mtime_nanos(&cur));
    if tn == 0 || tc == 0 || slack(tn) != MTIME_SLACK_FINE_NS || slack(tc) != MTIME_SLACK_FINE_NS {
        return (0, 0);
    }
    // The file system's clock ticks a few milliseconds at a time.
    let wait = tn.max(tc) + 20_000_000 - now_nanos();
    if wait > 0 {
        std::thread::sleep(std::time::Duration::from_nanos(wait as u64));
    }
    let listed = |d: &std::path::Path| -> Option<Vec<String>> {
        fs::read_dir(d)
            .ok()?
            .map(|e| {
                e.ok()
                    .and_then(|e| e.file_name().to_str().map(str::to_string))
            })
            .collect()
    };
    let Some(in_new) = listed(&new) else {
        return (0, 0);
    };
    if in_new.iter().any(|n| FileName::parse(n).is_some()) {
        return (0, 0);
    }
    let Some(in_cur) = listed(&cur) else {
        return (0, 0);
    };
    let messages: Vec<&String> = in_cur
        .iter()
        .filter(|n| FileName::parse(n).is_some())
        .collect();
    if messages.len() != expected.len() || messages.iter().any(|n| !expected.contains(*n)) {
        return (0, 0);
    }
    if mtime_nanos(&new) != tn || mtime_nanos(&cur) != tc {
        return (0, 0);
    }
    (tn, tc)
}
