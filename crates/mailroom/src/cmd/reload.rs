//! `mailroom reload`: makes the running server read its configuration and TLS
//! certificate again (as SIGHUP does), through its admin socket, and prints what was done.
//!
//! The reload itself lives in `mailroom-server` (`reload.rs`).

use anyhow::{Context, Result};
use mailroom_server::Config;
use std::process::ExitCode;

pub fn run(config: &Config) -> Result<ExitCode> {
    let sock = mailroom_server::server::admin_path(config);
    let out = mailroom_server::admin::request(&sock, "reload").with_context(|| {
        format!("no running server answers on {} (is `mailroom serve` running with this data directory?)", sock.display())
    })?;
    print!("{out}");
    let failed = out.is_empty() || out.lines().any(|l| l.starts_with("error:"));
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
