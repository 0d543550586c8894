//! `mailroom pop3 --stdio`: one POP3 session on standard input/output (inetd, tcpserver,
//! systemd socket activation).
//!
//! The POP3 session lives in `mailroom-server` (`pop3/`); the POP3 listener runs under
//! `mailroom serve`.

use crate::logging::init_logging;
use anyhow::{bail, Context, Result};
use mailroom_server::Config;
use std::process::ExitCode;

pub fn run(config: Config, stdio: bool) -> Result<ExitCode> {
    if !stdio {
        bail!("`mailroom pop3` needs --stdio (the listener runs under `mailroom serve`)");
    }
    pop3_stdio(config)
}

fn pop3_stdio(config: Config) -> Result<ExitCode> {
    init_logging(&config);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let store = super::open_store(&config).await?;
        let (ctx, _trigger) = mailroom_server::server::context(config, store, false)?;
        let stream = mailroom_server::net::Stream::Stdio(tokio::io::stdin(), tokio::io::stdout());
        let info = mailroom_server::net::ConnInfo {
            id: mailroom_server::net::next_session_id(),
            peer: None,
            local: None,
            protocol: mailroom_server::net::Protocol::Pop3,
            implicit_tls: false,
        };
        mailroom_server::pop3::serve(ctx, stream, info).await;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
