//! [`MaildirHarness`]: runs the conformance suite ([`crate::testsuite`]) against
//! [`MaildirStore`] in a temporary directory, with the hooks that need to touch files
//! (outside deliveries and renames, crash leftovers, index loss).

use super::core::UIDS_FILE;
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

    async fn lose_index(&self, key: &AccountKey) -> bool {
        let dir = self.dir.path().join(key.domain()).join(key.name());
        for f in ["index.sqlite", "index.sqlite-wal", "index.sqlite-shm"] {
            let _ = fs::remove_file(dir.join(f));
        }
        true
    }

    async fn outside_deliver(
        &self,
        key: &AccountKey,
        mailbox: &str,
        content: &[u8],
        into_new: bool,
    ) -> bool {
        let Some(dir) = self.mailbox_dir(key, mailbox) else {
            return false;
        };
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
        true
    }

    async fn outside_set_flags(
        &self,
        key: &AccountKey,
        mailbox: &str,
        uid: Uid,
        flags: Flags,
    ) -> bool {
        let Some((path, parsed)) = self.find_uid(key, mailbox, uid) else {
            return false;
        };
        let name = FileName::render(&parsed.base, flags, &parsed.keyword_letters);
        fs::rename(&path, path.with_file_name(name)).is_ok()
    }

    async fn outside_remove(&self, key: &AccountKey, mailbox: &str, uid: Uid) -> bool {
        match self.find_uid(key, mailbox, uid) {
            Some((path, _)) => fs::remove_file(path).is_ok(),
            None => false,
        }
    }

    async fn crash_leftovers(
        &self,
        key: &AccountKey,
        mailbox: &str,
        content: &[u8],
        uid: Uid,
    ) -> bool {
        let Some(dir) = self.mailbox_dir(key, mailbox) else {
            return false;
        };
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
        true
    }

    async fn leftover_tmp_files(&self, key: &AccountKey, mailbox: &str) -> Option<usize> {
        let dir = self.mailbox_dir(key, mailbox)?;
        Some(fs::read_dir(dir.join("tmp")).ok()?.count())
    }

    async fn lose_uids_file(&self, key: &AccountKey, mailbox: &str) -> bool {
        match self.mailbox_dir(key, mailbox) {
            Some(dir) => fs::remove_file(dir.join(UIDS_FILE)).is_ok(),
            None => false,
        }
    }
}
