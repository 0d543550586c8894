//! `mailroom message search|expunge ACCOUNT MAILBOX QUERY`: messages chosen by an IMAP
//! SEARCH query (RFC 3501 6.4.4, parsed by `mailroom-proto` and evaluated by the
//! server's own SEARCH, `mailroom_server::imap::search`), printed as UIDs or expunged.
//! Works while the server runs: this process is one more user of the shared store, and
//! sessions with the mailbox selected hear of the expunges at their next command.

use super::{open_account, open_directory, runtime};
use crate::cli::MessageOp;
use anyhow::{bail, Result};
use mailroom_proto::imap::{parse_wire, CommandBody};
use mailroom_server::imap::fetch::MsgRef;
use mailroom_server::Config;
use mailroom_store::{Account, MailboxId, Uid};
use std::process::ExitCode;
use std::sync::Arc;

pub fn run(config: &Config, op: MessageOp) -> Result<ExitCode> {
    let dir = open_directory(config)?;
    let (account, mailbox, query, expunge) = match op {
        MessageOp::Search {
            account,
            mailbox,
            query,
        } => (account, mailbox, query, false),
        MessageOp::Expunge {
            account,
            mailbox,
            query,
        } => (account, mailbox, query, true),
    };
    let query = query.join(" ");
    runtime()?.block_on(async {
        let (_, acc) = open_account(config, &dir, &account).await?;
        let mb = acc.mailbox(&mailbox).await?;
        acc.sync(mb.id).await?;
        let uids = search(&acc, mb.id, &query).await?;
        if expunge {
            let gone = if uids.is_empty() {
                Vec::new()
            } else {
                acc.expunge(mb.id, Some(&uids), true).await?
            };
            println!("{} messages expunged from {}", gone.len(), mb.name);
        } else {
            for u in uids {
                println!("{u}");
            }
        }
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The UIDs of the messages of `mailbox` matching `query`, ascending.
async fn search(acc: &Arc<dyn Account>, mailbox: MailboxId, query: &str) -> Result<Vec<Uid>> {
    if query.contains(['\r', '\n']) {
        bail!("the query must be one line");
    }
    let cmd = match parse_wire(format!("q UID SEARCH {query}\r\n").as_bytes()) {
        Ok(c) => c,
        Err(e) => bail!("not an IMAP SEARCH query: {query:?} ({e})"),
    };
    let CommandBody::Search(s) = cmd.body else {
        bail!("not an IMAP SEARCH query: {query:?}");
    };
    let snap = acc.messages(mailbox).await?;
    let msgs: Vec<MsgRef<'_>> = snap
        .messages
        .iter()
        .enumerate()
        .map(|(i, meta)| MsgRef {
            seq: i as u32 + 1,
            meta,
            recent: false,
        })
        .collect();
    let hits = mailroom_server::imap::search::search(
        acc,
        mailbox,
        &msgs,
        &s.criteria,
        s.charset.as_deref(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("search failed: {e:?}"))?;
    Ok(hits.into_iter().map(|i| msgs[i].meta.uid).collect())
}
