//! The change hub: how a session learns that a mailbox it has open was changed by another
//! session, by another process (`mailroom deliver`), or by an outside program writing
//! Maildir files.
//!
//! The hub only wakes; it carries no data. A woken session asks the store for
//! [`Account::changes_since`](crate::Account::changes_since) its last seen modseq, which
//! is exact whatever the source of the change and however many wake-ups were merged.
//! A cross-node backend (PostgreSQL LISTEN/NOTIFY) implements the same trait.

use crate::{AccountKey, MailboxId};
use async_trait::async_trait;

/// Wakes watchers of a mailbox.
pub trait ChangeHub: Send + Sync {
    /// Starts watching one mailbox of one account.
    fn watch(&self, account: &AccountKey, mailbox: MailboxId) -> Box<dyn MailboxWatch>;

    /// Tells every watcher of the mailbox that it changed. Stores call this after each
    /// committed change; the outside-change detector calls it after a sync found work.
    fn notify(&self, account: &AccountKey, mailbox: MailboxId);
}

/// One session's watch on one mailbox. Dropping it stops the watch.
#[async_trait]
pub trait MailboxWatch: Send {
    /// Waits until the mailbox may have changed since the last call (or since the watch
    /// began). Spurious wake-ups are allowed; missed ones are not.
    async fn changed(&mut self);
}
