//! One account's Maildir store: the blocking operations behind [`super::MaildirAccount`].
//!
//! Every write takes SQLite's write lock (`BEGIN IMMEDIATE`) for the short time it renames
//! files and updates the index, so other sessions of this process and other processes
//! (`mailroom deliver`) are serialised. Message files are written to `tmp/` before the
//! lock is taken.
//!
//! Architecture invariant: a message file in `cur/` carries its UID (`,U=`), so the index
//! can be rebuilt with the same UIDs; the per-mailbox `mailroom-uids` file keeps the
//! UIDVALIDITY and a UID high-water mark, written before any expunge commits.
//!
//! The operations are `impl Core` blocks, one file per concern: `rows.rs` (index rows and
//! queries), `files.rs` (Maildir file helpers), `rebuild.rs` (index from the files),
//! `mailboxes.rs`, `sync.rs` (directory scans), `append.rs` (append, copy, move),
//! `flags.rs` (flag changes, `\Recent`), `expunge.rs`, `read.rs` (snapshots, changes,
//! message content). This file holds the `Core` itself and its index connection.

mod append;
mod batch;
mod durable;
mod expunge;
mod files;
mod flags;
mod import;
mod listing;
mod mailboxes;
mod read;
mod rebuild;
mod rows;
mod state;
mod sync;

use self::files::make_maildir;
pub(super) use self::import::SCHEMA as IMPORT_SCHEMA;
use self::rows::exec;
use self::state::{CatchUp, MailboxState};
use super::index::{self, sql_err};
use super::watch::Tracker;
use crate::hub::LocalHub;
use crate::{
    AccountKey, ChangeHub, Changes, MailboxId, MailboxSnapshot, MailboxStatus, ModSeq, SpecialUse,
    StoreError,
};
use rusqlite::Connection;
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The shared state of one open account.
pub struct Core {
    pub key: AccountKey,
    /// `<root>/<domain>/<name>/Maildir`.
    pub maildir: PathBuf,
    /// The index connection, opened on demand and closed by [`Core::close_if_idle`] when
    /// unused for a while: an open SQLite connection in WAL mode costs about 60–120 KiB, and
    /// most logged-in accounts are idle.
    conn: Mutex<Option<Connection>>,
    index_path: PathBuf,
    /// When the connection was last handed out (milliseconds on [`Core::clock`]).
    last_used: std::sync::atomic::AtomicU64,
    hub: Arc<LocalHub>,
    /// The index was opened and checked since this account was opened (outside mailboxes
    /// discovered, deferred default mailboxes made). An account opened for a login only
    /// (IMAP LOGIN followed by nothing, or IDLE elsewhere) never opens its index.
    ready: std::sync::atomic::AtomicBool,
    /// Default mailboxes asked for before the index was opened (changed only while
    /// `conn` is locked).
    pending: Mutex<Vec<(String, SpecialUse)>>,
    /// The in-memory state of mailboxes in use ([`state`]), by mailbox id. Locked after
    /// `conn` when both are held, and only briefly.
    states: Mutex<HashMap<i64, MailboxState>>,
    /// Group commit of directory flushes ([`durable`]).
    gates: durable::DirGates,
    /// Group commit of index writes ([`batch`]).
    batch: batch::Batch,
    /// Own changes and outside events of watched mailboxes (shared with the watcher).
    pub(crate) tracker: Arc<Tracker>,
    /// The mailbox list and subscriptions ([`listing`]).
    listing: Mutex<listing::Listing>,
    /// The open index connection commits without flushing (`synchronous=NORMAL`, set by
    /// [`flags::light_sync`]); [`Core::conn`] sets it back to `FULL`. Read and written
    /// only while `conn` is locked, so a run of light writes switches once, not twice per
    /// write (the pragma takes effect when prepared: each switch is a fresh prepare).
    light: std::sync::atomic::AtomicBool,
}

/// The index connection of an account, locked for one operation, and its
/// [`Core::light`] flag.
pub(crate) struct ConnGuard<'a>(
    MutexGuard<'a, Option<Connection>>,
    &'a std::sync::atomic::AtomicBool,
);

impl std::ops::Deref for ConnGuard<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        // Core::conn fills the option before handing the guard out.
        match self.0.as_ref() {
            Some(c) => c,
            None => unreachable!("ConnGuard without a connection"),
        }
    }
}

impl ConnGuard<'_> {
    /// Closes the connection; the next [`Core::conn`] opens a new one.
    fn discard(&mut self) {
        self.0.take();
    }

    /// Whether the connection commits without flushing (see [`Core::light`]).
    fn is_light(&self) -> bool {
        self.1.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn set_light(&self, light: bool) {
        self.1.store(light, std::sync::atomic::Ordering::Relaxed);
    }
}

impl std::ops::DerefMut for ConnGuard<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        match self.0.as_mut() {
            Some(c) => c,
            None => unreachable!("ConnGuard without a connection"),
        }
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

impl Core {
    /// Opens an account's store under `account_dir`, creating the Maildir and the index
    /// as needed, and rebuilding the index from the files when it is new.
    pub fn open(
        key: AccountKey,
        account_dir: &Path,
        hub: Arc<LocalHub>,
        tracker: Arc<Tracker>,
    ) -> Result<Core, StoreError> {
        let maildir = account_dir.join("Maildir");
        let index_path = account_dir.join("index.sqlite");
        // An account whose store exists is opened without its index: a login does not
        // need it, and the first operation that does opens and checks it
        // ([`Core::conn`]). New or damaged stores are made and checked now.
        let complete = ["cur", "new", "tmp"]
            .iter()
            .all(|d| maildir.join(d).is_dir())
            && fs::metadata(&index_path).is_ok_and(|m| m.is_file() && m.len() > 0);
        let core = Core {
            key,
            maildir,
            conn: Mutex::new(None),
            index_path,
            last_used: std::sync::atomic::AtomicU64::new(Self::clock()),
            hub,
            ready: std::sync::atomic::AtomicBool::new(false),
            pending: Mutex::new(Vec::new()),
            states: Mutex::new(HashMap::new()),
            gates: durable::DirGates::default(),
            batch: batch::Batch::default(),
            tracker,
            listing: Mutex::new(listing::Listing::default()),
            light: std::sync::atomic::AtomicBool::new(false),
        };
        if !complete {
            drop(core.conn()?);
        }
        Ok(core)
    }

    /// Opens the index file. Two processes opening a new index at once (the server and
    /// `mailroom deliver`) can get BUSY without SQLite's busy wait (switching to WAL,
    /// schema creation): try again a few times.
    fn open_index(&self) -> Result<(Connection, bool), StoreError> {
        let mut tries = 0;
        loop {
            match index::open(&self.index_path) {
                Err(StoreError::Busy) if tries < 50 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(10 + 5 * tries));
                }
                r => return r,
            }
        }
    }

    /// First use of the index of an account opened without it, with the connection
    /// locked (the Maildir already made if missing): as an eager open would, an empty
    /// index is rebuilt from the files, mailboxes made by outside programs are added,
    /// then the default mailboxes deferred by [`Core::defer_mailboxes`] are made.
    fn prepare(&self, conn: &mut Connection, fresh: bool) -> Result<(), StoreError> {
        if fresh {
            self.rebuild_on(conn)?;
        } else {
            self.discover_on(conn)?;
        }
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if !pending.is_empty() {
            self.ensure_mailboxes_on(conn, &pending)?;
        }
        Ok(())
    }

    /// Defers making the default mailboxes to the index's first use, when it is not open
    /// yet; `false` when it is (the caller makes them now).
    pub fn defer_mailboxes(&self, wanted: &[(String, SpecialUse)]) -> bool {
        use std::sync::atomic::Ordering::Acquire;
        if self.ready.load(Acquire) {
            return false;
        }
        let _conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if self.ready.load(Acquire) {
            return false;
        }
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(wanted);
        true
    }

    /// Milliseconds since an arbitrary start, for idle accounting.
    pub(crate) fn clock() -> u64 {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        START
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_millis() as u64
    }

    /// The index connection, reopened if it was closed while idle.
    /// On the first use after the account was opened without its index, the index is
    /// also checked ([`Core::prepare`]) before the connection is handed out.
    pub(crate) fn conn(&self) -> Result<ConnGuard<'_>, StoreError> {
        use std::sync::atomic::Ordering::{Acquire, Release};
        let mut g = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let ready = self.ready.load(Acquire);
        if !ready {
            // A new account: the directories come first (the index lives beside them).
            make_maildir(&self.maildir)?;
        }
        let fresh = match &*g {
            Some(_) => false,
            None => {
                let (c, fresh) = self.open_index()?;
                *g = Some(c);
                // A new connection flushes every commit (index::open).
                self.light.store(false, Release);
                fresh
            }
        };
        let mut guard = ConnGuard(g, &self.light);
        if guard.is_light() {
            if let Err(e) = exec(&guard, "PRAGMA synchronous = FULL", []) {
                // Never hand out a connection that does not flush: close it (it reopens
                // with FULL).
                tracing::warn!("cannot restore synchronous=FULL, closing the index: {e}");
                guard.discard();
                return Err(sql_err(e));
            }
            guard.set_light(false);
        }
        if !ready {
            if let Some(c) = guard.0.as_mut() {
                self.prepare(c, fresh)?;
            }
            self.ready.store(true, Release);
        }
        self.touch();
        Ok(guard)
    }

    /// Runs a short call on the caller's thread without waiting for anything: only when
    /// the index connection is open and not in use, with SQLite's busy wait off. `None`
    /// when that is not possible or the call failed for a reason the blocking path may
    /// not have (BUSY, I/O); `NotFound`, `Invalid` and `Corrupt` are final.
    pub(crate) fn without_waiting<T>(
        &self,
        f: impl FnOnce(&mut ConnGuard<'_>) -> Result<T, StoreError>,
    ) -> Option<Result<T, StoreError>> {
        let g = self.conn.try_lock().ok()?;
        g.as_ref()?;
        let mut guard = ConnGuard(g, &self.light);
        guard.busy_timeout(Duration::ZERO).ok()?;
        let r = f(&mut guard);
        // `f` may have closed the connection (ConnGuard::discard).
        if guard.0.is_some() {
            let _ = guard.busy_timeout(index::BUSY_TIMEOUT);
        }
        drop(guard);
        self.touch();
        match r {
            Ok(v) => Some(Ok(v)),
            Err(
                e @ (StoreError::NotFound(_) | StoreError::Invalid(_) | StoreError::Corrupt(_)),
            ) => Some(Err(e)),
            Err(_) => None,
        }
    }

    /// Closes the index connection if nobody used it for `idle` (and nobody holds it
    /// now). Returns true when it was closed. The next operation reopens it.
    pub fn close_if_idle(&self, idle: std::time::Duration) -> bool {
        let last = self.last_used.load(std::sync::atomic::Ordering::Relaxed);
        if Self::clock().saturating_sub(last) < idle.as_millis() as u64 {
            return false;
        }
        let Ok(mut g) = self.conn.try_lock() else {
            return false;
        };
        let closed = g.take().is_some();
        if closed {
            let (transactions, jobs) = self.write_batches();
            tracing::debug!(account = %self.key, transactions, jobs, "index closed while idle");
        }
        closed
    }

    /// True when the account was not used for `d`.
    pub fn idle_for(&self, d: std::time::Duration) -> bool {
        let last = self.last_used.load(std::sync::atomic::Ordering::Relaxed);
        Self::clock().saturating_sub(last) >= d.as_millis() as u64
    }

    /// Marks the account used now.
    pub fn touch(&self) {
        self.last_used
            .store(Self::clock(), std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether the index connection is open (a connection in use counts as open).
    pub fn index_is_open(&self) -> bool {
        self.conn.try_lock().map(|g| g.is_some()).unwrap_or(true)
    }

    fn notify(&self, mailbox: i64) {
        self.hub.notify(&self.key, MailboxId(mailbox));
    }

    /// Announces an account event (NOTIFY, RFC 5465) after its change was committed.
    pub(crate) fn announce(&self, event: crate::hub::AccountEvent) {
        crate::ChangeHub::announce(self.hub.as_ref(), &self.key, event);
    }

    /// Announces the events of one change together (see `ChangeHub::announce_all`).
    pub(crate) fn announce_all(&self, events: Vec<crate::hub::AccountEvent>) {
        crate::ChangeHub::announce_all(self.hub.as_ref(), &self.key, events);
    }

    /// After a commit of this process that changed a mailbox, with the connection still
    /// held: catches its in-memory state up, then announces the change on the hub.
    fn changed(&self, conn: &Connection, mailbox: i64) {
        self.catch_up(conn, mailbox);
        self.notify(mailbox);
    }

    fn states(&self) -> MutexGuard<'_, HashMap<i64, MailboxState>> {
        self.states.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Catches the in-memory state of a mailbox (if loaded) up with the index. Returns
    /// true when it changed (a state that failed to catch up is dropped, and reloaded by
    /// the next reader that needs it).
    fn catch_up(&self, conn: &Connection, mailbox: i64) -> bool {
        let mut states = self.states();
        let Some(st) = states.get_mut(&mailbox) else {
            return false;
        };
        match st.catch_up(conn, mailbox) {
            Ok(CatchUp::Unchanged) => false,
            Ok(CatchUp::Changed) => true,
            Ok(CatchUp::Stale) => {
                states.remove(&mailbox);
                true
            }
            Err(e) => {
                tracing::warn!(mailbox, "mailbox state dropped: {e}");
                states.remove(&mailbox);
                true
            }
        }
    }

    /// Runs `f` on the loaded state of a mailbox, loading it first if needed (blocking:
    /// SQLite). The state is current: loaded or caught up under the connection's lock.
    fn with_state<T>(
        &self,
        conn: &Connection,
        mailbox: i64,
        f: impl FnOnce(&MailboxState) -> T,
    ) -> Result<T, StoreError> {
        let now = Self::clock();
        let mut states = self.states();
        if let Some(st) = states.get_mut(&mailbox) {
            match st.catch_up(conn, mailbox) {
                Ok(CatchUp::Unchanged | CatchUp::Changed) => {
                    st.used = now;
                    return Ok(f(st));
                }
                Ok(CatchUp::Stale) | Err(_) => {
                    states.remove(&mailbox);
                }
            }
        }
        let st = MailboxState::load(conn, mailbox, now)?;
        let out = f(&st);
        states.insert(mailbox, st);
        Ok(out)
    }

    /// Reads a loaded state on the caller's thread (no SQLite, no blocking): `None` when
    /// the mailbox has no state in memory or `f` cannot answer from it.
    fn read_state<T>(
        &self,
        mailbox: MailboxId,
        f: impl FnOnce(&MailboxState) -> Option<T>,
    ) -> Option<T> {
        let mut states = self.states();
        let st = states.get_mut(&mailbox.0)?;
        st.used = Self::clock();
        let out = f(st);
        drop(states);
        if out.is_some() {
            self.touch();
        }
        out
    }

    /// Every message of a mailbox from memory, if its state is loaded.
    pub fn messages_in_memory(&self, mailbox: MailboxId) -> Option<MailboxSnapshot> {
        self.read_state(mailbox, |st| Some(st.snapshot()))
    }

    /// The changes after `since` from memory, if the loaded state reaches back that far.
    pub fn changes_in_memory(&self, mailbox: MailboxId, since: ModSeq) -> Option<Changes> {
        self.read_state(mailbox, |st| st.changes_since(since))
    }

    /// STATUS counters from memory, if the mailbox's state is loaded (O(log n)).
    pub fn status_in_memory(&self, mailbox: MailboxId) -> Option<MailboxStatus> {
        self.read_state(mailbox, |st| Some(st.status()))
    }

    /// Forgets the states not read for `idle` (the next reader loads them again).
    /// Returns how many were dropped.
    pub fn drop_idle_states(&self, idle: Duration) -> usize {
        let now = Self::clock();
        let idle = idle.as_millis() as u64;
        let mut states = self.states();
        let before = states.len();
        states.retain(|_, st| now.saturating_sub(st.used) < idle);
        before - states.len()
    }
}
