//! `mailroom serve`: the listener flags over the configuration, the async runtime, the
//! listening addresses on standard output, a reload on SIGHUP (the configuration file and
//! the TLS certificate read again, see `mailroom_server::reload`), and a graceful stop on
//! SIGTERM or Ctrl-C.
//!
//! Under systemd socket activation (`packaging/mailroom.socket`) the listening sockets
//! systemd passes replace the configured addresses of their protocols
//! (`mailroom_server::net::activation`); this file only claims the descriptors.
//!
//! The listeners and sessions themselves live in `mailroom-server` (`server::start`);
//! the web admin and `/metrics` in `mailroom-web` (`start`), over the same shared state.

use crate::cli::ServeArgs;
use crate::logging::{init_logging, LogLevels};
use anyhow::{anyhow, Context, Result};
use mailroom_server::net::activation;
use mailroom_server::Config;
use std::io::Write;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// How a reload reads the configuration: the file (or the embedded default), the
/// `--data` override and the listener flags, as at start.
struct Source {
    file: Option<PathBuf>,
    data: Option<PathBuf>,
    args: ServeArgs,
    levels: LogLevels,
}

impl mailroom_server::reload::Reloader for Source {
    fn read_config(&self) -> Result<Config, String> {
        let mut config = match &self.file {
            Some(path) => crate::config_file::load(path).map_err(|e| format!("{e:#}"))?,
            None => Config::embedded(),
        };
        if let Some(d) = &self.data {
            config.server.data_dir = d.clone();
        }
        apply_args(&mut config, &self.args).map_err(|e| format!("{e:#}"))?;
        // The settings kept by the web admin stay over the file's (as at start).
        mailroom_server::settings::apply_saved(&mut config).map_err(|e| format!("{e:#}"))?;
        Ok(config)
    }

    fn applied(&self, config: &Config) {
        self.levels.apply(config);
    }
}

pub fn run(
    mut config: Config,
    args: ServeArgs,
    file: Option<PathBuf>,
    data: Option<PathBuf>,
) -> Result<ExitCode> {
    // First, before anything opens a file: the descriptors systemd passed.
    let passed = passed_sockets()?;
    apply_args(&mut config, &args)?;
    // Per-module settings changed in the web admin and kept (P11, I14).
    mailroom_server::settings::apply_saved(&mut config)?;
    let levels = init_logging(&config);
    let log_hook = levels.hook();
    // The statistics recorder, before any session records (I9).
    let prometheus = mailroom_web::install_recorder();
    let source = Source {
        file,
        data,
        args,
        levels,
    };
    // Blocking work (SQLite, password hashing, file reads) runs on a bounded pool: each
    // extra thread costs stack pages, and the work is short.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.server.worker_threads())
        .max_blocking_threads(16)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let store = super::open_store(&config).await?;
        let admin_listen = config.admin.listen.clone();
        if !passed.is_empty() {
            tracing::info!(
                target: "mailroom_major",
                listeners = passed.listeners.len(),
                admin = passed.admin.len(),
                "socket activation: using the sockets systemd passed"
            );
        }
        let running = mailroom_server::server::start_with(config, store, passed.listeners).await?;
        let _ = running.ctx.reloader.set(Box::new(source));
        if let Some(hook) = log_hook {
            running.ctx.settings.on_log_change(hook);
        }
        let admin =
            mailroom_web::start_with(running.ctx.clone(), &admin_listen, passed.admin, prometheus)
                .await?;
        {
            let mut out = std::io::stdout().lock();
            for (p, tls, addr) in &running.listeners {
                let name = match (p, tls) {
                    (mailroom_server::net::Protocol::Imap, false) => "imap",
                    (mailroom_server::net::Protocol::Imap, true) => "imaps",
                    (mailroom_server::net::Protocol::Pop3, false) => "pop3",
                    (mailroom_server::net::Protocol::Pop3, true) => "pop3s",
                    (mailroom_server::net::Protocol::Lmtp, _) => "lmtp",
                };
                writeln!(out, "{name} {addr}")?;
            }
            for addr in &admin {
                writeln!(out, "admin {addr}")?;
            }
            out.flush()?;
        }
        tracing::info!(
            target: "mailroom_major",
            data = %running.ctx.config().server.data_dir.display(),
            "mailroom {} started",
            env!("CARGO_PKG_VERSION")
        );
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut hup = signal(SignalKind::hangup())?;
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = tokio::signal::ctrl_c() => break,
                _ = hup.recv() => {
                    tracing::info!(target: "mailroom_major", "SIGHUP: reloading");
                    let ctx = Arc::clone(&running.ctx);
                    // The outcome is logged by the reload itself.
                    let _ = tokio::task::spawn_blocking(move || ctx.reload()).await;
                }
            }
        }
        tracing::info!(target: "mailroom_major", "shutting down");
        running.shutdown().await;
        tracing::info!(target: "mailroom_major", "stopped");
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The listening sockets systemd passed (socket activation), checked and mapped by name;
/// empty when the process was not started that way. `LISTEN_PID`, `LISTEN_FDS` and
/// `LISTEN_FDNAMES` are unset.
fn passed_sockets() -> Result<activation::Activated> {
    let mut fds = Vec::new();
    for (fd, name) in activation::from_env()? {
        // SAFETY: `from_env` names descriptors only when `LISTEN_PID` is this process:
        // by the `sd_listen_fds(3)` protocol, systemd (or `systemd-socket-activate`)
        // opened descriptors 3 .. 3 + LISTEN_FDS for this process and nothing else owns
        // them (being open, their numbers cannot have gone to a file this process opened).
        // Each is claimed once: the variables are unset, and this runs first in `serve`.
        // `take` then checks that it is a listening TCP socket.
        #[allow(unsafe_code)]
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        fds.push((fd, name, owned));
    }
    Ok(activation::take(fds)?)
}

/// The listener flags over the configuration.
fn apply_args(config: &mut Config, args: &ServeArgs) -> Result<()> {
    if let Some(v) = parse_addrs(&args.imap, "imap")? {
        config.imap.listen = v;
    }
    if let Some(v) = parse_addrs(&args.imaps, "imaps")? {
        config.imap.listen_tls = v;
    }
    if let Some(v) = parse_addrs(&args.pop3, "pop3")? {
        config.pop3.listen = v;
    }
    if let Some(v) = parse_addrs(&args.pop3s, "pop3s")? {
        config.pop3.listen_tls = v;
    }
    if let Some(v) = parse_addrs(&args.lmtp, "lmtp")? {
        config.lmtp.listen = v;
    }
    if let Some(v) = parse_addrs(&args.admin, "admin")? {
        config.admin.listen = v;
    }
    Ok(())
}

fn parse_addrs(list: &[String], what: &str) -> Result<Option<Vec<SocketAddr>>> {
    if list.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for a in list {
        if a == "off" || a == "none" {
            continue;
        }
        out.push(
            a.parse::<SocketAddr>()
                .map_err(|e| anyhow!("--{what} {a}: {e} (expected IP:PORT or `off`)"))?,
        );
    }
    Ok(Some(out))
}
