//! THREAD and UID THREAD (RFC 5256 sections 4 and 5): ORDEREDSUBJECT and REFERENCES over
//! the messages the search criteria match; the algorithms are in
//! [`crate::imap::thread`].

use super::Reply;
use crate::imap::fetch::header_field_values;
use crate::imap::search::search;
use crate::imap::session::Session;
use crate::imap::sort::base_subject_reply;
use crate::imap::thread::{message_ids, ordered_subject, references, Msg};
use mailroom_proto::imap::command::{Thread, ThreadAlgorithm};
use mailroom_store::StoreError;

pub(crate) async fn run(s: &mut Session, q: Thread) -> Reply {
    let Some(sel) = s.selected.as_ref() else {
        return Reply::bad("no mailbox selected");
    };
    let msgs = super::search::view_refs(sel);
    let hits = match search(&sel.account, sel.id, &msgs, &q.search, Some(&q.charset)).await {
        Ok(h) => h,
        Err(e) => return super::search::search_failed(e),
    };
    let mut input: Vec<Msg> = Vec::with_capacity(hits.len());
    for i in hits {
        let Some(m) = msgs.get(i) else { continue };
        let st = match sel.account.structure(sel.id, m.meta.uid).await {
            Ok(st) => Some(st),
            Err(StoreError::NotFound(_)) => None,
            Err(e) => return super::store_error(e),
        };
        let env = st.as_ref().map(|s| &s.envelope);
        let (subject, reply) = base_subject_reply(
            env.and_then(|e| e.subject.as_deref())
                .unwrap_or("")
                .as_bytes(),
        );
        // RFC 5256 section 4 step 1: References, or else the first id of In-Reply-To.
        let mut refs: Vec<String> = st
            .as_ref()
            .map(|s| {
                header_field_values(&s.header, "References")
                    .iter()
                    .flat_map(|v| message_ids(&String::from_utf8_lossy(v)))
                    .collect()
            })
            .unwrap_or_default();
        if refs.is_empty() {
            if let Some(first) = env
                .and_then(|e| e.in_reply_to.as_deref())
                .and_then(|v| message_ids(v).into_iter().next())
            {
                refs.push(first);
            }
        }
        input.push(Msg {
            id: if q.uid { m.meta.uid } else { m.seq },
            seq: m.seq,
            date: st
                .as_ref()
                .and_then(|s| s.sent_date)
                .unwrap_or(m.meta.internal_date),
            subject: subject.to_ascii_uppercase(),
            reply,
            message_id: env
                .and_then(|e| e.message_id.as_deref())
                .and_then(|v| message_ids(v).into_iter().next()),
            references: refs,
        });
    }
    drop(msgs);
    let threads = match q.algorithm {
        ThreadAlgorithm::OrderedSubject => ordered_subject(&input),
        ThreadAlgorithm::References => references(&input),
    };
    let line = if threads.is_empty() {
        "* THREAD\r\n".to_string()
    } else {
        format!("* THREAD {threads}\r\n")
    };
    s.out.extend_from_slice(line.as_bytes());
    Reply::ok("THREAD completed")
}
