//! CREATE (RFC 3501 6.3.3, RFC 6154 CREATE-SPECIAL-USE), and the default special-use
//! mailboxes made on first login.

use super::Reply;
use crate::imap::session::Session;
use mailroom_proto::imap::encode::ResponseCode;
use mailroom_proto::imap::Mailbox;
use mailroom_store::{Account, SpecialUse, StoreError};
use std::sync::Arc;

/// Mailboxes every account has (created when missing at login).
pub(crate) const DEFAULTS: &[(&str, SpecialUse)] = &[
    ("Drafts", SpecialUse::Drafts),
    ("Sent", SpecialUse::Sent),
    ("Trash", SpecialUse::Trash),
    ("Junk", SpecialUse::Junk),
];

/// Creates the default special-use mailboxes that are missing.
pub(crate) async fn default_mailboxes(account: &Arc<dyn Account>) -> Result<(), StoreError> {
    let have = account.list_mailboxes().await?;
    for (name, use_) in DEFAULTS {
        if have.iter().any(|m| m.name == *name) {
            continue;
        }
        match account.create_mailbox(name, Some(*use_)).await {
            Ok(_) | Err(StoreError::AlreadyExists(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

pub(crate) async fn run(s: &mut Session, mailbox: Mailbox, special_use: Vec<String>) -> Reply {
    let Some(user) = &s.user else {
        return Reply::bad("log in first");
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
    match user.account.create_mailbox(mailbox.as_str(), use_).await {
        Ok(_) => Reply::ok("CREATE completed"),
        Err(e) => super::store_error(e),
    }
}
