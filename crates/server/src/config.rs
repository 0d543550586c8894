//! Server configuration: every value has an embedded default, so an empty file (or none)
//! is a complete configuration. The binary reads it from TOML (`mailroom.toml`); tests
//! build it in code.
//!
//! Does not live here: parsing of command-line flags (the binary) and the directory's
//! contents (domains and accounts are data, kept in `directory.db`).

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The whole configuration file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Server-wide settings.
    pub server: ServerSection,
    /// TLS certificate and key.
    pub tls: TlsSection,
    /// The IMAP module.
    pub imap: ImapSection,
    /// The POP3 module.
    pub pop3: Pop3Section,
    /// The LMTP delivery module.
    pub lmtp: LmtpSection,
    /// Logging.
    pub log: LogSection,
    /// Message submission through POP3 `XTND XMIT` (P6).
    pub submit: SubmitSection,
    /// POP-before-SMTP: the Postfix policy service (P13).
    pub popbsmtp: PopbsmtpSection,
    /// The web admin and the Prometheus `/metrics` endpoint (issue 17).
    pub admin: AdminSection,
    /// Where mail is kept (the binary opens the backend; the server sees the traits).
    pub store: StoreSection,
}

impl Config {
    /// The embedded default used when `serve` runs with neither `--config` nor `--data`:
    /// the same as [`Config::default`] (loopback, unprivileged ports).
    pub fn embedded() -> Config {
        Config::default()
    }

    /// A configuration read from a file: the standard ports on all addresses, implicit TLS
    /// listeners off, unless the file says otherwise. Applied before the file's values.
    pub fn file_defaults() -> Config {
        let mut c = Config::default();
        c.imap.listen = vec!["0.0.0.0:143".parse().expect("literal address")];
        c.imap.listen_tls = vec![];
        c.pop3.listen = vec!["0.0.0.0:110".parse().expect("literal address")];
        c.pop3.listen_tls = vec![];
        c.lmtp.listen = vec!["127.0.0.1:24".parse().expect("literal address")];
        c
    }
}

/// `[server]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSection {
    /// The data directory (directory.db, mail, certificate). Relative paths are relative to
    /// the working directory.
    pub data_dir: PathBuf,
    /// The host name used in greetings and APOP timestamps.
    pub hostname: String,
    /// The main domain: accounts named without a domain belong to it.
    pub main_domain: String,
    /// Refuse clear-text logins (LOGIN, USER/PASS, AUTH PLAIN/LOGIN) on connections that
    /// are not encrypted.
    pub require_tls_for_plaintext: bool,
    /// Seconds a graceful shutdown waits for sessions before closing them.
    pub shutdown_grace_secs: u64,
    /// The header that carries the original local part for domain-wide accounts (P9).
    pub real_to_header: String,
    /// The local admin socket (`mailroom sessions`); relative to the data directory.
    pub admin_socket: PathBuf,
    /// Threads running the sessions; 0 (the default) picks one less than the CPUs, at
    /// least one (see [`ServerSection::worker_threads`]).
    pub worker_threads: usize,
    /// Offer SASL CRAM-MD5 (POP3 CAPA/AUTH, IMAP AUTH=). Off by default: CRAM-MD5 works
    /// only for accounts with a mail secret or a plaintext-equivalent password, and
    /// clients that pick it because it is offered (curl, mutt) do not fall back to PLAIN
    /// when it fails, so offering it to accounts with only a hashed password locks them
    /// out. Turn it on where every account has a mail secret (`account mail-secret`).
    pub cram_md5: bool,
    /// The login penalty (issue 14): after a failed login (IMAP LOGIN/AUTHENTICATE, POP3
    /// USER/PASS, APOP, AUTH) from an address (an IPv6 address counts by its /64), the
    /// next attempt from it, on any connection, waits this long, doubled per further
    /// failure up to `login_penalty_max_ms`; attempts from a penalised address are
    /// checked one at a time. A correct login from the address clears it. Failures to an
    /// account delay the answers to attempts on it the same way, except from addresses
    /// that logged in to it correctly since. 0 turns the penalty off.
    pub login_penalty_base_ms: u64,
    /// The longest login penalty, milliseconds.
    pub login_penalty_max_ms: u64,
    /// A penalty is forgotten this many seconds after its last failure.
    pub login_penalty_forget_secs: u64,
    /// Connections from one address (IPv6: one /64) that have not logged in yet, per
    /// server (IMAP and POP3 together); past it a new one is refused with the protocol's
    /// "try again later" answer. 0 = no limit.
    pub max_prelogin_per_ip: u32,
    /// Logged-in sessions of one account from one address per protocol (Dovecot's
    /// `mail_max_userip_connections`); past it a login is refused (IMAP `NO [LIMIT]`,
    /// POP3 `-ERR [IN-USE]`). 0 = no limit.
    pub max_userip_connections: u32,
    /// Log lines as text (the default) or one JSON object a line, for log shippers.
    pub log_format: LogFormat,
}

/// `[server] log_format`.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object a line (`timestamp`, `level`, `fields.message`, the fields, and
    /// the session's span as `span`/`spans`).
    Json,
}

impl ServerSection {
    /// Whether SASL mechanism `mech` (upper case) is offered and accepted.
    pub fn sasl_enabled(&self, mech: &str) -> bool {
        mech != "CRAM-MD5" || self.cram_md5
    }

    /// The number of session threads. By default one CPU is left to the blocking pool
    /// (SQLite, password hashing, file reads) and whatever shares the machine (the MTA):
    /// on the 2-CPU lab machine, one session thread served 10-35 % more POP3 MB/s and
    /// IMAP logins than two, with less CPU per message, because two threads woke each
    /// other to steal work and competed with everything else for both cores.
    pub fn worker_threads(&self) -> usize {
        if self.worker_threads > 0 {
            return self.worker_threads;
        }
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        cpus.saturating_sub(1).max(1)
    }
}

impl Default for ServerSection {
    fn default() -> ServerSection {
        ServerSection {
            data_dir: PathBuf::from("mailroom-data"),
            hostname: default_hostname(),
            main_domain: "localhost".into(),
            require_tls_for_plaintext: false,
            shutdown_grace_secs: 10,
            real_to_header: "X-Real-To".into(),
            admin_socket: PathBuf::from("admin.sock"),
            worker_threads: 0,
            cram_md5: false,
            login_penalty_base_ms: 500,
            login_penalty_max_ms: 15_000,
            login_penalty_forget_secs: 15 * 60,
            max_prelogin_per_ip: 20,
            max_userip_connections: 10,
            log_format: LogFormat::Text,
        }
    }
}

fn default_hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or_else(|| "localhost".into())
}

/// `[tls]`. With neither file set, a self-signed certificate is generated on first start
/// and kept in the data directory (`tls/cert.pem`, `tls/key.pem`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSection {
    /// PEM certificate chain.
    pub cert: Option<PathBuf>,
    /// PEM private key.
    pub key: Option<PathBuf>,
}

/// Log levels of a module, as CommuniGate Pro names them (P11, I14).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Nothing.
    #[serde(alias = "none", alias = "None")]
    Nothing,
    /// Major events: start, stop, failures of the server.
    #[serde(alias = "major", alias = "Major")]
    Major,
    /// Problems: a client's or the system's errors, failed logins.
    #[default]
    #[serde(alias = "problems", alias = "Problems")]
    Problems,
    /// Every session's start, login, end.
    #[serde(
        alias = "low-level",
        alias = "Low-Level",
        alias = "LowLevel",
        alias = "lowlevel"
    )]
    LowLevel,
    /// Everything, commands included.
    #[serde(
        alias = "all",
        alias = "All",
        alias = "All Info",
        alias = "all-info",
        alias = "AllInfo"
    )]
    AllInfo,
}

impl LogLevel {
    /// Every level, from the least to the most verbose.
    pub const ALL: [LogLevel; 5] = [
        LogLevel::Nothing,
        LogLevel::Major,
        LogLevel::Problems,
        LogLevel::LowLevel,
        LogLevel::AllInfo,
    ];

    /// The name as the configuration file spells it.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Nothing => "Nothing",
            LogLevel::Major => "Major",
            LogLevel::Problems => "Problems",
            LogLevel::LowLevel => "LowLevel",
            LogLevel::AllInfo => "AllInfo",
        }
    }

    /// The level named `name` (as [`LogLevel::name`] spells it).
    pub fn from_name(name: &str) -> Option<LogLevel> {
        LogLevel::ALL.into_iter().find(|l| l.name() == name)
    }

    /// The tracing level this maps onto (`None` = off).
    pub fn tracing_level(self) -> Option<tracing::Level> {
        match self {
            LogLevel::Nothing => None,
            LogLevel::Major => Some(tracing::Level::ERROR),
            LogLevel::Problems => Some(tracing::Level::WARN),
            LogLevel::LowLevel => Some(tracing::Level::INFO),
            LogLevel::AllInfo => Some(tracing::Level::DEBUG),
        }
    }
}

/// `[log]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSection {
    /// Level for everything that is not a protocol module.
    pub level: LogLevel,
}

impl Default for LogSection {
    fn default() -> LogSection {
        LogSection {
            level: LogLevel::LowLevel,
        }
    }
}

/// `[imap]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImapSection {
    /// Clear-text (STARTTLS-capable) listeners.
    pub listen: Vec<SocketAddr>,
    /// Implicit-TLS listeners (IMAPS).
    pub listen_tls: Vec<SocketAddr>,
    /// Maximum concurrent IMAP connections; past it a new one gets `* BYE` and is closed.
    pub max_channels: usize,
    /// Time allowed from connect to login, seconds: an absolute deadline (input does not
    /// extend it); past it the connection gets `* BYE` and is closed.
    pub login_timeout_secs: u64,
    /// Idle time-out once authenticated, seconds (RFC 3501 5.4: at least 30 minutes).
    pub idle_timeout_secs: u64,
    /// Log level of the module.
    pub log_level: LogLevel,
    /// Largest literal accepted (APPEND), octets; advertised as `APPENDLIMIT=` (RFC 7889).
    pub max_literal: u64,
    /// Advertise LITERAL- instead of LITERAL+ (RFC 7888 section 5: non-synchronizing
    /// literals over 4096 octets are refused, APPEND's with `BAD [TOOBIG]`).
    pub literal_minus: bool,
}

impl Default for ImapSection {
    fn default() -> ImapSection {
        ImapSection {
            listen: vec!["127.0.0.1:1143".parse().expect("literal address")],
            listen_tls: vec!["127.0.0.1:1993".parse().expect("literal address")],
            max_channels: 10_000,
            login_timeout_secs: 60,
            idle_timeout_secs: 30 * 60,
            log_level: LogLevel::LowLevel,
            max_literal: 64 * 1024 * 1024,
            literal_minus: false,
        }
    }
}

/// `[pop3]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Pop3Section {
    /// Clear-text (STLS-capable) listeners.
    pub listen: Vec<SocketAddr>,
    /// Implicit-TLS listeners (POP3S).
    pub listen_tls: Vec<SocketAddr>,
    /// Maximum concurrent POP3 connections; past it a new one gets `-ERR` and is closed.
    pub max_channels: usize,
    /// Time allowed from connect to login, seconds: an absolute deadline (input does not
    /// extend it); past it the connection gets `-ERR` and is closed.
    pub login_timeout_secs: u64,
    /// Idle time-out, seconds (RFC 1939 3: at least 10 minutes).
    pub idle_timeout_secs: u64,
    /// Log level of the module.
    pub log_level: LogLevel,
    /// Offer APOP (a timestamp in the greeting).
    pub apop: bool,
    /// UIDL format: `{uidvalidity}`, `{uid}`, `{md5}` (of the header), `{filename}`-free
    /// placeholders; the default is Dovecot's `%08Xv%08Xu`.
    pub uidl_format: String,
    /// CAPA EXPIRE value (days, `NEVER`), if advertised.
    pub expire: Option<String>,
    /// CAPA LOGIN-DELAY value in seconds, if advertised.
    pub login_delay: Option<u64>,
}

impl Default for Pop3Section {
    fn default() -> Pop3Section {
        Pop3Section {
            listen: vec!["127.0.0.1:1110".parse().expect("literal address")],
            listen_tls: vec!["127.0.0.1:1995".parse().expect("literal address")],
            max_channels: 10_000,
            login_timeout_secs: 60,
            idle_timeout_secs: 10 * 60,
            log_level: LogLevel::LowLevel,
            apop: true,
            uidl_format: "%08Xv%08Xu".into(),
            expire: None,
            login_delay: None,
        }
    }
}

/// `[lmtp]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LmtpSection {
    /// Listeners. LMTP has no authentication: keep it on loopback or a private network.
    pub listen: Vec<SocketAddr>,
    /// Maximum concurrent LMTP connections.
    pub max_channels: usize,
    /// Largest message accepted, octets (advertised as SIZE).
    pub max_message_size: u64,
    /// Idle time-out, seconds.
    pub idle_timeout_secs: u64,
    /// Log level of the module.
    pub log_level: LogLevel,
    /// Maximum recipients per transaction.
    pub max_recipients: usize,
    /// Answer over-quota recipients with `452 4.2.2` (the MTA keeps the message and
    /// retries) instead of `552 5.2.2` (it bounces). Default false.
    pub quota_temporary: bool,
}

impl Default for LmtpSection {
    fn default() -> LmtpSection {
        LmtpSection {
            listen: vec!["127.0.0.1:2424".parse().expect("literal address")],
            max_channels: 1000,
            max_message_size: 64 * 1024 * 1024,
            idle_timeout_secs: 5 * 60,
            log_level: LogLevel::LowLevel,
            max_recipients: 1000,
            quota_temporary: false,
        }
    }
}

/// `[submit]`: message submission (`XTND XMIT`, P6).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubmitSection {
    /// The SMTP smarthost that relays mail for remote recipients (`"127.0.0.1:25"`). With
    /// none, submissions to remote recipients are refused.
    pub smarthost: Option<String>,
    /// Seconds to wait for each reply of the smarthost (the DATA end: 10 times this).
    pub timeout_secs: Option<u64>,
}

/// `[popbsmtp]`: POP-before-SMTP (P13).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PopbsmtpSection {
    /// Run the Postfix policy service.
    pub enabled: bool,
    /// Where the policy service listens (`check_policy_service inet:127.0.0.1:10040`).
    pub listen: SocketAddr,
    /// How long, in seconds, a login authorises its client address to relay.
    pub ttl_secs: u64,
}

impl Default for PopbsmtpSection {
    fn default() -> PopbsmtpSection {
        PopbsmtpSection {
            enabled: false,
            listen: "127.0.0.1:10040".parse().expect("literal address"),
            ttl_secs: 1800,
        }
    }
}

/// `[admin]`: the web admin and the Prometheus statistics at `/metrics` (issue 17),
/// served over HTTPS with the server's certificate.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminSection {
    /// HTTPS listeners; empty: no web admin and no `/metrics`. Keep them on loopback or
    /// behind a firewall: `/metrics` needs no login.
    pub listen: Vec<SocketAddr>,
    /// A web admin login ends after this many seconds without a request.
    pub session_idle_secs: u64,
}

impl Default for AdminSection {
    fn default() -> AdminSection {
        AdminSection {
            listen: vec!["127.0.0.1:8443".parse().expect("literal address")],
            session_idle_secs: 1800,
        }
    }
}

/// Which storage backend holds the mail: a name, read by the binary (which alone knows
/// the backends' types).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// Maildir files plus a SQLite index per account, under `<data_dir>/mail`.
    #[default]
    Maildir,
    /// One PostgreSQL database shared by every node (`url`).
    Postgres,
}

/// `[store]`.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSection {
    /// `maildir` (the default) or `postgres`.
    pub backend: StoreBackend,
    /// PostgreSQL: the connection string, URL (`postgres://user:password@host/db`) or
    /// key=value form. May hold a password: it is never logged or shown.
    pub url: String,
    /// PostgreSQL: connections in the pool of this node (plus one for the change feed).
    pub pool_size: usize,
    /// PostgreSQL: a schema of the database to work in instead of the default
    /// `search_path` (several installations in one database); lower-case letters,
    /// digits and `_`.
    pub schema: Option<String>,
}

impl Default for StoreSection {
    fn default() -> StoreSection {
        StoreSection {
            backend: StoreBackend::Maildir,
            url: String::new(),
            pool_size: 16,
            schema: None,
        }
    }
}

/// Without the URL, which may carry a password.
impl std::fmt::Debug for StoreSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreSection")
            .field("backend", &self.backend)
            .field("url", &if self.url.is_empty() { "" } else { "(set)" })
            .field("pool_size", &self.pool_size)
            .field("schema", &self.schema)
            .finish()
    }
}
