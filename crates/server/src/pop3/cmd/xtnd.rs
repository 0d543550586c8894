//! `XTND XMIT` (P6, seed 000; Eudora's extension, no RFC): in the TRANSACTION state the
//! client sends a message, dot-terminated as in RFC 1939 multi-line responses, and the
//! server submits it as the logged-in account ([`crate::submit::submit`]: local delivery
//! or relay to the smarthost).
//!
//! ```text
//! C: XTND XMIT
//! S: +OK send the message, end with a line holding only "."
//! C: To: bob@example.com
//! C: ...
//! C: .
//! S: +OK message submitted to 1 recipients
//! ```
//!
//! The message is decoded with the LMTP DATA decoder (dot-unstuffing), bounded by
//! `lmtp.max_message_size` (past it the rest is read and discarded, then `-ERR`), and
//! spooled to an unlinked file past [`crate::lmtp::SPILL_AT`] like LMTP does.
//!
//! CAPA does not announce it: RFC 2449 defines no capability for XTND, and clients that use
//! it (Eudora) just try it.

use crate::deliver::Body;
use crate::pop3::{Next, Session, State};
use mailroom_proto::lmtp::DataDecoder;
use std::io::Write;
use std::sync::Arc;

impl Session {
    /// `XTND XMIT`. `Next::Close` when the connection ended in the middle of the message
    /// (nothing is submitted then).
    pub(crate) async fn xtnd_xmit(&mut self) -> std::io::Result<Next> {
        let owner = match &self.state {
            State::Transaction(md) => md.owner.clone(),
            State::Authorization { .. } => return Ok(Next::Continue),
        };
        self.reply("+OK send the message, end with a line holding only \".\"");
        let max = self.ctx.config.lmtp.max_message_size;
        let mut dec = DataDecoder::new();
        let mut mem: Vec<u8> = Vec::new();
        let mut spool: Option<(std::fs::File, u64)> = None;
        let mut total: u64 = 0;
        let mut too_big = false;
        let mut spool_err: Option<std::io::Error> = None;
        loop {
            let before = mem.len();
            let used = dec.decode(&self.buf, &mut mem);
            self.buf.drain(..used);
            total += (mem.len() - before) as u64;
            if total > max {
                too_big = true;
            }
            if too_big || spool_err.is_some() {
                mem.clear();
            } else if spool.is_some() || mem.len() >= crate::lmtp::SPILL_AT {
                if spool.is_none() {
                    match self.spool_file() {
                        Ok(f) => spool = Some((f, 0)),
                        Err(e) => spool_err = Some(e),
                    }
                }
                if let Some((f, len)) = spool.as_mut() {
                    if let Err(e) = f.write_all(&mem) {
                        spool_err = Some(e);
                    }
                    *len += mem.len() as u64;
                }
                mem.clear();
            }
            if dec.is_done() {
                break;
            }
            if !self.fill().await? {
                tracing::info!("connection ended during XTND XMIT; nothing submitted");
                return Ok(Next::Close);
            }
        }
        if too_big {
            self.err(&format!(
                "message too big: the limit is {max} octets; not sent"
            ));
            return Ok(Next::Continue);
        }
        if let Some(e) = spool_err {
            tracing::warn!(error = %e, "cannot spool submitted message");
            self.err(&format!("[SYS/TEMP] cannot spool the message: {e}"));
            return Ok(Next::Continue);
        }
        let body = match spool {
            Some((mut f, len)) => match f.flush() {
                Ok(()) => Body::File(Arc::new(f), len),
                Err(e) => {
                    self.err(&format!("[SYS/TEMP] cannot spool the message: {e}"));
                    return Ok(Next::Continue);
                }
            },
            None => Body::Bytes(bytes::Bytes::from(mem)),
        };
        let report = crate::submit::submit(&self.ctx, &owner, body).await;
        tracing::info!(account = %owner.address(), report = ?report, "XTND XMIT");
        let line = report.pop3_reply();
        if line.starts_with("+OK") {
            self.reply(&line);
        } else if let Some(e) = line.strip_prefix("-ERR ") {
            self.err(e);
        } else {
            self.reply(&line);
        }
        Ok(Next::Continue)
    }

    fn spool_file(&self) -> std::io::Result<std::fs::File> {
        let dir = self.ctx.config.server.data_dir.join("spool");
        std::fs::create_dir_all(&dir)?;
        tempfile::tempfile_in(dir)
    }
}
