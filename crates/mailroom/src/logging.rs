//! Logging set-up for the subcommands that run sessions or deliver (`serve`, `deliver`,
//! `pop3 --stdio`): per-module levels from the configuration, `RUST_LOG` over them, as
//! text or JSON lines (`[server] log_format`). The levels can be changed while running
//! ([`LogLevels::apply`] on a reload, [`LogLevels::hook`] for the web admin's settings);
//! the format cannot.
//!
//! What is logged lives with the code that logs it (mostly `mailroom-server`).

use mailroom_server::config::{LogFormat, LogLevel};
use mailroom_server::settings::Levels;
use mailroom_server::Config;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

/// Applies new per-module levels to the running log filter (the web admin's settings).
pub type LevelsHook = Box<dyn Fn(Levels) + Send + Sync>;

/// The handle that changes the levels of the running logger.
#[derive(Clone)]
pub struct LogLevels {
    handle: reload::Handle<EnvFilter, Registry>,
    /// `RUST_LOG` was set: it stays in force.
    from_env: bool,
}

impl LogLevels {
    /// Puts the configuration's levels in force (unless `RUST_LOG` overrides them).
    pub fn apply(&self, config: &Config) {
        self.set(Levels::of(config));
    }

    /// Puts `levels` in force (unless `RUST_LOG` overrides them).
    pub fn set(&self, levels: Levels) {
        if self.from_env {
            return;
        }
        if let Err(e) = self.handle.reload(EnvFilter::new(spec(levels))) {
            tracing::warn!(error = %e, "log levels not changed");
        }
    }

    /// What the web admin's settings call when a level changes (`None` while `RUST_LOG`
    /// is in force).
    pub fn hook(&self) -> Option<LevelsHook> {
        if self.from_env {
            return None;
        }
        let me = self.clone();
        Some(Box::new(move |l: Levels| me.set(l)))
    }
}

/// The filter directives of per-module levels.
fn spec(l: Levels) -> String {
    let lvl = |l: LogLevel| match l.tracing_level() {
        None => "off".to_string(),
        Some(t) => t.as_str().to_ascii_lowercase(),
    };
    // Start and stop are "major" events: shown at every level but Nothing.
    let major = if l.log == LogLevel::Nothing {
        "off"
    } else {
        "info"
    };
    format!(
        "{},mailroom_major={major},mailroom_server::imap={},mailroom_server::pop3={},mailroom_server::lmtp={}",
        lvl(l.log),
        lvl(l.imap),
        lvl(l.pop3),
        lvl(l.lmtp)
    )
}

/// Sets up logging: per-module levels from the config; `RUST_LOG` overrides.
pub fn init_logging(config: &Config) -> LogLevels {
    let env = EnvFilter::try_from_default_env().ok();
    let from_env = env.is_some();
    let filter = env.unwrap_or_else(|| EnvFilter::new(spec(Levels::of(config))));
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
