//! SORT and UID SORT (RFC 5256 section 3), with the RETURN options of ESORT (RFC 5267
//! section 3.2) and the DISPLAYFROM/DISPLAYTO keys of SORT=DISPLAY (RFC 5957); keys and
//! order in [`crate::imap::sort`], the search criteria by [`crate::imap::search`].

use super::Reply;
use crate::imap::search::search;
use crate::imap::session::Session;
use crate::imap::sort::{compare, Row};
use crate::imap::sortkeys::load;
use mailroom_proto::imap::command::Sort;
use mailroom_proto::imap::Tag;

pub(crate) async fn run(s: &mut Session, tag: &Tag, q: Sort) -> Reply {
    let Some(sel) = s.selected.as_ref() else {
        return Reply::bad("no mailbox selected");
    };
    let update = q.ret.is_some_and(|r| r.update);
    // RFC 5267 4.3: a tag in use by an updating command is refused, with no effect.
    if update && s.contexts.has_tag(&tag.to_string()) {
        return Reply::bad("tag already names an update context");
    }
    let msgs = super::search::view_refs(sel);
    // RFC 5256 section 3: the charset is required; US-ASCII and UTF-8 are supported.
    let hits = match search(&sel.account, sel.id, &msgs, &q.search, Some(&q.charset)).await {
        Ok(h) => h,
        Err(e) => return super::search::search_failed(e),
    };
    let keys = match load(sel.account.as_ref(), sel.id, &msgs, &hits).await {
        Ok(k) => k,
        Err(e) => return super::store_error(e),
    };
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
    rows.sort_by(|a, b| compare(&q.criteria, a, b));
    let nums: Vec<u32> = rows
        .iter()
        .map(|r| if q.uid { r.meta.uid } else { r.seq })
        .collect();
    // RFC 7162 3.1.5 (SORT too): the highest modseq of the messages found, when MODSEQ
    // was a key and something was found.
    let modseq = super::search::uses_modseq(&q.search)
        .then(|| rows.iter().map(|r| r.meta.modseq).max())
        .flatten();
    let results: Vec<u32> = rows.iter().map(|r| r.meta.uid).collect();
    drop(rows);
    drop(msgs);
    let line = super::search::answer_line("SORT", tag, q.uid, q.ret, &nums, true, modseq);
    s.out.extend_from_slice(line.as_bytes());
    if update
        && !crate::imap::context::start(
            s,
            tag,
            q.uid,
            &q.search,
            Some(q.charset.clone()),
            Some(q.criteria.clone()),
            results,
        )
    {
        crate::imap::context::refused(s, tag);
    }
    Reply::ok("SORT completed")
}
