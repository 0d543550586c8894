//! Reloading while running (SIGHUP, `mailroom reload` through the admin socket): the
//! configuration is read again and put in force for what sessions read from now on, and
//! the TLS certificate and key are loaded again (a renewed certificate goes to the next
//! handshake; established sessions keep theirs). No session is dropped.
//!
//! What cannot change while running (listeners, channel limits, the data directory, the
//! main domain, threads, the login limits' tables, POP-before-SMTP, the log format) keeps
//! its running value; each such change is logged as needing a restart.
//!
//! The binary says how the configuration is read (the file and the command line's
//! overrides) through a [`Reloader`]; this module knows no file.

use crate::config::Config;
use crate::Ctx;
use std::sync::Arc;

/// How the configuration is read again, and what the binary itself applies.
pub trait Reloader: Send + Sync {
    /// Reads the configuration as at start (file, then command-line overrides).
    fn read_config(&self) -> Result<Config, String>;
    /// Called once the new configuration is in force (the binary's log levels).
    fn applied(&self, config: &Config) {
        let _ = config;
    }
}

/// Keeps in `new` the running values of what cannot change while running; returns the
/// names of the settings whose change was refused.
pub fn keep_restart_only(old: &Config, new: &mut Config) -> Vec<&'static str> {
    let mut kept = Vec::new();
    macro_rules! keep {
        ($($sec:ident . $field:ident),* $(,)?) => {$(
            if old.$sec.$field != new.$sec.$field {
                new.$sec.$field = old.$sec.$field.clone();
                kept.push(concat!(stringify!($sec), ".", stringify!($field)));
            }
        )*};
    }
    keep!(
        server.data_dir,
        server.main_domain,
        server.admin_socket,
        server.worker_threads,
        server.log_format,
        server.login_penalty_base_ms,
        server.login_penalty_max_ms,
        server.login_penalty_forget_secs,
        server.max_prelogin_per_ip,
        server.max_userip_connections,
        imap.listen,
        imap.listen_tls,
        imap.max_channels,
        pop3.listen,
        pop3.listen_tls,
        pop3.max_channels,
        lmtp.listen,
        lmtp.max_channels,
        popbsmtp.enabled,
        popbsmtp.listen,
        popbsmtp.ttl_secs,
        admin.listen,
    );
    kept
}

impl Ctx {
    /// Reads the configuration and the TLS certificate again and puts them in force.
    /// Returns what was done, one line each (also logged; a part that failed starts with
    /// `error: `); `Err` when the configuration could not be read (then nothing changed). Blocking (files): call it off the async
    /// threads.
    pub fn reload(self: &Arc<Self>) -> Result<Vec<String>, String> {
        let Some(reloader) = self.reloader.get() else {
            return Err("this server cannot reload (no configuration source)".into());
        };
        let old = self.config();
        let mut new = match reloader.read_config() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(target: "mailroom_major", error = %e, "reload: configuration not read, nothing changed");
                return Err(format!("configuration not read, nothing changed: {e}"));
            }
        };
        let mut report = Vec::new();
        for key in keep_restart_only(&old, &mut new) {
            tracing::warn!(target: "mailroom_major", setting = key, "reload: cannot change while running; restart to apply it");
            report.push(format!(
                "{key}: cannot change while running, restart to apply it"
            ));
        }
        if let Some(certs) = &self.tls_certs {
            match certs.reload(&new.tls, &new.server.data_dir, &new.server.hostname) {
                Ok(path) => {
                    tracing::info!(target: "mailroom_major", cert = %path.display(), "reload: TLS certificate loaded");
                    report.push(format!("TLS certificate loaded from {}", path.display()));
                }
                Err(e) => {
                    new.tls = old.tls.clone();
                    tracing::error!(target: "mailroom_major", error = %e, "reload: TLS certificate not loaded, the previous one stays");
                    report.push(format!(
                        "error: TLS certificate not loaded, the previous one stays: {e}"
                    ));
                }
            }
        }
        let new = Arc::new(new);
        *self.live_config.write().unwrap_or_else(|e| e.into_inner()) = new.clone();
        reloader.applied(&new);
        tracing::info!(target: "mailroom_major", "reload: configuration in force");
        report.push("configuration in force".into());
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_only_settings_keep_their_running_values() {
        let old = Config::file_defaults();
        let mut new = old.clone();
        new.imap.listen = vec!["127.0.0.1:9".parse().unwrap()];
        new.server.data_dir = "elsewhere".into();
        new.pop3.uidl_format = "%u".into();
        new.imap.idle_timeout_secs = 99;
        let kept = keep_restart_only(&old, &mut new);
        assert_eq!(kept, vec!["server.data_dir", "imap.listen"]);
        assert_eq!(new.imap.listen, old.imap.listen);
        assert_eq!(new.server.data_dir, old.server.data_dir);
        assert_eq!(new.pop3.uidl_format, "%u");
        assert_eq!(new.imap.idle_timeout_secs, 99);
    }
}
