//! What each subcommand does: one file per subcommand of `cli::Cmd`, each
//! with a `run` that does the work and returns the process exit code, plus
//! `open_directory`, which the administrative subcommands share.
//!
//! The clap definitions live in `cli.rs`, the dispatch in `main.rs`, logging set-up in
//! `logging.rs`.

pub mod account;
pub mod alert;
pub mod alias;
pub mod check_config;
pub mod deliver;
pub mod domain;
pub mod mailbox;
pub mod pop3;
pub mod router;
pub mod serve;
pub mod sessions;

use anyhow::{Context, Result};
use mailroom_directory::Directory;
use mailroom_server::Config;

pub fn open_directory(config: &Config) -> Result<Directory> {
    let data = &config.server.data_dir;
    std::fs::create_dir_all(data).with_context(|| format!("data directory {}", data.display()))?;
    Ok(Directory::open(
        &data.join("directory.db"),
        &config.server.main_domain,
    )?)
}
