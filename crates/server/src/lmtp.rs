//! The LMTP listener (RFC 2033): LHLO, MAIL, RCPT, DATA with one reply per accepted
//! recipient, RSET, NOOP, VRFY, QUIT; PIPELINING, ENHANCEDSTATUSCODES (RFC 2034),
//! 8BITMIME (RFC 6152) and SIZE (RFC 1870).
//!
//! Command lines are framed with a hard limit and parsed by `mailroom_proto::lmtp`; DATA
//! is decoded incrementally and kept in memory up to [`SPILL_AT`] octets, then spooled to
//! an unlinked file in `<data>/spool`, so a 50 MB message costs no 50 MB of memory.
//! Replies to pipelined commands are sent together once the input buffer is drained
//! (RFC 2920 3.1).

use crate::deliver::{self, Incoming, IncomingError, Outcome, Resolved};
use crate::net::{ConnInfo, Stream};
use crate::Ctx;
use mailroom_proto::line::{Line, LineFramer};
use mailroom_proto::lmtp::{parse_command, Command, MAX_COMMAND_LINE};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Messages larger than this are spooled to a file while they are received.
pub use crate::deliver::SPILL_AT;

/// Serves one LMTP connection.
pub fn serve(
    ctx: Arc<Ctx>,
    stream: Stream,
    info: ConnInfo,
) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
    let tls = stream.is_tls();
    crate::net::logged_session(&info.clone(), tls, move || {
        Session::new(ctx, stream, info).run()
    })
}

struct Session {
    ctx: Arc<Ctx>,
    stream: Stream,
    info: ConnInfo,
    buf: Vec<u8>,
    out: Vec<u8>,
    framer: LineFramer,
    lhlo: Option<String>,
    from: Option<String>,
    rcpts: Vec<(String, Resolved)>,
    /// The registry entry (set when the session runs).
    reg: Option<crate::registry::SessionHandle>,
}

enum Next {
    Continue,
    Data,
    Quit,
}

impl Session {
    fn new(ctx: Arc<Ctx>, stream: Stream, info: ConnInfo) -> Session {
        Session {
            ctx,
            stream,
            info,
            buf: Vec::new(),
            out: Vec::new(),
            framer: LineFramer::new(MAX_COMMAND_LINE),
            lhlo: None,
            from: None,
            rcpts: Vec::new(),
            reg: None,
        }
    }

    fn reply(&mut self, line: &str) {
        self.out.extend_from_slice(line.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
            self.stream.flush().await?;
            crate::metrics::bytes_out(crate::net::Protocol::Lmtp, self.out.len());
            self.out.clear();
            if self.out.capacity() > 4096 {
                self.out.shrink_to(1024);
            }
        }
        Ok(())
    }

    /// Reads more input; `Ok(false)` at end of stream, time-out or shutdown (after saying
    /// so to the client).
    async fn fill(&mut self) -> std::io::Result<bool> {
        let timeout = Duration::from_secs(self.ctx.config().lmtp.idle_timeout_secs.max(1));
        let mut shutdown = self.ctx.shutdown.clone();
        let mut closed = self.reg.as_ref().map(|r| r.close_signal());
        let mut chunk = [0u8; 8192];
        let n = tokio::select! {
            r = tokio::time::timeout(timeout, self.stream.read(&mut chunk)) => match r {
                Ok(r) => r?,
                Err(_) => {
                    self.reply("421 4.4.2 idle for too long, closing connection");
                    self.flush().await?;
                    return Ok(false);
                }
            },
            _ = shutdown.wait() => {
                self.reply("421 4.3.2 server shutting down, try again later");
                self.flush().await?;
                return Ok(false);
            }
            _ = async {
                match closed.as_mut() {
                    Some(c) => c.wait().await,
                    None => std::future::pending().await,
                }
            } => {
                self.reply("421 4.3.2 closed by the administrator");
                self.flush().await?;
                return Ok(false);
            }
        };
        crate::metrics::bytes_in(crate::net::Protocol::Lmtp, n);
        if n == 0 {
            return Ok(false);
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(true)
    }

    async fn run(mut self) -> std::io::Result<()> {
        self.reg = Some(self.ctx.registry.register(&self.info, "greeting"));
        let host = self.ctx.config().server.hostname.clone();
        self.reply(&format!("220 {host} LMTP mailroom ready"));
        loop {
            // Answer every complete line already buffered (pipelining), then flush.
            loop {
                let (line, used) = self.framer.next(&self.buf);
                let cmd = match line {
                    Some(Line::Complete(l)) => Some(parse_command(l)),
                    Some(Line::TooLong) => None,
                    None => {
                        // `used` > 0: the rest of an over-long line was discarded; a
                        // complete line may follow in the buffer.
                        self.buf.drain(..used);
                        if used > 0 && !self.buf.is_empty() {
                            continue;
                        }
                        break;
                    }
                };
                self.buf.drain(..used);
                let next = match cmd {
                    None => {
                        self.reply("500 5.5.2 line too long");
                        Next::Continue
                    }
                    Some(Err(e)) => {
                        self.reply(&e.to_string());
                        Next::Continue
                    }
                    Some(Ok(c)) => {
                        let name = command_name(&c);
                        let (at, began) = (self.out.len(), std::time::Instant::now());
                        let next = self.command(c).await;
                        // The reply's class: 4xx and 5xx are failures.
                        let failed = matches!(self.out.get(at), Some(b'4' | b'5'));
                        crate::metrics::command(
                            crate::net::Protocol::Lmtp,
                            name,
                            if failed { "ERR" } else { "OK" },
                            began.elapsed(),
                        );
                        next
                    }
                };
                match next {
                    Next::Continue => {}
                    Next::Quit => {
                        self.flush().await?;
                        let _ = self.stream.shutdown().await;
                        return Ok(());
                    }
                    Next::Data => {
                        self.flush().await?;
                        if !self.data().await? {
                            return Ok(());
                        }
                    }
                }
            }
            self.flush().await?;
            if self.buf.capacity() > 16 * 1024 && self.buf.is_empty() {
                self.buf = Vec::new();
            }
            if !self.fill().await? {
                return Ok(());
            }
        }
    }

    async fn command(&mut self, cmd: Command) -> Next {
        match cmd {
            Command::Lhlo(domain) => {
                let host = self.ctx.config().server.hostname.clone();
                let size = self.ctx.config().lmtp.max_message_size;
                self.reply(&format!("250-{host}"));
                self.reply("250-PIPELINING");
                self.reply("250-ENHANCEDSTATUSCODES");
                self.reply("250-8BITMIME");
                self.reply(&format!("250 SIZE {size}"));
                self.lhlo = Some(domain);
                self.from = None;
                self.rcpts.clear();
            }
            Command::Helo => self.reply("500 5.5.1 this is LMTP: say LHLO (RFC 2033 4.1)"),
            Command::Mail { from, size, .. } => {
                if self.lhlo.is_none() {
                    self.reply("503 5.5.1 send LHLO first");
                } else if self.from.is_some() {
                    self.reply("503 5.5.1 nested MAIL command");
                } else if size.is_some_and(|s| s > self.ctx.config().lmtp.max_message_size) {
                    self.reply("552 5.3.4 message size exceeds fixed maximum message size");
                } else {
                    self.from = Some(from);
                    self.reply("250 2.1.0 sender OK");
                }
            }
            Command::Rcpt { to } => {
                if self.from.is_none() {
                    self.reply("503 5.5.1 send MAIL first");
                } else if self.rcpts.len() >= self.ctx.config().lmtp.max_recipients {
                    self.reply("452 4.5.3 too many recipients");
                } else {
                    let to2 = to.clone();
                    let resolved = self.ctx.dir(move |d| deliver::resolve(d, &to2)).await;
                    match &resolved {
                        Resolved::Local { .. } => {
                            self.reply(&format!("250 2.1.5 <{to}> recipient OK"));
                            self.rcpts.push((to, resolved));
                        }
                        Resolved::Refused(o) => {
                            let line =
                                o.lmtp_reply_with(&to, self.ctx.config().lmtp.quota_temporary);
                            tracing::info!(rcpt = %to, reply = %line, "recipient refused");
                            self.reply(&line);
                        }
                    }
                }
            }
            Command::Data => {
                if self.from.is_none() {
                    self.reply("503 5.5.1 send MAIL first");
                } else if self.rcpts.is_empty() {
                    self.reply("503 5.5.1 no valid recipients");
                } else {
                    self.reply("354 2.0.0 start mail input; end with <CRLF>.<CRLF>");
                    return Next::Data;
                }
            }
            Command::Rset => {
                self.from = None;
                self.rcpts.clear();
                self.reply("250 2.0.0 OK");
            }
            Command::Noop => self.reply("250 2.0.0 OK"),
            Command::Vrfy(_) => self
                .reply("252 2.5.2 cannot VRFY user, but will accept message and attempt delivery"),
            Command::Quit => {
                let host = self.ctx.config().server.hostname.clone();
                self.reply(&format!("221 2.0.0 {host} closing connection"));
                return Next::Quit;
            }
        }
        Next::Continue
    }

    /// Receives the message after `354` and answers once per recipient. `Ok(false)` when
    /// the connection ended before the terminator (nothing is delivered then).
    async fn data(&mut self) -> std::io::Result<bool> {
        let max = self.ctx.config().lmtp.max_message_size;
        let mut incoming = Incoming::new(max, self.ctx.config().server.data_dir.join("spool"));
        loop {
            let used = incoming.feed(&self.buf);
            self.buf.drain(..used);
            if incoming.is_done() {
                break;
            }
            if !self.fill().await? {
                tracing::info!("connection ended during DATA; nothing delivered");
                return Ok(false);
            }
        }
        let from = self.from.take().unwrap_or_default();
        let rcpts = std::mem::take(&mut self.rcpts);
        let body = match incoming.finish() {
            Ok(b) => b,
            Err(IncomingError::TooBig(max)) => {
                for (to, _) in &rcpts {
                    self.reply(&format!(
                        "552 5.3.4 <{to}> message size exceeds fixed maximum message size ({max} octets)"
                    ));
                }
                return Ok(true);
            }
            Err(IncomingError::Spool(e)) => {
                tracing::warn!(error = %e, "cannot spool message");
                let full = mailroom_store::io_is_disk_full(&e);
                for (to, _) in &rcpts {
                    if full {
                        self.reply(&Outcome::DiskFull.lmtp_reply(to));
                    } else {
                        self.reply(&format!("451 4.3.0 <{to}> cannot spool message: {e}"));
                    }
                }
                return Ok(true);
            }
        };
        let header = self.ctx.config().server.real_to_header.clone();
        for (to, resolved) in &rcpts {
            let outcome =
                deliver::deliver_to(&self.ctx.store, resolved, &from, to, &body, &header).await;
            match &outcome {
                Outcome::Delivered { account, uid } => {
                    tracing::info!(rcpt = %to, %account, uid, "delivered")
                }
                o => tracing::warn!(rcpt = %to, outcome = ?o, "not delivered"),
            }
            crate::metrics::delivery(match &outcome {
                Outcome::Delivered { .. } => "delivered",
                Outcome::Unknown | Outcome::Remote(_) => "unknown",
                Outcome::OverQuota => "over_quota",
                Outcome::DiskFull => "disk_full",
                Outcome::Temporary(_) => "temporary",
            });
            self.reply(&outcome.lmtp_reply_with(to, self.ctx.config().lmtp.quota_temporary));
        }
        Ok(true)
    }
}

/// A command's name, for the statistics.
fn command_name(c: &Command) -> &'static str {
    match c {
        Command::Lhlo(_) => "LHLO",
        Command::Mail { .. } => "MAIL",
        Command::Rcpt { .. } => "RCPT",
        Command::Data => "DATA",
        Command::Rset => "RSET",
        Command::Noop => "NOOP",
        Command::Quit => "QUIT",
        Command::Vrfy(_) => "VRFY",
        Command::Helo => "HELO",
    }
}
