//! The `mailroom` binary: command-line interface, configuration file, wiring.
//!
//! The command-line contract (stable; extended, never broken):
//! ```text
//! mailroom [--config FILE] [--data DIR] serve [--imap ADDR] [--imaps ADDR] [--pop3 ADDR] [--pop3s ADDR] [--lmtp ADDR]
//! mailroom [--data DIR] domain add|remove|list [NAME]
//! mailroom [--data DIR] account add NAME[@DOMAIN] (--password PASS | --password-stdin | --password-hash HASH)
//! mailroom [--data DIR] account passwd|remove|list ...
//! mailroom [--data DIR] account import FILE        # passwd-file lines NAME:{SCHEME}HASH[:...]
//! mailroom [--data DIR] account mail-secret NAME[@DOMAIN]        # APOP/CRAM secret from stdin
//! mailroom [--data DIR] account quota NAME[@DOMAIN] SIZE|none [--messages N|none]
//! mailroom [--data DIR] alias add ADDRESS TARGET
//! mailroom [--data DIR] mailbox alias add|remove|list ACCOUNT [NAME [TARGET]]
//! mailroom [--data DIR] router add 'client1.com = cl1.local'
//! mailroom [--data DIR] deliver --to ADDRESS [--from ADDRESS] < message
//! ```
//! plus `check-config`, `alert add|list|remove`, `sessions` and `pop3 --stdio`.

mod config_file;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use mailroom_directory::{Directory, Secret};
use mailroom_server::config::LogLevel;
use mailroom_server::deliver::{self, Body, Outcome};
use mailroom_server::Config;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "mailroom",
    version,
    about = "POP3 + IMAP4 mail access server with LMTP delivery"
)]
struct Cli {
    /// Configuration file (TOML). Without it, the embedded default is used.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory (overrides the config's server.data_dir). Default: ./mailroom-data
    #[arg(long, global = true, value_name = "DIR")]
    data: Option<PathBuf>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the server.
    Serve(ServeArgs),
    /// Check the configuration file and report errors with file, line and key.
    CheckConfig,
    /// Manage domains.
    Domain {
        #[command(subcommand)]
        op: DomainOp,
    },
    /// Manage accounts.
    Account {
        #[command(subcommand)]
        op: AccountOp,
    },
    /// Manage address aliases.
    Alias {
        #[command(subcommand)]
        op: AliasOp,
    },
    /// Manage mailboxes (mailbox aliases for clients that cannot subscribe, I5).
    Mailbox {
        #[command(subcommand)]
        op: MailboxOp,
    },
    /// Manage router entries (CommuniGate Pro syntax).
    Router {
        #[command(subcommand)]
        op: RouterOp,
    },
    /// Manage alerts shown at the next login (POP3 `-ERR ALERT:`, IMAP `[ALERT]`).
    Alert {
        #[command(subcommand)]
        op: AlertOp,
    },
    /// Deliver one message from standard input (exit 0 delivered, 67 unknown recipient,
    /// 75 temporary failure).
    Deliver(DeliverArgs),
    /// List the live sessions of the running server.
    Sessions,
    /// Serve one POP3 session on standard input/output (inetd, tcpserver, systemd).
    Pop3 {
        /// Required: speak on standard input/output.
        #[arg(long)]
        stdio: bool,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// IMAP listener address (repeatable; `off` disables).
    #[arg(long, value_name = "ADDR")]
    imap: Vec<String>,
    /// IMAPS (implicit TLS) listener address.
    #[arg(long, value_name = "ADDR")]
    imaps: Vec<String>,
    /// POP3 listener address.
    #[arg(long, value_name = "ADDR")]
    pop3: Vec<String>,
    /// POP3S (implicit TLS) listener address.
    #[arg(long, value_name = "ADDR")]
    pop3s: Vec<String>,
    /// LMTP listener address.
    #[arg(long, value_name = "ADDR")]
    lmtp: Vec<String>,
}

#[derive(Subcommand)]
enum DomainOp {
    /// Add a secondary domain.
    Add { name: String },
    /// Remove a domain (it must have no accounts).
    Remove { name: String },
    /// List domains.
    List,
}

#[derive(Args)]
#[group(required = true, multiple = false)]
struct PasswordArgs {
    /// The password.
    #[arg(long)]
    password: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
    /// An already hashed password in `{SCHEME}` syntax (`{SHA512-CRYPT}$6$...`,
    /// `{PLAIN}...`, as `doveadm pw` prints), kept as it is.
    #[arg(long, value_name = "HASH")]
    password_hash: Option<String>,
}

/// How an account's new password was given.
enum NewPassword {
    Clear(Secret),
    Hash(String),
}

#[derive(Subcommand)]
enum AccountOp {
    /// Add an account (NAME is in the main domain, NAME@DOMAIN in DOMAIN).
    Add {
        name: String,
        #[command(flatten)]
        password: PasswordArgs,
        /// Make it a server/domain administrator.
        #[arg(long)]
        admin: bool,
    },
    /// Change an account's password.
    Passwd {
        name: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Add or update accounts from a passwd-file (Dovecot's format: one
    /// `NAME[@DOMAIN]:{SCHEME}HASH[:...]` per line; `#` comments, blank lines and the
    /// fields after the hash are ignored). Hashes are kept as they are.
    Import {
        file: PathBuf,
        /// Scheme of hashes without a `{SCHEME}` prefix (Dovecot passwd-file's `scheme=`).
        #[arg(long, default_value = "CRYPT")]
        default_scheme: String,
    },
    /// Remove an account and its mail.
    Remove { name: String },
    /// List accounts (of one domain, or all).
    List { domain: Option<String> },
    /// Set the APOP/CRAM-MD5 mail secret from standard input (the seed's `apoppasswd`).
    MailSecret {
        name: String,
        /// Remove the mail secret instead.
        #[arg(long)]
        clear: bool,
    },
    /// Grant or revoke administrator rights.
    Admin {
        name: String,
        /// Revoke instead of grant.
        #[arg(long)]
        off: bool,
    },
    /// Set the storage quota (RFC 9208 STORAGE): SIZE is bytes, or with K/M/G (binary
    /// units: 500K, 100M, 2G), or `none`; `--messages` sets the MESSAGE limit.
    Quota {
        name: String,
        size: String,
        /// Message-count limit (`none` for no limit). Unchanged when omitted.
        #[arg(long)]
        messages: Option<String>,
    },
}

#[derive(Subcommand)]
enum MailboxOp {
    /// Mailbox aliases: a name in ACCOUNT's own namespace that stands for another
    /// mailbox (`boss-inbox` -> `~boss/INBOX`).
    Alias {
        #[command(subcommand)]
        op: MailboxAliasOp,
    },
}

#[derive(Subcommand)]
enum MailboxAliasOp {
    /// ACCOUNT sees NAME as TARGET (e.g. `~boss/INBOX`, `~public/news`).
    Add {
        account: String,
        name: String,
        target: String,
    },
    /// Remove a mailbox alias.
    Remove { account: String, name: String },
    /// List an account's mailbox aliases.
    List { account: String },
}

/// Parses a quota size: `none`, bytes, or a number with `K`, `M`, `G`, `T` (KiB units,
/// optionally followed by `B`/`iB`). Returns KiB, rounded up.
fn parse_quota_size(raw: &str) -> Result<Option<u64>> {
    let s = raw.trim();
    if s.eq_ignore_ascii_case("none") || s.eq_ignore_ascii_case("unlimited") {
        return Ok(None);
    }
    let upper = s.to_ascii_uppercase();
    let t = upper
        .strip_suffix("IB")
        .or_else(|| upper.strip_suffix('B'))
        .unwrap_or(&upper);
    let (digits, mult): (&str, u64) = match t.chars().last() {
        Some('K') => (&t[..t.len() - 1], 1 << 10),
        Some('M') => (&t[..t.len() - 1], 1 << 20),
        Some('G') => (&t[..t.len() - 1], 1 << 30),
        Some('T') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: u64 = digits
        .trim()
        .parse()
        .map_err(|_| anyhow!("invalid size {raw:?}: use bytes, 500K, 100M, 2G or none"))?;
    let bytes = n
        .checked_mul(mult)
        .ok_or_else(|| anyhow!("size {raw:?} is too large"))?;
    Ok(Some(bytes.div_ceil(1024)))
}

fn parse_quota_count(raw: &str) -> Result<Option<u64>> {
    if raw.trim().eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    Ok(Some(raw.trim().parse().map_err(|_| {
        anyhow!("invalid message count {raw:?}: a number or none")
    })?))
}

fn show_quota(q: &mailroom_directory::QuotaLimits) -> String {
    let s = q
        .storage_kib
        .map_or("none".to_string(), |k| format!("{k} KiB"));
    let m = q.messages.map_or("none".to_string(), |m| m.to_string());
    format!("storage {s}, messages {m}")
}

fn mailbox(config: &Config, op: MailboxOp) -> Result<ExitCode> {
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

#[derive(Subcommand)]
enum AliasOp {
    /// Mail and logins for ADDRESS go to TARGET.
    Add { address: String, target: String },
    /// Remove an alias.
    Remove { address: String },
    /// List aliases.
    List,
}

#[derive(Subcommand)]
enum RouterOp {
    /// Add a router line, e.g. 'client1.com = cl1.local' or '<j.smith> = John@othercompany.com'.
    Add { line: String },
    /// Remove a router entry by its line or its left side.
    Remove { line: String },
    /// List router entries.
    List,
}

#[derive(Subcommand)]
enum AlertOp {
    /// Queue an alert for an account.
    Add { account: String, text: String },
    /// List an account's pending alerts.
    List { account: String },
    /// Remove an alert by id.
    Remove { id: i64 },
}

#[derive(Args)]
struct DeliverArgs {
    /// Recipient address.
    #[arg(long)]
    to: String,
    /// Envelope sender (default: $SENDER, else empty).
    #[arg(long)]
    from: Option<String>,
    /// Exit with qmail's codes instead (0 delivered, 100 permanent, 111 temporary).
    #[arg(long)]
    qmail: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mailroom: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// The configuration in force: the file (if any) over the defaults, `--data` over both.
fn load_config(cli: &Cli) -> Result<Config> {
    let mut config = match &cli.config {
        Some(path) => config_file::load(path)?,
        None => Config::embedded(),
    };
    if let Some(d) = &cli.data {
        config.server.data_dir = d.clone();
    }
    Ok(config)
}

fn open_directory(config: &Config) -> Result<Directory> {
    let data = &config.server.data_dir;
    std::fs::create_dir_all(data).with_context(|| format!("data directory {}", data.display()))?;
    Ok(Directory::open(
        &data.join("directory.db"),
        &config.server.main_domain,
    )?)
}

fn read_password(p: &PasswordArgs) -> Result<NewPassword> {
    if let Some(h) = &p.password_hash {
        return Ok(NewPassword::Hash(h.clone()));
    }
    if let Some(pw) = &p.password {
        return Ok(NewPassword::Clear(Secret::from(pw.as_str())));
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let pw = line.trim_end_matches(['\r', '\n']);
    if pw.is_empty() {
        bail!("empty password on standard input");
    }
    Ok(NewPassword::Clear(Secret::from(pw)))
}

/// Makes an account's mail store (Maildir, index, default mailboxes), so the first login
/// finds it ready; on failure the first login makes it, and this only warns.
fn make_stores(config: &Config, accounts: &[mailroom_directory::AccountInfo]) {
    let made = (|| -> anyhow::Result<()> {
        let opened = mailroom_server::server::open_data(config)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async {
            for a in accounts {
                let (d, n) = a.store_key();
                let Some(key) = mailroom_store::AccountKey::new(&d, &n) else {
                    continue;
                };
                let r = async {
                    let acc = opened.store.open_account(&key).await?;
                    acc.ensure_mailboxes(mailroom_server::imap::DEFAULT_MAILBOXES)
                        .await
                }
                .await;
                if let Err(e) = r {
                    eprintln!("mailroom: warning: the mail store of {} will be made at its first login: {e}", a.address());
                }
            }
        });
        Ok(())
    })();
    if let Err(e) = made {
        eprintln!("mailroom: warning: the mail stores will be made at the first logins: {e}");
    }
}

/// One passwd-file line: `(name, hash)`, or `None` for a comment or a blank line.
fn passwd_line(line: &str, default_scheme: &str) -> Result<Option<(String, String)>> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() || line.trim_start().starts_with('#') {
        return Ok(None);
    }
    let mut fields = line.splitn(3, ':');
    let name = fields.next().unwrap_or_default().trim();
    let Some(hash) = fields.next() else {
        bail!("no password field (NAME:{{SCHEME}}HASH)");
    };
    if name.is_empty() {
        bail!("empty user name");
    }
    let hash = if hash.starts_with('{') || hash.starts_with('$') {
        hash.to_string()
    } else {
        format!("{{{}}}{hash}", default_scheme.to_ascii_uppercase())
    };
    Ok(Some((name.to_string(), hash)))
}

fn run(cli: Cli) -> Result<ExitCode> {
    let config = load_config(&cli)?;
    match cli.command {
        Cmd::Serve(args) => serve(config, args),
        Cmd::CheckConfig => {
            match &cli.config {
                Some(p) => println!("{}: OK", p.display()),
                None => println!("no --config given: the embedded default is in force (OK)"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Domain { op } => {
            let dir = open_directory(&config)?;
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
        Cmd::Account { op } => account(&config, op),
        Cmd::Mailbox { op } => mailbox(&config, op),
        Cmd::Alias { op } => {
            let dir = open_directory(&config)?;
            match op {
                AliasOp::Add { address, target } => {
                    println!("{}", dir.add_alias(&address, &target)?)
                }
                AliasOp::Remove { address } => println!("removed {}", dir.remove_alias(&address)?),
                AliasOp::List => {
                    for (a, t) in dir.list_aliases()? {
                        println!("{a} -> {t}");
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Router { op } => {
            let dir = open_directory(&config)?;
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
        Cmd::Alert { op } => {
            let dir = open_directory(&config)?;
            match op {
                AlertOp::Add { account, text } => {
                    let id = dir.add_alert(&account, &text)?;
                    println!("alert {id} queued for {}", dir.account(&account)?.address());
                    // Tell a running server, so sessions show it now (I7); none running is fine.
                    let sock = mailroom_server::server::admin_path(&config);
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
        Cmd::Deliver(args) => deliver_cmd(config, args),
        Cmd::Sessions => {
            let sock = mailroom_server::server::admin_path(&config);
            let out = mailroom_server::admin::request(&sock, "sessions").with_context(|| {
                format!("no running server answers on {} (is `mailroom serve` running with this data directory?)", sock.display())
            })?;
            print!("{out}");
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Pop3 { stdio } => {
            if !stdio {
                bail!("`mailroom pop3` needs --stdio (the listener runs under `mailroom serve`)");
            }
            pop3_stdio(config)
        }
    }
}

fn account(config: &Config, op: AccountOp) -> Result<ExitCode> {
    let dir = open_directory(config)?;
    match op {
        AccountOp::Add {
            name,
            password,
            admin,
        } => {
            let a = match read_password(&password)? {
                NewPassword::Clear(pw) => dir.add_account(&name, &pw)?,
                NewPassword::Hash(h) => dir.add_account_with_hash(&name, &h)?,
            };
            if admin {
                dir.set_admin(&a.address(), true)?;
            }
            make_stores(config, std::slice::from_ref(&a));
            println!("account {} added", a.address());
        }
        AccountOp::Passwd { name, password } => {
            match read_password(&password)? {
                NewPassword::Clear(pw) => dir.set_password(&name, &pw)?,
                NewPassword::Hash(h) => dir.set_password_hash(&name, &h)?,
            }
            println!("password of {} changed", dir.account(&name)?.address());
        }
        AccountOp::Import {
            file,
            default_scheme,
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let (mut added, mut updated, mut failed) = (Vec::new(), 0usize, 0usize);
            for (i, line) in text.lines().enumerate() {
                let at = format!("{}:{}", file.display(), i + 1);
                let (name, hash) = match passwd_line(line, &default_scheme) {
                    Ok(Some(x)) => x,
                    Ok(None) => continue,
                    Err(e) => {
                        eprintln!("mailroom: {at}: {e}");
                        failed += 1;
                        continue;
                    }
                };
                let r = if dir.account(&name).is_ok() {
                    dir.set_password_hash(&name, &hash).map(|()| None)
                } else {
                    dir.add_account_with_hash(&name, &hash).map(Some)
                };
                match r {
                    Ok(Some(a)) => added.push(a),
                    Ok(None) => updated += 1,
                    Err(e) => {
                        eprintln!("mailroom: {at}: {name}: {e}");
                        failed += 1;
                    }
                }
            }
            make_stores(config, &added);
            println!(
                "{} accounts added, {updated} updated, {failed} lines refused",
                added.len()
            );
            if failed > 0 {
                return Ok(ExitCode::from(1));
            }
        }
        AccountOp::Remove { name } => {
            let a = dir.remove_account(&name)?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let opened = mailroom_server::server::open_data(config)?;
            let (d, n) = a.store_key();
            if let Some(key) = mailroom_store::AccountKey::new(&d, &n) {
                rt.block_on(opened.store.remove_account(&key))?;
            }
            println!("account {} removed", a.address());
        }
        AccountOp::List { domain } => {
            for a in dir.list_accounts(domain.as_deref())? {
                let mut extra = String::new();
                if a.admin {
                    extra.push_str(" admin");
                }
                if a.has_mail_secret {
                    extra.push_str(" mail-secret");
                }
                println!("{}{extra}", a.address());
            }
        }
        AccountOp::MailSecret { name, clear } => {
            if clear {
                dir.set_mail_secret(&name, None)?;
                println!("mail secret of {} cleared", dir.account(&name)?.address());
            } else {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                let s = line.trim_end_matches(['\r', '\n']);
                if s.is_empty() {
                    bail!("empty mail secret on standard input");
                }
                dir.set_mail_secret(&name, Some(&Secret::from(s)))?;
                println!("mail secret of {} set", dir.account(&name)?.address());
            }
        }
        AccountOp::Quota {
            name,
            size,
            messages,
        } => {
            let storage = parse_quota_size(&size)?;
            let messages = match messages {
                Some(m) => parse_quota_count(&m)?,
                None => dir.quota(&name)?.messages,
            };
            let q = dir.set_quota(&name, storage, messages)?;
            println!(
                "quota of {}: {}",
                dir.account(&name)?.address(),
                show_quota(&q)
            );
        }
        AccountOp::Admin { name, off } => {
            dir.set_admin(&name, !off)?;
            println!(
                "{} is {} administrator",
                dir.account(&name)?.address(),
                if off { "no longer an" } else { "now an" }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Sets up logging: per-module levels from the config; `RUST_LOG` overrides.
fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let lvl = |l: LogLevel| match l.tracing_level() {
        None => "off".to_string(),
        Some(t) => t.as_str().to_ascii_lowercase(),
    };
    // Start and stop are "major" events: shown at every level but Nothing.
    let major = if config.log.level == LogLevel::Nothing {
        "off"
    } else {
        "info"
    };
    let spec = format!(
        "{},mailroom_major={major},mailroom_server::imap={},mailroom_server::pop3={},mailroom_server::lmtp={}",
        lvl(config.log.level),
        lvl(config.imap.log_level),
        lvl(config.pop3.log_level),
        lvl(config.lmtp.log_level)
    );
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(spec));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

fn parse_addrs(list: &[String], what: &str) -> Result<Option<Vec<SocketAddr>>> {
    if list.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for a in list {
        if a == "off" || a == "none" {
            continue;
        }
        out.push(
            a.parse::<SocketAddr>()
                .map_err(|e| anyhow!("--{what} {a}: {e} (expected IP:PORT or `off`)"))?,
        );
    }
    Ok(Some(out))
}

fn serve(mut config: Config, args: ServeArgs) -> Result<ExitCode> {
    if let Some(v) = parse_addrs(&args.imap, "imap")? {
        config.imap.listen = v;
    }
    if let Some(v) = parse_addrs(&args.imaps, "imaps")? {
        config.imap.listen_tls = v;
    }
    if let Some(v) = parse_addrs(&args.pop3, "pop3")? {
        config.pop3.listen = v;
    }
    if let Some(v) = parse_addrs(&args.pop3s, "pop3s")? {
        config.pop3.listen_tls = v;
    }
    if let Some(v) = parse_addrs(&args.lmtp, "lmtp")? {
        config.lmtp.listen = v;
    }
    init_logging(&config);
    // Blocking work (SQLite, password hashing, file reads) runs on a bounded pool: each
    // extra thread costs stack pages, and the work is short.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.server.worker_threads())
        .max_blocking_threads(16)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let running = mailroom_server::server::start(config).await?;
        {
            let mut out = std::io::stdout().lock();
            for (p, tls, addr) in &running.listeners {
                let name = match (p, tls) {
                    (mailroom_server::net::Protocol::Imap, false) => "imap",
                    (mailroom_server::net::Protocol::Imap, true) => "imaps",
                    (mailroom_server::net::Protocol::Pop3, false) => "pop3",
                    (mailroom_server::net::Protocol::Pop3, true) => "pop3s",
                    (mailroom_server::net::Protocol::Lmtp, _) => "lmtp",
                };
                writeln!(out, "{name} {addr}")?;
            }
            out.flush()?;
        }
        tracing::info!(
            target: "mailroom_major",
            data = %running.ctx.config.server.data_dir.display(),
            "mailroom {} started",
            env!("CARGO_PKG_VERSION")
        );
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        tracing::info!(target: "mailroom_major", "shutting down");
        running.shutdown().await;
        tracing::info!(target: "mailroom_major", "stopped");
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn deliver_cmd(config: Config, args: DeliverArgs) -> Result<ExitCode> {
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

fn pop3_stdio(config: Config) -> Result<ExitCode> {
    init_logging(&config);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let (ctx, _trigger) = mailroom_server::server::context(config, false)?;
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
