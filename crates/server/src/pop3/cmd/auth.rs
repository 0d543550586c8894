//! USER, PASS, APOP (RFC 1939 section 7), AUTH (RFC 5034), and the login itself: alerts
//! (P10), the maildrop snapshot (filtered for domain-wide logins, P9), the delay after
//! failed attempts, and the POP-before-SMTP record of the client address (P13).

use super::maildrop::Maildrop;
use crate::pop3::{Session, State};
use mailroom_directory::sasl::{SaslFailure, SaslOptions, SaslServer, SaslStep};
use mailroom_directory::{AccountInfo, LoginTarget};
use mailroom_proto::pop3::{decode_response, encode_challenge, SaslResponse};
use std::time::Duration;

/// The SASL mechanisms, in the order CAPA and a bare AUTH list them.
pub const MECHANISMS: &[&str] = &["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256"];

/// Mechanisms that send the password in clear text.
fn is_plaintext_mech(m: &str) -> bool {
    m == "PLAIN" || m == "LOGIN"
}

/// The delay before answering the `n`th failed login of a connection: none for the first,
/// then half a second more per failure, at most 5 seconds (a slow-down, not a lock-out).
pub fn failure_delay(n: u32) -> Duration {
    Duration::from_millis((u64::from(n.saturating_sub(1)) * 500).min(5000))
}

/// How a login attempt ended, before the session acts on it.
enum Verdict {
    /// The account, and the local part to filter on for a domain-wide login (P9).
    Ok(AccountInfo, Option<String>),
    Failed,
    Moved(String),
    Temporary(String),
}

impl Session {
    /// True when clear-text passwords are accepted on this connection.
    pub(crate) fn plaintext_allowed(&self) -> bool {
        !self.ctx.config.server.require_tls_for_plaintext || self.stream.is_tls()
    }

    /// The mechanisms offered on this connection.
    pub(crate) fn mechanisms(&self) -> Vec<&'static str> {
        let plain = self.plaintext_allowed();
        MECHANISMS
            .iter()
            .copied()
            .filter(|m| plain || !is_plaintext_mech(m))
            .collect()
    }

    fn local_ip(&self) -> Option<std::net::IpAddr> {
        self.info.local.map(|a| a.ip())
    }

    /// `USER name`.
    pub(crate) fn user(&mut self, name: String) {
        if !self.plaintext_allowed() {
            self.err("[AUTH] TLS required for clear-text login: use STLS first");
            return;
        }
        self.state = State::Authorization { user: Some(name) };
        self.reply("+OK send PASS");
    }

    /// `PASS string`.
    pub(crate) async fn pass(&mut self, password: String) {
        let user = match &mut self.state {
            State::Authorization { user } => user.take(),
            State::Transaction(_) => None,
        };
        if !self.plaintext_allowed() {
            self.err("[AUTH] TLS required for clear-text login: use STLS first");
            return;
        }
        let Some(user) = user else {
            self.err("give USER first");
            return;
        };
        // USER/PASS is PLAIN without the encoding: same checks, same timing for unknown
        // users. Lines carry no NUL, so the join is unambiguous.
        let mut msg = Vec::with_capacity(user.len() + password.len() + 2);
        msg.push(0);
        msg.extend_from_slice(user.as_bytes());
        msg.push(0);
        msg.extend_from_slice(password.as_bytes());
        drop(password);
        let ip = self.local_ip();
        let step = self
            .ctx
            .dir(move |d| {
                let src = d.sasl_source(ip);
                SaslServer::start("PLAIN", &src, SaslOptions::default(), Some(&msg)).1
            })
            .await;
        let verdict = verdict(step);
        self.conclude(&user, verdict).await;
    }

    /// `APOP name digest`.
    pub(crate) async fn apop(&mut self, name: String, digest: String) {
        let Some(ts) = self.timestamp.clone() else {
            self.err("APOP is not enabled on this server");
            return;
        };
        self.state = State::Authorization { user: None };
        let ip = self.local_ip();
        let n = name.clone();
        let verdict = self
            .ctx
            .dir(move |d| match d.resolve_login(&n, ip) {
                Ok(LoginTarget::Local { account, real_to }) => {
                    if d.verify_apop(&account, &ts, &digest) {
                        Verdict::Ok(account, real_to)
                    } else {
                        Verdict::Failed
                    }
                }
                Ok(LoginTarget::Remote(r)) => Verdict::Moved(r),
                Ok(LoginTarget::Unknown) => Verdict::Failed,
                Err(e) => Verdict::Temporary(e.to_string()),
            })
            .await;
        self.conclude(&name, verdict).await;
    }

    /// `AUTH [mechanism [initial-response]]`. `Ok(false)` when the connection ended in the
    /// middle of the exchange.
    pub(crate) async fn auth(
        &mut self,
        mechanism: Option<String>,
        initial: Option<String>,
    ) -> std::io::Result<bool> {
        self.state = State::Authorization { user: None };
        let Some(mech) = mechanism else {
            // A bare AUTH lists the mechanisms (seed 000: for Microsoft clients).
            self.reply("+OK SASL mechanisms follow");
            for m in self.mechanisms() {
                self.reply(m);
            }
            self.reply(".");
            return Ok(true);
        };
        if !MECHANISMS.contains(&mech.as_str()) {
            self.err("unsupported SASL mechanism");
            return Ok(true);
        }
        if is_plaintext_mech(&mech) && !self.plaintext_allowed() {
            self.err("[AUTH] TLS required for clear-text mechanisms: use STLS first");
            return Ok(true);
        }
        let initial = match initial.as_deref().map(|s| decode_response(s.as_bytes())) {
            None => None,
            Some(Ok(SaslResponse::Data(d))) => Some(d),
            Some(Ok(SaslResponse::Cancel)) => {
                self.err("AUTH cancelled");
                return Ok(true);
            }
            Some(Err(e)) => {
                self.err(&e.to_string());
                return Ok(true);
            }
        };
        let ip = self.local_ip();
        let opts = SaslOptions {
            hostname: self.ctx.config.server.hostname.clone(),
            ..SaslOptions::default()
        };
        let m = mech.clone();
        let (mut server, mut step) = self
            .ctx
            .dir(move |d| {
                let src = d.sasl_source(ip);
                SaslServer::start(&m, &src, opts, initial.as_deref())
            })
            .await;
        loop {
            let challenge = match step {
                SaslStep::Challenge(c) => c,
                done => {
                    let v = verdict(done);
                    self.conclude(&mech, v).await;
                    return Ok(true);
                }
            };
            self.reply(&encode_challenge(&challenge));
            let line = match self.read_line().await? {
                None => return Ok(false),
                Some(Err(())) => {
                    self.err("line too long: AUTH cancelled");
                    return Ok(true);
                }
                Some(Ok(l)) => l,
            };
            let data = match decode_response(&line) {
                Ok(SaslResponse::Cancel) => {
                    self.err("AUTH cancelled");
                    return Ok(true);
                }
                Ok(SaslResponse::Data(d)) => d,
                Err(e) => {
                    self.err(&format!("{e}: AUTH cancelled"));
                    return Ok(true);
                }
            };
            let (s, st) = self
                .ctx
                .dir(move |d| {
                    let src = d.sasl_source(ip);
                    let st = server.step(&src, &data);
                    (server, st)
                })
                .await;
            server = s;
            step = st;
        }
    }

    /// Acts on a login verdict: a failure is answered after the growing delay; a success
    /// shows a pending alert instead of logging in (P10), or opens the maildrop.
    async fn conclude(&mut self, who: &str, verdict: Verdict) {
        let (account, real_to) = match verdict {
            Verdict::Ok(a, r) => (a, r.filter(|r| !r.trim().is_empty())),
            Verdict::Failed => {
                self.failures += 1;
                tracing::warn!(login = %who, failures = self.failures, "login failed");
                tokio::time::sleep(failure_delay(self.failures)).await;
                self.err("[AUTH] authentication failed");
                return;
            }
            Verdict::Moved(to) => {
                tracing::info!(login = %who, to = %to, "account moved");
                self.err(&format!("[AUTH] account moved to {to}"));
                return;
            }
            Verdict::Temporary(e) => {
                tracing::warn!(login = %who, error = %e, "directory failure");
                self.err("[SYS/TEMP] temporary failure, try again later");
                return;
            }
        };
        let acc = account.clone();
        match self.ctx.dir(move |d| d.take_alert(&acc)).await {
            Ok(Some(text)) => {
                tracing::info!(account = %account.address(), "login refused with an alert");
                self.err(&format!("ALERT: {text}"));
                return;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read alerts"),
        }
        match Maildrop::open(&self.ctx, &account, real_to.as_deref()).await {
            Ok(m) => {
                let (count, octets) = m.stat();
                let addr = account.address();
                tracing::info!(account = %addr, real_to = ?real_to, messages = count, octets, "logged in");
                self.reg.set_account(&addr);
                self.reg.set_state("transaction");
                self.ctx.relay.record_peer(self.info.peer);
                self.reply(&format!(
                    "+OK {addr} has {count} message(s) ({octets} octets)"
                ));
                self.state = State::Transaction(Box::new(m));
            }
            Err(e) => {
                tracing::warn!(account = %account.address(), error = %e, "cannot open maildrop");
                self.err(&format!("[SYS/TEMP] cannot open the maildrop: {e}"));
            }
        }
    }
}

fn verdict(step: SaslStep) -> Verdict {
    match step {
        SaslStep::Success {
            account, real_to, ..
        } => Verdict::Ok(account, real_to),
        SaslStep::Failure(SaslFailure::Referral(r)) => Verdict::Moved(r),
        SaslStep::Failure(SaslFailure::Temporary(e)) => Verdict::Temporary(e),
        SaslStep::Failure(_) | SaslStep::Challenge(_) => Verdict::Failed,
    }
}
