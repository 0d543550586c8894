//! SEARCH (RFC 3501 6.4.4): evaluation of search keys over a session's view of a mailbox.
//! (Interface fixed; implementation being written.)

use super::fetch::MsgRef;
use mailroom_proto::imap::command::SearchKey;
use mailroom_store::{Account, MailboxId, StoreError};
use std::sync::Arc;

/// Why a SEARCH could not be run.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// `NO [BADCHARSET (US-ASCII UTF-8)]` (RFC 3501 6.4.4).
    #[error("unsupported charset")]
    BadCharset,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Evaluates `key` over `msgs` (the session's view, ascending sequence numbers) and
/// returns the indices into `msgs` of the messages that match, ascending.
pub async fn search(
    account: &Arc<dyn Account>,
    mailbox: MailboxId,
    msgs: &[MsgRef<'_>],
    key: &SearchKey,
    charset: Option<&str>,
) -> Result<Vec<usize>, SearchError> {
    let _ = (account, mailbox, msgs, key, charset);
    Err(SearchError::Store(StoreError::Invalid(
        "SEARCH is being written".into(),
    )))
}
