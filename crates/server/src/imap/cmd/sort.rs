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
    let line = super::search::answer_line("SORT", tag, q.uid, q.ret, &nums, true, modseq);
    s.out.extend_from_slice(line.as_bytes());
    Reply::ok("SORT completed")
}
