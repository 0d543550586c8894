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
pub mod message;
pub mod pop3;
pub mod reload;
pub mod router;
pub mod serve;
pub mod sessions;

use anyhow::{Context, Result};
use mailroom_directory::Directory;
use mailroom_server::config::StoreBackend;
use mailroom_server::Config;
use mailroom_store::maildir::MaildirStore;
use mailroom_store::{Store, StoreError};
use mailroom_store_postgres::{PgOptions, PgStore};
use std::sync::Arc;

/// Opens the mail store the configuration names (`[store] backend`): Maildir files plus
/// a SQLite index per account under `<data>/mail` (the default), or a PostgreSQL database
/// shared by every node (`url`, `pool_size`, `schema`; the schema is migrated and the
/// change feed started before this returns). The binary alone picks the backend;
/// `mailroom-server` only sees `dyn Store`. Call it on the runtime that will use the
/// store: the PostgreSQL backend spawns its change feed there.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StoreError> {
    let store: Arc<dyn Store> = match config.store.backend {
        StoreBackend::Maildir => MaildirStore::open(config.server.data_dir.join("mail"))?,
        StoreBackend::Postgres => PgStore::connect(PgOptions {
            url: config.store.url.clone(),
            pool_size: config.store.pool_size,
            schema: config.store.schema.clone(),
        })
        .await
        .map_err(|e| match e {
            // The driver's messages never include the password.
            StoreError::Index(m) => StoreError::Index(format!("[store] url: {m}")),
            e => e,
        })?,
    };
    Ok(store)
}

/// Opens the mail store of an existing account (`name` or `name@domain`), with the
/// directory's view of it, on a runtime of the caller's. For the subcommands that work
/// on mail while the server may run (the store is shared between processes).
pub async fn open_account(
    config: &Config,
    dir: &Directory,
    name: &str,
) -> Result<(
    mailroom_directory::AccountInfo,
    Arc<dyn mailroom_store::Account>,
)> {
    let info = dir.account(name)?;
    let (d, n) = info.store_key();
    let key = mailroom_store::AccountKey::new(&d, &n)
        .with_context(|| format!("{}: not a valid store key", info.address()))?;
    let store = open_store(config).await?;
    let account = store.open_account(&key).await?;
    Ok((info, account))
}

/// A small runtime for the subcommands that call the store.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

pub fn open_directory(config: &Config) -> Result<Directory> {
    let data = &config.server.data_dir;
    std::fs::create_dir_all(data).with_context(|| format!("data directory {}", data.display()))?;
    Ok(Directory::open(
        &data.join("directory.db"),
        &config.server.main_domain,
    )?)
}
