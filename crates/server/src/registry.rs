//! The registry of live sessions (I9, I14): what `mailroom sessions` shows, read from the
//! running server over the local admin socket.
//!
//! A session registers when it starts and is removed when its [`SessionHandle`] drops.
//! The per-session entry is small (a few words and the account name) so that idle
//! connections stay cheap.

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
}

/// All live sessions.
#[derive(Default)]
pub struct Registry {
    entries: Mutex<BTreeMap<u64, Entry>>,
}

/// One session's registration; dropping it removes the session from the registry.
pub struct SessionHandle {
    registry: Arc<Registry>,
    id: u64,
}

/// A session as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionView {
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
            .values()
            .map(|e| SessionView {
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
