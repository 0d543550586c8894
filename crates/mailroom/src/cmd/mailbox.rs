//! `mailroom mailbox alias add|remove|list`: mailbox aliases, names in an account's own
//! namespace that stand for another mailbox (for clients that cannot subscribe, I5).
//!
//! How a client's mailbox name resolves lives in `mailroom-server` (`access/`).

use super::open_directory;
use crate::cli::{MailboxAliasOp, MailboxOp};
use anyhow::Result;
use mailroom_server::Config;
use std::process::ExitCode;

pub fn run(config: &Config, op: MailboxOp) -> Result<ExitCode> {
    let dir = open_directory(config)?;
    match op {
        MailboxOp::Alias { op } => match op {
            MailboxAliasOp::Add {
                account,
                name,
                target,
            } => {
                let a = dir.add_mailbox_alias(&account, &name, &target)?;
                println!("{} -> {}", a.name, a.target);
            }
            MailboxAliasOp::Remove { account, name } => {
                dir.remove_mailbox_alias(&account, &name)?;
                println!("mailbox alias {name} removed");
            }
            MailboxAliasOp::List { account } => {
                for a in dir.list_mailbox_aliases(&account)? {
                    println!("{} -> {}", a.name, a.target);
                }
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}
