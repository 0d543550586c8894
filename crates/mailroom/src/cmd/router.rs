//! `mailroom router add|remove|list`: router entries in CommuniGate Pro syntax.
//!
//! The router line grammar lives in `mailroom-directory` (`router.rs`).

use super::open_directory;
use crate::cli::RouterOp;
use anyhow::Result;
use mailroom_server::Config;
use std::process::ExitCode;

pub fn run(config: &Config, op: RouterOp) -> Result<ExitCode> {
    let dir = open_directory(config)?;
    match op {
        RouterOp::Add { line } => println!("{}", dir.add_router(&line)?),
        RouterOp::Remove { line } => println!("removed {}", dir.remove_router(&line)?),
        RouterOp::List => {
            for r in dir.list_router()? {
                println!("{r}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
