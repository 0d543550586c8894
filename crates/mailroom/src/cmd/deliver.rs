//! `mailroom deliver`: delivers one message from standard input (for an MTA's local
//! delivery agent), with sysexits or, with `--qmail`, qmail's exit codes.
//!
//! The delivery path shared with LMTP lives in `mailroom-server` (`deliver.rs`).

use crate::cli::DeliverArgs;
use crate::logging::init_logging;
use anyhow::{Context, Result};
use mailroom_server::deliver::{self, Body, Outcome};
use mailroom_server::Config;
use std::io::Read;
use std::process::ExitCode;

pub fn run(config: Config, args: DeliverArgs) -> Result<ExitCode> {
    init_logging(&config);
    let code = |o: &Outcome| -> u8 {
        let c = o.exit_code();
        if args.qmail {
            match c {
                0 => 0,
                67 => 100,
                _ => 111,
            }
        } else {
            c as u8
        }
    };
    let opened = match mailroom_server::server::open_data(&config) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("mailroom deliver: {e}");
            return Ok(ExitCode::from(code(&Outcome::Temporary(e.to_string()))));
        }
    };
    let max = config.lmtp.max_message_size;
    let mut message = Vec::new();
    if let Err(e) = std::io::stdin().take(max + 1).read_to_end(&mut message) {
        eprintln!("mailroom deliver: cannot read the message: {e}");
        return Ok(ExitCode::from(code(&Outcome::Temporary(e.to_string()))));
    }
    if message.len() as u64 > max {
        eprintln!("mailroom deliver: message larger than {max} octets (lmtp.max_message_size)");
        // EX_DATAERR would bounce it; a size refusal is permanent.
        return Ok(ExitCode::from(if args.qmail { 100 } else { 65 }));
    }
    let from = args
        .from
        .clone()
        .or_else(|| std::env::var("SENDER").ok())
        .unwrap_or_default();
    let resolved = deliver::resolve(&opened.directory, &args.to);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let body = Body::Bytes(bytes::Bytes::from(message));
    let outcome = rt.block_on(deliver::deliver_to(
        &opened.store,
        &resolved,
        &from,
        &args.to,
        &body,
        &config.server.real_to_header,
    ));
    match &outcome {
        Outcome::Delivered { account, uid } => {
            println!("delivered to {account}, uid {uid}");
        }
        o => eprintln!("mailroom deliver: {}", o.lmtp_reply(&args.to)),
    }
    Ok(ExitCode::from(code(&outcome)))
}
