//! EXPUNGE (RFC 3501 6.4.3) and UID EXPUNGE (RFC 4315 2.1): the untagged EXPUNGE
//! responses come from the session's update at the end of the command.

use super::Reply;
use crate::imap::session::Session;
use mailroom_proto::imap::encode::ResponseCode;
use mailroom_proto::imap::SequenceSet;
use mailroom_store::acl::Rights;

pub(crate) async fn run(s: &mut Session, uids: Option<SequenceSet>) -> Reply {
    let Some(sel) = s.selected.as_mut() else {
        return Reply::bad("no mailbox selected");
    };
    if sel.read_only {
        return Reply::no(Some(ResponseCode::ReadOnly), "mailbox is read-only");
    }
    let subset: Option<Vec<u32>> = match &uids {
        // Hidden `$Service` messages stay (I12).
        None if sel.hide_service => {
            match crate::service::expunge_subset(&*sel.account, sel.id).await {
                Ok(s) => s,
                Err(e) => return super::store_error(e),
            }
        }
        None => None,
        Some(set) => match sel.resolve(set, true) {
            Ok(ix) => Some(ix.iter().map(|&i| sel.uid_at(i)).collect()),
            Err(e) => return Reply::bad(&e),
        },
    };
    if subset.as_ref().is_some_and(|v| v.is_empty()) {
        return if uids.is_some() {
            Reply::ok("UID EXPUNGE completed (nothing to do)")
        } else {
            Reply::ok("EXPUNGE completed")
        };
    }
    // RFC 4314 section 4 (EXPUNGE): without `e` nothing is removed and the answer is OK.
    if !sel.rights.contains(Rights::EXPUNGE) {
        return Reply::ok("EXPUNGE completed (no expunge right: nothing removed)");
    }
    match sel.account.expunge(sel.id, subset.as_deref(), false).await {
        Ok(gone) => {
            // RFC 7162 3.2.7, 3.2.8: once QRESYNC is on, the tagged OK of an EXPUNGE
            // that removed something carries the mailbox's new HIGHESTMODSEQ.
            let code = if s.qresync && !gone.is_empty() {
                match sel.account.status(sel.id).await {
                    Ok(st) => Some(ResponseCode::HighestModSeq(st.highest_modseq)),
                    Err(e) => return super::store_error(e),
                }
            } else {
                None
            };
            for u in gone {
                if sel.index_of(u).is_some() {
                    if let Err(i) = sel.gone.binary_search(&u) {
                        sel.gone.insert(i, u);
                    }
                }
            }
            match code {
                Some(c) => Reply::ok_code(c, "EXPUNGE completed"),
                None => Reply::ok("EXPUNGE completed"),
            }
        }
        Err(e) => super::store_error(e),
    }
}
