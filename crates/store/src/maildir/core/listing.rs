//! The account's mailbox list and subscriptions in memory, so that the name lookups of
//! SELECT, STATUS and APPEND and the subscriptions of LIST need no SQLite and no hop to
//! the blocking pool. Filled from the index on use; forgotten whenever this process
//! changes mailboxes or subscriptions (while it still holds the index connection, so no
//! reader can refill it with what is about to change), and at every LIST (which first
//! looks for mailboxes made outside).
//!
//! A mailbox made or removed by another process is seen at the next LIST; until then a
//! lookup of a new name falls through to the index, and an operation on a removed
//! mailbox fails in the index with `NotFound`, as it would have anyway.

use super::Core;
use crate::MailboxInfo;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::MutexGuard;

#[derive(Default)]
pub(super) struct Listing {
    boxes: Option<HashMap<String, MailboxInfo>>,
    subs: Option<Vec<String>>,
    /// The directories the last LIST's walk read, with their mtimes, when that walk found
    /// nothing unknown and every mtime was old enough to trust (see `sync::slack`): while
    /// none of them changes, no mailbox was made or removed outside, and LIST skips the
    /// walk (one `stat` per directory instead of reading each).
    walked: Option<Vec<(PathBuf, i64)>>,
}

impl Listing {
    pub(super) fn remember_boxes(&mut self, all: &[MailboxInfo]) {
        self.boxes = Some(all.iter().map(|m| (m.name.clone(), m.clone())).collect());
    }

    /// Every known mailbox, sorted by name.
    pub(super) fn all_boxes(&self) -> Option<Vec<MailboxInfo>> {
        let mut all: Vec<MailboxInfo> = self.boxes.as_ref()?.values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Some(all)
    }

    pub(super) fn knows_boxes(&self) -> bool {
        self.boxes.is_some()
    }

    /// A mailbox by its normalized name.
    pub(super) fn mailbox(&self, name: &str) -> Option<MailboxInfo> {
        self.boxes.as_ref()?.get(name).cloned()
    }

    pub(super) fn remember_subscriptions(&mut self, subs: &[String]) {
        self.subs = Some(subs.to_vec());
    }

    pub(super) fn subscriptions(&self) -> Option<Vec<String>> {
        self.subs.clone()
    }

    pub(super) fn walked(&self) -> Option<&[(PathBuf, i64)]> {
        self.walked.as_deref()
    }

    pub(super) fn remember_walk(&mut self, read: Vec<(PathBuf, i64)>) {
        self.walked = Some(read);
    }
}

/// Forgets the listing when dropped: declare it after taking the index connection, so it
/// runs before the connection is released.
pub(super) struct Stale<'a>(&'a Core);

impl Drop for Stale<'_> {
    fn drop(&mut self) {
        *self.0.listing() = Listing::default();
    }
}

impl Core {
    pub(super) fn listing(&self) -> MutexGuard<'_, Listing> {
        self.listing.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A guard that forgets the listing at the end of a change to mailboxes.
    pub(super) fn listing_changes(&self) -> Stale<'_> {
        Stale(self)
    }
}
