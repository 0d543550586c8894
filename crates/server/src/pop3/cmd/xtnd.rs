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
//! spooled to an unlinked file past [`crate::deliver::SPILL_AT`] like LMTP does
//! ([`crate::deliver::Incoming`]).
//!
//! CAPA does not announce it: RFC 2449 defines no capability for XTND, and clients that use
//! it (Eudora) just try it.

use crate::deliver::{Incoming, IncomingError};
use crate::pop3::{Next, Session, State};

impl Session {
    /// `XTND XMIT`. `Next::Close` when the connection ended in the middle of the message
    /// (nothing is submitted then).
    pub(crate) async fn xtnd_xmit(&mut self) -> std::io::Result<Next> {
        let owner = match &self.state {
            State::Transaction(md) => md.owner.clone(),
            State::Authorization { .. } => return Ok(Next::Continue),
        };
        self.reply("+OK send the message, end with a line holding only \".\"");
        let max = self.ctx.config().lmtp.max_message_size;
        let mut incoming = Incoming::new(max, self.ctx.config().server.data_dir.join("spool"));
        loop {
            let used = incoming.feed(&self.buf);
            self.buf.drain(..used);
            if incoming.is_done() {
                break;
            }
            if !self.fill().await? {
                tracing::info!("connection ended during XTND XMIT; nothing submitted");
                return Ok(Next::Close);
            }
        }
        let body = match incoming.finish() {
            Ok(b) => b,
            Err(IncomingError::TooBig(max)) => {
                self.err(&format!(
                    "message too big: the limit is {max} octets; not sent"
                ));
                return Ok(Next::Continue);
            }
            Err(IncomingError::Spool(e)) => {
                tracing::warn!(error = %e, "cannot spool submitted message");
                self.err(&format!("[SYS/TEMP] cannot spool the message: {e}"));
                return Ok(Next::Continue);
            }
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
}
