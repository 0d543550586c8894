//! `mailroom mailbox list|status|create|delete|rename`: an account's mailboxes, through
//! the store (a second process on the same storage, so it works while the server runs:
//! sessions see the change at their next command); `mailroom mailbox alias
//! add|remove|list`: mailbox aliases, names in an account's own namespace that stand for
//! another mailbox (for clients that cannot subscribe, I5).
//!
//! How a client's mailbox name resolves lives in `mailroom-server` (`access/`).

use super::{open_account, open_directory, runtime};
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
        MailboxOp::List { account } => runtime()?.block_on(async {
            let (_, acc) = open_account(config, &dir, &account).await?;
            for m in acc.list_mailboxes().await? {
                println!("{}", m.name);
            }
            anyhow::Ok(())
        })?,
        MailboxOp::Status { account, name } => runtime()?.block_on(async {
            let (_, acc) = open_account(config, &dir, &account).await?;
            let boxes = match name {
                Some(n) => vec![acc.mailbox(&n).await?],
                None => acc.list_mailboxes().await?,
            };
            for m in boxes {
                // Counts what other programs (the MTA) changed too.
                acc.sync(m.id).await?;
                let st = acc.status(m.id).await?;
                println!(
                    "{} messages={} unseen={} recent={} uidnext={} uidvalidity={} highestmodseq={} size={}",
                    m.name,
                    st.messages,
                    st.unseen,
                    st.recent,
                    st.uid_next,
                    st.uid_validity,
                    st.highest_modseq,
                    st.size
                );
            }
            anyhow::Ok(())
        })?,
        MailboxOp::Create { account, name } => runtime()?.block_on(async {
            let (_, acc) = open_account(config, &dir, &account).await?;
            let m = acc.create_mailbox(&name, None).await?;
            println!("mailbox {} created", m.name);
            anyhow::Ok(())
        })?,
        MailboxOp::Delete { account, name } => runtime()?.block_on(async {
            let (_, acc) = open_account(config, &dir, &account).await?;
            let m = acc.mailbox(&name).await?;
            acc.delete_mailbox(&m.name).await?;
            println!("mailbox {} deleted", m.name);
            anyhow::Ok(())
        })?,
        MailboxOp::Rename {
            account,
            name,
            new_name,
        } => runtime()?.block_on(async {
            let (_, acc) = open_account(config, &dir, &account).await?;
            acc.rename_mailbox(&name, &new_name).await?;
            println!("mailbox {name} renamed to {new_name}");
            anyhow::Ok(())
        })?,
    }
    Ok(ExitCode::SUCCESS)
}
