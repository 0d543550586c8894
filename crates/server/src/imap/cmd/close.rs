//! CLOSE (RFC 3501 6.4.2): silently expunges `\Deleted` messages (read-write only) and
//! leaves the selected state; no untagged EXPUNGE is sent.

use super::Reply;
use crate::imap::session::Session;

pub(crate) async fn run(s: &mut Session) -> Reply {
    let Some(sel) = s.selected.take() else {
        return Reply::bad("no mailbox selected");
    };
    s.reg.set_state("authenticated");
    if !sel.read_only {
        if let Some(u) = &s.user {
            if let Err(e) = u.account.expunge(sel.id, None, false).await {
                return super::store_error(e);
            }
        }
    }
    Reply::ok("CLOSE completed")
}
