//! Outside-change detection for watched Maildir mailboxes.
//!
//! When a mailbox gains its first watcher (a session with it selected or idling), its
//! `new/` and `cur/` directories are watched with inotify (the `inotify` crate, read on
//! the runtime through `AsyncFd`: no thread of its own). Only the events that can change
//! a Maildir are asked for (a file created, removed, renamed in or out, or closed after
//! writing): not opens, reads or attribute changes, so a session reading messages costs
//! the watcher nothing (with the `notify` crate's fixed mask, every FETCH of a body woke
//! its thread: 4 % of the server's CPU under the mixed IMAP load). An event
//! schedules a sync of that mailbox (events are merged over [`DEBOUNCE`]) and wakes its
//! watchers, so files dropped in by an MTA, a `mailroom deliver` process or a Maildir
//! tool reach idle sessions at once. A periodic rescan every [`RESCAN`] catches what
//! inotify misses (network file systems, overflowed queues). When the last watcher goes,
//! the inotify watches are removed.
//!
//! Changes this process makes itself (appends, flag renames, copies, expunges) are
//! recorded in the [`Tracker`] before they are made, and the events they cause are
//! dropped: they are announced by the store already, and a sync for each of them cost a
//! full scan per change under load. The tracker also knows which watched mailboxes had
//! no outside event since their last sync ([`Tracker::is_clean`]): a sync of such a
//! mailbox (every SELECT and NOOP asks for one) has nothing to look at.

use super::MaildirStore;
use crate::hub::WatchHooks;
use crate::{AccountKey, ChangeHub, MailboxId};
use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask, Watches};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::mpsc;

/// Events for one mailbox arriving within this window lead to one sync.
pub const DEBOUNCE: Duration = Duration::from_millis(50);
/// Period of the fallback rescan of watched mailboxes.
pub const RESCAN: Duration = Duration::from_secs(30);
/// How long a mailbox's directories stay watched after its last watcher left: adding an
/// inotify watch costs the kernel a walk over every entry of the directory (about 10 ms
/// for 100,000 messages), so a client that reconnects, or a client that selects and
/// logs out every few seconds, finds the watch (and what it knows) still in place.
pub const LINGER: Duration = Duration::from_secs(60);

type MailboxKey = (AccountKey, MailboxId);

/// Own changes not yet seen as events are forgotten after this long (their event may
/// never come: the directory may not be watched).
const OWN_TTL_MS: u64 = 5_000;

/// What the store knows about its own changes and about outside events; see the module
/// docs. Shared by the store's accounts and the inotify callback.
#[derive(Default)]
pub struct Tracker {
    /// Paths this process is changing (created, renamed to or from, removed), with when.
    own: Mutex<HashMap<PathBuf, u64>>,
    /// Per watched mailbox (by account, then mailbox, so lookups need no owned key):
    /// outside events counted, and the count a finished sync had seen when it started.
    marks: Mutex<HashMap<AccountKey, HashMap<MailboxId, Marks>>>,
}

#[derive(Clone, Copy, Default)]
struct Marks {
    events: u64,
    synced: u64,
}

fn now_ms() -> u64 {
    super::core::Core::clock()
}

impl Tracker {
    /// Runs `f` on the marks of a watched mailbox, if it is watched.
    fn with_marks<T>(
        &self,
        account: &AccountKey,
        mailbox: MailboxId,
        f: impl FnOnce(&mut Marks) -> T,
    ) -> Option<T> {
        lock(&self.marks)
            .get_mut(account)
            .and_then(|m| m.get_mut(&mailbox))
            .map(f)
    }

    /// Records that this process is about to change `path` in a mailbox (call before the
    /// change). Only watched mailboxes are recorded: no event comes for the others.
    pub fn own(&self, account: &AccountKey, mailbox: MailboxId, path: PathBuf) {
        if self.with_marks(account, mailbox, |_| ()).is_none() {
            return;
        }
        let now = now_ms();
        let mut own = lock(&self.own);
        if own.len() >= 4096 {
            own.retain(|_, t| now.saturating_sub(*t) < OWN_TTL_MS);
            if own.len() >= 2048 {
                // Events are far behind: forget them all (at worst a few extra syncs).
                own.clear();
            }
        }
        own.insert(path, now);
    }

    /// Whether an event on `path` was caused by this process (consumes the record).
    fn take_own(&self, path: &std::path::Path) -> bool {
        let mut own = lock(&self.own);
        match own.remove(path) {
            Some(t) => now_ms().saturating_sub(t) < OWN_TTL_MS,
            None => false,
        }
    }

    /// Starts tracking a mailbox whose directories are now watched: dirty until a sync
    /// that starts after this finishes.
    fn watched(&self, key: MailboxKey) {
        let (account, mailbox) = key;
        lock(&self.marks).entry(account).or_default().insert(
            mailbox,
            Marks {
                events: 1,
                synced: 0,
            },
        );
    }

    fn unwatched(&self, (account, mailbox): &MailboxKey) {
        let mut marks = lock(&self.marks);
        if let Some(m) = marks.get_mut(account) {
            m.remove(mailbox);
            if m.is_empty() {
                marks.remove(account);
            }
        }
    }

    fn event(&self, (account, mailbox): &MailboxKey) {
        self.with_marks(account, *mailbox, |m| m.events += 1);
    }

    /// A sync of the mailbox starts: the events it will have seen.
    pub fn sync_started(&self, account: &AccountKey, mailbox: MailboxId) -> Option<u64> {
        self.with_marks(account, mailbox, |m| m.events)
    }

    /// A sync that started at `seen` (from [`Tracker::sync_started`]) finished.
    pub fn sync_done(&self, account: &AccountKey, mailbox: MailboxId, seen: u64) {
        self.with_marks(account, mailbox, |m| m.synced = m.synced.max(seen));
    }

    /// True when the mailbox is watched and had no outside event since a finished sync.
    pub fn is_clean(&self, account: &AccountKey, mailbox: MailboxId) -> bool {
        self.with_marks(account, mailbox, |m| m.synced >= m.events)
            .unwrap_or(false)
    }
}

/// Watches the directories of watched mailboxes; see the module docs.
pub struct OutsideWatcher {
    store: Weak<MaildirStore>,
    tracker: Arc<Tracker>,
    dirs: Arc<Mutex<HashMap<PathBuf, MailboxKey>>>,
    state: Mutex<State>,
}

/// The events that can change a Maildir directory's listing or a message file's content.
fn mask() -> WatchMask {
    WatchMask::CREATE
        | WatchMask::DELETE
        | WatchMask::MOVED_FROM
        | WatchMask::MOVED_TO
        | WatchMask::CLOSE_WRITE
}

/// The inotify instance's watch handle and what each watch descriptor watches.
struct Inot {
    watches: Watches,
    /// Watched directory of each descriptor (shared with the reading task).
    by_wd: Arc<Mutex<HashMap<WatchDescriptor, PathBuf>>>,
    /// Descriptor of each watched directory.
    by_path: HashMap<PathBuf, WatchDescriptor>,
}

#[derive(Default)]
struct State {
    watcher: Option<Inot>,
    tx: Option<mpsc::UnboundedSender<MailboxKey>>,
    wanted: HashSet<MailboxKey>,
    by_mailbox: HashMap<MailboxKey, Vec<PathBuf>>,
    /// Watched but no longer wanted, since when (`now_ms`): removed after
    /// [`LINGER`] by the rescan task unless wanted again.
    lingering: HashMap<MailboxKey, u64>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl OutsideWatcher {
    pub(super) fn new(store: Weak<MaildirStore>) -> OutsideWatcher {
        OutsideWatcher {
            store,
            tracker: Arc::new(Tracker::default()),
            dirs: Arc::new(Mutex::new(HashMap::new())),
            state: Mutex::new(State::default()),
        }
    }

    /// The tracker of own changes and outside events (shared with the accounts).
    pub fn tracker(&self) -> Arc<Tracker> {
        Arc::clone(&self.tracker)
    }

    /// Number of directories watched with inotify right now.
    pub fn watched_dirs(&self) -> usize {
        lock(&self.dirs).len()
    }

    /// Starts the inotify watcher and the background tasks on first use.
    fn start(&self, state: &mut State, rt: &tokio::runtime::Handle) {
        if state.tx.is_some() {
            return;
        }
        let (tx, rx) = mpsc::unbounded_channel::<MailboxKey>();
        let dirs = self.dirs.clone();
        let tracker = Arc::clone(&self.tracker);
        let events_tx = tx.clone();
        match Inotify::init() {
            Ok(inotify) => {
                let by_wd = Arc::new(Mutex::new(HashMap::new()));
                state.watcher = Some(Inot {
                    watches: inotify.watches(),
                    by_wd: Arc::clone(&by_wd),
                    by_path: HashMap::new(),
                });
                let reader = Reader {
                    store: self.store.clone(),
                    dirs,
                    by_wd,
                    tracker,
                    tx: events_tx,
                };
                rt.spawn(reader.run(inotify));
            }
            Err(e) => tracing::warn!("inotify unavailable, relying on periodic rescans: {e}"),
        }
        state.tx = Some(tx);
        rt.spawn(handle_events(self.store.clone(), rx));
        rt.spawn(rescan(self.store.clone()));
    }

    async fn register(store: Weak<MaildirStore>, key: MailboxKey) {
        let Some(s) = store.upgrade() else {
            return;
        };
        let Some(account) = s.open_account_if_live(&key.0) else {
            return;
        };
        let Ok(paths) = account.watch_dirs(key.1).await else {
            return;
        };
        // Adding a watch walks the directory's entries in the kernel: not on a runtime
        // worker thread.
        let watcher = Arc::clone(&s);
        let _ = tokio::task::spawn_blocking(move || watcher.watcher.add_watches(key, paths)).await;
    }

    /// Watches `paths` for `key` (blocking: see [`OutsideWatcher::register`]).
    fn add_watches(&self, key: MailboxKey, paths: Vec<PathBuf>) {
        let s = self;
        let mut state = lock(&s.state);
        if !state.wanted.contains(&key) || state.by_mailbox.contains_key(&key) {
            return;
        }
        // Architecture invariant: `dirs` is never held while calling the inotify watcher:
        // `watch`/`unwatch` wait for notify's event thread, and that thread takes `dirs`
        // in its callback (holding both deadlocked the store). A path is entered in `dirs`
        // before it is watched, so no event for it is missed.
        let mut done = Vec::new();
        if let Some(w) = state.watcher.as_mut() {
            for p in paths {
                lock(&s.dirs).insert(p.clone(), key.clone());
                match w.watches.add(&p, mask()) {
                    Ok(wd) => {
                        lock(&w.by_wd).insert(wd.clone(), p.clone());
                        w.by_path.insert(p.clone(), wd);
                        done.push(p);
                    }
                    Err(e) => {
                        lock(&s.dirs).remove(&p);
                        tracing::warn!("cannot watch {}: {e}", p.display());
                    }
                }
            }
        }
        if !done.is_empty() {
            s.tracker.watched(key.clone());
        }
        state.by_mailbox.insert(key, done);
    }

    /// Stops watching the mailboxes that lingered for [`LINGER`] unwanted.
    fn retire_lingering(&self) {
        let now = now_ms();
        let linger = LINGER.as_millis() as u64;
        let mut state = lock(&self.state);
        let due: Vec<MailboxKey> = state
            .lingering
            .iter()
            .filter(|(_, since)| now.saturating_sub(**since) >= linger)
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            state.lingering.remove(&key);
            self.unwatch_now(&mut state, &key);
        }
    }

    /// Removes the inotify watches of `key` (with `state` held).
    fn unwatch_now(&self, state: &mut State, key: &MailboxKey) {
        self.tracker.unwatched(key);
        if let Some(mut paths) = state.by_mailbox.remove(key) {
            {
                // A path another mailbox watches now (a mailbox made under the name
                // this one had before a rename) stays watched for that one.
                let mut dirs = lock(&self.dirs);
                paths.retain(|p| dirs.get(p).is_none_or(|k| k == key));
                for p in &paths {
                    dirs.remove(p);
                }
            }
            // Without `dirs` held (see `register`).
            if let Some(w) = state.watcher.as_mut() {
                for p in &paths {
                    if let Some(wd) = w.by_path.remove(p) {
                        lock(&w.by_wd).remove(&wd);
                        let _ = w.watches.remove(wd);
                    }
                }
            }
        }
    }
}

impl WatchHooks for OutsideWatcher {
    fn first_watch(&self, account: &AccountKey, mailbox: MailboxId) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let key = (account.clone(), mailbox);
        {
            let mut state = lock(&self.state);
            self.start(&mut state, &rt);
            state.wanted.insert(key.clone());
            if state.lingering.remove(&key).is_some() && state.by_mailbox.contains_key(&key) {
                return; // still watched from before
            }
        }
        rt.spawn(Self::register(self.store.clone(), key));
    }

    fn last_unwatch(&self, account: &AccountKey, mailbox: MailboxId) {
        let key = (account.clone(), mailbox);
        let mut state = lock(&self.state);
        state.wanted.remove(&key);
        if state.by_mailbox.contains_key(&key) {
            // Kept for LINGER (and what the tracker knows with it).
            state.lingering.insert(key, now_ms());
        } else {
            self.unwatch_now(&mut state, &key);
        }
    }
}

/// Reads inotify events on the runtime and hands the outside ones to [`handle_events`].
struct Reader {
    store: Weak<MaildirStore>,
    dirs: Arc<Mutex<HashMap<PathBuf, MailboxKey>>>,
    by_wd: Arc<Mutex<HashMap<WatchDescriptor, PathBuf>>>,
    tracker: Arc<Tracker>,
    tx: mpsc::UnboundedSender<MailboxKey>,
}

impl Reader {
    /// Until the store is gone (checked at every event and every [`RESCAN`]).
    async fn run(self, inotify: Inotify) {
        use futures_core::Stream;
        let mut events = match inotify.into_event_stream(vec![0u8; 16 * 1024]) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("inotify unavailable, relying on periodic rescans: {e}");
                return;
            }
        };
        loop {
            if self.store.strong_count() == 0 {
                return;
            }
            let next = std::future::poll_fn(|cx| std::pin::Pin::new(&mut events).poll_next(cx));
            match tokio::time::timeout(RESCAN, next).await {
                Err(_) => {} // quiet: look at the store again
                Ok(Some(Ok(e))) => self.event(&e.wd, e.mask, e.name.as_deref()),
                Ok(Some(Err(e))) => {
                    tracing::warn!("inotify read failed, relying on periodic rescans: {e}");
                    return;
                }
                Ok(None) => return,
            }
        }
    }

    fn event(&self, wd: &WatchDescriptor, mask: EventMask, name: Option<&std::ffi::OsStr>) {
        if mask.contains(EventMask::Q_OVERFLOW) {
            // Events were lost: every watched mailbox may have changed.
            let keys: HashSet<MailboxKey> = lock(&self.dirs).values().cloned().collect();
            for k in keys {
                self.tracker.event(&k);
                let _ = self.tx.send(k);
            }
            return;
        }
        if mask.contains(EventMask::IGNORED) {
            lock(&self.by_wd).remove(wd);
            return;
        }
        let Some(dir) = lock(&self.by_wd).get(wd).cloned() else {
            return;
        };
        // Own changes were recorded by path before they were made (a rename names two
        // paths, and each comes as its own event: both records are consumed).
        let path = match name {
            Some(n) => dir.join(n),
            None => dir.clone(),
        };
        if self.tracker.take_own(&path) {
            return;
        }
        if let Some(k) = lock(&self.dirs).get(Path::new(&dir)).cloned() {
            self.tracker.event(&k);
            let _ = self.tx.send(k);
        }
    }
}

/// Syncs a mailbox after outside events and wakes its watchers.
///
/// Watchers are woken when the mailbox's highest modseq differs from the one seen at the
/// previous event (another process may have committed the change itself, so a sync that
/// finds nothing new is not proof of no change); our own changes, already announced by
/// the store, cause at most one extra wake-up.
async fn handle_events(store: Weak<MaildirStore>, mut rx: mpsc::UnboundedReceiver<MailboxKey>) {
    let mut last_seen: HashMap<MailboxKey, crate::ModSeq> = HashMap::new();
    while let Some(first) = rx.recv().await {
        tokio::time::sleep(DEBOUNCE).await;
        let mut batch: HashSet<MailboxKey> = HashSet::from([first]);
        while let Ok(k) = rx.try_recv() {
            batch.insert(k);
        }
        let Some(s) = store.upgrade() else {
            return;
        };
        let watched: HashSet<MailboxKey> = s.local_hub().watched().into_iter().collect();
        last_seen.retain(|k, _| watched.contains(k));
        for (account_key, mailbox) in batch {
            if let Some(account) = s.open_account_if_live(&account_key) {
                if let Err(e) = account.sync_changed(mailbox, true).await {
                    tracing::warn!("sync of {account_key} mailbox {} failed: {e}", mailbox.0);
                }
                let modseq = crate::Account::status(account.as_ref(), mailbox)
                    .await
                    .map(|st| st.highest_modseq)
                    .unwrap_or(0);
                let key = (account_key.clone(), mailbox);
                if last_seen.insert(key, modseq) != Some(modseq) {
                    s.local_hub().notify(&account_key, mailbox);
                }
            }
        }
    }
}

/// The fallback: rescans every watched mailbox periodically.
async fn rescan(store: Weak<MaildirStore>) {
    let mut tick = tokio::time::interval(RESCAN);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(s) = store.upgrade() else {
            return;
        };
        let watcher = Arc::clone(&s);
        let _ = tokio::task::spawn_blocking(move || watcher.watcher.retire_lingering()).await;
        for (account_key, mailbox) in s.local_hub().watched() {
            if let Some(account) = s.open_account_if_live(&account_key) {
                match account.sync_changed(mailbox, false).await {
                    Ok(true) => s.local_hub().notify(&account_key, mailbox),
                    Ok(false) => {}
                    Err(e) => tracing::debug!("rescan of {account_key} failed: {e}"),
                }
            }
        }
    }
}
