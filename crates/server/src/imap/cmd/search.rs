//! SEARCH and UID SEARCH (RFC 3501 6.4.4, RFC 4731 ESEARCH answers when `RETURN` is
//! given); keys are evaluated by [`crate::imap::search`]. A search with the MODSEQ key
//! (RFC 7162 3.1.5) ends its answer with the highest modseq of the messages found.

use super::Reply;
use crate::imap::fetch::MsgRef;
use crate::imap::search::{search, SearchError};
use crate::imap::session::Session;
use crate::imap::view::Selected;
use mailroom_proto::imap::command::{Search, SearchKey};
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

pub(crate) async fn run(s: &mut Session, tag: &Tag, q: Search) -> Reply {
    let Some(sel) = s.selected.as_ref() else {
        return Reply::bad("no mailbox selected");
    };
    let msgs = view_refs(sel);
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
        Err(e) => return search_failed(e),
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
    drop(msgs);
    let mut line = String::new();
    match q.ret {
        None => {
            line.push_str("* SEARCH");
            for n in &nums {
                line.push(' ');
                line.push_str(&n.to_string());
            }
            if let Some(m) = modseq {
                line.push_str(&format!(" (MODSEQ {m})"));
            }
        }
        Some(r) => {
            line.push_str(&format!("* ESEARCH (TAG \"{tag}\")"));
            if q.uid {
                line.push_str(" UID");
            }
            let all = r.all || !(r.min || r.max || r.count);
            if r.min {
                if let Some(m) = nums.iter().min() {
                    line.push_str(&format!(" MIN {m}"));
                }
            }
            if r.max {
                if let Some(m) = nums.iter().max() {
                    line.push_str(&format!(" MAX {m}"));
                }
            }
            if r.count {
                line.push_str(&format!(" COUNT {}", nums.len()));
            }
            if all && !nums.is_empty() {
                line.push_str(&format!(" ALL {}", compress_set(&nums)));
            }
            // RFC 7162 3.1.5 with RFC 4731: `MODSEQ n` as a return data item.
            if let Some(m) = modseq {
                line.push_str(&format!(" MODSEQ {m}"));
            }
        }
    }
    line.push_str("\r\n");
    s.out.extend_from_slice(line.as_bytes());
    Reply::ok("SEARCH completed")
}
