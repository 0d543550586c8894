//! SORT and UID SORT (RFC 5256 section 3), with the RETURN options of ESORT (RFC 5267
//! section 3.2) and the DISPLAYFROM/DISPLAYTO keys of SORT=DISPLAY (RFC 5957); keys and
//! order in [`crate::imap::sort`], the search criteria by [`crate::imap::search`].

use super::Reply;
use crate::imap::search::search;
use crate::imap::session::Session;
use crate::imap::sort::{compare, needs_structure, value, Value};
use mailroom_proto::imap::command::Sort;
use mailroom_proto::imap::Tag;
use mailroom_store::StoreError;

pub(crate) async fn run(s: &mut Session, tag: &Tag, q: Sort) -> Reply {
    let Some(sel) = s.selected.as_ref() else {
        return Reply::bad("no mailbox selected");
    };
    let msgs = super::search::view_refs(sel);
    // RFC 5256 section 3: the charset is required; US-ASCII and UTF-8 are supported.
    let hits = match search(&sel.account, sel.id, &msgs, &q.search, Some(&q.charset)).await {
        Ok(h) => h,
        Err(e) => return super::search::search_failed(e),
    };
    let structure = needs_structure(&q.criteria);
    let mut rows: Vec<(Vec<Value>, u32, u32)> = Vec::with_capacity(hits.len());
    for i in hits {
        let Some(m) = msgs.get(i) else { continue };
        let st = if structure {
            match sel.account.structure(sel.id, m.meta.uid).await {
                Ok(st) => Some(st),
                // Expunged by another session meanwhile: sorted with empty keys.
                Err(StoreError::NotFound(_)) => None,
                Err(e) => return super::store_error(e),
            }
        } else {
            None
        };
        let values = q
            .criteria
            .iter()
            .map(|c| value(c.key, m.meta, st.as_deref()))
            .collect();
        rows.push((values, m.seq, m.meta.uid));
    }
    rows.sort_by(|a, b| compare(&q.criteria, (&a.0, a.1), (&b.0, b.1)));
    let nums: Vec<u32> = rows.iter().map(|r| if q.uid { r.2 } else { r.1 }).collect();
    // RFC 7162 3.1.5 (SORT too): the highest modseq of the messages found, when MODSEQ
    // was a key and something was found.
    let modseq = super::search::uses_modseq(&q.search)
        .then(|| {
            rows.iter()
                .filter_map(|r| msgs.get(r.1 as usize - 1))
                .map(|m| m.meta.modseq)
                .max()
        })
        .flatten();
    drop(msgs);
    let mut line = String::new();
    match q.ret {
        None => {
            line.push_str("* SORT");
            for n in &nums {
                line.push(' ');
                line.push_str(&n.to_string());
            }
            if let Some(m) = modseq {
                line.push_str(&format!(" (MODSEQ {m})"));
            }
        }
        Some(r) => {
            // RFC 5267 section 3.2: MIN and MAX are the first and last in sort order,
            // ALL keeps the sort order.
            line.push_str(&format!("* ESEARCH (TAG \"{tag}\")"));
            if q.uid {
                line.push_str(" UID");
            }
            let all = r.all || !(r.min || r.max || r.count);
            if r.min {
                if let Some(m) = nums.first() {
                    line.push_str(&format!(" MIN {m}"));
                }
            }
            if r.max {
                if let Some(m) = nums.last() {
                    line.push_str(&format!(" MAX {m}"));
                }
            }
            if r.count {
                line.push_str(&format!(" COUNT {}", nums.len()));
            }
            if all && !nums.is_empty() {
                line.push_str(&format!(" ALL {}", ordered_set(&nums)));
            }
            if let Some(m) = modseq {
                line.push_str(&format!(" MODSEQ {m}"));
            }
        }
    }
    line.push_str("\r\n");
    s.out.extend_from_slice(line.as_bytes());
    Reply::ok("SORT completed")
}

/// A sequence-set that lists `nums` in their order: runs of consecutive ascending
/// numbers become `a:b` (RFC 5267 section 3.2: ALL keeps the sort order).
fn ordered_set(nums: &[u32]) -> String {
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
