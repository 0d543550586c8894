//! IMAP command grammar: RFC examples, every command, and the bad-input table.

use mailroom_proto::imap::command::{
    CertificateData, CommandBody, FetchAttribute, SearchKey, SectionText, StatusItem, StoreMode,
};
use mailroom_proto::imap::{parse_wire, CommandKind, Flag};

fn ok(line: &str) -> CommandBody {
    match parse_wire(line.as_bytes()) {
        Ok(c) => c.body,
        Err(e) => panic!("{line:?}: {e}"),
    }
}

fn bad(line: &[u8]) -> (Option<String>, String) {
    match parse_wire(line) {
        Ok(c) => panic!("{:?} parsed: {c:?}", String::from_utf8_lossy(line)),
        Err(e) => (e.tag.map(|t| t.to_string()), e.message),
    }
}

/// Client commands of the RFC 3501 section 8 example session.
#[test]
fn rfc3501_section8() {
    for line in [
        "a001 login mrc secret",
        "a002 select inbox",
        "a003 fetch 12 full",
        "a004 fetch 12 body[header]",
        "a005 store 12 +flags \\deleted",
        "a006 logout",
    ] {
        ok(line);
    }
    assert!(
        matches!(ok("a002 select inbox"), CommandBody::Select { mailbox, .. } if mailbox.is_inbox())
    );
    match ok("a004 fetch 12 body[header]") {
        CommandBody::Fetch { attributes, .. } => assert!(matches!(
            &attributes[..],
            [FetchAttribute::BodySection { peek: false, section, partial: None }]
                if section.part.is_empty() && section.text == Some(SectionText::Header)
        )),
        other => panic!("{other:?}"),
    }
}

/// One example per command (mostly from RFC 3501 section 6 and the extension RFCs).
#[test]
fn every_command() {
    let cases: &[(&str, CommandKind)] = &[
        ("a CAPABILITY", CommandKind::Capability),
        ("a NOOP", CommandKind::Noop),
        ("a LOGOUT", CommandKind::Logout),
        ("a STARTTLS", CommandKind::StartTls),
        ("a AUTHENTICATE PLAIN", CommandKind::Authenticate),
        (
            "a AUTHENTICATE PLAIN AGZyZWQAc2VjcmV0",
            CommandKind::Authenticate,
        ),
        ("a AUTHENTICATE PLAIN =", CommandKind::Authenticate),
        ("a LOGIN SMITH SESAME", CommandKind::Login),
        ("a LOGIN {5}\r\nsmith {6+}\r\nses me", CommandKind::Login),
        ("A142 SELECT INBOX", CommandKind::Select),
        ("A142 SELECT INBOX (CONDSTORE)", CommandKind::Select),
        ("A932 EXAMINE blurdybloop", CommandKind::Examine),
        ("A003 CREATE owatagusiam/", CommandKind::Create),
        ("A003 CREATE Sent (USE (\\Sent))", CommandKind::Create),
        ("A683 DELETE blurdybloop", CommandKind::Delete),
        ("A683 RENAME blurdybloop sarasoop", CommandKind::Rename),
        (
            "A002 SUBSCRIBE #news.comp.mail.mime",
            CommandKind::Subscribe,
        ),
        (
            "A002 UNSUBSCRIBE #news.comp.mail.mime",
            CommandKind::Unsubscribe,
        ),
        ("A101 LIST \"\" \"\"", CommandKind::List),
        ("A102 LIST #news.comp.mail.misc \"\"", CommandKind::List),
        ("A202 LIST ~/Mail/ %", CommandKind::List),
        ("A002 LSUB \"#news.\" \"comp.mail.*\"", CommandKind::Lsub),
        (
            "A042 STATUS blurdybloop (UIDNEXT MESSAGES)",
            CommandKind::Status,
        ),
        (
            "A001 STATUS mailbox (UNSEEN OLDEST INTERNALSIZE UNSEENMEDIA)",
            CommandKind::Status,
        ),
        (
            "A003 APPEND saved-messages (\\Seen) {5}\r\nHello",
            CommandKind::Append,
        ),
        (
            "A003 APPEND saved-messages (\\Seen $MDN) \" 7-Feb-1994 21:52:25 -0800\" {5}\r\nHello",
            CommandKind::Append,
        ),
        ("FXXZ CHECK", CommandKind::Check),
        ("A341 CLOSE", CommandKind::Close),
        ("A341 UNSELECT", CommandKind::Unselect),
        ("A202 EXPUNGE", CommandKind::Expunge),
        ("A202 UID EXPUNGE 3000:3002", CommandKind::UidExpunge),
        (
            "A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"",
            CommandKind::Search,
        ),
        (
            "A283 SEARCH TEXT \"string not in mailbox\"",
            CommandKind::Search,
        ),
        (
            "A284 SEARCH CHARSET UTF-8 TEXT {6}\r\nXXXXXX",
            CommandKind::Search,
        ),
        (
            "A285 UID SEARCH RETURN (MIN COUNT) 1:* UNDELETED",
            CommandKind::UidSearch,
        ),
        (
            "A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])",
            CommandKind::Fetch,
        ),
        (
            "A999 UID FETCH 4827313:4828442 FLAGS",
            CommandKind::UidFetch,
        ),
        ("A003 STORE 2:4 +FLAGS (\\Deleted)", CommandKind::Store),
        (
            "A004 UID STORE 1 (UNCHANGEDSINCE 12) -FLAGS.SILENT \\Seen $Junk",
            CommandKind::UidStore,
        ),
        ("A003 COPY 2:4 MEETING", CommandKind::Copy),
        ("A004 UID COPY 2:4 MEETING", CommandKind::UidCopy),
        ("a MOVE 1:3 Trash", CommandKind::Move),
        ("a UID MOVE 42:69 foo", CommandKind::UidMove),
        ("a IDLE", CommandKind::Idle),
        ("A001 NAMESPACE", CommandKind::Namespace),
        (
            "a023 ID (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" NIL)",
            CommandKind::Id,
        ),
        ("a023 ID NIL", CommandKind::Id),
        ("t2 ENABLE CONDSTORE X-GOOD-IDEA", CommandKind::Enable),
        ("A001 GETACL INBOX", CommandKind::GetAcl),
        ("A002 SETACL INBOX Fred rwipslxetad", CommandKind::SetAcl),
        ("A002 SETACL INBOX -Fred +rw", CommandKind::SetAcl),
        ("A003 DELETEACL INBOX Fred", CommandKind::DeleteAcl),
        ("a LISTRIGHTS ~/Mail/saved smith", CommandKind::ListRights),
        ("A003 MYRIGHTS INBOX", CommandKind::MyRights),
        ("G0001 GETQUOTA \"!partition/sda4\"", CommandKind::GetQuota),
        ("A003 GETQUOTAROOT INBOX", CommandKind::GetQuotaRoot),
        (
            "S0000 SETQUOTA \"#user/alice\" (STORAGE 510 MESSAGE 1000)",
            CommandKind::SetQuota,
        ),
        ("S0001 SETQUOTA \"\" ()", CommandKind::SetQuota),
    ];
    for (line, kind) in cases {
        let c = parse_wire(line.as_bytes()).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        assert_eq!(c.kind(), *kind, "{line}");
    }
}

#[test]
fn list_extended_and_vendor() {
    match ok("A001 LIST (CHILDREN UNSEEN INTERNALSIZE) \"\" \"ma%\"") {
        CommandBody::List(l) => {
            assert!(l.returns.children);
            assert_eq!(
                l.returns.vendor,
                vec![StatusItem::Unseen, StatusItem::InternalSize]
            );
            assert_eq!(l.patterns, vec!["ma%".to_owned()]);
        }
        other => panic!("{other:?}"),
    }
    match ok("A02 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"*\" \"%/x\") RETURN (CHILDREN STATUS (MESSAGES UNSEEN) SPECIAL-USE OLDEST)") {
        CommandBody::List(l) => {
            assert!(l.extended && l.selection.subscribed && l.selection.recursive_match);
            assert_eq!(l.patterns.len(), 2);
            assert_eq!(l.returns.status, vec![StatusItem::Messages, StatusItem::Unseen]);
            assert_eq!(l.returns.vendor, vec![StatusItem::Oldest]);
            assert!(l.returns.special_use);
        }
        other => panic!("{other:?}"),
    }
    bad(b"a LIST (RECURSIVEMATCH) \"\" *");
    bad(b"a LIST (BOGUS) \"\" *");
    bad(b"a LIST \"\" * RETURN (BOGUS)");
}

#[test]
fn fetch_sections() {
    match ok("a FETCH 1 (BODY.PEEK[1.2.3.MIME]<0.100> BODY[HEADER.FIELDS.NOT (X-A \"X-B\")] RFC822.SIZE UID)") {
        CommandBody::Fetch { attributes, .. } => {
            assert_eq!(attributes.len(), 4);
            match &attributes[0] {
                FetchAttribute::BodySection { peek, section, partial } => {
                    assert!(*peek);
                    assert_eq!(section.part.iter().map(|n| n.get()).collect::<Vec<_>>(), vec![1, 2, 3]);
                    assert_eq!(section.text, Some(SectionText::Mime));
                    assert_eq!(partial.map(|(a, b)| (a, b.get())), Some((0, 100)));
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(
                attributes[1],
                FetchAttribute::BodySection {
                    peek: false,
                    section: mailroom_proto::imap::command::Section {
                        part: vec![],
                        text: Some(SectionText::HeaderFieldsNot(vec!["X-A".into(), "X-B".into()]))
                    },
                    partial: None
                }
            );
        }
        other => panic!("{other:?}"),
    }
    match ok("a FETCH 1:* ALL") {
        CommandBody::Fetch { attributes, .. } => assert_eq!(attributes.len(), 4),
        other => panic!("{other:?}"),
    }
    bad(b"a FETCH 1 BODY[MIME]");
    bad(b"a FETCH 1 BODY.PEEK");
    bad(b"a FETCH 1 (ALL)");
    bad(b"a FETCH 1 BODY[1]<0.0>");
}

#[test]
fn store_and_flags() {
    match ok("a STORE 1,3:5 -FLAGS.SILENT (\\Seen \\flagged $MDN \\XExt)") {
        CommandBody::Store {
            mode,
            silent,
            flags,
            ..
        } => {
            assert_eq!(mode, StoreMode::Remove);
            assert!(silent);
            assert_eq!(
                flags,
                vec![
                    Flag::Seen,
                    Flag::Flagged,
                    Flag::Keyword("$MDN".into()),
                    Flag::Extension("XExt".into())
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    bad(b"a STORE 1 +FLAGS (\\Recent)");
    bad(b"a STORE 1 FLAGZ (\\Seen)");
}

#[test]
fn search_structure() {
    match ok("a SEARCH OR (SEEN 1:3) NOT UID 5:* HEADER X-Spam yes MODSEQ \"/flags/\\\\draft\" all 620162338") {
        CommandBody::Search(s) => match s.criteria {
            SearchKey::And(v) => {
                assert_eq!(v.len(), 3);
                assert!(matches!(&v[0], SearchKey::Or(..)));
                assert!(matches!(&v[2], SearchKey::ModSeq(620162338)));
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

#[test]
fn mailbox_names() {
    match ok("a SELECT \"~peter/mail/&U,BTFw-/&ZeVnLIqe-\"") {
        CommandBody::Select { mailbox, .. } => {
            assert_eq!(mailbox.as_str(), "~peter/mail/台北/日本語")
        }
        other => panic!("{other:?}"),
    }
    match ok("a CREATE InBoX") {
        CommandBody::Create { mailbox, .. } => assert_eq!(mailbox.as_str(), "INBOX"),
        other => panic!("{other:?}"),
    }
    // Wildcards are data at parse level: the server refuses them in CREATE.
    match ok("a CREATE \"foo*%\"") {
        CommandBody::Create { mailbox, .. } => assert!(mailbox.has_wildcards()),
        other => panic!("{other:?}"),
    }
    // A valid astring that is not valid modified UTF-7 parses: it names no mailbox, and
    // the server answers NO (issue 15 item 9), not BAD.
    for line in [
        "a SELECT &Jjo!",
        "a SELECT \"!#$&'+,-.0123456789:;<=>?@^_`|[}\"",
    ] {
        match ok(line) {
            CommandBody::Select { mailbox, .. } => {
                let why = mailbox.invalid().expect("invalid").to_string();
                assert!(why.contains("UTF-7"), "{why}");
            }
            other => panic!("{other:?}"),
        }
    }
    match ok("a LIST \"\" &Jjo") {
        CommandBody::List(l) => assert!(l.patterns.is_empty()),
        other => panic!("{other:?}"),
    }
    // 8-bit octets are no modified UTF-7 either (NO, as Dovecot answers).
    match parse_wire(b"a SELECT \"caf\xc3\xa9\"").map(|c| c.body) {
        Ok(CommandBody::Select { mailbox, .. }) => assert!(mailbox.invalid().is_some()),
        other => panic!("{other:?}"),
    }
}

/// The bad-input table: each gets an error, with the tag when there is one.
#[test]
fn bad_input_table() {
    let cases: &[(&[u8], Option<&str>)] = &[
        (b"a1 FROBNICATE", Some("a1")),
        (b"a1 LOGIN onlyuser", Some("a1")),
        (b"a1 SELECT", Some("a1")),
        (b"a1 FETCH 0 FLAGS", Some("a1")),
        (b"a1 FETCH 4294967296 FLAGS", Some("a1")),
        (b"a1 FETCH 1:*:2 FLAGS", Some("a1")),
        (b"a1 FETCH 1, FLAGS", Some("a1")),
        (b"a1 UID FETCH 0:5 FLAGS", Some("a1")),
        (b"a1 SEARCH UID 0", Some("a1")),
        (b"a1 NOOP extra", Some("a1")),
        (b"a1  NOOP", Some("a1")),
        (b"a1 LOGIN \"user\x00\" pw", Some("a1")),
        (b"a1 NOOP\x00", Some("a1")),
        (b"\xff\xfe\xfd garbage", None),
        (b"", None),
        (b"+tag NOOP", None),
        (b"a1 LOGIN {10}\r\nshort", Some("a1")),
        (b"a1 LOGIN \"unterminated", Some("a1")),
        (b"a1 STATUS INBOX (BOGUS)", Some("a1")),
        (b"a1 SEARCH BEFORE 30-Feb-2020", Some("a1")),
        (b"a1 SEARCH BEFORE 1-Foo-2020", Some("a1")),
        (b"a1 APPEND INBOX", Some("a1")),
        (b"a1 APPEND INBOX (\\Seen)", Some("a1")),
        (
            b"a1 APPEND INBOX \"31-Dec-2020 25:00:00 +0000\" {1}\r\nx",
            Some("a1"),
        ),
        (b"a1 SETACL INBOX fred RW", Some("a1")),
        (
            b"a1 SETQUOTA root (STORAGE 99999999999999999999)",
            Some("a1"),
        ),
        (b"a1 AUTHENTICATE PLAIN !!!", Some("a1")),
        (b"a1 UID FOO 1", Some("a1")),
        (b"a1 ENABLE", Some("a1")),
    ];
    for (line, tag) in cases {
        let (t, msg) = bad(line);
        assert_eq!(
            t.as_deref(),
            *tag,
            "{:?}: {msg}",
            String::from_utf8_lossy(line)
        );
        assert!(!msg.is_empty());
    }
}

/// `COPY`/`MOVE … ENCRYPTED certificate-data` (seed 001, I13): `*`, or base64 as an
/// atom, a quoted string or a literal; anything else is a syntax error.
#[test]
fn copy_move_encrypted() {
    let enc = |line: &str| match ok(line) {
        CommandBody::Copy { encrypt, .. } | CommandBody::Move { encrypt, .. } => encrypt,
        other => panic!("{other:?}"),
    };
    assert_eq!(enc("a COPY 1:2 Trash"), None);
    assert_eq!(
        enc("a COPY 1:2 Trash ENCRYPTED *"),
        Some(CertificateData::Own)
    );
    assert_eq!(
        enc("a uid move 1 Trash encrypted *"),
        Some(CertificateData::Own)
    );
    let der = Some(CertificateData::Der(b"\x30\x82hello?".to_vec()));
    assert_eq!(enc("a MOVE 1 Trash ENCRYPTED MIJoZWxsbz8="), der);
    assert_eq!(enc("a UID COPY 1 \"a b\" ENCRYPTED \"MIJoZWxsbz8=\""), der);
    assert_eq!(
        enc("a UID COPY 1 Trash ENCRYPTED {12}\r\nMIJoZWxsbz8="),
        der
    );
    assert!(matches!(
        ok("a UID MOVE 4:5 \"Sent Items\" ENCRYPTED QUJD"),
        CommandBody::Move { uid: true, mailbox, encrypt: Some(CertificateData::Der(d)), .. }
            if mailbox.as_str() == "Sent Items" && d == b"ABC"
    ));
    // RFC 3501 `base64` leaves the padding's spare bits free.
    assert_eq!(
        enc("a COPY 1 x ENCRYPTED QR=="),
        Some(CertificateData::Der(vec![0x41]))
    );
    for line in [
        &b"a COPY 1 Trash ENCRYPTED"[..],
        b"a COPY 1 Trash ENCRYPTED ",
        b"a COPY 1 Trash ENCRYPTED QUJ",
        b"a COPY 1 Trash ENCRYPTED QU=D",
        b"a COPY 1 Trash ENCRYPTED Q===",
        b"a COPY 1 Trash ENCRYPTED QUJD!!!!",
        b"a COPY 1 Trash ENCRYPTED \"QUJD\r\nQUJD\"",
        b"a COPY 1 Trash ENCRYPTED {10}\r\nQUJD\r\nQUJD",
        b"a COPY 1 Trash ENCRYPTED \"\"",
        b"a COPY 1 Trash ENCRYPTED **",
        b"a COPY 1 Trash ENCRYPTED * QUJD",
        b"a COPY 1 Trash ENCRYPT *",
        b"a COPY 1 Trash *",
        b"a MOVE 1 Trash  ENCRYPTED *",
        b"a UID MOVE 1 Trash ENCRYPTED\t*",
    ] {
        let (tag, msg) = bad(line);
        assert_eq!(
            tag.as_deref(),
            Some("a"),
            "{:?}",
            String::from_utf8_lossy(line)
        );
        assert!(!msg.is_empty());
    }
    assert_eq!(
        bad(b"a COPY 1 Trash ENCRYPTED QUJ").1,
        "certificate data is neither * nor base64 (RFC 3501 base64, no line breaks)"
    );
    assert_eq!(
        bad(b"a COPY 1 Trash ENCRYPTED \"\"").1,
        "certificate data is empty"
    );
    assert_eq!(bad(b"a COPY 1 Trash FOO").1, "expected ENCRYPTED at 'F'");
}

#[test]
fn search_limits() {
    // 10,000 nested ORs.
    let mut s = String::from("a1 SEARCH");
    for _ in 0..10_000 {
        s.push_str(" OR SEEN");
    }
    s.push_str(" SEEN");
    let (tag, msg) = bad(s.as_bytes());
    assert_eq!(tag.as_deref(), Some("a1"));
    assert!(msg.contains("deep") || msg.contains("many"), "{msg}");
    // 10,000 flat ORs.
    let mut s = String::from("a1 SEARCH");
    for _ in 0..10_000 {
        s.push_str(" OR SEEN DRAFT");
    }
    let (_, msg) = bad(s.as_bytes());
    assert!(msg.contains("too many"), "{msg}");
    // Deep parentheses.
    let s = format!("a1 SEARCH {}ALL{}", "(".repeat(5000), ")".repeat(5000));
    bad(s.as_bytes());
}

/// ACL and QUOTA arguments as the server receives them (RFC 4314 section 3, RFC 9208
/// section 4).
#[test]
fn acl_and_quota_arguments() {
    use mailroom_proto::imap::command::RightsChange;
    match ok("a SETACL ~alice/Box -bob@localhost -wt") {
        CommandBody::SetAcl {
            mailbox,
            identifier,
            rights,
        } => {
            assert_eq!(mailbox.as_str(), "~alice/Box");
            assert_eq!(identifier, "-bob@localhost");
            assert_eq!(rights, RightsChange::Remove("wt".into()));
        }
        b => panic!("{b:?}"),
    }
    match ok("a SETACL INBOX anyone \"\"") {
        CommandBody::SetAcl { rights, .. } => assert_eq!(rights, RightsChange::Replace("".into())),
        b => panic!("{b:?}"),
    }
    match ok("a SETQUOTA \"#alice\" (storage 1024 Message 7)") {
        CommandBody::SetQuota { root, limits } => {
            assert_eq!(root, "#alice");
            assert_eq!(
                limits,
                vec![("STORAGE".to_string(), 1024), ("MESSAGE".to_string(), 7)]
            );
        }
        b => panic!("{b:?}"),
    }
    match ok("a GETQUOTA \"\"") {
        CommandBody::GetQuota { root } => assert_eq!(root, ""),
        b => panic!("{b:?}"),
    }
    for line in [
        &b"a SETQUOTA \"#alice\" (STORAGE -1)"[..],
        b"a SETQUOTA \"#alice\" (STORAGE)",
        b"a SETQUOTA \"#alice\" STORAGE 1",
        b"a SETACL INBOX - lr",
        b"a DELETEACL INBOX",
        b"a MYRIGHTS",
    ] {
        let (tag, _) = bad(line);
        assert_eq!(tag.as_deref(), Some("a"));
    }
}

/// RFC 7162 3.2.5 and 3.2.6: the QRESYNC SELECT parameter (the RFC's examples) and the
/// VANISHED UID FETCH modifier; what the grammar refuses.
#[test]
fn qresync_parameters() {
    use mailroom_proto::imap::command::QResync;
    let q = |line: &str| match ok(line) {
        CommandBody::Select { qresync, .. } | CommandBody::Examine { qresync, .. } => qresync,
        other => panic!("{other:?}"),
    };
    let full = q("A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))")
        .expect("qresync");
    assert_eq!(full.uid_validity, 67890007);
    assert_eq!(full.modseq, 20050715194045000);
    assert_eq!(
        full.known_uids.map(|s| s.to_string()).as_deref(),
        Some("41,43:211,214:541")
    );
    assert_eq!(full.seq_match, None);
    let QResync { seq_match, .. } = q(
        "B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997)))",
    )
    .expect("qresync");
    let (seqs, uids) = seq_match.expect("seq-match");
    assert_eq!(seqs.to_string(), "5000,7500,9000,9990:9999");
    assert!(uids.to_string().starts_with("15000,22500"));
    let short = q("a EXAMINE INBOX (QRESYNC (1 2))").expect("qresync");
    assert_eq!((short.known_uids, short.seq_match), (None, None));
    let only_match = q("a SELECT INBOX (QRESYNC (1 2 (1:2 5,7)) CONDSTORE)").expect("qresync");
    assert!(only_match.known_uids.is_none() && only_match.seq_match.is_some());
    assert!(matches!(
        ok("a UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)"),
        CommandBody::Fetch {
            vanished: true,
            changed_since: Some(12345),
            ..
        }
    ));
    for line in [
        &b"a SELECT INBOX (QRESYNC (0 2))"[..],
        b"a SELECT INBOX (QRESYNC (1 0))",
        b"a SELECT INBOX (QRESYNC (1 2 1:*))",
        b"a SELECT INBOX (QRESYNC (1 2 1:5 (1:* 1:5)))",
        b"a SELECT INBOX (QRESYNC (1))",
        b"a SELECT INBOX (QRESYNC (1 2) QRESYNC (1 2))",
        b"a FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)",
        b"a UID FETCH 1 (FLAGS) (VANISHED)",
        b"a UID FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED VANISHED)",
    ] {
        let (tag, _) = bad(line);
        assert_eq!(tag.as_deref(), Some("a"));
    }
}

/// Parses with the grammar of a session that enabled UTF8=ACCEPT (`append`: the APPEND
/// UTF8 item too) or IMAP4rev2 (UTF-8 names and strings only).
fn parse_utf8(line: &[u8], append: bool) -> Result<CommandBody, String> {
    let raw = mailroom_proto::imap::RawCommand::from_bytes(line.to_vec());
    let opts = mailroom_proto::imap::ParseOptions {
        utf8: true,
        utf8_append: append,
    };
    mailroom_proto::imap::parse_command_with(&raw, opts)
        .map(|c| c.body)
        .map_err(|e| e.message)
}

/// The BAD text of a command the UTF-8 grammar refuses.
fn refused_utf8(line: &[u8], append: bool) -> String {
    match parse_utf8(line, append) {
        Ok(c) => panic!("{:?} parsed: {c:?}", String::from_utf8_lossy(line)),
        Err(e) => e,
    }
}

/// RFC 6855 3 and RFC 9051 5.1: after ENABLE, mailbox names and patterns are UTF-8 as
/// sent (no modified UTF-7); 8-bit octets in a quoted string must be UTF-8 (BAD).
#[test]
fn utf8_names_and_strings() {
    for append in [false, true] {
        match parse_utf8("a SELECT \"Entwürfe/日本語\"".as_bytes(), append) {
            Ok(CommandBody::Select { mailbox, .. }) => {
                assert_eq!(mailbox.as_str(), "Entwürfe/日本語");
                assert!(mailbox.invalid().is_none());
            }
            other => panic!("{other:?}"),
        }
        // `&` is no shift character in UTF-8 names.
        match parse_utf8(b"a CREATE R&D", append) {
            Ok(CommandBody::Create { mailbox, .. }) => assert_eq!(mailbox.as_str(), "R&D"),
            other => panic!("{other:?}"),
        }
        match parse_utf8(b"a CREATE Entw&APw-rfe", append) {
            Ok(CommandBody::Create { mailbox, .. }) => {
                assert_eq!(mailbox.as_str(), "Entw&APw-rfe")
            }
            other => panic!("{other:?}"),
        }
        match parse_utf8("a LIST \"\" \"Entw*\"".as_bytes(), append) {
            Ok(CommandBody::List(l)) => assert_eq!(l.patterns, vec!["Entw*".to_string()]),
            other => panic!("{other:?}"),
        }
        // A literal name that is not UTF-8 is a syntax error, as is a quoted string.
        let e = refused_utf8(b"a SELECT {3}\r\n\xff\xfeX", append);
        assert_eq!(e, "mailbox name is not valid UTF-8");
        let e = refused_utf8(b"a SELECT \"caf\xe9\"", append);
        assert_eq!(e, "quoted string is not valid UTF-8 (RFC 6855 section 3)");
        let e = refused_utf8(b"a SEARCH SUBJECT \"\xc3\"", append);
        assert_eq!(e, "quoted string is not valid UTF-8 (RFC 6855 section 3)");
        // A LIST pattern that is not UTF-8 matches nothing (no syntax error).
        match parse_utf8(b"a LIST \"\" {1}\r\n\xff", append) {
            Ok(CommandBody::List(l)) => assert!(l.patterns.is_empty()),
            other => panic!("{other:?}"),
        }
    }
    // Without ENABLE: modified UTF-7, and 8-bit quoted octets are tolerated.
    match ok("a CREATE Entw&APw-rfe") {
        CommandBody::Create { mailbox, .. } => assert_eq!(mailbox.as_str(), "Entwürfe"),
        other => panic!("{other:?}"),
    }
    assert!(parse_wire(b"a SEARCH SUBJECT \"caf\xe9\"").is_ok());
}

/// RFC 6855 4: `append-data =/ utf8-literal`, `utf8-literal = "UTF8" SP "(" literal8
/// ")"`, only after ENABLE UTF8=ACCEPT.
#[test]
fn append_utf8_item() {
    let line = "a APPEND INBOX (\\Seen) UTF8 (~{14}\r\nSubject: café)".as_bytes();
    match parse_utf8(line, true) {
        Ok(CommandBody::Append { messages, .. }) => {
            assert_eq!(messages.len(), 1);
            assert_eq!(messages[0].flags, vec![Flag::Seen]);
        }
        other => panic!("{other:?}"),
    }
    // MULTIAPPEND with one UTF8 message and one plain one.
    let line = "a APPEND INBOX UTF8 (~{1}\r\nx) {1}\r\ny".as_bytes();
    match parse_utf8(line, true) {
        Ok(CommandBody::Append { messages, .. }) => assert_eq!(messages.len(), 2),
        other => panic!("{other:?}"),
    }
    let e = refused_utf8(line, false);
    assert_eq!(
        e,
        "APPEND UTF8 data needs ENABLE UTF8=ACCEPT (RFC 6855 section 4)"
    );
    assert_eq!(
        bad(b"a APPEND INBOX UTF8 (~{1}\r\nx)").1,
        "APPEND UTF8 data needs ENABLE UTF8=ACCEPT (RFC 6855 section 4)"
    );
    for (line, why) in [
        (
            &b"a APPEND INBOX UTF8 ({1}\r\nx)"[..],
            "expected literal8 (~{n}) at '{'",
        ),
        (
            b"a APPEND INBOX UTF8 (~{1}\r\nx",
            "missing argument: expected ')'",
        ),
        (b"a APPEND INBOX UTF8 ~{1}\r\nx", "expected '(' at '~'"),
        (b"a APPEND INBOX UTF8(~{1}\r\nx)", "expected SP at '('"),
    ] {
        assert_eq!(refused_utf8(line, true), why, "{line:?}");
    }
}

/// RFC 9051 (Appendix E item 1): LARGER and SMALLER take number64; a partial
/// `number64 "." nz-number64`.
#[test]
fn number64_arguments() {
    match ok("a SEARCH LARGER 4294967296 SMALLER 9223372036854775807") {
        CommandBody::Search(q) => assert_eq!(
            q.criteria,
            SearchKey::And(vec![
                SearchKey::Larger(4_294_967_296),
                SearchKey::Smaller(9_223_372_036_854_775_807)
            ])
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        bad(b"a SEARCH LARGER 9223372036854775808").1,
        "number out of range"
    );
    match ok("a FETCH 1 BODY[]<4294967296.4294967296>") {
        CommandBody::Fetch { attributes, .. } => match &attributes[..] {
            [FetchAttribute::BodySection { partial, .. }] => {
                assert_eq!(
                    partial.map(|(o, l)| (o, l.get())),
                    Some((4_294_967_296, u32::MAX))
                )
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    assert_eq!(
        bad(b"a FETCH 1 BODY[]<0.0>").1,
        "partial length must not be 0"
    );
}
