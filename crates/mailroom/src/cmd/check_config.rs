//! `mailroom check-config`: the configuration file was loaded (with located errors) before
//! any subcommand runs; this one says so and, with `[store] backend = "postgres"`, checks
//! that the database answers (without migrating it).
//!
//! Loading and its error messages live in `config_file.rs`.

use anyhow::{Context, Result};
use mailroom_server::config::StoreBackend;
use mailroom_server::Config;
use std::path::Path;
use std::process::ExitCode;

pub fn run(config_file: Option<&Path>, config: &Config) -> Result<ExitCode> {
    if config.store.backend == StoreBackend::Postgres {
        let opts = mailroom_store_postgres::PgOptions {
            url: config.store.url.clone(),
            pool_size: config.store.pool_size,
            schema: config.store.schema.clone(),
        };
        let rt = super::runtime()?;
        let state = rt
            .block_on(mailroom_store_postgres::check(&opts))
            .context("[store] url: the PostgreSQL database does not answer")?;
        println!("store: {state} (OK)");
    }
    match config_file {
        Some(p) => println!("{}: OK", p.display()),
        None => println!("no --config given: the embedded default is in force (OK)"),
    }
    Ok(ExitCode::SUCCESS)
}
