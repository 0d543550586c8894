//! The command-line grammar (clap): the top-level options, the subcommands and their
//! arguments, with the help texts users see.
//!
//! What each subcommand does lives in `cmd/<subcommand>.rs`; the dispatch in `main.rs`.
//! Changing anything here changes the command-line contract (README "Command line").

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "mailroom",
    version,
    about = "POP3 + IMAP4 mail access server with LMTP delivery"
)]
pub struct Cli {
    /// Configuration file (TOML). Without it, the embedded default is used.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory (overrides the config's server.data_dir). Default: ./mailroom-data
    #[arg(long, global = true, value_name = "DIR")]
    pub data: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Subcommand)]
pub enum Cmd {
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
    /// Manage mailboxes: list, status, create, delete, rename (while the server runs),
    /// and mailbox aliases for clients that cannot subscribe (I5).
    Mailbox {
        #[command(subcommand)]
        op: MailboxOp,
    },
    /// Search and expunge messages (while the server runs, like doveadm).
    Message {
        #[command(subcommand)]
        op: MessageOp,
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
    /// Make the running server read its configuration and TLS certificate again (as
    /// SIGHUP does); prints what changed and what needs a restart.
    Reload,
    /// Copy mail from another server's Maildir++ tree, keeping UIDVALIDITY, UIDs, UIDNEXT,
    /// flags, keywords, subscriptions and POP3 UIDLs (resumable: run it again to go on).
    Import(ImportArgs),
    /// Serve one POP3 session on standard input/output (inetd, tcpserver, systemd).
    Pop3 {
        /// Required: speak on standard input/output.
        #[arg(long)]
        stdio: bool,
    },
}

#[derive(Args)]
pub struct ServeArgs {
    /// IMAP listener address (repeatable; `off` disables).
    #[arg(long, value_name = "ADDR")]
    pub imap: Vec<String>,
    /// IMAPS (implicit TLS) listener address.
    #[arg(long, value_name = "ADDR")]
    pub imaps: Vec<String>,
    /// POP3 listener address.
    #[arg(long, value_name = "ADDR")]
    pub pop3: Vec<String>,
    /// POP3S (implicit TLS) listener address.
    #[arg(long, value_name = "ADDR")]
    pub pop3s: Vec<String>,
    /// LMTP listener address.
    #[arg(long, value_name = "ADDR")]
    pub lmtp: Vec<String>,
    /// Web admin and `/metrics` (HTTPS) listener address.
    #[arg(long, value_name = "ADDR")]
    pub admin: Vec<String>,
}

#[derive(Subcommand)]
pub enum DomainOp {
    /// Add a secondary domain.
    Add { name: String },
    /// Remove a domain (it must have no accounts).
    Remove { name: String },
    /// List domains.
    List,
}

#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct PasswordArgs {
    /// The password.
    #[arg(long)]
    pub password: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// An already hashed password in `{SCHEME}` syntax (`{SHA512-CRYPT}$6$...`,
    /// `{PLAIN}...`, as `doveadm pw` prints), kept as it is.
    #[arg(long, value_name = "HASH")]
    pub password_hash: Option<String>,
}

#[derive(Subcommand)]
pub enum AccountOp {
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
    /// Rename an account (NEW may name another existing domain): its mail, password,
    /// quota and sharing follow; mail to the old address is refused afterwards unless
    /// `--keep-alias`.
    Rename {
        name: String,
        new_name: String,
        /// Keep the old address as an alias of the new one (mail and logins).
        #[arg(long)]
        keep_alias: bool,
    },
    /// List accounts (of one domain, or all).
    List { domain: Option<String> },
    /// Set the APOP/CRAM-MD5 mail secret from standard input (the seed's `apoppasswd`).
    MailSecret {
        name: String,
        /// Remove the mail secret instead.
        #[arg(long)]
        clear: bool,
    },
    /// Set the account's S/MIME certificate, the one `COPY … ENCRYPTED *` encrypts to
    /// (FILE: an X.509 certificate, PEM or DER, with an RSA key of 2048 to 8192 bits), or
    /// remove it with `--clear`.
    SmimeCert {
        name: String,
        #[arg(required_unless_present = "clear", conflicts_with = "clear")]
        file: Option<PathBuf>,
        /// Remove the certificate instead.
        #[arg(long)]
        clear: bool,
    },
    /// Show an account: administrator, mail secret, quota, S/MIME certificate (subject
    /// and expiry).
    Show { name: String },
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
pub enum MailboxOp {
    /// Mailbox aliases: a name in ACCOUNT's own namespace that stands for another
    /// mailbox (`boss-inbox` -> `~boss/INBOX`).
    Alias {
        #[command(subcommand)]
        op: MailboxAliasOp,
    },
    /// List ACCOUNT's mailboxes (one name a line, `/` between levels, UTF-8).
    List { account: String },
    /// Counters of one mailbox, or of every mailbox of ACCOUNT.
    Status {
        account: String,
        name: Option<String>,
    },
    /// Create a mailbox (and its missing parents).
    Create { account: String, name: String },
    /// Delete a mailbox and its messages (not INBOX).
    Delete { account: String, name: String },
    /// Rename a mailbox and its inferiors (INBOX: its messages move, INBOX stays).
    Rename {
        account: String,
        name: String,
        new_name: String,
    },
}

#[derive(Subcommand)]
pub enum MessageOp {
    /// Print the UIDs of the messages of MAILBOX that match QUERY (IMAP SEARCH keys,
    /// RFC 3501 6.4.4: `UNSEEN FROM bob`, `BEFORE 1-Jan-2026`, `ALL`), one a line.
    Search {
        account: String,
        mailbox: String,
        #[arg(required = true, num_args = 1.., allow_hyphen_values = true)]
        query: Vec<String>,
    },
    /// Remove for good the messages of MAILBOX that match QUERY (whatever their flags).
    Expunge {
        account: String,
        mailbox: String,
        #[arg(required = true, num_args = 1.., allow_hyphen_values = true)]
        query: Vec<String>,
    },
}

#[derive(Subcommand)]
pub enum MailboxAliasOp {
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

#[derive(Subcommand)]
pub enum AliasOp {
    /// Mail and logins for ADDRESS go to TARGET.
    Add { address: String, target: String },
    /// Remove an alias.
    Remove { address: String },
    /// List aliases.
    List,
}

#[derive(Subcommand)]
pub enum RouterOp {
    /// Add a router line, e.g. 'client1.com = cl1.local' or '<j.smith> = John@othercompany.com'.
    Add { line: String },
    /// Remove a router entry by its line or its left side.
    Remove { line: String },
    /// List router entries.
    List,
}

#[derive(Subcommand)]
pub enum AlertOp {
    /// Queue an alert for an account.
    Add { account: String, text: String },
    /// List an account's pending alerts.
    List { account: String },
    /// Remove an alert by id.
    Remove { id: i64 },
}

/// Where imported mail comes from.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ImportFrom {
    /// Dovecot (dovecot-uidlist, dovecot-keywords, subscriptions; UIDLs `%08Xu%08Xv`).
    Dovecot,
    /// Courier-IMAP (courierimapuiddb, courierimapkeywords/, courierimapsubscribed; UIDLs `%f`).
    Courier,
    /// A plain Maildir++ tree (any of the above files that exist are used; UIDLs `%f`).
    Maildir,
}

#[derive(Args)]
pub struct ImportArgs {
    /// The server the mail comes from.
    #[arg(value_enum)]
    pub from: ImportFrom,
    /// The account to import into (it must exist); PATH is its Maildir.
    #[arg(long, conflicts_with = "passwd_file")]
    pub account: Option<String>,
    /// Whole server: add or update the accounts of this Dovecot passwd-file and import
    /// each one's Maildir from PATH (the mail root) + `--mail-template`.
    #[arg(long, value_name = "FILE")]
    pub passwd_file: Option<PathBuf>,
    /// Where a user's Maildir is under the mail root (`%u` user, `%n` local part,
    /// `%d` domain, `%h` the passwd-file's home: `%h/Maildir` for Dovecot's
    /// `maildir:~/Maildir`).
    #[arg(long, default_value = "%u/Maildir")]
    pub mail_template: String,
    /// Scheme of passwd-file hashes without a `{SCHEME}` prefix.
    #[arg(long, default_value = "CRYPT")]
    pub default_scheme: String,
    /// The old server's POP3 UIDL format (Dovecot's `pop3_uidl_format`: `%u`, `%v`,
    /// `%f`, `%g`). Default: `%08Xu%08Xv` for dovecot, `%f` otherwise.
    #[arg(long, value_name = "FORMAT")]
    pub pop3_uidl_format: Option<String>,
    /// The account's Maildir, or with `--passwd-file` the mail root.
    pub path: PathBuf,
}

#[derive(Args)]
pub struct DeliverArgs {
    /// Recipient address.
    #[arg(long)]
    pub to: String,
    /// Envelope sender (default: $SENDER, else empty).
    #[arg(long)]
    pub from: Option<String>,
    /// Exit with qmail's codes instead (0 delivered, 100 permanent, 111 temporary).
    #[arg(long)]
    pub qmail: bool,
}
