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
        if let Err(e) = sel.account.expunge(sel.id, None, false).await {
            return super::store_error(e);
        }
    }
    Reply::ok("CLOSE completed")
}
