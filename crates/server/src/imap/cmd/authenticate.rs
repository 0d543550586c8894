//! AUTHENTICATE (RFC 3501 6.2.2, RFC 4959 SASL-IR): PLAIN, LOGIN, CRAM-MD5,
//! SCRAM-SHA-256 through `mailroom_directory::sasl`; base64 and the client's `*` cancel
//! are handled here.

use super::Reply;
use crate::imap::session::Session;
use crate::limits::SeenName;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use mailroom_directory::sasl::{SaslFailure, SaslOptions, SaslServer, SaslStep, MECHANISMS};
use mailroom_proto::imap::encode::ResponseCode;
use mailroom_proto::imap::Secret;

pub(crate) async fn run(s: &mut Session, mechanism: String, initial: Option<Secret>) -> Reply {
    let mech = mechanism.to_ascii_uppercase();
    if !MECHANISMS.contains(&mech.as_str()) || !s.ctx.config().server.sasl_enabled(&mech) {
        return Reply::no(
            Some(ResponseCode::Cannot),
            &format!("unsupported authentication mechanism {mech}"),
        );
    }
    if s.plaintext_disabled() && matches!(mech.as_str(), "PLAIN" | "LOGIN") {
        return Reply::no(
            Some(ResponseCode::PrivacyRequired),
            "plaintext authentication is disabled on unencrypted connections; use STARTTLS",
        );
    }
    if !s.login_gate().await {
        return Reply::sent();
    }
    let ip = s.info.local.map(|a| a.ip());
    let opts = SaslOptions {
        hostname: s.ctx.config().server.hostname.clone(),
        ..SaslOptions::default()
    };
    let ir = initial.map(|r| r.expose().to_vec());
    let m = mech.clone();
    let (mut sasl, mut step, mut login) = s
        .ctx
        .dir(move |d| {
            let src = d.sasl_source(ip);
            let seen = SeenName::new(&src);
            let (sasl, step) = SaslServer::start(&m, &seen, opts, ir.as_deref());
            (sasl, step, seen.into_name())
        })
        .await;
    loop {
        match step {
            SaslStep::Challenge(c) => {
                s.out.extend_from_slice(b"+ ");
                s.out.extend_from_slice(B64.encode(&c).as_bytes());
                s.out.extend_from_slice(b"\r\n");
                if s.flush().await.is_err() {
                    s.closing = true;
                    return Reply::sent();
                }
                let line = match s.read_line().await {
                    Ok(Some(l)) => l,
                    _ => {
                        s.closing = true;
                        return Reply::sent();
                    }
                };
                if line == b"*" {
                    return Reply::bad("AUTHENTICATE cancelled");
                }
                let Ok(resp) = B64.decode(line.trim_ascii()) else {
                    return Reply::bad("invalid base64 in the SASL response");
                };
                let (sa, st, seen) = s
                    .ctx
                    .dir(move |d| {
                        let src = d.sasl_source(ip);
                        let seen = SeenName::new(&src);
                        let st = sasl.step(&seen, &resp);
                        (sasl, st, seen.into_name())
                    })
                    .await;
                sasl = sa;
                step = st;
                login = seen.or(login);
            }
            SaslStep::Success { account, .. } => {
                let name = login.unwrap_or_else(|| account.address());
                s.login_checked(&name, true, crate::metrics::mechanism(&mech))
                    .await;
                return s.login_success(account, None).await;
            }
            SaslStep::Failure(f) => {
                tracing::info!(mechanism = %mech, failure = %f, "AUTHENTICATE failed");
                return match f {
                    SaslFailure::Referral(r) => super::login::referral("", &r),
                    SaslFailure::Temporary(_) => Reply::no(
                        Some(ResponseCode::Unavailable),
                        "temporary failure, try again later",
                    ),
                    SaslFailure::Malformed(why) => {
                        Reply::bad(&format!("malformed SASL response: {why}"))
                    }
                    _ => {
                        s.login_checked(
                            login.as_deref().unwrap_or(""),
                            false,
                            crate::metrics::mechanism(&mech),
                        )
                        .await;
                        s.login_failed()
                    }
                };
            }
        }
    }
}
