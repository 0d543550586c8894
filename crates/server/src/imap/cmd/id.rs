//! ID (RFC 2971): the server's identification.

use super::Reply;
use crate::imap::session::Session;

pub(crate) fn run(s: &mut Session) -> Reply {
    s.untagged(&format!(
        "ID (\"name\" \"mailroom\" \"version\" \"{}\")",
        env!("CARGO_PKG_VERSION")
    ));
    Reply::ok("ID completed")
}
