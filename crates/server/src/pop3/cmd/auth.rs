//! USER, PASS, APOP (RFC 1939 section 7), AUTH (RFC 5034), and the login itself: alerts
//! (P10), the maildrop snapshot (filtered for domain-wide logins, P9), the delay after
//! failed attempts, and the POP-before-SMTP record of the client address (P13).
//!
//! Mailbox addressing (P8, seed 000): every login name, in USER, APOP and in the
//! identities of every SASL mechanism (PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256), may be
//! `mailbox#account`: the credentials checked are the account's (after the last `#`),
//! and the maildrop is that mailbox. For SASL the split is made by [`PopNames`], a
//! [`CredentialSource`] around the directory's that sees the name the mechanism looks
//! up; SCRAM's proof covers the name as the client sent it, so `#` works there too. A
//! malformed name is refused with its reason before any password is checked (USER,
//! APOP) or instead of the "authentication failed" answer (AUTH); the session goes on.

use super::maildrop::{Maildrop, OpenError};
use crate::access::{self, NameError, PopUser};
use crate::limits::SeenName;
use crate::net::Protocol;
use crate::pop3::{Session, State};
use mailroom_directory::sasl::{CredentialSource, SaslFailure, SaslOptions, SaslServer, SaslStep};
use mailroom_directory::{AccountInfo, Credentials, DirError, LoginTarget, Secret};
use mailroom_proto::pop3::{decode_response, encode_challenge, SaslResponse};
use std::cell::RefCell;

/// The SASL mechanisms, in the order CAPA and a bare AUTH list them.
pub const MECHANISMS: &[&str] = &["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256"];

/// Mechanisms that send the password in clear text.
fn is_plaintext_mech(m: &str) -> bool {
    m == "PLAIN" || m == "LOGIN"
}

/// Splits a POP3 login name `mailbox#account` (P8) and checks the mailbox part's syntax.
pub fn split_user(name: &str) -> Result<PopUser, NameError> {
    let u = access::parse_pop_user(name)?;
    if let Some(m) = &u.mailbox {
        access::check_name_syntax(m)?;
    }
    Ok(u)
}

/// The answer to a malformed login name (the session goes on).
fn bad_name_text(e: &NameError) -> String {
    format!("bad user name: {e}")
}

/// A [`CredentialSource`] that accepts `mailbox#account` names: lookups go to the
/// account part, and the mailbox part (or the name's error) is kept for the session.
struct PopNames<'a> {
    inner: &'a dyn CredentialSource,
    mailbox: RefCell<Option<Result<String, NameError>>>,
}

impl<'a> PopNames<'a> {
    fn new(inner: &'a dyn CredentialSource) -> PopNames<'a> {
        PopNames {
            inner,
            mailbox: RefCell::new(None),
        }
    }

    /// What the lookups saw: `None` if no name (or a plain one) was looked up.
    fn into_mailbox(self) -> Option<Result<String, NameError>> {
        self.mailbox.into_inner()
    }
}

impl CredentialSource for PopNames<'_> {
    fn lookup(&self, login: &str) -> Result<LoginTarget, DirError> {
        match split_user(login) {
            Ok(u) => {
                *self.mailbox.borrow_mut() = u.mailbox.map(Ok);
                self.inner.lookup(&u.login)
            }
            Err(e) => {
                *self.mailbox.borrow_mut() = Some(Err(e));
                Ok(LoginTarget::Unknown)
            }
        }
    }

    fn credentials(&self, account: &AccountInfo) -> Result<Credentials, DirError> {
        self.inner.credentials(account)
    }

    fn verify_password(&self, account: &AccountInfo, password: &Secret) -> bool {
        self.inner.verify_password(account, password)
    }
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
        !self.ctx.config().server.require_tls_for_plaintext || self.stream.is_tls()
    }

    /// The mechanisms offered on this connection.
    pub(crate) fn mechanisms(&self) -> Vec<&'static str> {
        let plain = self.plaintext_allowed();
        let server = &self.ctx.config().server;
        MECHANISMS
            .iter()
            .copied()
            .filter(|m| (plain || !is_plaintext_mech(m)) && server.sasl_enabled(m))
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
        if let Err(e) = split_user(&name) {
            self.state = State::Authorization { user: None };
            self.err(&bad_name_text(&e));
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
        let PopUser { login, mailbox } = match split_user(&user) {
            Ok(u) => u,
            Err(e) => {
                self.err(&bad_name_text(&e));
                return;
            }
        };
        // USER/PASS is PLAIN without the encoding: same checks, same timing for unknown
        // users. Lines carry no NUL, so the join is unambiguous.
        let mut msg = Vec::with_capacity(login.len() + password.len() + 2);
        msg.push(0);
        msg.extend_from_slice(login.as_bytes());
        msg.push(0);
        msg.extend_from_slice(password.as_bytes());
        drop(password);
        if !self.login_gate().await {
            return;
        }
        let ip = self.local_ip();
        let step = self
            .ctx
            .dir(move |d| {
                let src = d.sasl_source(ip);
                SaslServer::start("PLAIN", &src, SaslOptions::default(), Some(&msg)).1
            })
            .await;
        let verdict = verdict(step);
        self.conclude(&user, &user, verdict, mailbox, "USER").await;
    }

    /// `APOP name digest`.
    pub(crate) async fn apop(&mut self, name: String, digest: String) {
        let Some(ts) = self.timestamp.clone() else {
            self.err("APOP is not enabled on this server");
            return;
        };
        self.state = State::Authorization { user: None };
        let PopUser { login, mailbox } = match split_user(&name) {
            Ok(u) => u,
            Err(e) => {
                self.err(&bad_name_text(&e));
                return;
            }
        };
        if !self.login_gate().await {
            return;
        }
        let ip = self.local_ip();
        let n = login;
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
        self.conclude(&name, &name, verdict, mailbox, "APOP").await;
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
        if !MECHANISMS.contains(&mech.as_str()) || !self.ctx.config().server.sasl_enabled(&mech) {
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
            hostname: self.ctx.config().server.hostname.clone(),
            ..SaslOptions::default()
        };
        let m = mech.clone();
        if !self.login_gate().await {
            return Ok(true);
        }
        let (mut server, mut step, seen, mut login) = self
            .ctx
            .dir(move |d| {
                let inner = d.sasl_source(ip);
                let named = SeenName::new(&inner);
                let src = PopNames::new(&named);
                let (server, step) = SaslServer::start(&m, &src, opts, initial.as_deref());
                let mailbox = src.into_mailbox();
                (server, step, mailbox, named.into_name())
            })
            .await;
        // The mailbox part of the name the mechanism looked up (P8), kept across steps.
        let mut mailbox = seen;
        loop {
            let challenge = match step {
                SaslStep::Challenge(c) => c,
                done => {
                    let mailbox = match mailbox {
                        None => None,
                        Some(Ok(m)) => Some(m),
                        Some(Err(e)) => {
                            self.err(&bad_name_text(&e));
                            return Ok(true);
                        }
                    };
                    let v = verdict(done);
                    let login = login.unwrap_or_default();
                    let m = crate::metrics::mechanism(&mech);
                    self.conclude(&mech, &login, v, mailbox, m).await;
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
            let (s, st, seen, named) = self
                .ctx
                .dir(move |d| {
                    let inner = d.sasl_source(ip);
                    let named = SeenName::new(&inner);
                    let src = PopNames::new(&named);
                    let st = server.step(&src, &data);
                    let mailbox = src.into_mailbox();
                    (server, st, mailbox, named.into_name())
                })
                .await;
            server = s;
            step = st;
            login = named.or(login);
            if seen.is_some() {
                mailbox = seen;
            }
        }
    }

    /// Waits out the penalty of the client's address before a credentials check
    /// ([`crate::limits`]). False when the login deadline came first: the caller answers
    /// nothing and the read loop closes the connection with its `-ERR`.
    async fn login_gate(&self) -> bool {
        let peer = self.info.peer.map(|a| a.ip());
        self.ctx
            .limits
            .wait_attempt(peer, self.login_deadline)
            .await
    }

    /// Acts on a login verdict for `login` (the name the client gave, counted against
    /// its account): the account's penalty first (unless this address logged in to it
    /// since), then a failure is recorded and answered; a success shows a pending alert
    /// instead of logging in (P10), or opens the maildrop within the sessions-per-account-
    /// and-address limit. `mailbox` is the mailbox part of a `mailbox#account` name (P8).
    /// `mechanism`: `USER`, `APOP` or the SASL mechanism (the statistics' label).
    async fn conclude(
        &mut self,
        who: &str,
        login: &str,
        verdict: Verdict,
        mailbox: Option<String>,
        mechanism: &'static str,
    ) {
        let peer = self.info.peer.map(|a| a.ip());
        if matches!(verdict, Verdict::Ok(..) | Verdict::Failed) {
            self.ctx.limits.wait_answer(peer, login).await;
            crate::metrics::login(
                Protocol::Pop3,
                mechanism,
                matches!(verdict, Verdict::Ok(..)),
            );
        }
        let (account, real_to) = match verdict {
            Verdict::Ok(a, r) => {
                self.ctx.limits.succeeded(peer, login);
                (a, r.filter(|r| !r.trim().is_empty()))
            }
            Verdict::Failed => {
                tracing::info!(login = %who, "login failed");
                self.ctx.limits.failed(peer, login, Protocol::Pop3);
                self.err("[AUTH] authentication failed");
                return;
            }
            Verdict::Moved(to) => {
                // I8 for POP3: no referral syntax in RFC 1939/2449, so the new location
                // goes in the text; SYS/PERM (RFC 3206): retrying here will not help.
                tracing::info!(login = %who, to = %to, "account moved");
                self.err(&format!("[SYS/PERM] account has been moved to {to}"));
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
        let Some(slot) = self
            .ctx
            .limits
            .user_session(Protocol::Pop3, &account.address(), peer)
        else {
            tracing::warn!(account = %account.address(), "too many sessions of this account from this address, login refused");
            self.err("[IN-USE] too many connections for this user from your address");
            return;
        };
        match Maildrop::open(&self.ctx, &account, real_to.as_deref(), mailbox.as_deref()).await {
            Ok(m) => {
                self.userip = Some(slot);
                self.prelogin = None;
                let (count, octets) = m.stat();
                let addr = account.address();
                tracing::info!(account = %addr, real_to = ?real_to, mailbox = ?mailbox, rights = %m.rights.to_imap(), messages = count, octets, "logged in");
                self.reg.set_account(&addr);
                self.reg.set_state("transaction");
                self.ctx.relay.record_peer(self.info.peer);
                let within = match &mailbox {
                    Some(name) => format!(" in {name}"),
                    None => String::new(),
                };
                self.reply(&format!(
                    "+OK {addr} has {count} message(s) ({octets} octets){within}"
                ));
                self.state = State::Transaction(Box::new(m));
            }
            Err(OpenError::NoSuchMailbox) => {
                // Missing and unreadable mailboxes get the same answer (RFC 4314 section 6).
                tracing::info!(account = %account.address(), mailbox = ?mailbox, "no such (or no readable) mailbox");
                self.bad += 1;
                self.reply(access::POP3_NO_SUCH_MAILBOX);
            }
            Err(OpenError::Name(e)) => {
                self.err(&bad_name_text(&e));
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

#[cfg(test)]
mod tests {
    use super::split_user;
    use crate::access::NameError;

    #[test]
    fn seed000_user_names() {
        for (name, login, mailbox) in [
            ("jsmith", "jsmith", None),
            ("private#jsmith", "jsmith", Some("private")),
            (
                "lists/info#jsmith@client1.com",
                "jsmith@client1.com",
                Some("lists/info"),
            ),
            ("~boss/INBOX#jsmith", "jsmith", Some("~boss/INBOX")),
            (
                "~public/announces#jsmith",
                "jsmith",
                Some("~public/announces"),
            ),
            ("a#b#jsmith", "jsmith", Some("a#b")),
        ] {
            let u = split_user(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(u.login, login, "{name}");
            assert_eq!(u.mailbox.as_deref(), mailbox, "{name}");
        }
    }

    #[test]
    fn malformed_user_names() {
        for (name, err) in [
            ("#jsmith", NameError::BadPopUser),
            ("private#", NameError::BadPopUser),
            ("../x#jsmith", NameError::Invalid),
            ("a/./b#jsmith", NameError::Invalid),
            ("~#jsmith", NameError::NoMailbox),
            ("~boss#jsmith", NameError::NoMailbox),
            ("~boss/#jsmith", NameError::NoMailbox),
            ("~bo s/INBOX#jsmith", NameError::BadAccount),
            ("~boss@/INBOX#jsmith", NameError::BadAccount),
        ] {
            assert_eq!(split_user(name).map(|_| ()), Err(err), "{name}");
        }
    }
}
