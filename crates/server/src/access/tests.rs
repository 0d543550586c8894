//! Unit tests of the pure parts: rights evaluation, the command table, the seed 000/001
//! name tables, POP3 `mailbox#account`, quota arithmetic.

use super::*;
use mailroom_directory::{AccountInfo, MailboxAlias, QuotaLimits};
use mailroom_store::acl::{AclEntry, Rights};
use mailroom_store::Usage;

fn acct(id: i64, name: &str, domain: &str, admin: bool) -> AccountInfo {
    AccountInfo {
        id,
        name: name.into(),
        domain: domain.into(),
        admin,
        has_mail_secret: false,
    }
}

fn jsmith() -> AccountInfo {
    acct(1, "jsmith", "company.com", false)
}

fn e(id: &str, r: &str) -> AclEntry {
    AclEntry {
        identifier: id.into(),
        rights: Rights::parse(r).unwrap(),
    }
}

fn own(m: &str) -> Target {
    Target {
        owner: Owner::Own,
        mailbox: m.into(),
    }
}

fn other(n: &str, d: &str, m: &str) -> Target {
    Target {
        owner: Owner::Other {
            name: n.into(),
            domain: d.into(),
        },
        mailbox: m.into(),
    }
}

#[test]
fn owner_has_everything_even_with_negative_entries() {
    let me = jsmith();
    let acl = [e("-anyone", "lrswipkxtea")];
    assert_eq!(effective_rights(&me, &me, &acl), Rights::ALL);
}

#[test]
fn union_of_identifier_and_anyone_minus_negatives() {
    let boss = acct(2, "boss", "company.com", false);
    let me = jsmith();
    let acl = [
        e("anyone", "lr"),
        e("jsmith@company.com", "swi"),
        e("-jsmith@company.com", "w"),
        e("other@company.com", "a"),
    ];
    assert_eq!(effective_rights(&me, &boss, &acl).letters(), "lrsi");
    let acl = [e("anyone", "lr"), e("-anyone", "r")];
    assert_eq!(effective_rights(&me, &boss, &acl).letters(), "l");
    // Same name in another domain is another identity.
    let acl = [e("jsmith@client1.com", "lr")];
    assert!(effective_rights(&me, &boss, &acl).is_empty());
    assert!(effective_rights(&me, &boss, &[]).is_empty());
}

#[test]
fn administrators_get_lookup_and_admin_only() {
    let boss = acct(2, "boss", "company.com", false);
    let admin = acct(3, "postmaster", "company.com", true);
    assert_eq!(effective_rights(&admin, &boss, &[]).letters(), "la");
    let acl = [e("-anyone", "lra"), e("postmaster@company.com", "r")];
    assert_eq!(effective_rights(&admin, &boss, &acl).letters(), "la");
    let acl = [e("postmaster@company.com", "rs")];
    assert_eq!(effective_rights(&admin, &boss, &acl).letters(), "lrsa");
}

#[test]
fn visibility_rule() {
    assert!(!visible(Rights::NONE));
    assert!(!visible(Rights::parse("iwa").unwrap()));
    assert!(visible(Rights::LOOKUP));
    assert!(visible(Rights::READ));
    assert_eq!(NO_SUCH_MAILBOX, "NO [NONEXISTENT] no such mailbox");
}

#[test]
fn rfc4314_section4_table() {
    let r = |s: &str| Rights::parse(s).unwrap();
    let cases: &[(Op, &str, bool)] = &[
        (Op::List, "l", true),
        (Op::List, "r", false),
        (Op::Unsubscribe, "", true),
        (Op::CreateInParent, "k", true),
        (Op::CreateInParent, "x", false),
        (Op::Delete, "x", true),
        (Op::Delete, "k", false),
        (Op::RenameFrom, "x", true),
        (Op::Select, "r", true),
        (Op::Examine, "l", false),
        (Op::Status, "r", true),
        (Op::Append, "i", true),
        (Op::Append, "rw", false),
        (Op::CopyInto, "i", true),
        (Op::MoveFrom, "te", true),
        (Op::MoveFrom, "t", false),
        (Op::StoreSeen, "s", true),
        (Op::StoreSeen, "w", false),
        (Op::StoreDeleted, "t", true),
        (Op::StoreDeleted, "w", false),
        (Op::StoreOther, "w", true),
        (Op::Expunge, "e", true),
        (Op::Expunge, "t", false),
        (Op::GetAcl, "a", true),
        (Op::SetAcl, "lrswipkxte", false),
        (Op::DeleteAcl, "a", true),
        (Op::ListRights, "a", true),
        (Op::MyRights, "i", true),
        (Op::MyRights, "x", true),
        (Op::MyRights, "swtep", false),
        (Op::PopOpen, "r", true),
        (Op::PopDele, "t", true),
        (Op::PopDele, "lrsw", false),
    ];
    for (op, rights, ok) in cases {
        assert_eq!(allows(r(rights), *op), *ok, "{op:?} with {rights:?}");
    }
    // RFC 2086 "c" grants CREATE and DELETE, "d" STORE \Deleted and EXPUNGE.
    assert!(allows(r("c"), Op::CreateInParent) && allows(r("c"), Op::Delete));
    assert!(allows(r("d"), Op::StoreDeleted) && allows(r("d"), Op::Expunge));
    assert_eq!(allowed_flags(r("s")), (true, false, false));
    assert_eq!(allowed_flags(r("tw")), (false, true, true));
}

#[test]
fn seed_001_names() {
    let me = jsmith();
    let cases: &[(&str, Target)] = &[
        ("INBOX", own("INBOX")),
        ("inbox", own("INBOX")),
        ("Inbox/Sub", own("INBOX/Sub")),
        ("Foo/Bar", own("Foo/Bar")),
        (
            "~sales/processed",
            other("sales", "company.com", "processed"),
        ),
        (
            "~public/news/company",
            other("public", "company.com", "news/company"),
        ),
        ("~boss/INBOX", other("boss", "company.com", "INBOX")),
        ("~boss/inbox", other("boss", "company.com", "INBOX")),
        (
            "~jsmith@client1.com/lists/info",
            other("jsmith", "client1.com", "lists/info"),
        ),
        (
            "~Boss%Client1.com/INBOX",
            other("boss", "client1.com", "INBOX"),
        ),
        ("~public@client1.com/x", other("public", "client1.com", "x")),
        ("~jsmith/Drafts", own("Drafts")),
        ("~jsmith@company.com/INBOX", own("INBOX")),
    ];
    for (name, want) in cases {
        assert_eq!(&resolve_name(&me, name, &[]).unwrap(), want, "{name}");
    }
    // ~public is relative to the requester's domain.
    let other_dom = acct(9, "info", "client2.com", false);
    assert_eq!(
        resolve_name(&other_dom, "~public/news", &[]).unwrap(),
        other("public", "client2.com", "news")
    );
}

#[test]
fn bad_names() {
    let me = jsmith();
    for (name, err) in [
        ("", NameError::Invalid),
        ("a//b", NameError::Invalid),
        ("a/", NameError::Invalid),
        ("/a", NameError::Invalid),
        ("a/../b", NameError::Invalid),
        ("..", NameError::Invalid),
        ("a\nb", NameError::Invalid),
        ("~", NameError::NoMailbox),
        ("~boss", NameError::NoMailbox),
        ("~boss/", NameError::NoMailbox),
        ("~/INBOX", NameError::NoMailbox),
        ("~boss/a//b", NameError::Invalid),
        ("~boss/..", NameError::Invalid),
        ("~bo ss/INBOX", NameError::BadAccount),
        ("~.boss/INBOX", NameError::BadAccount),
        ("~boss@/INBOX", NameError::BadAccount),
        ("~a@b@c/INBOX", NameError::BadAccount),
    ] {
        assert_eq!(resolve_name(&me, name, &[]), Err(err), "{name:?}");
    }
}

#[test]
fn mailbox_aliases_resolve_first() {
    let me = jsmith();
    let aliases = vec![
        MailboxAlias {
            name: "boss-inbox".into(),
            target: "~boss/INBOX".into(),
        },
        MailboxAlias {
            name: "news".into(),
            target: "~public/news/company".into(),
        },
        MailboxAlias {
            name: "old".into(),
            target: "Archive/2024".into(),
        },
        MailboxAlias {
            name: "loop".into(),
            target: "loop2".into(),
        },
        MailboxAlias {
            name: "loop2".into(),
            target: "loop".into(),
        },
    ];
    let r = |n: &str| resolve_name(&me, n, &aliases).unwrap();
    assert_eq!(r("boss-inbox"), other("boss", "company.com", "INBOX"));
    assert_eq!(
        r("boss-inbox/Sub"),
        other("boss", "company.com", "INBOX/Sub")
    );
    assert_eq!(r("boss-inboxes"), own("boss-inboxes"));
    assert_eq!(r("news"), other("public", "company.com", "news/company"));
    assert_eq!(r("old"), own("Archive/2024"));
    // Targets are not expanded again.
    assert_eq!(r("loop"), own("loop2"));
    // Foreign names are never alias-expanded.
    assert_eq!(r("~news/x"), other("news", "company.com", "x"));
}

#[test]
fn client_names_round_trip() {
    let me = jsmith();
    let boss = acct(2, "boss", "company.com", false);
    let far = acct(4, "jsmith", "client1.com", false);
    assert_eq!(client_name(&me, &me, "INBOX"), "INBOX");
    assert_eq!(client_name(&me, &boss, "INBOX"), "~boss/INBOX");
    assert_eq!(client_name(&me, &far, "a/b"), "~jsmith@client1.com/a/b");
    assert_eq!(
        resolve_name(&me, &client_name(&me, &far, "a/b"), &[]).unwrap(),
        other("jsmith", "client1.com", "a/b")
    );
}

#[test]
fn seed_000_pop3_user_names() {
    // (user name, login, mailbox as given, resolved relative to the login account)
    let jsmith_c1 = acct(5, "jsmith", "client1.com", false);
    let cases: &[(&str, &str, Option<&str>, &AccountInfo, Target)] = &[
        ("jsmith", "jsmith", None, &jsmith(), own("INBOX")),
        (
            "private#jsmith",
            "jsmith",
            Some("private"),
            &jsmith(),
            own("private"),
        ),
        (
            "lists/info#jsmith@client1.com",
            "jsmith@client1.com",
            Some("lists/info"),
            &jsmith_c1,
            own("lists/info"),
        ),
        (
            "~public/announces#jsmith",
            "jsmith",
            Some("~public/announces"),
            &jsmith(),
            other("public", "company.com", "announces"),
        ),
        (
            "~boss/INBOX#jsmith",
            "jsmith",
            Some("~boss/INBOX"),
            &jsmith(),
            other("boss", "company.com", "INBOX"),
        ),
        ("a#b#jsmith", "jsmith", Some("a#b"), &jsmith(), own("a#b")),
    ];
    for (user, login, mailbox, account, target) in cases {
        let p = parse_pop_user(user).unwrap();
        assert_eq!(p.login, *login, "{user}");
        assert_eq!(p.mailbox.as_deref(), *mailbox, "{user}");
        let resolved = resolve_name(account, p.mailbox.as_deref().unwrap_or("INBOX"), &[]);
        assert_eq!(&resolved.unwrap(), target, "{user}");
    }
    for bad in ["#jsmith", "private#", "#", "~boss/INBOX#"] {
        assert_eq!(parse_pop_user(bad), Err(NameError::BadPopUser), "{bad}");
    }
}

#[test]
fn identifiers_from_clients() {
    let me = jsmith();
    assert_eq!(identifier_for(&me, "fred").unwrap(), "fred@company.com");
    assert_eq!(identifier_for(&me, "-Fred").unwrap(), "-fred@company.com");
    assert_eq!(identifier_for(&me, "ANYONE").unwrap(), "anyone");
    assert_eq!(identifier_for(&me, "-anyone").unwrap(), "-anyone");
    assert_eq!(
        identifier_for(&me, "x@client1.com").unwrap(),
        "x@client1.com"
    );
    for bad in ["", "-", "a b", "x@", "@y", "a@b@c"] {
        assert!(identifier_for(&me, bad).is_err(), "{bad:?}");
    }
}

#[test]
fn quota_arithmetic() {
    let limits = QuotaLimits {
        storage_kib: Some(10),
        messages: Some(3),
    };
    let usage = Usage {
        bytes: 10 * 1024 - 100,
        messages: 2,
    };
    assert!(quota_allows(&limits, &usage, 100, 1).is_ok());
    assert_eq!(
        quota_allows(&limits, &usage, 101, 1),
        Err(QuotaExceeded::Storage {
            used: 10 * 1024 - 100,
            adding: 101,
            limit: 10 * 1024
        })
    );
    assert!(matches!(
        quota_allows(&limits, &usage, 1, 2),
        Err(QuotaExceeded::Messages { limit: 3, .. })
    ));
    // Over the limit already: adding nothing is fine (deletes, flag changes).
    let over = Usage {
        bytes: 1 << 20,
        messages: 9,
    };
    assert!(quota_allows(&limits, &over, 0, 0).is_ok());
    assert!(quota_allows(&QuotaLimits::default(), &over, u64::MAX, u64::MAX).is_ok());
    assert_eq!(
        quota_resources(&limits, &usage),
        vec![("STORAGE", 10, 10), ("MESSAGE", 2, 3)]
    );
    assert_eq!(
        quota_resources(
            &limits,
            &Usage {
                bytes: 1,
                messages: 0
            }
        )[0],
        ("STORAGE", 1, 10)
    );
    assert_eq!(quota_root(&jsmith()), "#jsmith");
}
