//! Logging set-up for the subcommands that run sessions or deliver (`serve`, `deliver`,
//! `pop3 --stdio`): per-module levels from the configuration, `RUST_LOG` over them.
//!
//! What is logged lives with the code that logs it (mostly `mailroom-server`).

use mailroom_server::config::LogLevel;
use mailroom_server::Config;

/// Sets up logging: per-module levels from the config; `RUST_LOG` overrides.
pub fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
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
    let spec = format!(
        "{},mailroom_major={major},mailroom_server::imap={},mailroom_server::pop3={},mailroom_server::lmtp={}",
        lvl(config.log.level),
        lvl(config.imap.log_level),
        lvl(config.pop3.log_level),
        lvl(config.lmtp.log_level)
    );
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(spec));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
