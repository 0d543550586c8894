//! COPY and UID COPY (RFC 3501 6.4.7, RFC 4315 COPYUID): flags and internal dates kept.

use super::Reply;
use crate::imap::session::Session;
use mailroom_proto::imap::encode::ResponseCode;
use mailroom_proto::imap::{Mailbox, SequenceSet};
use mailroom_store::StoreError;

pub(crate) async fn run(s: &mut Session, uid: bool, set: SequenceSet, mailbox: Mailbox) -> Reply {
    let (Some(user), Some(sel)) = (&s.user, s.selected.as_ref()) else {
        return Reply::bad("no mailbox selected");
    };
    let idx = match sel.resolve(&set, uid) {
        Ok(i) => i,
        Err(e) => return Reply::bad(&e),
    };
    let target = match user.account.mailbox(mailbox.as_str()).await {
        Ok(t) => t,
        Err(StoreError::NotFound(_)) => {
            return Reply::no(Some(ResponseCode::TryCreate), "no such mailbox")
        }
        Err(e) => return super::store_error(e),
    };
    let uids: Vec<u32> = idx.iter().map(|&i| sel.msgs[i].uid).collect();
    if uids.is_empty() {
        return Reply::ok("COPY completed (nothing to copy)");
    }
    match user.account.copy(sel.id, &uids, target.id).await {
        Ok(o) if o.pairs.is_empty() => Reply::ok("COPY completed"),
        Ok(o) => {
            let (source, dest) = o.pairs.iter().copied().unzip();
            Reply::ok_code(
                ResponseCode::CopyUid {
                    validity: o.uid_validity,
                    source,
                    dest,
                },
                "COPY completed",
            )
        }
        Err(e) => super::store_error(e),
    }
}
