//! FETCH data items (RFC 3501 6.4.5, 7.4.2): rendering of one message's FETCH response.
//! (Interface fixed; implementation being written.)

use mailroom_proto::imap::command::FetchAttribute;
use mailroom_store::{Account, MailboxId, MessageMeta, StoreError};
use std::sync::Arc;

/// One message as FETCH and SEARCH see it in a session's view of a mailbox.
#[derive(Clone, Copy, Debug)]
pub struct MsgRef<'a> {
    /// Its message sequence number in the session's view.
    pub seq: u32,
    /// Its metadata (flags as they are now, after any `\Seen` the FETCH itself set).
    pub meta: &'a MessageMeta,
    /// `\Recent` for this session.
    pub recent: bool,
}

/// True when fetching `attrs` sets `\Seen` (RFC 3501 6.4.5: `BODY[...]` without `.PEEK`,
/// `RFC822`, `RFC822.TEXT`).
pub fn sets_seen(attrs: &[FetchAttribute]) -> bool {
    attrs.iter().any(|a| {
        matches!(
            a,
            FetchAttribute::Rfc822
                | FetchAttribute::Rfc822Text
                | FetchAttribute::BodySection { peek: false, .. }
        )
    })
}

/// Appends the parenthesised data of one FETCH response, `(UID 4 FLAGS (\Seen) ...)`,
/// to `out`: the items in the order of `attrs`, without the `* n FETCH ` prefix and
/// without CRLF.
pub async fn fetch_data(
    account: &Arc<dyn Account>,
    mailbox: MailboxId,
    msg: MsgRef<'_>,
    attrs: &[FetchAttribute],
    out: &mut Vec<u8>,
) -> Result<(), StoreError> {
    let _ = (account, mailbox, msg, attrs, out);
    Err(StoreError::Invalid("FETCH is being written".into()))
}
