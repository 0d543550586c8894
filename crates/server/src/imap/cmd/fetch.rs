//! FETCH and UID FETCH (RFC 3501 6.4.5, 6.4.8): resolves the set against the view, sets
//! `\Seen` first when the items imply it (read-write only), and writes one
//! `* n FETCH (...)` per message with the data rendered by [`crate::imap::fetch`].

use super::Reply;
use crate::imap::fetch::{fetch_data, sets_seen, MsgRef};
use crate::imap::session::Session;
use mailroom_proto::imap::command::FetchAttribute;
use mailroom_proto::imap::SequenceSet;
use mailroom_store::acl::Rights;
use mailroom_store::{FlagOp, Flags, StoreError};

pub(crate) async fn run(
    s: &mut Session,
    uid: bool,
    set: SequenceSet,
    mut attrs: Vec<FetchAttribute>,
) -> Reply {
    let Some(sel) = s.selected.as_mut() else {
        return Reply::bad("no mailbox selected");
    };
    let idx = match sel.resolve(&set, uid) {
        Ok(i) => i,
        Err(e) => return Reply::bad(&e),
    };
    if uid && !attrs.contains(&FetchAttribute::Uid) {
        attrs.insert(0, FetchAttribute::Uid);
    }
    let mut seen_now: Vec<u32> = Vec::new();
    // RFC 4314 section 4 (FETCH): without `s` the implicit `\Seen` is not set.
    if sets_seen(&attrs) && !sel.read_only && sel.rights.contains(Rights::SEEN) {
        let unseen: Vec<u32> = idx
            .iter()
            .map(|&i| &sel.msgs[i])
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
                            sel.msgs[i] = m;
                        }
                    }
                }
                Err(e) => return super::store_error(e),
            }
        }
    }
    let with_flags: Option<Vec<FetchAttribute>> =
        (!seen_now.is_empty() && !attrs.contains(&FetchAttribute::Flags)).then(|| {
            let mut a = attrs.clone();
            a.push(FetchAttribute::Flags);
            a
        });
    seen_now.sort_unstable();
    for i in idx {
        let Some(sel) = s.selected.as_ref() else {
            break;
        };
        let meta = &sel.msgs[i];
        let msg = MsgRef {
            seq: i as u32 + 1,
            meta,
            recent: sel.is_recent(meta.uid),
        };
        let these = match &with_flags {
            Some(a) if seen_now.binary_search(&meta.uid).is_ok() => a.as_slice(),
            _ => attrs.as_slice(),
        };
        let mark = s.out.len();
        s.out
            .extend_from_slice(format!("* {} FETCH ", i + 1).as_bytes());
        match fetch_data(&sel.account, sel.id, msg, these, &mut s.out).await {
            Ok(()) => s.out.extend_from_slice(b"\r\n"),
            Err(StoreError::NotFound(_)) => s.out.truncate(mark),
            Err(e) => {
                s.out.truncate(mark);
                return super::store_error(e);
            }
        }
        if s.maybe_flush().await.is_err() {
            s.closing = true;
            return Reply::sent();
        }
    }
    Reply::ok("FETCH completed")
}
