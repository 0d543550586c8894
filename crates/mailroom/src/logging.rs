//! Logging set-up for the subcommands that run sessions or deliver (`serve`, `deliver`,
//! `pop3 --stdio`): per-module levels from the configuration, `RUST_LOG` over them.
//!
//! What is logged lives with the code that logs it (mostly `mailroom-server`).

use mailroom_server::config::LogLevel;
use mailroom_server::settings::Levels;
use mailroom_server::Config;

/// Applies new per-module levels to the running log filter (the web admin's settings).
pub type LevelsHook = Box<dyn Fn(Levels) + Send + Sync>;

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

/// Sets up logging: per-module levels from the config; `RUST_LOG` overrides. Returns
/// what changes the levels while the process runs (`None` when `RUST_LOG` is set or a
/// logger was already installed).
pub fn init_logging(config: &Config) -> Option<LevelsHook> {
    use tracing_subscriber::EnvFilter;
    let from_env = EnvFilter::try_from_default_env().ok();
    let fixed = from_env.is_some();
    let filter = from_env.unwrap_or_else(|| EnvFilter::new(spec(Levels::of(config))));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter_reloading();
    let handle = builder.reload_handle();
    builder.try_init().ok()?;
    if fixed {
        return None;
    }
    Some(Box::new(move |l: Levels| {
        let _ = handle.reload(EnvFilter::new(spec(l)));
    }))
}
