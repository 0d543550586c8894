//! `mailroom alias add|remove|list`: address aliases (mail and logins for one address
//! go to another).
//!
//! How aliases resolve lives in `mailroom-directory`; mailbox aliases in `mailbox.rs`.

use super::open_directory;
use crate::cli::AliasOp;
use anyhow::Result;
use mailroom_server::Config;
use std::process::ExitCode;

pub fn run(config: &Config, op: AliasOp) -> Result<ExitCode> {
    let dir = open_directory(config)?;
    match op {
        AliasOp::Add { address, target } => {
            println!("{}", dir.add_alias(&address, &target)?)
        }
        AliasOp::Remove { address } => println!("removed {}", dir.remove_alias(&address)?),
        AliasOp::List => {
            for (a, t) in dir.list_aliases()? {
                println!("{a} -> {t}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
