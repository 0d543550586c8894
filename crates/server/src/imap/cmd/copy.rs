//! COPY and UID COPY (RFC 3501 6.4.7, RFC 4315 COPYUID): flags and internal dates kept.
//!
//! The target needs `i` (RFC 4314 section 4); flags the user may not set there are left
//! out. Within one account the store copies; between accounts (own and foreign
//! mailboxes, I5) each message is read (chunk by chunk, spooled when large) and appended into the other
//! store. Copies are
//! checked against the target owner's quota (I10).

use super::Reply;
use crate::access::{self, Op, Opened};
use crate::deliver;
use crate::imap::session::Session;
use crate::imap::view::Selected;
use mailroom_proto::imap::encode::ResponseCode;
use mailroom_proto::imap::{Mailbox, SequenceSet};
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

/// `NO [OVERQUOTA]` when adding the messages would exceed the target owner's quota.
pub(crate) async fn check_quota(
    s: &Session,
    sel: &Selected,
    uids: &[Uid],
    target: &Opened,
) -> Result<(), Reply> {
    let bytes: u64 = sel
        .msgs
        .iter()
        .filter(|m| uids.binary_search(&m.uid).is_ok())
        .map(|m| m.size)
        .sum();
    match access::quota_check(&s.ctx, &target.key, bytes, uids.len() as u64).await {
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
/// account when every flag may be kept, else message by message (read and append).
pub(crate) async fn transfer(
    spool: &Path,
    sel: &Selected,
    uids: &[Uid],
    target: &Opened,
) -> Result<CopyOutcome, StoreError> {
    let all = Rights::SEEN
        .union(Rights::DELETE_MESSAGES)
        .union(Rights::WRITE);
    if same_account(sel, target) && target.rights.contains(all) {
        return sel.account.copy(sel.id, uids, target.mailbox.id).await;
    }
    let mut out = CopyOutcome {
        uid_validity: target.mailbox.uid_validity,
        pairs: Vec::with_capacity(uids.len()),
    };
    for &uid in uids {
        let Some(i) = sel.index_of(uid) else { continue };
        let Some(meta) = sel.msgs.get(i) else {
            continue;
        };
        let content = match sel.account.open_message(sel.id, uid).await {
            Ok(c) => c,
            Err(StoreError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        // Read chunk by chunk into memory or, when large, a spool file: never whole.
        let data = deliver::spool(&[], content.as_ref(), 0, spool).await?;
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
        out.uid_validity = o.uid_validity;
        out.pairs.push((uid, o.uid));
    }
    Ok(out)
}

pub(crate) async fn run(s: &mut Session, uid: bool, set: SequenceSet, mailbox: Mailbox) -> Reply {
    let Some(sel) = s.selected.as_ref() else {
        return Reply::bad("no mailbox selected");
    };
    let idx = match sel.resolve(&set, uid) {
        Ok(i) => i,
        Err(e) => return Reply::bad(&e),
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
    if let Err(r) = check_quota(s, sel, &uids, &target).await {
        return r;
    }
    match transfer(&spool_dir(s), sel, &uids, &target).await {
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
