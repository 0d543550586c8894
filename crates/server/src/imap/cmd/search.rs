//! SEARCH and UID SEARCH (RFC 3501 6.4.4, RFC 4731 ESEARCH answers when `RETURN` is
//! given, and always after `ENABLE IMAP4rev2`, RFC 9051 6.4.4); keys are evaluated by [`crate::imap::search`]. A search with the MODSEQ key
//! (RFC 7162 3.1.5) ends its answer with the highest modseq of the messages found.

use super::Reply;
use crate::imap::fetch::MsgRef;
use crate::imap::search::{search, SearchError};
use crate::imap::session::Session;
use crate::imap::view::Selected;
use mailroom_proto::imap::command::{Search, SearchKey, SearchReturn};
use mailroom_proto::imap::encode::{compress_set, ResponseCode};
use mailroom_proto::imap::Tag;

/// Whether the criteria hold the MODSEQ key (RFC 7162 3.1.5: a CONDSTORE enabling
/// command, and the answer carries `(MODSEQ n)`).
pub(crate) fn uses_modseq(key: &SearchKey) -> bool {
    match key {
        SearchKey::ModSeq(_) => true,
        SearchKey::Not(k) => uses_modseq(k),
        SearchKey::Or(a, b) => uses_modseq(a) || uses_modseq(b),
        SearchKey::And(ks) => ks.iter().any(uses_modseq),
        _ => false,
    }
}

/// The selected view as SEARCH, SORT and THREAD see it.
pub(crate) fn view_refs(sel: &Selected) -> Vec<MsgRef<'_>> {
    sel.msgs
        .iter()
        .enumerate()
        .map(|(i, m)| MsgRef {
            seq: i as u32 + 1,
            meta: m,
            recent: sel.is_recent(m.uid),
        })
        .collect()
}

/// The untagged answer of SEARCH or SORT (`name`) listing `nums`: `* SEARCH n...` (or
/// `* SORT`), or with RETURN options `* ESEARCH (TAG ...) [UID] MIN MAX COUNT ALL`
/// (RFC 4731; RFC 5267 3.2 for SORT, where `in_order`: MIN and MAX are the first and last
/// in sort order and ALL keeps the order); `modseq` adds RFC 7162 3.1.5's MODSEQ.
pub(crate) fn answer_line(
    name: &str,
    tag: &Tag,
    uid: bool,
    ret: Option<SearchReturn>,
    nums: &[u32],
    in_order: bool,
    modseq: Option<u64>,
) -> String {
    let mut line = String::new();
    match ret {
        None => {
            line.push_str("* ");
            line.push_str(name);
            for n in nums {
                line.push(' ');
                line.push_str(&n.to_string());
            }
            if let Some(m) = modseq {
                line.push_str(&format!(" (MODSEQ {m})"));
            }
        }
        Some(r) => {
            line.push_str(&format!("* ESEARCH (TAG \"{tag}\")"));
            if uid {
                line.push_str(" UID");
            }
            let all = r.all || !(r.min || r.max || r.count || r.partial.is_some());
            let (min, max) = if in_order {
                (nums.first().copied(), nums.last().copied())
            } else {
                (nums.iter().min().copied(), nums.iter().max().copied())
            };
            if let Some(m) = min.filter(|_| r.min) {
                line.push_str(&format!(" MIN {m}"));
            }
            if let Some(m) = max.filter(|_| r.max) {
                line.push_str(&format!(" MAX {m}"));
            }
            if r.count {
                line.push_str(&format!(" COUNT {}", nums.len()));
            }
            // RFC 9394 3.1: the requested range and the results in it, in mailbox order;
            // for SORT (RFC 5267 4.4) positions in the sort order, the results in it.
            if let Some(p) = r.partial {
                let mut ordered = nums.to_vec();
                if !in_order {
                    ordered.sort_unstable();
                }
                match ordered.get(p.indices(ordered.len())) {
                    Some(sel) if !sel.is_empty() => {
                        let set = if in_order {
                            ordered_set(sel)
                        } else {
                            compress_set(sel)
                        };
                        line.push_str(&format!(" PARTIAL ({p} {set})"));
                    }
                    _ => line.push_str(&format!(" PARTIAL ({p} NIL)")),
                }
            }
            if all && !nums.is_empty() {
                let set = if in_order {
                    ordered_set(nums)
                } else {
                    compress_set(nums)
                };
                line.push_str(&format!(" ALL {set}"));
            }
            // RFC 7162 3.1.5 with RFC 4731: `MODSEQ n` as a return data item.
            if let Some(m) = modseq {
                line.push_str(&format!(" MODSEQ {m}"));
            }
        }
    }
    line.push_str("\r\n");
    line
}

/// A sequence-set that lists `nums` in their order: runs of consecutive ascending
/// numbers become `a:b` (RFC 5267 section 3.2: ALL keeps the sort order).
pub(crate) fn ordered_set(nums: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < nums.len() {
        let start = nums[i];
        let mut j = i;
        while j + 1 < nums.len() && nums[j + 1] == nums[j].wrapping_add(1) {
            j += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if j > i {
            out.push_str(&format!("{start}:{}", nums[j]));
        } else {
            out.push_str(&start.to_string());
        }
        i = j + 1;
    }
    out
}

/// The answer to a search that failed: an unsupported charset (RFC 3501 6.4.4
/// `[BADCHARSET]`) or a store failure.
pub(crate) fn search_failed(e: SearchError) -> Reply {
    match e {
        SearchError::BadCharset => Reply::no(
            Some(ResponseCode::BadCharset(vec![
                "US-ASCII".into(),
                "UTF-8".into(),
            ])),
            "unsupported charset",
        ),
        SearchError::Store(e) => super::store_error(e),
    }
}

pub(crate) async fn run(s: &mut Session, tag: &Tag, mut q: Search) -> Reply {
    // RFC 9051 6.4.4 (Appendix E item 4): an IMAP4rev2 SEARCH answers with ESEARCH;
    // "If no result option is specified ..., ALL is assumed".
    if s.imap4rev2 && q.ret.is_none() {
        q.ret = Some(SearchReturn::default());
    }
    let Some(sel) = s.selected.as_ref() else {
        return Reply::bad("no mailbox selected");
    };
    let update = q.ret.is_some_and(|r| r.update);
    // RFC 5267 4.3: a tag in use by an updating command is refused, with no effect.
    if update && s.contexts.has_tag(&tag.to_string()) {
        return Reply::bad("tag already names an update context");
    }
    let msgs = view_refs(sel);
    let save = q.ret.is_some_and(|r| r.save);
    let hits = match search(
        &sel.account,
        sel.id,
        &msgs,
        &q.criteria,
        q.charset.as_deref(),
    )
    .await
    {
        Ok(h) => h,
        Err(e) => {
            // RFC 5182 2.1: a SEARCH (SAVE) answered NO empties `$`.
            if save {
                s.saved.clear();
            }
            return search_failed(e);
        }
    };
    let nums: Vec<u32> = hits
        .iter()
        .filter_map(|&i| msgs.get(i))
        .map(|m| if q.uid { m.meta.uid } else { m.seq })
        .collect();
    // RFC 7162 3.1.5: the highest modseq of the messages found, when MODSEQ was a key
    // and something was found.
    let modseq = uses_modseq(&q.criteria)
        .then(|| {
            hits.iter()
                .filter_map(|&i| msgs.get(i))
                .map(|m| m.meta.modseq)
                .max()
        })
        .flatten();
    let saved = save.then(|| {
        let mut uids: Vec<u32> = hits
            .iter()
            .filter_map(|&i| msgs.get(i))
            .map(|m| m.meta.uid)
            .collect();
        uids.sort_unstable();
        uids
    });
    let results: Vec<u32> = if update {
        hits.iter()
            .filter_map(|&i| msgs.get(i))
            .map(|m| m.meta.uid)
            .collect()
    } else {
        Vec::new()
    };
    drop(msgs);
    let made = update
        && crate::imap::context::start(
            s,
            tag,
            q.uid,
            &q.criteria,
            q.charset.clone(),
            None,
            results,
        );
    let Some(mut uids) = saved else {
        let line = answer_line("SEARCH", tag, q.uid, q.ret, &nums, false, modseq);
        s.out.extend_from_slice(line.as_bytes());
        if update && !made {
            crate::imap::context::refused(s, tag);
        }
        return Reply::ok("SEARCH completed");
    };
    let r = q.ret.unwrap_or_default();
    // RFC 5182 2.4 and RFC 9394 3.2: with MIN, MAX and/or PARTIAL and neither ALL nor
    // COUNT, `$` holds only the messages they return (MIN and MAX are the lowest and
    // highest: UIDs and sequence numbers are in the same order).
    if (r.min || r.max || r.partial.is_some()) && !(r.all || r.count) && !uids.is_empty() {
        let (lo, hi) = (uids[0], uids[uids.len() - 1]);
        let mut keep: Vec<u32> = r
            .partial
            .and_then(|p| uids.get(p.indices(uids.len())))
            .map(<[u32]>::to_vec)
            .unwrap_or_default();
        if r.min {
            keep.push(lo);
        }
        if r.max {
            keep.push(hi);
        }
        keep.sort_unstable();
        keep.dedup();
        uids = keep;
    }
    s.saved = uids;
    // SAVE alone asks for no ESEARCH response (RFC 5182 2.2, example 1).
    if r.min || r.max || r.all || r.count || r.partial.is_some() || r.update {
        let line = answer_line("SEARCH", tag, q.uid, q.ret, &nums, false, modseq);
        s.out.extend_from_slice(line.as_bytes());
    }
    if update && !made {
        crate::imap::context::refused(s, tag);
    }
    Reply::ok("SEARCH completed")
}

#[cfg(test)]
mod tests {
    use super::ordered_set;

    #[test]
    fn ordered_sets_keep_the_order() {
        assert_eq!(ordered_set(&[5, 1, 2, 3, 9, 8]), "5,1:3,9,8");
        assert_eq!(ordered_set(&[4]), "4");
        assert_eq!(ordered_set(&[]), "");
    }
}
