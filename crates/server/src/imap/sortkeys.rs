//! The sort and thread keys of a message (RFC 5256 sections 3 and 4, RFC 5957): computed
//! once from its parsed structure ([`compute`]) and cached in the store
//! (`Account::sort_keys`, the index's `sort_keys` table), so SORT and THREAD read a
//! mailbox's keys with one index query and never parse a message again ([`load`]).
//!
//! Text keys are kept in comparison form: the comparator
//! ([`crate::imap::sort::comparable`]) is applied when they are computed, so comparing two
//! keys is comparing octets. When that form changes, [`VERSION`] changes with it and the
//! cached keys of the old form are ignored (and computed again on first use).

use crate::imap::fetch::{header_field_values, MsgRef};
use crate::imap::search::text::decode_rfc2047;
use crate::imap::sort::{base_subject_reply, collapse, comparable};
use crate::imap::thread::message_ids;
use mailroom_store::mime::Address;
use mailroom_store::{Account, MailboxId, MessageStructure, SortKeys, StoreError};

/// The version of the keys' form this server writes and reads (see the module doc).
/// 1: `i;ascii-casemap` text keys; 2: `i;unicode-casemap` (I18NLEVEL=1).
pub const VERSION: u32 = 2;

/// The first real address of a list (group markers skipped).
fn first(list: &[Address]) -> Option<&Address> {
    list.iter().find(|a| a.host.is_some())
}

/// RFC 5256 section 3: the `addr-mailbox` (local part) of the first address.
fn mailbox_of(list: &[Address]) -> Vec<u8> {
    let m = first(list).and_then(|a| a.mailbox.as_deref()).unwrap_or("");
    comparable(m.as_bytes())
}

/// RFC 5957 section 3: the display name of the first address when it has a non-empty
/// one (decoded), else its `addr-spec`; empty when there is no address.
fn display_of(list: &[Address]) -> Vec<u8> {
    let Some(a) = first(list) else {
        return Vec::new();
    };
    if let Some(name) = a.name.as_deref().map(|n| decode_rfc2047(n.as_bytes())) {
        let name = collapse(&name);
        if !name.is_empty() {
            return comparable(&name);
        }
    }
    let spec = format!(
        "{}@{}",
        a.mailbox.as_deref().unwrap_or(""),
        a.host.as_deref().unwrap_or("")
    );
    comparable(spec.as_bytes())
}

/// The keys of a message from its parsed structure.
pub fn compute(s: &MessageStructure) -> SortKeys {
    let env = &s.envelope;
    let (subject, reply) = base_subject_reply(env.subject.as_deref().unwrap_or("").as_bytes());
    // RFC 5256 section 4 step 1: References, or else the first id of In-Reply-To.
    let mut references: Vec<String> = header_field_values(&s.header, "References")
        .iter()
        .flat_map(|v| message_ids(&String::from_utf8_lossy(v)))
        .collect();
    if references.is_empty() {
        if let Some(first) = env
            .in_reply_to
            .as_deref()
            .and_then(|v| message_ids(v).into_iter().next())
        {
            references.push(first);
        }
    }
    SortKeys {
        subject: comparable(&subject),
        reply,
        from: mailbox_of(&env.from),
        to: mailbox_of(&env.to),
        cc: mailbox_of(&env.cc),
        display_from: display_of(&env.from),
        display_to: display_of(&env.to),
        sent_date: s.sent_date,
        message_id: env
            .message_id
            .as_deref()
            .and_then(|v| message_ids(v).into_iter().next()),
        references,
    }
}

/// The keys of `msgs[i]` for every `i` in `hits`, in that order: from the store's cache,
/// the missing ones computed from the structure and cached for the next time. A message
/// expunged meanwhile gets empty keys (it is still in the session's view).
pub(crate) async fn load(
    account: &dyn Account,
    mailbox: MailboxId,
    msgs: &[MsgRef<'_>],
    hits: &[usize],
) -> Result<Vec<SortKeys>, StoreError> {
    let mut cached = account.sort_keys(mailbox, VERSION).await?;
    let mut out = Vec::with_capacity(hits.len());
    let mut fresh = Vec::new();
    for &i in hits {
        let Some(m) = msgs.get(i) else {
            out.push(SortKeys::default());
            continue;
        };
        let uid = m.meta.uid;
        if let Some(k) = cached.remove(&uid) {
            out.push(k);
            continue;
        }
        match account.structure(mailbox, uid).await {
            Ok(st) => {
                let k = compute(&st);
                fresh.push((uid, k.clone()));
                out.push(k);
            }
            Err(StoreError::NotFound(_)) => out.push(SortKeys::default()),
            Err(e) => return Err(e),
        }
    }
    if !fresh.is_empty() {
        // A cache: failing to write it costs the next SORT time, not this answer.
        if let Err(e) = account.set_sort_keys(mailbox, VERSION, fresh).await {
            tracing::warn!("caching sort keys: {e}");
        }
    }
    Ok(out)
}
