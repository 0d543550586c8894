//! COPY and UID COPY (RFC 3501 6.4.7, RFC 4315 COPYUID): flags and internal dates kept.
//!
//! The target needs `i` (RFC 4314 section 4); flags the user may not set there are left
//! out. Within one account the store copies; between accounts (own and foreign
//! mailboxes, I5) each message is read (chunk by chunk, spooled when large) and appended into the other
//! store. Copies are
//! checked against the target owner's quota (I10).
//!
//! `ENCRYPTED certificate-data` (seed 001, I13; also for MOVE): each copy is the
//! message encrypted to the certificate as an S/MIME enveloped-data message
//! (`crate::smime`), appended message by message with the original's flags and internal
//! date. The certificate is checked before anything else: not a certificate `NO`, a key
//! that cannot be encrypted to `NO [CANNOT]`, `*` without a certificate on the account
//! `NO`. Quota is checked against the encrypted sizes.
//!
//! A copy made message by message that fails half way is undone (RFC 3501 6.4.7: "If
//! the COPY command is unsuccessful for any reason, server implementations MUST restore
//! the destination mailbox to its state before the COPY attempt").

use super::Reply;
use crate::access::{self, Op, Opened};
use crate::deliver;
use crate::imap::session::Session;
use crate::imap::view::Selected;
use crate::smime::{self, RecipientError};
use mailroom_proto::imap::command::CertificateData;
use mailroom_proto::imap::encode::ResponseCode;
use mailroom_proto::imap::{Mailbox, SequenceSet};
use mailroom_smime::Recipient;
use mailroom_store::acl::Rights;
use mailroom_store::{AppendRequest, CopyOutcome, Flags, StoreError, Uid};
use std::path::{Path, PathBuf};

/// Where cross-account copies spool large messages.
pub(crate) fn spool_dir(s: &Session) -> PathBuf {
    s.ctx.config().server.data_dir.join("spool")
}

/// Opens a COPY/MOVE target for the user with the `i` right checked.
pub(crate) async fn open_target(s: &Session, mailbox: &Mailbox) -> Result<Opened, Reply> {
    let Some(user) = &s.user else {
        return Err(Reply::bad("log in first"));
    };
    access::check(&s.ctx, &user.info, mailbox.as_str(), Op::CopyInto)
        .await
        .map_err(|e| super::target_error(e, !mailbox.as_str().starts_with('~')))
}

/// Whether source and target live in the same store.
pub(crate) fn same_account(sel: &Selected, target: &Opened) -> bool {
    sel.account.key() == &target.key
}

/// The certificate of `ENCRYPTED certificate-data`, or the answer refusing it.
pub(crate) async fn recipient(s: &Session, data: CertificateData) -> Result<Recipient, Reply> {
    let Some(user) = &s.user else {
        return Err(Reply::bad("log in first"));
    };
    match smime::recipient(&s.ctx, &user.info, data).await {
        Ok(r) => Ok(r),
        Err(RecipientError::NoOwnCertificate) => Err(Reply::no(
            None,
            "no S/MIME certificate is set for your account",
        )),
        Err(RecipientError::Certificate(e)) if e.is_unusable_key() => {
            Err(Reply::no(Some(ResponseCode::Cannot), &e.to_string()))
        }
        Err(RecipientError::Certificate(e)) => Err(Reply::no(None, &e.to_string())),
        Err(e @ RecipientError::Directory(_)) => {
            tracing::warn!(error = %e, "S/MIME certificate lookup failed");
            Err(Reply::no(
                Some(ResponseCode::Unavailable),
                "temporary failure, try again later",
            ))
        }
    }
}

/// The octets the copies of `uids` take: their sizes, or with `encrypt` the bound of
/// their encrypted sizes.
pub(crate) fn copied_bytes(sel: &Selected, uids: &[Uid], encrypt: Option<&Recipient>) -> u64 {
    sel.msgs
        .iter()
        .filter(|m| uids.binary_search(&m.uid).is_ok())
        .map(|m| match encrypt {
            Some(r) => smime::encrypted_size_bound(r, m.size),
            None => m.size,
        })
        .fold(0, u64::saturating_add)
}

/// `NO [OVERQUOTA]` when adding `bytes` in `messages` messages would exceed the target
/// owner's quota.
pub(crate) async fn check_quota(
    s: &Session,
    target: &Opened,
    bytes: u64,
    messages: u64,
) -> Result<(), Reply> {
    match access::quota_check(&s.ctx, &target.key, bytes, messages).await {
        Ok(()) => Ok(()),
        Err(access::QuotaError::Exceeded(e)) => {
            Err(Reply::no(Some(ResponseCode::OverQuota), &e.to_string()))
        }
        Err(e) => {
            tracing::warn!(error = %e, "quota lookup failed");
            Err(Reply::no(
                Some(ResponseCode::Unavailable),
                "temporary failure, try again later",
            ))
        }
    }
}

/// The flags of a message as copied into a mailbox where the user has `rights`.
fn permitted(flags: Flags, keywords: &[String], rights: Rights) -> (Flags, Vec<String>) {
    let (seen, deleted, others) = access::allowed_flags(rights);
    let mut keep = Flags::EMPTY;
    if seen {
        keep = keep.union(Flags::SEEN);
    }
    if deleted {
        keep = keep.union(Flags::DELETED);
    }
    if others {
        keep = keep.union(Flags::ANSWERED.union(Flags::FLAGGED).union(Flags::DRAFT));
    }
    let kw = if others {
        keywords.to_vec()
    } else {
        Vec::new()
    };
    (Flags(flags.0 & keep.0), kw)
}

/// Copies `uids` (ascending, in the view) into the target: by the store within one
/// account when every flag may be kept and nothing is encrypted, else message by message
/// (read, encrypted to `encrypt` if given, appended). Message by message, a failure
/// removes the copies already made before it is returned.
pub(crate) async fn transfer(
    spool: &Path,
    sel: &Selected,
    uids: &[Uid],
    target: &Opened,
    encrypt: Option<&Recipient>,
) -> Result<CopyOutcome, StoreError> {
    let all = Rights::SEEN
        .union(Rights::DELETE_MESSAGES)
        .union(Rights::WRITE);
    if encrypt.is_none() && same_account(sel, target) && target.rights.contains(all) {
        return sel.account.copy(sel.id, uids, target.mailbox.id).await;
    }
    let mut out = CopyOutcome {
        uid_validity: target.mailbox.uid_validity,
        pairs: Vec::with_capacity(uids.len()),
    };
    for &uid in uids {
        match copy_one(spool, sel, uid, target, encrypt).await {
            Ok(Some((validity, new))) => {
                out.uid_validity = validity;
                out.pairs.push((uid, new));
            }
            Ok(None) => {}
            Err(e) => {
                undo(target, &out.pairs).await;
                return Err(e);
            }
        }
    }
    Ok(out)
}

/// Reads one message and appends it (encrypted if asked) to the target: its new
/// (UIDVALIDITY, UID), or `None` when it is gone.
async fn copy_one(
    spool: &Path,
    sel: &Selected,
    uid: Uid,
    target: &Opened,
    encrypt: Option<&Recipient>,
) -> Result<Option<(u32, Uid)>, StoreError> {
    let Some(meta) = sel.index_of(uid).and_then(|i| sel.msgs.get(i)) else {
        return Ok(None);
    };
    let content = match sel.account.open_message(sel.id, uid).await {
        Ok(c) => c,
        Err(StoreError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    // Read chunk by chunk into memory or, when large, a spool file: never whole.
    let data = match encrypt {
        Some(r) => smime::envelope(content.as_ref(), r, spool).await?,
        None => deliver::spool(&[], content.as_ref(), 0, spool).await?,
    };
    let (flags, keywords) = permitted(meta.flags, meta.keywords, target.rights);
    let o = target
        .account
        .append(
            target.mailbox.id,
            AppendRequest {
                prefix: Vec::new(),
                data,
                flags,
                keywords,
                internal_date: Some((meta.internal_date, meta.internal_date_tz)),
            },
        )
        .await?;
    Ok(Some((o.uid_validity, o.uid)))
}

/// Removes the copies a failed COPY made.
async fn undo(target: &Opened, pairs: &[(Uid, Uid)]) {
    if pairs.is_empty() {
        return;
    }
    let made: Vec<Uid> = pairs.iter().map(|p| p.1).collect();
    if let Err(e) = target
        .account
        .expunge(target.mailbox.id, Some(&made), true)
        .await
    {
        tracing::warn!(error = %e, copies = made.len(), "could not remove the copies of a failed COPY");
    }
}

pub(crate) async fn run(
    s: &mut Session,
    uid: bool,
    set: SequenceSet,
    mailbox: Mailbox,
    encrypt: Option<CertificateData>,
) -> Reply {
    let Some(sel) = s.selected.as_ref() else {
        return Reply::bad("no mailbox selected");
    };
    let idx = match sel.resolve(&set, uid) {
        Ok(i) => i,
        Err(e) => return Reply::bad(&e),
    };
    let recipient = match encrypt {
        Some(data) => match recipient(s, data).await {
            Ok(r) => Some(r),
            Err(reply) => return reply,
        },
        None => None,
    };
    let target = match open_target(s, &mailbox).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Some(sel) = s.selected.as_ref() else {
        return Reply::bad("no mailbox selected");
    };
    let mut uids: Vec<u32> = idx.iter().map(|&i| sel.uid_at(i)).collect();
    uids.sort_unstable();
    uids.dedup();
    if uids.is_empty() {
        return Reply::ok("COPY completed (nothing to copy)");
    }
    let bytes = copied_bytes(sel, &uids, recipient.as_ref());
    if let Err(r) = check_quota(s, &target, bytes, uids.len() as u64).await {
        return r;
    }
    match transfer(&spool_dir(s), sel, &uids, &target, recipient.as_ref()).await {
        Ok(o) if o.pairs.is_empty() => Reply::ok("COPY completed"),
        Ok(o) => {
            let (source, dest) = o.pairs.iter().copied().unzip();
            Reply::ok_code(
                ResponseCode::CopyUid {
                    validity: o.uid_validity,
                    source,
                    dest,
                },
                "COPY completed",
            )
        }
        Err(e) => super::store_error(e),
    }
}
