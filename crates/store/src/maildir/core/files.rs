//! Maildir file helpers: unique names, directory fsync, the `mailroom-uids` file,
//! `tmp/` writing and cleaning, moving and copying files, indexing a file.

use super::now_secs;
use crate::maildir::content::{CleanFile, LfFile};
use crate::maildir::names::FileName;
use crate::mime::{count_bare_lf, to_crlf};
use crate::{
    AppendRequest, MessageContent, MessageData, MessageStructure, ModSeq, StoreError, Uid,
};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Name of the per-mailbox file holding UIDVALIDITY and the UID high-water mark.
pub const UIDS_FILE: &str = "mailroom-uids";
/// Files in `tmp/` older than this are leftovers of crashed deliveries (age by the
/// inode's change time, see [`is_leftover`]).
const TMP_MAX_AGE: Duration = Duration::from_secs(36 * 3600);

static COUNTER: AtomicU64 = AtomicU64::new(0);

pub(super) fn mtime_nanos(path: &Path) -> i64 {
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
pub(super) fn unique_base() -> String {
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
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

pub(super) fn is_not_found(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

/// Creates `cur/ new/ tmp/` under a mailbox directory.
pub(super) fn make_maildir(dir: &Path) -> io::Result<()> {
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
    pub(super) fn read(dir: &Path) -> Option<UidsFile> {
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
    pub(super) fn write(&self, dir: &Path) -> io::Result<()> {
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
pub(super) struct MessageLocation {
    pub(super) cur: PathBuf,
    pub(super) base: String,
    pub(super) file: String,
    pub(super) size: u64,
    pub(super) raw_size: u64,
    pub(super) clean: bool,
}

impl MessageLocation {
    /// The content handle over the opened file.
    pub(super) fn content(self, file: File) -> Arc<dyn MessageContent> {
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
pub(super) struct Written {
    pub(super) tmp_path: PathBuf,
    pub(super) base: String,
    pub(super) raw_size: u64,
    pub(super) size: u64,
    pub(super) structure: Vec<u8>,
}

/// Finds the current name of a file in `cur/` by its base (after an outside rename).
pub(super) fn locate(cur: &Path, base: &str) -> Result<Option<String>, StoreError> {
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

pub(super) fn remove_files(dir: &Path) -> io::Result<()> {
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
///
/// The age is never judged by the modification time alone: [`write_tmp`] sets a file's
/// mtime to the message's internal date (possibly years old) before the file is renamed
/// into `cur/`, so by mtime a delivery in progress in another session looks like a
/// leftover (that removed the file under a concurrent APPEND, which then failed with
/// ENOENT). See [`is_leftover`].
pub(super) fn clean_tmp(tmp: &Path) {
    let Ok(entries) = fs::read_dir(tmp) else {
        return;
    };
    let now = now_secs();
    for e in entries.flatten() {
        let named = e.file_name().to_str().and_then(name_secs);
        if e.metadata()
            .is_ok_and(|m| is_leftover(m.ctime(), m.mtime(), named, now))
        {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// The creation time a Maildir file name starts with (`<secs>.M...`), if it has one.
pub(super) fn name_secs(name: &str) -> Option<i64> {
    let (secs, _) = name.split_once('.')?;
    secs.parse().ok()
}

/// Whether a `tmp/` file is a leftover of a crashed delivery at `now_secs` (all times
/// seconds since the epoch): its inode last changed (`ctime_secs`, which no program can
/// set back) more than [`TMP_MAX_AGE`] ago; or both the creation time in its name and
/// its mtime are that old (Maildir writers name files after the time they start; a
/// delivery in progress has a fresh name even when its mtime is the internal date).
/// A time in the future (clock stepped back) is not old.
pub(super) fn is_leftover(
    ctime_secs: i64,
    mtime_secs: i64,
    named: Option<i64>,
    now_secs: i64,
) -> bool {
    let old = |t: i64| now_secs.saturating_sub(t) > TMP_MAX_AGE.as_secs() as i64;
    old(ctime_secs) || (named.is_some_and(old) && old(mtime_secs))
}

/// Moves a mailbox directory; merges into an existing directory that holds only
/// inferiors (left by deleting a mailbox that had children).
pub(super) fn move_dir(src: &Path, dst: &Path) -> Result<(), StoreError> {
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
pub(super) fn copy_file(src: &Path, dst: &Path, tmp_dir: &Path) -> Result<(), StoreError> {
    let tmp = tmp_dir.join(unique_base());
    fs::copy(src, &tmp)?;
    File::open(&tmp)?.sync_all()?;
    fs::rename(&tmp, dst)?;
    Ok(())
}

/// What indexing a file found.
pub(super) struct FileInfo {
    pub(super) raw_size: u64,
    pub(super) size: u64,
    pub(super) mtime: i64,
    pub(super) structure: Vec<u8>,
}

/// Reads a file once: its CRLF size and its parsed structure.
pub(super) fn index_file(path: &Path) -> io::Result<FileInfo> {
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
    let structure = MessageStructure::parse(&crlf).to_bytes();
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
pub(super) fn write_tmp(dir: &Path, req: &AppendRequest, date: i64) -> Result<Written, StoreError> {
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
            MessageData::File(_, len) => {
                // In the blocking pool: the staged message's blocking positional read.
                let mut buf = vec![0u8; crate::CONTENT_CHUNK];
                let mut off = 0u64;
                while off < *len {
                    let n = req.data.read_at(&mut buf, off)?;
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
        let structure = structure.to_bytes();
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::Flags;

    const HOUR: i64 = 3600;

    #[test]
    fn leftover_only_past_max_age() {
        let now = 1_700_000_000;
        let max = TMP_MAX_AGE.as_secs() as i64;
        let l = |ctime| is_leftover(ctime, now, Some(now), now);
        assert!(!l(now));
        assert!(!l(now - HOUR));
        assert!(!l(now - max));
        assert!(l(now - max - 1));
        assert!(l(0));
        // A ctime in the future (clock stepped back) is not old.
        assert!(!l(now + HOUR));
        // Fresh inode: old only when both the name and the mtime say so.
        assert!(
            !is_leftover(now, 0, Some(now), now),
            "APPEND with an old date"
        );
        assert!(!is_leftover(now, 0, None, now), "unnamed, old mtime");
        assert!(
            !is_leftover(now, now, Some(0), now),
            "old name, fresh mtime"
        );
        assert!(is_leftover(now, 0, Some(0), now), "old name and old mtime");
        assert_eq!(name_secs("1000000000.M1P2Q3.host"), Some(1_000_000_000));
        assert_eq!(name_secs("plain"), None);
    }

    /// A file just written to `tmp/` with an old mtime (an APPEND with an old internal
    /// date) survives the cleaner: it may be a delivery in progress in another session.
    #[test]
    fn fresh_tmp_file_with_old_mtime_survives() {
        let dir = tempfile::tempdir().unwrap();
        make_maildir(dir.path()).unwrap();
        let tmp = dir.path().join("tmp");
        let plain = tmp.join("plain");
        let f = File::create(&plain).unwrap();
        f.set_modified(UNIX_EPOCH + Duration::from_secs(86_400))
            .unwrap();
        drop(f);
        // As write_tmp makes it for an APPEND dated 2001.
        let req = AppendRequest {
            prefix: Vec::new(),
            data: MessageData::Bytes(bytes::Bytes::from_static(b"Subject: old\r\n\r\nbody\r\n")),
            flags: Flags::default(),
            keywords: Vec::new(),
            internal_date: Some((1_000_000_000, 0)),
        };
        let written = write_tmp(dir.path(), &req, 1_000_000_000).unwrap();
        let mtime = fs::metadata(&written.tmp_path).unwrap().mtime();
        assert_eq!(mtime, 1_000_000_000, "write_tmp sets the internal date");

        clean_tmp(&tmp);

        assert!(plain.exists(), "fresh file with an old mtime removed");
        assert!(written.tmp_path.exists(), "delivery in progress removed");
    }
}
