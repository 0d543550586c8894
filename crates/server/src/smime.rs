//! S/MIME-encrypted copies of stored messages (seed 001, I13: `COPY`/`MOVE …
//! ENCRYPTED`): the recipient certificate a command names, and a stored message turned
//! into an RFC 8551 enveloped-data message staged for an append.
//!
//! The whole original (header and body, octet for octet) is encrypted; the outer message
//! keeps the header fields a client needs to list it (`mailroom_smime::KEPT_FIELDS`).
//! The original is read a chunk at a time through `MessageContent::append_chunk`, each
//! chunk encrypted and base64-encoded as it comes and written into a `MessageSink`
//! (memory up to `deliver::SPILL_AT`, then an unlinked spool file): neither the
//! original nor the encrypted message is ever held whole. The CMS encoding and the
//! cryptography are `mailroom-smime`'s; the content key and IV come from the operating
//! system's random source (`getrandom`).
//!
//! Not here: the commands (`imap/cmd/copy.rs`, `imap/cmd/move.rs`), where an account's
//! own certificate is kept (the directory's `smime_certs`).

use crate::deliver::SPILL_AT;
use crate::Ctx;
use mailroom_directory::{AccountInfo, DirError};
use mailroom_proto::imap::command::CertificateData;
use mailroom_smime::{outer_header, CertError, Enveloper, Recipient, MIME_FIELDS};
use mailroom_store::{MessageContent, MessageData, MessageSink, CONTENT_CHUNK};
use std::io;
use std::path::Path;

/// How much of the original is read for the outer header: the kept fields must start
/// within its first 64 KiB (one chunk; a header past it is rare and keeps them inside).
const HEAD: u64 = CONTENT_CHUNK as u64;

/// Why a command's certificate cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RecipientError {
    /// `*`, and the account has no certificate.
    #[error("no S/MIME certificate is set for this account")]
    NoOwnCertificate,
    /// Not a certificate, or its key cannot be encrypted to.
    #[error(transparent)]
    Certificate(#[from] CertError),
    /// The directory failed.
    #[error("directory: {0}")]
    Directory(#[from] DirError),
}

/// The certificate of `ENCRYPTED certificate-data`: the one given, or for `*` the user's
/// own from the directory.
pub async fn recipient(
    ctx: &Ctx,
    user: &AccountInfo,
    data: CertificateData,
) -> Result<Recipient, RecipientError> {
    let der = match data {
        CertificateData::Der(d) => d,
        CertificateData::Own => {
            let id = user.id;
            ctx.dir(move |d| d.smime_cert_of(id))
                .await?
                .ok_or(RecipientError::NoOwnCertificate)?
        }
    };
    Ok(Recipient::from_der(&der)?)
}

/// An upper bound of the size of the encrypted copy of a message of `size` octets (for
/// quota checks before anything is read): the outer header is at most the MIME fields
/// and the original's first [`HEAD`] octets.
pub fn encrypted_size_bound(recipient: &Recipient, size: u64) -> u64 {
    let outer = MIME_FIELDS.len() + usize::try_from(size.min(HEAD)).unwrap_or(0);
    Enveloper::message_len(recipient, outer, size).unwrap_or(u64::MAX)
}

/// The encrypted copy of `content` for `recipient`, staged like a received message.
/// Fails if the content cannot be read, or is not as long as it said.
pub async fn envelope(
    content: &dyn MessageContent,
    recipient: &Recipient,
    spool_dir: &Path,
) -> io::Result<MessageData> {
    let size = content.size();
    let head = content.read_range(0, HEAD).await?;
    let outer = outer_header(&head, head.len() as u64 == size);
    drop(head);
    let mut out = Vec::with_capacity(CONTENT_CHUNK * 2);
    let mut enveloper = Enveloper::new(recipient, &outer, size, &mut getrandom::SysRng, &mut out)
        .map_err(io::Error::other)?;
    let len = enveloper.len();
    let mut sink = MessageSink::new(spool_dir, SPILL_AT);
    let mut buf = Vec::with_capacity(CONTENT_CHUNK);
    let mut offset = 0;
    loop {
        for piece in out.chunks(MessageSink::CHUNK) {
            sink.write(piece);
        }
        out.clear();
        if offset >= size || sink.failed() {
            break;
        }
        buf.clear();
        offset += content.append_chunk(offset, size, &mut buf).await? as u64;
        enveloper.update(&buf, &mut out).map_err(io::Error::other)?;
        // AES and base64 of a chunk cost about as much as reading it; reads from the page
        // cache do not yield, so give other sessions their turn when the budget is spent.
        tokio::task::coop::consume_budget().await;
    }
    if !sink.failed() {
        enveloper.finish(&mut out).map_err(io::Error::other)?;
        for piece in out.chunks(MessageSink::CHUNK) {
            sink.write(piece);
        }
    }
    let data = sink.finish()?;
    if data.len() != len {
        return Err(io::Error::other(format!(
            "encrypted message is {} octets, {len} announced",
            data.len()
        )));
    }
    Ok(data)
}
