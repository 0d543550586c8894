//! Message bodies: the [`BlobStore`] trait, its default [`PgBlobs`] (bodies in the
//! `blobs` table itself), and [`PgContent`], the [`MessageContent`] handle reading them.
//!
//! A blob is the CRLF form of one message's octets, named by its SHA-256: the same
//! message delivered to many recipients, or copied between mailboxes, is stored once.
//! The `blobs` row (hash, size, parsed structure, reference count) always lives in
//! PostgreSQL, where triggers on `messages` count the references in the transactions that
//! add and remove them; where the octets live is the [`BlobStore`]'s business. An object
//! store implementation (S3 through `object_store`) would upload before the transaction
//! and leave `data` empty; it is not written yet.
//!
//! What does not live here: which message points at which blob (`account.rs`).

use crate::{pg_err, pool_err};
use async_trait::async_trait;
use deadpool_postgres::Pool;
use mailroom_store::{MessageContent, StoreError, CONTENT_CHUNK};
use std::io;
use std::sync::Arc;

/// A blob to store: the CRLF octets, their SHA-256, and the parsed structure
/// (`MessageStructure::to_bytes`).
pub struct NewBlob<'a> {
    pub hash: &'a [u8],
    pub data: &'a [u8],
    pub structure: &'a [u8],
}

/// Where message bodies live.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Makes the blob exist, inside `tx`, the transaction that will reference it: its
    /// `blobs` row is inserted, or if it exists locked and kept (a blob orphaned but not
    /// yet swept is taken back). The reference count is the triggers' job.
    async fn put(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        blob: &NewBlob<'_>,
    ) -> Result<(), StoreError>;

    /// Reads up to `len` octets of a blob from `offset` (fewer at its end).
    async fn read(&self, hash: &[u8], offset: u64, len: usize) -> io::Result<Vec<u8>>;
}

/// Bodies in PostgreSQL: the `data` column of `blobs`, stored uncompressed out of line so
/// that a range read fetches only the TOAST chunks it covers.
pub struct PgBlobs {
    pool: Pool,
}

impl PgBlobs {
    pub fn new(pool: Pool) -> PgBlobs {
        PgBlobs { pool }
    }
}

#[async_trait]
impl BlobStore for PgBlobs {
    async fn put(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        blob: &NewBlob<'_>,
    ) -> Result<(), StoreError> {
        let size = i64::try_from(blob.data.len())
            .map_err(|_| StoreError::Invalid("message too large".into()))?;
        let st = tx
            .prepare_cached(
                "INSERT INTO blobs (hash, size, refs, structure, data) VALUES ($1, $2, 0, $3, $4)
                 ON CONFLICT (hash) DO UPDATE SET orphaned_at = NULL",
            )
            .await
            .map_err(pg_err)?;
        tx.execute(&st, &[&blob.hash, &size, &blob.structure, &blob.data])
            .await
            .map_err(pg_err)?;
        Ok(())
    }

    async fn read(&self, hash: &[u8], offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let from = i32::try_from(offset + 1).map_err(io::Error::other)?;
        let len = i32::try_from(len).map_err(io::Error::other)?;
        let c = self
            .pool
            .get()
            .await
            .map_err(|e| io::Error::other(pool_err(e).to_string()))?;
        let st = c
            .prepare_cached("SELECT substring(data FROM $2 FOR $3) FROM blobs WHERE hash = $1")
            .await
            .map_err(|e| io::Error::other(pg_err(e).to_string()))?;
        let row = c
            .query_opt(&st, &[&hash, &from, &len])
            .await
            .map_err(|e| io::Error::other(pg_err(e).to_string()))?;
        let Some(row) = row else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "message body gone from the blob store",
            ));
        };
        let data: Option<Vec<u8>> = row
            .try_get(0)
            .map_err(|e| io::Error::other(pg_err(e).to_string()))?;
        data.ok_or_else(|| io::Error::other("blob has no data in PostgreSQL"))
    }
}

/// An open message: reads go to the blob store, one range of at most [`CONTENT_CHUNK`]
/// octets per call. The blob outlives the message's expunge by
/// [`ORPHAN_GRACE`](crate::ORPHAN_GRACE), so the handle stays readable.
pub struct PgContent {
    pub(crate) blobs: Arc<dyn BlobStore>,
    pub(crate) hash: Vec<u8>,
    pub(crate) size: u64,
}

#[async_trait]
impl MessageContent for PgContent {
    fn size(&self) -> u64 {
        self.size
    }

    async fn read_chunk(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(CONTENT_CHUNK)
            .min(usize::try_from(self.size - offset).unwrap_or(CONTENT_CHUNK));
        let got = self.blobs.read(&self.hash, offset, want).await?;
        let n = got.len().min(want);
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "message body shorter than its size",
            ));
        }
        buf[..n].copy_from_slice(&got[..n]);
        Ok(n)
    }
}
