//! `mailroom domain add|remove|list`: the domains of the directory.
//!
//! The domain rules (names, the main domain, removal only when empty) live in
//! `mailroom-directory`.

use super::open_directory;
use crate::cli::DomainOp;
use anyhow::Result;
use mailroom_server::Config;
use std::process::ExitCode;

pub fn run(config: &Config, op: DomainOp) -> Result<ExitCode> {
    let dir = open_directory(config)?;
    match op {
        DomainOp::Add { name } => {
            dir.add_domain(&name)?;
            println!("domain {name} added");
        }
        DomainOp::Remove { name } => {
            dir.remove_domain(&name)?;
            println!("domain {name} removed");
        }
        DomainOp::List => {
            for d in dir.list_domains()? {
                println!("{d}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
