//! `mailroom sessions`: lists the live sessions of the running server, asked over its
//! admin socket.
//!
//! The socket and the session registry live in `mailroom-server` (`admin.rs`,
//! `registry.rs`).

use anyhow::{Context, Result};
use mailroom_server::Config;
use std::process::ExitCode;

pub fn run(config: &Config) -> Result<ExitCode> {
    let sock = mailroom_server::server::admin_path(config);
    let out = mailroom_server::admin::request(&sock, "sessions").with_context(|| {
        format!("no running server answers on {} (is `mailroom serve` running with this data directory?)", sock.display())
    })?;
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}
