//! Reading message content: the [`MessageContent`] handle and the one streaming primitive,
//! [`MessageContent::read_chunk`].
//!
//! Every reader of message octets (POP3 RETR/TOP, IMAP FETCH body sections, SEARCH of
//! body text, cross-account COPY, XTND XMIT and relaying) goes through `read_chunk`: an
//! async positional read of at most [`CONTENT_CHUNK`] octets. Callers stream a message
//! chunk by chunk (usually straight into their output buffer with
//! [`append_chunk`](trait.MessageContent.html#method.append_chunk)), never the whole
//! message in memory, and a backend over an object store implements `read_chunk` as a
//! real async range request without blocking the runtime.
//!
//! What does not live here: where content comes from (the backends' `open_message`), how
//! it is framed on the wire (the protocol sessions).

use crate::MessageData;
use async_trait::async_trait;
use std::io;

/// The most octets one [`MessageContent::read_chunk`] call returns: 64 KiB.
///
/// It is also the bound on the work a backend may do in place, on the runtime's thread,
/// per call: the Maildir backend answers a chunk with one `pread` of at most this many
/// octets (a page-cache copy of microseconds, one disk read otherwise), which costs less
/// than a hop to the blocking pool. Anything larger or unbounded goes to `spawn_blocking`.
pub const CONTENT_CHUNK: usize = 64 * 1024;

/// An open message: its octets as sent to clients (every line ending CRLF).
///
/// The handle stays readable even if the message is expunged meanwhile.
#[async_trait]
pub trait MessageContent: Send + Sync {
    /// Size in octets of the CRLF form (RFC822.SIZE, POP3 LIST).
    fn size(&self) -> u64;

    /// Reads octets of the CRLF form starting at `offset` into `buf`: at least one octet
    /// unless `offset` is at or past the end (then 0) or `buf` is empty, and at most
    /// `min(buf.len(), CONTENT_CHUNK)`. Implementations bound the blocking work they do
    /// in place by one chunk's read (see [`CONTENT_CHUNK`]).
    async fn read_chunk(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
}

impl dyn MessageContent + '_ {
    /// Appends the octets `offset..end` (clamped to the size), at most one chunk of them,
    /// to `out`, reading them in place in `out`'s spare room; returns how many. 0 only at
    /// the end of the range. The streaming loop of every sender:
    ///
    /// ```ignore
    /// while offset < end {
    ///     offset += content.append_chunk(offset, end, &mut out).await? as u64;
    ///     if out.len() >= FLUSH_AT { /* write `out` to the socket, clear it */ }
    /// }
    /// ```
    pub async fn append_chunk(
        &self,
        offset: u64,
        end: u64,
        out: &mut Vec<u8>,
    ) -> io::Result<usize> {
        let end = end.min(self.size());
        if offset >= end {
            return Ok(0);
        }
        let want = usize::try_from(end - offset)
            .unwrap_or(CONTENT_CHUNK)
            .min(CONTENT_CHUNK);
        let start = out.len();
        out.resize(start + want, 0);
        let r = self.read_chunk(offset, &mut out[start..]).await;
        let n = *r.as_ref().unwrap_or(&0);
        out.truncate(start + n.min(want));
        match r {
            Ok(0) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "message content shorter than its size",
            )),
            Ok(n) => Ok(n.min(want)),
            Err(e) => Err(e),
        }
    }

    /// Reads `len` octets from `offset` (fewer at the end of the message) into memory.
    ///
    /// The whole range is held at once: for ranges known to be small (header blocks,
    /// short partials, tests). Senders stream with [`append_chunk`](Self::append_chunk).
    pub async fn read_range(&self, offset: u64, len: u64) -> io::Result<Vec<u8>> {
        let end = offset.saturating_add(len).min(self.size());
        let cap = usize::try_from(end.saturating_sub(offset)).unwrap_or(0);
        let mut out = Vec::with_capacity(cap);
        let mut at = offset;
        while at < end {
            at += self.append_chunk(at, end, &mut out).await? as u64;
        }
        Ok(out)
    }
}

/// A staged message (see [`crate::MessageSink`]), read back: the same chunked reads over
/// the octets of an [`crate::AppendRequest`] (in memory, or staged out of memory and read
/// through its [`crate::SpoolRead`] with one positional read of at most
/// [`CONTENT_CHUNK`] octets in place).
#[async_trait]
impl MessageContent for MessageData {
    fn size(&self) -> u64 {
        self.len()
    }

    async fn read_chunk(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf.len().min(CONTENT_CHUNK);
        self.read_at(&mut buf[..want], offset)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::Arc;

    fn sample(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i % 251) as u8).collect()
    }

    #[tokio::test]
    async fn ranges_and_chunks_of_bytes_and_files() {
        let data = sample(3 * CONTENT_CHUNK + 17);
        let dir = tempfile::tempdir().unwrap();
        let mut sink = crate::MessageSink::new(dir.path(), 0);
        for c in data.chunks(crate::MessageSink::CHUNK) {
            sink.write(c);
        }
        let staged = sink.finish().unwrap();
        assert!(matches!(staged, MessageData::File(..)));
        let handles: Vec<Arc<dyn MessageContent>> = vec![
            Arc::new(MessageData::Bytes(bytes::Bytes::from(data.clone()))),
            Arc::new(staged),
        ];
        for c in handles {
            assert_eq!(c.size(), data.len() as u64);
            assert_eq!(c.read_range(0, u64::MAX).await.unwrap(), data);
            let got = c.read_range(CONTENT_CHUNK as u64 - 3, 10).await.unwrap();
            assert_eq!(got, &data[CONTENT_CHUNK - 3..CONTENT_CHUNK + 7]);
            let mut big = vec![0u8; 2 * CONTENT_CHUNK];
            assert_eq!(c.read_chunk(5, &mut big).await.unwrap(), CONTENT_CHUNK);
            assert_eq!(c.read_chunk(data.len() as u64, &mut big).await.unwrap(), 0);
            let mut out = b"head".to_vec();
            let n = c.append_chunk(1, 9, &mut out).await.unwrap();
            assert_eq!((n, &out[4..]), (8, &data[1..9]));
            assert_eq!(c.append_chunk(9, 9, &mut out).await.unwrap(), 0);
        }
    }
}
