//! What each subcommand does: one file per subcommand of `cli::Cmd`, each
//! with a `run` that does the work and returns the process exit code, plus
//! `open_directory`, which the administrative subcommands share, and `open_store`, the one
//! place that picks the storage backend.
//!
//! The clap definitions live in `cli.rs`, the dispatch in `main.rs`, logging set-up in
//! `logging.rs`.

pub mod account;
pub mod alert;
pub mod alias;
pub mod check_config;
pub mod deliver;
pub mod domain;
pub mod import;
pub mod mailbox;
pub mod pop3;
pub mod router;
pub mod serve;
pub mod sessions;

use anyhow::{Context, Result};
use mailroom_directory::Directory;
use mailroom_server::Config;
use mailroom_store::maildir::MaildirStore;
use mailroom_store::{Store, StoreError};
use std::sync::Arc;

/// Opens the mail store under `<data>/mail`. The binary alone picks the backend (Maildir
/// files plus a SQLite index per account); `mailroom-server` only sees `dyn Store`.
pub fn open_store(config: &Config) -> Result<Arc<dyn Store>, StoreError> {
    let store: Arc<dyn Store> = MaildirStore::open(config.server.data_dir.join("mail"))?;
    Ok(store)
}

pub fn open_directory(config: &Config) -> Result<Directory> {
    let data = &config.server.data_dir;
    std::fs::create_dir_all(data).with_context(|| format!("data directory {}", data.display()))?;
    Ok(Directory::open(
        &data.join("directory.db"),
        &config.server.main_domain,
    )?)
}
