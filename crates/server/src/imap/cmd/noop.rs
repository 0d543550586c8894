//! NOOP (RFC 3501 6.1.2): the session sends pending updates at its end.

use super::Reply;
use crate::imap::session::Session;

pub(crate) async fn run(s: &mut Session) -> Reply {
    if let Some(sel) = &s.selected {
        if let Err(e) = sel.account.sync(sel.id).await {
            tracing::debug!(error = %e, "sync failed");
        }
    }
    Reply::ok("NOOP completed")
}
