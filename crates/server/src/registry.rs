//! The registry of live sessions (I9, I14): what `mailroom sessions` shows, read from the
//! running server over the local admin socket.
//!
//! A session registers when it starts and is removed when its [`SessionHandle`] drops.
//! The per-session entry is small (a few words and the account name) so that idle
//! connections stay cheap.
//!
//! An administrator can close a session ([`Registry::close`], the web admin's monitor):
//! the session is marked and every session's [`CloseSignal`] wakes; the marked one says
//! `BYE` (IMAP), `-ERR` (POP3) or `421` (LMTP) at its next read wait (or in IDLE) and
//! ends like a session at shutdown. A command that is running finishes first.

use crate::net::ConnInfo;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Entry {
    label: String,
    peer: Option<std::net::SocketAddr>,
    since: Instant,
    account: Option<String>,
    state: &'static str,
    command: Option<(&'static str, Instant)>,
    /// An administrator asked to close the session.
    closing: bool,
}

/// All live sessions.
pub struct Registry {
    entries: Mutex<BTreeMap<u64, Entry>>,
    /// Bumped whenever a session is marked for closing: wakes every [`CloseSignal`].
    kick: tokio::sync::watch::Sender<u64>,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry {
            entries: Mutex::default(),
            kick: tokio::sync::watch::Sender::new(0),
        }
    }
}

/// Resolves when an administrator closes one session (see [`SessionHandle::close_signal`]).
pub struct CloseSignal {
    registry: Arc<Registry>,
    rx: tokio::sync::watch::Receiver<u64>,
    id: u64,
}

impl CloseSignal {
    /// Waits until the session is marked for closing (at once if it already is).
    pub async fn wait(&mut self) {
        loop {
            if self.registry.is_closing(self.id) {
                return;
            }
            if self.rx.changed().await.is_err() {
                // The registry is gone with the server: never.
                std::future::pending::<()>().await;
            }
        }
    }
}

/// One session's registration; dropping it removes the session from the registry.
pub struct SessionHandle {
    registry: Arc<Registry>,
    id: u64,
}

/// A session as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionView {
    /// The session id (the number in the label).
    pub id: u64,
    pub label: String,
    pub peer: Option<std::net::SocketAddr>,
    pub connected_for: Duration,
    pub account: Option<String>,
    pub state: &'static str,
    /// The command being run and for how long.
    pub command: Option<(&'static str, Duration)>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a new session in state `state`.
    pub fn register(self: &Arc<Self>, info: &ConnInfo, state: &'static str) -> SessionHandle {
        self.lock().insert(
            info.id,
            Entry {
                label: info.label(),
                peer: info.peer,
                since: Instant::now(),
                account: None,
                state,
                command: None,
                closing: false,
            },
        );
        SessionHandle {
            registry: self.clone(),
            id: info.id,
        }
    }

    /// Number of live sessions.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no session is live.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// A snapshot of every live session, by id.
    pub fn list(&self) -> Vec<SessionView> {
        let now = Instant::now();
        self.lock()
            .iter()
            .map(|(id, e)| SessionView {
                id: *id,
                label: e.label.clone(),
                peer: e.peer,
                connected_for: now.saturating_duration_since(e.since),
                account: e.account.clone(),
                state: e.state,
                command: e
                    .command
                    .map(|(c, t)| (c, now.saturating_duration_since(t))),
            })
            .collect()
    }

    fn is_closing(&self, id: u64) -> bool {
        self.lock().get(&id).is_some_and(|e| e.closing)
    }

    /// Asks the session `id` to close (it ends at its next read wait, after the command
    /// it is running). False when there is no such session.
    pub fn close(&self, id: u64) -> bool {
        let found = match self.lock().get_mut(&id) {
            Some(e) => {
                e.closing = true;
                true
            }
            None => false,
        };
        if found {
            self.kick.send_modify(|g| *g = g.wrapping_add(1));
        }
        found
    }

    /// The listing `mailroom sessions` prints: a header and one line per session.
    pub fn render(&self) -> String {
        let mut out = String::from("SESSION\tPEER\tACCOUNT\tSTATE\tCONNECTED\tCOMMAND\n");
        for s in self.list() {
            let cmd = match s.command {
                Some((c, d)) => format!("{c} ({}.{:03}s)", d.as_secs(), d.subsec_millis()),
                None => "-".into(),
            };
            out.push_str(&format!(
                "{}\t{}\t{}\t{}\t{}s\t{}\n",
                s.label,
                s.peer
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "stdio".into()),
                s.account.as_deref().unwrap_or("-"),
                s.state,
                s.connected_for.as_secs(),
                cmd
            ));
        }
        out
    }
}

impl SessionHandle {
    /// What the session's read waits select on, to end when an administrator closes it.
    pub fn close_signal(&self) -> CloseSignal {
        CloseSignal {
            rx: self.registry.kick.subscribe(),
            registry: self.registry.clone(),
            id: self.id,
        }
    }
    fn with(&self, f: impl FnOnce(&mut Entry)) {
        if let Some(e) = self.registry.lock().get_mut(&self.id) {
            f(e);
        }
    }
    /// Records the logged-in account (`name@domain`).
    pub fn set_account(&self, account: &str) {
        let a = account.to_string();
        self.with(|e| e.account = Some(a));
    }
    /// Forgets the account (IMAP UNAUTHENTICATE).
    pub fn clear_account(&self) {
        self.with(|e| e.account = None);
    }
    /// Records the protocol state (`not authenticated`, `selected`, `transaction`...).
    pub fn set_state(&self, state: &'static str) {
        self.with(|e| e.state = state);
    }
    /// A command began.
    pub fn begin_command(&self, name: &'static str) {
        self.with(|e| e.command = Some((name, Instant::now())));
    }
    /// The command ended.
    pub fn end_command(&self) {
        self.with(|e| e.command = None);
    }
}

impl Drop for SessionHandle {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}
