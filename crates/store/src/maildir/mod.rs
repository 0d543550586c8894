//! The embedded default backend: Maildir files plus a per-account SQLite index.
//!
//! Layout under the store's root: `<domain>/<name>/Maildir/` (INBOX is the Maildir root,
//! so `home_mailbox = Maildir/` deliveries land in INBOX; other mailboxes are nested
//! directories, see `names.rs`) and `<domain>/<name>/index.sqlite` (see `index.rs`).
//!
//! Everything but [`MaildirStore`], [`MaildirAccount`] (what the binary and tests use)
//! and, with the `testsuite` feature, [`MaildirHarness`] is private to this module.
//!
//! - [`MaildirStore`]: the [`Store`]; keeps a registry of open accounts so two sessions of
//!   one account share one index connection and one state.
//! - [`MaildirAccount`]: the [`Account`]; every call runs its blocking work in
//!   `spawn_blocking` on the account's `core::Core`.
//! - `watch`: notices outside changes (inotify, plus a periodic rescan) in watched
//!   mailboxes, syncs them and wakes the hub.
//! - `content`: message content handles (CRLF form served on the fly).
//!
//! Parsing: a message is parsed once when it is indexed. The file is streamed to disk,
//! then read back whole once to compute its structure (so a 50 MB message costs 50 MB of
//! memory while it is parsed, never while it is written or served).
//!
//! Keywords are Maildir letters `a`–`z` mapped by the per-mailbox `dovecot-keywords` file
//! (`keywords.rs`); past 26 keywords in one mailbox the rest live in the index only. An
//! index rebuild keeps UIDs, UIDVALIDITY, system flags, lettered keywords and internal
//! dates (from the file mtime; the zone is lost), but not special-use attributes or
//! index-only keywords; modseqs restart above the clock in microseconds.

mod acl;
mod content;
mod core;
#[cfg(feature = "testsuite")]
mod harness;
mod index;
mod keywords;
mod metadata;
mod names;
mod objects;
mod preview;
mod sortkeys;
mod trim;
mod watch;

#[cfg(feature = "testsuite")]
pub use harness::MaildirHarness;

use self::core::Core;
use crate::acl::{AclEntry, Rights};
use crate::hub::LocalHub;
use crate::{
    Account, AccountKey, AppendOutcome, AppendRequest, ChangeHub, Changes, CopyOutcome, FlagOp,
    Flags, MailboxId, MailboxInfo, MailboxSnapshot, MailboxStatus, MessageContent, MessageMeta,
    MessageStructure, ModSeq, SpecialUse, Store, StoreError, Uid, Usage,
};
use async_trait::async_trait;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

/// The Maildir + SQLite backend rooted at one data directory.
pub struct MaildirStore {
    root: PathBuf,
    accounts: Mutex<HashMap<AccountKey, Weak<MaildirAccount>>>,
    /// Accounts kept open for [`KEEP_ACCOUNT`] after their last session ended, so that a
    /// client that logs in again soon does not reopen the account (index, directory
    /// walk). Without its index connection an account costs a few hundred octets.
    kept: Mutex<HashMap<AccountKey, Arc<MaildirAccount>>>,
    hub: Arc<LocalHub>,
    watcher: Arc<watch::OutsideWatcher>,
    me: Weak<MaildirStore>,
    closer: std::sync::Once,
}

/// An open account's index connection is closed after this long unused (it reopens on
/// the next operation in well under a millisecond). Short on purpose: an open index is
/// most of what a logged-in account costs, and a session that is not running a command
/// needs none.
pub const CLOSE_IDLE_INDEX: std::time::Duration = std::time::Duration::from_secs(1);

/// A mailbox's in-memory state is dropped after this long unread (a session that has
/// the mailbox selected reads it after every command; an idle one reloads it when it
/// wakes). Short enough that idle sessions cost their state for seconds only.
pub const KEEP_STATE: std::time::Duration = std::time::Duration::from_secs(15);

/// How long an account stays open after its last use when no session holds it.
pub const KEEP_ACCOUNT: std::time::Duration = std::time::Duration::from_secs(60);

/// Closes the index connections of idle accounts, every half [`CLOSE_IDLE_INDEX`], and
/// hands the memory they held back to the system.
async fn close_idle_indexes(store: Weak<MaildirStore>) {
    let mut tick = tokio::time::interval(CLOSE_IDLE_INDEX / 2);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(s) = store.upgrade() else {
            return;
        };
        let live: Vec<Arc<MaildirAccount>> = {
            let map = s.accounts.lock().unwrap_or_else(|e| e.into_inner());
            map.values().filter_map(Weak::upgrade).collect()
        };
        // Forget kept accounts that nobody used for KEEP_ACCOUNT (dropped in the pool).
        let expired: Vec<Arc<MaildirAccount>> = {
            let mut kept = s.kept.lock().unwrap_or_else(|e| e.into_inner());
            let old: Vec<AccountKey> = kept
                .iter()
                .filter(|(_, a)| Arc::strong_count(a) == 1 && a.core.idle_for(KEEP_ACCOUNT))
                .map(|(k, _)| k.clone())
                .collect();
            old.iter().filter_map(|k| kept.remove(k)).collect()
        };
        drop(s);
        for a in &live {
            a.core.drop_idle_states(KEEP_STATE);
        }
        if live.is_empty() {
            continue;
        }
        let _ = tokio::task::spawn_blocking(move || {
            let mut closed = 0usize;
            for a in &live {
                closed += usize::from(a.core.close_if_idle(CLOSE_IDLE_INDEX));
            }
            drop(live);
            drop(expired);
            if closed > 0 {
                trim::release_free_memory();
            }
        })
        .await;
    }
}

impl MaildirStore {
    /// Opens (creating if needed) the store rooted at `root`.
    pub fn open(root: PathBuf) -> Result<Arc<MaildirStore>, StoreError> {
        std::fs::create_dir_all(&root)?;
        Ok(Arc::new_cyclic(|weak: &Weak<MaildirStore>| {
            let watcher = Arc::new(watch::OutsideWatcher::new(weak.clone()));
            let hooks: Arc<dyn crate::hub::WatchHooks> = watcher.clone();
            MaildirStore {
                root,
                accounts: Mutex::new(HashMap::new()),
                kept: Mutex::new(HashMap::new()),
                hub: Arc::new(LocalHub::new(Some(hooks))),
                watcher,
                me: weak.clone(),
                closer: std::sync::Once::new(),
            }
        }))
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of an account (`<root>/<domain>/<name>`).
    pub fn account_dir(&self, key: &AccountKey) -> PathBuf {
        self.root.join(key.domain()).join(key.name())
    }

    /// An account already open in this process, if any.
    pub fn open_account_if_live(&self, key: &AccountKey) -> Option<Arc<MaildirAccount>> {
        let map = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key).and_then(Weak::upgrade)
    }

    /// Opens an account, returning the concrete type (tests and tools use its extras).
    pub async fn open_maildir_account(
        &self,
        key: &AccountKey,
    ) -> Result<Arc<MaildirAccount>, StoreError> {
        if let Some(a) = self.open_account_if_live(key) {
            a.core.touch();
            // Held by sessions: in use. Only kept: check it was not removed meanwhile.
            if Arc::strong_count(&a) > 2 || a.core.files_present() {
                return Ok(a);
            }
            // Removed from outside while kept: forget it and open anew.
            self.forget(key);
        }
        self.closer.call_once(|| {
            tokio::spawn(close_idle_indexes(self.me.clone()));
        });
        let dir = self.account_dir(key);
        let hub = self.hub.clone();
        let k = key.clone();
        let tracker = self.watcher.tracker();
        let core = tokio::task::spawn_blocking(move || {
            if moving_marker(&dir).exists() {
                return Err(StoreError::Busy); // an account rename is moving it
            }
            Core::open(k, &dir, hub, tracker)
        })
        .await
        .map_err(join_err)??;
        let mut map = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        // Someone may have opened it meanwhile: keep theirs so state stays shared.
        if let Some(a) = map.get(key).and_then(Weak::upgrade) {
            return Ok(a);
        }
        map.retain(|_, w| w.strong_count() > 0);
        let account = Arc::new(MaildirAccount {
            core: Arc::new(core),
            ensured: std::sync::atomic::AtomicBool::new(false),
        });
        map.insert(key.clone(), Arc::downgrade(&account));
        drop(map);
        self.kept
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.clone(), account.clone());
        Ok(account)
    }

    /// Drops an account from the registry and the kept set.
    fn forget(&self, key: &AccountKey) {
        self.accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
        let kept = self
            .kept
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
        drop(kept);
    }

    /// The outside-change watcher (exposed for tests: number of watched directories).
    pub fn watcher(&self) -> &watch::OutsideWatcher {
        &self.watcher
    }

    pub(crate) fn local_hub(&self) -> &Arc<LocalHub> {
        &self.hub
    }
}

fn join_err(e: tokio::task::JoinError) -> StoreError {
    StoreError::Index(format!("storage task failed: {e}"))
}

#[async_trait]
impl Store for MaildirStore {
    async fn open_account(&self, key: &AccountKey) -> Result<Arc<dyn Account>, StoreError> {
        let a: Arc<dyn Account> = self.open_maildir_account(key).await?;
        Ok(a)
    }

    async fn remove_account(&self, key: &AccountKey) -> Result<(), StoreError> {
        let dir = self.account_dir(key);
        self.forget(key);
        tokio::task::spawn_blocking(move || match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StoreError::Io(e)),
            _ => Ok(()),
        })
        .await
        .map_err(join_err)?
    }

    async fn rename_account(
        &self,
        from: &AccountKey,
        to: &AccountKey,
        then: Box<dyn FnOnce() -> Result<(), StoreError> + Send>,
    ) -> Result<(), StoreError> {
        let src = self.account_dir(from);
        let dst = self.account_dir(to);
        if self
            .open_account_if_live(from)
            .is_some_and(|a| Arc::strong_count(&a) > 2)
        {
            return Err(StoreError::Invalid(format!(
                "account {} is in use in this process",
                from.as_str()
            )));
        }
        self.forget(from);
        self.forget(to);
        tokio::task::spawn_blocking(move || move_account(&src, &dst, then))
            .await
            .map_err(join_err)?
    }

    fn hub(&self) -> Arc<dyn ChangeHub> {
        self.hub.clone()
    }
}

/// The file whose presence makes opening the account at `dir` fail with `Busy` (an
/// account rename is moving it). `@` is never part of an account or domain name.
fn moving_marker(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push("@moving");
    dir.with_file_name(name)
}

/// [`Store::rename_account`]'s file work: markers, the move, `then`, markers away.
fn move_account(
    src: &Path,
    dst: &Path,
    then: Box<dyn FnOnce() -> Result<(), StoreError> + Send>,
) -> Result<(), StoreError> {
    if !src.is_dir() {
        return Err(StoreError::NotFound("account store"));
    }
    if dst.exists() {
        return Err(StoreError::AlreadyExists("account store"));
    }
    if let Some(parent) = dst.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let markers = [moving_marker(src), moving_marker(dst)];
    for m in &markers {
        std::fs::File::create(m)?;
    }
    let moved = (|| -> Result<(), StoreError> {
        std::fs::rename(src, dst)?;
        for d in [src.parent(), dst.parent()].into_iter().flatten() {
            std::fs::File::open(d)?.sync_all()?;
        }
        if let Err(e) = then() {
            // The directory still names the old account: its store goes back.
            std::fs::rename(dst, src)?;
            return Err(e);
        }
        Ok(())
    })();
    for m in &markers {
        let _ = std::fs::remove_file(m);
    }
    moved
}

/// One account of a [`MaildirStore`]. Cheap to share; all sessions of the account in
/// this process hold the same one.
pub struct MaildirAccount {
    core: Arc<Core>,
    /// `ensure_mailboxes` already ran for this open account.
    ensured: std::sync::atomic::AtomicBool,
}

impl MaildirAccount {
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Core) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let core = self.core.clone();
        tokio::task::spawn_blocking(move || f(&core))
            .await
            .map_err(join_err)?
    }

    /// Syncs a mailbox with its directory, scanning even if the directory mtimes say
    /// nothing changed. Returns whether anything changed.
    pub async fn sync_changed(&self, mailbox: MailboxId, force: bool) -> Result<bool, StoreError> {
        self.run(move |c| c.sync(mailbox, force)).await
    }

    /// Whether the index connection is open now (for tests and tools).
    pub fn index_is_open(&self) -> bool {
        self.core.index_is_open()
    }

    /// The Maildir directory of the account (for tests and tools; sessions never use it).
    pub fn maildir_path(&self) -> &Path {
        &self.core.maildir
    }

    pub(crate) async fn watch_dirs(&self, mailbox: MailboxId) -> Result<Vec<PathBuf>, StoreError> {
        self.run(move |c| c.watch_dirs(mailbox)).await
    }
}

#[async_trait]
impl Account for MaildirAccount {
    fn key(&self) -> &AccountKey {
        &self.core.key
    }

    async fn list_mailboxes(&self) -> Result<Vec<MailboxInfo>, StoreError> {
        if let Some(all) = self.core.list_mailboxes_in_memory() {
            return Ok(all);
        }
        self.run(|c| c.list_mailboxes()).await
    }

    async fn mailbox(&self, name: &str) -> Result<MailboxInfo, StoreError> {
        if let Some(found) = self.core.mailbox_in_memory(name) {
            return Ok(found);
        }
        let name = name.to_string();
        self.run(move |c| c.mailbox(&name)).await
    }

    async fn create_mailbox(
        &self,
        name: &str,
        special_use: Option<SpecialUse>,
    ) -> Result<MailboxInfo, StoreError> {
        let name = name.to_string();
        self.run(move |c| c.create_mailbox(&name, special_use))
            .await
    }

    async fn ensure_mailboxes(&self, wanted: &[(&str, SpecialUse)]) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering;
        if self.ensured.load(Ordering::Acquire) {
            return Ok(());
        }
        let wanted: Vec<(String, SpecialUse)> =
            wanted.iter().map(|(n, u)| (n.to_string(), *u)).collect();
        // Not opened yet (a login): made when the index is first used, before any
        // mailbox can be listed or selected.
        if !self.core.defer_mailboxes(&wanted) {
            self.run(move |c| c.ensure_mailboxes(&wanted)).await?;
        }
        self.ensured.store(true, Ordering::Release);
        Ok(())
    }

    async fn delete_mailbox(&self, name: &str) -> Result<(), StoreError> {
        let name = name.to_string();
        self.run(move |c| c.delete_mailbox(&name)).await
    }

    async fn rename_mailbox(&self, from: &str, to: &str) -> Result<(), StoreError> {
        let (from, to) = (from.to_string(), to.to_string());
        self.run(move |c| c.rename_mailbox(&from, &to)).await
    }

    async fn set_subscribed(&self, name: &str, subscribed: bool) -> Result<(), StoreError> {
        let name = name.to_string();
        self.run(move |c| c.set_subscribed(&name, subscribed)).await
    }

    async fn subscriptions(&self) -> Result<Vec<String>, StoreError> {
        if let Some(subs) = self.core.subscriptions_in_memory() {
            return Ok(subs);
        }
        self.run(|c| c.subscriptions()).await
    }

    async fn status(&self, mailbox: MailboxId) -> Result<MailboxStatus, StoreError> {
        if let Some(st) = self.core.status_in_memory(mailbox) {
            return Ok(st);
        }
        self.run(move |c| c.status(mailbox)).await
    }

    async fn usage(&self) -> Result<Usage, StoreError> {
        self.run(|c| c.usage()).await
    }

    async fn sync(&self, mailbox: MailboxId) -> Result<(), StoreError> {
        // A watched mailbox with no outside event since its last sync: nothing to scan
        // (the watcher syncs it when an event comes).
        if self.core.tracker.is_clean(&self.core.key, mailbox) {
            return Ok(());
        }
        self.run(move |c| c.sync(mailbox, false).map(|_| ())).await
    }

    async fn messages(&self, mailbox: MailboxId) -> Result<MailboxSnapshot, StoreError> {
        if let Some(snap) = self.core.messages_in_memory(mailbox) {
            return Ok(snap);
        }
        self.run(move |c| c.messages(mailbox)).await
    }

    async fn changes_since(
        &self,
        mailbox: MailboxId,
        since: ModSeq,
    ) -> Result<Changes, StoreError> {
        if let Some(ch) = self.core.changes_in_memory(mailbox, since) {
            return Ok(ch);
        }
        self.run(move |c| c.changes_since(mailbox, since)).await
    }

    async fn append(
        &self,
        mailbox: MailboxId,
        request: AppendRequest,
    ) -> Result<AppendOutcome, StoreError> {
        self.run(move |c| c.append(mailbox, request)).await
    }

    async fn set_uid_validity(
        &self,
        mailbox: MailboxId,
        uid_validity: u32,
    ) -> Result<(), StoreError> {
        self.run(move |c| c.set_uid_validity(mailbox, uid_validity))
            .await
    }

    async fn append_with_uid(
        &self,
        mailbox: MailboxId,
        uid: Uid,
        request: AppendRequest,
    ) -> Result<AppendOutcome, StoreError> {
        self.run(move |c| c.append_at(mailbox, request, Some(uid)))
            .await
    }

    async fn finish_import(&self, mailbox: MailboxId, uid_next: Uid) -> Result<(), StoreError> {
        self.run(move |c| c.finish_import(mailbox, uid_next)).await
    }

    async fn set_pop3_uidls(
        &self,
        mailbox: MailboxId,
        uidls: &[(Uid, String)],
    ) -> Result<(), StoreError> {
        let uidls = uidls.to_vec();
        self.run(move |c| c.set_pop3_uidls(mailbox, &uidls)).await
    }

    async fn pop3_uidls(&self, mailbox: MailboxId) -> Result<Vec<(Uid, String)>, StoreError> {
        self.run(move |c| c.pop3_uidls(mailbox)).await
    }

    async fn store_flags(
        &self,
        mailbox: MailboxId,
        uids: &[Uid],
        op: FlagOp,
        flags: Flags,
        keywords: &[String],
    ) -> Result<Vec<MessageMeta>, StoreError> {
        if let Some(done) = self
            .core
            .store_flags_in_place(mailbox, uids, op, flags, keywords)
        {
            return done;
        }
        let uids = uids.to_vec();
        let keywords = keywords.to_vec();
        self.run(move |c| c.store_flags(mailbox, &uids, op, flags, &keywords))
            .await
    }

    async fn store_flags_unchanged_since(
        &self,
        mailbox: MailboxId,
        uids: &[Uid],
        op: FlagOp,
        flags: Flags,
        keywords: &[String],
        unchanged_since: ModSeq,
    ) -> Result<(Vec<MessageMeta>, Vec<Uid>), StoreError> {
        let uids = uids.to_vec();
        let keywords = keywords.to_vec();
        self.run(move |c| {
            c.store_flags_unchanged_since(mailbox, &uids, op, flags, &keywords, unchanged_since)
        })
        .await
    }

    async fn expunge(
        &self,
        mailbox: MailboxId,
        uids: Option<&[Uid]>,
        force: bool,
    ) -> Result<Vec<Uid>, StoreError> {
        if let Some(done) = self.core.expunge_in_place(mailbox, uids, force) {
            return done;
        }
        let uids = uids.map(<[Uid]>::to_vec);
        self.run(move |c| c.expunge(mailbox, uids.as_deref(), force))
            .await
    }

    async fn copy(
        &self,
        from: MailboxId,
        uids: &[Uid],
        to: MailboxId,
    ) -> Result<CopyOutcome, StoreError> {
        let uids = uids.to_vec();
        self.run(move |c| c.copy(from, &uids, to, false)).await
    }

    async fn move_messages(
        &self,
        from: MailboxId,
        uids: &[Uid],
        to: MailboxId,
    ) -> Result<CopyOutcome, StoreError> {
        let uids = uids.to_vec();
        self.run(move |c| c.copy(from, &uids, to, true)).await
    }

    async fn open_message(
        &self,
        mailbox: MailboxId,
        uid: Uid,
    ) -> Result<Arc<dyn MessageContent>, StoreError> {
        if let Some(done) = self.core.open_message_in_place(mailbox, uid) {
            return done;
        }
        self.run(move |c| c.open_message(mailbox, uid)).await
    }

    async fn structure(
        &self,
        mailbox: MailboxId,
        uid: Uid,
    ) -> Result<Arc<MessageStructure>, StoreError> {
        if let Some(done) = self.core.structure_in_place(mailbox, uid) {
            return done;
        }
        self.run(move |c| c.structure(mailbox, uid)).await
    }

    async fn metadata(
        &self,
        mailbox: Option<MailboxId>,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.run(move |c| c.metadata(mailbox)).await
    }

    async fn set_metadata(
        &self,
        mailbox: Option<MailboxId>,
        changes: Vec<(String, Option<Vec<u8>>)>,
        max_entries: usize,
    ) -> Result<bool, StoreError> {
        self.run(move |c| c.set_metadata(mailbox, &changes, max_entries))
            .await
    }

    async fn mailbox_object_id(&self, mailbox: MailboxId) -> Result<String, StoreError> {
        if let Some(done) = self.core.mailbox_object_id_in_place(mailbox) {
            return done;
        }
        self.run(move |c| c.mailbox_object_id(mailbox)).await
    }

    async fn objects(
        &self,
        mailbox: MailboxId,
        uids: &[Uid],
    ) -> Result<Vec<crate::MessageObject>, StoreError> {
        if let Some(done) = self.core.objects_in_place(mailbox, uids) {
            return done;
        }
        let uids = uids.to_vec();
        self.run(move |c| c.objects(mailbox, &uids)).await
    }

    async fn preview(&self, mailbox: MailboxId, uid: Uid) -> Result<Option<String>, StoreError> {
        self.run(move |c| c.preview(mailbox, uid)).await
    }

    async fn set_preview(
        &self,
        mailbox: MailboxId,
        uid: Uid,
        text: &str,
    ) -> Result<(), StoreError> {
        let text = text.to_string();
        self.run(move |c| c.set_preview(mailbox, uid, &text)).await
    }

    async fn sort_keys(
        &self,
        mailbox: MailboxId,
        version: u32,
    ) -> Result<std::collections::HashMap<Uid, crate::SortKeys>, StoreError> {
        self.run(move |c| c.sort_keys(mailbox, version)).await
    }

    async fn set_sort_keys(
        &self,
        mailbox: MailboxId,
        version: u32,
        keys: Vec<(Uid, crate::SortKeys)>,
    ) -> Result<(), StoreError> {
        self.run(move |c| c.set_sort_keys(mailbox, version, &keys))
            .await
    }

    async fn acl(&self, mailbox: MailboxId) -> Result<Vec<AclEntry>, StoreError> {
        self.run(move |c| c.acl(mailbox)).await
    }

    async fn all_acls(&self) -> Result<Vec<(MailboxId, AclEntry)>, StoreError> {
        self.run(|c| c.all_acls()).await
    }

    async fn set_acl(
        &self,
        mailbox: MailboxId,
        identifier: &str,
        rights: Rights,
    ) -> Result<(), StoreError> {
        let identifier = identifier.to_string();
        self.run(move |c| c.set_acl(mailbox, &identifier, rights))
            .await
    }

    async fn delete_acl(&self, mailbox: MailboxId, identifier: &str) -> Result<(), StoreError> {
        let identifier = identifier.to_string();
        self.run(move |c| c.delete_acl(mailbox, &identifier)).await
    }

    async fn claim_recent(&self, mailbox: MailboxId) -> Result<Uid, StoreError> {
        self.run(move |c| c.claim_recent(mailbox, None)).await
    }

    async fn claim_recent_upto(&self, mailbox: MailboxId, upto: Uid) -> Result<Uid, StoreError> {
        if let Some(done) = self.core.claim_recent_in_place(mailbox, Some(upto)) {
            return done;
        }
        self.run(move |c| c.claim_recent(mailbox, Some(upto))).await
    }
}
