//! `imap-load`: an IMAP4rev1 load generator that checks what it can of the server's
//! answers. It depends on no mailroom crate and runs against any IMAP server.
//!
//! Layout: [`reader`] frames responses (lines and literals, bounded), [`parse`]
//! classifies them, [`client`] holds one simulated client (session view, round, state
//! checks), [`stats`] counts and reports, [`mbox`] loads the sample messages.
//!
//! One round of a client, each group sent pipelined in one write:
//! 1. LIST "" "*" (50 %), STATUS (50 %), SELECT, UID FETCH 1:* (FLAGS)
//! 2. FETCH of ENVELOPE, BODYSTRUCTURE and BODY.PEEK[1] for 1-3 messages; STORE of
//!    random flags and keywords on one (50 %); STORE +FLAGS (\Deleted) on about one
//! 3. EXPUNGE (after the STOREs: its result depends on them, RFC 3501 section 5.5);
//!    APPEND of a sample message (with LITERAL+; else it waits for `+`)
//! 4. FETCH * (UID) when the server has no UIDPLUS; LOGOUT in cycle mode.
//!
//! LOGIN comes once per connection: once per client, or every round with `--cycle`.

mod client;
mod mbox;
mod parse;
mod reader;
mod stats;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _};
use clap::Parser;
use rand::SeedableRng;

const AFTER_HELP: &str = "\
Per round: LIST (50 %), STATUS (50 %), SELECT, UID FETCH 1:* (FLAGS), FETCH of ENVELOPE/\
BODYSTRUCTURE/BODY.PEEK[1] for 1-3 messages, STORE of random flags and keywords (50 %), \
STORE +FLAGS (\\Deleted) on about one message, then EXPUNGE and APPEND from the mbox (the \
mailbox stays at the size it had at the first SELECT); LOGIN once per client, or LOGIN ... \
LOGOUT every round with --cycle. Commands are pipelined where RFC 3501 section 5.5 allows: \
EXPUNGE waits for the STOREs it depends on.

Client i logs in as <user-prefix><first + i mod count> of --users. With no more clients \
than users every client owns its mailbox and all state checks are exact, including those \
across rounds and sessions (flags kept, expunged set = \\Deleted set, appended UID \
present). When clients share users (more clients than users), the tool checks each \
session only against its own view: EXISTS never shrinking without EXPUNGE, the \
sequence->UID map, flags of its own STOREs echoed in the FETCH answer, APPEND UIDs \
increasing, UIDs never reused, no FETCH past EXISTS; the cross-session checks are off.

The (connect) row times TCP connect to greeting; it is not in the command total. \
Latency runs from the write that carried a command to its tagged answer, so a pipelined \
command's latency includes the commands queued before it. Counts and latencies cover \
commands completed inside the measured window (after --warmup); violations and \
connection errors are counted over the whole run.";

/// IMAP load generator with state checks.
#[derive(Parser, Debug)]
#[command(name = "imap-load", version, about, after_help = AFTER_HELP)]
struct Args {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Server port (plain IMAP, no TLS).
    #[arg(long, default_value_t = 143)]
    port: u16,
    /// Concurrent clients, each on its own connection.
    #[arg(long, short = 'c', default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    clients: u32,
    /// Measured run length in seconds (after the warm-up).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=3600))]
    duration: u64,
    /// Seconds run before measuring starts.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=600))]
    warmup: u64,
    /// User numbers FIRST-LAST (or one number).
    #[arg(long, default_value = "101-150")]
    users: String,
    /// User name prefix: users are <prefix><number>.
    #[arg(long, default_value = "user")]
    user_prefix: String,
    /// Password of every user.
    #[arg(long, default_value = "pass")]
    pass: String,
    /// Sample messages for APPEND.
    #[arg(long, default_value = "/tmp/lab/data/sample.mbox")]
    mbox: PathBuf,
    /// Use at most this many messages of the mbox.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    mbox_messages: u64,
    /// Mailbox to work on.
    #[arg(long, default_value = "INBOX")]
    mailbox: String,
    /// LOGIN and LOGOUT every round, on a new connection.
    #[arg(long)]
    cycle: bool,
    /// Random seed (default: from the clock); client i uses seed + i.
    #[arg(long)]
    seed: Option<u64>,
    /// Server process: report its CPU (with its children) per command.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Seconds to wait for any one response.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    timeout: u64,
    /// Name printed in the report's first line.
    #[arg(long)]
    label: Option<String>,
}

fn parse_users(s: &str) -> anyhow::Result<(u64, u64)> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let lo: u64 = a.trim().parse().with_context(|| format!("--users {s}"))?;
    let hi: u64 = b.trim().parse().with_context(|| format!("--users {s}"))?;
    if hi < lo {
        bail!("--users {s}: last below first");
    }
    Ok((lo, hi))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let (lo, hi) = parse_users(&a.users)?;
    let count = hi - lo + 1;
    let max_msgs = usize::try_from(a.mbox_messages).unwrap_or(usize::MAX);
    let messages = mbox::load(&a.mbox, max_msgs)?;
    if let Some(pid) = a.server_pid {
        if stats::tree_cpu(pid).is_none() {
            bail!("--server-pid {pid}: no such process (/proc/{pid}/stat)");
        }
    }
    let seed = a.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(a.warmup);
    let end = measure_from + Duration::from_secs(a.duration);
    let own_user = u64::from(a.clients) <= count;
    let nmsgs = messages.len();
    let sh = Arc::new(client::Shared {
        host: a.host.clone(),
        port: a.port,
        pass: a.pass.clone(),
        mailbox: a.mailbox.clone(),
        cycle: a.cycle,
        measure_from,
        end,
        hard_end: end + Duration::from_secs(10),
        timeout: Duration::from_secs(a.timeout),
        own_user,
        messages,
        limits: reader::Limits::default(),
    });
    let mut tasks = Vec::with_capacity(a.clients as usize);
    for i in 0..a.clients {
        let user = format!("{}{}", a.user_prefix, lo + u64::from(i) % count);
        let rng = rand::rngs::StdRng::seed_from_u64(seed.wrapping_add(u64::from(i)));
        let c = client::Client::new(Arc::clone(&sh), user, rng);
        tasks.push(tokio::spawn(c.run()));
    }

    tokio::time::sleep_until(measure_from.into()).await;
    let self0 = stats::self_cpu();
    let srv0 = a.server_pid.and_then(stats::tree_cpu);
    tokio::time::sleep_until(end.into()).await;
    let self1 = stats::self_cpu();
    let srv1 = a.server_pid.and_then(stats::tree_cpu);
    let secs = Instant::now().duration_since(measure_from).as_secs_f64();

    let mut total = stats::Stats::default();
    for t in tasks {
        match t.await {
            Ok(s) => total.merge(&s),
            Err(_) => total.conn_error("client-task-failed"),
        }
    }
    let header =
        format!(
        "imap-load{} {}:{}: {} clients, {}, users {}{}..{}{}{}, {} s measured after {} s warm-up, \
         seed {}, {} sample messages",
        a.label.map(|l| format!(" [{l}]")).unwrap_or_default(),
        a.host,
        a.port,
        a.clients,
        if a.cycle { "cycle (LOGIN..LOGOUT every round)" } else { "logged in throughout" },
        a.user_prefix,
        lo,
        a.user_prefix,
        hi,
        if own_user { "" } else { " (shared: per-session checks only)" },
        a.duration,
        a.warmup,
        seed,
        nmsgs
    );
    let info = stats::RunInfo {
        header,
        secs,
        self_cpu_s: self0.zip(self1).map(|(x, y)| y - x),
        server_cpu_s: srv0.zip(srv1).map(|(x, y)| y - x),
    };
    print!("{}", stats::report(&total, &info));
    Ok(())
}
