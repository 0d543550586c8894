//! LIST (RFC 3501 6.3.8, RFC 5258 LIST-EXTENDED, RFC 5819 LIST-STATUS, RFC 8440 LIST-MYRIGHTS, RFC 6154
//! SPECIAL-USE, RFC 3348 CHILDREN) and LSUB (6.3.9). Delimiter `/`; `*` matches
//! anything, `%` anything but the delimiter; INBOX matches case-insensitively.

use super::Reply;
use crate::imap::session::Session;
use mailroom_proto::imap::command::List;
use mailroom_proto::imap::encode::mailbox_name_as;
use mailroom_store::{Account, MailboxId, MailboxInfo};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Wildcard match of a mailbox name (dynamic programming: no exponential blow-up).
pub(crate) fn matches(pattern: &[u8], name: &[u8]) -> bool {
    let mut dp = vec![false; name.len() + 1];
    dp[0] = true;
    for &c in pattern {
        let mut next = vec![false; name.len() + 1];
        match c {
            b'*' | b'%' => {
                let mut any = false;
                for j in 0..=name.len() {
                    if c == b'%' && j > 0 && name[j - 1] == b'/' {
                        any = false;
                    }
                    any |= dp[j];
                    next[j] = any;
                }
            }
            _ => {
                for j in 1..=name.len() {
                    next[j] = dp[j - 1] && name[j - 1] == c;
                }
            }
        }
        dp = next;
    }
    dp[name.len()]
}

/// The pattern with reference prepended and a leading `INBOX` in any case normalised.
fn full_pattern(reference: &str, pattern: &str) -> Vec<u8> {
    let mut p = format!("{reference}{pattern}").into_bytes();
    if p.len() >= 5 && p[..5].eq_ignore_ascii_case(b"INBOX") && (p.len() == 5 || p[5] == b'/') {
        p[..5].copy_from_slice(b"INBOX");
    }
    p
}

#[derive(Default)]
struct Entry {
    exists: bool,
    special: Option<&'static str>,
    children: bool,
    subscribed: bool,
    /// Another account's mailbox (`~account/...`, I5): listed only for patterns that
    /// start with `~`, or as a subscription.
    foreign: bool,
}

/// Adds the foreign mailboxes the user may list to the tree (with their parents).
fn add_foreign(t: &mut BTreeMap<String, Entry>, foreign: &[String], subs: &[String]) {
    for name in foreign {
        let e = t.entry(name.clone()).or_default();
        e.exists = true;
        e.foreign = true;
        e.subscribed = subs.iter().any(|s| s == name);
        let mut n = name.as_str();
        while let Some((parent, _)) = n.rsplit_once('/') {
            let p = t.entry(parent.to_string()).or_default();
            p.children = true;
            p.foreign = true;
            n = parent;
        }
    }
}

/// The foreign mailbox names the user may list (`l`), or none when the directory or a
/// store fails (LIST never fails for that).
async fn foreign_names(s: &Session) -> Vec<String> {
    let Some(user) = &s.user else {
        return Vec::new();
    };
    match crate::access::foreign_mailboxes(&s.ctx, &user.info).await {
        Ok(v) => v.into_iter().map(|(n, _)| n).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot list foreign mailboxes");
            Vec::new()
        }
    }
}

/// Every name: existing mailboxes and their missing parents.
fn tree(boxes: &[MailboxInfo], subs: &[String]) -> BTreeMap<String, Entry> {
    let mut t: BTreeMap<String, Entry> = BTreeMap::new();
    for b in boxes {
        let e = t.entry(b.name.clone()).or_default();
        e.exists = true;
        e.special = b.special_use.map(|u| u.as_imap());
        let mut name = b.name.as_str();
        while let Some((parent, _)) = name.rsplit_once('/') {
            t.entry(parent.to_string()).or_default().children = true;
            name = parent;
        }
    }
    for s in subs {
        if let Some(e) = t.get_mut(s) {
            e.subscribed = true;
        }
    }
    t
}

pub(crate) async fn run(s: &mut Session, l: List) -> Reply {
    let Some(user) = &s.user else {
        return Reply::bad("log in first");
    };
    let account = user.account.clone();
    let info = user.info.clone();
    let hide_service = !s.service_view;
    let limit = super::capability::append_limit(s);
    let utf8 = s.utf8();
    if !l.extended && l.patterns.len() == 1 && l.patterns[0].is_empty() {
        s.untagged("LIST (\\Noselect) \"/\" \"\"");
        return Reply::ok("LIST completed");
    }
    let boxes = match account.list_mailboxes().await {
        Ok(b) => b,
        Err(e) => return super::store_error(e),
    };
    let subs = match account.subscriptions().await {
        Ok(v) => v,
        Err(e) => return super::store_error(e),
    };
    let mut t = tree(&boxes, &subs);
    let pats: Vec<Vec<u8>> = l
        .patterns
        .iter()
        .map(|p| full_pattern(&l.reference, p))
        .collect();
    let tilde = pats.iter().any(|p| p.starts_with(b"~"));
    if tilde || subs.iter().any(|n| n.starts_with('~')) {
        let foreign = foreign_names(s).await;
        add_foreign(&mut t, &foreign, &subs);
    }
    if l.selection.subscribed {
        for sub in &subs {
            t.entry(sub.clone()).or_default().subscribed = true;
        }
    }
    let show_sub = l.selection.subscribed || l.returns.subscribed;
    let mut out = Vec::new();
    for (name, e) in &t {
        if !pats.iter().any(|p| matches(p, name.as_bytes())) {
            continue;
        }
        if e.foreign && !tilde && !(l.selection.subscribed && e.subscribed) {
            continue;
        }
        // RFC 5258 3.5 (RECURSIVEMATCH): a name the pattern matches is also returned,
        // with `("CHILDINFO" ("SUBSCRIBED"))`, when a descendant meets the selection and
        // is not returned itself (the pattern does not reach it; redundant CHILDINFO is
        // suppressed, as the RFC asks).
        let childinfo = l.selection.recursive_match
            && l.selection.subscribed
            && t.range::<str, _>((
                std::ops::Bound::Excluded(name.as_str()),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(n, _)| n.starts_with(name.as_str()))
            .any(|(n, d)| {
                n.as_bytes().get(name.len()) == Some(&b'/')
                    && d.subscribed
                    && !pats.iter().any(|p| matches(p, n.as_bytes()))
            });
        if l.selection.subscribed && !e.subscribed && !childinfo {
            continue;
        }
        if l.selection.special_use && e.special.is_none() {
            continue;
        }
        if !e.exists && !e.children && !l.selection.subscribed {
            continue;
        }
        let mut attrs: Vec<&str> = Vec::new();
        if !e.exists {
            // RFC 9051 folds LIST-EXTENDED in: `\NonExistent` in IMAP4rev2 (its 6.3.9.8
            // example 10: `* LIST (\NonExistent \HasChildren) "/" music`).
            attrs.push(if l.extended || s.imap4rev2 {
                "\\NonExistent"
            } else {
                "\\Noselect"
            });
        }
        attrs.push(if e.children {
            "\\HasChildren"
        } else {
            "\\HasNoChildren"
        });
        if show_sub && e.subscribed {
            attrs.push("\\Subscribed");
        }
        if let Some(sp) = e.special {
            attrs.push(sp);
        }
        let mut attrs: Vec<String> = attrs.into_iter().map(str::to_string).collect();
        // Where the status items come from: the own store, or for a foreign mailbox the
        // owner's, when the user may read it (RFC 5819: STATUS needs what STATUS needs).
        let wants_status = !l.returns.vendor.is_empty() || !l.returns.status.is_empty();
        let src: Option<(Arc<dyn Account>, MailboxId)> = if !e.exists || !wants_status {
            None
        } else if e.foreign {
            match crate::access::check(&s.ctx, &info, name, crate::access::Op::Status).await {
                Ok(o) => Some((o.account, o.mailbox.id)),
                Err(_) => None,
            }
        } else {
            boxes
                .iter()
                .find(|b| &b.name == name)
                .map(|b| (account.clone(), b.id))
        };
        if !l.returns.vendor.is_empty() {
            // Seed 001: `\UNSEEN(14)`-style attributes.
            if let Some((account, id)) = &src {
                if let Ok(vals) =
                    super::status::values(account, *id, &l.returns.vendor, hide_service, limit)
                        .await
                {
                    for (item, v) in vals {
                        let v = match v {
                            super::status::Value::Number(n) => n.to_string(),
                            super::status::Value::Date(d) => d.trim_matches('"').to_string(),
                            super::status::Value::Id(id) => id,
                        };
                        attrs.push(format!("\\{}({v})", item.name()));
                    }
                }
                // Seed 001's example ends with `\Unmarked`: with the vendor items the
                // RFC 3501 marks are given too (`\Marked` while messages are recent).
                if let Ok(st) = account.status(*id).await {
                    attrs.push(
                        if st.recent > 0 {
                            "\\Marked"
                        } else {
                            "\\Unmarked"
                        }
                        .into(),
                    );
                }
            }
        }
        out.extend_from_slice(format!("* LIST ({}) \"/\" ", attrs.join(" ")).as_bytes());
        mailbox_name_as(&mut out, name, utf8);
        if childinfo {
            out.extend_from_slice(b" (\"CHILDINFO\" (\"SUBSCRIBED\"))");
        }
        out.extend_from_slice(b"\r\n");
        if !l.returns.status.is_empty() {
            if let Some((account, id)) = &src {
                let mut st = Vec::new();
                if super::status::write_status(
                    &mut st,
                    account,
                    *id,
                    name,
                    &l.returns.status,
                    hide_service,
                    limit,
                    utf8,
                )
                .await
                .is_ok()
                {
                    out.extend_from_slice(&st);
                }
            }
        }
        // RFC 8440 3: after the mailbox's LIST; none when the rights cannot be looked up.
        if l.returns.myrights && e.exists {
            if let Ok(o) =
                crate::access::check(&s.ctx, &info, name, crate::access::Op::MyRights).await
            {
                out.extend_from_slice(b"* MYRIGHTS ");
                mailbox_name_as(&mut out, name, utf8);
                out.push(b' ');
                mailroom_proto::imap::encode::astring(&mut out, o.rights.to_imap().as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
        if out.len() > 32 * 1024 {
            s.out.extend_from_slice(&out);
            out.clear();
            if s.maybe_flush().await.is_err() {
                s.closing = true;
                return Reply::sent();
            }
        }
    }
    s.out.extend_from_slice(&out);
    Reply::ok("LIST completed")
}

pub(crate) async fn lsub(s: &mut Session, reference: String, pattern: Option<String>) -> Reply {
    let Some(user) = &s.user else {
        return Reply::bad("log in first");
    };
    // Not valid modified UTF-7: matches no name.
    let Some(pattern) = pattern else {
        return Reply::ok("LSUB completed");
    };
    let account = user.account.clone();
    if pattern.is_empty() {
        s.untagged("LSUB (\\Noselect) \"/\" \"\"");
        return Reply::ok("LSUB completed");
    }
    let boxes = match account.list_mailboxes().await {
        Ok(b) => b,
        Err(e) => return super::store_error(e),
    };
    let subs = match account.subscriptions().await {
        Ok(v) => v,
        Err(e) => return super::store_error(e),
    };
    let p = full_pattern(&reference, &pattern);
    let foreign = if subs.iter().any(|n| n.starts_with('~')) {
        foreign_names(s).await
    } else {
        Vec::new()
    };
    // Name -> whether it is answered `\Noselect`. RFC 3501 6.3.9: when `foo/bar` is
    // subscribed and `foo` is not, a `%` that matches `foo` returns `foo` with
    // `\Noselect` (the unsubscribed parent of a subscribed name the pattern does not
    // reach; with `*` the name itself matches and no parent is added).
    let mut answer: BTreeMap<&str, bool> = BTreeMap::new();
    for name in &subs {
        if matches(&p, name.as_bytes()) {
            let exists = boxes.iter().any(|b| &b.name == name) || foreign.contains(name);
            answer.insert(name, !exists);
            continue;
        }
        let mut n = name.as_str();
        while let Some((parent, _)) = n.rsplit_once('/') {
            if !subs.iter().any(|x| x == parent) && matches(&p, parent.as_bytes()) {
                answer.entry(parent).or_insert(true);
            }
            n = parent;
        }
    }
    let mut out = Vec::new();
    for (name, noselect) in answer {
        let attrs = if noselect { "\\Noselect" } else { "" };
        out.extend_from_slice(format!("* LSUB ({attrs}) \"/\" ").as_bytes());
        mailbox_name_as(&mut out, name, s.utf8());
        out.extend_from_slice(b"\r\n");
    }
    s.out.extend_from_slice(&out);
    Reply::ok("LSUB completed")
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn wildcards() {
        assert!(matches(b"*", b"a/b/c"));
        assert!(matches(b"%", b"abc"));
        assert!(!matches(b"%", b"a/b"));
        assert!(matches(b"a/%", b"a/b"));
        assert!(!matches(b"a/%", b"a/b/c"));
        assert!(matches(b"a*c", b"a/b/c"));
        assert!(matches(b"a%c", b"abc"));
        assert!(!matches(b"a%c", b"a/c"));
        assert!(matches(b"INBOX", b"INBOX"));
        assert!(!matches(b"", b"x"));
    }
}
