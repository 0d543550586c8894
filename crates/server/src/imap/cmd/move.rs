//! MOVE and UID MOVE (RFC 6851): `* OK [COPYUID ...]` untagged, then the EXPUNGEs (from
//! the session's update), then the tagged OK.

use super::Reply;
use crate::imap::session::Session;
use mailroom_proto::imap::encode::{ResponseCode, Status};
use mailroom_proto::imap::{Mailbox, SequenceSet};
use mailroom_store::StoreError;

pub(crate) async fn run(s: &mut Session, uid: bool, set: SequenceSet, mailbox: Mailbox) -> Reply {
    let (Some(user), Some(sel)) = (&s.user, s.selected.as_mut()) else {
        return Reply::bad("no mailbox selected");
    };
    let idx = match sel.resolve(&set, uid) {
        Ok(i) => i,
        Err(e) => return Reply::bad(&e),
    };
    if sel.read_only {
        return Reply::no(Some(ResponseCode::ReadOnly), "mailbox is read-only");
    }
    let target = match user.account.mailbox(mailbox.as_str()).await {
        Ok(t) => t,
        Err(StoreError::NotFound(_)) => {
            return Reply::no(Some(ResponseCode::TryCreate), "no such mailbox")
        }
        Err(e) => return super::store_error(e),
    };
    if target.id == sel.id {
        return Reply::no(
            Some(ResponseCode::Cannot),
            "source and destination are the same mailbox",
        );
    }
    let uids: Vec<u32> = idx
        .iter()
        .map(|&i| sel.msgs[i].uid)
        .filter(|u| sel.gone.binary_search(u).is_err())
        .collect();
    if uids.is_empty() {
        return Reply::ok("MOVE completed (nothing to move)");
    }
    let o = match user.account.move_messages(sel.id, &uids, target.id).await {
        Ok(o) => o,
        Err(e) => return super::store_error(e),
    };
    for (src, _) in &o.pairs {
        if let Err(i) = sel.gone.binary_search(src) {
            sel.gone.insert(i, *src);
        }
    }
    if !o.pairs.is_empty() {
        let (source, dest) = o.pairs.iter().copied().unzip();
        let code = ResponseCode::CopyUid {
            validity: o.uid_validity,
            source,
            dest,
        };
        s.line(None, Status::Ok, Some(&code), "moved");
    }
    Reply::ok("MOVE completed")
}
