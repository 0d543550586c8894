//! UNAUTHENTICATE (RFC 8437): back to the not authenticated state on the same connection.
//! Everything but TLS is reset (section 3, 4.1): the selected mailbox (no expunge), the
//! user, what ENABLE and CONDSTORE enabling commands turned on, the saved search result;
//! the connection counts again against its address's pre-login limit and gets a new
//! login deadline. Never `NO` (section 3): when the pre-login limit is full the
//! connection is closed with `BYE`.

use super::Reply;
use crate::imap::session::Session;

pub(crate) fn run(s: &mut Session) -> Reply {
    s.selected = None;
    s.notify = None;
    s.user = None;
    s.userip = None;
    s.condstore = false;
    s.qresync = false;
    s.uidonly = false;
    s.service_view = false;
    s.imap4rev2 = false;
    s.utf8_accept = false;
    s.reg.clear_account();
    s.reg.set_state("not authenticated");
    s.login_deadline = tokio::time::Instant::now()
        + std::time::Duration::from_secs(s.ctx.config().imap.login_timeout_secs.max(1));
    match s.ctx.limits.prelogin(s.info.peer.map(|a| a.ip())) {
        Some(slot) => s.prelogin = Some(slot),
        None => {
            tracing::warn!(peer = ?s.info.peer, "too many connections before login from this address, closing after UNAUTHENTICATE");
            s.untagged("BYE [UNAVAILABLE] too many connections from your address before login, try again later");
            s.closing = true;
            return Reply::sent();
        }
    }
    Reply::ok("UNAUTHENTICATE completed")
}
