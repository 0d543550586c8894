//! LOGOUT (RFC 3501 6.1.3): `* BYE`, then the tagged OK, then the connection closes.

use super::Reply;
use crate::imap::session::Session;
use mailroom_proto::imap::encode::Status;

pub(crate) fn run(s: &mut Session) -> Reply {
    s.line(None, Status::Bye, None, "mailroom logging out");
    s.closing = true;
    s.selected = None;
    Reply::ok("LOGOUT completed")
}
