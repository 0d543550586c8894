//! CANCELUPDATE (RFC 5267 4.3.5): ends the update contexts of the named searching
//! commands ([`crate::imap::context`]). A tag that names no live context makes the
//! command BAD and cancels nothing.

use super::Reply;
use crate::imap::session::Session;

pub(crate) fn run(s: &mut Session, tags: &[String]) -> Reply {
    if s.contexts.cancel(tags) {
        Reply::ok("no further updates")
    } else {
        Reply::bad("no update context has that tag")
    }
}
