//! LOGIN (RFC 3501 6.2.3): password check through the directory, referrals for moved
//! accounts (RFC 2221), `LOGINDISABLED` without TLS when so configured.

use super::Reply;
use crate::imap::session::Session;
use mailroom_directory::{AccountInfo, LoginTarget};
use mailroom_proto::imap::encode::ResponseCode;
use mailroom_proto::imap::Secret;

enum Outcome {
    Ok(AccountInfo, Vec<String>),
    Fail,
    Referral(String),
    Temporary(String),
}

/// The RFC 2221 referral answer for an account that now lives at `remote`.
pub(crate) fn referral(login: &str, remote: &str) -> Reply {
    let (user, host) = match remote.rsplit_once('@') {
        Some((u, h)) => (u, h),
        None => (login, remote),
    };
    let user: String = user
        .chars()
        .filter(|c| c.is_ascii_graphic() && !"/;@".contains(*c))
        .collect();
    let host: String = host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(*c))
        .collect();
    Reply::no(
        Some(ResponseCode::Referral(format!(
            "IMAP://{user};AUTH=*@{host}/"
        ))),
        "account has been moved to a remote system",
    )
}

pub(crate) async fn run(s: &mut Session, username: String, password: Secret) -> Reply {
    if s.plaintext_disabled() {
        return Reply::no(
            Some(ResponseCode::PrivacyRequired),
            "LOGIN is disabled on unencrypted connections; use STARTTLS",
        );
    }
    if !s.login_gate().await {
        return Reply::sent();
    }
    let ip = s.info.local.map(|a| a.ip());
    let pw = mailroom_directory::Secret::new(password.expose().to_vec());
    let login = username.clone();
    let outcome = s
        .ctx
        .dir(move |d| match d.resolve_login(&login, ip) {
            Ok(LoginTarget::Local { account, .. }) => {
                if d.verify_password(&account, &pw) {
                    let alerts = crate::imap::session::take_alerts(d, &account);
                    Outcome::Ok(account, alerts)
                } else {
                    Outcome::Fail
                }
            }
            Ok(LoginTarget::Remote(r)) => Outcome::Referral(r),
            Ok(LoginTarget::Unknown) => Outcome::Fail,
            Err(e) => Outcome::Temporary(e.to_string()),
        })
        .await;
    match &outcome {
        Outcome::Ok(..) => s.login_checked(&username, true, "LOGIN").await,
        Outcome::Fail => s.login_checked(&username, false, "LOGIN").await,
        Outcome::Referral(_) | Outcome::Temporary(_) => {}
    }
    match outcome {
        Outcome::Ok(a, alerts) => s.login_success(a, Some(alerts)).await,
        Outcome::Fail => {
            tracing::info!(login = %username, "LOGIN failed");
            s.login_failed()
        }
        Outcome::Referral(r) => {
            tracing::info!(login = %username, remote = %r, "LOGIN referred");
            referral(&username, &r)
        }
        Outcome::Temporary(e) => {
            tracing::warn!(error = %e, "directory failure");
            Reply::no(
                Some(ResponseCode::Unavailable),
                "temporary failure, try again later",
            )
        }
    }
}
