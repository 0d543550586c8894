//! THREAD and UID THREAD (RFC 5256 sections 4 and 5): ORDEREDSUBJECT, REFERENCES and REFS
//! (draft-ietf-morg-inthread, as Dovecot does it) over
//! the messages the search criteria match; the algorithms are in
//! [`crate::imap::thread`].

use super::Reply;
use crate::imap::search::search;
use crate::imap::session::Session;
use crate::imap::sortkeys::load;
use crate::imap::thread::{ordered_subject, references, refs, Msg};
use mailroom_proto::imap::command::{Thread, ThreadAlgorithm};

pub(crate) async fn run(s: &mut Session, q: Thread) -> Reply {
    let Some(sel) = s.selected.as_ref() else {
        return Reply::bad("no mailbox selected");
    };
    let msgs = super::search::view_refs(sel);
    let hits = match search(&sel.account, sel.id, &msgs, &q.search, Some(&q.charset)).await {
        Ok(h) => h,
        Err(e) => return super::search::search_failed(e),
    };
    let keys = match load(sel.account.as_ref(), sel.id, &msgs, &hits).await {
        Ok(k) => k,
        Err(e) => return super::store_error(e),
    };
    let input: Vec<Msg> = hits
        .iter()
        .zip(keys)
        .filter_map(|(&i, k)| {
            let m = msgs.get(i)?;
            Some(Msg {
                id: if q.uid { m.meta.uid } else { m.seq },
                seq: m.seq,
                date: k.sent_date.unwrap_or(m.meta.internal_date),
                subject: k.subject,
                reply: k.reply,
                message_id: k.message_id,
                references: k.references,
            })
        })
        .collect();
    drop(msgs);
    let threads = match q.algorithm {
        ThreadAlgorithm::OrderedSubject => ordered_subject(&input),
        ThreadAlgorithm::References => references(&input),
        ThreadAlgorithm::Refs => refs(&input),
    };
    let line = if threads.is_empty() {
        "* THREAD\r\n".to_string()
    } else {
        format!("* THREAD {threads}\r\n")
    };
    s.out.extend_from_slice(line.as_bytes());
    Reply::ok("THREAD completed")
}
