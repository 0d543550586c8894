//! Input: reading from the client into the framer (time-outs, shutdown, the quick ACK in
//! the middle of a command), framer events, lines read outside the command grammar, and
//! literal continuations and streamed APPEND starts.
//!
//! Does not live here: running a parsed command (`command.rs`).

use super::{Ev, Session};
use crate::imap::cmd;
use crate::imap::cmd::append::Spool;
use mailroom_proto::imap::encode::{ResponseCode, Status};
use mailroom_proto::imap::frame::FrameErrorKind;
use mailroom_proto::imap::{append_target_with, Event};
use std::io;
use std::time::Duration;
use tokio::io::AsyncReadExt;

pub(super) const SMALL_READ: usize = 2048;
const BIG_READ: usize = 64 * 1024;

impl Session {
    /// Reads more input into the framer. `Ok(false)` at end of stream, time-out or
    /// shutdown (after saying so to the client).
    pub(crate) async fn fill(&mut self) -> io::Result<bool> {
        self.fill_with(false).await
    }

    /// [`Session::fill`] between commands: NOTIFY's notifications are written while the
    /// client is silent (RFC 5465 3.1: "even when no command is in progress").
    pub(crate) async fn fill_between(&mut self) -> io::Result<bool> {
        self.fill_with(true).await
    }

    async fn fill_with(&mut self, between: bool) -> io::Result<bool> {
        // Before login the deadline is absolute from connect: input does not extend it.
        let (deadline, why) = if self.user.is_some() {
            let secs = self.ctx.config().imap.idle_timeout_secs.max(1);
            (
                tokio::time::Instant::now() + Duration::from_secs(secs),
                "autologout; idle for too long",
            )
        } else {
            // The same words as before the deadline was absolute (clients and tests
            // know them).
            (self.login_deadline, "autologout; idle for too long")
        };
        let mut shutdown = self.ctx.shutdown.clone();
        let mut closed = self.reg.close_signal();
        if !self.framer.is_idle() {
            // In the middle of a command (a literal received, its line not yet): the
            // client may be waiting for our ACK to send the rest (Stream::ack_now).
            self.stream.ack_now();
        }
        let own_key = self.user.as_ref().map(|u| u.account.key().clone());
        let n = loop {
            // Nothing buffered is kept while the client is silent (the memory target of
            // an idle connection): release the output buffer, wait for readiness without
            // a read buffer, then read.
            if self.out.is_empty() && self.out.capacity() > 0 {
                self.out = Vec::new();
            }
            self.framer.release_buffers();
            let notify_on = between && self.notify.is_some() && self.framer.is_idle();
            let read_size = self.read_size;
            let stream = &mut self.stream;
            let (notify, selected) = (&mut self.notify, &mut self.selected);
            // Boxed, and only with NOTIFY: a session without it keeps its read wait as
            // small as before.
            let mut notified = notify_on.then(|| {
                Box::pin(crate::imap::notify::wait(
                    notify,
                    selected,
                    own_key.as_ref(),
                ))
            });
            enum Got {
                Read(io::Result<Vec<u8>>),
                Timeout,
                Shutdown,
                Closed,
                Notify,
            }
            let got = tokio::select! {
                r = tokio::time::timeout_at(deadline, async {
                    stream.wait_readable().await?;
                    let mut buf = vec![0u8; read_size];
                    let n = stream.read(&mut buf).await?;
                    buf.truncate(n);
                    Ok::<_, io::Error>(buf)
                }) => match r {
                    Ok(r) => Got::Read(r),
                    Err(_) => Got::Timeout,
                },
                _ = shutdown.wait() => Got::Shutdown,
                _ = closed.wait() => Got::Closed,
                _ = async {
                    match notified.as_mut() {
                        Some(f) => f.await,
                        None => std::future::pending().await,
                    }
                }, if notify_on => Got::Notify,
            };
            drop(notified);
            match got {
                Got::Read(r) => break r?,
                Got::Timeout => {
                    if self.user.is_none() {
                        tracing::info!("no login within the login time-out, closing");
                    }
                    self.line(None, Status::Bye, None, why);
                    self.flush().await?;
                    return Ok(false);
                }
                Got::Shutdown => {
                    self.bye_shutdown().await?;
                    return Ok(false);
                }
                Got::Closed => {
                    tracing::info!("closed by an administrator");
                    self.line(None, Status::Bye, None, "closed by the administrator");
                    self.flush().await?;
                    return Ok(false);
                }
                Got::Notify => {
                    // SELECTED may send expunges now; SELECTED-DELAYED holds them. Boxed:
                    // the read wait's future stays small.
                    Box::pin(self.notify_deliver(Some(false))).await;
                    self.flush().await?;
                    if self.closing {
                        return Ok(false);
                    }
                }
            }
        };
        let buf = n;
        let n = buf.len();
        crate::metrics::bytes_in(crate::net::Protocol::Imap, n);
        if n == 0 {
            return Ok(false);
        }
        self.read_size = if n == self.read_size {
            BIG_READ
        } else {
            SMALL_READ
        };
        self.big_input |= n > SMALL_READ;
        self.framer.push(&buf);
        Ok(true)
    }

    /// The next framer event; streamed literal data goes to the spools on the way.
    pub(crate) fn next_event(&mut self) -> Option<Ev> {
        loop {
            match self.framer.next()? {
                Event::StreamData(d) => {
                    if let Some(s) = self.spools.last_mut() {
                        s.write(d, &self.ctx.config().server.data_dir.join("spool"));
                    }
                }
                Event::StreamEnd => {}
                Event::Command(c) => return Some(Ev::Cmd(c)),
                Event::Continue { .. } => return Some(Ev::Continue),
                Event::StreamStart {
                    sync,
                    index,
                    prefix,
                    ..
                } => {
                    return Some(Ev::StreamStart {
                        sync,
                        index,
                        prefix: prefix.to_vec(),
                    })
                }
                Event::Error(e) => return Some(Ev::Error(e)),
            }
        }
    }

    /// Reads one line from the client in the middle of a command (SASL responses, IDLE's
    /// DONE). `None` when the connection ended.
    /// Reads one line outside the command grammar (SASL responses, IDLE's `DONE`); an
    /// empty line is returned as such.
    pub(crate) async fn read_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        self.framer.set_keep_empty_lines(true);
        let r = self.read_line_inner().await;
        self.framer.set_keep_empty_lines(false);
        r
    }

    async fn read_line_inner(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            match self.next_event() {
                Some(Ev::Cmd(raw)) => {
                    return Ok(Some(raw.as_line().map(<[u8]>::to_vec).unwrap_or_default()))
                }
                Some(Ev::Continue) => {
                    // A literal where a line was expected: refuse it.
                    self.framer.reject_literal();
                    return Ok(Some(Vec::new()));
                }
                Some(Ev::StreamStart { .. }) => {
                    self.framer.reject_literal();
                    return Ok(Some(Vec::new()));
                }
                Some(Ev::Error(e)) => {
                    if e.fatal {
                        return Ok(None);
                    }
                    return Ok(Some(Vec::new()));
                }
                None => {}
            }
            self.flush().await?;
            if !self.fill().await? {
                return Ok(None);
            }
        }
    }

    pub(super) async fn event(&mut self, ev: Ev) -> io::Result<()> {
        match ev {
            Ev::Cmd(raw) => self.command(raw).await?,
            Ev::Continue => {
                self.out.extend_from_slice(b"+ Ready for literal data\r\n");
                self.flush().await?;
                self.framer.accept_literal();
            }
            Ev::StreamStart {
                sync,
                index,
                prefix,
            } => {
                if self.append_start(index, &prefix).await {
                    self.spools.push(Spool::default());
                    if sync {
                        self.out.extend_from_slice(b"+ Ready for message data\r\n");
                        self.flush().await?;
                        self.framer.accept_literal();
                    }
                } else {
                    self.spools.clear();
                    self.framer.reject_literal();
                }
            }
            Ev::Error(e) => {
                self.spools.clear();
                let code = e.is_too_big().then_some(ResponseCode::TooBig);
                // RFC 7888 section 5: a LITERAL- refusal is a tagged BAD [TOOBIG].
                let minus = matches!(e.kind, FrameErrorKind::LiteralMinus { .. });
                let status = if e.is_too_big() && !e.fatal && !minus {
                    Status::No
                } else {
                    Status::Bad
                };
                self.line(e.tag.as_ref(), status, code.as_ref(), &e.to_string());
                if e.fatal {
                    self.line(None, Status::Bye, None, "too much data, closing connection");
                    self.closing = true;
                }
            }
        }
        Ok(())
    }

    /// Checks the target of an APPEND before its message literal is received. False
    /// when the command was answered (refused).
    async fn append_start(&mut self, index: usize, prefix: &[u8]) -> bool {
        let (tag, mailbox) = match append_target_with(prefix, self.parse_options()) {
            Ok(t) => t,
            Err(e) => {
                self.line(e.tag.as_ref(), Status::Bad, None, &e.message);
                return false;
            }
        };
        let Some(user) = &self.user else {
            self.line(
                Some(&tag),
                Status::Bad,
                None,
                "APPEND is not allowed before LOGIN",
            );
            return false;
        };
        if index > 0 || index != self.spools.len() {
            return index == self.spools.len();
        }
        let info = user.info.clone();
        match crate::access::check(
            &self.ctx,
            &info,
            mailbox.as_str(),
            crate::access::Op::Append,
        )
        .await
        {
            Ok(_) => true,
            Err(e) => {
                let r = cmd::target_error(e, !mailbox.as_str().starts_with('~'));
                r.write(self, &tag);
                false
            }
        }
    }
}
