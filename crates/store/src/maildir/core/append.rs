//! Adding messages: append, and copy/move between mailboxes.

use super::batch::Effects;
use super::files::{copy_file, is_not_found, locate, sync_dir, unique_base, write_tmp, Written};
use super::rows::{
    decode_keywords, encode_keywords, exec, get_mailbox, normalize_keywords, sorted_uids,
};
use super::{now_secs, Core};
use crate::maildir::index::sql_err;
use crate::maildir::keywords::KeywordFile;
use crate::maildir::names::{self, FileName};
use crate::{AppendOutcome, AppendRequest, CopyOutcome, Flags, MailboxId, ModSeq, StoreError, Uid};
use rusqlite::{params, OptionalExtension, Transaction};
use std::fs;
use std::path::{Path, PathBuf};

impl Core {
    pub fn append(
        &self,
        mailbox: MailboxId,
        req: AppendRequest,
    ) -> Result<AppendOutcome, StoreError> {
        self.append_at(mailbox, req, None)
    }

    /// [`Core::append`] under a given UID (`want`, at or above the mailbox's UIDNEXT:
    /// migration keeps the UIDs of the old server), or the next one (`None`).
    pub fn append_at(
        &self,
        mailbox: MailboxId,
        req: AppendRequest,
        want: Option<Uid>,
    ) -> Result<AppendOutcome, StoreError> {
        let dir = {
            let conn = self.conn()?;
            let m = get_mailbox(&conn, mailbox.0)?;
            names::mailbox_dir(&self.maildir, &m.name)
        };
        let (date, tz) = req.internal_date.unwrap_or((now_secs(), 0));
        let written = write_tmp(&dir, &req, date)?;
        let tmp = written.tmp_path.clone();
        let (flags, keywords) = (req.flags, req.keywords);
        let job_dir = dir.clone();
        // One index transaction with the appends, copies and expunges of the account
        // that queue meanwhile (group commit, see batch.rs).
        let committed = self.write(move |core, tx, eff| {
            core.commit_append_in(
                tx, eff, mailbox.0, &job_dir, &written, flags, &keywords, date, tz, want,
            )
        });
        let outcome = match committed {
            Ok(o) => o,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
        };
        // Durable once cur/ is flushed (shared with concurrent appends; see durable.rs).
        self.flush_dir(&dir.join("cur"))?;
        Ok(outcome)
    }

    #[allow(clippy::too_many_arguments)]
    fn commit_append_in(
        &self,
        tx: &Transaction<'_>,
        eff: &mut Effects,
        id: i64,
        dir: &Path,
        w: &Written,
        flags: Flags,
        keywords: &[String],
        date: i64,
        tz: i32,
        want: Option<Uid>,
    ) -> Result<AppendOutcome, StoreError> {
        let m = get_mailbox(tx, id)?;
        if names::mailbox_dir(&self.maildir, &m.name) != dir {
            return Err(StoreError::Busy); // renamed meanwhile; the caller may retry
        }
        let uid = match want {
            None => m.uidnext,
            Some(u) if u >= m.uidnext && u > 0 => u,
            Some(u) => {
                return Err(StoreError::Invalid(format!(
                    "UID {u} is below the mailbox's UIDNEXT {}",
                    m.uidnext
                )))
            }
        };
        if uid == u32::MAX {
            return Err(StoreError::Corrupt("UIDs exhausted".into()));
        }
        let flags = Flags(flags.0 & 31);
        let keywords = normalize_keywords(keywords);
        // Most messages come without keywords: no need to read the keyword file then.
        let letters = if keywords.is_empty() {
            String::new()
        } else {
            let mut kf = KeywordFile::load(dir);
            let letters = kf.assign(&keywords);
            kf.save()?;
            letters
        };
        let base = format!("{},U={uid},S={}", w.base, w.size);
        let name = FileName::render(&base, flags, &letters);
        let dst = dir.join("cur").join(&name);
        self.tracker.own(&self.key, MailboxId(id), dst.clone());
        fs::rename(&w.tmp_path, &dst)?;
        let inserted = (|| -> Result<ModSeq, StoreError> {
            let modseq = m.highest_modseq + 1;
            exec(tx,
                "INSERT INTO messages (mailbox, uid, base, file, flags, keywords, modseq, internal_date,
                     internal_tz, size, raw_size, crlf_clean, structure)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                params![
                    id,
                    uid,
                    base,
                    name,
                    flags.0,
                    encode_keywords(&keywords),
                    modseq as i64,
                    date,
                    tz,
                    w.size as i64,
                    w.raw_size as i64,
                    w.size == w.raw_size,
                    w.structure
                ],
            )
            .map_err(sql_err)?;
            exec(
                tx,
                "UPDATE mailboxes SET uidnext = ?2, highest_modseq = ?3 WHERE id = ?1",
                params![id, uid + 1, modseq as i64],
            )
            .map_err(sql_err)?;
            Ok(modseq)
        })();
        // Not acknowledged unless the batch commits: then the file goes back out, so
        // that it is not adopted later.
        let undo = dst.clone();
        eff.on_rollback(move || {
            let _ = fs::remove_file(undo);
        });
        let modseq = inserted?;
        eff.changed(id);
        Ok(AppendOutcome {
            uid_validity: m.uidvalidity,
            uid,
            modseq,
        })
    }

    pub fn copy(
        &self,
        from: MailboxId,
        uids: &[Uid],
        to: MailboxId,
        remove: bool,
    ) -> Result<CopyOutcome, StoreError> {
        let uids = uids.to_vec();
        self.write(move |core, tx, eff| core.copy_in(tx, eff, from, &uids, to, remove))
    }

    /// [`Core::copy`] with the connection: the copies' directory is flushed before the
    /// index commits (and, for a move, before the originals are unlinked).
    fn copy_in(
        &self,
        tx: &Transaction<'_>,
        eff: &mut Effects,
        from: MailboxId,
        uids: &[Uid],
        to: MailboxId,
        remove: bool,
    ) -> Result<CopyOutcome, StoreError> {
        let src = get_mailbox(tx, from.0)?;
        let dst = get_mailbox(tx, to.0)?;
        let src_cur = names::mailbox_dir(&self.maildir, &src.name).join("cur");
        let dst_dir = names::mailbox_dir(&self.maildir, &dst.name);
        let dst_cur = dst_dir.join("cur");
        type Row = (
            Uid,
            String,
            String,
            u8,
            String,
            i64,
            i32,
            i64,
            i64,
            bool,
            Vec<u8>,
        );
        let rows: Vec<Row> = {
            let mut st = tx
                .prepare_cached(
                    "SELECT uid, base, file, flags, keywords, internal_date, internal_tz, size, raw_size,
                            crlf_clean, structure
                     FROM messages WHERE mailbox = ?1 AND uid = ?2",
                )
                .map_err(sql_err)?;
            let mut v = Vec::new();
            for uid in sorted_uids(uids) {
                let row: Option<Row> = st
                    .query_row(params![src.id, uid], |r| {
                        Ok((
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                            r.get(6)?,
                            r.get(7)?,
                            r.get(8)?,
                            r.get(9)?,
                            r.get(10)?,
                        ))
                    })
                    .optional()
                    .map_err(sql_err)?;
                v.extend(row);
            }
            v
        };
        if remove {
            // A move renames each file into the target (atomic: at every instant the
            // message is in exactly one directory, whenever the process dies), so the
            // source's UID high-water mark must already cover its UIDNEXT.
            let moving: Vec<Uid> = rows.iter().map(|r| r.0).collect();
            self.cover_uidnext(tx, &src, &moving)?;
        }
        let mut uid = dst.uidnext;
        let modseq = dst.highest_modseq + 1;
        let mut pairs = Vec::new();
        // Files made (copy) or moved here (move, with where each came from).
        let mut made: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
        // Originals of moves across filesystems, unlinked after the commit.
        let mut cross: Vec<PathBuf> = Vec::new();
        let mut dst_kf = KeywordFile::load(&dst_dir);
        let result = (|| -> Result<(), StoreError> {
            for (
                src_uid,
                base,
                file,
                flags,
                keywords,
                date,
                tz,
                size,
                raw_size,
                clean,
                structure,
            ) in &rows
            {
                if uid == u32::MAX {
                    return Err(StoreError::Corrupt("UIDs exhausted".into()));
                }
                let new_base = format!("{},U={uid},S={size}", unique_base());
                let letters = dst_kf.assign(&decode_keywords(keywords));
                dst_kf.save()?;
                let name = FileName::render(&new_base, Flags(*flags), &letters);
                let target = dst_cur.join(&name);
                let mut source = src_cur.join(file);
                if !source.exists() {
                    match locate(&src_cur, base)? {
                        Some(found) => source = src_cur.join(found),
                        None => continue, // vanished; the next sync records it
                    }
                }
                self.tracker
                    .own(&self.key, MailboxId(dst.id), target.clone());
                if remove {
                    self.tracker
                        .own(&self.key, MailboxId(src.id), source.clone());
                    match fs::rename(&source, &target) {
                        Ok(()) => made.push((target, Some(source))),
                        Err(e) if is_not_found(&e) => continue, // vanished meanwhile
                        Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices => {
                            // A mailbox on another filesystem (an operator's symlink):
                            // copy, and take the original out once the index commits.
                            copy_file(&source, &target, &dst_dir.join("tmp"))?;
                            made.push((target, None));
                            cross.push(source);
                        }
                        Err(e) => return Err(e.into()),
                    }
                } else {
                    if fs::hard_link(&source, &target).is_err() {
                        copy_file(&source, &target, &dst_dir.join("tmp"))?;
                    }
                    made.push((target, None));
                }
                exec(tx,
                    "INSERT INTO messages (mailbox, uid, base, file, flags, keywords, modseq, internal_date,
                         internal_tz, size, raw_size, crlf_clean, structure)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                    params![dst.id, uid, new_base, name, flags, keywords, modseq as i64, date, tz, size, raw_size, clean, structure],
                )
                .map_err(sql_err)?;
                // RFC 8474 5.1: the copy keeps its source's EMAILID (the insert trigger
                // gave it a fresh one, and the save date "now", RFC 8514 3).
                exec(
                    tx,
                    "UPDATE objects SET email_id = (SELECT email_id FROM objects
                         WHERE mailbox = ?3 AND uid = ?4)
                     WHERE mailbox = ?1 AND uid = ?2
                         AND EXISTS (SELECT 1 FROM objects WHERE mailbox = ?3 AND uid = ?4)",
                    params![dst.id, uid, src.id, src_uid],
                )
                .map_err(sql_err)?;
                pairs.push((*src_uid, uid));
                uid += 1;
            }
            sync_dir(&dst_cur)?;
            if remove && !made.is_empty() && src_cur != dst_cur {
                sync_dir(&src_cur)?;
            }
            exec(
                tx,
                "UPDATE mailboxes SET uidnext = ?2, highest_modseq = ?3 WHERE id = ?1",
                params![dst.id, uid, modseq as i64],
            )
            .map_err(sql_err)?;
            if remove && !pairs.is_empty() {
                // The source's rows become tombstones in the same transaction as the
                // target's rows: the index, too, has the message in exactly one place.
                // Re-read the row: a move within one mailbox has just changed it.
                let moved: Vec<Uid> = pairs.iter().map(|p| p.0).collect();
                let src = get_mailbox(tx, src.id)?;
                self.tombstones(tx, &src, &moved)?;
            }
            Ok(())
        })();
        // Not acknowledged unless the batch commits: then the files are undone (moved
        // ones go back where they were).
        eff.on_rollback(move || {
            for (p, from) in made.into_iter().rev() {
                match from {
                    Some(from) => {
                        let _ = fs::rename(&p, &from);
                    }
                    None => {
                        let _ = fs::remove_file(&p);
                    }
                }
            }
        });
        result?;
        if !cross.is_empty() {
            eff.on_commit(move || {
                for p in &cross {
                    let _ = fs::remove_file(p);
                }
                let _ = sync_dir(&src_cur);
            });
        }
        if !pairs.is_empty() {
            eff.changed(dst.id);
            if remove {
                eff.changed(src.id);
            }
        }
        Ok(CopyOutcome {
            uid_validity: dst.uidvalidity,
            pairs,
        })
    }
}
