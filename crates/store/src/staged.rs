//! Staging a message while it arrives, before any backend stores it.
//!
//! What lives here: [`MessageSink`], the one spooler every receiver uses (IMAP APPEND
//! literals, LMTP DATA, `mailroom deliver`, POP3 `XTND XMIT`): it keeps a message in
//! memory up to a threshold and moves it to an unlinked temporary file past it, so a 50 MB
//! message costs no 50 MB of memory; [`MessageData`], the staged message a backend's
//! `append` consumes; and [`SpoolRead`], the positional reader through which a backend
//! reads a message that left memory.
//!
//! What does not live here: where a backend finally keeps the message. The spool
//! directory is the caller's choice (`<data>/spool`); no backend type appears here, and
//! no caller ever sees the temporary file (`std::fs::File` stays private to this module).

use crate::MessageContent;
use std::fmt;
use std::io::{self, Write as _};
use std::path::PathBuf;
use std::sync::Arc;

/// Positional reads of a staged message that left memory. Reads may block (a local
/// temporary file): async code reads a staged message through its [`MessageContent`]
/// implementation (`read_chunk`: one read of at most [`crate::CONTENT_CHUNK`] octets in
/// place), code in the blocking pool through [`MessageData::read_at`].
pub trait SpoolRead: Send + Sync {
    /// Reads up to `buf.len()` octets starting at `offset`; 0 at the end.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
}

/// An unlinked temporary file made by a [`MessageSink`].
struct SpoolFile(std::fs::File);

impl SpoolRead for SpoolFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(&self.0, buf, offset)
    }
}

/// The octets of a new message, as handed to [`crate::Account::append`]. Cheap to clone
/// (one message delivered to several recipients shares its octets).
#[derive(Clone)]
pub enum MessageData {
    /// In memory.
    Bytes(bytes::Bytes),
    /// Staged out of memory (by a [`MessageSink`], in an unlinked temporary file): the
    /// reader and the length in octets; read from offset 0 to the length.
    File(Arc<dyn SpoolRead>, u64),
}

impl fmt::Debug for MessageData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageData::Bytes(b) => write!(f, "Bytes({} octets)", b.len()),
            MessageData::File(_, len) => write!(f, "File({len} octets)"),
        }
    }
}

impl MessageData {
    /// Length in octets.
    pub fn len(&self) -> u64 {
        match self {
            MessageData::Bytes(b) => b.len() as u64,
            MessageData::File(_, len) => *len,
        }
    }

    /// True for an empty message.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads up to `buf.len()` octets starting at `offset`; 0 at the end. Blocks for a
    /// staged file (see [`SpoolRead`]): async code reads through
    /// [`MessageContent::read_chunk`] instead, which bounds the read to one chunk.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let len = self.len();
        if offset >= len {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(len - offset).unwrap_or(usize::MAX));
        match self {
            MessageData::Bytes(b) => {
                // offset < len = b.len(), so it fits in usize.
                let start = offset as usize;
                buf[..want].copy_from_slice(&b[start..start + want]);
                Ok(want)
            }
            MessageData::File(r, _) => r.read_at(&mut buf[..want], offset),
        }
    }
}

/// Receives a message in chunks: in memory up to `spill_at` octets, then in an unlinked
/// temporary file in the spool directory. [`MessageSink::finish`] hands out the
/// [`MessageData`] to append.
///
/// Writes are bounded: each [`MessageSink::write`] costs at most one write of the chunk
/// it is given to the page cache (callers hand it what one network read gave, at most
/// [`MessageSink::CHUNK`]), so it may run on an async thread. The first failure is kept
/// and later writes are dropped; `finish` reports it, so a receiver can go on reading the
/// message to its end and answer once.
pub struct MessageSink {
    mem: Vec<u8>,
    file: Option<std::fs::File>,
    len: u64,
    spill_at: usize,
    dir: PathBuf,
    error: Option<io::Error>,
}

impl fmt::Debug for MessageSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageSink")
            .field("len", &self.len)
            .field("spilled", &self.file.is_some())
            .field("failed", &self.error.is_some())
            .finish()
    }
}

impl MessageSink {
    /// The largest chunk a caller should write or read at once (one
    /// [`crate::CONTENT_CHUNK`]).
    pub const CHUNK: usize = crate::CONTENT_CHUNK;

    /// A sink that keeps up to `spill_at` octets in memory and spools the message to a
    /// temporary file in `spool_dir` (made when first needed) past that.
    pub fn new(spool_dir: impl Into<PathBuf>, spill_at: usize) -> MessageSink {
        MessageSink {
            mem: Vec::new(),
            file: None,
            len: 0,
            spill_at,
            dir: spool_dir.into(),
            error: None,
        }
    }

    /// Appends a chunk (see the type's docs for the bound). After a failure, does nothing.
    pub fn write(&mut self, chunk: &[u8]) {
        self.len += chunk.len() as u64;
        if self.error.is_some() || chunk.is_empty() {
            return;
        }
        if self.file.is_none() && self.mem.len() + chunk.len() <= self.spill_at {
            self.mem.extend_from_slice(chunk);
            return;
        }
        let res = (|| -> io::Result<()> {
            let file = match self.file.as_mut() {
                Some(f) => f,
                None => {
                    std::fs::create_dir_all(&self.dir)?;
                    let mut f = tempfile::tempfile_in(&self.dir)?;
                    f.write_all(&self.mem)?;
                    self.mem = Vec::new();
                    self.file.insert(f)
                }
            };
            file.write_all(chunk)
        })();
        if let Err(e) = res {
            self.error = Some(e);
            self.mem = Vec::new();
            self.file = None;
        }
    }

    /// Appends `content[from..end]` (clamped to its size), read through the one streaming
    /// primitive ([`MessageContent::append_chunk`](trait.MessageContent.html#method.append_chunk))
    /// a chunk at a time and written as it comes, so the message is never held whole.
    /// A read failure is returned at once; a write failure stops the copy and is kept for
    /// [`MessageSink::finish`], like any other.
    pub async fn write_content(
        &mut self,
        content: &dyn MessageContent,
        from: u64,
        end: u64,
    ) -> io::Result<()> {
        let end = end.min(content.size());
        let mut buf = Vec::with_capacity(Self::CHUNK);
        let mut offset = from;
        while offset < end && !self.failed() {
            buf.clear();
            offset += content.append_chunk(offset, end, &mut buf).await? as u64;
            self.write(&buf);
        }
        Ok(())
    }

    /// Octets written so far (also those dropped after a failure).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True if nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True once a write failed.
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// The staged message, or the first write failure.
    pub fn finish(self) -> io::Result<MessageData> {
        if let Some(e) = self.error {
            return Err(e);
        }
        match self.file {
            Some(mut f) => {
                f.flush()?;
                Ok(MessageData::File(Arc::new(SpoolFile(f)), self.len))
            }
            None => Ok(MessageData::Bytes(bytes::Bytes::from(self.mem))),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sink(spill_at: usize, chunks: &[&[u8]]) -> (tempfile::TempDir, MessageData) {
        let dir = tempfile::tempdir().unwrap();
        let mut s = MessageSink::new(dir.path().join("spool"), spill_at);
        for c in chunks {
            s.write(c);
        }
        (dir, s.finish().unwrap())
    }

    #[test]
    fn small_stays_in_memory() {
        let (dir, d) = sink(10, &[b"hello", b" you"]);
        assert!(matches!(&d, MessageData::Bytes(b) if b.as_ref() == b"hello you"));
        assert!(!dir.path().join("spool").exists());
    }

    #[test]
    fn large_spills_to_an_unlinked_file() {
        let (dir, d) = sink(4, &[b"abc", b"defgh", b"ij"]);
        assert!(matches!(d, MessageData::File(_, 10)));
        // Unlinked: the spool directory holds no name.
        let names = std::fs::read_dir(dir.path().join("spool")).unwrap().count();
        assert_eq!(names, 0);
        let mut buf = [0u8; 4];
        assert_eq!(d.read_at(&mut buf, 3).unwrap(), 4);
        assert_eq!(&buf, b"defg");
        assert_eq!(d.read_at(&mut buf, 8).unwrap(), 2);
        assert_eq!(d.read_at(&mut buf, 10).unwrap(), 0);
    }

    #[tokio::test]
    async fn read_range_agrees_for_both_forms() {
        let (_dir, mem) = sink(100, &[b"0123456789"]);
        let (_dir2, file) = sink(1, &[b"01234", b"56789"]);
        for d in [&mem as &dyn MessageContent, &file] {
            assert_eq!(d.read_range(0, 100).await.unwrap(), b"0123456789");
            assert_eq!(d.read_range(7, 2).await.unwrap(), b"78");
            assert!(d.read_range(12, 2).await.unwrap().is_empty());
        }
    }

    #[tokio::test]
    async fn write_content_copies_a_range_chunk_by_chunk() {
        let data: Vec<u8> = (0..3 * MessageSink::CHUNK + 5)
            .map(|i| (i % 251) as u8)
            .collect();
        let src = MessageData::Bytes(bytes::Bytes::from(data.clone()));
        let dir = tempfile::tempdir().unwrap();
        for spill_at in [usize::MAX, 1000] {
            let mut s = MessageSink::new(dir.path(), spill_at);
            s.write(b"Pre: x\r\n");
            s.write_content(&src, 7, u64::MAX).await.unwrap();
            let d = s.finish().unwrap();
            assert_eq!(matches!(d, MessageData::File(..)), spill_at == 1000);
            let got = (&d as &dyn MessageContent)
                .read_range(0, u64::MAX)
                .await
                .unwrap();
            let mut want = b"Pre: x\r\n".to_vec();
            want.extend_from_slice(&data[7..]);
            assert!(got == want, "spill_at {spill_at}");
        }
    }

    #[test]
    fn a_failure_is_kept_until_finish() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("not-a-dir");
        std::fs::write(&blocker, b"x").unwrap();
        let mut s = MessageSink::new(blocker.join("spool"), 2);
        s.write(b"abcdef");
        assert!(s.failed());
        s.write(b"more");
        assert_eq!(s.len(), 10);
        assert!(s.finish().is_err());
    }
}
