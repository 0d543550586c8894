//! GETMETADATA and SETMETADATA (RFC 5464): entries on mailboxes and on the server (the
//! empty mailbox name), kept by the store (`Account::metadata`, `set_metadata`).
//!
//! - Mailbox entries: the requester needs `l` and one of `r s w i p` on the mailbox
//!   (RFC 5464 3.3, for reading and writing alike). `/shared/` entries live with the
//!   mailbox in its owner's store, so everyone with those rights sees the same ones.
//!   `/private/` entries are supported on one's own mailboxes; on another user's they are
//!   refused (`NO [METADATA NOPRIVATE]`) and never shown (the owner's private entries
//!   stay private).
//! - Server entries: `/private/` ones are the user's own (kept in the user's store).
//!   `/shared/` server entries are read-only over IMAP (RFC 5464 3.3: "Servers MAY
//!   restrict the creation of ... shared server annotations"): SETMETADATA of one is `NO`.
//! - Limits: a value is at most [`MAX_VALUE`] octets (`NO [METADATA MAXSIZE n]`), a
//!   mailbox or the server holds at most [`MAX_ENTRIES`] entries per owner
//!   (`NO [METADATA TOOMANY]`); a refused SETMETADATA changes nothing.

use super::Reply;
use crate::access;
use crate::imap::session::Session;
use mailroom_proto::imap::command::MetadataDepth;
use mailroom_proto::imap::encode::{self, mailbox_name_as, ResponseCode};
use mailroom_proto::imap::Mailbox;
use mailroom_store::acl::Rights;
use mailroom_store::{Account, MailboxId};
use std::sync::Arc;

/// The largest value SETMETADATA accepts, in octets.
pub(crate) const MAX_VALUE: usize = 16 * 1024;
/// The most entries one mailbox (or the server, per user) holds.
pub(crate) const MAX_ENTRIES: usize = 100;

/// Where the entries of a command live.
struct Target {
    account: Arc<dyn Account>,
    /// `None`: the server entries of the user.
    mailbox: Option<MailboxId>,
    /// Private entries are kept here (the requester's own mailbox, or the server).
    private_ok: bool,
}

async fn target(s: &Session, mailbox: &Mailbox) -> Result<Target, Reply> {
    let Some(user) = s.user.as_ref() else {
        return Err(Reply::bad("log in first"));
    };
    if mailbox.as_str().is_empty() {
        return Ok(Target {
            account: Arc::clone(&user.account),
            mailbox: None,
            private_ok: true,
        });
    }
    if let Some(why) = mailbox.invalid() {
        return Err(Reply::no(Some(ResponseCode::NonExistent), &why.to_string()));
    }
    let o = access::open_mailbox(&s.ctx, &user.info, mailbox.as_str())
        .await
        .map_err(super::access_error)?;
    // RFC 5464 3.3: "l" and any one of "r", "s", "w", "i", "p".
    let any = Rights::READ
        .union(Rights::SEEN)
        .union(Rights::WRITE)
        .union(Rights::INSERT)
        .union(Rights::POST);
    if !(o.rights.contains(Rights::LOOKUP) && o.rights.intersects(any)) {
        return Err(Reply::no(Some(ResponseCode::NoPerm), "permission denied"));
    }
    Ok(Target {
        private_ok: o.owner.id == user.info.id,
        account: o.account,
        mailbox: Some(o.mailbox.id),
    })
}

/// Whether `name` is asked for by `req` at `depth` (RFC 5464 4.2.2).
fn wanted(req: &str, name: &str, depth: MetadataDepth) -> bool {
    if name == req {
        return true;
    }
    let Some(rest) = name.strip_prefix(req).and_then(|r| r.strip_prefix('/')) else {
        return false;
    };
    match depth {
        MetadataDepth::Zero => false,
        MetadataDepth::One => !rest.contains('/'),
        MetadataDepth::Infinity => true,
    }
}

/// A value: a string, or `literal8` when it holds NUL (RFC 5464 5: `value = nstring /
/// literal8`).
fn value(out: &mut Vec<u8>, v: &[u8]) {
    if v.contains(&0) {
        out.extend_from_slice(format!("~{{{}}}\r\n", v.len()).as_bytes());
        out.extend_from_slice(v);
    } else {
        encode::string(out, v);
    }
}

/// GETMETADATA (RFC 5464 4.2).
pub(crate) async fn get(
    s: &mut Session,
    mailbox: Mailbox,
    maxsize: Option<u32>,
    depth: MetadataDepth,
    entries: Vec<String>,
) -> Reply {
    let t = match target(s, &mailbox).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let all = match t.account.metadata(t.mailbox).await {
        Ok(a) => a,
        Err(e) => return super::store_error(e),
    };
    let mut longest = 0usize;
    let mut line = Vec::new();
    for (name, v) in &all {
        if (name.starts_with("/private/") && !t.private_ok)
            || !entries.iter().any(|req| wanted(req, name, depth))
        {
            continue;
        }
        if let Some(max) = maxsize {
            if v.len() > max as usize {
                longest = longest.max(v.len());
                continue;
            }
        }
        line.push(if line.is_empty() { b'(' } else { b' ' });
        line.extend_from_slice(name.as_bytes());
        line.push(b' ');
        value(&mut line, v);
    }
    if !line.is_empty() {
        let utf8 = s.utf8();
        s.out.extend_from_slice(b"* METADATA ");
        mailbox_name_as(&mut s.out, mailbox.as_str(), utf8);
        s.out.push(b' ');
        s.out.extend_from_slice(&line);
        s.out.extend_from_slice(b")\r\n");
    }
    if longest > 0 {
        return Reply::ok_code(
            ResponseCode::MetadataLongEntries(longest as u64),
            "GETMETADATA completed",
        );
    }
    Reply::ok("GETMETADATA completed")
}

/// SETMETADATA (RFC 5464 4.3).
pub(crate) async fn set(
    s: &mut Session,
    mailbox: Mailbox,
    entries: Vec<(String, Option<Vec<u8>>)>,
) -> Reply {
    let t = match target(s, &mailbox).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    for (name, v) in &entries {
        if v.as_ref().is_some_and(|v| v.len() > MAX_VALUE) {
            return Reply::no(
                Some(ResponseCode::MetadataMaxSize(MAX_VALUE as u64)),
                "value too large",
            );
        }
        let private = name.starts_with("/private/");
        if private && !t.private_ok {
            return Reply::no(
                Some(ResponseCode::MetadataNoPrivate),
                "private entries only on your own mailboxes",
            );
        }
        if !private && t.mailbox.is_none() {
            return Reply::no(
                Some(ResponseCode::NoPerm),
                "shared server entries cannot be set over IMAP",
            );
        }
    }
    match t
        .account
        .set_metadata(t.mailbox, entries, MAX_ENTRIES)
        .await
    {
        Ok(true) => Reply::ok("SETMETADATA completed"),
        Ok(false) => Reply::no(Some(ResponseCode::MetadataTooMany), "too many entries"),
        Err(e) => super::store_error(e),
    }
}
