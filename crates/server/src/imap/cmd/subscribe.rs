//! SUBSCRIBE and UNSUBSCRIBE (RFC 3501 6.3.6, 6.3.7).

use super::Reply;
use crate::access::{self, Op};
use crate::imap::session::Session;
use mailroom_proto::imap::Mailbox;

pub(crate) async fn run(s: &mut Session, mailbox: Mailbox, on: bool) -> Reply {
    let Some(user) = &s.user else {
        return Reply::bad("log in first");
    };
    // Names are kept in their client-visible form (foreign ones `~account/box`, I5), so LSUB and
    // LIST (SUBSCRIBED) show them to clients that know nothing of namespaces.
    let mut name = mailbox.as_str().to_string();
    if on {
        match access::check(&s.ctx, &user.info, mailbox.as_str(), Op::Subscribe).await {
            Ok(o) => name = access::client_name(&user.info, &o.owner, &o.mailbox.name),
            Err(e) => return super::access_error(e),
        }
    } else if let Ok((owner, inner)) =
        access::resolve_owner(&s.ctx, &user.info, mailbox.as_str()).await
    {
        // The same spelling SUBSCRIBE stored (`~Alice/x` and `~alice/x` are one name).
        name = access::client_name(&user.info, &owner, &inner);
    }
    match user.account.set_subscribed(&name, on).await {
        Ok(()) if on => Reply::ok("SUBSCRIBE completed"),
        Ok(()) => Reply::ok("UNSUBSCRIBE completed"),
        Err(e) => super::store_error(e),
    }
}
