//! Update contexts of CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 section 4.3): a SEARCH,
//! UID SEARCH, SORT or UID SORT with the `UPDATE` return option keeps its criteria and
//! its result (in the requested order) in the session, and as the selected mailbox
//! changes the session tells the client how the result changed with
//! `* ESEARCH (TAG "t") [UID] REMOVEFROM (...) ADDTO (...)`.
//!
//! - A message that leaves the result because it is expunged is reported before its
//!   `EXPUNGE` (while its sequence number is valid, 4.3.4): [`Contexts::expunging`].
//! - After the view has taken in the other changes (new messages after their `EXISTS`,
//!   4.3.3; flag changes after their `FETCH`), each context's search runs again on the
//!   view and the difference is reported: [`Contexts::refresh`]. Results of SEARCH are
//!   in mailbox order and use context position 0; results of SORT keep the sort order
//!   and name positions (removals first, then insertions, so that applying them in
//!   order gives the new result).
//! - Sequence numbers in the criteria are evaluated when the command is received (4.3),
//!   so they are turned into the UIDs they named then ([`pin_sequence_numbers`]).
//! - Contexts end with CANCELUPDATE (4.3.5) or when the mailbox is no longer selected
//!   (any SELECT, EXAMINE, CLOSE, UNSELECT). At most [`MAX_CONTEXTS`] live at once; past
//!   that the command is answered without updates and `* NO [NOUPDATE "tag"]` (4.3.1).

use crate::imap::cmd::search::{ordered_set, view_refs};
use crate::imap::search::search;
use crate::imap::session::Session;
use crate::imap::sort::{compare, Row};
use crate::imap::sortkeys::load;
use crate::imap::view::Selected;
use mailroom_proto::imap::command::{SearchKey, SortCriterion};
use mailroom_proto::imap::encode::compress_set;
use mailroom_proto::imap::types::{SeqNumber, SeqRange, SequenceSet};
use mailroom_proto::imap::Tag;
use mailroom_store::{MailboxId, Uid};
use std::collections::HashSet;
use std::num::NonZeroU32;

/// Update contexts one session may hold (RFC 5267 4.3.1: at least one).
pub const MAX_CONTEXTS: usize = 8;

/// One searching command's update context.
#[derive(Debug)]
pub(crate) struct Context {
    /// The tag of the command (the search correlator of its ESEARCH responses).
    pub tag: String,
    /// UID SEARCH / UID SORT: results are UIDs, else sequence numbers.
    pub uid: bool,
    pub mailbox: MailboxId,
    /// The criteria, sequence numbers pinned to UIDs.
    pub criteria: SearchKey,
    pub charset: Option<String>,
    /// SORT's criteria; `None` for SEARCH (mailbox order).
    pub sort: Option<Vec<SortCriterion>>,
    /// The result as the client knows it, as UIDs in the requested order.
    pub results: Vec<Uid>,
}

/// The session's update contexts.
#[derive(Debug, Default)]
pub(crate) struct Contexts(Vec<Context>);

/// Why a new context was not made.
pub(crate) enum Refused {
    /// The tag names a live context already (RFC 5267 4.3: BAD).
    TagInUse,
    /// [`MAX_CONTEXTS`] are live (RFC 5267 4.3.1: NOUPDATE).
    TooMany,
}

impl Contexts {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a live context has this tag.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.0.iter().any(|c| c.tag == tag)
    }

    /// Whether another context may be made for `tag`.
    pub fn check(&self, tag: &str) -> Result<(), Refused> {
        if self.has_tag(tag) {
            Err(Refused::TagInUse)
        } else if self.0.len() >= MAX_CONTEXTS {
            Err(Refused::TooMany)
        } else {
            Ok(())
        }
    }

    pub fn add(&mut self, c: Context) {
        self.0.push(c);
    }

    /// Ends the contexts of these tags; false when one of them names none.
    pub fn cancel(&mut self, tags: &[String]) -> bool {
        if !tags.iter().all(|t| self.has_tag(t)) {
            return false;
        }
        self.0.retain(|c| !tags.contains(&c.tag));
        true
    }

    /// Ends every context (the mailbox is no longer selected).
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Messages of the view about to be announced as expunged (`gone`, ascending): each
    /// context's REMOVEFROM for those in its result, written while the view still numbers
    /// them (RFC 5267 4.3.4).
    pub fn expunging(&mut self, sel: &Selected, gone: &[Uid], out: &mut Vec<u8>) {
        self.0.retain(|c| c.mailbox == sel.id);
        for c in &mut self.0 {
            let new: Vec<Uid> = c
                .results
                .iter()
                .copied()
                .filter(|u| gone.binary_search(u).is_err())
                .collect();
            if new.len() != c.results.len() {
                let line = diff_line(c, sel, &new);
                out.extend_from_slice(line.as_bytes());
                c.results = new;
            }
        }
    }

    /// Runs every context's search again on the view (which has taken in the mailbox's
    /// changes) and writes what changed.
    pub async fn refresh(&mut self, sel: &Selected, out: &mut Vec<u8>) {
        self.0.retain(|c| c.mailbox == sel.id);
        for c in &mut self.0 {
            match current(c, sel).await {
                Some(new) => {
                    if new != c.results {
                        let line = diff_line(c, sel, &new);
                        out.extend_from_slice(line.as_bytes());
                        c.results = new;
                    }
                }
                None => tracing::warn!(tag = %c.tag, "update context: search failed"),
            }
        }
    }
}

/// The context's result on the view now, as UIDs in the requested order (messages whose
/// expunge is not announced yet left out: they are no longer in the mailbox).
async fn current(c: &Context, sel: &Selected) -> Option<Vec<Uid>> {
    let msgs = view_refs(sel);
    let hits = search(
        &sel.account,
        sel.id,
        &msgs,
        &c.criteria,
        c.charset.as_deref(),
    )
    .await
    .ok()?;
    let hits: Vec<usize> = hits
        .into_iter()
        .filter(|&i| {
            msgs.get(i)
                .is_some_and(|m| sel.gone.binary_search(&m.meta.uid).is_err())
        })
        .collect();
    let Some(criteria) = &c.sort else {
        return Some(
            hits.iter()
                .filter_map(|&i| msgs.get(i))
                .map(|m| m.meta.uid)
                .collect(),
        );
    };
    let keys = load(sel.account.as_ref(), sel.id, &msgs, &hits)
        .await
        .ok()?;
    let mut rows: Vec<Row<'_>> = hits
        .iter()
        .zip(&keys)
        .filter_map(|(&i, k)| {
            msgs.get(i).map(|m| Row {
                seq: m.seq,
                meta: m.meta,
                keys: k,
            })
        })
        .collect();
    rows.sort_by(|a, b| compare(criteria, a, b));
    Some(rows.iter().map(|r| r.meta.uid).collect())
}

/// The number the client knows a message by (0 when the view lost it: never sent, as
/// every message of a result is in the view).
fn number(c: &Context, sel: &Selected, uid: Uid) -> u32 {
    if c.uid {
        uid
    } else {
        sel.index_of(uid).map_or(0, |i| i as u32 + 1)
    }
}

/// `* ESEARCH (TAG "t") [UID] [REMOVEFROM (...)] [ADDTO (...)]` taking the client's
/// result (`c.results`) to `new`.
fn diff_line(c: &Context, sel: &Selected, new: &[Uid]) -> String {
    let old_set: HashSet<Uid> = c.results.iter().copied().collect();
    let new_set: HashSet<Uid> = new.iter().copied().collect();
    let num = |u: Uid| number(c, sel, u);
    let mut removes: Vec<(usize, Vec<u32>)> = Vec::new();
    let mut adds: Vec<(usize, Vec<u32>)> = Vec::new();
    if c.sort.is_none() {
        // SEARCH: position 0, sets in mailbox order (RFC 5267 4.3.3, 4.3.4).
        let mut r: Vec<u32> = c
            .results
            .iter()
            .filter(|u| !new_set.contains(u))
            .map(|&u| num(u))
            .collect();
        let mut a: Vec<u32> = new
            .iter()
            .filter(|u| !old_set.contains(u))
            .map(|&u| num(u))
            .collect();
        r.sort_unstable();
        a.sort_unstable();
        if !r.is_empty() {
            removes.push((0, r));
        }
        if !a.is_empty() {
            adds.push((0, a));
        }
    } else {
        // SORT: removals at their positions in the client's list as it shrinks (a run
        // of neighbours shares one position), then insertions at their positions in
        // the new list (a run of neighbours shares one pair).
        let mut pos = 0;
        let mut prev_removed = false;
        for &u in &c.results {
            if new_set.contains(&u) {
                pos += 1;
                prev_removed = false;
                continue;
            }
            match removes.last_mut() {
                Some((_, run)) if prev_removed => run.push(num(u)),
                _ => removes.push((pos + 1, vec![num(u)])),
            }
            prev_removed = true;
        }
        let mut last_added: Option<usize> = None;
        for (j, &u) in new.iter().enumerate() {
            if old_set.contains(&u) {
                continue;
            }
            match adds.last_mut() {
                Some((_, run)) if last_added == Some(j.wrapping_sub(1)) => run.push(num(u)),
                _ => adds.push((j + 1, vec![num(u)])),
            }
            last_added = Some(j);
        }
    }
    let mut line = format!("* ESEARCH (TAG \"{}\")", c.tag);
    if c.uid {
        line.push_str(" UID");
    }
    let set = |nums: &[u32]| {
        if c.sort.is_some() {
            ordered_set(nums)
        } else {
            compress_set(nums)
        }
    };
    for (name, pairs) in [("REMOVEFROM", &removes), ("ADDTO", &adds)] {
        if pairs.is_empty() {
            continue;
        }
        let body: Vec<String> = pairs
            .iter()
            .map(|(p, nums)| format!("{p} {}", set(nums)))
            .collect();
        line.push_str(&format!(" {name} ({})", body.join(" ")));
    }
    line.push_str("\r\n");
    line
}

/// The criteria with every message-sequence-number set replaced by the UIDs it names in
/// the view now (RFC 5267 4.3: evaluated when the command is received).
pub(crate) fn pin_sequence_numbers(key: &SearchKey, sel: &Selected) -> SearchKey {
    match key {
        SearchKey::SequenceSet(set) => {
            let max = sel.msgs.len() as u32;
            let uids: Vec<Uid> = (1..=max)
                .filter(|&n| set.contains(n, max))
                .map(|n| sel.uid_at(n as usize - 1))
                .collect();
            uid_key(&uids)
        }
        SearchKey::Not(k) => SearchKey::Not(Box::new(pin_sequence_numbers(k, sel))),
        SearchKey::Or(a, b) => SearchKey::Or(
            Box::new(pin_sequence_numbers(a, sel)),
            Box::new(pin_sequence_numbers(b, sel)),
        ),
        SearchKey::And(ks) => {
            SearchKey::And(ks.iter().map(|k| pin_sequence_numbers(k, sel)).collect())
        }
        other => other.clone(),
    }
}

/// `UID set` of exactly these UIDs (ascending); none: a key nothing matches.
fn uid_key(uids: &[Uid]) -> SearchKey {
    let mut ranges = Vec::new();
    let mut i = 0;
    while i < uids.len() {
        let mut j = i;
        while j + 1 < uids.len() && uids[j + 1] == uids[j] + 1 {
            j += 1;
        }
        if let (Some(a), Some(b)) = (NonZeroU32::new(uids[i]), NonZeroU32::new(uids[j])) {
            ranges.push(SeqRange {
                from: SeqNumber::Value(a),
                to: SeqNumber::Value(b),
            });
        }
        i = j + 1;
    }
    match SequenceSet::new(ranges) {
        Some(set) => SearchKey::Uid(set),
        None => SearchKey::Not(Box::new(SearchKey::All)),
    }
}

/// Makes the update context of a searching command that just answered (`results`: its
/// result as UIDs in the requested order); false, and nothing made, when the session
/// holds [`MAX_CONTEXTS`] already (the caller then sends [`refused`]).
pub(crate) fn start(
    s: &mut Session,
    tag: &Tag,
    uid: bool,
    criteria: &SearchKey,
    charset: Option<String>,
    sort: Option<Vec<SortCriterion>>,
    results: Vec<Uid>,
) -> bool {
    let Some(sel) = s.selected.as_ref() else {
        return false;
    };
    let tag = tag.to_string();
    if let Err(Refused::TooMany | Refused::TagInUse) = s.contexts.check(&tag) {
        return false;
    }
    let c = Context {
        tag,
        uid,
        mailbox: sel.id,
        criteria: pin_sequence_numbers(criteria, sel),
        charset,
        sort,
        results,
    };
    s.contexts.add(c);
    true
}

/// `* NO [NOUPDATE "tag"]` (RFC 5267 4.3.1): the command was answered, without updates.
pub(crate) fn refused(s: &mut Session, tag: &Tag) {
    s.out.extend_from_slice(
        format!("* NO [NOUPDATE \"{tag}\"] too many update contexts\r\n").as_bytes(),
    );
}
