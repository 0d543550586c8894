//! STATUS (RFC 3501 6.3.10, RFC 8438 SIZE, RFC 9051 DELETED, RFC 7889 APPENDLIMIT, RFC 8474
//! MAILBOXID, and the vendor items of seed
//! 001: INTERNALSIZE, OLDEST, UNSEENMEDIA); also used by LIST-STATUS (RFC 5819).

use super::Reply;
use crate::access::{self, Op};
use crate::imap::session::Session;
use mailroom_proto::imap::command::StatusItem;
use mailroom_proto::imap::encode::{date_time, mailbox_name_as};
use mailroom_proto::imap::{DateTime, Mailbox};
use mailroom_store::{Account, Flags, MailboxId, StoreError};
use std::sync::Arc;

/// The value of one STATUS item.
pub(crate) enum Value {
    Number(u64),
    /// A `date-time` (OLDEST), already quoted.
    Date(String),
    /// An object id (MAILBOXID, RFC 8474 4.3), sent as `(id)`.
    Id(String),
}

/// Computes the requested items; OLDEST is left out for an empty mailbox (seed 001).
/// With `hide_service`, `$Service` messages are not counted (I12, [`crate::service`]).
pub(crate) async fn values(
    account: &Arc<dyn Account>,
    id: MailboxId,
    items: &[StatusItem],
    hide_service: bool,
    append_limit: u64,
) -> Result<Vec<(StatusItem, Value)>, StoreError> {
    let mut st = account.status(id).await?;
    let needs_snapshot = items.iter().any(|i| {
        matches!(
            i,
            StatusItem::Deleted
                | StatusItem::DeletedStorage
                | StatusItem::Oldest
                | StatusItem::UnseenMedia
        ) || (hide_service
            && matches!(
                i,
                StatusItem::Messages
                    | StatusItem::Recent
                    | StatusItem::Unseen
                    | StatusItem::Size
                    | StatusItem::InternalSize
            ))
    });
    let snap = if needs_snapshot {
        Some(account.messages(id).await?)
    } else {
        None
    };
    let empty = mailroom_store::MessageList::new();
    let msgs = snap.as_ref().map(|s| &s.messages).unwrap_or(&empty);
    if hide_service {
        crate::service::visible_status(&mut st, msgs);
    }
    let shown = |m: &mailroom_store::MessageRef<'_>| !hide_service || crate::service::shown(m);
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let v: u64 = match item {
            StatusItem::Messages => u64::from(st.messages),
            StatusItem::Recent => u64::from(st.recent),
            StatusItem::UidNext => u64::from(st.uid_next),
            StatusItem::UidValidity => u64::from(st.uid_validity),
            StatusItem::Unseen => u64::from(st.unseen),
            StatusItem::Size | StatusItem::InternalSize => st.size,
            StatusItem::HighestModSeq => st.highest_modseq,
            StatusItem::Deleted => msgs
                .iter()
                .filter(|m| m.flags.contains(Flags::DELETED) && shown(m))
                .count() as u64,
            // RFC 9208 4.1.4: "the sum of the RFC822.SIZE of the messages with the
            // \Deleted flag set" (what an EXPUNGE frees, octets).
            StatusItem::DeletedStorage => msgs
                .iter()
                .filter(|m| m.flags.contains(Flags::DELETED) && shown(m))
                .map(|m| m.size)
                .sum(),
            StatusItem::AppendLimit => append_limit,
            StatusItem::MailboxId => {
                let id = account.mailbox_object_id(id).await?;
                out.push((*item, Value::Id(id)));
                continue;
            }
            StatusItem::Oldest => {
                let oldest = msgs.iter().filter(shown).min_by_key(|m| m.internal_date);
                let dt = oldest.and_then(|m| {
                    let zone = i16::try_from(m.internal_date_tz).unwrap_or(0);
                    DateTime::from_unix(m.internal_date, zone)
                });
                if let Some(dt) = dt {
                    let mut b = Vec::new();
                    date_time(&mut b, &dt);
                    out.push((*item, Value::Date(String::from_utf8_lossy(&b).into_owned())));
                }
                continue;
            }
            StatusItem::UnseenMedia => msgs
                .iter()
                .filter(|m| {
                    shown(m)
                        && !m.flags.contains(Flags::SEEN)
                        && m.keywords.iter().any(|k| k.eq_ignore_ascii_case("$Media"))
                })
                .count() as u64,
        };
        out.push((*item, Value::Number(v)));
    }
    Ok(out)
}

/// Writes `* STATUS name (items)` CRLF (the name in UTF-8 when `utf8`, RFC 6855 3).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn write_status(
    out: &mut Vec<u8>,
    account: &Arc<dyn Account>,
    id: MailboxId,
    name: &str,
    items: &[StatusItem],
    hide_service: bool,
    append_limit: u64,
    utf8: bool,
) -> Result<(), StoreError> {
    let vals = values(account, id, items, hide_service, append_limit).await?;
    out.extend_from_slice(b"* STATUS ");
    mailbox_name_as(out, name, utf8);
    out.extend_from_slice(b" (");
    for (i, (item, v)) in vals.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        let v = match v {
            Value::Number(n) => n.to_string(),
            Value::Date(d) => d.clone(),
            Value::Id(id) => format!("({id})"),
        };
        out.extend_from_slice(format!("{} {v}", item.name()).as_bytes());
    }
    out.extend_from_slice(b")\r\n");
    Ok(())
}

pub(crate) async fn run(s: &mut Session, mailbox: Mailbox, items: Vec<StatusItem>) -> Reply {
    let Some(user) = &s.user else {
        return Reply::bad("log in first");
    };
    let o = match access::check(&s.ctx, &user.info, mailbox.as_str(), Op::Status).await {
        Ok(o) => o,
        Err(e) => return super::access_error(e),
    };
    let name = access::client_name(&user.info, &o.owner, &o.mailbox.name);
    let limit = super::capability::append_limit(s);
    let mut out = Vec::new();
    if let Err(e) = write_status(
        &mut out,
        &o.account,
        o.mailbox.id,
        &name,
        &items,
        !s.service_view,
        limit,
        s.utf8(),
    )
    .await
    {
        return super::store_error(e);
    }
    s.out.extend_from_slice(&out);
    Reply::ok("STATUS completed")
}
