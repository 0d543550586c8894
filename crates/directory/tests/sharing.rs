//! Quota limits, mailbox aliases and the grants hint in `directory.db`.
#![allow(clippy::unwrap_used)]

use mailroom_directory::{DirError, Directory, QuotaLimits, Secret, MAX_STORAGE_KIB};

fn dir() -> Directory {
    let d = Directory::open_in_memory("company.com").unwrap();
    d.add_domain("client1.com").unwrap();
    for a in ["jsmith", "boss", "public", "jsmith@client1.com"] {
        d.add_account(a, &Secret::from("pw")).unwrap();
    }
    d
}

#[test]
fn quota_set_get_clear() {
    let d = dir();
    assert_eq!(d.quota("jsmith").unwrap(), QuotaLimits::default());
    assert!(d.quota("jsmith").unwrap().is_unlimited());
    let q = d.set_quota("jsmith", Some(100 * 1024), Some(500)).unwrap();
    assert_eq!(d.quota("jsmith@company.com").unwrap(), q);
    assert_eq!(q.storage_bytes(), Some(100 * 1024 * 1024));
    // Other accounts untouched; one resource only.
    assert!(d.quota("jsmith@client1.com").unwrap().is_unlimited());
    d.set_quota("boss", None, Some(3)).unwrap();
    assert_eq!(
        d.quota("boss").unwrap(),
        QuotaLimits {
            storage_kib: None,
            messages: Some(3)
        }
    );
    d.set_quota("jsmith", None, None).unwrap();
    assert!(d.quota("jsmith").unwrap().is_unlimited());
    d.set_quota("jsmith", Some(0), None).unwrap();
    assert_eq!(d.quota("jsmith").unwrap().storage_kib, Some(0));
}

#[test]
fn quota_validation() {
    let d = dir();
    assert!(matches!(
        d.set_quota("jsmith", Some(MAX_STORAGE_KIB + 1), None),
        Err(DirError::Invalid(_))
    ));
    assert!(matches!(
        d.set_quota("jsmith", None, Some(u64::MAX)),
        Err(DirError::Invalid(_))
    ));
    assert!(matches!(
        d.set_quota("nobody", Some(1), None),
        Err(DirError::NotFound(_))
    ));
    d.set_quota("jsmith", Some(MAX_STORAGE_KIB), Some(u32::MAX as u64))
        .unwrap();
    assert_eq!(
        d.quota("jsmith").unwrap().storage_kib,
        Some(MAX_STORAGE_KIB)
    );
}

#[test]
fn quota_goes_with_the_account() {
    let d = dir();
    d.set_quota("boss", Some(10), None).unwrap();
    d.remove_account("boss").unwrap();
    d.add_account("boss", &Secret::from("pw")).unwrap();
    assert!(d.quota("boss").unwrap().is_unlimited());
}

#[test]
fn mailbox_aliases() {
    let d = dir();
    assert!(d.list_mailbox_aliases("jsmith").unwrap().is_empty());
    d.add_mailbox_alias("jsmith", "boss-inbox", "~boss/INBOX")
        .unwrap();
    d.add_mailbox_alias("jsmith", "news", "~public/news/company")
        .unwrap();
    let l = d.list_mailbox_aliases("jsmith").unwrap();
    assert_eq!(
        l.iter()
            .map(|a| (a.name.as_str(), a.target.as_str()))
            .collect::<Vec<_>>(),
        vec![
            ("boss-inbox", "~boss/INBOX"),
            ("news", "~public/news/company")
        ]
    );
    // Replace.
    d.add_mailbox_alias("jsmith", "news", "~public/announces")
        .unwrap();
    assert_eq!(
        d.list_mailbox_aliases("jsmith").unwrap()[1].target,
        "~public/announces"
    );
    // Per account.
    assert!(d
        .list_mailbox_aliases("jsmith@client1.com")
        .unwrap()
        .is_empty());
    d.remove_mailbox_alias("jsmith", "news").unwrap();
    assert!(matches!(
        d.remove_mailbox_alias("jsmith", "news"),
        Err(DirError::NotFound(_))
    ));
    for (name, target) in [
        ("", "~boss/INBOX"),
        ("INBOX", "~boss/INBOX"),
        ("inbox", "~boss/INBOX"),
        ("~boss", "~boss/INBOX"),
        ("a//b", "~boss/INBOX"),
        ("a/../b", "~boss/INBOX"),
        ("x", ""),
        ("x", "~"),
        ("x", "~boss/../other"),
        ("x\r\n", "~boss/INBOX"),
    ] {
        assert!(
            matches!(
                d.add_mailbox_alias("jsmith", name, target),
                Err(DirError::Invalid(_))
            ),
            "{name:?} -> {target:?}"
        );
    }
    assert!(matches!(
        d.add_mailbox_alias("jsmith", "self", "self"),
        Err(DirError::Loop(_))
    ));
    d.remove_account("jsmith").unwrap();
    d.add_account("jsmith", &Secret::from("pw")).unwrap();
    assert!(d.list_mailbox_aliases("jsmith").unwrap().is_empty());
}

#[test]
fn grants_hint() {
    let d = dir();
    let jsmith = d.account("jsmith").unwrap();
    let boss = d.account("boss").unwrap();
    let public = d.account("public").unwrap();
    let other = d.account("jsmith@client1.com").unwrap();
    assert!(d.grantors(&jsmith).unwrap().is_empty());
    d.note_grant(&boss, "jsmith@company.com").unwrap();
    d.note_grant(&boss, "jsmith@company.com").unwrap();
    d.note_grant(&public, "anyone").unwrap();
    d.note_grant(&other, "-jsmith@company.com").unwrap(); // negative: grants nothing
    d.note_grant(&jsmith, "anyone").unwrap(); // one's own grants are not listed
    let names = |v: Vec<mailroom_directory::AccountInfo>| {
        v.into_iter().map(|a| a.address()).collect::<Vec<_>>()
    };
    assert_eq!(
        names(d.grantors(&jsmith).unwrap()),
        vec!["boss@company.com", "public@company.com"]
    );
    assert_eq!(
        names(d.grantors(&other).unwrap()),
        vec!["jsmith@company.com", "public@company.com"]
    );
    d.set_grants(&boss, &[]).unwrap();
    assert_eq!(
        names(d.grantors(&jsmith).unwrap()),
        vec!["public@company.com"]
    );
    d.set_grants(&boss, &["Anyone".to_string(), "-x@y".to_string()])
        .unwrap();
    assert_eq!(names(d.grantors(&other).unwrap()).len(), 3);
}

#[test]
fn persists_across_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("directory.db");
    {
        let d = Directory::open(&path, "company.com").unwrap();
        d.add_account("jsmith", &Secret::from("pw")).unwrap();
        d.set_quota("jsmith", Some(2048), None).unwrap();
        d.add_mailbox_alias("jsmith", "b", "~boss/INBOX").unwrap();
    }
    let d = Directory::open(&path, "company.com").unwrap();
    assert_eq!(d.quota("jsmith").unwrap().storage_kib, Some(2048));
    assert_eq!(d.list_mailbox_aliases("jsmith").unwrap().len(), 1);
}

/// `account rename`: the account keeps its id and password, and what names it follows
/// (address aliases, other accounts' mailbox aliases into it, the grants hint).
#[test]
fn rename_account_carries_references() {
    let d = dir();
    let before = d.account("jsmith").unwrap();
    d.add_alias("john@company.com", "jsmith").unwrap();
    d.add_mailbox_alias("boss", "js-inbox", "~jsmith/INBOX")
        .unwrap();
    let boss = d.account("boss").unwrap();
    d.note_grant(&boss, "jsmith@company.com").unwrap();
    let (old, new) = d
        .rename_account("jsmith", "john.smith@client1.com")
        .unwrap();
    assert_eq!(old.id, before.id);
    assert_eq!(
        (new.id, new.address()),
        (before.id, "john.smith@client1.com".into())
    );
    assert!(matches!(d.account("jsmith"), Err(DirError::NotFound(_))));
    assert_eq!(d.account("john.smith@client1.com").unwrap().id, before.id);
    assert!(d
        .list_aliases()
        .unwrap()
        .contains(&("john@company.com".into(), "john.smith@client1.com".into())));
    let aliases = d.list_mailbox_aliases("boss").unwrap();
    assert_eq!(aliases[0].target, "~john.smith@client1.com/INBOX");
    assert_eq!(
        d.owners_granting("john.smith@client1.com").unwrap()[0].id,
        boss.id
    );
    // Taken names and unknown domains are refused, and change nothing.
    assert!(matches!(
        d.rename_account("boss", "jsmith@client1.com"),
        Err(DirError::AlreadyExists(_))
    ));
    assert!(matches!(
        d.rename_account("boss", "boss@nowhere.org"),
        Err(DirError::NotFound(_))
    ));
    assert!(d.account("boss").is_ok());
}
