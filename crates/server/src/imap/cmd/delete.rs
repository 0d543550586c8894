//! DELETE (RFC 3501 6.3.4): INBOX cannot be deleted; inferiors stay.

use super::Reply;
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
    let account = user.account.clone();
    let id = match account.mailbox(mailbox.as_str()).await {
        Ok(i) => i.id,
        Err(e) => return super::store_error(e),
    };
    if let Err(e) = account.delete_mailbox(mailbox.as_str()).await {
        return super::store_error(e);
    }
    if s.selected.as_ref().is_some_and(|sel| sel.id == id) {
        // The selected mailbox is gone: leave the selected state.
        s.selected = None;
        s.reg.set_state("authenticated");
    }
    Reply::ok("DELETE completed")
}
