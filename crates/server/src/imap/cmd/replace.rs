//! REPLACE and UID REPLACE (RFC 8508): APPEND of the new message to the named mailbox
//! (everything APPEND checks, [`super::append`]; the quota net of the replaced message
//! when both are in one account, 3.4), then the replaced message removed from the
//! selected mailbox as by UID EXPUNGE, as one action to the client: `* OK
//! [APPENDUID ...] Replacement Message ready`, the EXPUNGE (or VANISHED) with the
//! command's updates, then the tagged OK. Nothing is removed when the append fails.

use super::Reply;
use crate::access::{self, Op};
use crate::imap::session::Session;
use mailroom_proto::imap::command::AppendMessage;
use mailroom_proto::imap::encode::{ResponseCode, Status};
use mailroom_proto::imap::{Mailbox, SequenceSet};

pub(crate) async fn run(
    s: &mut Session,
    uid: bool,
    set: SequenceSet,
    mailbox: Mailbox,
    message: AppendMessage,
) -> Reply {
    let Some(sel) = s.selected.as_ref() else {
        return Reply::bad("no mailbox selected");
    };
    let idx = match sel.resolve(&set, uid) {
        Ok(i) => i,
        Err(e) => return Reply::bad(&e),
    };
    let Some(old) = idx
        .first()
        .map(|&i| sel.uid_at(i))
        .filter(|u| sel.gone.binary_search(u).is_err())
    else {
        return Reply::no(Some(ResponseCode::NonExistent), "no such message");
    };
    if sel.read_only {
        return Reply::no(Some(ResponseCode::ReadOnly), "mailbox is read-only");
    }
    // The replaced message is removed as by UID EXPUNGE: `t` and `e` (RFC 4314).
    if !access::allows(sel.rights, Op::MoveFrom) {
        return Reply::no(Some(ResponseCode::NoPerm), "permission denied");
    }
    // RFC 8508 3.4: the quota counts the net change when both are in one account.
    let credit = idx
        .first()
        .and_then(|&i| sel.msgs.get(i))
        .map(|m| super::append::Credit {
            key: sel.account.key().clone(),
            bytes: m.size,
        });
    let r = Box::pin(super::append::run_with_credit(
        s,
        mailbox,
        vec![message],
        credit,
    ))
    .await;
    if r.status != Status::Ok {
        return r;
    }
    s.line(
        None,
        Status::Ok,
        r.code.as_ref(),
        "Replacement Message ready",
    );
    let Some(sel) = s.selected.as_ref() else {
        return Reply::bad("no mailbox selected");
    };
    if let Err(e) = sel.account.expunge(sel.id, Some(&[old]), true).await {
        tracing::warn!(error = %e, uid = old, "REPLACE: the new message is stored, the old one could not be removed");
        return super::store_error(e);
    }
    Reply::ok("REPLACE completed")
}
