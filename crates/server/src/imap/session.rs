//! One IMAP connection: state, the read loop, literals and APPEND spooling, time-outs,
//! shutdown, and the untagged updates sent at command boundaries and during IDLE.
//!
//! The loop frames every command already received (pipelining), runs them in order with
//! output buffered, and flushes when the input is drained (or the output grows past
//! [`FLUSH_AT`]; writes block when the client does not read, which bounds memory).

use super::cmd::append::Spool;
use super::cmd::{self, Reply};
use super::view::{write_flags, Selected};
use crate::net::{ConnInfo, Stream};
use crate::registry::SessionHandle;
use crate::Ctx;
use mailroom_directory::AccountInfo;
use mailroom_proto::imap::encode::{status_line, ResponseCode, Status};
use mailroom_proto::imap::frame::FrameError;
use mailroom_proto::imap::{
    append_target, parse_command, CommandKind, Event, Framer, FramerConfig, RawCommand,
    SessionState, Tag,
};
use mailroom_store::{Account, StoreError, Uid};
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Output is flushed once it grows past this, even with input pending.
pub(crate) const FLUSH_AT: usize = 64 * 1024;
const SMALL_READ: usize = 2048;
const BIG_READ: usize = 64 * 1024;

/// The logged-in user.
pub(crate) struct User {
    pub info: AccountInfo,
    pub account: Arc<dyn Account>,
}

/// A framer event without borrows.
pub(crate) enum Ev {
    Cmd(RawCommand),
    Continue,
    StreamStart {
        sync: bool,
        index: usize,
        prefix: Vec<u8>,
    },
    Error(FrameError),
}

/// One connection's state.
pub(crate) struct Session {
    pub ctx: Arc<Ctx>,
    pub stream: Stream,
    pub info: ConnInfo,
    pub framer: Framer,
    pub out: Vec<u8>,
    pub user: Option<User>,
    pub selected: Option<Selected>,
    pub reg: SessionHandle,
    pub alerts: tokio::sync::watch::Receiver<u64>,
    pub spools: Vec<Spool>,
    pub auth_failures: u32,
    /// Set when the connection must close after the current output.
    pub closing: bool,
    read_size: usize,
    /// A large read happened since the framer was last renewed.
    big_input: bool,
}

impl Session {
    pub(crate) fn new(ctx: Arc<Ctx>, stream: Stream, info: ConnInfo) -> Session {
        let max_append = u32::try_from(ctx.config.imap.max_literal).unwrap_or(u32::MAX);
        let framer = Framer::new(FramerConfig {
            max_append,
            ..FramerConfig::default()
        });
        let reg = ctx.registry.register(&info, "not authenticated");
        let alerts = ctx.alerts.subscribe();
        Session {
            ctx,
            stream,
            info,
            framer,
            out: Vec::new(),
            user: None,
            selected: None,
            reg,
            alerts,
            spools: Vec::new(),
            auth_failures: 0,
            closing: false,
            read_size: SMALL_READ,
            big_input: false,
        }
    }

    /// The RFC 3501 state.
    pub(crate) fn state(&self) -> SessionState {
        if self.closing {
            SessionState::Logout
        } else if self.selected.is_some() {
            SessionState::Selected
        } else if self.user.is_some() {
            SessionState::Authenticated
        } else {
            SessionState::NotAuthenticated
        }
    }

    /// Plaintext authentication is refused on this connection (I6).
    pub(crate) fn plaintext_disabled(&self) -> bool {
        self.ctx.config.server.require_tls_for_plaintext && !self.stream.is_tls()
    }

    /// Appends a status line.
    pub(crate) fn line(
        &mut self,
        tag: Option<&Tag>,
        status: Status,
        code: Option<&ResponseCode>,
        text: &str,
    ) {
        status_line(&mut self.out, tag, status, code, text);
    }

    /// Appends raw text and CRLF.
    pub(crate) fn untagged(&mut self, text: &str) {
        self.out.extend_from_slice(b"* ");
        self.out.extend_from_slice(text.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    pub(crate) async fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
            self.stream.flush().await?;
            self.out.clear();
            if self.out.capacity() > 16 * 1024 {
                self.out = Vec::new();
            }
        }
        Ok(())
    }

    /// Flushes when the output buffer is large (long FETCH answers).
    pub(crate) async fn maybe_flush(&mut self) -> io::Result<()> {
        if self.out.len() >= FLUSH_AT {
            self.flush().await?;
        }
        Ok(())
    }

    /// Reads more input into the framer. `Ok(false)` at end of stream, time-out or
    /// shutdown (after saying so to the client).
    pub(crate) async fn fill(&mut self) -> io::Result<bool> {
        let secs = if self.user.is_some() {
            self.ctx.config.imap.idle_timeout_secs
        } else {
            self.ctx.config.imap.login_timeout_secs
        };
        let mut shutdown = self.ctx.shutdown.clone();
        if !self.framer.is_idle() {
            // In the middle of a command (a literal received, its line not yet): the
            // client may be waiting for our ACK to send the rest (Stream::ack_now).
            self.stream.ack_now();
        }
        // Nothing buffered is kept while the client is silent (the memory target of an
        // idle connection): release the output buffer, wait for readiness without a read
        // buffer, then read.
        if self.out.is_empty() && self.out.capacity() > 0 {
            self.out = Vec::new();
        }
        self.framer.release_buffers();
        let n = tokio::select! {
            r = tokio::time::timeout(Duration::from_secs(secs.max(1)), async {
                self.stream.wait_readable().await?;
                let mut buf = vec![0u8; self.read_size];
                let n = self.stream.read(&mut buf).await?;
                buf.truncate(n);
                Ok::<_, io::Error>(buf)
            }) => match r {
                Ok(r) => r?,
                Err(_) => {
                    self.line(None, Status::Bye, None, "autologout; idle for too long");
                    self.flush().await?;
                    return Ok(false);
                }
            },
            _ = shutdown.wait() => {
                self.bye_shutdown().await?;
                return Ok(false);
            }
        };
        let buf = n;
        let n = buf.len();
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

    pub(crate) async fn bye_shutdown(&mut self) -> io::Result<()> {
        self.line(
            None,
            Status::Bye,
            Some(&ResponseCode::Unavailable),
            "server shutting down",
        );
        self.flush().await
    }

    /// The next framer event; streamed literal data goes to the spools on the way.
    pub(crate) fn next_event(&mut self) -> Option<Ev> {
        loop {
            match self.framer.next()? {
                Event::StreamData(d) => {
                    if let Some(s) = self.spools.last_mut() {
                        s.write(d, &self.ctx.config.server.data_dir.join("spool"));
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

    pub(crate) async fn run(mut self) -> io::Result<()> {
        let caps = cmd::capability::list(&self).join(" ");
        self.out
            .extend_from_slice(format!("* OK [CAPABILITY {caps}] mailroom ready\r\n").as_bytes());
        loop {
            while let Some(ev) = self.next_event() {
                // Boxed: command handling (and everything it awaits) is allocated only
                // while a command runs; an idle session's task holds just the session
                // and its read wait (the memory target of an idle connection).
                Box::pin(self.event(ev)).await?;
                if self.closing {
                    self.flush().await?;
                    let _ = self.stream.shutdown().await;
                    return Ok(());
                }
            }
            self.flush().await?;
            if self.big_input && self.framer.is_idle() {
                // Between commands after large input: drop the framer's grown buffers.
                self.framer = Framer::new(self.framer.config().clone());
                self.big_input = false;
            }
            if !self.fill().await? {
                return Ok(());
            }
        }
    }

    async fn event(&mut self, ev: Ev) -> io::Result<()> {
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
                let status = if e.is_too_big() && !e.fatal {
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
        let (tag, mailbox) = match append_target(prefix) {
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

    async fn command(&mut self, raw: RawCommand) -> io::Result<()> {
        let cmd = match parse_command(&raw) {
            Ok(c) => c,
            Err(e) => {
                self.spools.clear();
                self.line(e.tag.as_ref(), Status::Bad, None, &e.message);
                return Ok(());
            }
        };
        drop(raw);
        let kind = cmd.kind();
        let state = self.state();
        if !kind.allowed_in(state) {
            self.spools.clear();
            let why = match state {
                SessionState::NotAuthenticated => "log in first",
                SessionState::Selected | SessionState::Authenticated
                    if kind.allowed() == mailroom_proto::imap::command::Allowed::Selected =>
                {
                    "no mailbox selected"
                }
                _ => "already logged in",
            };
            let text = format!("{} not allowed now: {why}", kind.name());
            self.line(Some(&cmd.tag), Status::Bad, None, &text);
            return Ok(());
        }
        self.reg.begin_command(kind.name());
        tracing::debug!(command = kind.name(), tag = %cmd.tag, "command");
        let tag = cmd.tag.clone();
        // Boxed: the largest command future lives on the heap only while it runs, so an
        // idle session stays small.
        let reply = Box::pin(cmd::dispatch(self, cmd)).await;
        self.spools.clear();
        if !reply.sent && !self.closing {
            if self.selected.is_some() {
                self.refresh(allows_expunge(kind)).await;
            }
            self.check_alerts().await;
        }
        if !reply.sent {
            reply.write(self, &tag);
        }
        self.reg.end_command();
        self.maybe_flush().await
    }

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

    fn write_alerts(&mut self, texts: Vec<String>) {
        for t in texts {
            self.line(None, Status::Ok, Some(&ResponseCode::Alert), &t);
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
        for m in ch.changed {
            if m.uid > sel.msgs.last().map(|m| m.uid).unwrap_or(0) {
                if ch.expunged.binary_search(&m.uid).is_err() {
                    sel.msgs.push(m);
                }
            } else if let Some(i) = sel.index_of(m.uid) {
                let cur = &mut sel.msgs[i];
                if cur.flags != m.flags || cur.keywords != m.keywords {
                    flag_changes.push(m.uid);
                }
                *cur = m;
            }
        }
        sel.uid_next = sel.uid_next.max(ch.uid_next);
        let new_msgs = sel.msgs.len() > old_len;
        if new_msgs {
            match sel.account.claim_recent_upto(sel.id, ch.uid_next).await {
                Ok(first) => {
                    for m in &sel.msgs[old_len..] {
                        if m.uid >= first && m.uid > last {
                            sel.recent.push(m.uid);
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "claim_recent failed"),
            }
        }
        let out = &mut self.out;
        if allow_expunge && !sel.gone.is_empty() {
            let gone = std::mem::take(&mut sel.gone);
            let mut seqs: Vec<usize> = gone.iter().filter_map(|u| sel.index_of(*u)).collect();
            seqs.sort_unstable();
            for &i in seqs.iter().rev() {
                out.extend_from_slice(format!("* {} EXPUNGE\r\n", i + 1).as_bytes());
            }
            sel.msgs.retain(|m| gone.binary_search(&m.uid).is_err());
            sel.recent.retain(|u| gone.binary_search(u).is_err());
            if sel.msgs.capacity() > 2 * sel.msgs.len() + 16 {
                sel.msgs.shrink_to_fit();
            }
        }
        if new_msgs {
            out.extend_from_slice(format!("* {} EXISTS\r\n", sel.msgs.len()).as_bytes());
            out.extend_from_slice(format!("* {} RECENT\r\n", sel.recent.len()).as_bytes());
        }
        for u in flag_changes {
            if sel.gone.binary_search(&u).is_ok() {
                continue;
            }
            if let Some(i) = sel.index_of(u) {
                let recent = sel.is_recent(u);
                out.extend_from_slice(format!("* {} FETCH (FLAGS ", i + 1).as_bytes());
                write_flags(out, &sel.msgs[i], recent);
                out.extend_from_slice(b")\r\n");
            }
        }
    }

    /// A successful login: opens the mail store, creates the default special-use
    /// mailboxes, sends alerts; the reply carries the new capabilities.
    /// `alerts`: the account's pending alerts when the caller already took them (in the
    /// same directory call as the password check: one hop to the blocking pool per login).
    pub(crate) async fn login_success(
        &mut self,
        info: AccountInfo,
        alerts: Option<Vec<String>>,
    ) -> Reply {
        let (domain, name) = info.store_key();
        let Some(key) = mailroom_store::AccountKey::new(&domain, &name) else {
            return Reply::no(Some(ResponseCode::ServerBug), "invalid account name");
        };
        let account = match self.ctx.store.open_account(&key).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "cannot open the mail store");
                // Taken alerts are shown even so: they are gone from the directory.
                self.write_alerts(alerts.unwrap_or_default());
                return Reply::no(Some(ResponseCode::Unavailable), "mail store unavailable");
            }
        };
        if let Err(e) = account.ensure_mailboxes(super::DEFAULT_MAILBOXES).await {
            tracing::warn!(error = %e, "cannot create the default mailboxes");
        }
        let address = info.address();
        tracing::info!(account = %address, "logged in");
        self.reg.set_account(&address);
        self.reg.set_state("authenticated");
        self.auth_failures = 0;
        // P13 (POP-before-SMTP style relay hint): remember where the user logged in from.
        self.ctx.relay.record_peer(self.info.peer);
        self.user = Some(User { info, account });
        self.alerts.borrow_and_update();
        match alerts {
            Some(texts) => self.write_alerts(texts),
            None => self.send_alerts().await,
        }
        let caps = cmd::capability::list(self);
        Reply::ok_code(ResponseCode::Capability(caps), "logged in")
    }

    /// A failed login: a growing delay after repeated failures, then the answer.
    pub(crate) async fn login_failed(&mut self) -> Reply {
        self.auth_failures = self.auth_failures.saturating_add(1);
        tracing::info!(failures = self.auth_failures, "authentication failed");
        if self.auth_failures >= 2 {
            let ms = 250u64 << (self.auth_failures - 2).min(5);
            tokio::time::sleep(Duration::from_millis(ms.min(8000))).await;
        }
        Reply::no(
            Some(ResponseCode::AuthenticationFailed),
            "invalid user name or password",
        )
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

/// Whether untagged EXPUNGE may be sent at the end of a command (RFC 3501 7.4.1: not
/// while responding to FETCH, STORE or SEARCH by sequence number).
fn allows_expunge(kind: CommandKind) -> bool {
    !matches!(
        kind,
        CommandKind::Fetch | CommandKind::Store | CommandKind::Search
    )
}
