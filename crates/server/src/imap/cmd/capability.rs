//! CAPABILITY (RFC 3501 6.1.1): what this server advertises, exactly what works.

use super::Reply;
use crate::imap::session::Session;

/// Extensions advertised in every state.
/// (LITERAL+ or LITERAL- and APPENDLIMIT come from the configuration, see [`list`].)
const EXTENSIONS: &[&str] = &[
    "SASL-IR",
    "LOGIN-REFERRALS",
    "ID",
    "ENABLE",
    "IDLE",
    "UIDPLUS",
    "UNSELECT",
    "MOVE",
    "NAMESPACE",
    "CHILDREN",
    "SPECIAL-USE",
    "LIST-EXTENDED",
    "LIST-STATUS",
    "STATUS=SIZE",
    "ACL",
    mailroom_store::acl::Rights::CAPABILITY,
    "QUOTA",
    "QUOTA=RES-STORAGE",
    "QUOTA=RES-MESSAGE",
    "ESEARCH",
    "SORT",
    "SORT=DISPLAY",
    "ESORT",
    "THREAD=ORDEREDSUBJECT",
    "THREAD=REFERENCES",
    "CONDSTORE",
    "QRESYNC",
    // Seed 001 (I12): `ENABLE X-SERVICE` shows `$Service` messages (`crate::service`).
    "X-SERVICE",
    // RFC 4978 (`cmd::compress`, `crate::net::deflate`).
    "COMPRESS=DEFLATE",
    // RFC 8970 (`imap::fetch::preview`).
    "PREVIEW",
    // RFC 5464 (`cmd::metadata`).
    "METADATA",
    "METADATA-SERVER",
    // RFC 5465 (`cmd::notify`, `imap::notify`).
    "NOTIFY",
];

/// Issue 15's extensions (RFC 9051's and the others the issue names), after
/// `APPENDLIMIT=`: kept together here so that other branches' additions merge cleanly.
const ISSUE15: &[&str] = &[
    "UNAUTHENTICATE",
    "CREATE-SPECIAL-USE",
    "WITHIN",
    "SEARCHRES",
    "LIST-MYRIGHTS",
    "MULTIAPPEND",
    // RFC 4469 (`cmd::catenate`), with RFC 5092 URLs of this user's mailboxes.
    "CATENATE",
    "SAVEDATE",
    // RFC 8474: MAILBOXID, EMAILID, THREADID (NIL: no threads computed).
    "OBJECTID",
    "PARTIAL",
    "BINARY",
    "REPLACE",
    // RFC 9586 (`Session::uidonly`).
    "UIDONLY",
    // RFC 6855 (`crate::imap::rev2`).
    "UTF8=ACCEPT",
];

/// Issue 16's SORT/THREAD family beyond SORT, ESORT and the first two THREAD
/// algorithms (branch `sort`), after [`ISSUE15`]: kept together for the same reason.
/// I18NLEVEL=1 (RFC 5255 4.3): `i;unicode-casemap` in SEARCH, SORT and THREAD
/// (`imap::comparator`); not I18NLEVEL=2, so no COMPARATOR command. CONTEXT=SEARCH and
/// CONTEXT=SORT (RFC 5267 4): `RETURN (UPDATE)` contexts (`imap::context`), CANCELUPDATE,
/// PARTIAL for SORT.
/// THREAD=REFS: `imap::thread::refs`.
const SORT_FAMILY: &[&str] = &[
    "I18NLEVEL=1",
    "CONTEXT=SEARCH",
    "CONTEXT=SORT",
    "THREAD=REFS",
];

/// The capability list for the session's current state and connection.
pub(crate) fn list(s: &Session) -> Vec<String> {
    // RFC 9051 Appendix A: both, rev2 semantics after `ENABLE IMAP4rev2`.
    let mut v = vec!["IMAP4rev1".to_string(), "IMAP4rev2".to_string()];
    // RFC 7888 section 5: LITERAL- and LITERAL+ are never advertised together.
    let literal = if s.ctx.config().imap.literal_minus {
        "LITERAL-"
    } else {
        "LITERAL+"
    };
    v.push(literal.into());
    v.extend(EXTENSIONS.iter().map(|e| e.to_string()));
    // RFC 7889: one limit for every mailbox (the framer's `max_append`).
    v.push(format!("APPENDLIMIT={}", append_limit(s)));
    v.extend(ISSUE15.iter().map(|e| e.to_string()));
    v.extend(SORT_FAMILY.iter().map(|e| e.to_string()));
    if s.user.is_none() {
        if s.ctx.tls.is_some() && s.stream.can_starttls() {
            v.push("STARTTLS".into());
        }
        let plain_off = s.plaintext_disabled();
        if plain_off {
            v.push("LOGINDISABLED".into());
        }
        for m in mailroom_directory::sasl::MECHANISMS {
            if (plain_off && matches!(*m, "PLAIN" | "LOGIN"))
                || !s.ctx.config().server.sasl_enabled(m)
            {
                continue;
            }
            v.push(format!("AUTH={m}"));
        }
    }
    v
}

/// The largest message APPEND accepts (RFC 7889), in octets.
pub(crate) fn append_limit(s: &Session) -> u64 {
    s.ctx.config().imap.max_literal.min(u64::from(u32::MAX))
}

pub(crate) fn run(s: &mut Session) -> Reply {
    let caps = list(s).join(" ");
    s.untagged(&format!("CAPABILITY {caps}"));
    Reply::ok("CAPABILITY completed")
}
