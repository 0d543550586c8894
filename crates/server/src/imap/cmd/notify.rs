//! NOTIFY (RFC 5465 3.1): `NOTIFY SET [STATUS] groups` replaces what the session is told
//! of, `NOTIFY NONE` stops it. The grammar and the rules that make a NOTIFY a `BAD` are
//! the parser's (`mailroom_proto::imap::parse`, `notify.rs`); unsupported events are
//! `NO [BADEVENT (...)]`, too many mailboxes `NO [NOTIFICATIONOVERFLOW]`. The state and
//! the delivery of notifications live in [`crate::imap::notify`].
//!
//! A successful NOTIFY SET is also an implicit NOOP (3.1): the updates of the selected
//! mailbox follow at the command's end, as after every command.

use super::Reply;
use crate::access::{self, Op};
use crate::imap::notify::{self, Filter, Notify, MAX_WATCHED};
use crate::imap::session::Session;
use mailroom_proto::imap::command::NotifySet;
use mailroom_proto::imap::encode::{mailbox_name, ResponseCode};
use mailroom_store::Rights;

pub(crate) async fn run(s: &mut Session, set: Option<NotifySet>) -> Reply {
    let Some(set) = set else {
        s.notify = s.notify.take().and_then(Notify::after_none);
        return Reply::ok("NOTIFY completed");
    };
    let (selected, groups) = match notify::from_groups(set.groups) {
        Ok(x) => x,
        Err(Ok(code)) => return Reply::no(Some(code), "unsupported event"),
        Err(Err(why)) => return Reply::bad(&why),
    };
    let Some(user) = &s.user else {
        return Reply::bad("log in first");
    };
    // RFC 5465 3.1: a named mailbox of another user that the client may list but not
    // read is answered `* LIST (\NoAccess)`; one it cannot list is ignored, as is one
    // it can read (other users' mailboxes are not watched, see `imap::notify`).
    let info = user.info.clone();
    let foreign: Vec<String> = groups
        .iter()
        .flat_map(|(f, _)| match f {
            Filter::Subtree(v) | Filter::Mailboxes(v) => v.as_slice(),
            _ => &[],
        })
        .filter(|n| n.starts_with('~'))
        .cloned()
        .collect();
    for name in foreign {
        if let Ok(o) = access::check(&s.ctx, &info, &name, Op::List).await {
            if !o.rights.contains(Rights::READ) {
                s.out.extend_from_slice(b"* LIST (\\NoAccess) \"/\" ");
                mailbox_name(&mut s.out, &name);
                s.out.extend_from_slice(b"\r\n");
            }
        }
    }
    let Some(user) = &s.user else {
        return Reply::bad("log in first");
    };
    let enabled = s.notify.as_ref().map(|n| n.metadata).unwrap_or_default();
    let mut n = Notify::new(s.ctx.store.hub().watch_account(user.account.key()));
    n.selected = selected;
    n.groups = groups;
    n.set = true;
    n.metadata = enabled;
    let previous = s.notify.replace(Box::new(n));
    if !s.notify_rebuild(set.status).await {
        // Refused: the previous NOTIFY stays.
        s.notify = previous;
        return Reply::no(
            Some(ResponseCode::NotificationOverflow),
            &format!("more than {MAX_WATCHED} mailboxes to watch for message events"),
        );
    }
    Reply::ok("NOTIFY completed")
}
