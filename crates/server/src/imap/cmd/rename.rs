//! RENAME (RFC 3501 6.3.5): inferiors move along; renaming INBOX moves its messages
//! into the new mailbox and leaves INBOX empty.

use super::Reply;
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
    match user
        .account
        .rename_mailbox(from.as_str(), to.as_str())
        .await
    {
        Ok(()) => Reply::ok("RENAME completed"),
        Err(e) => super::store_error(e),
    }
}
