//! SELECT and EXAMINE (RFC 3501 6.3.1, 6.3.2): builds the view, claims `\Recent`
//! (RFC 3501 2.3.2: recent to exactly one session) and sends the mailbox state.

use super::Reply;
use crate::access::{self, Op};
use crate::imap::session::Session;
use crate::imap::view::{write_flags, Selected};
use mailroom_proto::imap::command::QResync;
use mailroom_proto::imap::encode::{compress_set, mailbox_name_as};
use mailroom_proto::imap::encode::{ResponseCode, Status};
use mailroom_proto::imap::Mailbox;

pub(crate) async fn run(
    s: &mut Session,
    mailbox: Mailbox,
    read_only: bool,
    qresync: Option<QResync>,
) -> Reply {
    // A failed SELECT leaves the session unselected too (RFC 3501 6.3.1). The previous
    // selection lives until the new watch exists: selecting the same mailbox again keeps
    // the store's watch on it (and what it knows about outside changes).
    let previous = s.selected.take();
    s.reg.set_state("authenticated");
    // RFC 7162 3.2.11: a server that advertises CONDSTORE marks the implicit close of
    // the selected mailbox, whether or not CONDSTORE is enabled.
    if previous.is_some() {
        s.line(
            None,
            Status::Ok,
            Some(&ResponseCode::Closed),
            "previous mailbox closed",
        );
    }
    let Some(user) = &s.user else {
        return Reply::bad("log in first");
    };
    let op = if read_only { Op::Examine } else { Op::Select };
    let opened = match access::check(&s.ctx, &user.info, mailbox.as_str(), op).await {
        Ok(o) => o,
        Err(e) => return super::access_error(e),
    };
    let (account, info, rights) = (opened.account, opened.mailbox, opened.rights);
    let watch = s.ctx.store.hub().watch(account.key(), info.id);
    drop(previous);
    if let Err(e) = account.sync(info.id).await {
        tracing::debug!(error = %e, "sync failed");
    }
    let mut snap = match account.messages(info.id).await {
        Ok(x) => x,
        Err(e) => return super::store_error(e),
    };
    // RFC 3501 6.3.2: EXAMINE is read-only, so it claims no `\Recent` (a later SELECT,
    // or STATUS, still sees those messages recent); it shows the messages no session
    // has claimed yet, which are the newest ones.
    // RFC 9051 Appendix E item 12: no `\Recent` for an IMAP4rev2 session, so it claims
    // none either (an IMAP4rev1 session still sees them recent).
    let first_recent = if s.imap4rev2 {
        snap.uid_next
    } else if read_only {
        match account.status(info.id).await {
            Ok(st) => first_unclaimed(&snap.messages, st.recent, snap.uid_next),
            Err(e) => return super::store_error(e),
        }
    } else {
        match account.claim_recent_upto(info.id, snap.uid_next).await {
            Ok(u) => u,
            Err(e) => return super::store_error(e),
        }
    };
    let mut recent: Vec<u32> = snap
        .messages
        .uids_from(snap.messages.rank(first_recent))
        .filter(|&u| u < snap.uid_next)
        .collect();
    // Seed 001 (I12): `$Service` messages are not in the view unless the session asked
    // for the service view (`ENABLE X-SERVICE`).
    let hide_service = !s.service_view;
    if hide_service && crate::service::hide(&mut snap.messages) {
        recent.retain(|&u| snap.messages.position(u).is_some());
    }
    let mut sel = Selected {
        account,
        rights,
        id: info.id,
        read_only,
        msgs: snap.messages,
        gone: Vec::new(),
        recent,
        modseq: snap.highest_modseq,
        uid_validity: snap.uid_validity,
        uid_next: snap.uid_next,
        keywords: Vec::new(),
        hide_service,
        _watch: watch,
    };
    // RFC 3501 7.2.6: FLAGS (and PERMANENTFLAGS) name every keyword in the mailbox.
    let mut keywords: Vec<String> = Vec::new();
    for m in sel.msgs.iter() {
        for k in m.keywords {
            if !keywords.iter().any(|x| x.eq_ignore_ascii_case(k)) {
                keywords.push(k.clone());
            }
        }
    }
    sel.keywords = keywords;
    let lines = [
        format!("{} EXISTS", sel.msgs.len()),
        format!("{} RECENT", sel.recent.len()),
    ];
    // RFC 9051 Appendix E item 11: no `[UNSEEN n]` for an IMAP4rev2 session.
    let unseen = if s.imap4rev2 {
        None
    } else {
        sel.first_unseen()
    };
    let (validity, next, modseq) = (sel.uid_validity, sel.uid_next, sel.modseq);
    sel.write_flags_lines(&mut s.out);
    s.untagged(&lines[0]);
    if s.imap4rev2 {
        // RFC 9051 6.3.2 (Appendix E item 10): "The server MUST return a LIST response
        // with the mailbox name"; its attributes "MAY be accurate": none are given.
        s.out.extend_from_slice(b"* LIST () \"/\" ");
        mailbox_name_as(&mut s.out, mailbox.as_str(), true);
        s.out.extend_from_slice(b"\r\n");
    } else {
        // RFC 9051 Appendix E item 12: no `* n RECENT` for an IMAP4rev2 session.
        s.untagged(&lines[1]);
    }
    if let Some(u) = unseen {
        s.line(
            None,
            Status::Ok,
            Some(&ResponseCode::Unseen(u)),
            "first unseen",
        );
    }
    s.line(
        None,
        Status::Ok,
        Some(&ResponseCode::UidValidity(validity)),
        "UIDs valid",
    );
    s.line(
        None,
        Status::Ok,
        Some(&ResponseCode::UidNext(next)),
        "predicted next UID",
    );
    // RFC 8474 4.2: every successful SELECT and EXAMINE names the mailbox's MAILBOXID.
    match sel.account.mailbox_object_id(sel.id).await {
        Ok(id) => s.line(
            None,
            Status::Ok,
            Some(&ResponseCode::MailboxId(id)),
            "mailbox id",
        ),
        Err(e) => return super::store_error(e),
    }
    // RFC 7162 3.1: HIGHESTMODSEQ only once CONDSTORE is on for the session (a client
    // that never asked for it must not see its response codes).
    if s.condstore {
        s.line(
            None,
            Status::Ok,
            Some(&ResponseCode::HighestModSeq(modseq)),
            "highest modseq",
        );
    }
    if let Some(q) = qresync.filter(|q| q.uid_validity == validity) {
        if let Err(e) = resync(s, &sel, &q).await {
            return super::store_error(e);
        }
    }
    s.selected = Some(sel);
    s.reg.set_state("selected");
    if read_only {
        Reply::ok_code(ResponseCode::ReadOnly, "EXAMINE completed")
    } else {
        Reply::ok_code(ResponseCode::ReadWrite, "SELECT completed")
    }
}

/// RFC 7162 3.2.5.1: what changed since the client's modseq, for a SELECT with the
/// QRESYNC parameter whose UIDVALIDITY matches: `* VANISHED (EARLIER)` with the UIDs
/// expunged since (only those in known-uids, when given), then a FETCH with UID, FLAGS
/// and MODSEQ for every message of the view changed since. The expunges come from the
/// store's tombstones, which are exact: seq-match-data is not needed and is not used.
/// A message hidden as `$Service` since then is reported as vanished (I12).
async fn resync(
    s: &mut Session,
    sel: &Selected,
    q: &QResync,
) -> Result<(), mailroom_store::StoreError> {
    let ch = sel.account.changes_since(sel.id, q.modseq).await?;
    let known = |u: u32| {
        q.known_uids
            .as_ref()
            .is_none_or(|k| k.contains(u, u32::MAX))
    };
    let mut gone: Vec<u32> = ch.expunged.iter().copied().filter(|&u| known(u)).collect();
    // Hidden as `$Service` since then: gone from this view (not a message that arrived
    // after the view's snapshot, which the next update announces).
    gone.extend(
        ch.changed
            .iter()
            .filter(|m| {
                sel.hide_service
                    && crate::service::is_service(&m.keywords)
                    && m.uid < sel.uid_next
                    && sel.index_of(m.uid).is_none()
                    && known(m.uid)
            })
            .map(|m| m.uid),
    );
    gone.sort_unstable();
    gone.dedup();
    if !gone.is_empty() {
        s.out.extend_from_slice(
            format!("* VANISHED (EARLIER) {}\r\n", compress_set(&gone)).as_bytes(),
        );
    }
    for m in &ch.changed {
        let Some(i) = sel.index_of(m.uid) else {
            continue;
        };
        let Some(cur) = sel.msgs.get(i) else { continue };
        // RFC 9586 3.3: a UIDFETCH names the UID already.
        if s.uidonly {
            s.out
                .extend_from_slice(format!("* {} UIDFETCH (FLAGS ", cur.uid).as_bytes());
        } else {
            s.out
                .extend_from_slice(format!("* {} FETCH (UID {} FLAGS ", i + 1, cur.uid).as_bytes());
        }
        write_flags(&mut s.out, cur, sel.is_recent(cur.uid));
        s.out
            .extend_from_slice(format!(" MODSEQ ({}))\r\n", cur.modseq).as_bytes());
    }
    Ok(())
}

/// The lowest UID of the newest `unclaimed` messages (the `\Recent` messages no session
/// has claimed: those at or above the store's first recent UID), `uid_next` for none.
pub(crate) fn first_unclaimed(
    msgs: &mailroom_store::MessageList,
    unclaimed: u32,
    uid_next: u32,
) -> u32 {
    let n = msgs.len().saturating_sub(unclaimed as usize);
    msgs.uid(n).unwrap_or(uid_next)
}
