//! SEARCHRES (RFC 5182): `$`, the result saved by `SEARCH RETURN (SAVE)`, replaced by the
//! saved messages before a command runs. The result is kept as UIDs (`Session::saved`),
//! so expunged messages drop out of it by themselves (RFC 5182 2.1), and `$` means the
//! same messages in UID and sequence-number commands. It is emptied by SELECT, EXAMINE,
//! CLOSE, UNSELECT and UNAUTHENTICATE. What does not live here: saving (the SEARCH
//! command, [`super::search`]).

use super::Reply;
use crate::imap::session::Session;
use mailroom_proto::imap::command::SearchKey;
use mailroom_proto::imap::types::{SeqNumber, SeqRange};
use mailroom_proto::imap::{CommandBody, CommandKind, SequenceSet};
use std::num::NonZeroU32;

/// A set of the given numbers (ascending, non-zero), ranges merged; `None` when empty.
fn set_of(nums: &[u32]) -> Option<SequenceSet> {
    let mut ranges: Vec<SeqRange> = Vec::new();
    let mut i = 0;
    while i < nums.len() {
        let mut j = i;
        while j + 1 < nums.len() && nums[j + 1] == nums[j].wrapping_add(1) {
            j += 1;
        }
        if let (Some(a), Some(b)) = (NonZeroU32::new(nums[i]), NonZeroU32::new(nums[j])) {
            ranges.push(SeqRange {
                from: SeqNumber::Value(a),
                to: SeqNumber::Value(b),
            });
        }
        i = j + 1;
    }
    SequenceSet::new(ranges)
}

/// The saved result as a set of UIDs (`uid`) or of the sequence numbers they have in the
/// selected view; `None` when it holds no message.
fn saved_set(s: &Session, uid: bool) -> Option<SequenceSet> {
    if uid {
        return set_of(&s.saved);
    }
    let sel = s.selected.as_ref()?;
    let mut seqs: Vec<u32> = s
        .saved
        .iter()
        .filter_map(|&u| sel.index_of(u))
        .map(|i| i as u32 + 1)
        .collect();
    seqs.sort_unstable();
    set_of(&seqs)
}

/// `$` in search criteria: the saved UIDs (`NOT ALL` when there are none).
fn resolve_key(key: &mut SearchKey, saved: &Option<SequenceSet>) {
    match key {
        SearchKey::SequenceSet(set) | SearchKey::Uid(set) if set.is_saved() => {
            *key = match saved {
                Some(u) => SearchKey::Uid(u.clone()),
                None => SearchKey::Not(Box::new(SearchKey::All)),
            };
        }
        SearchKey::Not(k) => resolve_key(k, saved),
        SearchKey::Or(a, b) => {
            resolve_key(a, saved);
            resolve_key(b, saved);
        }
        SearchKey::And(ks) => ks.iter_mut().for_each(|k| resolve_key(k, saved)),
        _ => {}
    }
}

/// The command with `$` replaced by the saved result. `Err` with the answer when `$`
/// holds no message the command can act on: it then does nothing and succeeds (RFC 5182
/// 2.1: `$` is a valid but non-matching set, "FETCH $" answers OK and no FETCH).
pub(crate) fn resolve(
    s: &mut Session,
    kind: CommandKind,
    mut body: CommandBody,
) -> Result<CommandBody, Reply> {
    use CommandBody as B;
    if matches!(
        kind,
        CommandKind::Select
            | CommandKind::Examine
            | CommandKind::Close
            | CommandKind::Unselect
            | CommandKind::Unauthenticate
    ) {
        s.saved.clear();
    }
    let empty = || Reply::ok(&format!("{} completed, no messages", kind.name()));
    match &mut body {
        B::Fetch { uid, set, .. }
        | B::Store { uid, set, .. }
        | B::Copy { uid, set, .. }
        | B::Move { uid, set, .. }
            if set.is_saved() =>
        {
            *set = saved_set(s, *uid).ok_or_else(empty)?;
        }
        B::Expunge { uids: Some(set) } if set.is_saved() => {
            *set = saved_set(s, true).ok_or_else(empty)?;
        }
        B::Search(q) => resolve_key(&mut q.criteria, &saved_set(s, true)),
        B::Sort(q) => resolve_key(&mut q.search, &saved_set(s, true)),
        B::Thread(q) => resolve_key(&mut q.search, &saved_set(s, true)),
        _ => {}
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::set_of;

    #[test]
    fn sets_merge_runs() {
        let s = |n: &[u32]| set_of(n).map(|s| s.to_string());
        assert_eq!(s(&[1, 2, 3, 7, 9, 10]).as_deref(), Some("1:3,7,9:10"));
        assert_eq!(s(&[4]).as_deref(), Some("4"));
        assert!(set_of(&[]).is_none());
    }
}
