//! ENABLE (RFC 5161): no extension here needs enabling, so `* ENABLED` lists none.

use super::Reply;
use crate::imap::session::Session;

pub(crate) fn run(s: &mut Session, caps: Vec<String>) -> Reply {
    let _ = caps;
    s.untagged("ENABLED");
    Reply::ok("ENABLE completed")
}
