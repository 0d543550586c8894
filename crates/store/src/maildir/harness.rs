//! [`MaildirHarness`] (cargo feature `testsuite`): a [`MaildirStore`] in a temporary
//! directory for the conformance suite ([`crate::testsuite`]), plus what only Maildir can
//! do, for the Maildir-only suite (`tests/maildir_outside.rs`): outside deliveries, flag
//! renames and removals, crash leftovers, index loss. Each of those panics if it cannot do
//! its job: a Maildir check never passes by skipping.

use super::names::{self, FileName};
use super::MaildirStore;
use crate::testsuite::Harness;
use crate::{AccountKey, Flags, Store, Uid};
use async_trait::async_trait;
use std::fs;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// A Maildir store in a fresh temporary directory (removed when the harness drops).
pub struct MaildirHarness {
    dir: tempfile::TempDir,
}

impl MaildirHarness {
    /// A harness over a new empty temporary directory.
    pub fn new() -> std::io::Result<MaildirHarness> {
        Ok(MaildirHarness {
            dir: tempfile::tempdir()?,
        })
    }

    fn mailbox_dir(&self, key: &AccountKey, mailbox: &str) -> Option<PathBuf> {
        let name = names::normalize(mailbox).ok()?;
        let maildir = self
            .dir
            .path()
            .join(key.domain())
            .join(key.name())
            .join("Maildir");
        Some(names::mailbox_dir(&maildir, &name))
    }

    fn find_uid(&self, key: &AccountKey, mailbox: &str, uid: Uid) -> Option<(PathBuf, FileName)> {
        let cur = self.mailbox_dir(key, mailbox)?.join("cur");
        fs::read_dir(&cur).ok()?.flatten().find_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let parsed = FileName::parse(&name)?;
            (parsed.uid == Some(uid)).then(|| (cur.join(&name), parsed))
        })
    }
}

#[async_trait]
impl Harness for MaildirHarness {
    async fn open(&self) -> Arc<dyn Store> {
        let store: Arc<dyn Store> =
            MaildirStore::open(self.dir.path().to_path_buf()).expect("open the maildir store");
        store
    }
}

/// What only a Maildir store can be put through (for `tests/maildir_outside.rs`).
impl MaildirHarness {
    /// Destroys the account's index so the next `open` rebuilds it from the files.
    pub fn lose_index(&self, key: &AccountKey) {
        let dir = self.dir.path().join(key.domain()).join(key.name());
        assert!(dir.join("index.sqlite").exists(), "no index to lose");
        for f in ["index.sqlite", "index.sqlite-wal", "index.sqlite-shm"] {
            let _ = fs::remove_file(dir.join(f));
        }
    }

    /// Drops a message into a mailbox as an outside program would (into `new/`, or into
    /// `cur/` with the `S` flag).
    pub fn outside_deliver(&self, key: &AccountKey, mailbox: &str, content: &[u8], into_new: bool) {
        let dir = self.mailbox_dir(key, mailbox).expect("mailbox name");
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let base = format!("{}.R{}.outside", now.as_secs(), now.subsec_nanos());
        let tmp = dir.join("tmp").join(&base);
        fs::write(&tmp, content).expect("write outside message");
        let target = if into_new {
            dir.join("new").join(&base)
        } else {
            dir.join("cur").join(format!("{base}:2,S"))
        };
        fs::rename(&tmp, target).expect("deliver outside message");
    }

    /// Changes a message's flags as an outside Maildir tool would (file rename).
    pub fn outside_set_flags(&self, key: &AccountKey, mailbox: &str, uid: Uid, flags: Flags) {
        let (path, parsed) = self.find_uid(key, mailbox, uid).expect("message file");
        let name = FileName::render(&parsed.base, flags, &parsed.keyword_letters);
        fs::rename(&path, path.with_file_name(name)).expect("rename message file");
    }

    /// Removes a message's file from outside.
    pub fn outside_remove(&self, key: &AccountKey, mailbox: &str, uid: Uid) {
        let (path, _) = self.find_uid(key, mailbox, uid).expect("message file");
        fs::remove_file(path).expect("remove message file");
    }

    /// Leaves what a crash mid-append leaves: a `tmp/` file from long ago, and a file in
    /// `cur/` named for `uid` whose index transaction never committed.
    pub fn crash_leftovers(&self, key: &AccountKey, mailbox: &str, content: &[u8], uid: Uid) {
        let dir = self.mailbox_dir(key, mailbox).expect("mailbox name");
        // A tmp/ file from a delivery that died before its rename: named after a start
        // time long ago, its mtime two days old (its ctime is now: no program can set it
        // back, so the cleaner also looks at the name, see core::files::is_leftover).
        let stale = dir.join("tmp").join("1.M1P1Q1.crashed");
        fs::write(&stale, content).expect("write tmp leftover");
        let old = SystemTime::now() - Duration::from_secs(48 * 3600);
        fs::File::options()
            .write(true)
            .open(&stale)
            .and_then(|f| f.set_modified(old))
            .expect("age tmp leftover");
        // A file renamed into cur/ whose index transaction never committed.
        let name = format!("2.M2P2Q2.crashed,U={uid},S={}:2,", content.len());
        fs::write(dir.join("cur").join(name), content).expect("write cur leftover");
    }

    /// How many files the mailbox's `tmp/` holds.
    pub fn leftover_tmp_files(&self, key: &AccountKey, mailbox: &str) -> usize {
        let dir = self.mailbox_dir(key, mailbox).expect("mailbox name");
        fs::read_dir(dir.join("tmp")).expect("read tmp/").count()
    }
}
