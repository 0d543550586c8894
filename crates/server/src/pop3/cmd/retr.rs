//! RETR and TOP (RFC 1939 sections 5 and 7): the message is streamed from its content
//! handle in chunks of at most 64 KiB ([`mailroom_store::CONTENT_CHUNK`]) read in place
//! into the output buffer (`append_chunk`), dot-stuffed, and ended with
//! `CRLF . CRLF`; never held whole in memory. RETR sets `\Seen` (P7) when the
//! account has the `s` right on the mailbox (P8); TOP does not.

use crate::pop3::{Session, State};
use mailroom_proto::line::dot_stuff_in_place;
use mailroom_store::{Account, FlagOp, Flags, MailboxId, MessageContent, StoreError, Uid};
use std::io;
use std::sync::Arc;

/// Where TOP stops: after the header block, the blank line and `limit` body lines.
#[derive(Debug)]
pub struct TopCut {
    in_header: bool,
    line_empty: bool,
    body_lines: u64,
    limit: u64,
}

impl TopCut {
    /// A cut after `limit` body lines.
    pub fn new(limit: u64) -> TopCut {
        TopCut {
            in_header: true,
            line_empty: true,
            body_lines: 0,
            limit,
        }
    }

    /// How much of `chunk` to send; `Some(n)` when the cut falls inside it (send `n`
    /// octets and stop), `None` to send all and go on.
    pub fn scan(&mut self, chunk: &[u8]) -> Option<usize> {
        if !self.in_header && self.body_lines >= self.limit {
            return Some(0);
        }
        for (i, &b) in chunk.iter().enumerate() {
            if b == b'\n' {
                if self.in_header {
                    if self.line_empty {
                        self.in_header = false;
                        if self.limit == 0 {
                            return Some(i + 1);
                        }
                    }
                } else {
                    self.body_lines += 1;
                    if self.body_lines >= self.limit {
                        return Some(i + 1);
                    }
                }
                self.line_empty = true;
            } else if b != b'\r' {
                self.line_empty = false;
            }
        }
        None
    }
}

impl Session {
    /// `RETR msg`.
    pub(crate) async fn retr(&mut self, n: u32) -> io::Result<()> {
        let Some((content, uid)) = self.open(n).await else {
            return Ok(());
        };
        self.reply(&format!("+OK {} octets", content.size()));
        self.send_content(content, None).await?;
        if let State::Transaction(md) = &mut self.state {
            if !md.may_set_seen() {
                // P8: a reader without `s` reads without marking (RFC 4314 section 4).
                return Ok(());
            }
            if md.get(n).is_ok_and(|m| m.seen) {
                return Ok(());
            }
            md.mark_seen(n);
            let (acc, mbox) = (md.account.clone(), md.mailbox);
            self.seen.push(acc, mbox, uid);
        }
        Ok(())
    }

    /// `TOP msg n`.
    pub(crate) async fn top(&mut self, n: u32, lines: u64) -> io::Result<()> {
        let Some((content, _)) = self.open(n).await else {
            return Ok(());
        };
        self.reply("+OK top of message follows");
        self.send_content(content, Some(TopCut::new(lines))).await
    }

    /// Opens message `n` of the snapshot, or queues the `-ERR` and returns `None`.
    async fn open(&mut self, n: u32) -> Option<(Arc<dyn MessageContent>, u32)> {
        let State::Transaction(md) = &self.state else {
            return None;
        };
        let m = match md.get(n) {
            Ok(m) => m,
            Err(e) => {
                self.err(&e);
                return None;
            }
        };
        let (acc, mbox) = (md.account.clone(), md.mailbox);
        match acc.open_message(mbox, m.uid).await {
            Ok(c) => Some((c, m.uid)),
            Err(StoreError::NotFound(_)) => {
                tracing::info!(msg = n, uid = m.uid, "message expunged by another session");
                self.err(&format!("message {n} was removed by another session"));
                None
            }
            Err(e) => {
                tracing::warn!(msg = n, uid = m.uid, error = %e, "cannot open message");
                self.err(&format!("[SYS/TEMP] cannot read message {n}: {e}"));
                None
            }
        }
    }

    /// Streams content (dot-stuffed, cut by `cut` for TOP) and the terminating line. A
    /// read error in the middle ends the connection: the client must not take a partial
    /// message for a whole one.
    async fn send_content(
        &mut self,
        content: Arc<dyn MessageContent>,
        mut cut: Option<TopCut>,
    ) -> io::Result<()> {
        let mut offset = 0u64;
        let (mut bol, mut prev_cr) = (true, false);
        let size = content.size();
        // Each chunk is read straight into the output buffer, behind the replies already
        // queued, and dot-stuffed there: text that needs no change is never copied in user
        // space. A content shorter than its size is an error (the connection ends).
        while offset < size {
            let start = self.out.len();
            let n = content.append_chunk(offset, size, &mut self.out).await?;
            offset += n as u64;
            let done = match cut.as_mut().and_then(|c| c.scan(&self.out[start..])) {
                Some(k) => {
                    self.out.truncate(start + k);
                    true
                }
                None => false,
            };
            dot_stuff_in_place(&mut self.out, start, &mut bol, &mut prev_cr);
            if done || offset >= size {
                break;
            }
            // Not the last chunk: send what is queued. The last one stays queued with the
            // terminator below, so a message that fits one chunk leaves in one write
            // (status line, text and `.` together: one segment for the client to read).
            self.write_out().await?;
        }
        if !bol {
            self.out.extend_from_slice(b"\r\n");
        }
        self.out.extend_from_slice(b".\r\n");
        Ok(())
    }
}

/// `\Seen` for retrieved messages (P7), written behind the replies: the next RETR does
/// not wait for the index write of the previous one. At most one write is in flight per
/// session; UIDs retrieved meanwhile are written together by the next one. QUIT and the
/// end of the session wait for all of it ([`SeenBehind::flush`]).
#[derive(Default)]
pub(crate) struct SeenBehind {
    task: Option<tokio::task::JoinHandle<()>>,
    queue: Vec<Uid>,
    target: Option<(Arc<dyn Account>, MailboxId)>,
}

impl SeenBehind {
    /// Queues `uid` and starts a write unless one is running.
    pub(crate) fn push(&mut self, account: Arc<dyn Account>, mailbox: MailboxId, uid: Uid) {
        self.queue.push(uid);
        let (acc, mbox) = self.target.get_or_insert((account, mailbox)).clone();
        if self.task.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        let uids = std::mem::take(&mut self.queue);
        self.task = Some(tokio::spawn(async move {
            store_seen(&acc, mbox, &uids).await;
        }));
    }

    /// Waits until every queued `\Seen` is written.
    pub(crate) async fn flush(&mut self) {
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        if self.queue.is_empty() {
            return;
        }
        if let Some((acc, mbox)) = self.target.clone() {
            let uids = std::mem::take(&mut self.queue);
            store_seen(&acc, mbox, &uids).await;
        }
    }
}

async fn store_seen(acc: &Arc<dyn Account>, mbox: MailboxId, uids: &[Uid]) {
    if let Err(e) = acc
        .store_flags(mbox, uids, FlagOp::Add, Flags::SEEN, &[])
        .await
    {
        tracing::warn!(?uids, error = %e, "cannot set \\Seen");
    }
}
