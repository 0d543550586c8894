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

use super::content::{CleanFile, LfFile};
use super::index::{self, sql_err};
use super::keywords::{self, KeywordFile};
use super::names::{self, base_with_uid, FileName};
use crate::hub::LocalHub;
use crate::mime::{count_bare_lf, to_crlf};
use crate::{
    AccountKey, AppendOutcome, AppendRequest, ChangeHub, Changes, CopyOutcome, FlagOp, Flags,
    MailboxId, MailboxInfo, MailboxSnapshot, MailboxStatus, MessageContent, MessageData,
    MessageMeta, MessageStructure, ModSeq, SpecialUse, StoreError, Uid, Usage,
};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Name of the per-mailbox file holding UIDVALIDITY and the UID high-water mark.
pub const UIDS_FILE: &str = "mailroom-uids";
/// Files in `tmp/` older than this are leftovers of crashed deliveries.
const TMP_MAX_AGE: Duration = Duration::from_secs(36 * 3600);
/// A directory changed less than this long ago is always rescanned (same-second changes).
const MTIME_SLACK_NS: i64 = 2_000_000_000;

static COUNTER: AtomicU64 = AtomicU64::new(0);

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
}

/// The index connection of an account, locked for one operation.
pub(crate) struct ConnGuard<'a>(MutexGuard<'a, Option<Connection>>);

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
}

impl std::ops::DerefMut for ConnGuard<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        match self.0.as_mut() {
            Some(c) => c,
            None => unreachable!("ConnGuard without a connection"),
        }
    }
}

/// One mailbox row of the index.
#[derive(Clone, Debug)]
struct MailboxRow {
    id: i64,
    name: String,
    uidvalidity: u32,
    uidnext: Uid,
    highest_modseq: ModSeq,
    special_use: Option<String>,
    recent_from_uid: Uid,
    new_mtime: i64,
    cur_mtime: i64,
}

const MAILBOX_COLS: &str =
    "id, name, uidvalidity, uidnext, highest_modseq, special_use, recent_from_uid, new_mtime, cur_mtime";

fn mailbox_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MailboxRow> {
    Ok(MailboxRow {
        id: r.get(0)?,
        name: r.get(1)?,
        uidvalidity: r.get(2)?,
        uidnext: r.get(3)?,
        highest_modseq: r.get::<_, i64>(4)? as u64,
        special_use: r.get(5)?,
        recent_from_uid: r.get(6)?,
        new_mtime: r.get(7)?,
        cur_mtime: r.get(8)?,
    })
}

impl MailboxRow {
    fn info(&self) -> MailboxInfo {
        MailboxInfo {
            id: MailboxId(self.id),
            name: self.name.clone(),
            uid_validity: self.uidvalidity,
            special_use: self.special_use.as_deref().and_then(SpecialUse::from_imap),
        }
    }
}

const META_COLS: &str = "uid, flags, keywords, modseq, internal_date, internal_tz, size";

fn meta_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MessageMeta> {
    let keywords: String = r.get(2)?;
    Ok(MessageMeta {
        uid: r.get(0)?,
        flags: Flags(r.get::<_, u8>(1)?),
        keywords: decode_keywords(&keywords),
        modseq: r.get::<_, i64>(3)? as u64,
        internal_date: r.get(4)?,
        internal_date_tz: r.get(5)?,
        size: r.get::<_, i64>(6)? as u64,
    })
}

fn decode_keywords(s: &str) -> Vec<String> {
    s.split(' ')
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect()
}

fn encode_keywords(k: &[String]) -> String {
    k.join(" ")
}

/// Sorts keywords and drops duplicates (compared case-insensitively, first spelling kept)
/// and anything that is not a valid IMAP atom.
pub fn normalize_keywords(k: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for kw in k {
        let valid = !kw.is_empty()
            && kw.len() <= 128
            && kw
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\]".contains(&b))
            && !kw.starts_with('\\');
        if valid && !out.iter().any(|o| o.eq_ignore_ascii_case(kw)) {
            out.push(kw.clone());
        }
    }
    out.sort();
    out
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

fn mtime_nanos(path: &Path) -> i64 {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// The host part of Maildir file names, read once.
fn hostname() -> &'static str {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(read_hostname)
}

fn read_hostname() -> String {
    let raw = fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string());
    raw.chars()
        .map(|c| match c {
            '/' => "\\057".to_string(),
            ':' => "\\072".to_string(),
            ',' => "\\054".to_string(),
            c if c.is_control() || c.is_whitespace() => "_".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// A fresh unique Maildir base name `<secs>.M<usecs>P<pid>Q<n>.<host>`.
fn unique_base() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{}.M{}P{}Q{}.{}",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id(),
        n,
        hostname()
    )
}

/// fsyncs a directory so renames and unlinks in it are durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn is_not_found(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

/// Creates `cur/ new/ tmp/` under a mailbox directory.
fn make_maildir(dir: &Path) -> io::Result<()> {
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(dir.join(sub))?;
    }
    Ok(())
}

/// The contents of a mailbox's `mailroom-uids` file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UidsFile {
    pub uidvalidity: u32,
    pub uidnext: Uid,
    pub highest_modseq: ModSeq,
}

impl UidsFile {
    fn read(dir: &Path) -> Option<UidsFile> {
        let text = fs::read_to_string(dir.join(UIDS_FILE)).ok()?;
        let mut it = text.split_whitespace();
        let mut field = |p: &str| -> Option<u64> { it.next()?.strip_prefix(p)?.parse().ok() };
        let uidvalidity = u32::try_from(field("V")?).ok().filter(|&v| v != 0)?;
        let uidnext = u32::try_from(field("N")?).ok()?;
        let highest_modseq = field("M").unwrap_or(0);
        Some(UidsFile {
            uidvalidity,
            uidnext,
            highest_modseq,
        })
    }

    /// Writes the file atomically: tmp + fsync + rename + directory fsync.
    fn write(&self, dir: &Path) -> io::Result<()> {
        let tmp = dir.join(format!(".{UIDS_FILE}.{}", std::process::id()));
        {
            let mut f = File::create(&tmp)?;
            writeln!(
                f,
                "V{} N{} M{}",
                self.uidvalidity, self.uidnext, self.highest_modseq
            )?;
            f.sync_all()?;
        }
        fs::rename(&tmp, dir.join(UIDS_FILE))?;
        sync_dir(dir)
    }
}

/// Where a message's file is, from the index.
struct MessageLocation {
    cur: PathBuf,
    base: String,
    file: String,
    size: u64,
    raw_size: u64,
    clean: bool,
}

impl MessageLocation {
    /// The content handle over the opened file.
    fn content(self, file: File) -> Arc<dyn MessageContent> {
        if self.clean {
            Arc::new(CleanFile {
                file,
                size: self.size,
            })
        } else {
            Arc::new(LfFile::new(file, self.raw_size, self.size))
        }
    }
}

/// What `write_tmp` learnt while writing a message.
struct Written {
    tmp_path: PathBuf,
    base: String,
    raw_size: u64,
    size: u64,
    structure: Vec<u8>,
}

impl Core {
    /// Opens an account's store under `account_dir`, creating the Maildir and the index
    /// as needed, and rebuilding the index from the files when it is new.
    pub fn open(
        key: AccountKey,
        account_dir: &Path,
        hub: Arc<LocalHub>,
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
    fn clock() -> u64 {
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
                fresh
            }
        };
        if !ready {
            if let Some(c) = g.as_mut() {
                self.prepare(c, fresh)?;
            }
            self.ready.store(true, Release);
        }
        self.touch();
        Ok(ConnGuard(g))
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
        g.take().is_some()
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

    /// Fills a new index from the files: every mailbox directory, its UIDVALIDITY and
    /// high-water mark from `mailroom-uids`, every message with the UID in its name.
    fn rebuild_on(&self, conn: &mut Connection) -> Result<(), StoreError> {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        let existing: i64 = tx
            .query_row("SELECT count(*) FROM mailboxes", [], |r| r.get(0))
            .map_err(sql_err)?;
        if existing > 0 {
            // Another process rebuilt it first.
            return Ok(());
        }
        let mut found = vec!["INBOX".to_string()];
        self.walk(&self.maildir, "", &mut found)?;
        for name in &found {
            let id = self.insert_mailbox_from_disk(&tx, name)?;
            self.sync_mailbox(&tx, id, true, true)?;
        }
        tx.commit().map_err(sql_err)?;
        Ok(())
    }

    /// Adds mailbox directories created by outside programs to the index.
    fn discover_on(&self, conn: &mut Connection) -> Result<(), StoreError> {
        let mut found = vec!["INBOX".to_string()];
        self.walk(&self.maildir, "", &mut found)?;
        let known: HashSet<String> = {
            let mut st = conn
                .prepare("SELECT name FROM mailboxes")
                .map_err(sql_err)?;
            let rows = st.query_map([], |r| r.get(0)).map_err(sql_err)?;
            rows.collect::<Result<_, _>>().map_err(sql_err)?
        };
        if found.iter().all(|n| known.contains(n)) {
            return Ok(());
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        for name in &found {
            if find_mailbox(&tx, name)?.is_none() {
                let id = self.insert_mailbox_from_disk(&tx, name)?;
                self.sync_mailbox(&tx, id, true, true)?;
            }
        }
        tx.commit().map_err(sql_err)
    }

    /// Collects mailbox names (directories holding `cur/`) below `dir`.
    fn walk(&self, dir: &Path, prefix: &str, out: &mut Vec<String>) -> Result<(), StoreError> {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if is_not_found(&e) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        for entry in entries {
            let entry = entry?;
            let Some(fname) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if matches!(fname.as_str(), "cur" | "new" | "tmp") || fname.starts_with('.') {
                continue;
            }
            if !entry.file_type()?.is_dir() {
                continue;
            }
            let Some(comp) = names::decode_component(&fname) else {
                continue;
            };
            let name = if prefix.is_empty() {
                comp
            } else {
                format!("{prefix}/{comp}")
            };
            let Ok(name) = names::normalize(&name) else {
                continue;
            };
            if names::mailbox_dir(&self.maildir, &name) != entry.path() {
                continue; // not in our canonical encoding
            }
            if entry.path().join("cur").is_dir() && !out.contains(&name) {
                out.push(name.clone());
            }
            if depth(&name) < 64 {
                self.walk(&entry.path(), &name, out)?;
            }
        }
        Ok(())
    }

    fn insert_mailbox_from_disk(
        &self,
        tx: &Transaction<'_>,
        name: &str,
    ) -> Result<i64, StoreError> {
        let dir = names::mailbox_dir(&self.maildir, name);
        make_maildir(&dir)?;
        let uids = match UidsFile::read(&dir) {
            Some(u) => u,
            None => {
                let u = UidsFile {
                    uidvalidity: next_uidvalidity(tx, 0)?,
                    uidnext: 1,
                    highest_modseq: 0,
                };
                u.write(&dir)?;
                u
            }
        };
        note_uidvalidity(tx, uids.uidvalidity)?;
        // Modseqs restart above anything handed out before: the old index is gone, so
        // take the larger of the saved mark and the clock in microseconds.
        let modseq = (uids.highest_modseq + 1).max((now_nanos() / 1000) as u64);
        tx.execute(
            "INSERT INTO mailboxes (name, uidvalidity, uidnext, highest_modseq, recent_from_uid)
             VALUES (?1, ?2, ?3, ?4, ?3)",
            params![name, uids.uidvalidity, uids.uidnext.max(1), modseq as i64],
        )
        .map_err(sql_err)?;
        Ok(tx.last_insert_rowid())
    }

    // ---- mailboxes -------------------------------------------------------------------

    pub fn list_mailboxes(&self) -> Result<Vec<MailboxInfo>, StoreError> {
        let mut conn = self.conn()?;
        self.discover_on(&mut conn)?;
        let mut st = conn
            .prepare(&format!("SELECT {MAILBOX_COLS} FROM mailboxes"))
            .map_err(sql_err)?;
        let rows = st.query_map([], mailbox_row).map_err(sql_err)?;
        let mut out: Vec<MailboxInfo> = rows
            .map(|r| r.map(|m| m.info()))
            .collect::<Result<_, _>>()
            .map_err(sql_err)?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub fn mailbox(&self, name: &str) -> Result<MailboxInfo, StoreError> {
        let name = names::normalize(name)?;
        let conn = self.conn()?;
        find_mailbox(&conn, &name)?
            .map(|m| m.info())
            .ok_or(StoreError::NotFound("mailbox"))
    }

    pub fn create_mailbox(
        &self,
        name: &str,
        special_use: Option<SpecialUse>,
    ) -> Result<MailboxInfo, StoreError> {
        let name = names::normalize(name)?;
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        if find_mailbox(&tx, &name)?.is_some() {
            return Err(StoreError::AlreadyExists("mailbox"));
        }
        if names::mailbox_dir(&self.maildir, &name)
            .join("cur")
            .is_dir()
        {
            // Made by an outside program and not yet discovered: adopt it as it is.
            let id = self.insert_mailbox_from_disk(&tx, &name)?;
            self.sync_mailbox(&tx, id, true, true)?;
            tx.commit().map_err(sql_err)?;
            return Err(StoreError::AlreadyExists("mailbox"));
        }
        self.create_parents(&tx, &name)?;
        let row = self.create_one(&tx, &name, special_use)?;
        tx.commit().map_err(sql_err)?;
        Ok(row.info())
    }

    /// Creates those of `wanted` that do not exist, in one index transaction.
    pub fn ensure_mailboxes(&self, wanted: &[(String, SpecialUse)]) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        self.ensure_mailboxes_on(&mut conn, wanted)
    }

    fn ensure_mailboxes_on(
        &self,
        conn: &mut Connection,
        wanted: &[(String, SpecialUse)],
    ) -> Result<(), StoreError> {
        let mut missing = Vec::new();
        for (name, use_) in wanted {
            let name = names::normalize(name)?;
            if find_mailbox(conn, &name)?.is_none() {
                missing.push((name, *use_));
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        for (name, use_) in &missing {
            // Another process may have made it since the check above.
            if find_mailbox(&tx, name)?.is_some() {
                continue;
            }
            self.create_parents(&tx, name)?;
            self.create_one(&tx, name, Some(*use_))?;
        }
        tx.commit().map_err(sql_err)
    }

    /// Whether the account's files are still there (an outside `account remove` takes
    /// them away under an open account).
    pub fn files_present(&self) -> bool {
        self.maildir.join("cur").is_dir() && self.index_path.is_file()
    }

    fn create_parents(&self, tx: &Transaction<'_>, name: &str) -> Result<(), StoreError> {
        let comps: Vec<&str> = name.split(names::DELIMITER).collect();
        for i in 1..comps.len() {
            let parent = comps[..i].join("/");
            if find_mailbox(tx, &parent)?.is_none() {
                self.create_one(tx, &parent, None)?;
            }
        }
        Ok(())
    }

    fn create_one(
        &self,
        tx: &Transaction<'_>,
        name: &str,
        special_use: Option<SpecialUse>,
    ) -> Result<MailboxRow, StoreError> {
        let dir = names::mailbox_dir(&self.maildir, name);
        if dir.join("cur").is_dir() {
            // An implicitly created parent that an outside program made: adopt it.
            let id = self.insert_mailbox_from_disk(tx, name)?;
            self.sync_mailbox(tx, id, true, true)?;
            if let Some(su) = special_use {
                tx.execute(
                    "UPDATE mailboxes SET special_use = ?2 WHERE id = ?1",
                    params![id, su.as_imap()],
                )
                .map_err(sql_err)?;
            }
            return get_mailbox(tx, id);
        }
        // A directory left by an earlier life of this name (kept for its inferiors)
        // holds no messages.
        for sub in ["new", "tmp"] {
            remove_files(&dir.join(sub))?;
        }
        make_maildir(&dir)?;
        let uidvalidity = next_uidvalidity(tx, 0)?;
        UidsFile {
            uidvalidity,
            uidnext: 1,
            highest_modseq: 1,
        }
        .write(&dir)?;
        tx.execute(
            "INSERT INTO mailboxes (name, uidvalidity, uidnext, highest_modseq, special_use, recent_from_uid)
             VALUES (?1, ?2, 1, 1, ?3, 1)",
            params![name, uidvalidity, special_use.map(|s| s.as_imap())],
        )
        .map_err(sql_err)?;
        find_mailbox(tx, name)?.ok_or(StoreError::Index("mailbox vanished".into()))
    }

    pub fn delete_mailbox(&self, name: &str) -> Result<(), StoreError> {
        let name = names::normalize(name)?;
        if names::is_inbox(&name) {
            return Err(StoreError::Invalid("INBOX cannot be deleted".into()));
        }
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        let row = find_mailbox(&tx, &name)?.ok_or(StoreError::NotFound("mailbox"))?;
        let dir = names::mailbox_dir(&self.maildir, &name);
        for sub in ["cur", "new", "tmp"] {
            match fs::remove_dir_all(dir.join(sub)) {
                Err(e) if !is_not_found(&e) => return Err(e.into()),
                _ => {}
            }
        }
        for f in [UIDS_FILE, keywords::FILE] {
            match fs::remove_file(dir.join(f)) {
                Err(e) if !is_not_found(&e) => return Err(e.into()),
                _ => {}
            }
        }
        // Kept if inferiors live inside it.
        let _ = fs::remove_dir(&dir);
        for sql in [
            "DELETE FROM messages WHERE mailbox = ?1",
            "DELETE FROM expunged WHERE mailbox = ?1",
            "DELETE FROM acl WHERE mailbox = ?1",
            "DELETE FROM mailboxes WHERE id = ?1",
        ] {
            tx.execute(sql, [row.id]).map_err(sql_err)?;
        }
        tx.commit().map_err(sql_err)?;
        self.notify(row.id);
        Ok(())
    }

    pub fn rename_mailbox(&self, from: &str, to: &str) -> Result<(), StoreError> {
        let from = names::normalize(from)?;
        let to = names::normalize(to)?;
        if from == to {
            return Err(StoreError::AlreadyExists("mailbox"));
        }
        if names::is_inbox(&to) || to.starts_with(&format!("{from}/")) {
            return Err(StoreError::Invalid(
                "cannot rename a mailbox into itself or onto INBOX".into(),
            ));
        }
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        let src = find_mailbox(&tx, &from)?.ok_or(StoreError::NotFound("mailbox"))?;
        if find_mailbox(&tx, &to)?.is_some() {
            return Err(StoreError::AlreadyExists("mailbox"));
        }
        if names::mailbox_dir(&self.maildir, &to).join("cur").is_dir() {
            let id = self.insert_mailbox_from_disk(&tx, &to)?;
            self.sync_mailbox(&tx, id, true, true)?;
            tx.commit().map_err(sql_err)?;
            return Err(StoreError::AlreadyExists("mailbox"));
        }
        self.create_parents(&tx, &to)?;
        if names::is_inbox(&from) {
            let inbox = src;
            self.sync_mailbox(&tx, inbox.id, true, false)?;
            let dst = self.create_one(&tx, &to, None)?;
            let src_cur = self.maildir.join("cur");
            let dst_dir = names::mailbox_dir(&self.maildir, &to);
            // The moved file names keep their keyword letters: so must the table.
            match fs::copy(
                self.maildir.join(keywords::FILE),
                dst_dir.join(keywords::FILE),
            ) {
                Err(e) if !is_not_found(&e) => return Err(e.into()),
                _ => {}
            }
            let files: Vec<(Uid, String)> = {
                let mut st = tx
                    .prepare("SELECT uid, file FROM messages WHERE mailbox = ?1")
                    .map_err(sql_err)?;
                let rows = st
                    .query_map([inbox.id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(sql_err)?;
                rows.collect::<Result<_, _>>().map_err(sql_err)?
            };
            for (_, file) in &files {
                match fs::rename(src_cur.join(file), dst_dir.join("cur").join(file)) {
                    Err(e) if !is_not_found(&e) => return Err(e.into()),
                    _ => {}
                }
            }
            sync_dir(&src_cur)?;
            sync_dir(&dst_dir.join("cur"))?;
            let modseq = inbox.highest_modseq + 1;
            tx.execute(
                "INSERT INTO expunged (mailbox, uid, modseq) SELECT mailbox, uid, ?2 FROM messages WHERE mailbox = ?1",
                params![inbox.id, modseq as i64],
            )
            .map_err(sql_err)?;
            tx.execute(
                "UPDATE messages SET mailbox = ?2 WHERE mailbox = ?1",
                params![inbox.id, dst.id],
            )
            .map_err(sql_err)?;
            tx.execute(
                "UPDATE mailboxes SET uidnext = ?2, highest_modseq = ?3, cur_mtime = 0 WHERE id = ?1",
                params![dst.id, inbox.uidnext, modseq as i64],
            )
            .map_err(sql_err)?;
            tx.execute(
                "UPDATE mailboxes SET highest_modseq = ?2, cur_mtime = 0 WHERE id = ?1",
                params![inbox.id, modseq as i64],
            )
            .map_err(sql_err)?;
            UidsFile {
                uidvalidity: dst.uidvalidity,
                uidnext: inbox.uidnext,
                highest_modseq: modseq,
            }
            .write(&dst_dir)?;
            UidsFile {
                uidvalidity: inbox.uidvalidity,
                uidnext: inbox.uidnext,
                highest_modseq: modseq,
            }
            .write(&self.maildir)?;
            tx.commit().map_err(sql_err)?;
            self.notify(inbox.id);
            self.notify(dst.id);
            return Ok(());
        }
        let src_dir = names::mailbox_dir(&self.maildir, &from);
        let dst_dir = names::mailbox_dir(&self.maildir, &to);
        if let Some(parent) = dst_dir.parent() {
            fs::create_dir_all(parent)?;
        }
        move_dir(&src_dir, &dst_dir)?;
        let renamed: Vec<(i64, String)> = {
            let mut st = tx
                .prepare(
                    "SELECT id, name FROM mailboxes WHERE name = ?1 OR substr(name, 1, ?2) = ?3",
                )
                .map_err(sql_err)?;
            let prefix = format!("{from}/");
            let rows = st
                .query_map(params![from, prefix.len() as i64, prefix], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .map_err(sql_err)?;
            rows.collect::<Result<_, _>>().map_err(sql_err)?
        };
        for (id, name) in &renamed {
            let new_name = format!("{to}{}", &name[from.len()..]);
            tx.execute(
                "UPDATE mailboxes SET name = ?2 WHERE id = ?1",
                params![id, new_name],
            )
            .map_err(sql_err)?;
        }
        tx.commit().map_err(sql_err)?;
        for (id, _) in renamed {
            self.notify(id);
        }
        Ok(())
    }

    pub fn set_subscribed(&self, name: &str, subscribed: bool) -> Result<(), StoreError> {
        let name = names::normalize(name)?;
        let conn = self.conn()?;
        let sql = if subscribed {
            "INSERT OR IGNORE INTO subscriptions (name) VALUES (?1)"
        } else {
            "DELETE FROM subscriptions WHERE name = ?1"
        };
        conn.execute(sql, [name]).map_err(sql_err)?;
        Ok(())
    }

    pub fn subscriptions(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.conn()?;
        let mut st = conn
            .prepare("SELECT name FROM subscriptions ORDER BY name")
            .map_err(sql_err)?;
        let rows = st.query_map([], |r| r.get(0)).map_err(sql_err)?;
        rows.collect::<Result<_, _>>().map_err(sql_err)
    }

    pub fn status(&self, mailbox: MailboxId) -> Result<MailboxStatus, StoreError> {
        let conn = self.conn()?;
        let m = get_mailbox(&conn, mailbox.0)?;
        let (messages, unseen, size, recent): (i64, i64, i64, i64) = conn
            .query_row(
                "SELECT count(*), coalesce(sum((flags & 1) = 0), 0), coalesce(sum(size), 0),
                        coalesce(sum(uid >= ?2), 0)
                 FROM messages WHERE mailbox = ?1",
                params![m.id, m.recent_from_uid],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .map_err(sql_err)?;
        Ok(MailboxStatus {
            messages: messages as u32,
            unseen: unseen as u32,
            uid_next: m.uidnext,
            uid_validity: m.uidvalidity,
            highest_modseq: m.highest_modseq,
            size: size as u64,
            recent: recent as u32,
        })
    }

    pub fn usage(&self) -> Result<Usage, StoreError> {
        let conn = self.conn()?;
        let (bytes, messages): (i64, i64) = conn
            .query_row(
                "SELECT coalesce(sum(size), 0), count(*) FROM messages",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(sql_err)?;
        Ok(Usage {
            bytes: bytes as u64,
            messages: messages as u64,
        })
    }

    // ---- messages --------------------------------------------------------------------

    /// Syncs a mailbox with its directory; returns whether anything changed.
    pub fn sync(&self, mailbox: MailboxId, force: bool) -> Result<bool, StoreError> {
        // Cheap check without the write lock first.
        {
            let conn = self.conn()?;
            let m = get_mailbox(&conn, mailbox.0)?;
            if !force && self.unchanged(&m) {
                return Ok(false);
            }
        }
        let changed = {
            let mut conn = self.conn()?;
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql_err)?;
            let changed = self.sync_mailbox(&tx, mailbox.0, force, false)?;
            tx.commit().map_err(sql_err)?;
            changed
        };
        if changed {
            self.notify(mailbox.0);
        }
        Ok(changed)
    }

    /// True if neither `new/` nor `cur/` changed since the last full scan (and the last
    /// change is old enough that a same-second change cannot hide behind it).
    fn unchanged(&self, m: &MailboxRow) -> bool {
        let dir = names::mailbox_dir(&self.maildir, &m.name);
        let new_m = mtime_nanos(&dir.join("new"));
        let cur_m = mtime_nanos(&dir.join("cur"));
        new_m != 0
            && cur_m != 0
            && new_m == m.new_mtime
            && cur_m == m.cur_mtime
            && now_nanos() - new_m.max(cur_m) > MTIME_SLACK_NS
    }

    /// The scan behind [`Core::sync`], inside the caller's write transaction.
    /// `rebuilding`: every file keeps the UID in its name when it does not clash.
    fn sync_mailbox(
        &self,
        tx: &Transaction<'_>,
        id: i64,
        force: bool,
        rebuilding: bool,
    ) -> Result<bool, StoreError> {
        let m = get_mailbox(tx, id)?;
        if !force && self.unchanged(&m) {
            return Ok(false);
        }
        let dir = names::mailbox_dir(&self.maildir, &m.name);
        make_maildir(&dir)?;
        let new_mtime = mtime_nanos(&dir.join("new"));
        let cur_mtime = mtime_nanos(&dir.join("cur"));
        clean_tmp(&dir.join("tmp"));

        // What the files say: (in new/?, file name, parsed name).
        let mut files: Vec<(bool, String, FileName)> = Vec::new();
        for (sub, is_new) in [("cur", false), ("new", true)] {
            for entry in fs::read_dir(dir.join(sub))? {
                let entry = entry?;
                let Some(fname) = entry.file_name().to_str().map(str::to_string) else {
                    continue;
                };
                if let Some(parsed) = FileName::parse(&fname) {
                    files.push((is_new, fname, parsed));
                }
            }
        }
        let kf = KeywordFile::load(&dir);
        // What the index says: base -> (uid, file, flags, keywords).
        let mut rows: HashMap<String, (Uid, String, Flags, String)> = HashMap::new();
        {
            let mut st = tx
                .prepare("SELECT uid, base, file, flags, keywords FROM messages WHERE mailbox = ?1")
                .map_err(sql_err)?;
            let it = st
                .query_map([id], |r| {
                    Ok((
                        r.get::<_, Uid>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        Flags(r.get(3)?),
                        r.get::<_, String>(4)?,
                    ))
                })
                .map_err(sql_err)?;
            for row in it {
                let (uid, base, file, flags, keywords) = row.map_err(sql_err)?;
                rows.insert(base, (uid, file, flags, keywords));
            }
        }
        let mut taken: HashSet<Uid> = rows.values().map(|r| r.0).collect();
        let mut modseq = m.highest_modseq;
        let mut uidnext = m.uidnext;
        let mut changed = false;
        let mut seen: HashSet<String> = HashSet::new();
        let mut fresh: Vec<(bool, String, FileName)> = Vec::new();
        for (is_new, fname, parsed) in files {
            let Some((uid, file, flags, keywords)) = rows.get(&parsed.base).cloned() else {
                fresh.push((is_new, fname, parsed));
                continue;
            };
            if !seen.insert(parsed.base.clone()) {
                // A second file with an indexed base (new/ and cur/): treat as new.
                fresh.push((is_new, fname, parsed));
                continue;
            }
            let mut name = fname.clone();
            if is_new {
                name = FileName::render(&parsed.base, parsed.flags, &parsed.keyword_letters);
                if let Err(e) =
                    fs::rename(dir.join("new").join(&fname), dir.join("cur").join(&name))
                {
                    if is_not_found(&e) {
                        continue;
                    }
                    return Err(e.into());
                }
                changed = true;
            }
            // Keywords as the letters say, keeping those that have no letter.
            let kw = decode_keywords(&keywords);
            let (defined, _) = kf.split_letters(&parsed.keyword_letters);
            let new_kw = if defined == kf.letters(&kw) {
                kw
            } else {
                let mut k: Vec<String> = kw
                    .into_iter()
                    .filter(|k| kf.letter_of(k).is_none())
                    .collect();
                k.extend(
                    defined
                        .chars()
                        .filter_map(|c| kf.name_of(c).map(str::to_string)),
                );
                normalize_keywords(&k)
            };
            let new_kw = encode_keywords(&new_kw);
            if parsed.flags != flags || new_kw != keywords {
                modseq += 1;
                tx.execute(
                    "UPDATE messages SET flags = ?3, file = ?4, modseq = ?5, keywords = ?6
                     WHERE mailbox = ?1 AND uid = ?2",
                    params![id, uid, parsed.flags.0, name, modseq as i64, new_kw],
                )
                .map_err(sql_err)?;
                changed = true;
            } else if name != file {
                tx.execute(
                    "UPDATE messages SET file = ?3 WHERE mailbox = ?1 AND uid = ?2",
                    params![id, uid, name],
                )
                .map_err(sql_err)?;
            }
        }
        // Indexed messages whose file is gone were removed from outside.
        let mut gone: Vec<Uid> = rows
            .iter()
            .filter(|(base, _)| !seen.contains(*base))
            .map(|(_, r)| r.0)
            .collect();
        if !gone.is_empty() {
            gone.sort_unstable();
            modseq += 1;
            for uid in &gone {
                tx.execute(
                    "DELETE FROM messages WHERE mailbox = ?1 AND uid = ?2",
                    params![id, uid],
                )
                .map_err(sql_err)?;
                tx.execute(
                    "INSERT OR REPLACE INTO expunged (mailbox, uid, modseq) VALUES (?1, ?2, ?3)",
                    params![id, uid, modseq as i64],
                )
                .map_err(sql_err)?;
            }
            changed = true;
        }
        // New files: those carrying a UID at or above UIDNEXT keep it (an append whose
        // index transaction never committed); others get the next UID.
        fresh.sort_by(|a, b| {
            (a.2.uid.is_none(), a.2.uid, &a.1).cmp(&(b.2.uid.is_none(), b.2.uid, &b.1))
        });
        for (is_new, fname, parsed) in fresh {
            let src = dir.join(if is_new { "new" } else { "cur" }).join(&fname);
            if let Some(u) = parsed.uid {
                if !rebuilding && u < m.uidnext && !taken.contains(&u) && is_tombstoned(tx, id, u)?
                {
                    // Expunged, but the unlink did not survive a crash.
                    match fs::remove_file(&src) {
                        Err(e) if !is_not_found(&e) => return Err(e.into()),
                        _ => {}
                    }
                    continue;
                }
            }
            let uid = match parsed.uid {
                Some(u) if (u >= uidnext || rebuilding) && !taken.contains(&u) => u,
                _ => uidnext,
            };
            if uid == u32::MAX {
                return Err(StoreError::Corrupt("UIDs exhausted".into()));
            }
            let base = if parsed.uid == Some(uid) {
                parsed.base.clone()
            } else {
                base_with_uid(&parsed.base, uid)
            };
            let name = FileName::render(&base, parsed.flags, &parsed.keyword_letters);
            let dst = dir.join("cur").join(&name);
            if src != dst {
                if let Err(e) = fs::rename(&src, &dst) {
                    if is_not_found(&e) {
                        continue;
                    }
                    return Err(e.into());
                }
            }
            let info = match index_file(&dst) {
                Ok(i) => i,
                Err(e) if is_not_found(&e) => continue,
                Err(e) => return Err(e.into()),
            };
            modseq += 1;
            tx.execute(
                "INSERT INTO messages (mailbox, uid, base, file, flags, keywords, modseq, internal_date,
                     internal_tz, size, raw_size, crlf_clean, structure)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?12, ?6, ?7, 0, ?8, ?9, ?10, ?11)",
                params![
                    id,
                    uid,
                    base,
                    name,
                    parsed.flags.0,
                    modseq as i64,
                    info.mtime,
                    info.size as i64,
                    info.raw_size as i64,
                    info.size == info.raw_size,
                    info.structure,
                    encode_keywords(&normalize_keywords(
                        &parsed
                            .keyword_letters
                            .chars()
                            .filter_map(|c| kf.name_of(c).map(str::to_string))
                            .collect::<Vec<_>>()
                    ))
                ],
            )
            .map_err(sql_err)?;
            taken.insert(uid);
            uidnext = uidnext.max(uid + 1);
            changed = true;
        }
        if changed {
            sync_dir(&dir.join("cur"))?;
            sync_dir(&dir.join("new"))?;
        }
        // Record the mtimes seen before the scan only if we changed nothing (our renames
        // moved them) and they were already old: a change made in the same clock tick as
        // the last one, after our readdir, would not move the mtime again.
        let now = now_nanos();
        let settled = |t: i64| if now - t > MTIME_SLACK_NS { t } else { 0 };
        let (nm, cm) = if changed {
            (0, 0)
        } else {
            (settled(new_mtime), settled(cur_mtime))
        };
        tx.execute(
            "UPDATE mailboxes SET uidnext = ?2, highest_modseq = ?3, new_mtime = ?4, cur_mtime = ?5 WHERE id = ?1",
            params![id, uidnext, modseq as i64, nm, cm],
        )
        .map_err(sql_err)?;
        if !gone.is_empty() || rebuilding {
            UidsFile {
                uidvalidity: m.uidvalidity,
                uidnext,
                highest_modseq: modseq,
            }
            .write(&dir)?;
        }
        Ok(changed)
    }

    pub fn messages(&self, mailbox: MailboxId) -> Result<MailboxSnapshot, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction().map_err(sql_err)?;
        let m = get_mailbox(&tx, mailbox.0)?;
        let messages = query_metas(
            &tx,
            &format!("SELECT {META_COLS} FROM messages WHERE mailbox = ?1 ORDER BY uid"),
            params![m.id],
        )?;
        Ok(MailboxSnapshot {
            uid_validity: m.uidvalidity,
            uid_next: m.uidnext,
            highest_modseq: m.highest_modseq,
            messages,
        })
    }

    pub fn changes_since(&self, mailbox: MailboxId, since: ModSeq) -> Result<Changes, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction().map_err(sql_err)?;
        let m = get_mailbox(&tx, mailbox.0)?;
        let changed = query_metas(
            &tx,
            &format!(
                "SELECT {META_COLS} FROM messages WHERE mailbox = ?1 AND modseq > ?2 ORDER BY uid"
            ),
            params![m.id, since as i64],
        )?;
        let expunged: Vec<Uid> = {
            let mut st = tx
                .prepare("SELECT uid FROM expunged WHERE mailbox = ?1 AND modseq > ?2 ORDER BY uid")
                .map_err(sql_err)?;
            let rows = st
                .query_map(params![m.id, since as i64], |r| r.get(0))
                .map_err(sql_err)?;
            rows.collect::<Result<_, _>>().map_err(sql_err)?
        };
        Ok(Changes {
            highest_modseq: m.highest_modseq,
            uid_next: m.uidnext,
            changed,
            expunged,
            uid_validity_changed: false,
        })
    }

    pub fn append(
        &self,
        mailbox: MailboxId,
        req: AppendRequest,
    ) -> Result<AppendOutcome, StoreError> {
        let dir = {
            let conn = self.conn()?;
            let m = get_mailbox(&conn, mailbox.0)?;
            names::mailbox_dir(&self.maildir, &m.name)
        };
        let (date, tz) = req.internal_date.unwrap_or((now_secs(), 0));
        let written = write_tmp(&dir, &req, date)?;
        let result = self.commit_append(mailbox.0, &dir, &written, &req, date, tz);
        if result.is_err() {
            let _ = fs::remove_file(&written.tmp_path);
        }
        let outcome = result?;
        self.notify(mailbox.0);
        Ok(outcome)
    }

    fn commit_append(
        &self,
        id: i64,
        dir: &Path,
        w: &Written,
        req: &AppendRequest,
        date: i64,
        tz: i32,
    ) -> Result<AppendOutcome, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        let m = get_mailbox(&tx, id)?;
        if names::mailbox_dir(&self.maildir, &m.name) != dir {
            return Err(StoreError::Busy); // renamed meanwhile; the caller may retry
        }
        let uid = m.uidnext;
        if uid == u32::MAX {
            return Err(StoreError::Corrupt("UIDs exhausted".into()));
        }
        let flags = Flags(req.flags.0 & 31);
        let keywords = normalize_keywords(&req.keywords);
        let mut kf = KeywordFile::load(dir);
        let letters = kf.assign(&keywords);
        kf.save()?;
        let base = format!("{},U={uid},S={}", w.base, w.size);
        let name = FileName::render(&base, flags, &letters);
        let dst = dir.join("cur").join(&name);
        fs::rename(&w.tmp_path, &dst)?;
        let inserted = (|| -> Result<ModSeq, StoreError> {
            sync_dir(&dir.join("cur"))?;
            let modseq = m.highest_modseq + 1;
            tx.execute(
                "INSERT INTO messages (mailbox, uid, base, file, flags, keywords, modseq, internal_date,
                     internal_tz, size, raw_size, crlf_clean, structure)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                params![
                    id,
                    uid,
                    base,
                    name,
                    flags.0,
                    encode_keywords(&keywords),
                    modseq as i64,
                    date,
                    tz,
                    w.size as i64,
                    w.raw_size as i64,
                    w.size == w.raw_size,
                    w.structure
                ],
            )
            .map_err(sql_err)?;
            tx.execute(
                "UPDATE mailboxes SET uidnext = ?2, highest_modseq = ?3 WHERE id = ?1",
                params![id, uid + 1, modseq as i64],
            )
            .map_err(sql_err)?;
            Ok(modseq)
        })();
        match inserted.and_then(|modseq| tx.commit().map_err(sql_err).map(|_| modseq)) {
            Ok(modseq) => Ok(AppendOutcome {
                uid_validity: m.uidvalidity,
                uid,
                modseq,
            }),
            Err(e) => {
                // Not acknowledged: take the file back out so it is not adopted later.
                let _ = fs::remove_file(&dst);
                Err(e)
            }
        }
    }

    pub fn store_flags(
        &self,
        mailbox: MailboxId,
        uids: &[Uid],
        op: FlagOp,
        flags: Flags,
        keywords: &[String],
    ) -> Result<Vec<MessageMeta>, StoreError> {
        let mut conn = self.conn()?;
        light_sync(&mut conn, |conn| {
            self.store_flags_in(conn, mailbox, uids, op, flags, keywords)
        })
    }

    fn store_flags_in(
        &self,
        conn: &mut Connection,
        mailbox: MailboxId,
        uids: &[Uid],
        op: FlagOp,
        flags: Flags,
        keywords: &[String],
    ) -> Result<Vec<MessageMeta>, StoreError> {
        let flags = Flags(flags.0 & 31);
        let keywords = normalize_keywords(keywords);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        let m = get_mailbox(&tx, mailbox.0)?;
        let dir = names::mailbox_dir(&self.maildir, &m.name);
        let modseq = m.highest_modseq + 1;
        let mut out = Vec::new();
        let mut kf = KeywordFile::load(&dir);
        let current = {
            let mut st = tx
                .prepare(&format!(
                    "SELECT {META_COLS}, base, file FROM messages WHERE mailbox = ?1 AND uid = ?2"
                ))
                .map_err(sql_err)?;
            let mut v = Vec::new();
            for uid in sorted_uids(uids) {
                let row = st
                    .query_row(params![m.id, uid], |r| {
                        Ok((meta_row(r)?, r.get::<_, String>(7)?, r.get::<_, String>(8)?))
                    })
                    .optional()
                    .map_err(sql_err)?;
                v.extend(row);
            }
            v
        };
        for (mut meta, base, file) in current {
            let (new_flags, new_kw) = match op {
                FlagOp::Set => (flags, keywords.clone()),
                FlagOp::Add => {
                    let mut k = meta.keywords.clone();
                    k.extend(keywords.iter().cloned());
                    (meta.flags.union(flags), normalize_keywords(&k))
                }
                FlagOp::Remove => (
                    meta.flags.difference(flags),
                    meta.keywords
                        .iter()
                        .filter(|k| !keywords.iter().any(|r| r.eq_ignore_ascii_case(k)))
                        .cloned()
                        .collect(),
                ),
            };
            if new_flags == meta.flags && new_kw == meta.keywords {
                continue;
            }
            let old_letters = FileName::parse(&file)
                .map(|f| f.keyword_letters)
                .unwrap_or_default();
            // Letters of the new keywords, plus letters no keyword is known for.
            let mut letters = kf.assign(&new_kw);
            letters.push_str(&kf.split_letters(&old_letters).1);
            kf.save()?;
            let name = FileName::render(&base, new_flags, &letters);
            if name != file {
                let cur = dir.join("cur");
                match fs::rename(cur.join(&file), cur.join(&name)) {
                    Ok(()) => {}
                    Err(e) if is_not_found(&e) => match locate(&cur, &base)? {
                        Some(found) => fs::rename(cur.join(found), cur.join(&name))?,
                        None => continue, // gone; the next sync records the expunge
                    },
                    Err(e) => return Err(e.into()),
                }
            }
            tx.execute(
                "UPDATE messages SET flags = ?3, keywords = ?4, file = ?5, modseq = ?6 WHERE mailbox = ?1 AND uid = ?2",
                params![m.id, meta.uid, new_flags.0, encode_keywords(&new_kw), name, modseq as i64],
            )
            .map_err(sql_err)?;
            meta.flags = new_flags;
            meta.keywords = new_kw;
            meta.modseq = modseq;
            out.push(meta);
        }
        if !out.is_empty() {
            tx.execute(
                "UPDATE mailboxes SET highest_modseq = ?2 WHERE id = ?1",
                params![m.id, modseq as i64],
            )
            .map_err(sql_err)?;
        }
        tx.commit().map_err(sql_err)?;
        if !out.is_empty() {
            self.notify(m.id);
        }
        Ok(out)
    }

    pub fn expunge(
        &self,
        mailbox: MailboxId,
        uids: Option<&[Uid]>,
        force: bool,
    ) -> Result<Vec<Uid>, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        let m = get_mailbox(&tx, mailbox.0)?;
        let removed = self.expunge_in(&tx, &m, uids, force)?;
        tx.commit().map_err(sql_err)?;
        if !removed.is_empty() {
            self.notify(m.id);
        }
        Ok(removed)
    }

    /// Removes messages inside the caller's write transaction: files are unlinked first,
    /// then the rows become tombstones, then the UID high-water file is rewritten.
    fn expunge_in(
        &self,
        tx: &Transaction<'_>,
        m: &MailboxRow,
        uids: Option<&[Uid]>,
        force: bool,
    ) -> Result<Vec<Uid>, StoreError> {
        let deleted = Flags::DELETED.0;
        let victims: Vec<(Uid, String)> = match uids {
            None => {
                let mut st = tx
                    .prepare(
                        "SELECT uid, file FROM messages WHERE mailbox = ?1 AND (flags & ?2) != 0 ORDER BY uid",
                    )
                    .map_err(sql_err)?;
                let rows = st
                    .query_map(params![m.id, deleted], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(sql_err)?;
                rows.collect::<Result<_, _>>().map_err(sql_err)?
            }
            Some(list) => {
                let mut st = tx
                    .prepare(
                        "SELECT uid, file, flags FROM messages WHERE mailbox = ?1 AND uid = ?2",
                    )
                    .map_err(sql_err)?;
                let mut v = Vec::new();
                for uid in sorted_uids(list) {
                    let row: Option<(Uid, String, u8)> = st
                        .query_row(params![m.id, uid], |r| {
                            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                        })
                        .optional()
                        .map_err(sql_err)?;
                    if let Some((uid, file, flags)) = row {
                        if force || Flags(flags).contains(Flags::DELETED) {
                            v.push((uid, file));
                        }
                    }
                }
                v
            }
        };
        if victims.is_empty() {
            return Ok(Vec::new());
        }
        let dir = names::mailbox_dir(&self.maildir, &m.name);
        let cur = dir.join("cur");
        // The high-water mark is written before anything is removed.
        UidsFile {
            uidvalidity: m.uidvalidity,
            uidnext: m.uidnext,
            highest_modseq: m.highest_modseq + 1,
        }
        .write(&dir)?;
        for (_, file) in &victims {
            match fs::remove_file(cur.join(file)) {
                Ok(()) => {}
                Err(e) if is_not_found(&e) => {
                    if let Some(base) = FileName::parse(file).map(|f| f.base) {
                        if let Some(found) = locate(&cur, &base)? {
                            let _ = fs::remove_file(cur.join(found));
                        }
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        sync_dir(&cur)?;
        let modseq = m.highest_modseq + 1;
        for (uid, _) in &victims {
            tx.execute(
                "DELETE FROM messages WHERE mailbox = ?1 AND uid = ?2",
                params![m.id, uid],
            )
            .map_err(sql_err)?;
            tx.execute(
                "INSERT OR REPLACE INTO expunged (mailbox, uid, modseq) VALUES (?1, ?2, ?3)",
                params![m.id, uid, modseq as i64],
            )
            .map_err(sql_err)?;
        }
        tx.execute(
            "UPDATE mailboxes SET highest_modseq = ?2 WHERE id = ?1",
            params![m.id, modseq as i64],
        )
        .map_err(sql_err)?;
        Ok(victims.into_iter().map(|(u, _)| u).collect())
    }

    pub fn copy(
        &self,
        from: MailboxId,
        uids: &[Uid],
        to: MailboxId,
        remove: bool,
    ) -> Result<CopyOutcome, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        let src = get_mailbox(&tx, from.0)?;
        let dst = get_mailbox(&tx, to.0)?;
        if src.id == dst.id && remove {
            return Err(StoreError::Invalid(
                "cannot move a message into its own mailbox".into(),
            ));
        }
        let src_cur = names::mailbox_dir(&self.maildir, &src.name).join("cur");
        let dst_dir = names::mailbox_dir(&self.maildir, &dst.name);
        let dst_cur = dst_dir.join("cur");
        type Row = (
            Uid,
            String,
            String,
            u8,
            String,
            i64,
            i32,
            i64,
            i64,
            bool,
            Vec<u8>,
        );
        let rows: Vec<Row> = {
            let mut st = tx
                .prepare(
                    "SELECT uid, base, file, flags, keywords, internal_date, internal_tz, size, raw_size,
                            crlf_clean, structure
                     FROM messages WHERE mailbox = ?1 AND uid = ?2",
                )
                .map_err(sql_err)?;
            let mut v = Vec::new();
            for uid in sorted_uids(uids) {
                let row: Option<Row> = st
                    .query_row(params![src.id, uid], |r| {
                        Ok((
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                            r.get(6)?,
                            r.get(7)?,
                            r.get(8)?,
                            r.get(9)?,
                            r.get(10)?,
                        ))
                    })
                    .optional()
                    .map_err(sql_err)?;
                v.extend(row);
            }
            v
        };
        let mut uid = dst.uidnext;
        let modseq = dst.highest_modseq + 1;
        let mut pairs = Vec::new();
        let mut made: Vec<PathBuf> = Vec::new();
        let mut dst_kf = KeywordFile::load(&dst_dir);
        let result = (|| -> Result<(), StoreError> {
            for (
                src_uid,
                base,
                file,
                flags,
                keywords,
                date,
                tz,
                size,
                raw_size,
                clean,
                structure,
            ) in &rows
            {
                if uid == u32::MAX {
                    return Err(StoreError::Corrupt("UIDs exhausted".into()));
                }
                let new_base = format!("{},U={uid},S={size}", unique_base());
                let letters = dst_kf.assign(&decode_keywords(keywords));
                dst_kf.save()?;
                let name = FileName::render(&new_base, Flags(*flags), &letters);
                let target = dst_cur.join(&name);
                let mut source = src_cur.join(file);
                if !source.exists() {
                    match locate(&src_cur, base)? {
                        Some(found) => source = src_cur.join(found),
                        None => continue, // vanished; the next sync records it
                    }
                }
                if fs::hard_link(&source, &target).is_err() {
                    copy_file(&source, &target, &dst_dir.join("tmp"))?;
                }
                made.push(target);
                tx.execute(
                    "INSERT INTO messages (mailbox, uid, base, file, flags, keywords, modseq, internal_date,
                         internal_tz, size, raw_size, crlf_clean, structure)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                    params![dst.id, uid, new_base, name, flags, keywords, modseq as i64, date, tz, size, raw_size, clean, structure],
                )
                .map_err(sql_err)?;
                pairs.push((*src_uid, uid));
                uid += 1;
            }
            sync_dir(&dst_cur)?;
            tx.execute(
                "UPDATE mailboxes SET uidnext = ?2, highest_modseq = ?3 WHERE id = ?1",
                params![dst.id, uid, modseq as i64],
            )
            .map_err(sql_err)?;
            Ok(())
        })();
        if let Err(e) = result {
            for p in made {
                let _ = fs::remove_file(p);
            }
            return Err(e);
        }
        if remove && !pairs.is_empty() {
            let moved: Vec<Uid> = pairs.iter().map(|p| p.0).collect();
            // Re-read the source row: copying into the same mailbox is refused above, so
            // its uidnext/modseq are unchanged by the inserts.
            let src = get_mailbox(&tx, src.id)?;
            if let Err(e) = self.expunge_in(&tx, &src, Some(&moved), true) {
                for p in made {
                    let _ = fs::remove_file(p);
                }
                return Err(e);
            }
        }
        if let Err(e) = tx.commit().map_err(sql_err) {
            for p in made {
                let _ = fs::remove_file(p);
            }
            return Err(e);
        }
        if !pairs.is_empty() {
            self.notify(dst.id);
            if remove {
                self.notify(src.id);
            }
        }
        Ok(CopyOutcome {
            uid_validity: dst.uidvalidity,
            pairs,
        })
    }

    pub fn open_message(
        &self,
        mailbox: MailboxId,
        uid: Uid,
    ) -> Result<Arc<dyn MessageContent>, StoreError> {
        let loc = {
            let conn = self.conn()?;
            self.locate_message(&conn, mailbox, uid)?
        };
        let file = match File::open(loc.cur.join(&loc.file)) {
            Ok(f) => f,
            Err(e) if is_not_found(&e) => match locate(&loc.cur, &loc.base)? {
                Some(found) => File::open(loc.cur.join(found)).map_err(|e| {
                    if is_not_found(&e) {
                        StoreError::NotFound("message")
                    } else {
                        e.into()
                    }
                })?,
                None => return Err(StoreError::NotFound("message")),
            },
            Err(e) => return Err(e.into()),
        };
        Ok(loc.content(file))
    }

    /// [`Core::open_message`] without waiting for anything: only when the index
    /// connection is open and free, the lookup needs no lock another process holds and
    /// the file is where the index says. `None` means "take the blocking path"; the
    /// lookup is one indexed row read from a hot page cache, a few microseconds, so
    /// callers on async threads may use it (POP3 RETR: a hop to the blocking pool per
    /// message cost more than the read).
    pub fn open_message_in_place(
        &self,
        mailbox: MailboxId,
        uid: Uid,
    ) -> Option<Result<Arc<dyn MessageContent>, StoreError>> {
        let guard = self.conn.try_lock().ok()?;
        let conn = guard.as_ref()?;
        // Never sleep in SQLite's busy handler here: BUSY sends the call to the pool.
        conn.busy_timeout(Duration::ZERO).ok()?;
        let found = self.locate_message(conn, mailbox, uid);
        let _ = conn.busy_timeout(index::BUSY_TIMEOUT);
        drop(guard);
        self.touch();
        let loc = match found {
            Ok(l) => l,
            Err(e @ StoreError::NotFound(_)) => return Some(Err(e)),
            Err(_) => return None,
        };
        let file = File::open(loc.cur.join(&loc.file)).ok()?;
        Some(Ok(loc.content(file)))
    }

    /// Where the index says a message's file is.
    fn locate_message(
        &self,
        conn: &Connection,
        mailbox: MailboxId,
        uid: Uid,
    ) -> Result<MessageLocation, StoreError> {
        let name: String = conn
            .prepare_cached("SELECT name FROM mailboxes WHERE id = ?1")
            .and_then(|mut st| st.query_row([mailbox.0], |r| r.get(0)).optional())
            .map_err(sql_err)?
            .ok_or(StoreError::NotFound("mailbox"))?;
        let row: Option<(String, String, i64, i64, bool)> = conn
            .prepare_cached(
                "SELECT base, file, size, raw_size, crlf_clean FROM messages WHERE mailbox = ?1 AND uid = ?2",
            )
            .and_then(|mut st| {
                st.query_row(params![mailbox.0, uid], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .optional()
            })
            .map_err(sql_err)?;
        let (base, file, size, raw_size, clean) = row.ok_or(StoreError::NotFound("message"))?;
        Ok(MessageLocation {
            cur: names::mailbox_dir(&self.maildir, &name).join("cur"),
            base,
            file,
            size: size as u64,
            raw_size: raw_size as u64,
            clean,
        })
    }

    pub fn structure(
        &self,
        mailbox: MailboxId,
        uid: Uid,
    ) -> Result<Arc<MessageStructure>, StoreError> {
        let blob: Vec<u8> = {
            let conn = self.conn()?;
            conn.query_row(
                "SELECT structure FROM messages WHERE mailbox = ?1 AND uid = ?2",
                params![mailbox.0, uid],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql_err)?
            .ok_or(StoreError::NotFound("message"))?
        };
        serde_json::from_slice(&blob)
            .map(Arc::new)
            .map_err(|e| StoreError::Corrupt(format!("bad structure in index: {e}")))
    }

    /// Claims `\Recent` for the messages below `upto` (exclusive), or below UIDNEXT.
    pub fn claim_recent(&self, mailbox: MailboxId, upto: Option<Uid>) -> Result<Uid, StoreError> {
        let mut conn = self.conn()?;
        light_sync(&mut conn, |conn| Self::claim_recent_in(conn, mailbox, upto))
    }

    fn claim_recent_in(
        conn: &mut Connection,
        mailbox: MailboxId,
        upto: Option<Uid>,
    ) -> Result<Uid, StoreError> {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        let m = get_mailbox(&tx, mailbox.0)?;
        let to = upto
            .unwrap_or(m.uidnext)
            .min(m.uidnext)
            .max(m.recent_from_uid);
        tx.execute(
            "UPDATE mailboxes SET recent_from_uid = ?2 WHERE id = ?1",
            params![m.id, to],
        )
        .map_err(sql_err)?;
        tx.commit().map_err(sql_err)?;
        Ok(m.recent_from_uid)
    }

    /// The directories of a mailbox that the outside-change watcher observes.
    pub fn watch_dirs(&self, mailbox: MailboxId) -> Result<Vec<PathBuf>, StoreError> {
        let conn = self.conn()?;
        let m = get_mailbox(&conn, mailbox.0)?;
        let dir = names::mailbox_dir(&self.maildir, &m.name);
        Ok(vec![dir.join("new"), dir.join("cur")])
    }
}

/// Runs `f` with commits that are not flushed to disk (WAL with `synchronous=NORMAL`):
/// for flag changes and `\Recent` claims only. Such a commit survives a crash of the
/// process (it is in the WAL file) but may be lost with a power failure, as the rename
/// of the Maildir file that carries the same flags may be; a later full commit flushes
/// it. Messages themselves (append, copy, move, expunge) always commit with a flush.
fn light_sync<T>(
    conn: &mut ConnGuard<'_>,
    f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(sql_err)?;
    let r = f(conn);
    if let Err(e) = conn.pragma_update(None, "synchronous", "FULL") {
        // Never leave a connection that does not flush: close it (it reopens with FULL).
        tracing::warn!("cannot restore synchronous=FULL, closing the index: {e}");
        conn.discard();
    }
    r
}

/// UIDs sorted ascending without duplicates.
fn sorted_uids(uids: &[Uid]) -> Vec<Uid> {
    let mut v = uids.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

fn depth(name: &str) -> usize {
    name.matches('/').count()
}

fn find_mailbox(conn: &Connection, name: &str) -> Result<Option<MailboxRow>, StoreError> {
    conn.query_row(
        &format!("SELECT {MAILBOX_COLS} FROM mailboxes WHERE name = ?1"),
        [name],
        mailbox_row,
    )
    .optional()
    .map_err(sql_err)
}

fn get_mailbox(conn: &Connection, id: i64) -> Result<MailboxRow, StoreError> {
    conn.query_row(
        &format!("SELECT {MAILBOX_COLS} FROM mailboxes WHERE id = ?1"),
        [id],
        mailbox_row,
    )
    .optional()
    .map_err(sql_err)?
    .ok_or(StoreError::NotFound("mailbox"))
}

fn query_metas(
    conn: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
) -> Result<Vec<MessageMeta>, StoreError> {
    let mut st = conn.prepare(sql).map_err(sql_err)?;
    let rows = st.query_map(p, meta_row).map_err(sql_err)?;
    rows.collect::<Result<_, _>>().map_err(sql_err)
}

fn is_tombstoned(conn: &Connection, mailbox: i64, uid: Uid) -> Result<bool, StoreError> {
    conn.query_row(
        "SELECT 1 FROM expunged WHERE mailbox = ?1 AND uid = ?2",
        params![mailbox, uid],
        |_| Ok(()),
    )
    .optional()
    .map(|o| o.is_some())
    .map_err(sql_err)
}

/// Remembers the highest UIDVALIDITY handed out in this account.
fn note_uidvalidity(conn: &Connection, v: u32) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('last_uidvalidity', ?1)
         ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
        [v],
    )
    .map_err(sql_err)?;
    Ok(())
}

/// A new UIDVALIDITY: the clock in seconds, or one more than the last one handed out.
fn next_uidvalidity(conn: &Connection, floor: u32) -> Result<u32, StoreError> {
    let last: u32 = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'last_uidvalidity'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql_err)?
        .unwrap_or(0);
    let now = u32::try_from(now_secs()).unwrap_or(u32::MAX - 1);
    let v = now.max(last.saturating_add(1)).max(floor).max(1);
    note_uidvalidity(conn, v)?;
    Ok(v)
}

/// Finds the current name of a file in `cur/` by its base (after an outside rename).
fn locate(cur: &Path, base: &str) -> Result<Option<String>, StoreError> {
    for entry in fs::read_dir(cur)? {
        let entry = entry?;
        if let Some(name) = entry.file_name().to_str() {
            if FileName::parse(name).is_some_and(|f| f.base == base) {
                return Ok(Some(name.to_string()));
            }
        }
    }
    Ok(None)
}

fn remove_files(dir: &Path) -> io::Result<()> {
    match fs::read_dir(dir) {
        Ok(entries) => {
            for e in entries {
                let e = e?;
                if e.file_type()?.is_file() {
                    fs::remove_file(e.path())?;
                }
            }
            Ok(())
        }
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes leftovers of crashed deliveries from `tmp/`.
fn clean_tmp(tmp: &Path) {
    let Ok(entries) = fs::read_dir(tmp) else {
        return;
    };
    for e in entries.flatten() {
        let old = e
            .metadata()
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > TMP_MAX_AGE);
        if old {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Moves a mailbox directory; merges into an existing directory that holds only
/// inferiors (left by deleting a mailbox that had children).
fn move_dir(src: &Path, dst: &Path) -> Result<(), StoreError> {
    if !dst.exists() {
        fs::rename(src, dst)?;
        return Ok(());
    }
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let target = dst.join(entry.file_name());
        if target.exists() {
            return Err(StoreError::AlreadyExists("mailbox"));
        }
        fs::rename(entry.path(), target)?;
    }
    let _ = fs::remove_dir(src);
    Ok(())
}

/// Copies a file via `tmp/` (when hard links are not possible), fsynced.
fn copy_file(src: &Path, dst: &Path, tmp_dir: &Path) -> Result<(), StoreError> {
    let tmp = tmp_dir.join(unique_base());
    fs::copy(src, &tmp)?;
    File::open(&tmp)?.sync_all()?;
    fs::rename(&tmp, dst)?;
    Ok(())
}

/// What indexing a file found.
struct FileInfo {
    raw_size: u64,
    size: u64,
    mtime: i64,
    structure: Vec<u8>,
}

/// Reads a file once: its CRLF size and its parsed structure.
fn index_file(path: &Path) -> io::Result<FileInfo> {
    let mut f = File::open(path)?;
    let meta = f.metadata()?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut raw = Vec::with_capacity(meta.len() as usize);
    f.read_to_end(&mut raw)?;
    let crlf = to_crlf(&raw);
    let structure =
        serde_json::to_vec(&MessageStructure::parse(&crlf)).map_err(io::Error::other)?;
    Ok(FileInfo {
        raw_size: raw.len() as u64,
        size: crlf.len() as u64,
        mtime,
        structure,
    })
}

/// Writes a message into `tmp/` (streaming from its source), fsyncs it, sets its mtime
/// to the internal date, and parses it. Parsing reads the written file back once, in
/// CRLF form: a message is held in memory whole only while its structure is computed.
fn write_tmp(dir: &Path, req: &AppendRequest, date: i64) -> Result<Written, StoreError> {
    let base = unique_base();
    let tmp_path = dir.join("tmp").join(&base);
    let res = (|| -> Result<Written, StoreError> {
        let mut out = File::create(&tmp_path)?;
        let mut raw_size = 0u64;
        let mut bare = 0u64;
        let mut prev_cr = false;
        let mut put = |out: &mut File, chunk: &[u8]| -> io::Result<()> {
            out.write_all(chunk)?;
            bare += count_bare_lf(chunk, prev_cr);
            if let Some(&last) = chunk.last() {
                prev_cr = last == b'\r';
            }
            raw_size += chunk.len() as u64;
            Ok(())
        };
        put(&mut out, &req.prefix)?;
        match &req.data {
            MessageData::Bytes(b) => put(&mut out, b)?,
            MessageData::File(src, len) => {
                let mut buf = vec![0u8; 64 * 1024];
                let mut off = 0u64;
                while off < *len {
                    let want = buf.len().min((len - off) as usize);
                    let n = src.read_at(&mut buf[..want], off)?;
                    if n == 0 {
                        return Err(StoreError::Io(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "message spool file shorter than announced",
                        )));
                    }
                    put(&mut out, &buf[..n])?;
                    off += n as u64;
                }
            }
        }
        out.sync_all()?;
        if let Some(t) = u64::try_from(date)
            .ok()
            .map(|s| UNIX_EPOCH + Duration::from_secs(s))
        {
            let _ = out.set_modified(t);
        }
        drop(out);
        let size = raw_size + bare;
        let structure = match (&req.data, req.prefix.is_empty(), bare) {
            (MessageData::Bytes(b), true, 0) => MessageStructure::parse(b),
            (MessageData::Bytes(b), _, _) => {
                let mut whole = Vec::with_capacity(req.prefix.len() + b.len());
                whole.extend_from_slice(&req.prefix);
                whole.extend_from_slice(b);
                MessageStructure::parse(&to_crlf(&whole))
            }
            _ => {
                let mut raw = Vec::with_capacity(raw_size as usize);
                File::open(&tmp_path)?.read_to_end(&mut raw)?;
                MessageStructure::parse(&to_crlf(&raw))
            }
        };
        let structure = serde_json::to_vec(&structure)
            .map_err(|e| StoreError::Index(format!("cannot encode structure: {e}")))?;
        Ok(Written {
            tmp_path: tmp_path.clone(),
            base,
            raw_size,
            size,
            structure,
        })
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp_path);
    }
    res
}
