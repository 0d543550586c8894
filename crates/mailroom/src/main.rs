//! The `mailroom` binary: command-line interface, configuration file, wiring.
//!
//! The command-line contract (stable; extended, never broken):
//! ```text
//! mailroom [--config FILE] [--data DIR] serve [--imap ADDR] [--imaps ADDR] [--pop3 ADDR] [--pop3s ADDR] [--lmtp ADDR]
//! mailroom [--data DIR] domain add|remove|list [NAME]
//! mailroom [--data DIR] account add NAME[@DOMAIN] (--password PASS | --password-stdin | --password-hash HASH)
//! mailroom [--data DIR] account passwd|remove|list ...
//! mailroom [--data DIR] account import FILE        # passwd-file lines NAME:{SCHEME}HASH[:...]
//! mailroom [--data DIR] account mail-secret NAME[@DOMAIN]        # APOP/CRAM secret from stdin
//! mailroom [--data DIR] account quota NAME[@DOMAIN] SIZE|none [--messages N|none]
//! mailroom [--data DIR] alias add ADDRESS TARGET
//! mailroom [--data DIR] mailbox alias add|remove|list ACCOUNT [NAME [TARGET]]
//! mailroom [--data DIR] router add 'client1.com = cl1.local'
//! mailroom [--data DIR] deliver --to ADDRESS [--from ADDRESS] < message
//! ```
//! plus `check-config`, `alert add|list|remove`, `sessions` and `pop3 --stdio`.

//!
//! Layout: `cli.rs` the clap grammar, `cmd/<subcommand>.rs` what each subcommand does,
//! `config_file.rs` TOML loading with located errors, `logging.rs` the log set-up; this
//! file loads the configuration and dispatches.

mod cli;
mod cmd;
mod config_file;
mod logging;

use anyhow::Result;
use clap::Parser;
use cli::{Cli, Cmd};
use mailroom_server::Config;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mailroom: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// The configuration in force: the file (if any) over the defaults, `--data` over both.
fn load_config(cli: &Cli) -> Result<Config> {
    let mut config = match &cli.config {
        Some(path) => config_file::load(path)?,
        None => Config::embedded(),
    };
    if let Some(d) = &cli.data {
        config.server.data_dir = d.clone();
    }
    Ok(config)
}

fn run(cli: Cli) -> Result<ExitCode> {
    let config = load_config(&cli)?;
    match cli.command {
        Cmd::Serve(args) => cmd::serve::run(config, args, cli.config.clone(), cli.data.clone()),
        Cmd::CheckConfig => cmd::check_config::run(cli.config.as_deref(), &config),
        Cmd::Domain { op } => cmd::domain::run(&config, op),
        Cmd::Account { op } => cmd::account::run(&config, op),
        Cmd::Mailbox { op } => cmd::mailbox::run(&config, op),
        Cmd::Message { op } => cmd::message::run(&config, op),
        Cmd::Alias { op } => cmd::alias::run(&config, op),
        Cmd::Router { op } => cmd::router::run(&config, op),
        Cmd::Alert { op } => cmd::alert::run(&config, op),
        Cmd::Deliver(args) => cmd::deliver::run(config, args),
        Cmd::Sessions => cmd::sessions::run(&config),
        Cmd::Reload => cmd::reload::run(&config),
        Cmd::Import(args) => cmd::import::run(&config, args),
        Cmd::Pop3 { stdio } => cmd::pop3::run(config, stdio),
    }
}
