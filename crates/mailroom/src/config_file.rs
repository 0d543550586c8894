//! Reading `mailroom.toml`: TOML onto the embedded defaults, with errors that name the
//! file, the line and the key (`mailroom check-config`).

use mailroom_server::Config;
use std::path::Path;

/// A configuration error, located.
#[derive(Debug)]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if let Some(k) = &self.key {
            write!(f, ": key `{k}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Listener keys that take the standard ports in a config file unless it sets them.
const LISTENERS: [(&str, &str); 5] = [
    ("imap", "listen"),
    ("imap", "listen_tls"),
    ("pop3", "listen"),
    ("pop3", "listen_tls"),
    ("lmtp", "listen"),
];

/// Parses a configuration file's text. Values the file does not set keep their embedded
/// defaults, except the listeners: a config file means a real deployment, so they default
/// to the standard ports (143, 110, LMTP 24 on loopback) with implicit TLS off.
pub fn parse(file: &str, text: &str) -> Result<Config, ConfigError> {
    let located = |e: toml::de::Error| {
        let (line, key) = match e.span() {
            Some(span) => locate(text, span.start),
            None => (None, None),
        };
        ConfigError {
            file: file.to_string(),
            line,
            key,
            message: e.message().trim().to_string(),
        }
    };
    let table: toml::Table = toml::from_str(text).map_err(located)?;
    let mut config: Config = toml::from_str(text).map_err(located)?;
    let defaults = Config::file_defaults();
    for (section, key) in LISTENERS {
        let set = table
            .get(section)
            .and_then(|s| s.as_table())
            .is_some_and(|s| s.contains_key(key));
        if set {
            continue;
        }
        match (section, key) {
            ("imap", "listen") => config.imap.listen = defaults.imap.listen.clone(),
            ("imap", "listen_tls") => config.imap.listen_tls = defaults.imap.listen_tls.clone(),
            ("pop3", "listen") => config.pop3.listen = defaults.pop3.listen.clone(),
            ("pop3", "listen_tls") => config.pop3.listen_tls = defaults.pop3.listen_tls.clone(),
            _ => config.lmtp.listen = defaults.lmtp.listen.clone(),
        }
    }
    validate(&config).map_err(|(key, message)| ConfigError {
        file: file.to_string(),
        line: find_key_line(text, &key),
        key: Some(key),
        message,
    })?;
    Ok(config)
}

/// Reads and parses a configuration file. Relative paths in it (data directory, TLS
/// files) are taken relative to the working directory, as given.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: file.clone(),
        line: None,
        key: None,
        message: format!("cannot read: {e}"),
    })?;
    parse(&file, &text)
}

/// Checks values serde cannot: returns the dotted key and the problem.
fn validate(c: &Config) -> Result<(), (String, String)> {
    if c.imap.idle_timeout_secs < 30 * 60 {
        return Err((
            "imap.idle_timeout_secs".into(),
            "must be at least 1800 (RFC 3501 5.4: an autologout timer of at least 30 minutes)"
                .into(),
        ));
    }
    if c.pop3.idle_timeout_secs < 10 * 60 {
        return Err((
            "pop3.idle_timeout_secs".into(),
            "must be at least 600 (RFC 1939 3: an autologout timer of at least 10 minutes)".into(),
        ));
    }
    if c.tls.cert.is_some() != c.tls.key.is_some() {
        return Err((
            "tls.cert".into(),
            "set both tls.cert and tls.key, or neither".into(),
        ));
    }
    if c.server.worker_threads > 1024 {
        return Err((
            "server.worker_threads".into(),
            "must be at most 1024 (0 picks one less than the CPUs)".into(),
        ));
    }
    if c.server.main_domain.trim().is_empty() {
        return Err(("server.main_domain".into(), "must not be empty".into()));
    }
    for (key, v) in [
        ("imap.max_channels", c.imap.max_channels),
        ("pop3.max_channels", c.pop3.max_channels),
        ("lmtp.max_channels", c.lmtp.max_channels),
    ] {
        if v == 0 {
            return Err((key.into(), "must be at least 1".into()));
        }
    }
    if c.store.backend == mailroom_server::config::StoreBackend::Postgres
        && c.store.url.trim().is_empty()
    {
        return Err((
            "store.url".into(),
            "backend = \"postgres\" needs the database's connection string".into(),
        ));
    }
    if !(1..=1000).contains(&c.store.pool_size) {
        return Err((
            "store.pool_size".into(),
            "must be between 1 and 1000".into(),
        ));
    }
    let fmt = &c.pop3.uidl_format;
    if fmt.is_empty() || fmt.bytes().any(|b| !(0x21..=0x7e).contains(&b)) {
        return Err((
            "pop3.uidl_format".into(),
            "must be printable ASCII without spaces (RFC 1939 7)".into(),
        ));
    }
    Ok(())
}

/// The 1-based line of byte offset `at`, and the dotted key defined on it.
fn locate(text: &str, at: usize) -> (Option<usize>, Option<String>) {
    let at = at.min(text.len());
    let line_no = text[..at].bytes().filter(|&b| b == b'\n').count() + 1;
    let mut section = String::new();
    let mut key = None;
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        if i + 1 > line_no {
            break;
        }
        if t.starts_with('[') {
            section = t.trim_matches(|c| c == '[' || c == ']').trim().to_string();
            if i + 1 == line_no {
                key = Some(section.clone());
            }
        } else if i + 1 == line_no {
            if let Some((k, _)) = t.split_once('=') {
                let k = k.trim().trim_matches('"');
                key = Some(if section.is_empty() {
                    k.to_string()
                } else {
                    format!("{section}.{k}")
                });
            }
        }
    }
    (Some(line_no), key)
}

/// The line where a dotted key (`imap.idle_timeout_secs`) is set, if it is.
fn find_key_line(text: &str, dotted: &str) -> Option<usize> {
    let (section, key) = dotted.rsplit_once('.')?;
    let mut current = String::new();
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        if t.starts_with('[') {
            current = t.trim_matches(|c| c == '[' || c == ']').trim().to_string();
        } else if current == section {
            if let Some((k, _)) = t.split_once('=') {
                if k.trim().trim_matches('"') == key {
                    return Some(i + 1);
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn empty_file_takes_standard_ports() {
        let c = parse("m.toml", "").unwrap();
        assert_eq!(c.imap.listen, vec!["0.0.0.0:143".parse().unwrap()]);
        assert!(c.imap.listen_tls.is_empty());
        assert_eq!(c.pop3.listen, vec!["0.0.0.0:110".parse().unwrap()]);
        assert_eq!(c.lmtp.listen, vec!["127.0.0.1:24".parse().unwrap()]);
        assert_eq!(c.server.main_domain, "localhost");
    }

    #[test]
    fn values_override_defaults() {
        let c = parse(
            "m.toml",
            "[server]\nmain_domain = \"example.com\"\n[imap]\nlisten = [\"127.0.0.1:9143\"]\nlisten_tls = []\n[pop3]\nlog_level = \"All\"\n",
        )
        .unwrap();
        assert_eq!(c.server.main_domain, "example.com");
        assert_eq!(c.imap.listen, vec!["127.0.0.1:9143".parse().unwrap()]);
        assert!(c.imap.listen_tls.is_empty());
        assert_eq!(c.pop3.log_level, mailroom_server::config::LogLevel::AllInfo);
    }

    #[test]
    fn admin_section() {
        let c = parse("m.toml", "").unwrap();
        assert_eq!(c.admin.listen, vec!["127.0.0.1:8443".parse().unwrap()]);
        let c = parse("m.toml", "[admin]\nlisten = []\nsession_idle_secs = 600\n").unwrap();
        assert!(c.admin.listen.is_empty());
        assert_eq!(c.admin.session_idle_secs, 600);
        let e = parse("m.toml", "[admin]\nlisten = \"nowhere\"\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("admin.listen"));
    }

    #[test]
    fn type_error_names_line_and_key() {
        let e = parse(
            "m.toml",
            "[server]\nhostname = \"x\"\n\n[imap]\nmax_channels = \"many\"\n",
        )
        .unwrap_err();
        assert_eq!(e.line, Some(5));
        assert_eq!(e.key.as_deref(), Some("imap.max_channels"));
        let shown = e.to_string();
        assert!(
            shown.starts_with("m.toml:5: key `imap.max_channels`: "),
            "{shown}"
        );
    }

    #[test]
    fn unknown_key_is_refused_with_its_line() {
        let e = parse("m.toml", "[pop3]\napop = true\nmax_chanels = 5\n").unwrap_err();
        assert_eq!(e.line, Some(3));
        assert_eq!(e.key.as_deref(), Some("pop3.max_chanels"));
        assert!(e.message.contains("unknown field"), "{}", e.message);
    }

    #[test]
    fn syntax_error_is_located() {
        let e = parse("m.toml", "[imap]\nlisten = [\"127.0.0.1:1\"\n").unwrap_err();
        assert!(e.line.is_some());
    }

    #[test]
    fn worker_threads_default_and_limit() {
        let c = parse("t.toml", "").unwrap();
        assert_eq!(c.server.worker_threads, 0);
        assert!(c.server.worker_threads() >= 1);
        let c = parse("t.toml", "[server]\nworker_threads = 3\n").unwrap();
        assert_eq!(c.server.worker_threads(), 3);
        let e = parse("t.toml", "[server]\nworker_threads = 5000\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("server.worker_threads"));
        assert_eq!(e.line, Some(2));
    }

    #[test]
    fn rfc_minimum_timeouts_are_enforced() {
        let e = parse("m.toml", "[imap]\nidle_timeout_secs = 60\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("imap.idle_timeout_secs"));
        assert_eq!(e.line, Some(2));
        let e = parse("m.toml", "[pop3]\nidle_timeout_secs = 60\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("pop3.idle_timeout_secs"));
    }

    #[test]
    fn store_section() {
        use mailroom_server::config::StoreBackend;
        let c = parse("m.toml", "").unwrap();
        assert_eq!(c.store.backend, StoreBackend::Maildir);
        let c = parse(
            "m.toml",
            "[store]\nbackend = \"postgres\"\nurl = \"postgres://mail:pw@db/mailroom\"\npool_size = 4\n",
        )
        .unwrap();
        assert_eq!(c.store.backend, StoreBackend::Postgres);
        assert_eq!(c.store.pool_size, 4);
        assert!(
            !format!("{:?}", c.store).contains("pw"),
            "the URL is not shown"
        );
        let e = parse("m.toml", "[store]\nbackend = \"postgres\"\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("store.url"));
        let e = parse("m.toml", "[store]\nbackend = \"mysql\"\n").unwrap_err();
        assert_eq!((e.line, e.key.as_deref()), (Some(2), Some("store.backend")));
        let e = parse("m.toml", "[store]\npool_size = 0\n").unwrap_err();
        assert_eq!(
            (e.line, e.key.as_deref()),
            (Some(2), Some("store.pool_size"))
        );
    }

    #[test]
    fn bad_address_is_located() {
        let e = parse("m.toml", "[lmtp]\nlisten = [\"not an address\"]\n").unwrap_err();
        assert_eq!(e.line, Some(2));
        assert_eq!(e.key.as_deref(), Some("lmtp.listen"));
    }
}
