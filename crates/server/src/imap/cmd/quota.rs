//! The QUOTA commands (RFC 9208, compatible with RFC 2087): GETQUOTA, GETQUOTAROOT,
//! SETQUOTA. Every account is one quota root, `#account` (seed 001), `#account@domain`
//! for another domain's account; `""` is the user's own root. Resources: `STORAGE`
//! (KiB) and `MESSAGE`. Only administrators read or set other accounts' quotas.

use super::Reply;
use crate::access::{self, Op};
use crate::imap::session::Session;
use mailroom_directory::{AccountInfo, DirError};
use mailroom_proto::imap::encode::{mailbox_name_as, ResponseCode};
use mailroom_proto::imap::Mailbox;

/// The quota root name of `owner` as `requester` sees it.
pub(crate) fn root_name(requester: &AccountInfo, owner: &AccountInfo) -> String {
    if owner.domain == requester.domain {
        access::quota_root(owner)
    } else {
        format!("#{}@{}", owner.name, owner.domain)
    }
}

/// The account a quota root names, if the requester may use it: its own root for
/// everyone, any account's for administrators. Others get `NO [NOPERM]` whether the
/// account exists or not (nothing to probe).
async fn root_account(s: &Session, root: &str) -> Result<AccountInfo, Reply> {
    let Some(user) = &s.user else {
        return Err(Reply::bad("log in first"));
    };
    let me = &user.info;
    if root.is_empty() {
        return Ok(me.clone());
    }
    let Some(name) = root.strip_prefix('#') else {
        return Err(Reply::no(
            Some(ResponseCode::NonExistent),
            "no such quota root (roots are #account)",
        ));
    };
    let name = name.to_ascii_lowercase();
    let (n, d) = match name.split_once('@') {
        Some((n, d)) => (n.to_string(), d.to_string()),
        None => (name.clone(), me.domain.clone()),
    };
    if n == me.name && d == me.domain {
        return Ok(me.clone());
    }
    if !me.admin {
        return Err(Reply::no(
            Some(ResponseCode::NoPerm),
            "only administrators may use other accounts' quota roots",
        ));
    }
    let addr = format!("{n}@{d}");
    match s.ctx.dir(move |dir| dir.account(&addr)).await {
        Ok(a) => Ok(a),
        Err(DirError::NotFound(_)) => Err(Reply::no(
            Some(ResponseCode::NonExistent),
            "no such quota root",
        )),
        Err(e) => Err(super::access_error(access::AccessError::Directory(e))),
    }
}

/// Writes `* QUOTA "root" (STORAGE used limit MESSAGE used limit)`.
async fn write_quota(s: &mut Session, owner: &AccountInfo) -> Result<(), Reply> {
    let Some(user) = &s.user else {
        return Err(Reply::bad("log in first"));
    };
    let root = root_name(&user.info, owner);
    let (d, n) = owner.store_key();
    let Some(key) = mailroom_store::AccountKey::new(&d, &n) else {
        return Err(Reply::no(
            Some(ResponseCode::ServerBug),
            "invalid account name",
        ));
    };
    let (limits, usage) = match access::quota_of(&s.ctx, &key).await {
        Ok(x) => x,
        Err(e) => {
            tracing::warn!(error = %e, "quota lookup failed");
            return Err(Reply::no(
                Some(ResponseCode::Unavailable),
                "temporary failure, try again later",
            ));
        }
    };
    let res: Vec<String> = access::quota_resources(&limits, &usage)
        .into_iter()
        .map(|(r, used, limit)| format!("{r} {used} {limit}"))
        .collect();
    let utf8 = s.utf8();
    s.out.extend_from_slice(b"* QUOTA ");
    mailbox_name_as(&mut s.out, &root, utf8);
    s.out
        .extend_from_slice(format!(" ({})\r\n", res.join(" ")).as_bytes());
    Ok(())
}

/// `GETQUOTA root` (RFC 9208 section 4.2).
pub(crate) async fn getquota(s: &mut Session, root: String) -> Reply {
    let owner = match root_account(s, &root).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    match write_quota(s, &owner).await {
        Ok(()) => Reply::ok("GETQUOTA completed"),
        Err(r) => r,
    }
}

/// `GETQUOTAROOT mailbox` (RFC 9208 section 4.3): `* QUOTAROOT "mailbox" "#owner"` and
/// the root's `* QUOTA`. Needs `r` on the mailbox (RFC 4314 section 4 leaves it to the
/// server; reading the usage of what one can read reveals nothing new).
pub(crate) async fn getquotaroot(s: &mut Session, mailbox: Mailbox) -> Reply {
    let Some(user) = &s.user else {
        return Reply::bad("log in first");
    };
    let info = user.info.clone();
    let o = match access::check(&s.ctx, &info, mailbox.as_str(), Op::GetQuotaRoot).await {
        Ok(o) => o,
        Err(e) => return super::access_error(e),
    };
    let name = access::client_name(&info, &o.owner, &o.mailbox.name);
    let root = root_name(&info, &o.owner);
    let utf8 = s.utf8();
    s.out.extend_from_slice(b"* QUOTAROOT ");
    mailbox_name_as(&mut s.out, &name, utf8);
    s.out.push(b' ');
    mailbox_name_as(&mut s.out, &root, utf8);
    s.out.extend_from_slice(b"\r\n");
    match write_quota(s, &o.owner).await {
        Ok(()) => Reply::ok("GETQUOTAROOT completed"),
        Err(r) => r,
    }
}

/// `SETQUOTA root (resource limit ...)` (RFC 9208 section 4.4): administrators only;
/// resources left out become unlimited; unknown resources, repeated ones and limits
/// above the directory's maximum are refused with nothing changed.
pub(crate) async fn setquota(s: &mut Session, root: String, limits: Vec<(String, u64)>) -> Reply {
    let Some(user) = &s.user else {
        return Reply::bad("log in first");
    };
    if !user.info.admin {
        return Reply::no(
            Some(ResponseCode::NoPerm),
            "only administrators may set quotas",
        );
    }
    let mut storage = None;
    let mut messages = None;
    for (r, n) in &limits {
        let slot = match r.as_str() {
            "STORAGE" => &mut storage,
            "MESSAGE" => &mut messages,
            other => {
                return Reply::no(
                    Some(ResponseCode::Cannot),
                    &format!("unsupported quota resource {other}"),
                )
            }
        };
        if slot.replace(*n).is_some() {
            return Reply::bad(&format!("quota resource {r} given twice"));
        }
    }
    let owner = match root_account(s, &root).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let addr = owner.address();
    match s
        .ctx
        .dir(move |d| d.set_quota(&addr, storage, messages))
        .await
    {
        Ok(_) => {}
        Err(DirError::Invalid(why)) => return Reply::no(Some(ResponseCode::Limit), &why),
        Err(e) => return super::access_error(access::AccessError::Directory(e)),
    }
    match write_quota(s, &owner).await {
        Ok(()) => Reply::ok("SETQUOTA completed"),
        Err(r) => r,
    }
}
