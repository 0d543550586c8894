//! `mailroom serve`: the listener flags over the configuration, the async runtime, the
//! listening addresses on standard output, a reload on SIGHUP (the configuration file and
//! the TLS certificate read again, see `mailroom_server::reload`), and a graceful stop on
//! SIGTERM or Ctrl-C.
//!
//! The listeners and sessions themselves live in `mailroom-server` (`server::start`);
//! the web admin and `/metrics` in `mailroom-web` (`start`), over the same shared state.

use crate::cli::ServeArgs;
use crate::logging::{init_logging, LogLevels};
use anyhow::{anyhow, Context, Result};
use mailroom_server::Config;
use std::io::Write;
use std::net::SocketAddr;
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
        let store = super::open_store(&config)?;
        let admin_listen = config.admin.listen.clone();
        let running = mailroom_server::server::start(config, store).await?;
        let _ = running.ctx.reloader.set(Box::new(source));
        if let Some(hook) = log_hook {
            running.ctx.settings.on_log_change(hook);
        }
        let admin = mailroom_web::start(running.ctx.clone(), &admin_listen, prometheus).await?;
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
