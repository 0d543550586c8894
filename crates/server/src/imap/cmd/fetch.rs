//! FETCH and UID FETCH (RFC 3501 6.4.5, 6.4.8; RFC 9394 PARTIAL): resolves the set against the view, sets
//! `\Seen` first when the items imply it (read-write only), and writes one
//! `* n FETCH (...)` per message with the data rendered by [`crate::imap::fetch`]: body
//! sections are streamed from the store into the session's output, which is written to
//! the client whenever it holds [`FLUSH_AT`] octets.

use super::Reply;
use crate::imap::fetch::{prepare_with, sets_seen, MsgRef};
use crate::imap::session::Session;
use crate::imap::session::FLUSH_AT;
use mailroom_proto::imap::command::{FetchAttribute, PartialRange};
use mailroom_proto::imap::encode::compress_set;
use mailroom_proto::imap::SequenceSet;
use mailroom_store::acl::Rights;
use mailroom_store::{FlagOp, Flags, StoreError};

pub(crate) async fn run(
    s: &mut Session,
    uid: bool,
    set: SequenceSet,
    mut attrs: Vec<FetchAttribute>,
    changed: Option<(u64, bool)>,
    partial: Option<PartialRange>,
) -> Reply {
    let changed_since = changed.map(|(since, _)| since);
    let vanished = changed.is_some_and(|(_, v)| v);
    let Some(sel) = s.selected.as_mut() else {
        return Reply::bad("no mailbox selected");
    };
    let mut idx = match sel.resolve(&set, uid) {
        Ok(i) => i,
        Err(e) => return Reply::bad(&e),
    };
    if uid && !attrs.contains(&FetchAttribute::Uid) {
        attrs.insert(0, FetchAttribute::Uid);
    }
    // RFC 9586 3.3: a UIDFETCH response names the UID; the UID item is left out (unless
    // it is all that was asked).
    let uidonly = s.uidonly;
    if uidonly && attrs.iter().any(|a| *a != FetchAttribute::Uid) {
        attrs.retain(|a| *a != FetchAttribute::Uid);
    }
    // RFC 7162 3.1.4.1: CHANGEDSINCE keeps the messages whose modseq is above it and
    // implies the MODSEQ item.
    if let Some(since) = changed_since {
        idx.retain(|&i| sel.msgs.get(i).is_some_and(|m| m.modseq > since));
        if !attrs.contains(&FetchAttribute::ModSeq) {
            attrs.push(FetchAttribute::ModSeq);
        }
        // RFC 7162 3.2.6: UID FETCH (CHANGEDSINCE n VANISHED) first names the UIDs of
        // the set expunged after n, as `VANISHED (EARLIER)`.
        if vanished {
            let ch = match sel.account.changes_since(sel.id, since).await {
                Ok(c) => c,
                Err(e) => return super::store_error(e),
            };
            let largest = sel
                .uid_at(sel.msgs.len().saturating_sub(1))
                .max(sel.uid_next.saturating_sub(1));
            let gone: Vec<u32> = ch
                .expunged
                .iter()
                .copied()
                .filter(|&u| set.contains(u, largest) && sel.index_of(u).is_none())
                .collect();
            if !gone.is_empty() {
                s.out.extend_from_slice(
                    format!("* VANISHED (EARLIER) {}\r\n", compress_set(&gone)).as_bytes(),
                );
            }
        }
    }
    // RFC 9394 3.3: only the messages of the range among those of the set (after
    // CHANGEDSINCE), in UID order.
    if let Some(p) = partial {
        idx.sort_unstable();
        let r = p.indices(idx.len());
        idx = idx.get(r).map(<[usize]>::to_vec).unwrap_or_default();
    }
    let mut seen_now: Vec<u32> = Vec::new();
    // RFC 4314 section 4 (FETCH): without `s` the implicit `\Seen` is not set.
    if sets_seen(&attrs) && !sel.read_only && sel.rights.contains(Rights::SEEN) {
        let unseen: Vec<u32> = idx
            .iter()
            .filter_map(|&i| sel.msgs.get(i))
            .filter(|m| !m.flags.contains(Flags::SEEN))
            .map(|m| m.uid)
            .collect();
        if !unseen.is_empty() {
            match sel
                .account
                .store_flags(sel.id, &unseen, FlagOp::Add, Flags::SEEN, &[])
                .await
            {
                Ok(changed) => {
                    for m in changed {
                        if let Some(i) = sel.index_of(m.uid) {
                            seen_now.push(m.uid);
                            sel.msgs.set(i, m);
                        }
                    }
                }
                Err(e) => return super::store_error(e),
            }
        }
    }
    // The FETCH of a message whose `\Seen` it set carries FLAGS, and once CONDSTORE is
    // on MODSEQ (RFC 7162 3.1; 3.2.4 with QRESYNC, where UID FETCH has UID already).
    let condstore = s.condstore;
    let qresync = s.qresync;
    let utf8 = s.utf8();
    let missing = |a: &FetchAttribute| !attrs.contains(a);
    let with_flags: Option<Vec<FetchAttribute>> = (!seen_now.is_empty()
        && (missing(&FetchAttribute::Flags)
            || (condstore && missing(&FetchAttribute::ModSeq))
            || (qresync && !uidonly && missing(&FetchAttribute::Uid))))
    .then(|| {
        let mut a = attrs.clone();
        if missing(&FetchAttribute::Flags) {
            a.push(FetchAttribute::Flags);
        }
        if condstore && missing(&FetchAttribute::ModSeq) {
            a.push(FetchAttribute::ModSeq);
        }
        if qresync && !uidonly && missing(&FetchAttribute::Uid) {
            a.insert(0, FetchAttribute::Uid);
        }
        a
    });
    seen_now.sort_unstable();
    // RFC 8474/8514 items: the object rows of every message of the set in one read.
    let objects = if attrs.iter().any(|a| {
        matches!(
            a,
            FetchAttribute::SaveDate | FetchAttribute::EmailId | FetchAttribute::ThreadId
        )
    }) {
        let Some(sel) = s.selected.as_ref() else {
            return Reply::bad("no mailbox selected");
        };
        let uids: Vec<u32> = idx.iter().map(|&i| sel.uid_at(i)).collect();
        match sel.account.objects(sel.id, &uids).await {
            Ok(o) => o,
            Err(e) => return super::store_error(e),
        }
    } else {
        Vec::new()
    };
    for i in idx {
        let Some(sel) = s.selected.as_ref() else {
            break;
        };
        let Some(meta) = sel.msgs.get(i) else {
            continue;
        };
        let msg = MsgRef {
            seq: i as u32 + 1,
            meta,
            recent: sel.is_recent(meta.uid),
        };
        let these = match &with_flags {
            Some(a) if seen_now.binary_search(&meta.uid).is_ok() => a.as_slice(),
            _ => attrs.as_slice(),
        };
        let object = objects
            .binary_search_by_key(&meta.uid, |o| o.uid)
            .ok()
            .and_then(|k| objects.get(k));
        let response = match prepare_with(&sel.account, sel.id, msg, these, object, utf8).await {
            Ok(r) => r,
            Err(StoreError::NotFound(_)) => continue,
            Err(StoreError::Invalid(why)) if why.starts_with(crate::imap::fetch::UNKNOWN_CTE) => {
                return Reply::no(
                    Some(mailroom_proto::imap::encode::ResponseCode::UnknownCte),
                    &why,
                )
            }
            Err(e) => return super::store_error(e),
        };
        let prefix = crate::imap::session::fetch_prefix(uidonly, i + 1, meta.uid);
        s.out.extend_from_slice(prefix.as_bytes());
        // A failure while streaming leaves a literal cut short: the connection ends.
        let written = response.write(&mut s.out, &mut s.stream, FLUSH_AT).await;
        s.out.extend_from_slice(b"\r\n");
        if written.is_err() || s.maybe_flush().await.is_err() {
            if let Err(e) = written {
                tracing::warn!(error = %e, "FETCH cut short");
            }
            s.closing = true;
            return Reply::sent();
        }
    }
    Reply::ok("FETCH completed")
}
