//! The POP3 module: RFC 1939 (AUTHORIZATION, TRANSACTION and UPDATE states), CAPA and
//! response codes (RFC 2449, RFC 3206), STLS (RFC 2595), SASL AUTH (RFC 5034), APOP, and
//! the CommuniGate Pro habits of seed 000: login alerts (`-ERR ALERT: ...`), RETR sets
//! `\Seen` and TOP does not, no exclusive lock on the mailbox; and sharing (P8): the user
//! name `mailbox#account` opens another mailbox of the account, a foreign one
//! (`~boss/INBOX#jsmith`) or a public one (`~public/announces#jsmith`), with the rights
//! the access core ([`crate::access`]) grants on it.
//!
//! Layout: this file holds the session (read loop, pipelining, time-outs, shutdown, the
//! state-by-command table in [`Session::command`]); one file per command family under
//! [`cmd`]: `auth` (USER, PASS, APOP, AUTH and the login itself), `maildrop` (STAT, LIST,
//! UIDL, DELE, RSET, NOOP and QUIT's UPDATE state), `retr` (RETR and TOP, streamed),
//! `capa` (CAPA, STLS), `uidl` (the UIDL format), `xtnd` (XTND XMIT, message
//! submission through [`crate::submit`]).
//!
//! Architecture invariant: deletions are committed at QUIT in the TRANSACTION state and
//! nowhere else; a dropped, timed-out or shut-down connection deletes nothing.
//!
//! Architecture invariant: an idle session holds no large buffer: the read buffer grows on
//! demand and is released when empty; message content is streamed in 64 KiB chunks and
//! the snapshot is a `Vec` of (uid, size, deleted).

mod cmd;

use crate::net::{ConnInfo, Stream};
use crate::registry::SessionHandle;
use crate::Ctx;
use cmd::maildrop::Maildrop;
use mailroom_proto::line::{Line, LineFramer};
use mailroom_proto::pop3::{parse_command, Command, MAX_LINE};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Replies are written out once this much is pending, even in the middle of a pipeline.
const OUT_HIGH_WATER: usize = 32 * 1024;

/// After this many consecutive erroneous commands the connection is closed.
const MAX_BAD_COMMANDS: u32 = 100;

/// Serves one POP3 connection.
pub fn serve(
    ctx: Arc<Ctx>,
    stream: Stream,
    info: ConnInfo,
) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
    let tls = stream.is_tls();
    let reg = ctx.registry.register(&info, "authorization");
    crate::net::logged_session(&info.clone(), tls, move || {
        Session::new(ctx, stream, info, reg).run()
    })
}

/// The RFC 1939 states a session can be in (UPDATE is the end of [`Session::quit`]).
enum State {
    /// Before login; `user` is the name given by USER, waiting for PASS.
    Authorization { user: Option<String> },
    /// Logged in, with the maildrop snapshot taken at login.
    Transaction(Box<Maildrop>),
}

/// What the read loop does after a command.
enum Next {
    Continue,
    Close,
}

/// One POP3 connection.
struct Session {
    ctx: Arc<Ctx>,
    stream: Stream,
    info: ConnInfo,
    reg: SessionHandle,
    buf: Vec<u8>,
    out: Vec<u8>,
    framer: LineFramer,
    state: State,
    /// The APOP timestamp of the greeting, when APOP is on.
    timestamp: Option<String>,
    /// Counts this connection against its address's pre-login limit until login.
    prelogin: Option<crate::limits::PreloginSlot>,
    /// Counts this session against its account and address once logged in.
    userip: Option<crate::limits::UserIpSlot>,
    /// Login must happen before this (`login_timeout_secs` from connect).
    login_deadline: tokio::time::Instant,
    /// Consecutive erroneous commands.
    bad: u32,
    /// `\Seen` writes behind RETR replies.
    seen: cmd::retr::SeenBehind,
}

impl Session {
    fn new(ctx: Arc<Ctx>, stream: Stream, info: ConnInfo, reg: SessionHandle) -> Session {
        let login_deadline = tokio::time::Instant::now()
            + Duration::from_secs(ctx.config().pop3.login_timeout_secs.max(1));
        Session {
            ctx,
            stream,
            info,
            reg,
            buf: Vec::new(),
            out: Vec::new(),
            framer: LineFramer::new(MAX_LINE),
            state: State::Authorization { user: None },
            timestamp: None,
            prelogin: None,
            userip: None,
            login_deadline,
            bad: 0,
            seen: Default::default(),
        }
    }

    /// Queues one reply line (CRLF added).
    fn reply(&mut self, line: &str) {
        self.out.extend_from_slice(line.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// Queues an `-ERR` reply and counts it as a bad command.
    fn err(&mut self, text: &str) {
        self.bad += 1;
        self.reply(&format!("-ERR {text}"));
    }

    fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.ctx.config().pop3.idle_timeout_secs.max(1))
    }

    /// Writes the queued replies, with the idle time-out as a write time-out (a client
    /// that never reads is closed, not waited for forever).
    async fn write_out(&mut self) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let t = self.idle_timeout();
        let r = tokio::time::timeout(t, async {
            self.stream.write_all(&self.out).await?;
            self.stream.flush().await
        })
        .await;
        if matches!(r, Ok(Ok(()))) {
            crate::metrics::bytes_out(crate::net::Protocol::Pop3, self.out.len());
        }
        // The buffer is kept (a long RETR reuses it chunk after chunk); `fill` releases
        // it before waiting for the client.
        self.out.clear();
        match r {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "client does not read its replies",
            )),
        }
    }

    /// Reads more input; `Ok(false)` at end of stream, idle time-out or shutdown (after
    /// saying so to the client).
    async fn fill(&mut self) -> io::Result<bool> {
        self.write_out().await?;
        if self.out.capacity() > 1024 {
            self.out = Vec::new();
        }
        if self.buf.is_empty() && self.buf.capacity() > 4096 {
            self.buf = Vec::new();
        }
        if self.buf.capacity() - self.buf.len() < 256 {
            self.buf.reserve(1024);
        }
        // Before login the deadline is absolute from connect: input does not extend it.
        let (deadline, why) = if self.is_transaction() {
            (
                tokio::time::Instant::now() + self.idle_timeout(),
                "-ERR [SYS/TEMP] idle for too long, closing connection",
            )
        } else {
            // The idle time-out still applies when it is the shorter.
            let idle = tokio::time::Instant::now() + self.idle_timeout();
            if idle < self.login_deadline {
                (
                    idle,
                    "-ERR [SYS/TEMP] idle for too long, closing connection",
                )
            } else {
                (
                    self.login_deadline,
                    "-ERR [SYS/TEMP] no login in time, closing connection",
                )
            }
        };
        let mut shutdown = self.ctx.shutdown.clone();
        let mut closed = self.reg.close_signal();
        let n = tokio::select! {
            r = tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf)) => match r {
                Ok(r) => r?,
                Err(_) => {
                    tracing::info!("time-out");
                    self.reply(why);
                    self.write_out().await?;
                    return Ok(false);
                }
            },
            _ = shutdown.wait() => {
                self.reply("-ERR [SYS/TEMP] server shutting down");
                self.write_out().await?;
                return Ok(false);
            }
            _ = closed.wait() => {
                tracing::info!("closed by an administrator");
                self.reply("-ERR [SYS/TEMP] closed by the administrator");
                self.write_out().await?;
                return Ok(false);
            }
        };
        crate::metrics::bytes_in(crate::net::Protocol::Pop3, n);
        Ok(n > 0)
    }

    /// Takes the next complete line out of the buffer: `Some(Ok(line))`, `Some(Err(()))`
    /// for a line over the limit, `None` when more input is needed.
    fn take_line(&mut self) -> Option<Result<Vec<u8>, ()>> {
        loop {
            let (line, used) = self.framer.next(&self.buf);
            let got = match line {
                Some(Line::Complete(l)) => Some(Ok(l.to_vec())),
                Some(Line::TooLong) => Some(Err(())),
                None => None,
            };
            self.buf.drain(..used);
            if got.is_some() {
                return got;
            }
            if used == 0 || self.buf.is_empty() {
                return None;
            }
        }
    }

    /// Reads one line (for SASL continuations); `None` when the connection ended.
    async fn read_line(&mut self) -> io::Result<Option<Result<Vec<u8>, ()>>> {
        loop {
            if let Some(l) = self.take_line() {
                return Ok(Some(l));
            }
            if !self.fill().await? {
                return Ok(None);
            }
        }
    }

    fn is_transaction(&self) -> bool {
        matches!(self.state, State::Transaction(_))
    }

    async fn run(mut self) -> io::Result<()> {
        let r = self.run_loop().await;
        // A session that ends without QUIT still records what it retrieved.
        self.seen.flush().await;
        r
    }

    async fn run_loop(&mut self) -> io::Result<()> {
        match self.ctx.limits.prelogin(self.info.peer.map(|a| a.ip())) {
            Some(slot) => self.prelogin = Some(slot),
            None => {
                tracing::warn!(peer = ?self.info.peer, "too many connections before login from this address, connection refused");
                self.reply("-ERR [SYS/TEMP] too many connections from your address before login, try again later");
                self.write_out().await?;
                let _ = self.stream.shutdown().await;
                return Ok(());
            }
        }
        let greeting = if self.ctx.config().pop3.apop {
            let host = self.ctx.config().server.hostname.clone();
            let ts = mailroom_directory::sasl::make_timestamp(&host);
            let g = format!("+OK POP3 mailroom ready {ts}");
            self.timestamp = Some(ts);
            g
        } else {
            "+OK POP3 mailroom ready".to_string()
        };
        self.reply(&greeting);
        loop {
            // Answer every complete line already buffered (pipelining, RFC 2449 6.6),
            // then write the replies out together.
            while let Some(line) = self.take_line() {
                let next = match line {
                    Err(()) => {
                        self.err("line too long");
                        Next::Continue
                    }
                    Ok(l) => match parse_command(&l) {
                        Err(e) => {
                            tracing::debug!(error = %e, "bad command");
                            self.err(&e.to_string());
                            Next::Continue
                        }
                        Ok(c) => {
                            tracing::debug!(command = ?c, "command");
                            let name = c.name();
                            self.reg.begin_command(name);
                            let began = std::time::Instant::now();
                            let at = self.out.len();
                            let n = self.command(c).await;
                            self.reg.end_command();
                            // A streamed answer (RETR, TOP, LIST) was flushed: those
                            // stream only after their `+OK`.
                            let failed = self.out.len() > at && self.out[at..].starts_with(b"-ERR");
                            crate::metrics::command(
                                crate::net::Protocol::Pop3,
                                name,
                                if failed { "ERR" } else { "OK" },
                                began.elapsed(),
                            );
                            n?
                        }
                    },
                };
                if let Next::Close = next {
                    self.write_out().await?;
                    let _ = self.stream.shutdown().await;
                    return Ok(());
                }
                if self.bad >= MAX_BAD_COMMANDS {
                    tracing::warn!("too many bad commands, closing");
                    self.reply("-ERR too many bad commands, closing connection");
                    self.write_out().await?;
                    return Ok(());
                }
                if self.out.len() >= OUT_HIGH_WATER {
                    self.write_out().await?;
                }
            }
            if !self.fill().await? {
                if self.is_transaction() {
                    tracing::info!("connection ended without QUIT: nothing deleted");
                }
                return Ok(());
            }
        }
    }

    /// Runs one command; the table of which command is allowed in which state.
    async fn command(&mut self, c: Command) -> io::Result<Next> {
        let before = self.bad;
        let trans = self.is_transaction();
        let next = match c {
            Command::Capa => {
                self.capa();
                Next::Continue
            }
            Command::Quit => return self.quit().await,
            Command::User(_)
            | Command::Pass(_)
            | Command::Apop { .. }
            | Command::Auth { .. }
            | Command::Stls
                if trans =>
            {
                self.err("already logged in");
                Next::Continue
            }
            Command::User(name) => {
                self.user(name);
                Next::Continue
            }
            Command::Pass(pw) => {
                self.pass(pw).await;
                Next::Continue
            }
            Command::Apop { name, digest } => {
                self.apop(name, digest).await;
                Next::Continue
            }
            Command::Auth { mechanism, initial } => match self.auth(mechanism, initial).await? {
                true => Next::Continue,
                false => Next::Close,
            },
            Command::Stls => self.stls().await?,
            _ if !trans => {
                self.err(&format!(
                    "{} is not valid in the AUTHORIZATION state: log in first",
                    c.name()
                ));
                Next::Continue
            }
            Command::Stat => {
                self.stat();
                Next::Continue
            }
            Command::List(n) => {
                self.list(n);
                Next::Continue
            }
            Command::Uidl(n) => {
                self.uidl(n);
                Next::Continue
            }
            Command::Dele(n) => {
                self.dele(n);
                Next::Continue
            }
            Command::Rset => {
                self.rset();
                Next::Continue
            }
            Command::Noop => {
                self.reply("+OK");
                Next::Continue
            }
            Command::Retr(n) => {
                self.retr(n).await?;
                Next::Continue
            }
            Command::Top { msg, lines } => {
                self.top(msg, lines).await?;
                Next::Continue
            }
            Command::XtndXmit => self.xtnd_xmit().await?,
            Command::Xtnd(sub) => {
                self.err(&format!("XTND {sub} is not supported (only XTND XMIT is)"));
                Next::Continue
            }
        };
        if self.bad == before {
            self.bad = 0;
        }
        Ok(next)
    }
}
