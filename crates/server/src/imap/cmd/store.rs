//! STORE and UID STORE (RFC 3501 6.4.6): `FLAGS`, `+FLAGS`, `-FLAGS`, `.SILENT`; the
//! untagged FETCH carries FLAGS (and UID for UID STORE). Nothing changes under EXAMINE.

use super::Reply;
use crate::imap::session::Session;
use crate::imap::view::write_flags;
use mailroom_proto::imap::command::StoreMode;
use mailroom_proto::imap::encode::ResponseCode;
use mailroom_proto::imap::{Flag, SequenceSet};
use mailroom_store::FlagOp;

pub(crate) async fn run(
    s: &mut Session,
    uid: bool,
    set: SequenceSet,
    mode: StoreMode,
    silent: bool,
    flags: Vec<Flag>,
) -> Reply {
    let (Some(user), Some(sel)) = (&s.user, s.selected.as_mut()) else {
        return Reply::bad("no mailbox selected");
    };
    let idx = match sel.resolve(&set, uid) {
        Ok(i) => i,
        Err(e) => return Reply::bad(&e),
    };
    if sel.read_only {
        return Reply::no(Some(ResponseCode::ReadOnly), "mailbox is read-only");
    }
    let (f, kw) = match super::split_flags(&flags) {
        Ok(x) => x,
        Err(why) => return Reply::bad(&why),
    };
    let op = match mode {
        StoreMode::Replace => FlagOp::Set,
        StoreMode::Add => FlagOp::Add,
        StoreMode::Remove => FlagOp::Remove,
    };
    // Messages expunged elsewhere but still in the view are left alone.
    let idx: Vec<usize> = idx
        .into_iter()
        .filter(|&i| sel.gone.binary_search(&sel.msgs[i].uid).is_err())
        .collect();
    let uids: Vec<u32> = idx.iter().map(|&i| sel.msgs[i].uid).collect();
    if uids.is_empty() {
        return Reply::ok("STORE completed");
    }
    let changed = match user.account.store_flags(sel.id, &uids, op, f, &kw).await {
        Ok(c) => c,
        Err(e) => return super::store_error(e),
    };
    for m in changed {
        if let Some(i) = sel.index_of(m.uid) {
            sel.msgs[i] = m;
        }
    }
    if !silent {
        for &i in &idx {
            let m = &sel.msgs[i];
            let recent = sel.is_recent(m.uid);
            s.out
                .extend_from_slice(format!("* {} FETCH (FLAGS ", i + 1).as_bytes());
            write_flags(&mut s.out, m, recent);
            if uid {
                s.out
                    .extend_from_slice(format!(" UID {}", m.uid).as_bytes());
            }
            s.out.extend_from_slice(b")\r\n");
        }
    }
    Reply::ok("STORE completed")
}
