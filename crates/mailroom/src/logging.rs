//! Logging set-up for the subcommands that run sessions or deliver (`serve`, `deliver`,
//! `pop3 --stdio`): per-module levels from the configuration, `RUST_LOG` over them, as
//! text or JSON lines (`[server] log_format`). The levels can be changed while running
//! ([`LogLevels::apply`], on a reload); the format cannot.
//!
//! What is logged lives with the code that logs it (mostly `mailroom-server`).

use mailroom_server::config::{LogFormat, LogLevel};
use mailroom_server::Config;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

/// The handle that changes the levels of the running logger.
pub struct LogLevels {
    handle: reload::Handle<EnvFilter, Registry>,
    /// `RUST_LOG` was set: it stays in force.
    from_env: bool,
}

impl LogLevels {
    /// Puts the configuration's levels in force (unless `RUST_LOG` overrides them).
    pub fn apply(&self, config: &Config) {
        if self.from_env {
            return;
        }
        if let Err(e) = self.handle.reload(EnvFilter::new(spec(config))) {
            tracing::warn!(error = %e, "log levels not changed");
        }
    }
}

/// The filter directives for the configured levels.
fn spec(config: &Config) -> String {
    let lvl = |l: LogLevel| match l.tracing_level() {
        None => "off".to_string(),
        Some(t) => t.as_str().to_ascii_lowercase(),
    };
    // Start and stop are "major" events: shown at every level but Nothing.
    let major = if config.log.level == LogLevel::Nothing {
        "off"
    } else {
        "info"
    };
    format!(
        "{},mailroom_major={major},mailroom_server::imap={},mailroom_server::pop3={},mailroom_server::lmtp={}",
        lvl(config.log.level),
        lvl(config.imap.log_level),
        lvl(config.pop3.log_level),
        lvl(config.lmtp.log_level)
    )
}

/// Sets up logging: per-module levels from the config; `RUST_LOG` overrides.
pub fn init_logging(config: &Config) -> LogLevels {
    let env = EnvFilter::try_from_default_env().ok();
    let from_env = env.is_some();
    let filter = env.unwrap_or_else(|| EnvFilter::new(spec(config)));
    let (filter, handle) = reload::Layer::new(filter);
    let registry = tracing_subscriber::registry().with(filter);
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match config.server.log_format {
        LogFormat::Text => registry
            .with(fmt.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())))
            .try_init(),
        // One object a line: `timestamp`, `level`, `fields` (with `message`), and the
        // session span (`span`, `spans`).
        LogFormat::Json => registry.with(fmt.json().with_ansi(false)).try_init(),
    };
    LogLevels { handle, from_env }
}
