//! CAPABILITY (RFC 3501 6.1.1): what this server advertises, exactly what works.

use super::Reply;
use crate::imap::session::Session;

/// Extensions advertised in every state.
const EXTENSIONS: &[&str] = &[
    "LITERAL+",
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
];

/// The capability list for the session's current state and connection.
pub(crate) fn list(s: &Session) -> Vec<String> {
    let mut v = vec!["IMAP4rev1".to_string()];
    v.extend(EXTENSIONS.iter().map(|e| e.to_string()));
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

pub(crate) fn run(s: &mut Session) -> Reply {
    let caps = list(s).join(" ");
    s.untagged(&format!("CAPABILITY {caps}"));
    Reply::ok("CAPABILITY completed")
}
