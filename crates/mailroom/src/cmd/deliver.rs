//! `mailroom deliver`: delivers one message from standard input (for an MTA's local
//! delivery agent), with sysexits or, with `--qmail`, qmail's exit codes.
//!
//! The delivery path shared with LMTP lives in `mailroom-server` (`deliver.rs`).

use crate::cli::DeliverArgs;
use crate::logging::init_logging;
use anyhow::{Context, Result};
use mailroom_server::deliver::{self, Outcome};
use mailroom_server::Config;
use mailroom_store::MessageSink;
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
    // Made first: the store is opened on it (the PostgreSQL backend's change feed runs
    // there).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let opened = mailroom_server::server::open_directory(&config)
        .map_err(|e| e.to_string())
        .and_then(|d| {
            let store = rt
                .block_on(super::open_store(&config))
                .map_err(|e| format!("store: {e}"))?;
            Ok((d, store))
        });
    let (directory, store) = match opened {
        Ok(o) => o,
        Err(e) => {
            eprintln!("mailroom deliver: {e}");
            return Ok(ExitCode::from(code(&Outcome::Temporary(e))));
        }
    };
    // Staged like an LMTP message: in memory up to `deliver::SPILL_AT`, then in an
    // unlinked file under `<data>/spool`.
    let max = config.lmtp.max_message_size;
    let mut sink = MessageSink::new(config.server.data_dir.join("spool"), deliver::SPILL_AT);
    let mut stdin = std::io::stdin().lock().take(max + 1);
    let mut buf = vec![0u8; MessageSink::CHUNK];
    loop {
        match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => sink.write(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                eprintln!("mailroom deliver: cannot read the message: {e}");
                return Ok(ExitCode::from(code(&Outcome::Temporary(e.to_string()))));
            }
        }
    }
    if sink.len() > max {
        eprintln!("mailroom deliver: message larger than {max} octets (lmtp.max_message_size)");
        // EX_DATAERR would bounce it; a size refusal is permanent.
        return Ok(ExitCode::from(if args.qmail { 100 } else { 65 }));
    }
    let body = match sink.finish() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("mailroom deliver: cannot spool the message: {e}");
            return Ok(ExitCode::from(code(&Outcome::Temporary(e.to_string()))));
        }
    };
    let from = args
        .from
        .clone()
        .or_else(|| std::env::var("SENDER").ok())
        .unwrap_or_default();
    let resolved = deliver::resolve(&directory, &args.to);
    let outcome = rt.block_on(deliver::deliver_to(
        &store,
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
