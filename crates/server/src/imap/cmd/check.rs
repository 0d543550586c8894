//! CHECK (RFC 3501 6.4.1): a checkpoint; picks up outside changes like NOOP.

use super::Reply;
use crate::imap::session::Session;

pub(crate) async fn run(s: &mut Session) -> Reply {
    if let Some(sel) = &s.selected {
        if let Err(e) = sel.account.sync(sel.id).await {
            tracing::debug!(error = %e, "sync failed");
        }
    }
    Reply::ok("CHECK completed")
}
