//! The outcome of a login attempt (LOGIN, AUTHENTICATE): opening the account on success,
//! the growing delay on failure.

use super::{Session, User};
use crate::imap::cmd::{self, Reply};
use mailroom_directory::AccountInfo;
use mailroom_proto::imap::encode::ResponseCode;
use std::time::Duration;

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
        self.auth_failures = 0;
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

    /// A failed login: a growing delay after repeated failures, then the answer.
    pub(crate) async fn login_failed(&mut self) -> Reply {
        self.auth_failures = self.auth_failures.saturating_add(1);
        tracing::info!(failures = self.auth_failures, "authentication failed");
        if self.auth_failures >= 2 {
            let ms = 250u64 << (self.auth_failures - 2).min(5);
            tokio::time::sleep(Duration::from_millis(ms.min(8000))).await;
        }
        Reply::no(
            Some(ResponseCode::AuthenticationFailed),
            "invalid user name or password",
        )
    }
}
