//! STORE and UID STORE (RFC 3501 6.4.6): `FLAGS`, `+FLAGS`, `-FLAGS`, `.SILENT`; the
//! untagged FETCH carries FLAGS (and UID for UID STORE, MODSEQ once CONDSTORE is on).
//! Nothing changes under EXAMINE. `(UNCHANGEDSINCE n)` (RFC 7162 3.1.3) changes only the
//! messages not changed since modseq n, tested and changed atomically by the store; the
//! others are named in `[MODIFIED set]`, and every message that passed gets a FETCH with
//! its MODSEQ, `.SILENT` or not.

use super::Reply;
use crate::access;
use crate::imap::session::Session;
use crate::imap::view::write_flags;
use crate::service::is_service;
use mailroom_proto::imap::command::StoreMode;
use mailroom_proto::imap::encode::ResponseCode;
use mailroom_proto::imap::{Flag, SequenceSet};
use mailroom_store::{FlagOp, Flags, ModSeq};

/// One STORE command.
pub(crate) struct Request {
    pub uid: bool,
    pub set: SequenceSet,
    pub mode: StoreMode,
    pub silent: bool,
    pub flags: Vec<Flag>,
    pub unchanged_since: Option<ModSeq>,
}

pub(crate) async fn run(s: &mut Session, req: Request) -> Reply {
    let Request {
        uid,
        set,
        mode,
        silent,
        flags,
        unchanged_since,
    } = req;
    let Some(sel) = s.selected.as_mut() else {
        return Reply::bad("no mailbox selected");
    };
    let idx = match sel.resolve(&set, uid) {
        Ok(i) => i,
        Err(e) => return Reply::bad(&e),
    };
    if sel.read_only {
        return Reply::no(Some(ResponseCode::ReadOnly), "mailbox is read-only");
    }
    let (f, kw) = match super::split_flags(&flags) {
        Ok(x) => x,
        Err(why) => return Reply::bad(&why),
    };
    // RFC 4314 section 4 (STORE): `\Seen` needs `s`, `\Deleted` `t`, the others `w`;
    // flags the user may not change are silently left alone, and the command fails only
    // when nothing it names may be changed.
    let (may_seen, may_deleted, may_other) = access::allowed_flags(sel.rights);
    let mut allowed = Flags::EMPTY;
    if may_seen {
        allowed = allowed.union(Flags::SEEN);
    }
    if may_deleted {
        allowed = allowed.union(Flags::DELETED);
    }
    if may_other {
        allowed = allowed.union(Flags::ANSWERED.union(Flags::FLAGGED).union(Flags::DRAFT));
    }
    let asked_something = !f.is_empty() || !kw.is_empty();
    let kept = Flags(f.0 & allowed.0);
    let kw: Vec<String> = if may_other { kw } else { Vec::new() };
    if allowed.is_empty() || (asked_something && kept.is_empty() && kw.is_empty()) {
        return Reply::no(Some(ResponseCode::NoPerm), "permission denied");
    }
    let f = kept;
    let full = may_seen && may_deleted && may_other;
    let op = match mode {
        StoreMode::Replace if full => FlagOp::Set,
        StoreMode::Replace => FlagOp::Add,
        StoreMode::Add => FlagOp::Add,
        StoreMode::Remove => FlagOp::Remove,
    };
    // Messages expunged elsewhere but still in the view are left alone.
    let idx: Vec<usize> = idx
        .into_iter()
        .filter(|&i| sel.gone.binary_search(&sel.uid_at(i)).is_err())
        .collect();
    let uids: Vec<u32> = idx.iter().map(|&i| sel.uid_at(i)).collect();
    if uids.is_empty() {
        return Reply::ok("STORE completed");
    }
    // The service view (I12): messages whose `$Service` this STORE removes reappear in
    // every other view, under new UIDs (see `crate::service`).
    let had_service: Vec<u32> = if sel.hide_service {
        Vec::new()
    } else {
        idx.iter()
            .filter_map(|&i| sel.msgs.get(i))
            .filter(|m| is_service(m.keywords))
            .map(|m| m.uid)
            .collect()
    };
    let (mut changed, failed) = match unchanged_since {
        None => match sel.account.store_flags(sel.id, &uids, op, f, &kw).await {
            Ok(c) => (c, Vec::new()),
            Err(e) => return super::store_error(e),
        },
        Some(since) => match sel
            .account
            .store_flags_unchanged_since(sel.id, &uids, op, f, &kw, since)
            .await
        {
            Ok(x) => x,
            Err(e) => return super::store_error(e),
        },
    };
    // What failed UNCHANGEDSINCE is left alone by the rest of the command.
    let (idx, uids): (Vec<usize>, Vec<u32>) = if failed.is_empty() {
        (idx, uids)
    } else {
        idx.into_iter()
            .zip(uids)
            .filter(|(_, u)| failed.binary_search(u).is_err())
            .unzip()
    };
    if mode == StoreMode::Replace && !full {
        // A partial replace: clear the permitted flags (and, with `w`, keywords) that
        // are not in the new list; the others stay as they are.
        let clear = allowed.difference(f);
        let mut clear_kw: Vec<String> = Vec::new();
        if may_other {
            for m in idx.iter().filter_map(|&i| sel.msgs.get(i)) {
                for k in m.keywords {
                    if !kw.iter().any(|x| x.eq_ignore_ascii_case(k))
                        && !clear_kw.iter().any(|x| x.eq_ignore_ascii_case(k))
                    {
                        clear_kw.push(k.clone());
                    }
                }
            }
        }
        if !uids.is_empty() && (!clear.is_empty() || !clear_kw.is_empty()) {
            match sel
                .account
                .store_flags(sel.id, &uids, FlagOp::Remove, clear, &clear_kw)
                .await
            {
                Ok(c) => changed.extend(c),
                Err(e) => return super::store_error(e),
            }
        }
    }
    let mut changed_uids: Vec<u32> = changed.iter().map(|m| m.uid).collect();
    changed_uids.sort_unstable();
    let mut new_keywords = false;
    for m in changed {
        if let Some(i) = sel.index_of(m.uid) {
            new_keywords |= sel.learn_keywords(&m.keywords);
            sel.msgs.set(i, m);
        }
    }
    // RFC 3501 7.2.6: a keyword new to the mailbox is announced (FLAGS, PERMANENTFLAGS)
    // before the FETCH that shows it, and with .SILENT too (the flag list changed).
    if new_keywords {
        sel.write_flags_lines(&mut s.out);
    }
    // RFC 7162 3.1.3: with UNCHANGEDSINCE every message that passed gets a FETCH with
    // its MODSEQ, even with .SILENT; MODSEQ is in every FETCH once CONDSTORE is on, and
    // a .SILENT STORE then still reports the new MODSEQ of what it changed (example 14).
    let with_modseq = s.condstore;
    let with_uid = s.qresync;
    let uidonly = s.uidonly;
    if !silent || unchanged_since.is_some() || with_modseq {
        for &i in &idx {
            let Some(m) = sel.msgs.get(i) else { continue };
            if silent && unchanged_since.is_none() && changed_uids.binary_search(&m.uid).is_err() {
                continue;
            }
            let recent = sel.is_recent(m.uid);
            let mut items: Vec<String> = Vec::new();
            if !silent {
                let mut f = Vec::new();
                write_flags(&mut f, m, recent);
                items.push(format!("FLAGS {}", String::from_utf8_lossy(&f)));
            }
            // RFC 7162 3.2.4: UID in every untagged FETCH once QRESYNC is on (not in a
            // UIDFETCH, which names it, RFC 9586 3.3).
            if (uid || with_uid) && !uidonly {
                items.push(format!("UID {}", m.uid));
            }
            if with_modseq {
                items.push(format!("MODSEQ ({})", m.modseq));
            }
            if items.is_empty() {
                items.push(format!("UID {}", m.uid));
            }
            let prefix = crate::imap::session::fetch_prefix(uidonly, i + 1, m.uid);
            s.out
                .extend_from_slice(format!("{prefix}({})\r\n", items.join(" ")).as_bytes());
        }
    }
    let reappear: Vec<u32> = had_service
        .into_iter()
        .filter(|&u| {
            sel.index_of(u)
                .and_then(|i| sel.msgs.get(i))
                .is_some_and(|m| !is_service(m.keywords))
        })
        .collect();
    if !reappear.is_empty() {
        // Moved within the mailbox (one store transaction: new UIDs, the originals
        // expunged): this session sees the EXPUNGE and EXISTS at its next update, like
        // every other one.
        if let Err(e) = sel.account.move_messages(sel.id, &reappear, sel.id).await {
            return super::store_error(e);
        }
    }
    if !failed.is_empty() {
        // RFC 7162 3.1.3: sequence numbers for STORE, UIDs for UID STORE.
        let set: Vec<u32> = if uid {
            failed
        } else {
            failed
                .iter()
                .filter_map(|&u| sel.index_of(u).map(|i| i as u32 + 1))
                .collect()
        };
        return Reply::ok_code(
            ResponseCode::Modified(set),
            "conditional STORE completed, some messages were modified meanwhile",
        );
    }
    Reply::ok("STORE completed")
}
