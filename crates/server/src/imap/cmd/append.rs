//! APPEND (RFC 3501 6.3.11, RFC 4315 APPENDUID, RFC 3502 MULTIAPPEND: all messages or
//! none; every message is checked, and the quota for all of them, before the first is
//! stored, and a store failure removes those of the command already stored): messages
//! arrive as streamed literals that the session writes into a [`Spool`] (one
//! [`MessageSink`] per literal: memory, then an unlinked file); a CATENATE message
//! (RFC 4469) is joined from its parts by `catenate.rs` first.

use super::Reply;
use crate::access::{self, Op};
use crate::imap::session::Session;
use mailroom_proto::imap::command::{AppendData, AppendMessage, LiteralData};
use mailroom_proto::imap::encode::ResponseCode;
use mailroom_proto::imap::Mailbox;
use mailroom_store::{AppendRequest, Flags, MessageContent, MessageData, MessageSink};
use std::path::Path;

/// Streamed APPEND literals larger than this go to an unlinked spool file.
pub(crate) const SPILL_AT: usize = 256 * 1024;

/// A streamed APPEND literal being received: the session writes each chunk of literal
/// data as it arrives; [`run`] takes the staged message.
#[derive(Default)]
pub(crate) struct Spool {
    /// Made at the first chunk (the spool directory comes with it).
    sink: Option<MessageSink>,
}

impl Spool {
    /// Stages one chunk of literal data, spooling into `dir` past [`SPILL_AT`].
    pub(crate) fn write(&mut self, data: &[u8], dir: &Path) {
        self.sink
            .get_or_insert_with(|| MessageSink::new(dir, SPILL_AT))
            .write(data);
    }

    /// Octets received.
    fn len(&self) -> u64 {
        self.sink.as_ref().map_or(0, MessageSink::len)
    }

    /// The staged message (empty if no data came).
    fn take(&mut self) -> std::io::Result<MessageData> {
        match self.sink.take() {
            Some(sink) => sink.finish(),
            None => Ok(MessageData::Bytes(bytes::Bytes::new())),
        }
    }
}

/// The staged octets of a literal of the command (inline, or streamed into a spool).
pub(crate) fn take_literal(s: &mut Session, lit: LiteralData) -> Result<MessageData, Reply> {
    match lit {
        LiteralData::Inline(v) => Ok(MessageData::Bytes(bytes::Bytes::from(v))),
        LiteralData::Streamed { index, size } => {
            let Some(sp) = s.spools.get_mut(index) else {
                return Err(Reply::bad("message literal missing"));
            };
            if sp.len() != u64::from(size) {
                return Err(Reply::bad("message literal incomplete"));
            }
            match sp.take() {
                Ok(data) => Ok(data),
                Err(e) if mailroom_store::io_is_disk_full(&e) => {
                    Err(super::store_error(mailroom_store::StoreError::Io(e)))
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot spool APPEND message");
                    Err(Reply::no(
                        Some(ResponseCode::ServerBug),
                        "cannot spool the message",
                    ))
                }
            }
        }
    }
}

pub(crate) async fn run(s: &mut Session, mailbox: Mailbox, messages: Vec<AppendMessage>) -> Reply {
    run_with_credit(s, mailbox, messages, None).await
}

/// A message about to leave an account (REPLACE, RFC 8508 3.4): an APPEND into the same
/// account is checked against the quota net of it.
pub(crate) struct Credit {
    pub key: mailroom_store::AccountKey,
    pub bytes: u64,
}

/// APPEND, with the quota checked net of `credit` when the target is in its account.
pub(crate) async fn run_with_credit(
    s: &mut Session,
    mailbox: Mailbox,
    messages: Vec<AppendMessage>,
    credit: Option<Credit>,
) -> Reply {
    let Some(user) = &s.user else {
        return Reply::bad("log in first");
    };
    let target = match access::check(&s.ctx, &user.info, mailbox.as_str(), Op::Append).await {
        Ok(o) => o,
        Err(e) => return super::target_error(e, !mailbox.as_str().starts_with('~')),
    };
    let (account, info) = (target.account.clone(), target.mailbox.clone());
    let (may_seen, may_deleted, may_other) = access::allowed_flags(target.rights);
    let mut requests = Vec::with_capacity(messages.len());
    for m in messages {
        let (mut flags, mut keywords) = match super::split_flags(&m.flags) {
            Ok(x) => x,
            Err(why) => return Reply::bad(&why),
        };
        // RFC 4314 section 4 (APPEND): flags the user may not set are silently dropped.
        if !may_seen {
            flags = flags.difference(Flags::SEEN);
        }
        if !may_deleted {
            flags = flags.difference(Flags::DELETED);
        }
        if !may_other {
            flags = Flags(flags.0 & Flags::SEEN.union(Flags::DELETED).0);
            keywords.clear();
        }
        let data = match m.data {
            AppendData::Literal(lit) => match take_literal(s, lit) {
                Ok(d) => d,
                Err(r) => return r,
            },
            // RFC 4469: the parts joined into one staged message.
            AppendData::Catenate(parts) => {
                let limit = super::capability::append_limit(s);
                match super::catenate::build(s, parts, limit).await {
                    Ok(d) => d,
                    Err(r) => return r,
                }
            }
        };
        if data.is_empty() {
            return Reply::no(Some(ResponseCode::Cannot), "empty messages are not stored");
        }
        // RFC 6855 4: without ENABLE UTF8=ACCEPT (or IMAP4rev2, whose header fields may
        // be UTF-8: RFC 9051 4.3.1), no 8-bit octet in the header fields.
        if !s.utf8() {
            let head = (&data as &dyn MessageContent)
                .read_range(0, mailroom_store::CONTENT_CHUNK as u64)
                .await;
            match head {
                Ok(h) if crate::imap::rev2::header_8bit(&h) => {
                    return Reply::no(
                        Some(ResponseCode::Cannot),
                        "8-bit header fields need ENABLE UTF8=ACCEPT and APPEND UTF8 (RFC 6855 section 4)",
                    );
                }
                Ok(_) => {}
                Err(e) => return super::store_error(mailroom_store::StoreError::Io(e)),
            }
        }
        requests.push(AppendRequest {
            prefix: Vec::new(),
            data,
            flags,
            keywords,
            internal_date: m.date.map(|d| (d.to_unix(), i32::from(d.zone_minutes()))),
        });
    }
    let mut bytes: u64 = requests.iter().map(|r| r.data.len()).sum();
    let mut count = requests.len() as u64;
    if let Some(c) = credit.filter(|c| c.key == target.key) {
        bytes = bytes.saturating_sub(c.bytes);
        count = count.saturating_sub(1);
    }
    match access::quota_check(&s.ctx, &target.key, bytes, count).await {
        Ok(()) => {}
        Err(access::QuotaError::Exceeded(e)) => {
            return Reply::no(Some(ResponseCode::OverQuota), &e.to_string())
        }
        Err(e) => {
            tracing::warn!(error = %e, "quota lookup failed");
            return Reply::no(
                Some(ResponseCode::Unavailable),
                "temporary failure, try again later",
            );
        }
    }
    let mut uids = Vec::with_capacity(requests.len());
    let mut validity = info.uid_validity;
    for r in requests {
        let size = r.data.len().saturating_add(r.prefix.len() as u64);
        match account.append(info.id, r).await {
            Ok(o) => {
                crate::metrics::stored("append", size);
                validity = o.uid_validity;
                uids.push(o.uid);
            }
            Err(e) => {
                // RFC 3502: no partial appending. The messages of this command already
                // stored were never acknowledged: they are removed again.
                if !uids.is_empty() {
                    if let Err(e2) = account.expunge(info.id, Some(&uids), true).await {
                        tracing::warn!(error = %e2, ?uids, "MULTIAPPEND: cannot remove the messages stored before the failure");
                    }
                }
                return super::store_error(e);
            }
        }
    }
    Reply::ok_code(
        ResponseCode::AppendUid { validity, uids },
        "APPEND completed",
    )
}
