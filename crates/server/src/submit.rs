//! Message submission (P6), protocol-neutral: the POP3 `XTND XMIT` command hands a
//! received message to [`submit`], which sends it as the logged-in account.
//!
//! - Recipients are the addresses of the `To`, `Cc` and `Bcc` fields of the header
//!   (groups flattened, duplicates removed, case-insensitive). The `Bcc` fields are removed
//!   from what is stored and relayed.
//! - Each recipient is resolved through the directory (router, aliases): a local account
//!   gets the message through [`deliver::deliver_to`] (trace fields, `X-Real-To`), with the
//!   account's address as the envelope sender; an address in a domain that is not ours
//!   (or an alias that leads out) is relayed to `[submit] smarthost` with [`smtp_client`].
//!   An unknown user of one of our domains is refused; without a smarthost, remote
//!   recipients are refused.
//! - All or nothing, as far as SMTP allows: every recipient is checked first, and if any is
//!   refused (by us or by the smarthost's RCPT reply) nothing is sent. The relay's DATA is
//!   completed before local deliveries; only a local store failure after a successful relay
//!   can leave a partial result, and the report says exactly who got it.
//!
//! Does not live here: receiving the message (the protocol session), the size limit (the
//! session enforces `lmtp.max_message_size` while receiving).

use crate::deliver::{self, Outcome, Resolved};
use crate::smtp_client::{Connection, SmtpError};
use crate::Ctx;
use mailroom_directory::AccountInfo;
use mailroom_store::{MessageContent, MessageData};
use std::time::Duration;

/// Most recipients one submission may have.
pub const MAX_RECIPIENTS: usize = 1000;
/// Largest header block accepted, octets.
pub const MAX_HEADER: usize = 256 * 1024;

/// What became of a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitReport {
    /// Sent to every recipient: stored locally for `local`, accepted by the smarthost for
    /// `relayed`.
    Submitted {
        local: Vec<String>,
        relayed: Vec<String>,
    },
    /// The header names no recipient.
    NoRecipients,
    /// Some recipients were refused (address, reason); nothing was sent.
    Refused(Vec<(String, String)>),
    /// The smarthost failed or refused the message; nothing was sent.
    RelayFailed(String),
    /// Sent to `done`, not to `failed` (address, reason).
    Partial {
        done: Vec<String>,
        failed: Vec<(String, String)>,
    },
    /// The message cannot be submitted (header too large, unreadable spool).
    Invalid(String),
}

impl SubmitReport {
    /// The POP3 answer line.
    pub fn pop3_reply(&self) -> String {
        let list = |v: &[(String, String)]| {
            v.iter()
                .map(|(a, r)| format!("<{a}> {r}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        match self {
            SubmitReport::Submitted { local, relayed } => {
                format!(
                    "+OK message submitted to {} recipients",
                    local.len() + relayed.len()
                )
            }
            SubmitReport::NoRecipients => {
                "-ERR no recipients: the message has no To, Cc or Bcc address".into()
            }
            SubmitReport::Refused(v) => {
                format!("-ERR recipients refused, message not sent: {}", list(v))
            }
            SubmitReport::RelayFailed(why) => format!("-ERR relay failed, message not sent: {why}"),
            SubmitReport::Partial { done, failed } => format!(
                "-ERR message sent to {} but not to: {}",
                done.iter()
                    .map(|a| format!("<{a}>"))
                    .collect::<Vec<_>>()
                    .join(", "),
                list(failed)
            ),
            SubmitReport::Invalid(why) => format!("-ERR message not sent: {why}"),
        }
    }
}

/// Where one recipient goes.
enum Route {
    Local(Resolved),
    Remote(String),
}

/// Submits `body` (the message as received, CRLF form) as `account`.
pub async fn submit(ctx: &Ctx, account: &AccountInfo, body: MessageData) -> SubmitReport {
    let head = match read_head(&body).await {
        Ok(h) => h,
        Err(e) => return SubmitReport::Invalid(e),
    };
    let header_end = header_len(&head);
    let Some(header_end) = header_end.or((body.len() <= MAX_HEADER as u64).then_some(head.len()))
    else {
        return SubmitReport::Invalid(format!("header larger than {MAX_HEADER} octets"));
    };
    let header = &head[..header_end];
    let rcpts = recipients(header);
    if rcpts.is_empty() {
        return SubmitReport::NoRecipients;
    }
    if rcpts.len() > MAX_RECIPIENTS {
        return SubmitReport::Invalid(format!("more than {MAX_RECIPIENTS} recipients"));
    }
    let body = if has_bcc(header) {
        match without_bcc(ctx, &body, header, header_end).await {
            Ok(b) => b,
            Err(e) => return SubmitReport::Invalid(format!("cannot spool message: {e}")),
        }
    } else {
        body
    };

    // Resolve every recipient before sending anything.
    let main = ctx.config().server.main_domain.clone();
    let list = rcpts.clone();
    let routes: Vec<(String, Result<Route, String>)> = ctx
        .dir(move |d| {
            list.into_iter()
                .map(|r| {
                    let route = match deliver::resolve(d, &r) {
                        l @ Resolved::Local { .. } => Ok(Route::Local(l)),
                        Resolved::Refused(Outcome::Remote(to)) => Ok(Route::Remote(to)),
                        Resolved::Refused(Outcome::Unknown) => {
                            let domain = r.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
                            let ours = domain.is_empty()
                                || domain.eq_ignore_ascii_case(&main)
                                || d.has_domain(domain).unwrap_or(true);
                            if ours {
                                Err("no such user here".to_string())
                            } else {
                                Ok(Route::Remote(r.clone()))
                            }
                        }
                        Resolved::Refused(o) => Err(o.lmtp_reply(&r)),
                    };
                    (r, route)
                })
                .collect()
        })
        .await;
    let smarthost = ctx.config().submit.smarthost.clone();
    let mut refused = Vec::new();
    let mut local = Vec::new();
    let mut remote = Vec::new();
    for (r, route) in routes {
        match route {
            Ok(Route::Local(res)) => local.push((r, res)),
            Ok(Route::Remote(to)) if smarthost.is_some() => remote.push(to),
            Ok(Route::Remote(_)) => {
                refused.push((r, "remote recipient, and no smarthost is configured".into()))
            }
            Err(why) => refused.push((r, why)),
        }
    }
    if !refused.is_empty() {
        return SubmitReport::Refused(refused);
    }
    let from = account.address();
    let mut relayed = Vec::new();
    if let (Some(host), false) = (smarthost, remote.is_empty()) {
        let t = Duration::from_secs(ctx.config().submit.timeout_secs.unwrap_or(60).max(1));
        match relay(
            &host,
            &ctx.config().server.hostname,
            &from,
            &remote,
            &body,
            t,
        )
        .await
        {
            Ok(()) => relayed = remote,
            Err(RelayError::Refused(v)) => return SubmitReport::Refused(v),
            Err(RelayError::Failed(e)) => {
                tracing::warn!(smarthost = %host, error = %e, "relay failed");
                return SubmitReport::RelayFailed(e.to_string());
            }
        }
        tracing::info!(smarthost = %host, recipients = relayed.len(), "relayed");
    }
    let header_name = ctx.config().server.real_to_header.clone();
    let mut done_local = Vec::new();
    let mut failed = Vec::new();
    for (r, res) in &local {
        match deliver::deliver_to(&ctx.store, res, &from, r, &body, &header_name).await {
            Outcome::Delivered { account, uid } => {
                tracing::info!(rcpt = %r, %account, uid, "submitted locally");
                done_local.push(r.clone());
            }
            o => failed.push((r.clone(), o.lmtp_reply(r))),
        }
    }
    if failed.is_empty() {
        SubmitReport::Submitted {
            local: done_local,
            relayed,
        }
    } else if done_local.is_empty() && relayed.is_empty() {
        SubmitReport::Refused(failed)
    } else {
        let mut done = relayed;
        done.extend(done_local);
        SubmitReport::Partial { done, failed }
    }
}

enum RelayError {
    Refused(Vec<(String, String)>),
    Failed(SmtpError),
}

impl From<SmtpError> for RelayError {
    fn from(e: SmtpError) -> Self {
        RelayError::Failed(e)
    }
}

/// One SMTP transaction to the smarthost; nothing is sent unless every RCPT is accepted.
async fn relay(
    host: &str,
    helo: &str,
    from: &str,
    rcpts: &[String],
    body: &MessageData,
    timeout: Duration,
) -> Result<(), RelayError> {
    let mut c = Connection::connect(host, timeout).await?;
    c.hello(helo).await?;
    c.mail_from(from).await?;
    let mut refused = Vec::new();
    for r in rcpts {
        let reply = c.rcpt_to(r).await?;
        if !reply.is_positive() {
            refused.push((r.clone(), format!("refused by the smarthost: {reply}")));
        }
    }
    if !refused.is_empty() {
        let _ = c.rset().await;
        c.quit().await;
        return Err(RelayError::Refused(refused));
    }
    c.data(body).await?;
    c.quit().await;
    Ok(())
}

/// The first [`MAX_HEADER`] + 4 octets of the message.
async fn read_head(body: &MessageData) -> Result<Vec<u8>, String> {
    (body as &dyn MessageContent)
        .read_range(0, (MAX_HEADER + 4) as u64)
        .await
        .map_err(|e| format!("cannot read the spooled message: {e}"))
}

/// Length of the header block including the empty line that ends it, if it ends within
/// `head`.
fn header_len(head: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < head.len() {
        let line_end = head[i..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|p| i + p + 1)?;
        let line = &head[i..line_end];
        if line == b"\r\n" || line == b"\n" {
            return Some(line_end);
        }
        i = line_end;
    }
    None
}

/// The header fields as (name, unfolded value, start offset, end offset).
fn fields(header: &[u8]) -> Vec<(String, String, usize, usize)> {
    let mut out: Vec<(String, String, usize, usize)> = Vec::new();
    let mut i = 0;
    while i < header.len() {
        let end = header[i..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(header.len(), |p| i + p + 1);
        let line = &header[i..end];
        let text = String::from_utf8_lossy(line);
        let trimmed = text.trim_end_matches(['\r', '\n']);
        if trimmed.is_empty() {
            break;
        }
        if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(trimmed.trim());
                last.3 = end;
            }
        } else if let Some((name, value)) = trimmed.split_once(':') {
            out.push((
                name.trim().to_ascii_lowercase(),
                value.trim().to_string(),
                i,
                end,
            ));
        }
        i = end;
    }
    out
}

fn has_bcc(header: &[u8]) -> bool {
    fields(header).iter().any(|f| f.0 == "bcc")
}

/// The recipients named by To, Cc and Bcc, in order, without duplicates.
pub fn recipients(header: &[u8]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (name, value, _, _) in fields(header) {
        if !matches!(name.as_str(), "to" | "cc" | "bcc") {
            continue;
        }
        for a in mailroom_store::mime::parse_addresses(&value) {
            let (Some(m), Some(h)) = (a.mailbox, a.host) else {
                continue;
            };
            if m.is_empty() || h.is_empty() || h == mailroom_store::mime::MISSING_HOST {
                continue;
            }
            let addr = format!("{m}@{h}");
            if addr
                .chars()
                .any(|c| c.is_control() || c == ' ' || c == '<' || c == '>')
            {
                continue;
            }
            if !out.iter().any(|o| o.eq_ignore_ascii_case(&addr)) {
                out.push(addr);
            }
        }
    }
    out
}

/// The header without its Bcc fields.
fn strip_bcc(header: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(header.len());
    let mut at = 0;
    for (name, _, start, end) in fields(header) {
        if name == "bcc" {
            out.extend_from_slice(&header[at..start]);
            at = end;
        }
    }
    out.extend_from_slice(&header[at..]);
    out
}

/// The message with the Bcc fields removed from its header, staged anew.
async fn without_bcc(
    ctx: &Ctx,
    body: &MessageData,
    header: &[u8],
    header_end: usize,
) -> std::io::Result<MessageData> {
    let new_header = strip_bcc(header);
    let dir = ctx.config().server.data_dir.join("spool");
    deliver::spool(&new_header, body, header_end as u64, &dir).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_from_to_cc_bcc() {
        let h = b"From: a@x\r\nTo: Bob <bob@example.com>, carol@localhost\r\nCc: team: dave@x.org, eve@y.org;\r\nBcc: hidden@z.net,\r\n BOB@example.com\r\nSubject: s\r\n\r\n";
        assert_eq!(
            recipients(h),
            vec![
                "bob@example.com",
                "carol@localhost",
                "dave@x.org",
                "eve@y.org",
                "hidden@z.net"
            ]
        );
        assert!(recipients(b"Subject: none\r\n\r\n").is_empty());
    }

    #[test]
    fn bcc_is_removed() {
        let h = b"To: a@b\r\nBcc: c@d,\r\n e@f\r\nSubject: s\r\nbcc: x@y\r\n\r\n";
        assert_eq!(strip_bcc(h), b"To: a@b\r\nSubject: s\r\n\r\n");
        assert_eq!(header_len(b"A: b\r\n\r\nbody"), Some(8));
        assert_eq!(header_len(b"A: b\r\n"), None);
    }

    #[test]
    fn replies() {
        let r = SubmitReport::Submitted {
            local: vec!["a".into()],
            relayed: vec!["b".into(), "c".into()],
        };
        assert_eq!(r.pop3_reply(), "+OK message submitted to 3 recipients");
        let r = SubmitReport::Refused(vec![("x@y".into(), "no such user here".into())]);
        assert_eq!(
            r.pop3_reply(),
            "-ERR recipients refused, message not sent: <x@y> no such user here"
        );
    }
}
