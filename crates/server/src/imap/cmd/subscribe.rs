//! SUBSCRIBE and UNSUBSCRIBE (RFC 3501 6.3.6, 6.3.7).

use super::Reply;
use crate::imap::session::Session;
use mailroom_proto::imap::Mailbox;

pub(crate) async fn run(s: &mut Session, mailbox: Mailbox, on: bool) -> Reply {
    let Some(user) = &s.user else {
        return Reply::bad("log in first");
    };
    if on {
        if let Err(e) = user.account.mailbox(mailbox.as_str()).await {
            return super::store_error(e);
        }
    }
    match user.account.set_subscribed(mailbox.as_str(), on).await {
        Ok(()) if on => Reply::ok("SUBSCRIBE completed"),
        Ok(()) => Reply::ok("UNSUBSCRIBE completed"),
        Err(e) => super::store_error(e),
    }
}
