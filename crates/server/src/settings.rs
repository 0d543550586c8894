//! Per-module settings changed while the server runs (P11, I14): the log level of each
//! module and the maximum number of channels (connections) of IMAP, POP3 and LMTP. The
//! web admin changes them; they take effect at once (a lower maximum refuses new
//! connections, it closes none) and are kept in `settings.toml` in the data directory,
//! which overrides the configuration file's values of these keys at the next start
//! ([`apply_saved`]).
//!
//! Does not live here: how a log level reaches the log filter (the binary registers a
//! hook, [`Settings::on_log_change`]).

use crate::config::{Config, LogLevel};
use crate::net::{ChannelLimit, Protocol};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The file, in the data directory.
pub const FILE: &str = "settings.toml";

/// The log level of every module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Levels {
    /// Everything that is not a protocol module (`[log] level`).
    pub log: LogLevel,
    pub imap: LogLevel,
    pub pop3: LogLevel,
    pub lmtp: LogLevel,
}

impl Levels {
    /// The levels of a configuration.
    pub fn of(c: &Config) -> Levels {
        Levels {
            log: c.log.level,
            imap: c.imap.log_level,
            pop3: c.pop3.log_level,
            lmtp: c.lmtp.log_level,
        }
    }
}

/// A module whose settings can change: `None` is the rest of the server (`[log]`).
pub type Module = Option<Protocol>;

type LogHook = Box<dyn Fn(Levels) + Send + Sync>;

/// The live settings.
pub struct Settings {
    path: PathBuf,
    levels: Mutex<Levels>,
    imap: Arc<ChannelLimit>,
    pop3: Arc<ChannelLimit>,
    lmtp: Arc<ChannelLimit>,
    hook: Mutex<Option<LogHook>>,
}

/// Why settings could not be read or kept.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("the maximum number of channels must be at least 1")]
    ZeroChannels,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedFile {
    log: Option<SavedLog>,
    imap: Option<SavedModule>,
    pop3: Option<SavedModule>,
    lmtp: Option<SavedModule>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedLog {
    level: Option<LogLevel>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedModule {
    log_level: Option<LogLevel>,
    max_channels: Option<usize>,
}

/// Applies the settings kept in `<data_dir>/settings.toml` (if any) to `config`.
pub fn apply_saved(config: &mut Config) -> Result<(), SettingsError> {
    let path = config.server.data_dir.join(FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(SettingsError::Io { path, source }),
    };
    let saved: SavedFile = toml::from_str(&text).map_err(|e| SettingsError::Syntax {
        path: path.clone(),
        message: e.message().to_string(),
    })?;
    if let Some(l) = saved.log.and_then(|l| l.level) {
        config.log.level = l;
    }
    let modules = [
        (
            "imap",
            saved.imap,
            &mut config.imap.log_level,
            &mut config.imap.max_channels,
        ),
        (
            "pop3",
            saved.pop3,
            &mut config.pop3.log_level,
            &mut config.pop3.max_channels,
        ),
        (
            "lmtp",
            saved.lmtp,
            &mut config.lmtp.log_level,
            &mut config.lmtp.max_channels,
        ),
    ];
    for (name, m, level, max) in modules {
        let Some(m) = m else { continue };
        if let Some(l) = m.log_level {
            *level = l;
        }
        match m.max_channels {
            Some(0) => {
                return Err(SettingsError::Syntax {
                    path,
                    message: format!("{name}.max_channels must be at least 1"),
                })
            }
            Some(n) => *max = n,
            None => {}
        }
    }
    Ok(())
}

impl Settings {
    /// The settings of `config` (after [`apply_saved`]), kept under its data directory.
    pub fn new(config: &Config) -> Settings {
        Settings {
            path: config.server.data_dir.join(FILE),
            levels: Mutex::new(Levels::of(config)),
            imap: ChannelLimit::new(Protocol::Imap, config.imap.max_channels),
            pop3: ChannelLimit::new(Protocol::Pop3, config.pop3.max_channels),
            lmtp: ChannelLimit::new(Protocol::Lmtp, config.lmtp.max_channels),
            hook: Mutex::new(None),
        }
    }

    /// Where the settings are kept.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The channel limit of a protocol (shared by its clear-text and TLS listeners).
    pub fn channels(&self, p: Protocol) -> &Arc<ChannelLimit> {
        match p {
            Protocol::Imap => &self.imap,
            Protocol::Pop3 => &self.pop3,
            Protocol::Lmtp => &self.lmtp,
        }
    }

    /// The log levels in force.
    pub fn levels(&self) -> Levels {
        *self.levels.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers what applies new log levels (the binary's log filter).
    pub fn on_log_change(&self, f: impl Fn(Levels) + Send + Sync + 'static) {
        *self.hook.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(f));
    }

    /// Sets a module's log level, applies it and keeps it.
    pub fn set_log_level(&self, module: Module, level: LogLevel) -> Result<(), SettingsError> {
        let levels = {
            let mut l = self.levels.lock().unwrap_or_else(|e| e.into_inner());
            match module {
                None => l.log = level,
                Some(Protocol::Imap) => l.imap = level,
                Some(Protocol::Pop3) => l.pop3 = level,
                Some(Protocol::Lmtp) => l.lmtp = level,
            }
            *l
        };
        if let Some(h) = self.hook.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            h(levels);
        }
        tracing::info!(
            target: "mailroom_major",
            module = module.map_or("server", |p| p.tag()),
            level = level.name(),
            "log level changed"
        );
        self.save()
    }

    /// Sets a protocol's maximum number of channels (at least 1) and keeps it.
    pub fn set_max_channels(&self, p: Protocol, max: usize) -> Result<(), SettingsError> {
        if max == 0 {
            return Err(SettingsError::ZeroChannels);
        }
        self.channels(p).set_max(max);
        tracing::info!(
            target: "mailroom_major",
            module = p.tag(),
            max,
            "maximum channels changed"
        );
        self.save()
    }

    /// Writes every setting to the file (a temporary file renamed over it).
    fn save(&self) -> Result<(), SettingsError> {
        let l = self.levels();
        let text = format!(
            "# Per-module settings changed in the web admin (mailroom keeps this file).\n\
             # They override the configuration file's values of the same keys.\n\
             [log]\nlevel = \"{}\"\n\n\
             [imap]\nlog_level = \"{}\"\nmax_channels = {}\n\n\
             [pop3]\nlog_level = \"{}\"\nmax_channels = {}\n\n\
             [lmtp]\nlog_level = \"{}\"\nmax_channels = {}\n",
            l.log.name(),
            l.imap.name(),
            self.imap.max(),
            l.pop3.name(),
            self.pop3.max(),
            l.lmtp.name(),
            self.lmtp.max(),
        );
        let io = |source| SettingsError::Io {
            path: self.path.clone(),
            source,
        };
        let tmp = self.path.with_extension("toml.tmp");
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, &self.path).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_settings_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Config::default();
        c.server.data_dir = dir.path().to_path_buf();
        let s = Settings::new(&c);
        s.set_max_channels(Protocol::Pop3, 7).unwrap();
        s.set_log_level(Some(Protocol::Imap), LogLevel::AllInfo)
            .unwrap();
        s.set_log_level(None, LogLevel::Major).unwrap();
        assert!(s.set_max_channels(Protocol::Imap, 0).is_err());
        let mut again = Config::default();
        again.server.data_dir = dir.path().to_path_buf();
        apply_saved(&mut again).unwrap();
        assert_eq!(again.pop3.max_channels, 7);
        assert_eq!(again.imap.max_channels, c.imap.max_channels);
        assert_eq!(again.imap.log_level, LogLevel::AllInfo);
        assert_eq!(again.log.level, LogLevel::Major);
    }

    #[test]
    fn a_broken_file_is_an_error_not_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), "[imap]\nmax_channels = \"x\"\n").unwrap();
        let mut c = Config::default();
        c.server.data_dir = dir.path().to_path_buf();
        let e = apply_saved(&mut c).unwrap_err().to_string();
        assert!(e.contains("settings.toml"), "{e}");
        std::fs::write(dir.path().join(FILE), "[imap]\nmax_channels = 0\n").unwrap();
        assert!(apply_saved(&mut c).is_err());
    }
}
