//! `mailroom alert add|list|remove`: alerts shown at an account's next login, and the
//! nudge that tells a running server about a new one.
//!
//! Showing alerts (POP3 `-ERR ALERT:`, IMAP `[ALERT]`) lives in `mailroom-server`.

use super::open_directory;
use crate::cli::AlertOp;
use anyhow::Result;
use mailroom_server::Config;
use std::process::ExitCode;

pub fn run(config: &Config, op: AlertOp) -> Result<ExitCode> {
    let dir = open_directory(config)?;
    match op {
        AlertOp::Add { account, text } => {
            let id = dir.add_alert(&account, &text)?;
            println!("alert {id} queued for {}", dir.account(&account)?.address());
            // Tell a running server, so sessions show it now (I7); none running is fine.
            let sock = mailroom_server::server::admin_path(config);
            let _ = mailroom_server::admin::request(&sock, "alerts-changed");
        }
        AlertOp::List { account } => {
            let a = dir.account(&account)?;
            for (id, text) in dir.list_alerts(&a)? {
                println!("{id}\t{text}");
            }
        }
        AlertOp::Remove { id } => {
            dir.remove_alert(id)?;
            println!("alert {id} removed");
        }
    }
    Ok(ExitCode::SUCCESS)
}
