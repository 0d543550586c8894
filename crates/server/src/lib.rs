//! mailroom-server: the network layer and the protocol sessions.
//!
//! Map:
//! - [`config`]: the configuration tree, every value with an embedded default.
//! - [`net`]: listeners, the [`net::Stream`] type (plain, TLS, stdio; STARTTLS upgrade),
//!   channel limits, session ids, shutdown; [`net::tls`] loads or generates certificates.
//! - [`server`]: [`server::start`] opens the directory and the store, binds every
//!   listener and the admin socket, and returns a [`server::Running`] handle.
//! - [`deliver`]: the delivery path shared by LMTP and `mailroom deliver` (router,
//!   aliases, trace header fields, durable append into INBOX).
//! - [`lmtp`], [`pop3`], [`imap`]: one module per protocol; each has a `serve` entry
//!   point with the [`net::SessionFn`] signature.
//! - [`submit`]: message submission (POP3 `XTND XMIT`, P6): local delivery and relay
//!   through the smarthost with [`smtp_client`].
//! - [`popbsmtp`]: POP-before-SMTP (P13): the registry of recently logged-in client
//!   addresses and the Postfix policy service.
//! - [`access`]: ACL evaluation (RFC 4314), foreign/public/alias mailbox names, POP3
//!   `mailbox#account`, quota checks; the sessions call it, it holds no session state.
//! - [`service`]: `$Service` messages, left out of ordinary mailbox views (I12).
//! - [`smime`]: S/MIME-encrypted copies (`COPY`/`MOVE … ENCRYPTED`, I13): the recipient
//!   certificate and a stored message streamed into an enveloped-data message.
//! - [`limits`]: abuse limits shared by the sessions: the login penalty per address and
//!   account, pre-login connections per address, sessions per account and address.
//! - [`registry`]: live sessions for `mailroom sessions` and the web admin's monitor
//!   (which can close one); [`admin`]: the local admin socket; [`reload`]: the
//!   configuration and TLS certificate re-read while running (SIGHUP, `mailroom reload`).
//! - [`metrics`]: the statistics the sessions record (I9), through the `metrics` facade.
//! - [`settings`]: per-module settings changed live (log levels, channel limits), kept in
//!   `settings.toml`.
//!
//! Does not live here: parsing (in `mailroom-proto`, pure), storage (`mailroom-store`),
//! accounts and passwords (`mailroom-directory`), command-line handling (the binary).
//!
//! Architecture invariant: sessions never touch the filesystem; message content comes from
//! the store as a handle, account data from the directory.

#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod access;
pub mod admin;
pub mod config;
pub mod deliver;
pub mod imap;
pub mod limits;
pub mod lmtp;
pub mod metrics;
pub mod net;
pub mod pop3;
pub mod popbsmtp;
pub mod registry;
pub mod reload;
pub mod server;
pub mod service;
pub mod settings;
pub mod smime;
pub mod smtp_client;
pub mod submit;

use mailroom_directory::Directory;
use mailroom_store::Store;
use std::sync::Arc;
use std::time::Instant;
use tokio_rustls::TlsAcceptor;

pub use config::Config;

/// What every session shares: configuration, directory, store, TLS, registry, shutdown.
pub struct Ctx {
    /// The configuration in force (see [`Ctx::config`]; replaced by a reload).
    pub(crate) live_config: std::sync::RwLock<Arc<Config>>,
    /// Domains, accounts, aliases, router, alerts.
    pub directory: Arc<Directory>,
    /// The mail store.
    pub store: Arc<dyn Store>,
    /// TLS for implicit-TLS listeners and STARTTLS/STLS; `None` when TLS is unavailable.
    pub tls: Option<TlsAcceptor>,
    /// Where the acceptor takes its certificate from (replaced by a reload).
    pub tls_certs: Option<Arc<net::tls::Certs>>,
    /// How a reload reads the configuration again (set by the binary).
    pub reloader: std::sync::OnceLock<Box<dyn reload::Reloader>>,
    /// Live sessions.
    pub registry: Arc<registry::Registry>,
    /// Becomes true when the server shuts down.
    pub shutdown: net::Shutdown,
    /// Bumped whenever an alert is posted (by the admin socket, when the CLI adds one), so
    /// sessions re-read pending alerts (I7) without querying the directory per command.
    pub alerts: tokio::sync::watch::Sender<u64>,
    /// When the server started.
    pub started: Instant,
    /// POP-before-SMTP (P13): client addresses that logged in recently. Sessions call
    /// `ctx.relay.record(ip)` after every successful login.
    pub relay: Arc<popbsmtp::RelayRegistry>,
    /// Login penalties, pre-login connections per address, sessions per account and
    /// address (issue 14).
    pub limits: Arc<limits::Limits>,
    /// Per-module settings changed while the server runs (P11, I14: log levels, channel
    /// limits), kept in `settings.toml` of the data directory.
    pub settings: Arc<settings::Settings>,
}

impl Ctx {
    /// The configuration in force now. Sessions read it when they need a value, so a
    /// reload reaches them at their next read.
    pub fn config(&self) -> Arc<Config> {
        self.live_config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Runs blocking directory work (SQLite, password hashing) off the async threads.
    pub async fn dir<T, F>(&self, f: F) -> T
    where
        F: FnOnce(&Directory) -> T + Send + 'static,
        T: Send + 'static,
    {
        let d = self.directory.clone();
        match tokio::task::spawn_blocking(move || f(&d)).await {
            Ok(v) => v,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }

    /// Tells sessions that alerts were posted.
    pub fn alerts_changed(&self) {
        self.alerts.send_modify(|g| *g += 1);
    }
}
