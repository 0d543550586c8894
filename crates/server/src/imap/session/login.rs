//! The outcome of a login attempt (LOGIN, AUTHENTICATE): the login penalty around it
//! ([`crate::limits`]: a wait before the check for a penalised address, a wait before
//! the answer for a penalised account), opening the account on success (within the
//! sessions-per-account-and-address limit), the failure recorded.

use super::{Session, User};
use crate::imap::cmd::{self, Reply};
use crate::net::Protocol;
use mailroom_directory::AccountInfo;
use mailroom_proto::imap::encode::ResponseCode;

impl Session {
    /// A successful login: opens the mail store, creates the default special-use
    /// mailboxes, sends alerts; the reply carries the new capabilities.
    /// `alerts`: the account's pending alerts when the caller already took them (in the
    /// same directory call as the password check: one hop to the blocking pool per login).
    pub(crate) async fn login_success(
        &mut self,
        info: AccountInfo,
        alerts: Option<Vec<String>>,
    ) -> Reply {
        let Some(slot) = self.ctx.limits.user_session(
            Protocol::Imap,
            &info.address(),
            self.info.peer.map(|a| a.ip()),
        ) else {
            tracing::warn!(account = %info.address(), peer = ?self.info.peer, "too many sessions of this account from this address, login refused");
            // Taken alerts are shown even so: they are gone from the directory.
            self.write_alerts(alerts.unwrap_or_default());
            return Reply::no(
                Some(ResponseCode::Limit),
                "too many connections for this user from your address",
            );
        };
        let (domain, name) = info.store_key();
        let Some(key) = mailroom_store::AccountKey::new(&domain, &name) else {
            return Reply::no(Some(ResponseCode::ServerBug), "invalid account name");
        };
        let account = match self.ctx.store.open_account(&key).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "cannot open the mail store");
                // Taken alerts are shown even so: they are gone from the directory.
                self.write_alerts(alerts.unwrap_or_default());
                return Reply::no(Some(ResponseCode::Unavailable), "mail store unavailable");
            }
        };
        if let Err(e) = account
            .ensure_mailboxes(crate::imap::DEFAULT_MAILBOXES)
            .await
        {
            tracing::warn!(error = %e, "cannot create the default mailboxes");
        }
        let address = info.address();
        tracing::info!(account = %address, "logged in");
        self.reg.set_account(&address);
        self.reg.set_state("authenticated");
        self.userip = Some(slot);
        self.prelogin = None;
        // P13 (POP-before-SMTP style relay hint): remember where the user logged in from.
        self.ctx.relay.record_peer(self.info.peer);
        self.user = Some(User { info, account });
        self.alerts.borrow_and_update();
        match alerts {
            Some(texts) => self.write_alerts(texts),
            None => self.send_alerts().await,
        }
        let caps = cmd::capability::list(self);
        Reply::ok_code(ResponseCode::Capability(caps), "logged in")
    }

    /// Waits out the penalty of the client's address before a credentials check. False
    /// when the login deadline came first: the caller answers nothing and the read loop
    /// closes the connection with its `BYE`.
    pub(crate) async fn login_gate(&self) -> bool {
        let peer = self.info.peer.map(|a| a.ip());
        self.ctx
            .limits
            .wait_attempt(peer, self.login_deadline)
            .await
    }

    /// After a credentials check for `login`: waits out the account's penalty (unless
    /// this address logged in to it since), then records the outcome.
    /// `mechanism`: `LOGIN` or the SASL mechanism (the statistics' label).
    pub(crate) async fn login_checked(&self, login: &str, ok: bool, mechanism: &'static str) {
        let peer = self.info.peer.map(|a| a.ip());
        self.ctx.limits.wait_answer(peer, login).await;
        crate::metrics::login(Protocol::Imap, mechanism, ok);
        if ok {
            self.ctx.limits.succeeded(peer, login);
        } else {
            self.ctx.limits.failed(peer, login, Protocol::Imap);
        }
    }

    /// The answer to a failed login (the penalty was applied by [`Self::login_checked`]).
    pub(crate) fn login_failed(&mut self) -> Reply {
        Reply::no(
            Some(ResponseCode::AuthenticationFailed),
            "invalid user name or password",
        )
    }
}
