//! DELETE (RFC 3501 6.3.4): INBOX cannot be deleted; inferiors stay.

use super::Reply;
use crate::access::{self, Op};
use crate::imap::session::Session;
use mailroom_proto::imap::encode::ResponseCode;
use mailroom_proto::imap::Mailbox;

pub(crate) async fn run(s: &mut Session, mailbox: Mailbox) -> Reply {
    let Some(user) = &s.user else {
        return Reply::bad("log in first");
    };
    if mailbox.is_inbox() {
        return Reply::no(Some(ResponseCode::Cannot), "INBOX cannot be deleted");
    }
    // RFC 4314 section 4: `x` on the mailbox.
    let o = match access::check(&s.ctx, &user.info, mailbox.as_str(), Op::Delete).await {
        Ok(o) => o,
        Err(e) => return super::access_error(e),
    };
    if o.mailbox.name == "INBOX" {
        return Reply::no(Some(ResponseCode::Cannot), "INBOX cannot be deleted");
    }
    let id = o.mailbox.id;
    if let Err(e) = o.account.delete_mailbox(&o.mailbox.name).await {
        return super::store_error(e);
    }
    if s.selected
        .as_ref()
        .is_some_and(|sel| sel.id == id && sel.account.key() == &o.key)
    {
        // The selected mailbox is gone: leave the selected state.
        s.selected = None;
        s.reg.set_state("authenticated");
    }
    Reply::ok("DELETE completed")
}
