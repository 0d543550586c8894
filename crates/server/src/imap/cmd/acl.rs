//! The ACL commands (RFC 4314 section 3; RFC 2086 clients use the same syntax): SETACL,
//! DELETEACL, GETACL, LISTRIGHTS, MYRIGHTS. Rights evaluation and storage live in
//! [`crate::access`]; this file parses the rights strings and writes the responses
//! `* ACL`, `* LISTRIGHTS` and `* MYRIGHTS`.
//!
//! Answers: `BAD` for a malformed identifier or a rights string with a letter outside
//! `lrswipkxteacd` (section 3.1: "unrecognized right"); `NO [NOPERM]` without `a`;
//! `NO [NONEXISTENT]` for a mailbox that is missing or invisible (no `l`/`r`).

use super::Reply;
use crate::access::{self, AccessError, Op};
use crate::imap::session::Session;
use mailroom_proto::imap::command::RightsChange as ProtoChange;
use mailroom_proto::imap::encode::{astring, mailbox_name_as};
use mailroom_proto::imap::Mailbox;
use mailroom_store::acl::{list_rights, Rights, RightsChange};

/// Parses a SETACL rights argument; `Err` names the unknown letter.
fn parse_change(c: &ProtoChange) -> Result<RightsChange, String> {
    let (s, make): (&str, fn(Rights) -> RightsChange) = match c {
        ProtoChange::Replace(s) => (s, RightsChange::Replace),
        ProtoChange::Add(s) => (s, RightsChange::Add),
        ProtoChange::Remove(s) => (s, RightsChange::Remove),
    };
    Rights::parse(s)
        .map(make)
        .map_err(|u| format!("unrecognized right {:?} in {s:?}", u.0))
}

/// The client-visible name of the mailbox `name` resolves to, and its owner (for the
/// responses, which name the mailbox as the client knows it).
async fn shown_name(s: &Session, name: &str) -> Result<String, AccessError> {
    let Some(user) = &s.user else {
        return Err(AccessError::NoSuchMailbox);
    };
    let o = access::open_mailbox(&s.ctx, &user.info, name).await?;
    Ok(access::client_name(&user.info, &o.owner, &o.mailbox.name))
}

/// `SETACL mailbox identifier mod-rights` (RFC 4314 section 3.1).
pub(crate) async fn setacl(
    s: &mut Session,
    mailbox: Mailbox,
    identifier: String,
    rights: ProtoChange,
) -> Reply {
    let Some(user) = &s.user else {
        return Reply::bad("log in first");
    };
    let change = match parse_change(&rights) {
        Ok(c) => c,
        Err(why) => return Reply::bad(&why),
    };
    if let Err(e) = access::identifier_for(&user.info, &identifier) {
        return super::access_error(e);
    }
    let info = user.info.clone();
    match access::set_acl(&s.ctx, &info, mailbox.as_str(), &identifier, change).await {
        Ok(_) => Reply::ok("SETACL completed"),
        Err(e) => super::access_error(e),
    }
}

/// `DELETEACL mailbox identifier` (RFC 4314 section 3.2).
pub(crate) async fn deleteacl(s: &mut Session, mailbox: Mailbox, identifier: String) -> Reply {
    let Some(user) = &s.user else {
        return Reply::bad("log in first");
    };
    if let Err(e) = access::identifier_for(&user.info, &identifier) {
        return super::access_error(e);
    }
    let info = user.info.clone();
    match access::delete_acl(&s.ctx, &info, mailbox.as_str(), &identifier).await {
        // The grants hint may keep a stale row: it costs a store open, never a right.
        Ok(()) => Reply::ok("DELETEACL completed"),
        Err(e) => super::access_error(e),
    }
}

/// `GETACL mailbox` (RFC 4314 section 3.3): `* ACL mailbox id rights ...`.
pub(crate) async fn getacl(s: &mut Session, mailbox: Mailbox) -> Reply {
    let Some(user) = &s.user else {
        return Reply::bad("log in first");
    };
    let info = user.info.clone();
    let entries = match access::get_acl(&s.ctx, &info, mailbox.as_str()).await {
        Ok(e) => e,
        Err(e) => return super::access_error(e),
    };
    let name = match shown_name(s, mailbox.as_str()).await {
        Ok(n) => n,
        Err(e) => return super::access_error(e),
    };
    let config = s.ctx.config();
    let main = config.server.main_domain.as_str();
    let mut out = b"* ACL ".to_vec();
    mailbox_name_as(&mut out, &name, s.utf8());
    for e in &entries {
        out.push(b' ');
        astring(
            &mut out,
            shown_identifier(&e.identifier, &info, main).as_bytes(),
        );
        out.push(b' ');
        astring(&mut out, e.rights.to_imap().as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    s.out.extend_from_slice(&out);
    Reply::ok("GETACL completed")
}

/// `LISTRIGHTS mailbox identifier` (RFC 4314 section 3.4).
pub(crate) async fn listrights(s: &mut Session, mailbox: Mailbox, identifier: String) -> Reply {
    let Some(user) = &s.user else {
        return Reply::bad("log in first");
    };
    let info = user.info.clone();
    let o = match access::check(&s.ctx, &info, mailbox.as_str(), Op::ListRights).await {
        Ok(o) => o,
        Err(e) => return super::access_error(e),
    };
    let id = match access::identifier_for(&info, &identifier) {
        Ok(i) => i,
        Err(e) => return super::access_error(e),
    };
    let (required, optional) = list_rights(id == o.owner.address());
    let name = access::client_name(&info, &o.owner, &o.mailbox.name);
    let mut out = b"* LISTRIGHTS ".to_vec();
    mailbox_name_as(&mut out, &name, s.utf8());
    out.push(b' ');
    astring(&mut out, identifier.as_bytes());
    out.push(b' ');
    astring(&mut out, required.letters().as_bytes());
    for g in &optional {
        out.push(b' ');
        astring(&mut out, g.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    s.out.extend_from_slice(&out);
    Reply::ok("LISTRIGHTS completed")
}

/// `MYRIGHTS mailbox` (RFC 4314 section 3.5): `* MYRIGHTS mailbox rights`.
pub(crate) async fn myrights(s: &mut Session, mailbox: Mailbox) -> Reply {
    let Some(user) = &s.user else {
        return Reply::bad("log in first");
    };
    let info = user.info.clone();
    let o = match access::check(&s.ctx, &info, mailbox.as_str(), Op::MyRights).await {
        Ok(o) => o,
        Err(e) => return super::access_error(e),
    };
    let name = access::client_name(&info, &o.owner, &o.mailbox.name);
    let mut out = b"* MYRIGHTS ".to_vec();
    mailbox_name_as(&mut out, &name, s.utf8());
    out.push(b' ');
    astring(&mut out, o.rights.to_imap().as_bytes());
    out.extend_from_slice(b"\r\n");
    s.out.extend_from_slice(&out);
    Reply::ok("MYRIGHTS completed")
}

/// An identifier as the account logs in (issue 15 item 12): clients match GETACL rows
/// against what the user typed and logged in with (Roundcube's ACL plugin shows the
/// owner's own row as an editable grant otherwise), so an account of the main domain is
/// answered by its bare name (`-` kept), when the requester is in the main domain too
/// (a bare name it sends back means the same account, see `access::identifier_for`).
/// RFC 4314 leaves the form of identifiers to the server; both forms are accepted.
fn shown_identifier<'a>(
    identifier: &'a str,
    requester: &mailroom_directory::AccountInfo,
    main_domain: &str,
) -> &'a str {
    if !requester.domain.eq_ignore_ascii_case(main_domain) {
        return identifier;
    }
    match identifier.rsplit_once('@') {
        Some((local, domain)) if domain.eq_ignore_ascii_case(main_domain) => local,
        _ => identifier,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_strings() {
        assert_eq!(
            parse_change(&ProtoChange::Add("lr".into())),
            Ok(RightsChange::Add(Rights::LOOKUP.union(Rights::READ)))
        );
        assert!(parse_change(&ProtoChange::Replace("lrz".into())).is_err());
        assert!(parse_change(&ProtoChange::Replace("l1".into())).is_err());
        assert_eq!(
            parse_change(&ProtoChange::Replace(String::new())),
            Ok(RightsChange::Replace(Rights::NONE))
        );
    }
}
