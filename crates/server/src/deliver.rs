//! The delivery path (A6), shared by the LMTP listener and `mailroom deliver`: resolve the
//! recipient through the router and aliases, prepend the trace header fields
//! (`Return-Path`, `Delivered-To`, and `X-Real-To` for domain-wide accounts, P9), and
//! append the message durably to the account's INBOX.
//!
//! Architecture invariant: [`deliver_to`] returns [`Outcome::Delivered`] only after the
//! store's append returned, i.e. the message file is fsynced and renamed into place and the
//! index transaction committed; only then may an MTA be told `250`.

use mailroom_directory::{Directory, QuotaLimits, Recipient};
use mailroom_store::{
    AccountKey, AppendRequest, Flags, MessageContent, MessageData, MessageSink, Store, StoreError,
};
use std::path::Path;
use std::sync::Arc;

/// What became of one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Stored in `account`'s INBOX with this UID.
    Delivered { account: String, uid: u32 },
    /// No such recipient here (550 5.1.1, exit 67).
    Unknown,
    /// The address leads to a remote address; we do not relay (551 5.1.6, exit 67).
    Remote(String),
    /// The account is over its quota (552 5.2.2, exit 73 would be wrong: 75 if temporary).
    OverQuota,
    /// The filesystem under the data directory is full (452 4.3.1, exit 75).
    DiskFull,
    /// Temporary failure: index, busy, other I/O (451 4.3.0, exit 75).
    Temporary(String),
}

impl Outcome {
    /// The LMTP reply line (without CRLF) for this outcome and recipient; over quota is
    /// permanent (`552 5.2.2`). Same as `lmtp_reply_with(rcpt, false)`.
    pub fn lmtp_reply(&self, rcpt: &str) -> String {
        self.lmtp_reply_with(rcpt, false)
    }

    /// The LMTP reply line; with `quota_temporary` (config `[lmtp] quota_temporary`) an
    /// over-quota recipient gets `452 4.2.2` (RFC 3463 4.2.2 "mailbox full", the MTA
    /// retries) instead of `552 5.2.2` (RFC 2033 / RFC 5321: the MTA bounces).
    pub fn lmtp_reply_with(&self, rcpt: &str, quota_temporary: bool) -> String {
        match self {
            Outcome::OverQuota if quota_temporary => {
                format!("452 4.2.2 <{rcpt}> mailbox is over quota, try again later")
            }
            Outcome::Delivered { uid, .. } => format!("250 2.0.0 <{rcpt}> delivered, uid {uid}"),
            Outcome::Unknown => format!("550 5.1.1 <{rcpt}> no such user here"),
            Outcome::Remote(to) => format!("551 5.1.6 <{rcpt}> user not local; please try <{to}>"),
            Outcome::OverQuota => format!("552 5.2.2 <{rcpt}> mailbox is over quota"),
            Outcome::DiskFull => {
                format!("452 4.3.1 <{rcpt}> insufficient system storage, try again later")
            }
            Outcome::Temporary(why) => format!("451 4.3.0 <{rcpt}> temporary failure: {why}"),
        }
    }

    /// The sysexits code `mailroom deliver` exits with.
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Delivered { .. } => 0,
            Outcome::Unknown | Outcome::Remote(_) => 67, // EX_NOUSER
            Outcome::OverQuota | Outcome::DiskFull | Outcome::Temporary(_) => 75, // EX_TEMPFAIL
        }
    }
}

/// Where a recipient leads, resolved once (LMTP does it at RCPT time).
#[derive(Debug, Clone)]
pub enum Resolved {
    /// A local account, with the `X-Real-To` local part for domain mappings.
    Local {
        key: AccountKey,
        address: String,
        real_to: Option<String>,
        /// The account's quota limits, checked before the append.
        quota: QuotaLimits,
    },
    /// Not deliverable here.
    Refused(Outcome),
}

/// Resolves a recipient (blocking: call from `spawn_blocking` or [`crate::Ctx::dir`]).
pub fn resolve(directory: &Directory, rcpt: &str) -> Resolved {
    match directory.resolve_recipient(rcpt) {
        Ok(Recipient::Local { account, real_to }) => {
            let quota = match directory.quota_of(&account) {
                Ok(q) => q,
                Err(e) => return Resolved::Refused(Outcome::Temporary(e.to_string())),
            };
            let (d, n) = account.store_key();
            match AccountKey::new(&d, &n) {
                Some(key) => Resolved::Local {
                    key,
                    address: account.address(),
                    real_to,
                    quota,
                },
                None => Resolved::Refused(Outcome::Temporary("invalid account name".into())),
            }
        }
        Ok(Recipient::Remote(to)) => Resolved::Refused(Outcome::Remote(to)),
        Ok(Recipient::Unknown) => Resolved::Refused(Outcome::Unknown),
        Err(mailroom_directory::DirError::Loop(at)) => {
            tracing::warn!(rcpt, at = %at, "alias loop");
            Resolved::Refused(Outcome::Unknown)
        }
        Err(e) => Resolved::Refused(Outcome::Temporary(e.to_string())),
    }
}

/// The trace header fields written before the message for one recipient.
pub fn trace_prefix(
    from: &str,
    rcpt: &str,
    real_to: Option<&str>,
    real_to_header: &str,
) -> Vec<u8> {
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_control() && *c != '<' && *c != '>')
            .collect()
    };
    let mut p = format!(
        "Return-Path: <{}>\r\nDelivered-To: {}\r\n",
        clean(from),
        clean(rcpt)
    );
    if let Some(local) = real_to {
        p.push_str(&format!("{}: {}\r\n", real_to_header, clean(local)));
    }
    p.into_bytes()
}

/// `prefix` followed by `content[from..]`, staged like a received message (a
/// [`MessageSink`]: in memory up to [`SPILL_AT`] octets, else in an unlinked spool file in
/// `spool_dir`), copied chunk by chunk through the one streaming primitive
/// ([`MessageSink::write_content`]): the message is never held whole. Used where a stored
/// message becomes a new one (the Bcc rewrite of `XTND XMIT`, cross-account COPY).
pub async fn spool(
    prefix: &[u8],
    content: &dyn MessageContent,
    from: u64,
    spool_dir: &Path,
) -> std::io::Result<MessageData> {
    let mut sink = MessageSink::new(spool_dir, SPILL_AT);
    for chunk in prefix.chunks(MessageSink::CHUNK) {
        sink.write(chunk);
    }
    sink.write_content(content, from, u64::MAX).await?;
    sink.finish()
}

/// Delivers one message to one resolved recipient's INBOX. An account whose quota
/// (`QuotaLimits`, RFC 9208 STORAGE/MESSAGE) the message with its trace fields would
/// exceed gets [`Outcome::OverQuota`] and nothing is stored.
pub async fn deliver_to(
    store: &Arc<dyn Store>,
    resolved: &Resolved,
    from: &str,
    rcpt: &str,
    body: &MessageData,
    real_to_header: &str,
) -> Outcome {
    let (key, address, real_to, quota) = match resolved {
        Resolved::Refused(o) => return o.clone(),
        Resolved::Local {
            key,
            address,
            real_to,
            quota,
        } => (key, address, real_to, quota),
    };
    let (key, address, real_to, quota) = (key, address, real_to, *quota);
    let result: Result<u32, StoreError> = async {
        let account = store.open_account(key).await?;
        let inbox = account.mailbox("INBOX").await?;
        let prefix = trace_prefix(from, rcpt, real_to.as_deref(), real_to_header);
        if !quota.is_unlimited() {
            let usage = account.usage().await?;
            let size = body.len().saturating_add(prefix.len() as u64);
            if let Err(e) = crate::access::quota_allows(&quota, &usage, size, 1) {
                tracing::info!(rcpt, account = %address, "refused: {e}");
                return Err(StoreError::OverQuota);
            }
        }
        let size = body.len().saturating_add(prefix.len() as u64);
        let out = account
            .append(
                inbox.id,
                AppendRequest {
                    prefix,
                    data: body.clone(),
                    flags: Flags::EMPTY,
                    keywords: Vec::new(),
                    internal_date: None,
                },
            )
            .await?;
        crate::metrics::stored("delivery", size);
        Ok(out.uid)
    }
    .await;
    match result {
        Ok(uid) => Outcome::Delivered {
            account: address.clone(),
            uid,
        },
        Err(StoreError::OverQuota) => Outcome::OverQuota,
        Err(e) if e.is_disk_full() => {
            tracing::warn!(rcpt, error = %e, "delivery failed: disk full");
            Outcome::DiskFull
        }
        Err(e) => {
            tracing::warn!(rcpt, error = %e, "delivery failed");
            Outcome::Temporary(e.to_string())
        }
    }
}

/// Messages larger than this are spooled to a file while they are received.
pub const SPILL_AT: usize = 1024 * 1024;

/// Why a received message cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum IncomingError {
    /// It was larger than the limit (the rest was read and dropped).
    #[error("message size exceeds the maximum of {0} octets")]
    TooBig(u64),
    /// The spool file could not be made or written.
    #[error("cannot spool the message: {0}")]
    Spool(std::io::Error),
}

/// A dot-terminated message being received (LMTP DATA, POP3 XTND XMIT): removes the
/// dot-stuffing and stages the message in a [`MessageSink`] (memory up to [`SPILL_AT`]
/// octets, then an unlinked file in the spool directory), so a 50 MB message costs no
/// 50 MB of memory. Past `max` octets it goes on reading up to the terminator but drops
/// the data.
pub struct Incoming {
    dec: mailroom_proto::lmtp::DataDecoder,
    /// Decoded octets of the current input, on their way to the sink.
    scratch: Vec<u8>,
    /// `None` once the message went past `max`.
    sink: Option<MessageSink>,
    total: u64,
    max: u64,
}

impl Incoming {
    /// Starts receiving a message of at most `max` octets, spooling into `spool_dir`.
    pub fn new(max: u64, spool_dir: std::path::PathBuf) -> Incoming {
        Incoming {
            dec: mailroom_proto::lmtp::DataDecoder::new(),
            scratch: Vec::new(),
            sink: Some(MessageSink::new(spool_dir, SPILL_AT)),
            total: 0,
            max,
        }
    }

    /// Decodes `input`; returns how many octets were consumed (all, or up to and
    /// including the terminating `.` line).
    pub fn feed(&mut self, input: &[u8]) -> usize {
        let used = self.dec.decode(input, &mut self.scratch);
        self.total += self.scratch.len() as u64;
        if self.total > self.max {
            self.sink = None;
        }
        if let Some(sink) = self.sink.as_mut() {
            for chunk in self.scratch.chunks(MessageSink::CHUNK) {
                sink.write(chunk);
            }
        }
        self.scratch.clear();
        used
    }

    /// True once the terminator was read.
    pub fn is_done(&self) -> bool {
        self.dec.is_done()
    }

    /// The message, once [`Incoming::is_done`].
    pub fn finish(self) -> Result<MessageData, IncomingError> {
        match self.sink {
            Some(sink) if self.total <= self.max => sink.finish().map_err(IncomingError::Spool),
            _ => Err(IncomingError::TooBig(self.max)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::{spool, Outcome, SPILL_AT};
    use mailroom_store::{MessageContent, MessageData};

    /// A prefix and the rest of a message from an offset, in memory when small, in a
    /// spool file (copied chunk by chunk) when large.
    #[tokio::test]
    async fn spool_keeps_the_octets() {
        let dir = tempfile::tempdir().unwrap();
        for size in [100usize, SPILL_AT + 200_000] {
            let data: Vec<u8> = (0..size).map(|i| (i % 253) as u8).collect();
            let src = MessageData::Bytes(bytes::Bytes::from(data.clone()));
            let b = spool(b"Pre: x\r\n", &src, 7, dir.path()).await.unwrap();
            assert_eq!(matches!(b, MessageData::File(..)), size > SPILL_AT);
            let got = (&b as &dyn MessageContent)
                .read_range(0, u64::MAX)
                .await
                .unwrap();
            let mut want = b"Pre: x\r\n".to_vec();
            want.extend_from_slice(&data[7..]);
            assert!(got == want, "size {size}");
        }
    }

    #[test]
    fn over_quota_replies() {
        let o = Outcome::OverQuota;
        assert!(o.lmtp_reply("a@b").starts_with("552 5.2.2 <a@b>"));
        assert!(o.lmtp_reply_with("a@b", false).starts_with("552 5.2.2 "));
        assert!(o
            .lmtp_reply_with("a@b", true)
            .starts_with("452 4.2.2 <a@b>"));
        assert_eq!(
            Outcome::Unknown.lmtp_reply_with("a@b", true),
            Outcome::Unknown.lmtp_reply("a@b")
        );
    }
}
