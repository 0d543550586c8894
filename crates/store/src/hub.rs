//! The change hub: how a session learns that a mailbox it has open was changed by another
//! session, by another process (`mailroom deliver`), or by an outside program writing
//! Maildir files.
//!
//! The hub only wakes; it carries no data. A woken session asks the store for
//! [`Account::changes_since`](crate::Account::changes_since) its last seen modseq, which
//! is exact whatever the source of the change and however many wake-ups were merged.
//! A cross-node backend (PostgreSQL LISTEN/NOTIFY) implements the same trait.
//!
//! Account events ([`AccountEvent`], for IMAP NOTIFY, RFC 5465) are the one place where
//! the hub carries data: a mailbox created, deleted or renamed, a subscription changed, a
//! METADATA entry set or removed (all gone once they happened, so a watcher cannot ask
//! for them afterwards), and every [`ChangeHub::notify`] of the account's mailboxes as
//! [`AccountEvent::Messages`]. They are kept per account in a bounded log only while an
//! [`AccountWatch`] on the account exists; a watcher that falls more than
//! [`ACCOUNT_LOG`] events behind is told so ([`Overflow`]).

use crate::{AccountKey, MailboxId};
use async_trait::async_trait;

/// Wakes watchers of a mailbox.
pub trait ChangeHub: Send + Sync {
    /// Starts watching one mailbox of one account.
    fn watch(&self, account: &AccountKey, mailbox: MailboxId) -> Box<dyn MailboxWatch>;

    /// Tells every watcher of the mailbox that it changed. Stores call this after each
    /// committed change; the outside-change detector calls it after a sync found work.
    fn notify(&self, account: &AccountKey, mailbox: MailboxId);

    /// Starts watching the account's events (every mailbox's message changes and the
    /// [`AccountEvent`]s). Default: a watch that never wakes (a hub without account
    /// events).
    fn watch_account(&self, account: &AccountKey) -> Box<dyn AccountWatch> {
        let _ = account;
        Box::new(NoAccountEvents)
    }

    /// Tells every account watcher of an event. Stores call this after the change is
    /// committed. Default: nobody is told.
    fn announce(&self, account: &AccountKey, event: AccountEvent) {
        let _ = (account, event);
    }

    /// Announces events of one change together (a CREATE's new parents and the
    /// mailbox): a watcher takes all of them or none.
    fn announce_all(&self, account: &AccountKey, events: Vec<AccountEvent>) {
        for e in events {
            self.announce(account, e);
        }
    }
}

/// An event of an account, as [`AccountWatch`]es receive it (RFC 5465 section 5 events;
/// names as the store spells them, `/` the delimiter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountEvent {
    /// Messages of the mailbox changed (new, expunged, flags): a [`ChangeHub::notify`].
    Messages(MailboxId),
    /// A mailbox was created (RFC 5465 5.4 MailboxName).
    Created(String),
    /// A mailbox was deleted.
    Deleted(String),
    /// A mailbox (with its inferiors) was renamed; INBOX renamed is `from` = `INBOX`.
    Renamed {
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
    /// A name was subscribed or unsubscribed (RFC 5465 5.5 SubscriptionChange).
    Subscription {
        /// The name (it need not exist).
        name: String,
        /// Subscribed after the change.
        subscribed: bool,
    },
    /// METADATA entries (RFC 5464) of a mailbox, or of the server with `None`, were set
    /// or removed (RFC 5465 5.6, 5.7).
    Metadata {
        /// The mailbox; `None` for server entries.
        mailbox: Option<MailboxId>,
        /// The entry names changed.
        entries: Vec<String>,
    },
}

/// A watcher fell behind by more than the account log holds: events were lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

/// One session's watch on an account's events. Dropping it stops the watch.
#[async_trait]
pub trait AccountWatch: Send + Sync {
    /// Waits until events may be waiting (spurious wake-ups allowed, missed ones not).
    async fn changed(&mut self);

    /// Appends the events since the last call (or since the watch began) to `out`.
    /// `Err(Overflow)` when some were lost; the watch then starts over at the newest.
    fn take(&mut self, out: &mut Vec<AccountEvent>) -> Result<(), Overflow>;
}

/// The account watch of a hub without account events.
struct NoAccountEvents;

#[async_trait]
impl AccountWatch for NoAccountEvents {
    async fn changed(&mut self) {
        std::future::pending::<()>().await;
    }
    fn take(&mut self, _out: &mut Vec<AccountEvent>) -> Result<(), Overflow> {
        Ok(())
    }
}

/// The most events an account's log keeps for watchers that have not taken them.
pub const ACCOUNT_LOG: usize = 1024;

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
    /// The account logs, while an account watch exists.
    accounts: Mutex<HashMap<Key, Weak<AccountEntry>>>,
    hooks: Option<Arc<dyn WatchHooks>>,
}

/// One account's event log, shared by its account watchers.
struct AccountEntry {
    key: Key,
    log: Mutex<AccountLog>,
    notify: Notify,
    hub: Weak<HubInner>,
}

#[derive(Default)]
struct AccountLog {
    /// The sequence number of the next event.
    next: u64,
    /// The newest events (at most [`ACCOUNT_LOG`]), the last one numbered `next - 1`.
    events: std::collections::VecDeque<AccountEvent>,
    /// The highest position any watcher has taken up to: while it is below `next`, no
    /// watcher has seen the newest event, so a repeat of it is merged into it.
    taken: u64,
}

impl AccountLog {
    fn push(&mut self, ev: AccountEvent) {
        if self.taken < self.next && self.events.back() == Some(&ev) {
            return;
        }
        if self.events.len() == ACCOUNT_LOG {
            self.events.pop_front();
        }
        self.events.push_back(ev);
        self.next += 1;
    }
}

impl Drop for AccountEntry {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.upgrade() {
            let mut map = hub.accounts.lock().unwrap_or_else(|e| e.into_inner());
            if map.get(&self.key).is_some_and(|w| w.strong_count() == 0) {
                map.remove(&self.key);
            }
        }
    }
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
                accounts: Mutex::new(HashMap::new()),
                hooks,
            }),
        }
    }

    /// The account's log, when an account watch exists.
    fn account_entry(&self, account: &AccountKey) -> Option<Arc<AccountEntry>> {
        let map = self
            .inner
            .accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if map.is_empty() {
            return None;
        }
        map.get(account).and_then(Weak::upgrade)
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
        self.announce(account, AccountEvent::Messages(mailbox));
    }

    fn watch_account(&self, account: &AccountKey) -> Box<dyn AccountWatch> {
        let mut map = self
            .inner
            .accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let entry = match map.get(account).and_then(Weak::upgrade) {
            Some(e) => e,
            None => {
                let e = Arc::new(AccountEntry {
                    key: account.clone(),
                    log: Mutex::new(AccountLog::default()),
                    notify: Notify::new(),
                    hub: Arc::downgrade(&self.inner),
                });
                map.insert(account.clone(), Arc::downgrade(&e));
                e
            }
        };
        let cursor = {
            let mut log = entry.log.lock().unwrap_or_else(|e| e.into_inner());
            // The new watcher has "seen" everything before it: nothing is merged into an
            // event it did not take.
            log.taken = log.taken.max(log.next);
            log.next
        };
        Box::new(LocalAccountWatch { entry, cursor })
    }

    fn announce(&self, account: &AccountKey, event: AccountEvent) {
        // Every commit comes here (through `notify`): no allocation unless someone
        // watches the account.
        if let Some(e) = self.account_entry(account) {
            e.log.lock().unwrap_or_else(|e| e.into_inner()).push(event);
            e.notify.notify_waiters();
        }
    }

    fn announce_all(&self, account: &AccountKey, events: Vec<AccountEvent>) {
        let entry = self.account_entry(account);
        if let Some(e) = entry {
            let mut log = e.log.lock().unwrap_or_else(|e| e.into_inner());
            for ev in events {
                log.push(ev);
            }
            drop(log);
            e.notify.notify_waiters();
        }
    }
}

/// One watcher of an account's log.
struct LocalAccountWatch {
    entry: Arc<AccountEntry>,
    /// The sequence number of the next event this watcher takes.
    cursor: u64,
}

#[async_trait]
impl AccountWatch for LocalAccountWatch {
    async fn changed(&mut self) {
        loop {
            let notified = self.entry.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let next = self
                .entry
                .log
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .next;
            if next != self.cursor {
                return;
            }
            notified.await;
        }
    }

    fn take(&mut self, out: &mut Vec<AccountEvent>) -> Result<(), Overflow> {
        let mut log = self.entry.log.lock().unwrap_or_else(|e| e.into_inner());
        let first = log.next - log.events.len() as u64;
        let r = if self.cursor < first {
            Err(Overflow)
        } else {
            let skip = usize::try_from(self.cursor - first).unwrap_or(usize::MAX);
            out.extend(log.events.iter().skip(skip).cloned());
            Ok(())
        };
        self.cursor = log.next;
        log.taken = log.taken.max(log.next);
        r
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

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> AccountKey {
        AccountKey::new("example.com", "bob").expect("key")
    }

    #[tokio::test]
    async fn account_events_reach_every_watcher_in_order() {
        let hub = LocalHub::default();
        // Nobody watches: nothing is kept.
        hub.announce(&key(), AccountEvent::Created("A".into()));
        let mut a = hub.watch_account(&key());
        let mut b = hub.watch_account(&key());
        hub.announce(&key(), AccountEvent::Created("B".into()));
        hub.notify(&key(), MailboxId(7));
        hub.notify(&key(), MailboxId(7));
        a.changed().await;
        let mut got = Vec::new();
        a.take(&mut got).expect("no overflow");
        // The repeated notify was merged: no watcher had taken the first one.
        assert_eq!(
            got,
            vec![
                AccountEvent::Created("B".into()),
                AccountEvent::Messages(MailboxId(7))
            ]
        );
        // Taken by `a`: a repeat is a new event now, for `b` too.
        hub.notify(&key(), MailboxId(7));
        let mut got_b = Vec::new();
        b.take(&mut got_b).expect("no overflow");
        assert_eq!(got_b.len(), 3);
        // A watcher that came later does not miss a repeat of an event before it.
        let mut c = hub.watch_account(&key());
        hub.notify(&key(), MailboxId(7));
        let mut got_c = Vec::new();
        c.take(&mut got_c).expect("no overflow");
        assert_eq!(got_c, vec![AccountEvent::Messages(MailboxId(7))]);
    }

    #[tokio::test]
    async fn a_watcher_too_far_behind_overflows_then_starts_over() {
        let hub = LocalHub::default();
        let mut w = hub.watch_account(&key());
        for i in 0..=ACCOUNT_LOG {
            hub.announce(&key(), AccountEvent::Created(format!("m{i}")));
        }
        let mut got = Vec::new();
        assert_eq!(w.take(&mut got), Err(Overflow));
        assert!(got.is_empty());
        hub.announce(&key(), AccountEvent::Deleted("m0".into()));
        w.take(&mut got).expect("caught up");
        assert_eq!(got, vec![AccountEvent::Deleted("m0".into())]);
    }

    #[tokio::test]
    async fn the_log_goes_with_its_last_watcher() {
        let hub = LocalHub::default();
        let w = hub.watch_account(&key());
        hub.announce(&key(), AccountEvent::Created("A".into()));
        drop(w);
        assert!(hub.inner.accounts.lock().expect("lock").is_empty());
        let mut w = hub.watch_account(&key());
        let mut got = Vec::new();
        w.take(&mut got).expect("fresh");
        assert!(got.is_empty());
    }
}
