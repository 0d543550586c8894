//! RENAME (RFC 3501 6.3.5): inferiors move along; renaming INBOX moves its messages
//! into the new mailbox and leaves INBOX empty.

use super::Reply;
use crate::access::{self, Op};
use crate::imap::session::Session;
use mailroom_proto::imap::encode::ResponseCode;
use mailroom_proto::imap::Mailbox;

pub(crate) async fn run(s: &mut Session, from: Mailbox, to: Mailbox) -> Reply {
    let Some(user) = &s.user else {
        return Reply::bad("log in first");
    };
    if to.is_inbox() {
        return Reply::no(Some(ResponseCode::AlreadyExists), "INBOX already exists");
    }
    if let Err(why) = super::check_new_name(to.as_str()) {
        return Reply::no(Some(ResponseCode::Cannot), &why);
    }
    if !from.is_inbox() && to.as_str().starts_with(&format!("{}/", from.as_str())) {
        return Reply::no(
            Some(ResponseCode::Cannot),
            "cannot rename a mailbox into its own inferior",
        );
    }
    if from.as_str().starts_with('~') || to.as_str().starts_with('~') {
        return rename_foreign(s, &from, &to).await;
    }
    match user
        .account
        .rename_mailbox(from.as_str(), to.as_str())
        .await
    {
        Ok(()) => Reply::ok("RENAME completed"),
        Err(e) => super::store_error(e),
    }
}

/// RENAME involving another account's mailbox (I5): `x` on the source and `k` on the new
/// parent (RFC 4314 section 4); both names must be in the same account.
async fn rename_foreign(s: &mut Session, from: &Mailbox, to: &Mailbox) -> Reply {
    let Some(user) = &s.user else {
        return Reply::bad("log in first");
    };
    let src = match access::check(&s.ctx, &user.info, from.as_str(), Op::RenameFrom).await {
        Ok(o) => o,
        Err(e) => return super::access_error(e),
    };
    let (owner, inner) = match access::resolve_owner(&s.ctx, &user.info, to.as_str()).await {
        Ok(x) => x,
        Err(e) => return super::access_error(e),
    };
    if owner.id != src.owner.id {
        return Reply::no(
            Some(ResponseCode::Cannot),
            "cannot rename a mailbox into another account",
        );
    }
    if owner.id != user.info.id {
        let Some((parent, _)) = inner.rsplit_once('/') else {
            return Reply::no(
                Some(ResponseCode::NoPerm),
                "top-level mailboxes cannot be created in another account",
            );
        };
        let parent_name = access::client_name(&user.info, &owner, parent);
        if let Err(e) = access::check(&s.ctx, &user.info, &parent_name, Op::CreateInParent).await {
            return super::access_error(e);
        }
    }
    match src.account.rename_mailbox(&src.mailbox.name, &inner).await {
        Ok(()) => Reply::ok("RENAME completed"),
        Err(e) => super::store_error(e),
    }
}
