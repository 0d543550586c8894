//! `$Service` messages (seed 001, I12): a message with the `$Service` keyword is left out
//! of the mailbox view of IMAP and POP3 clients (sequence numbers, EXISTS, FETCH, SEARCH,
//! STATUS and LIST-STATUS counts, the POP3 maildrop), as CommuniGate Pro leaves it out
//! for everyone but its own clients.
//!
//! The view that shows them (our counterpart of CommuniGate's own clients): an IMAP
//! session that sent `ENABLE X-SERVICE` (advertised as `X-SERVICE`) before SELECT or
//! EXAMINE. There `$Service` is a keyword like any other; removing it with STORE makes
//! the message reappear in every other view. A message that reappears is given a new UID
//! (moved within the mailbox, the original expunged): RFC 3501 2.3.1.1 requires a
//! message added to a view to have a UID above every UID the client has seen, and a
//! client that fetched `UID n:*` must find it.
//!
//! Giving a message `$Service` in an ordinary view (STORE, APPEND) makes it leave that
//! view and every other ordinary one as an expunge would (`* n EXPUNGE` where allowed).

use mailroom_store::{Account, MailboxId, MailboxStatus, MessageList, MessageRef, StoreError, Uid};

/// The keyword (compared case-insensitively, RFC 3501 2.3.2).
pub const SERVICE: &str = "$Service";

/// Whether a message is a service message.
pub fn is_service(keywords: &[String]) -> bool {
    keywords.iter().any(|k| k.eq_ignore_ascii_case(SERVICE))
}

/// Takes the service messages out of `list`; returns whether there were any. Costs
/// nothing (no copy, no walk of the messages) when no message has the keyword.
pub fn hide(list: &mut MessageList) -> bool {
    if !list.may_have_keyword(SERVICE) {
        return false;
    }
    let hidden: Vec<u32> = list
        .iter()
        .filter(|m| is_service(m.keywords))
        .map(|m| m.uid)
        .collect();
    if hidden.is_empty() {
        return false;
    }
    list.retain(|u| hidden.binary_search(&u).is_err());
    true
}

/// The counters of `st` without the service messages of `msgs` (the mailbox at the same
/// moment): MESSAGES, UNSEEN, SIZE and RECENT (of the `st.recent` newest messages).
pub fn visible_status(st: &mut MailboxStatus, msgs: &MessageList) {
    if !msgs.may_have_keyword(SERVICE) {
        return;
    }
    let first_recent = msgs
        .uid(msgs.len().saturating_sub(st.recent as usize))
        .unwrap_or(u32::MAX);
    let hidden = msgs.iter().filter(|m| is_service(m.keywords));
    for m in hidden {
        st.messages = st.messages.saturating_sub(1);
        st.size = st.size.saturating_sub(m.size);
        if !m.flags.contains(mailroom_store::Flags::SEEN) {
            st.unseen = st.unseen.saturating_sub(1);
        }
        if m.uid >= first_recent && st.recent > 0 {
            st.recent -= 1;
        }
    }
}

/// What an EXPUNGE without UIDs (or CLOSE) of a view that hides service messages
/// removes: `None` (every `\Deleted` message) when the mailbox has no service message,
/// else the UIDs of its `\Deleted` messages that are not service messages.
pub async fn expunge_subset(
    account: &dyn Account,
    id: MailboxId,
) -> Result<Option<Vec<Uid>>, StoreError> {
    let snap = account.messages(id).await?;
    if !snap.messages.may_have_keyword(SERVICE) {
        return Ok(None);
    }
    Ok(Some(
        snap.messages
            .iter()
            .filter(|m| m.flags.contains(mailroom_store::Flags::DELETED) && shown(m))
            .map(|m| m.uid)
            .collect(),
    ))
}

/// Whether `m` is shown in a view that hides service messages.
pub fn shown(m: &MessageRef<'_>) -> bool {
    !is_service(m.keywords)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailroom_store::{Flags, MessageMeta};

    fn meta(uid: u32, flags: Flags, kw: &[&str]) -> MessageMeta {
        MessageMeta {
            uid,
            flags,
            keywords: kw.iter().map(|s| s.to_string()).collect(),
            modseq: 1,
            internal_date: 0,
            internal_date_tz: 0,
            size: 10 * u64::from(uid),
        }
    }

    #[test]
    fn hides_and_corrects_counts() {
        let all = MessageList::from_metas([
            meta(1, Flags::SEEN, &[]),
            meta(2, Flags::EMPTY, &["$service"]),
            meta(3, Flags::EMPTY, &["$Media"]),
            meta(4, Flags::EMPTY, &["$Media", "$Service"]),
        ]);
        let mut view = all.clone();
        assert!(hide(&mut view));
        assert_eq!(view.uids().collect::<Vec<_>>(), vec![1, 3]);
        let mut st = MailboxStatus {
            messages: 4,
            unseen: 3,
            size: 100,
            recent: 2,
            ..MailboxStatus::default()
        };
        visible_status(&mut st, &all);
        assert_eq!((st.messages, st.unseen, st.size, st.recent), (2, 1, 40, 1));
        let mut plain = MessageList::from_metas([meta(1, Flags::SEEN, &["$Media"])]);
        let before = plain.clone();
        assert!(!hide(&mut plain));
        assert!(plain.shares(&before));
    }
}
