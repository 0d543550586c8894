//! CATENATE (RFC 4469): an APPEND message made of parts, `TEXT` literals and `URL`s of
//! messages or message parts (RFC 5092, the relative `/mailbox;UIDVALIDITY=v/;UID=u
//! [/;SECTION=s][/;PARTIAL=o.l]` form, `mailroom_proto::imap::url`), joined in order
//! into one staged message that APPEND (`append.rs`) then stores like any other.
//!
//! A URL names a mailbox as the logged-in user names it (own, `~account/...` shared,
//! public): it is opened with the user's rights and needs `r` (RFC 4314, as FETCH);
//! reading through it sets no `\Seen` (RFC 4469 3). Whatever keeps a URL from giving
//! octets (bad syntax, an absolute URL, no such mailbox or no right to read it, another
//! UIDVALIDITY, no such message or part) fails the APPEND with `NO [BADURL url]`, the
//! first such URL of the command; a message that would be larger than the APPEND limit
//! (RFC 7889, the framer's `max_append`, at most 4 GiB) with `NO [TOOBIG]`.

use super::append::{take_literal, SPILL_AT};
use super::Reply;
use crate::access::{self, Op};
use crate::imap::session::Session;
use mailroom_proto::imap::command::CatPart;
use mailroom_proto::imap::encode::ResponseCode;
use mailroom_proto::imap::url::parse_message_url;
use mailroom_store::{MessageContent, MessageData, MessageSink, StoreError};

/// `NO [BADURL url]` (RFC 4469 4.1); `url-resp-text` is TEXT-CHARs but `]`.
fn bad_url(url: &str, why: &str) -> Reply {
    let shown: String = url
        .chars()
        .filter(|c| !matches!(c, ']' | '\r' | '\n' | '\0'))
        .collect();
    Reply::no(Some(ResponseCode::BadUrl(shown)), why)
}

fn too_big(limit: u64) -> Reply {
    Reply::no(
        Some(ResponseCode::TooBig),
        &format!("the message would exceed {limit} octets"),
    )
}

/// Stages the message the parts make. `Err` is the command's answer.
pub(crate) async fn build(
    s: &mut Session,
    parts: Vec<CatPart>,
    limit: u64,
) -> Result<MessageData, Reply> {
    // RFC 4469 4.2: also the 4 GB IMAP message limit.
    let limit = limit.min(u64::from(u32::MAX));
    let mut sink = MessageSink::new(s.ctx.config().server.data_dir.join("spool"), SPILL_AT);
    for part in parts {
        match part {
            CatPart::Text(lit) => {
                let data = take_literal(s, lit)?;
                if sink.len().saturating_add(data.len()) > limit {
                    return Err(too_big(limit));
                }
                let size = data.size();
                if let Err(e) = sink.write_content(&data, 0, size).await {
                    return Err(super::store_error(StoreError::Io(e)));
                }
            }
            CatPart::Url(url) => {
                let Some(user) = &s.user else {
                    return Err(Reply::bad("log in first"));
                };
                let u = match parse_message_url(&url) {
                    Ok(u) => u,
                    Err(why) => return Err(bad_url(&url, &why)),
                };
                // No difference between a mailbox that is not there and one the user
                // may not read (RFC 4314 6: do not reveal its existence).
                let o = match access::check(&s.ctx, &user.info, &u.mailbox, Op::Examine).await {
                    Ok(o) => o,
                    Err(access::AccessError::Store(e)) if e.is_temporary() => {
                        return Err(super::store_error(e))
                    }
                    Err(_) => return Err(bad_url(&url, "no such mailbox or no right to read it")),
                };
                if u.uid_validity.is_some_and(|v| v != o.mailbox.uid_validity) {
                    return Err(bad_url(&url, "UIDVALIDITY changed"));
                }
                let copied = crate::imap::fetch::copy_section(
                    &o.account,
                    o.mailbox.id,
                    u.uid,
                    u.section.as_ref(),
                    u.partial,
                    &mut sink,
                    limit,
                )
                .await;
                match copied {
                    Ok(true) => {}
                    Ok(false) => return Err(too_big(limit)),
                    Err(StoreError::NotFound(_)) => {
                        return Err(bad_url(&url, "no such message or body part"))
                    }
                    Err(e) => return Err(super::store_error(e)),
                }
            }
        }
    }
    match sink.finish() {
        Ok(d) => Ok(d),
        Err(e) if mailroom_store::io_is_disk_full(&e) => Err(super::store_error(StoreError::Io(e))),
        Err(e) => {
            tracing::warn!(error = %e, "cannot spool a CATENATE message");
            Err(Reply::no(
                Some(ResponseCode::ServerBug),
                "cannot spool the message",
            ))
        }
    }
}
