//! SEARCH and UID SEARCH (RFC 3501 6.4.4, RFC 4731 ESEARCH answers when `RETURN` is
//! given); keys are evaluated by [`crate::imap::search`].

use super::Reply;
use crate::imap::fetch::MsgRef;
use crate::imap::search::{search, SearchError};
use crate::imap::session::Session;
use mailroom_proto::imap::command::Search;
use mailroom_proto::imap::encode::{compress_set, ResponseCode};
use mailroom_proto::imap::Tag;

pub(crate) async fn run(s: &mut Session, tag: &Tag, q: Search) -> Reply {
    let Some(sel) = s.selected.as_ref() else {
        return Reply::bad("no mailbox selected");
    };
    let msgs: Vec<MsgRef<'_>> = sel
        .msgs
        .iter()
        .enumerate()
        .map(|(i, m)| MsgRef {
            seq: i as u32 + 1,
            meta: m,
            recent: sel.is_recent(m.uid),
        })
        .collect();
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
        Err(SearchError::BadCharset) => {
            return Reply::no(
                Some(ResponseCode::BadCharset(vec![
                    "US-ASCII".into(),
                    "UTF-8".into(),
                ])),
                "unsupported charset",
            )
        }
        Err(SearchError::Store(e)) => return super::store_error(e),
    };
    let nums: Vec<u32> = hits
        .iter()
        .filter_map(|&i| msgs.get(i))
        .map(|m| if q.uid { m.meta.uid } else { m.seq })
        .collect();
    drop(msgs);
    let mut line = String::new();
    match q.ret {
        None => {
            line.push_str("* SEARCH");
            for n in &nums {
                line.push(' ');
                line.push_str(&n.to_string());
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
        }
    }
    line.push_str("\r\n");
    s.out.extend_from_slice(line.as_bytes());
    Reply::ok("SEARCH completed")
}
