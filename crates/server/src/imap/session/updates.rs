//! Updates at command boundaries: the untagged `EXPUNGE`/`EXISTS`/`RECENT`/`FETCH (FLAGS)`
//! of the selected mailbox (multi-access, I3) and the account's alerts (I7).

use super::Session;
use crate::imap::view::write_flags;
use mailroom_directory::AccountInfo;
use mailroom_proto::imap::encode::{compress_set, ResponseCode, Status};
use mailroom_store::{StoreError, Uid};

impl Session {
    /// Sends pending alerts when the alert generation changed.
    pub(crate) async fn check_alerts(&mut self) {
        if self.alerts.has_changed().unwrap_or(false) {
            self.alerts.borrow_and_update();
            self.send_alerts().await;
        }
    }

    /// Takes and sends every pending alert of the user (I7).
    pub(crate) async fn send_alerts(&mut self) {
        let Some(user) = &self.user else {
            return;
        };
        let info = user.info.clone();
        let texts = self.ctx.dir(move |d| take_alerts(d, &info)).await;
        self.write_alerts(texts);
    }

    pub(super) fn write_alerts(&mut self, texts: Vec<String>) {
        for t in texts {
            // IMAP4rev1 text is 7-bit; UTF-8 once enabled (RFC 9051 Appendix E item 24):
            // `line` sees to it.
            self.line(None, Status::Ok, Some(&ResponseCode::Alert), &t);
        }
    }

    /// A CONDSTORE enabling command ran (RFC 7162 3.1): from now on untagged FETCH
    /// responses carry MODSEQ; the first one with a mailbox selected sends its
    /// HIGHESTMODSEQ.
    pub(crate) fn enable_condstore(&mut self) {
        if self.condstore {
            return;
        }
        self.condstore = true;
        if let Some(sel) = &self.selected {
            let code = ResponseCode::HighestModSeq(sel.modseq);
            self.line(None, Status::Ok, Some(&code), "highest modseq");
        }
    }

    /// Brings the view up to date with the store and writes the untagged updates:
    /// `EXPUNGE` (only when `allow_expunge`), `EXISTS`, `RECENT`, and `FETCH (FLAGS)` for
    /// flag changes made elsewhere (RFC 3501 5.2, 7.4.1).
    pub(crate) async fn refresh(&mut self, allow_expunge: bool) {
        let Some(sel) = self.selected.as_mut() else {
            return;
        };
        let ch = match sel.account.changes_since(sel.id, sel.modseq).await {
            Ok(c) => c,
            Err(StoreError::NotFound(_)) => {
                self.selected = None;
                self.line(None, Status::Bye, None, "the selected mailbox was deleted");
                self.closing = true;
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "changes_since failed");
                return;
            }
        };
        if ch.uid_validity_changed {
            self.selected = None;
            self.line(
                None,
                Status::Bye,
                None,
                "UIDVALIDITY of the selected mailbox changed",
            );
            self.closing = true;
            return;
        }
        sel.modseq = sel.modseq.max(ch.highest_modseq);
        // RFC 5267 4.3: update contexts look again after any change.
        let changed = !ch.changed.is_empty() || !ch.expunged.is_empty();
        for u in &ch.expunged {
            if sel.index_of(*u).is_some() {
                if let Err(i) = sel.gone.binary_search(u) {
                    sel.gone.insert(i, *u);
                }
            }
        }
        let old_len = sel.msgs.len();
        let last = sel.msgs.last().map(|m| m.uid).unwrap_or(0);
        let mut flag_changes: Vec<Uid> = Vec::new();
        let mut new_keywords = false;
        for m in ch.changed {
            let hidden = sel.hide_service && crate::service::is_service(&m.keywords);
            if m.uid > sel.msgs.last().map(|m| m.uid).unwrap_or(0) {
                if ch.expunged.binary_search(&m.uid).is_err() && !hidden {
                    new_keywords |= sel.learn_keywords(&m.keywords);
                    sel.msgs.push(m);
                }
            } else if let Some(i) = sel.index_of(m.uid) {
                if hidden {
                    // Given `$Service`: it leaves the view as an expunge would (I12).
                    if let Err(g) = sel.gone.binary_search(&m.uid) {
                        sel.gone.insert(g, m.uid);
                    }
                    sel.msgs.set(i, m);
                    continue;
                }
                new_keywords |= sel.learn_keywords(&m.keywords);
                if let Some(cur) = sel.msgs.get(i) {
                    if cur.flags != m.flags || cur.keywords != m.keywords.as_slice() {
                        flag_changes.push(m.uid);
                    }
                }
                sel.msgs.set(i, m);
            }
        }
        sel.uid_next = sel.uid_next.max(ch.uid_next);
        let new_msgs = sel.msgs.len() > old_len;
        // RFC 9051 Appendix E item 12: an IMAP4rev2 session has no `\Recent` (and claims none).
        let rev2 = self.imap4rev2;
        if new_msgs && !rev2 && sel.read_only {
            // EXAMINE claims nothing (RFC 3501 6.3.2): the new messages no session has
            // claimed are shown recent.
            match sel.account.status(sel.id).await {
                Ok(st) => {
                    let first = crate::imap::cmd::select::first_unclaimed(
                        &sel.msgs,
                        st.recent,
                        ch.uid_next,
                    );
                    for u in sel.msgs.uids_from(old_len) {
                        if u >= first && u > last {
                            sel.recent.push(u);
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "status failed"),
            }
        } else if new_msgs && !rev2 {
            match sel.account.claim_recent_upto(sel.id, ch.uid_next).await {
                Ok(first) => {
                    for u in sel.msgs.uids_from(old_len) {
                        if u >= first && u > last {
                            sel.recent.push(u);
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "claim_recent failed"),
            }
        }
        let condstore = self.condstore;
        let qresync = self.qresync;
        let uidonly = self.uidonly;
        let out = &mut self.out;
        if allow_expunge && !sel.gone.is_empty() {
            let gone = std::mem::take(&mut sel.gone);
            // RFC 5267 4.3.4: REMOVEFROM before the EXPUNGE, while the numbers hold.
            if !self.contexts.is_empty() {
                self.contexts.expunging(sel, &gone, out);
            }
            if qresync || uidonly {
                // RFC 7162 3.2.10: VANISHED instead of EXPUNGE once QRESYNC is on; the
                // same once UIDONLY is (RFC 9586 3.4).
                let uids: Vec<Uid> = gone
                    .iter()
                    .copied()
                    .filter(|u| sel.index_of(*u).is_some())
                    .collect();
                if !uids.is_empty() {
                    out.extend_from_slice(
                        format!("* VANISHED {}\r\n", compress_set(&uids)).as_bytes(),
                    );
                }
            } else {
                let mut seqs: Vec<usize> = gone.iter().filter_map(|u| sel.index_of(*u)).collect();
                seqs.sort_unstable();
                for &i in seqs.iter().rev() {
                    out.extend_from_slice(format!("* {} EXPUNGE\r\n", i + 1).as_bytes());
                }
            }
            sel.msgs.retain(|u| gone.binary_search(&u).is_err());
            sel.recent.retain(|u| gone.binary_search(u).is_err());
        }
        // RFC 3501 7.2.6, 7.1: a keyword new to the client is announced with FLAGS and
        // PERMANENTFLAGS before the EXISTS or FETCH that shows it.
        if new_keywords {
            sel.write_flags_lines(out);
        }
        if new_msgs {
            out.extend_from_slice(format!("* {} EXISTS\r\n", sel.msgs.len()).as_bytes());
            if !rev2 {
                out.extend_from_slice(format!("* {} RECENT\r\n", sel.recent.len()).as_bytes());
            }
        }
        for u in flag_changes {
            if sel.gone.binary_search(&u).is_ok() {
                continue;
            }
            if let Some(i) = sel.index_of(u) {
                let recent = sel.is_recent(u);
                if let Some(m) = sel.msgs.get(i) {
                    out.extend_from_slice(super::fetch_prefix(uidonly, i + 1, m.uid).as_bytes());
                    out.push(b'(');
                    // RFC 7162 3.2.4: UID in every untagged FETCH once QRESYNC is on;
                    // RFC 9051 7.5.2 (Appendix E item 21): always in IMAP4rev2 (UIDFETCH
                    // names it already, RFC 9586 3.3).
                    if (qresync || rev2) && !uidonly {
                        out.extend_from_slice(format!("UID {} ", m.uid).as_bytes());
                    }
                    out.extend_from_slice(b"FLAGS ");
                    write_flags(out, m, recent);
                    // RFC 7162 3.1: MODSEQ in every untagged FETCH once enabled.
                    if condstore {
                        out.extend_from_slice(format!(" MODSEQ ({})", m.modseq).as_bytes());
                    }
                    out.extend_from_slice(b")\r\n");
                }
            }
        }
        // Caught up with the store: share its list again instead of keeping a copy. With
        // every change applied and every expunge announced, the view holds the same
        // messages as the store unless it hides some (`$Service`), which shows in its
        // length; so the length is all that is compared here (the whole list in debug
        // builds), keeping this O(1) after every command.
        if let Some(current) = ch.current {
            if sel.gone.is_empty()
                && sel.modseq == ch.highest_modseq
                && current.len() == sel.msgs.len()
                && !current.shares(&sel.msgs)
            {
                debug_assert!(
                    current == sel.msgs,
                    "a caught-up view differs from the store"
                );
                sel.msgs = current;
            }
        }
        // RFC 5267 4.3.3: ADDTO after the EXISTS (and FETCH) that show the change.
        if changed && !self.contexts.is_empty() {
            if let Some(sel) = self.selected.as_ref() {
                self.contexts.refresh(sel, &mut self.out).await;
            }
        }
    }
}

/// Takes (removes and returns) the account's pending alerts, at most 100 at a time.
pub(crate) fn take_alerts(d: &mailroom_directory::Directory, info: &AccountInfo) -> Vec<String> {
    let mut v = Vec::new();
    while let Ok(Some(t)) = d.take_alert(info) {
        v.push(t);
        if v.len() >= 100 {
            break;
        }
    }
    v
}
