//! ENABLE (RFC 5161): `CONDSTORE` (RFC 7162 3.1: MODSEQ in every untagged FETCH,
//! HIGHESTMODSEQ at SELECT), `QRESYNC` (RFC 7162 3.2.3: CONDSTORE too, VANISHED for
//! expunges, UID in every untagged FETCH, SELECT's QRESYNC parameter), `UIDONLY` (RFC
//! 9586: no message sequence numbers either way, see `Session::uidonly`), and `X-SERVICE`, the service view (seed 001, I12: SELECT and
//! EXAMINE show `$Service` messages, see [`crate::service`]), `IMAP4rev2` (RFC 9051
//! Appendix A) and `UTF8=ACCEPT` (RFC 6855 3), see [`crate::imap::rev2`]; anything else is not an
//! extension that needs enabling and is ignored. `METADATA` and `METADATA-SERVER` turn on
//! unsolicited METADATA responses (RFC 5464 4.4; delivered as NOTIFY's are, see
//! [`crate::imap::notify`]). `* ENABLED` lists what this command
//! enabled that was not enabled before (RFC 5161 3.2).

use super::Reply;
use crate::imap::notify::{Events, Notify};
use crate::imap::session::Session;

/// The ENABLE argument of the service view.
pub(crate) const SERVICE_VIEW: &str = "X-SERVICE";

pub(crate) fn run(s: &mut Session, caps: Vec<String>) -> Reply {
    let mut enabled: Vec<&str> = Vec::new();
    let mut condstore = false;
    for c in &caps {
        if c.eq_ignore_ascii_case(SERVICE_VIEW) && !s.service_view {
            s.service_view = true;
            enabled.push(SERVICE_VIEW);
        } else if c.eq_ignore_ascii_case("CONDSTORE") && !s.condstore && !condstore {
            // RFC 7162 3.1: ENABLE CONDSTORE is a CONDSTORE enabling command.
            condstore = true;
            enabled.push("CONDSTORE");
        } else if c.eq_ignore_ascii_case("METADATA") || c.eq_ignore_ascii_case("METADATA-SERVER") {
            // RFC 5464 4.4: unsolicited METADATA for changes made by others, on mailbox
            // and server entries (METADATA) or server entries (METADATA-SERVER).
            let want = if c.eq_ignore_ascii_case("METADATA") {
                Events::MAILBOX_METADATA.with(Events::SERVER_METADATA)
            } else {
                Events::SERVER_METADATA
            };
            let Some(user) = &s.user else { continue };
            let n = s.notify.get_or_insert_with(|| {
                Box::new(Notify::new(
                    s.ctx.store.hub().watch_account(user.account.key()),
                ))
            });
            if n.metadata.with(want) != n.metadata {
                n.metadata = n.metadata.with(want);
                enabled.push(if want.has(Events::MAILBOX_METADATA) {
                    "METADATA"
                } else {
                    "METADATA-SERVER"
                });
            }
        } else if c.eq_ignore_ascii_case("UIDONLY") && !s.uidonly {
            // RFC 9586 3.1.
            s.uidonly = true;
            enabled.push("UIDONLY");
        } else if c.eq_ignore_ascii_case("IMAP4rev2") && !s.imap4rev2 {
            // RFC 9051 Appendix A: rev2 semantics from now on (`crate::imap::rev2`).
            s.imap4rev2 = true;
            // Enabled with a mailbox selected (RFC 9051 6.3.1: clients must not, servers
            // need not check): no `\Recent` from now on there either.
            if let Some(sel) = s.selected.as_mut() {
                sel.recent.clear();
            }
            enabled.push("IMAP4rev2");
        } else if c.eq_ignore_ascii_case("UTF8=ACCEPT") && !s.utf8_accept {
            // RFC 6855 3: UTF-8 mailbox names and quoted strings, APPEND's UTF8 item.
            s.utf8_accept = true;
            enabled.push("UTF8=ACCEPT");
        } else if c.eq_ignore_ascii_case("QRESYNC") && !s.qresync {
            // RFC 7162 3.2.3: QRESYNC implies CONDSTORE.
            s.qresync = true;
            condstore = true;
            enabled.push("QRESYNC");
        }
    }
    let mut line = String::from("ENABLED");
    for e in enabled {
        line.push(' ');
        line.push_str(e);
    }
    s.untagged(&line);
    if condstore {
        s.enable_condstore();
    }
    Reply::ok("ENABLE completed")
}
