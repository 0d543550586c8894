//! MOVE and UID MOVE (RFC 6851): `* OK [COPYUID ...]` untagged, then the EXPUNGEs (from
//! the session's update), then the tagged OK.
//!
//! `ENCRYPTED certificate-data` (seed 001, I13: "equivalent to the COPY commands, but if
//! messages have been copied succesfully, they are deleted"): the encrypted copies are
//! made as `COPY … ENCRYPTED` makes them, and the originals are expunged only once every
//! copy is stored (a crash in between leaves both, never neither). Within one account
//! the quota is checked for what the encryption adds.

use super::copy;
use super::Reply;
use crate::access::{self, Op};
use crate::imap::session::Session;
use mailroom_proto::imap::command::CertificateData;
use mailroom_proto::imap::encode::{ResponseCode, Status};
use mailroom_proto::imap::{Mailbox, SequenceSet};
use mailroom_store::acl::Rights;

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
    if sel.read_only {
        return Reply::no(Some(ResponseCode::ReadOnly), "mailbox is read-only");
    }
    // RFC 6851 section 4.2 / RFC 4314: `t` and `e` on the source.
    if !access::allows(sel.rights, Op::MoveFrom) {
        return Reply::no(Some(ResponseCode::NoPerm), "permission denied");
    }
    let recipient = match encrypt {
        Some(data) => match copy::recipient(s, data).await {
            Ok(r) => Some(r),
            Err(reply) => return reply,
        },
        None => None,
    };
    let target = match copy::open_target(s, &mailbox).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Some(sel) = s.selected.as_ref() else {
        return Reply::bad("no mailbox selected");
    };
    let mut uids: Vec<u32> = idx
        .iter()
        .map(|&i| sel.uid_at(i))
        .filter(|u| sel.gone.binary_search(u).is_err())
        .collect();
    uids.sort_unstable();
    uids.dedup();
    if uids.is_empty() {
        return Reply::ok("MOVE completed (nothing to move)");
    }
    let full = Rights::SEEN
        .union(Rights::DELETE_MESSAGES)
        .union(Rights::WRITE);
    let same = copy::same_account(sel, &target);
    let o = if recipient.is_none() && same && target.rights.contains(full) {
        // I12: no quota check for a move inside one account. One store transaction: after
        // any crash the message is in exactly one of the two mailboxes (RFC 6851 3.1);
        // a move into the selected mailbox itself gives new UIDs and expunges the
        // originals, as RFC 6851 3.3 describes MOVE (and Dovecot does it).
        match sel
            .account
            .move_messages(sel.id, &uids, target.mailbox.id)
            .await
        {
            Ok(o) => o,
            Err(e) => return super::store_error(e),
        }
    } else {
        let bytes = copy::copied_bytes(sel, &uids, recipient.as_ref());
        let quota = if !same {
            Some((bytes, uids.len() as u64))
        } else if recipient.is_some() {
            // Within the account only what the encryption adds is new.
            let plain = copy::copied_bytes(sel, &uids, None);
            Some((bytes.saturating_sub(plain), 0))
        } else {
            None
        };
        if let Some((bytes, messages)) = quota {
            if let Err(r) = copy::check_quota(s, &target, bytes, messages).await {
                return r;
            }
        }
        let o = match copy::transfer(&copy::spool_dir(s), sel, &uids, &target, recipient.as_ref())
            .await
        {
            Ok(o) => o,
            Err(e) => return super::store_error(e),
        };
        let moved: Vec<u32> = o.pairs.iter().map(|p| p.0).collect();
        if let Err(e) = sel.account.expunge(sel.id, Some(&moved), true).await {
            return super::store_error(e);
        }
        o
    };
    let Some(sel) = s.selected.as_mut() else {
        return Reply::bad("no mailbox selected");
    };
    for (src, _) in &o.pairs {
        if let Err(i) = sel.gone.binary_search(src) {
            sel.gone.insert(i, *src);
        }
    }
    if !o.pairs.is_empty() {
        let (source, dest) = o.pairs.iter().copied().unzip();
        let code = ResponseCode::CopyUid {
            validity: o.uid_validity,
            source,
            dest,
        };
        s.line(None, Status::Ok, Some(&code), "moved");
    }
    Reply::ok("MOVE completed")
}
