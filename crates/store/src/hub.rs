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
pub trait MailboxWatch: Send + Sync {
    /// Waits until the mailbox may have changed since the last call (or since the watch
    /// began). Spurious wake-ups are allowed; missed ones are not.
    async fn changed(&mut self);
}

use crate::AccountKey as Key;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::Notify;

/// Told when a mailbox gains its first watcher and loses its last one, so a backend can
/// start and stop watching for outside changes (the Maildir backend's inotify watcher).
pub trait WatchHooks: Send + Sync {
    /// The first watch on the mailbox began.
    fn first_watch(&self, account: &Key, mailbox: MailboxId);
    /// The last watch on the mailbox ended.
    fn last_unwatch(&self, account: &Key, mailbox: MailboxId);
}

/// The in-process change hub: one shared entry per watched mailbox (a generation counter
/// and a [`Notify`]), removed when its last watcher goes. An idle watch costs one boxed
/// pointer and a counter.
pub struct LocalHub {
    inner: Arc<HubInner>,
}

struct HubInner {
    entries: Mutex<HashMap<(Key, MailboxId), Weak<HubEntry>>>,
    hooks: Option<Arc<dyn WatchHooks>>,
}

struct HubEntry {
    key: (Key, MailboxId),
    generation: AtomicU64,
    notify: Notify,
    hub: Weak<HubInner>,
}

impl Drop for HubEntry {
    fn drop(&mut self) {
        let Some(hub) = self.hub.upgrade() else {
            return;
        };
        let removed = {
            let mut map = hub.entries.lock().unwrap_or_else(|e| e.into_inner());
            match map.get(&self.key) {
                Some(w) if w.strong_count() == 0 => {
                    map.remove(&self.key);
                    true
                }
                _ => false,
            }
        };
        if removed {
            if let Some(h) = &hub.hooks {
                h.last_unwatch(&self.key.0, self.key.1);
            }
        }
    }
}

impl Default for LocalHub {
    fn default() -> Self {
        LocalHub::new(None)
    }
}

impl LocalHub {
    /// A hub; `hooks` (if any) learn when mailboxes start and stop being watched.
    pub fn new(hooks: Option<Arc<dyn WatchHooks>>) -> LocalHub {
        LocalHub {
            inner: Arc::new(HubInner {
                entries: Mutex::new(HashMap::new()),
                hooks,
            }),
        }
    }

    /// The mailboxes watched right now.
    pub fn watched(&self) -> Vec<(Key, MailboxId)> {
        let map = self.inner.entries.lock().unwrap_or_else(|e| e.into_inner());
        map.iter()
            .filter(|(_, w)| w.strong_count() > 0)
            .map(|(k, _)| k.clone())
            .collect()
    }
}

impl ChangeHub for LocalHub {
    fn watch(&self, account: &AccountKey, mailbox: MailboxId) -> Box<dyn MailboxWatch> {
        let key = (account.clone(), mailbox);
        let (entry, first) = {
            let mut map = self.inner.entries.lock().unwrap_or_else(|e| e.into_inner());
            match map.get(&key).and_then(Weak::upgrade) {
                Some(e) => (e, false),
                None => {
                    let e = Arc::new(HubEntry {
                        key: key.clone(),
                        generation: AtomicU64::new(0),
                        notify: Notify::new(),
                        hub: Arc::downgrade(&self.inner),
                    });
                    map.insert(key, Arc::downgrade(&e));
                    (e, true)
                }
            }
        };
        if first {
            if let Some(h) = &self.inner.hooks {
                h.first_watch(account, mailbox);
            }
        }
        let seen = entry.generation.load(Ordering::SeqCst);
        Box::new(LocalWatch { entry, seen })
    }

    fn notify(&self, account: &AccountKey, mailbox: MailboxId) {
        let entry = {
            let map = self.inner.entries.lock().unwrap_or_else(|e| e.into_inner());
            map.get(&(account.clone(), mailbox)).and_then(Weak::upgrade)
        };
        if let Some(e) = entry {
            e.generation.fetch_add(1, Ordering::SeqCst);
            e.notify.notify_waiters();
        }
    }
}

/// One watcher of a [`LocalHub`] entry.
struct LocalWatch {
    entry: Arc<HubEntry>,
    seen: u64,
}

#[async_trait]
impl MailboxWatch for LocalWatch {
    async fn changed(&mut self) {
        loop {
            let notified = self.entry.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let now = self.entry.generation.load(Ordering::SeqCst);
            if now != self.seen {
                self.seen = now;
                return;
            }
            notified.await;
        }
    }
}
