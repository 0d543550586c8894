//! Starting and stopping the server: opens the data directory (directory, TLS), binds
//! every configured listener and the admin socket, and spawns the accept loops.
//!
//! Architecture invariant: the mail store comes from the caller as an `Arc<dyn Store>`.
//! The binary alone picks the storage backend; nothing in this crate names one.

use crate::config::Config;
use crate::net::{self, Protocol, SessionFn, ShutdownTrigger};
use crate::registry::Registry;
use crate::Ctx;
use mailroom_directory::Directory;
use mailroom_store::Store;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Why the server could not start (the operator's configuration or the system).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("directory: {0}")]
    Directory(#[from] mailroom_directory::DirError),
    #[error("store: {0}")]
    Store(#[from] mailroom_store::StoreError),
    #[error("TLS: {0}")]
    Tls(#[from] net::tls::TlsError),
    #[error("{0}")]
    Listen(std::io::Error),
    #[error("admin socket {path}: {source}")]
    Admin {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Opens (creating on first use) the data directory and its `directory.db`. The mail
/// store is not opened here: the binary picks the backend and hands it to [`context`]
/// or [`start`].
pub fn open_directory(config: &Config) -> Result<Arc<Directory>, StartError> {
    let data = &config.server.data_dir;
    std::fs::create_dir_all(data).map_err(|source| StartError::DataDir {
        path: data.clone(),
        source,
    })?;
    let directory = Directory::open(&data.join("directory.db"), &config.server.main_domain)?;
    Ok(Arc::new(directory))
}

/// A running server.
pub struct Running {
    /// Every bound listener: protocol, implicit TLS, address.
    pub listeners: Vec<(Protocol, bool, SocketAddr)>,
    /// The POP-before-SMTP policy service's address, when enabled (P13).
    pub policy: Option<SocketAddr>,
    /// The shared state (tests use it to reach the directory and the store).
    pub ctx: Arc<Ctx>,
    trigger: ShutdownTrigger,
    tasks: JoinSet<()>,
}

impl Running {
    /// The first address of a protocol's clear-text (`tls` false) or implicit-TLS listener.
    pub fn addr(&self, protocol: Protocol, tls: bool) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|(p, t, _)| *p == protocol && *t == tls)
            .map(|(_, _, a)| *a)
    }

    /// Graceful shutdown: stop accepting, tell sessions (they finish the command at hand
    /// and say goodbye), wait up to the grace period, then drop whatever is left.
    pub async fn shutdown(mut self) {
        self.trigger.trigger();
        let grace = Duration::from_secs(self.ctx.config().server.shutdown_grace_secs);
        let deadline = Instant::now() + grace;
        while self.tasks.join_next().await.is_some() {}
        while !self.ctx.registry.is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let sock = admin_path(&self.ctx.config());
        let _ = std::fs::remove_file(sock);
    }
}

/// The admin socket's path.
pub fn admin_path(config: &Config) -> PathBuf {
    let p = &config.server.admin_socket;
    if p.is_absolute() {
        p.clone()
    } else {
        config.server.data_dir.join(p)
    }
}

/// Builds the shared state without binding anything: opens the directory, takes the mail
/// `store` the caller opened, and, with `with_tls`, sets up TLS (generating a self-signed
/// certificate on first start when none is configured). Used by [`start`] and by
/// `mailroom pop3 --stdio`.
pub fn context(
    config: Config,
    store: Arc<dyn Store>,
    with_tls: bool,
) -> Result<(Arc<Ctx>, ShutdownTrigger), StartError> {
    let config = Arc::new(config);
    let directory = open_directory(&config)?;
    let (tls, tls_certs) = if with_tls {
        let (a, c) = net::tls::acceptor(
            &config.tls,
            &config.server.data_dir,
            &config.server.hostname,
        )?;
        (Some(a), Some(c))
    } else {
        (None, None)
    };
    let (trigger, shutdown) = net::shutdown_pair();
    let relay_ttl = Duration::from_secs(config.popbsmtp.ttl_secs);
    let limits = crate::limits::Limits::new(&config.server);
    let settings = Arc::new(crate::settings::Settings::new(&config));
    let ctx = Arc::new(Ctx {
        live_config: std::sync::RwLock::new(config),
        directory,
        store,
        tls,
        tls_certs,
        reloader: std::sync::OnceLock::new(),
        registry: Arc::new(Registry::default()),
        shutdown,
        alerts: tokio::sync::watch::channel(0).0,
        started: Instant::now(),
        relay: Arc::new(crate::popbsmtp::RelayRegistry::new(relay_ttl)),
        limits,
        settings,
    });
    Ok((ctx, trigger))
}

/// Starts the server over the mail `store` the caller opened: opens the directory, sets
/// up TLS (generating a self-signed certificate on first start when none is configured),
/// binds every listener of the config and the admin socket, and begins accepting.
pub async fn start(config: Config, store: Arc<dyn Store>) -> Result<Running, StartError> {
    start_with(config, store, Vec::new()).await
}

/// As [`start`], with listeners already open (systemd socket activation, see
/// [`net::activation`]): `passed` holds protocol, implicit TLS and socket. The passed
/// sockets of a protocol (and TLS mode) replace its configured addresses, which are then
/// not bound; the others are bound from the configuration.
pub async fn start_with(
    config: Config,
    store: Arc<dyn Store>,
    mut passed: Vec<(Protocol, bool, std::net::TcpListener)>,
) -> Result<Running, StartError> {
    let (ctx, trigger) = context(config, store, true)?;
    let config = ctx.config().clone();
    let plan: [(Protocol, bool, &Vec<SocketAddr>, SessionFn); 5] = [
        (
            Protocol::Imap,
            false,
            &config.imap.listen,
            crate::imap::serve,
        ),
        (
            Protocol::Imap,
            true,
            &config.imap.listen_tls,
            crate::imap::serve,
        ),
        (
            Protocol::Pop3,
            false,
            &config.pop3.listen,
            crate::pop3::serve,
        ),
        (
            Protocol::Pop3,
            true,
            &config.pop3.listen_tls,
            crate::pop3::serve,
        ),
        (
            Protocol::Lmtp,
            false,
            &config.lmtp.listen,
            crate::lmtp::serve,
        ),
    ];
    let mut bound = Vec::new();
    for (protocol, tls, addrs, session) in plan {
        // One channel limit per protocol, shared by its listeners, changed live by the
        // web admin (`Ctx::settings`).
        let limit = ctx.settings.channels(protocol).clone();
        let (mine, rest) = passed
            .into_iter()
            .partition::<Vec<_>, _>(|(p, t, _)| *p == protocol && *t == tls);
        passed = rest;
        if !mine.is_empty() {
            for (_, _, l) in mine {
                let b = net::adopt(protocol, tls, l).map_err(StartError::Listen)?;
                bound.push((b, limit.clone(), session));
            }
            continue;
        }
        for addr in addrs {
            let b = net::bind(protocol, tls, *addr)
                .await
                .map_err(StartError::Listen)?;
            bound.push((b, limit.clone(), session));
        }
    }

    let policy = if config.popbsmtp.enabled {
        Some(
            crate::popbsmtp::bind(config.popbsmtp.listen)
                .await
                .map_err(StartError::Listen)?,
        )
    } else {
        None
    };

    let admin = crate::admin::bind(&admin_path(&config))
        .map_err(|(path, source)| StartError::Admin { path, source })?;

    let mut tasks = JoinSet::new();
    let mut listeners = Vec::new();
    for (b, limit, session) in bound {
        let addr = b.local_addr().map_err(StartError::Listen)?;
        listeners.push((b.protocol, b.implicit_tls, addr));
        tasks.spawn(net::accept_loop(ctx.clone(), b, limit, session));
    }
    tasks.spawn(crate::admin::serve(ctx.clone(), admin));
    let policy = match policy {
        Some(l) => {
            let addr = l.local_addr().map_err(StartError::Listen)?;
            tracing::info!(%addr, "POP-before-SMTP policy service listening");
            tasks.spawn(crate::popbsmtp::serve(ctx.clone(), l));
            Some(addr)
        }
        None => None,
    };
    Ok(Running {
        listeners,
        policy,
        ctx,
        trigger,
        tasks,
    })
}

/// A configuration for tests and tools: everything on `127.0.0.1:0` under `data`.
pub fn test_config(data: &Path) -> Config {
    let any: SocketAddr = "127.0.0.1:0".parse().expect("literal address");
    let mut c = Config::default();
    c.server.data_dir = data.to_path_buf();
    c.server.hostname = "mailroom.test".into();
    c.server.shutdown_grace_secs = 2;
    // Tests exercise every mechanism; the default leaves CRAM-MD5 off.
    c.server.cram_md5 = true;
    // Every test connects from 127.0.0.1, many at once: the connection limits are off
    // unless a test (tests/limits.rs) turns them on. The login penalty is the default.
    c.server.max_prelogin_per_ip = 0;
    c.server.max_userip_connections = 0;
    c.imap.listen = vec![any];
    c.imap.listen_tls = vec![any];
    c.pop3.listen = vec![any];
    c.pop3.listen_tls = vec![any];
    c.lmtp.listen = vec![any];
    // The web admin is started by the binary (`mailroom-web`), never by `start`.
    c.admin.listen = vec![any];
    c
}
