//! CLOSE (RFC 3501 6.4.2): silently expunges `\Deleted` messages (read-write only) and
//! leaves the selected state; no untagged EXPUNGE is sent.

use super::Reply;
use crate::imap::session::Session;
use mailroom_store::acl::Rights;

pub(crate) async fn run(s: &mut Session) -> Reply {
    let Some(sel) = s.selected.take() else {
        return Reply::bad("no mailbox selected");
    };
    s.reg.set_state("authenticated");
    // RFC 4314 section 4: without `e` CLOSE removes nothing and still succeeds.
    if !sel.read_only && sel.rights.contains(Rights::EXPUNGE) {
        // Hidden `$Service` messages stay (I12).
        let subset = if sel.hide_service {
            match crate::service::expunge_subset(&*sel.account, sel.id).await {
                Ok(s) => s,
                Err(e) => return super::store_error(e),
            }
        } else {
            None
        };
        if subset.as_ref().is_some_and(|v| v.is_empty()) {
            return Reply::ok("CLOSE completed");
        }
        if let Err(e) = sel.account.expunge(sel.id, subset.as_deref(), false).await {
            return super::store_error(e);
        }
    }
    Reply::ok("CLOSE completed")
}
