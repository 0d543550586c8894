//! One IMAP connection: state, the read loop, literals and APPEND spooling, time-outs,
//! shutdown, and the untagged updates sent at command boundaries and during IDLE.
//!
//! The loop frames every command already received (pipelining), runs them in order with
//! output buffered, and flushes when the input is drained (or the output grows past
//! [`FLUSH_AT`]; writes block when the client does not read, which bounds memory).
//!
//! Map:
//! - this file: [`Session`], its constructor and the read loop ([`Session::run`]);
//! - `input.rs`: reading into the framer (time-outs, shutdown, the quick ACK), framer
//!   events, lines outside the grammar, literal continuations, streamed APPEND starts;
//! - `command.rs`: running one command (state checks, dispatch, its end);
//! - `output.rs`: the output buffer (status and untagged lines, flushing);
//! - `updates.rs`: untagged updates of the selected mailbox, and alerts;
//! - `login.rs`: the outcome of a login attempt.

mod command;
mod input;
mod login;
mod output;
mod updates;

pub(crate) use output::FLUSH_AT;
pub(crate) use updates::take_alerts;

use super::cmd;
use super::cmd::append::Spool;
use super::view::Selected;
use crate::net::{ConnInfo, Stream};
use crate::registry::SessionHandle;
use crate::Ctx;
use input::SMALL_READ;
use mailroom_directory::AccountInfo;
use mailroom_proto::imap::frame::FrameError;
use mailroom_proto::imap::{Framer, FramerConfig, RawCommand};
use mailroom_store::Account;
use std::io;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

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
    /// Counts this connection against its address's pre-login limit until login.
    pub prelogin: Option<crate::limits::PreloginSlot>,
    /// Counts this session against its account and address once logged in.
    pub userip: Option<crate::limits::UserIpSlot>,
    /// Login must happen before this (`login_timeout_secs` from connect).
    pub login_deadline: tokio::time::Instant,
    /// Set when the connection must close after the current output.
    pub closing: bool,
    /// CONDSTORE is on for the session: a CONDSTORE-enabling command ran (RFC 7162 3.1:
    /// `SELECT`/`EXAMINE (CONDSTORE)`, `STATUS (HIGHESTMODSEQ)`, `FETCH (MODSEQ)`).
    pub condstore: bool,
    /// `ENABLE X-SERVICE` ran: SELECT and EXAMINE show `$Service` messages, STATUS counts
    /// them ([`crate::service`]).
    pub service_view: bool,
    /// `ENABLE QRESYNC` ran (RFC 7162 3.2.3): expunges are announced as `VANISHED`,
    /// untagged FETCH responses carry UID, SELECT takes the QRESYNC parameter.
    pub qresync: bool,
    /// `ENABLE UIDONLY` ran (RFC 9586): commands with message sequence numbers are
    /// refused (`BAD [UIDREQUIRED]`), FETCH data comes as `* uid UIDFETCH (...)`
    /// without the UID item, expunges as `VANISHED`.
    pub uidonly: bool,
    /// The saved search result `$` (RFC 5182), as UIDs in ascending order.
    pub saved: Vec<u32>,
    /// RFC 5267 update contexts (SEARCH/SORT `RETURN (UPDATE)`) on the selected mailbox.
    pub contexts: crate::imap::context::Contexts,
    /// NOTIFY (RFC 5465) state; `None` until NOTIFY SET (and after NOTIFY NONE), so a
    /// session without NOTIFY pays one pointer ([`crate::imap::notify`]).
    pub notify: Option<Box<crate::imap::notify::Notify>>,
    /// `ENABLE IMAP4rev2` ran: RFC 9051 semantics ([`crate::imap::rev2`]).
    pub imap4rev2: bool,
    /// `ENABLE UTF8=ACCEPT` ran (RFC 6855, [`crate::imap::rev2`]).
    pub utf8_accept: bool,
    read_size: usize,
    /// A large read happened since the framer was last renewed.
    big_input: bool,
}

impl Session {
    pub(crate) fn new(ctx: Arc<Ctx>, stream: Stream, info: ConnInfo) -> Session {
        let max_append = u32::try_from(ctx.config().imap.max_literal).unwrap_or(u32::MAX);
        let framer = Framer::new(FramerConfig {
            max_append,
            literal_minus: ctx.config().imap.literal_minus,
            ..FramerConfig::default()
        });
        let reg = ctx.registry.register(&info, "not authenticated");
        let alerts = ctx.alerts.subscribe();
        let login_deadline = tokio::time::Instant::now()
            + std::time::Duration::from_secs(ctx.config().imap.login_timeout_secs.max(1));
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
            prelogin: None,
            userip: None,
            login_deadline,
            closing: false,
            condstore: false,
            service_view: false,
            qresync: false,
            uidonly: false,
            saved: Vec::new(),
            contexts: Default::default(),
            notify: None,
            imap4rev2: false,
            utf8_accept: false,
            read_size: SMALL_READ,
            big_input: false,
        }
    }

    pub(crate) async fn run(mut self) -> io::Result<()> {
        match self.ctx.limits.prelogin(self.info.peer.map(|a| a.ip())) {
            Some(slot) => self.prelogin = Some(slot),
            None => {
                tracing::warn!(peer = ?self.info.peer, "too many connections before login from this address, connection refused");
                self.out.extend_from_slice(
                    b"* BYE [UNAVAILABLE] too many connections from your address before login, try again later\r\n",
                );
                self.flush().await?;
                let _ = self.stream.shutdown().await;
                return Ok(());
            }
        }
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
            if !self.fill_between().await? {
                return Ok(());
            }
        }
    }
}

/// The start of an untagged FETCH response of the message at `seq` (1-based) with
/// `uid`: `* seq FETCH `, or once UIDONLY is on (`Session::uidonly`) `* uid UIDFETCH `
/// (RFC 9586 3.3).
pub(crate) fn fetch_prefix(uidonly: bool, seq: usize, uid: u32) -> String {
    if uidonly {
        format!("* {uid} UIDFETCH ")
    } else {
        format!("* {seq} FETCH ")
    }
}
