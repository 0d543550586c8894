//! CREATE (RFC 3501 6.3.3, RFC 6154 CREATE-SPECIAL-USE, RFC 8474 MAILBOXID). The default special-use
//! mailboxes are `imap::DEFAULT_MAILBOXES`, made by `Account::ensure_mailboxes`.

use super::Reply;
use crate::access::{self, Op};
use crate::imap::session::Session;
use mailroom_proto::imap::encode::ResponseCode;
use mailroom_proto::imap::Mailbox;
use mailroom_store::{Account, MailboxId, SpecialUse};
use std::sync::Arc;

pub(crate) async fn run(s: &mut Session, mailbox: Mailbox, special_use: Vec<String>) -> Reply {
    let Some(user) = &s.user else {
        return Reply::bad("log in first");
    };
    // RFC 3501 6.3.3: a name suffixed with the hierarchy delimiter declares that the
    // client will create names under it; the server creates the name without it.
    let mailbox = match mailbox.as_str().strip_suffix('/') {
        Some(base) if !base.is_empty() => Mailbox::from_utf8(base.to_owned()),
        _ => mailbox,
    };
    if mailbox.is_inbox() {
        return Reply::no(Some(ResponseCode::AlreadyExists), "INBOX always exists");
    }
    if let Err(why) = super::check_new_name(mailbox.as_str()) {
        return Reply::no(Some(ResponseCode::Cannot), &why);
    }
    let mut use_ = None;
    for u in &special_use {
        match SpecialUse::from_imap(u) {
            // RFC 6154 3: the server MUST NOT create a mailbox whose special use it
            // cannot honour; `\All` and `\Flagged` are virtual mailboxes (the messages
            // of every mailbox, the flagged ones) that the store does not have.
            Some(SpecialUse::All | SpecialUse::Flagged) => {
                return Reply::no(
                    Some(ResponseCode::UseAttr),
                    &format!("{u} not supported (virtual mailboxes are not offered)"),
                )
            }
            Some(x) if use_.is_none() => use_ = Some(x),
            Some(_) => {
                return Reply::no(
                    Some(ResponseCode::UseAttr),
                    "only one special-use attribute per mailbox",
                )
            }
            None => {
                return Reply::no(
                    Some(ResponseCode::UseAttr),
                    &format!("unsupported special-use attribute {u}"),
                )
            }
        }
    }
    if mailbox.as_str().starts_with('~') {
        return create_foreign(s, mailbox.as_str(), use_).await;
    }
    let account = user.account.clone();
    match account.create_mailbox(mailbox.as_str(), use_).await {
        Ok(info) => created(&account, info.id).await,
        Err(e) => super::store_error(e),
    }
}

/// CREATE of `~account/parent/name` (I5): needs `k` on the parent (RFC 4314 section 4);
/// top-level mailboxes of another account cannot be created (its root has no ACL).
async fn create_foreign(s: &mut Session, name: &str, use_: Option<SpecialUse>) -> Reply {
    let Some(user) = &s.user else {
        return Reply::bad("log in first");
    };
    let (owner, inner) = match access::resolve_owner(&s.ctx, &user.info, name).await {
        Ok(x) => x,
        Err(e) => return super::access_error(e),
    };
    let Some((parent, _)) = inner.rsplit_once('/') else {
        return Reply::no(
            Some(ResponseCode::NoPerm),
            "top-level mailboxes cannot be created in another account",
        );
    };
    let parent_name = access::client_name(&user.info, &owner, parent);
    let o = match access::check(&s.ctx, &user.info, &parent_name, Op::CreateInParent).await {
        Ok(o) => o,
        Err(e) => return super::access_error(e),
    };
    match o.account.create_mailbox(&inner, use_).await {
        Ok(info) => created(&o.account, info.id).await,
        Err(e) => super::store_error(e),
    }
}

/// RFC 8474 4.1: the tagged OK of every successful CREATE carries `[MAILBOXID (id)]`.
async fn created(account: &Arc<dyn Account>, id: MailboxId) -> Reply {
    match account.mailbox_object_id(id).await {
        Ok(object_id) => Reply::ok_code(ResponseCode::MailboxId(object_id), "CREATE completed"),
        Err(e) => super::store_error(e),
    }
}
