//! NAMESPACE (RFC 2342): personal `""`, other users `~`, shared `~public/`; delimiter `/`.

use super::Reply;
use crate::imap::session::Session;

pub(crate) fn run(s: &mut Session) -> Reply {
    s.untagged(r#"NAMESPACE (("" "/")) (("~" "/")) (("~public/" "/"))"#);
    Reply::ok("NAMESPACE completed")
}
