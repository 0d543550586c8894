//! Running one command: parsing, the RFC 3501 state checks, dispatch to `cmd`, then the
//! updates and alerts due at the command's end and its tagged reply.

use super::Session;
use crate::imap::cmd;
use mailroom_proto::imap::encode::Status;
use mailroom_proto::imap::{parse_command_with, CommandKind, RawCommand, SessionState};
use std::io;

impl Session {
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
        self.ctx.config().server.require_tls_for_plaintext && !self.stream.is_tls()
    }

    pub(super) async fn command(&mut self, raw: RawCommand) -> io::Result<()> {
        let cmd = match parse_command_with(&raw, self.parse_options()) {
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
        let began = std::time::Instant::now();
        tracing::debug!(command = kind.name(), tag = %cmd.tag, "command");
        let tag = cmd.tag.clone();
        if let Some(n) = self.notify.as_mut() {
            // Events this command will cause are not told back (RFC 5465 5).
            n.own = crate::imap::notify::own_events(&cmd.body);
        }
        // Boxed: the largest command future lives on the heap only while it runs, so an
        // idle session stays small.
        let reply = Box::pin(cmd::dispatch(self, cmd)).await;
        self.spools.clear();
        if !reply.sent && !self.closing {
            if self.selected.is_some() {
                let last = self.last_uid();
                self.refresh(allows_expunge(kind)).await;
                if self.notify.is_some() && !creates_messages(kind) {
                    // RFC 5465 5.2: MessageNew's FETCH items follow the EXISTS (not for
                    // the client's own APPEND, COPY or MOVE).
                    Box::pin(self.notify_new_messages(last)).await;
                }
            }
            if self.notify.is_some() {
                Box::pin(self.notify_deliver(None)).await;
                if let Some(n) = self.notify.as_mut() {
                    n.own.clear();
                }
            }
            self.check_alerts().await;
        }
        let result = match (reply.sent, &reply.status) {
            (false, Status::No) => "NO",
            (false, Status::Bad) => "BAD",
            _ => "OK",
        };
        if !reply.sent {
            reply.write(self, &tag);
        }
        self.reg.end_command();
        crate::metrics::command(
            crate::net::Protocol::Imap,
            kind.name(),
            result,
            began.elapsed(),
        );
        self.maybe_flush().await
    }
}

/// Commands that add messages to a mailbox themselves (no MessageNew FETCH for them).
fn creates_messages(kind: CommandKind) -> bool {
    matches!(
        kind,
        CommandKind::Append
            | CommandKind::Copy
            | CommandKind::UidCopy
            | CommandKind::Move
            | CommandKind::UidMove
            | CommandKind::Replace
            | CommandKind::UidReplace
    )
}

/// Whether untagged EXPUNGE may be sent at the end of a command (RFC 3501 7.4.1: not
/// while responding to FETCH, STORE or SEARCH by sequence number).
fn allows_expunge(kind: CommandKind) -> bool {
    !matches!(
        kind,
        CommandKind::Fetch | CommandKind::Store | CommandKind::Search
    )
}
