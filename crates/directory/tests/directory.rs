//! The directory: domains, accounts, aliases, router, every login-name form, delivery
//! resolution (seed 000's domain mapping, seed 001's remote alias), persistence.
#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use mailroom_directory::sasl::{SaslFailure, SaslOptions, SaslServer, SaslStep};
use mailroom_directory::{
    AccountInfo, DirError, Directory, HashScheme, LoginTarget, Recipient, RouterKind, Secret,
};

fn dir() -> Directory {
    Directory::open_in_memory("company.com").unwrap()
}

fn pw(s: &str) -> Secret {
    Secret::from(s)
}

fn local(t: &LoginTarget) -> (&str, &str, Option<&str>) {
    match t {
        LoginTarget::Local { account, real_to } => {
            (&account.name, &account.domain, real_to.as_deref())
        }
        other => panic!("not local: {other:?}"),
    }
}

fn rlocal(t: &Recipient) -> (&str, &str, Option<&str>) {
    match t {
        Recipient::Local { account, real_to } => {
            (&account.name, &account.domain, real_to.as_deref())
        }
        other => panic!("not local: {other:?}"),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn main_domain_and_accounts() {
    let d = dir();
    assert_eq!(d.main_domain(), "company.com");
    let a = d.add_account("Info", &pw("p1")).unwrap();
    assert_eq!(
        (a.name.as_str(), a.domain.as_str()),
        ("info", "company.com")
    );
    assert_eq!(a.address(), "info@company.com");
    assert_eq!(
        a.store_key(),
        ("company.com".to_string(), "info".to_string())
    );
    assert!(!a.admin);
    assert!(matches!(
        d.add_account("info", &pw("x")),
        Err(DirError::AlreadyExists(_))
    ));
    assert!(matches!(
        d.add_account("info@client2.com", &pw("x")),
        Err(DirError::NotFound(_))
    ));
    d.add_domain("Client2.com").unwrap();
    assert!(matches!(
        d.add_domain("client2.com"),
        Err(DirError::AlreadyExists(_))
    ));
    let b = d.add_account("info@client2.com", &pw("p2")).unwrap();
    assert_ne!(a.id, b.id);
    let c = d.add_account("bob%client2.com", &pw("p3")).unwrap();
    assert_eq!(c.domain, "client2.com");
    assert_eq!(d.list_accounts(None).unwrap().len(), 3);
    assert_eq!(d.list_accounts(Some("client2.com")).unwrap().len(), 2);
    assert!(matches!(
        d.list_accounts(Some("nope.com")),
        Err(DirError::NotFound(_))
    ));
    assert_eq!(d.account("INFO@Client2.Com").unwrap(), b);
    let doms = d.list_domains().unwrap();
    assert_eq!(doms[0].name, "company.com");
    assert!(doms[0].main);
    assert_eq!(doms[1].accounts, 2);
}

#[test]
fn invalid_names_refused_clearly() {
    let d = dir();
    for bad in ["", ".hidden", "a/b", "a b", "ü", "../etc", "a@", "x@-/-"] {
        match d.add_account(bad, &pw("x")) {
            Err(DirError::Invalid(msg)) => assert!(!msg.is_empty()),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    let long = "a".repeat(65);
    assert!(matches!(
        d.add_account(&long, &pw("x")),
        Err(DirError::Invalid(_))
    ));
    for bad in ["", "a..b", ".a", "a.", "a_b/c", "x y"] {
        assert!(
            matches!(d.add_domain(bad), Err(DirError::Invalid(_))),
            "{bad:?}"
        );
    }
    let e = d.add_account("a b", &pw("x")).unwrap_err().to_string();
    assert!(e.contains("a-z"), "{e}");
    assert!(matches!(
        d.add_account("ok", &pw("")),
        Err(DirError::Invalid(_))
    ));
    assert!(Directory::open_in_memory("bad domain").is_err());
}

#[test]
fn passwords_and_credentials() {
    let d = dir();
    let a = d.add_account("alice", &pw("wonderland")).unwrap();
    assert!(d.verify_password(&a, &pw("wonderland")));
    assert!(!d.verify_password(&a, &pw("Wonderland")));
    assert!(!d.verify_password(&a, &pw("")));
    let c = d.credentials(&a).unwrap();
    let keys = c.scram_sha256.clone().unwrap();
    assert!(keys.iterations >= 4096);
    assert!(keys.verify_password(b"wonderland"));
    assert!(c.plaintext.is_none() && c.mail_secret.is_none());
    assert!(c.cram_md5_keys().is_none());

    d.set_password("alice", &pw("looking-glass")).unwrap();
    assert!(!d.verify_password(&a, &pw("wonderland")));
    assert!(d.verify_password(&a, &pw("looking-glass")));
    let keys2 = d.credentials(&a).unwrap().scram_sha256.unwrap();
    assert!(keys2.verify_password(b"looking-glass"));

    // Mail secret: APOP and CRAM-MD5 use it, logins do not.
    d.set_mail_secret("alice", Some(&pw("tanstaaf"))).unwrap();
    let a = d.account("alice").unwrap();
    assert!(a.has_mail_secret);
    assert!(!d.verify_password(&a, &pw("tanstaaf")));
    assert!(d.verify_apop(
        &a,
        "<1896.697170952@dbc.mtview.ca.us>",
        "c4c9334bac560ecc979e58001b3e22fb"
    ));
    assert!(!d.verify_apop(&a, "<1896.697170952@dbc.mtview.ca.us>", "00"));
    assert!(d.credentials(&a).unwrap().cram_md5_keys().is_some());
    d.set_mail_secret("alice", None).unwrap();
    let a = d.account("alice").unwrap();
    assert!(!a.has_mail_secret);
    assert!(!d.verify_apop(
        &a,
        "<1896.697170952@dbc.mtview.ca.us>",
        "c4c9334bac560ecc979e58001b3e22fb"
    ));
    assert!(d.set_mail_secret("nobody", Some(&pw("x"))).is_err());
    assert!(d.set_password("nobody", &pw("x")).is_err());

    d.set_admin("alice", true).unwrap();
    assert!(d.account("alice").unwrap().admin);
}

#[test]
fn imported_hashes() {
    let d = dir();
    let h = "{SHA512-CRYPT}$6$uiB74JdLxby6F32Y$T8z0y7Si9QoVlB9yxpOm/d5BGsXr/kgd1gpNm1z9PRk1sEYZkGCnjXwwvYwv1/IczXliWPGF1O2Q6zK13wj331";
    let a = d.add_account_with_hash("imported", h).unwrap();
    assert!(d.credentials(&a).unwrap().scram_sha256.is_none());
    assert!(!d.verify_password(&a, &pw("nope")));
    assert!(d.credentials(&a).unwrap().scram_sha256.is_none());
    // The first good login derives SCRAM keys.
    assert!(d.verify_password(&a, &pw("hunter2")));
    assert!(d
        .credentials(&a)
        .unwrap()
        .scram_sha256
        .unwrap()
        .verify_password(b"hunter2"));

    let p = d
        .add_account_with_hash("tim", "{PLAIN}tanstaaftanstaaf")
        .unwrap();
    let c = d.credentials(&p).unwrap();
    assert_eq!(c.plaintext.unwrap().as_bytes(), b"tanstaaftanstaaf");
    assert!(c.scram_sha256.is_some());

    let cm = d
        .add_account_with_hash(
            "cram",
            "{CRAM-MD5}d06d4e1b26fccaa4b0b61801132340a354b21152711fb604ca3e035e7015116b",
        )
        .unwrap();
    assert!(d.credentials(&cm).unwrap().cram_md5_keys().is_some());
    assert!(d.verify_password(&cm, &pw("tanstaaftanstaaf")));

    for bad in ["hunter2", "{MD4}x", "{SHA512-CRYPT}$5$x$y", ""] {
        assert!(
            matches!(d.add_account_with_hash("x", bad), Err(DirError::Invalid(_))),
            "{bad:?}"
        );
    }
    d.set_password_hash("imported", "{PLAIN}plain").unwrap();
    assert!(d.verify_password(&a, &pw("plain")));
}

#[test]
fn argon2id_scheme_selectable() {
    let d = dir();
    d.set_hash_scheme(HashScheme::Argon2id {
        m_kib: 1024,
        t: 1,
        p: 1,
    });
    let a = d.add_account("argon", &pw("pw")).unwrap();
    assert!(d.verify_password(&a, &pw("pw")));
    assert!(!d.verify_password(&a, &pw("px")));
}

#[test]
fn login_name_forms() {
    let d = dir();
    d.add_domain("client2.com").unwrap();
    d.add_account("info", &pw("main")).unwrap();
    d.add_account("info@client2.com", &pw("c2")).unwrap();
    d.add_account("bob@client2.com", &pw("b")).unwrap();

    let l = |s: &str, ip: Option<IpAddr>| d.resolve_login(s, ip).unwrap();
    assert_eq!(local(&l("info", None)), ("info", "company.com", None));
    assert_eq!(local(&l("INFO", None)), ("info", "company.com", None));
    assert_eq!(
        local(&l("info@client2.com", None)),
        ("info", "client2.com", None)
    );
    assert_eq!(
        local(&l("Info@CLIENT2.com", None)),
        ("info", "client2.com", None)
    );
    assert_eq!(
        local(&l("info%client2.com", None)),
        ("info", "client2.com", None)
    );
    assert_eq!(
        local(&l(" info%Client2.Com ", None)),
        ("info", "client2.com", None)
    );
    assert_eq!(
        local(&l("info@company.com", None)),
        ("info", "company.com", None)
    );

    // A1: the local address picks the domain for logins without one.
    d.set_domain_addresses("client2.com", &[ip("192.0.2.2"), ip("2001:db8::2")])
        .unwrap();
    assert_eq!(
        local(&l("info", Some(ip("192.0.2.2")))),
        ("info", "client2.com", None)
    );
    assert_eq!(
        local(&l("info", Some(ip("2001:db8::2")))),
        ("info", "client2.com", None)
    );
    assert_eq!(
        local(&l("info", Some(ip("::ffff:192.0.2.2")))),
        ("info", "client2.com", None)
    );
    assert_eq!(
        local(&l("info", Some(ip("192.0.2.1")))),
        ("info", "company.com", None)
    );
    assert_eq!(
        local(&l("bob", Some(ip("192.0.2.2")))),
        ("bob", "client2.com", None)
    );
    assert_eq!(l("bob", None), LoginTarget::Unknown);
    // An explicit domain wins over the address.
    assert_eq!(
        local(&l("info@company.com", Some(ip("192.0.2.2")))),
        ("info", "company.com", None)
    );
    assert_eq!(
        d.domain_for_ip(ip("192.0.2.2")).unwrap().as_deref(),
        Some("client2.com")
    );
    let doms = d.list_domains().unwrap();
    assert_eq!(doms[1].addresses.len(), 2);
    // One address selects one domain.
    assert!(matches!(
        d.set_domain_addresses("company.com", &[ip("192.0.2.2")]),
        Err(DirError::AlreadyExists(_))
    ));
    d.set_domain_addresses("client2.com", &[]).unwrap();
    assert_eq!(
        local(&l("info", Some(ip("192.0.2.2")))),
        ("info", "company.com", None)
    );

    // Unknown domain, unknown user, garbage.
    assert_eq!(l("info@nowhere.com", None), LoginTarget::Unknown);
    assert_eq!(l("info%nowhere.com", None), LoginTarget::Unknown);
    assert_eq!(l("ghost", None), LoginTarget::Unknown);
    assert_eq!(l("ghost@client2.com", None), LoginTarget::Unknown);
    for junk in ["", "@", "%", "a@b@", "a b", "<>", &"x".repeat(2000)] {
        assert_eq!(l(junk, None), LoginTarget::Unknown, "{junk:?}");
    }
}

/// Seed 000: `client1.com = cl1.local`; any address @client1.com reaches account cl1 with
/// its local part kept for X-Real-To, for delivery and for logins (P9).
#[test]
fn domain_mapping_seed000() {
    let d = dir();
    d.add_account("cl1", &pw("mypassword")).unwrap();
    let e = d.add_router("client1.com = Cl1.local").unwrap();
    assert_eq!(e.line, "client1.com = cl1.local");
    assert!(matches!(e.kind, RouterKind::DomainToAccount { .. }));

    let r = d.resolve_recipient("abcdef@client1.com").unwrap();
    assert_eq!(rlocal(&r), ("cl1", "company.com", Some("abcdef")));
    let r = d.resolve_recipient("<XYZ@Client1.COM>").unwrap();
    assert_eq!(rlocal(&r), ("cl1", "company.com", Some("xyz")));
    let r = d.resolve_recipient("cl1").unwrap();
    assert_eq!(rlocal(&r), ("cl1", "company.com", None));

    let l = d.resolve_login("abcdef@client1.com", None).unwrap();
    assert_eq!(local(&l), ("cl1", "company.com", Some("abcdef")));
    let l = d.resolve_login("blahblah%client1.com", None).unwrap();
    assert_eq!(local(&l), ("cl1", "company.com", Some("blahblah")));
    let l = d.resolve_login("Cl1", None).unwrap();
    assert_eq!(local(&l), ("cl1", "company.com", None));

    // The password is cl1's, through SASL too.
    let src = d.sasl_source(None);
    let (_, step) = SaslServer::start(
        "PLAIN",
        &src,
        SaslOptions::default(),
        Some(b"\0abcdef@client1.com\0mypassword"),
    );
    match step {
        SaslStep::Success {
            account, real_to, ..
        } => {
            assert_eq!(account.name, "cl1");
            assert_eq!(real_to.as_deref(), Some("abcdef"));
        }
        other => panic!("{other:?}"),
    }

    // Mapping a domain of ours is refused; so is a second entry for the same domain.
    assert!(matches!(
        d.add_router("company.com = cl1.local"),
        Err(DirError::AlreadyExists(_))
    ));
    assert!(matches!(
        d.add_router("client1.com = other.local"),
        Err(DirError::AlreadyExists(_))
    ));
    // And a domain cannot be added while the router maps it.
    assert!(matches!(
        d.add_domain("client1.com"),
        Err(DirError::AlreadyExists(_))
    ));
    // A mapping to a missing account resolves to Unknown.
    d.add_router("client3.com = ghost.local").unwrap();
    assert_eq!(
        d.resolve_recipient("a@client3.com").unwrap(),
        Recipient::Unknown
    );
}

#[test]
fn domain_rewrite() {
    let d = dir();
    d.add_domain("new.com").unwrap();
    d.add_account("jo@new.com", &pw("x")).unwrap();
    d.add_router("old.com = new.com").unwrap();
    let r = d.resolve_recipient("jo@old.com").unwrap();
    assert_eq!(rlocal(&r), ("jo", "new.com", None));
    assert_eq!(
        d.resolve_recipient("zz@old.com").unwrap(),
        Recipient::Unknown
    );
}

/// Seed 001 / I8: `<j.smith> = John@othercompany.com` sends mail and logins away.
#[test]
fn address_alias_to_remote() {
    let d = dir();
    let e = d.add_router("<j.smith> = John@othercompany.com").unwrap();
    assert_eq!(e.line, "<j.smith@company.com> = John@othercompany.com");
    assert_eq!(
        d.resolve_recipient("J.Smith@company.com").unwrap(),
        Recipient::Remote("John@othercompany.com".into())
    );
    assert_eq!(
        d.resolve_login("j.smith", None).unwrap(),
        LoginTarget::Remote("John@othercompany.com".into())
    );
    let src = d.sasl_source(None);
    let (_, step) = SaslServer::start("PLAIN", &src, SaslOptions::default(), Some(b"\0j.smith\0x"));
    assert_eq!(
        step,
        SaslStep::Failure(SaslFailure::Referral("John@othercompany.com".into()))
    );
    // Addresses in foreign domains without any entry are not ours: Unknown, not Remote.
    assert_eq!(
        d.resolve_recipient("someone@gmail.com").unwrap(),
        Recipient::Unknown
    );
    assert_eq!(
        d.resolve_login("someone@gmail.com", None).unwrap(),
        LoginTarget::Unknown
    );
    // A router address entry to a local account.
    d.add_account("boss", &pw("x")).unwrap();
    d.add_router("<ceo@company.com> = boss.local").unwrap();
    assert_eq!(
        rlocal(&d.resolve_recipient("ceo").unwrap()),
        ("boss", "company.com", None)
    );
    assert_eq!(d.list_router().unwrap().len(), 2);
    let removed = d.remove_router("<j.smith>").unwrap();
    assert!(matches!(removed.kind, RouterKind::Address { .. }));
    assert_eq!(d.resolve_recipient("j.smith").unwrap(), Recipient::Unknown);
    d.remove_router("<ceo@company.com> = boss.local").unwrap();
    assert!(matches!(
        d.remove_router("<ceo>"),
        Err(DirError::NotFound(_))
    ));
    assert!(matches!(
        d.add_router("nonsense"),
        Err(DirError::Invalid(_))
    ));
}

#[test]
fn aliases_chains_and_loops() {
    let d = dir();
    d.add_account("admin", &pw("x")).unwrap();
    // postmaster exists only when aliased.
    assert_eq!(
        d.resolve_recipient("postmaster").unwrap(),
        Recipient::Unknown
    );
    d.add_alias("postmaster", "admin").unwrap();
    assert_eq!(
        rlocal(&d.resolve_recipient("<Postmaster@company.com>").unwrap()),
        ("admin", "company.com", None)
    );
    // Chains.
    d.add_alias("abuse", "postmaster").unwrap();
    d.add_alias("hostmaster@company.com", "abuse@company.com")
        .unwrap();
    assert_eq!(
        rlocal(&d.resolve_recipient("hostmaster").unwrap()),
        ("admin", "company.com", None)
    );
    // Logins follow aliases too (A2).
    assert_eq!(
        local(&d.resolve_login("abuse", None).unwrap()),
        ("admin", "company.com", None)
    );
    // Remote target keeps its case.
    d.add_alias("fwd", "Someone@Elsewhere.org").unwrap();
    assert_eq!(
        d.resolve_recipient("fwd").unwrap(),
        Recipient::Remote("Someone@elsewhere.org".into())
    );
    // Loops are refused at add time...
    d.add_alias("a", "b").unwrap();
    d.add_alias("b", "c").unwrap();
    assert!(matches!(d.add_alias("c", "a"), Err(DirError::Loop(_))));
    assert!(matches!(
        d.add_alias("self", "self"),
        Err(DirError::Loop(_))
    ));
    assert!(matches!(
        d.add_router("<c> = a@company.com"),
        Err(DirError::Loop(_))
    ));
    // ...and a dangling chain ends as Unknown.
    assert_eq!(d.resolve_recipient("a").unwrap(), Recipient::Unknown);
    // A chain longer than the hop limit is an error, not a hang.
    for i in 0..20 {
        d.add_alias(&format!("h{i}"), &format!("h{}", i + 1))
            .unwrap();
    }
    d.add_alias("h20", "admin").unwrap();
    assert!(matches!(d.resolve_recipient("h0"), Err(DirError::Loop(_))));
    assert_eq!(
        rlocal(&d.resolve_recipient("h10").unwrap()),
        ("admin", "company.com", None)
    );
    // Conflicts between aliases and accounts.
    assert!(matches!(
        d.add_alias("admin", "x@y.com"),
        Err(DirError::AlreadyExists(_))
    ));
    assert!(matches!(
        d.add_account("postmaster", &pw("x")),
        Err(DirError::AlreadyExists(_))
    ));
    assert!(matches!(
        d.add_alias("postmaster", "admin"),
        Err(DirError::AlreadyExists(_))
    ));
    let n = d.list_aliases().unwrap().len();
    d.remove_alias("Postmaster@company.com").unwrap();
    assert_eq!(d.list_aliases().unwrap().len(), n - 1);
    assert!(matches!(
        d.remove_alias("postmaster"),
        Err(DirError::NotFound(_))
    ));
    assert!(d.add_alias("", "x").is_err());
    assert!(d.add_alias("x", "").is_err());
}

#[test]
fn removal() {
    let d = dir();
    d.add_domain("client2.com").unwrap();
    let a = d.add_account("info@client2.com", &pw("x")).unwrap();
    d.set_domain_addresses("client2.com", &[ip("192.0.2.9")])
        .unwrap();
    assert!(matches!(
        d.remove_domain("client2.com"),
        Err(DirError::InUse(_))
    ));
    assert!(matches!(
        d.remove_domain("company.com"),
        Err(DirError::InUse(_))
    ));
    assert!(matches!(
        d.remove_domain("nope.com"),
        Err(DirError::NotFound(_))
    ));
    let removed = d.remove_account("info%client2.com").unwrap();
    assert_eq!(removed, a);
    assert!(!d.verify_password(&a, &pw("x")));
    assert!(d.credentials(&a).is_err());
    assert_eq!(
        d.resolve_login("info@client2.com", None).unwrap(),
        LoginTarget::Unknown
    );
    assert!(matches!(
        d.remove_account("info@client2.com"),
        Err(DirError::NotFound(_))
    ));
    d.remove_domain("client2.com").unwrap();
    assert!(!d.has_domain("client2.com").unwrap());
    assert_eq!(d.domain_for_ip(ip("192.0.2.9")).unwrap(), None);
    assert_eq!(d.list_domains().unwrap().len(), 1);
    // The name can be reused.
    d.add_domain("client2.com").unwrap();
    let b = d.add_account("info@client2.com", &pw("y")).unwrap();
    assert_ne!(a.id, b.id);
}

#[test]
fn persistence_across_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("directory.db");
    let a: AccountInfo;
    {
        let d = Directory::open(&path, "company.com").unwrap();
        d.add_domain("client2.com").unwrap();
        a = d.add_account("info@client2.com", &pw("secret")).unwrap();
        d.set_mail_secret("info@client2.com", Some(&pw("apop")))
            .unwrap();
        d.set_domain_addresses("client2.com", &[ip("10.0.0.2")])
            .unwrap();
        d.add_account("cl1", &pw("x")).unwrap();
        d.add_router("client1.com = cl1.local").unwrap();
        d.add_alias("postmaster", "cl1").unwrap();
    }
    let d = Directory::open(&path, "company.com").unwrap();
    assert_eq!(d.list_domains().unwrap().len(), 2);
    let b = d.account("info@client2.com").unwrap();
    assert_eq!(b.id, a.id);
    assert!(b.has_mail_secret);
    assert!(d.verify_password(&b, &pw("secret")));
    assert_eq!(
        local(&d.resolve_login("info", Some(ip("10.0.0.2"))).unwrap()),
        ("info", "client2.com", None)
    );
    assert_eq!(
        rlocal(&d.resolve_recipient("q@client1.com").unwrap()),
        ("cl1", "company.com", Some("q"))
    );
    assert_eq!(
        rlocal(&d.resolve_recipient("postmaster").unwrap()),
        ("cl1", "company.com", None)
    );
    // Two handles on one file (e.g. the CLI while the server runs) see each other's writes.
    let d2 = Directory::open(&path, "company.com").unwrap();
    d2.add_account("late", &pw("x")).unwrap();
    assert!(d.account("late").is_ok());
    // Opening with another main domain keeps the data and creates that domain.
    drop(d);
    drop(d2);
    let d = Directory::open(&path, "Other.org").unwrap();
    assert_eq!(d.main_domain(), "other.org");
    assert!(d.has_domain("company.com").unwrap());
    assert!(d.account("cl1@company.com").is_ok());
}

#[test]
fn sasl_against_directory() {
    let d = dir();
    d.add_domain("client2.com").unwrap();
    d.add_account("tim@client2.com", &pw("tanstaaftanstaaf"))
        .unwrap();
    d.set_domain_addresses("client2.com", &[ip("192.0.2.2")])
        .unwrap();
    let src = d.sasl_source(Some(ip("192.0.2.2")));
    // PLAIN by bare name on client2's address.
    let (_, step) = SaslServer::start(
        "PLAIN",
        &src,
        SaslOptions::default(),
        Some(b"\0tim\0tanstaaftanstaaf"),
    );
    assert!(matches!(step, SaslStep::Success { .. }), "{step:?}");
    // CRAM-MD5 needs the mail secret (no plaintext stored).
    let o = SaslOptions {
        cram_challenge: Some("<1896.697170952@postoffice.reston.mci.net>".into()),
        ..Default::default()
    };
    let (mut s, _) = SaslServer::start("CRAM-MD5", &src, o.clone(), None);
    assert_eq!(
        s.step(&src, b"tim b913a602c7eda7a495b4e6e7334d3890"),
        SaslStep::Failure(SaslFailure::NoCredentials)
    );
    d.set_mail_secret("tim@client2.com", Some(&pw("tanstaaftanstaaf")))
        .unwrap();
    let (mut s, _) = SaslServer::start("CRAM-MD5", &src, o, None);
    assert!(matches!(
        s.step(&src, b"tim b913a602c7eda7a495b4e6e7334d3890"),
        SaslStep::Success { .. }
    ));
    // SCRAM-SHA-256 with the stored keys: the server-first message carries them.
    let (_, step) = SaslServer::start(
        "SCRAM-SHA-256",
        &src,
        SaslOptions::default(),
        Some(b"n,,n=tim%client2.com,r=abc"),
    );
    let SaslStep::Challenge(sf) = step else {
        panic!("{step:?}")
    };
    let sf = String::from_utf8(sf).unwrap();
    assert!(sf.contains(",i=4096"), "{sf}");
}

#[test]
fn directory_is_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<Directory>();
}

#[test]
fn listings_print() {
    let d = dir();
    d.add_domain("client2.com").unwrap();
    d.set_domain_addresses("client2.com", &[ip("192.0.2.2")])
        .unwrap();
    d.add_account("cl1", &pw("x")).unwrap();
    let doms: Vec<String> = d
        .list_domains()
        .unwrap()
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert_eq!(
        doms,
        [
            "company.com (main) 1 account(s)",
            "client2.com 0 account(s) 192.0.2.2"
        ]
    );
    let e = d.add_router("client1.com=cl1.local").unwrap();
    assert_eq!(e.to_string(), "client1.com = cl1.local");
    let a = d.add_alias("postmaster", "cl1").unwrap();
    assert_eq!(a.to_string(), "postmaster@company.com -> cl1@company.com");
    assert_eq!(
        d.list_aliases().unwrap(),
        [(
            "postmaster@company.com".to_string(),
            "cl1@company.com".to_string()
        )]
    );
}

#[test]
fn concurrent_use_from_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("directory.db");
    let d = std::sync::Arc::new(Directory::open(&path, "company.com").unwrap());
    d.add_account("shared", &pw("pw")).unwrap();
    let mut handles = Vec::new();
    for t in 0..4 {
        let d = d.clone();
        let path = path.clone();
        handles.push(std::thread::spawn(move || {
            // Half the threads use their own handle on the same file.
            let own = (t % 2 == 1).then(|| Directory::open(&path, "company.com").unwrap());
            let d: &Directory = own.as_ref().unwrap_or(&d);
            for i in 0..5 {
                d.add_account(&format!("t{t}u{i}"), &pw("x")).unwrap();
                let a = d.account("shared").unwrap();
                assert!(d.verify_password(&a, &pw("pw")));
                assert!(matches!(
                    d.resolve_login(&format!("t{t}u{i}"), None).unwrap(),
                    LoginTarget::Local { .. }
                ));
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(d.list_accounts(None).unwrap().len(), 21);
}

#[test]
fn cached_login_is_invalidated_by_a_password_change_from_another_handle() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("directory.db");
    let server = Directory::open(&path, "localhost").unwrap();
    let cli = Directory::open(&path, "localhost").unwrap();
    server.add_account("kate", &Secret::from("old")).unwrap();
    let a = server.account("kate").unwrap();
    assert!(server.verify_password(&a, &Secret::from("old")));
    // Second time: answered from the cache.
    assert!(server.verify_password(&a, &Secret::from("old")));
    assert!(!server.verify_password(&a, &Secret::from("wrong")));
    // Another process (the CLI) changes the password: the cache must not let the old
    // password in.
    cli.set_password("kate", &Secret::from("new")).unwrap();
    assert!(!server.verify_password(&a, &Secret::from("old")));
    assert!(server.verify_password(&a, &Secret::from("new")));
}
