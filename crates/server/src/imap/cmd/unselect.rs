//! UNSELECT (RFC 3691): leaves the selected state without expunging.

use super::Reply;
use crate::imap::session::Session;

pub(crate) fn run(s: &mut Session) -> Reply {
    s.selected = None;
    s.reg.set_state("authenticated");
    Reply::ok("UNSELECT completed")
}
