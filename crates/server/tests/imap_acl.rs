//! The IMAP access matrix (RFC 4314 section 4, issue 6): each identity (owner, granted
//! reader `lr`, granted writer `lrswite`, `anyone` with `l`, a stranger, an
//! administrator) against SELECT, EXAMINE, STATUS, LIST, FETCH (and its `\Seen` side
//! effect), STORE of each flag kind, COPY out of and into, APPEND and EXPUNGE: the exact
//! tagged answer, and the store checked directly where a command was refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use common::{Client, TestServer};
use mailroom_server::net::Protocol;
use mailroom_store::{AppendRequest, Flags, MessageData};

const MSG: &[u8] = b"From: a@example.org\r\nSubject: hello\r\n\r\nbody\r\n";

/// alice owns `Box` (3 messages) and `Hidden` (1 message); bob reads (`lr`) and carol
/// writes (`lrswite`) Box, `anyone` may list it (`l`, so dave has just that); bob may
/// also read Hidden, which nobody else can see; root is an administrator.
async fn setup() -> TestServer {
    let server = TestServer::start().await;
    for a in ["alice", "bob", "carol", "dave", "erin", "root"] {
        server.add_account(a, "pw");
    }
    server.directory().set_admin("root", true).unwrap();
    let acc = server.store_of("alice").await;
    for (name, n) in [("Box", 3), ("Hidden", 1)] {
        let mb = acc.create_mailbox(name, None).await.unwrap();
        for _ in 0..n {
            acc.append(
                mb.id,
                AppendRequest {
                    prefix: Vec::new(),
                    data: MessageData::Bytes(bytes::Bytes::from_static(MSG)),
                    flags: Flags::EMPTY,
                    keywords: Vec::new(),
                    internal_date: None,
                },
            )
            .await
            .unwrap();
        }
    }
    server.set_acl("alice", "Box", "bob@localhost", "lr").await;
    server
        .set_acl("alice", "Box", "carol@localhost", "lrswite")
        .await;
    server.set_acl("alice", "Box", "anyone", "l").await;
    server
        .set_acl("alice", "Hidden", "bob@localhost", "lr")
        .await;
    for a in ["dave", "erin", "root"] {
        server.append(a, MSG).await;
    }
    server
}

async fn login(server: &TestServer, user: &str) -> Client {
    let mut c = server.connect(Protocol::Imap).await;
    Box::pin(c.expect("* OK [CAPABILITY IMAP4rev1 {*}] mailroom ready")).await;
    c.send(&format!("L LOGIN {user} pw")).await;
    Box::pin(c.expect("L OK [CAPABILITY {*}] logged in")).await;
    c
}

/// Sends `T line` and returns every response line, the tagged one last without its tag.
async fn run(c: &mut Client, line: &str) -> (Vec<String>, String) {
    c.send(&format!("T {line}")).await;
    let mut v = Vec::new();
    loop {
        let l = Box::pin(c.line()).await;
        if let Some(t) = l.strip_prefix("T ") {
            return (v, t.to_string());
        }
        v.push(l);
    }
}

async fn tagged(c: &mut Client, line: &str) -> String {
    run(c, line).await.1
}

/// Appends with a synchronising literal; the answer (a refusal comes before `+`).
async fn append(c: &mut Client, mailbox: &str) -> String {
    c.send(&format!("T APPEND {mailbox} {{5}}")).await;
    let l = Box::pin(c.line()).await;
    if let Some(t) = l.strip_prefix("T ") {
        return t.to_string();
    }
    assert!(l.starts_with('+'), "{l}");
    c.send("hello").await;
    loop {
        let l = Box::pin(c.line()).await;
        if let Some(t) = l.strip_prefix("T ") {
            return t.to_string();
        }
    }
}

/// (messages, how many `\Seen`, how many `\Deleted`, how many `\Flagged`) of alice's box.
async fn state(server: &TestServer, mailbox: &str) -> (usize, usize, usize, usize) {
    let acc = server.store_of("alice").await;
    let mb = acc.mailbox(mailbox).await.unwrap();
    let snap = acc.messages(mb.id).await.unwrap();
    let count = |f: Flags| snap.messages.iter().filter(|m| m.flags.contains(f)).count();
    (
        snap.messages.len(),
        count(Flags::SEEN),
        count(Flags::DELETED),
        count(Flags::FLAGGED),
    )
}

fn name_for(user: &str) -> &'static str {
    if user == "alice" {
        "Box"
    } else {
        "~alice/Box"
    }
}

const NOPERM: &str = "NO [NOPERM] permission denied";
const NONEXISTENT: &str = "NO [NONEXISTENT] no such mailbox";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_status_and_list_per_identity() {
    tokio::spawn(async move {
        let server = setup().await;
        // (user, SELECT/EXAMINE/STATUS answer prefix, listed under ~alice)
        let rows: [(&str, &str, bool); 5] = [
            ("alice", "OK", false),
            ("bob", "OK", true),
            ("carol", "OK", true),
            ("dave", NOPERM, true),
            ("root", NOPERM, true),
        ];
        for (user, want, listed) in rows {
            let mut c = login(&server, user).await;
            let name = name_for(user);
            let sel = tagged(&mut c, &format!("SELECT {name}")).await;
            let exa = tagged(&mut c, &format!("EXAMINE {name}")).await;
            let (st_lines, st) = run(&mut c, &format!("STATUS {name} (MESSAGES)")).await;
            if want == "OK" {
                assert_eq!(sel, "OK [READ-WRITE] SELECT completed", "{user}");
                assert_eq!(exa, "OK [READ-ONLY] EXAMINE completed", "{user}");
                assert_eq!(st, "OK STATUS completed", "{user}");
                assert_eq!(st_lines, vec![format!("* STATUS \"{name}\" (MESSAGES 3)")]);
            } else {
                assert_eq!(
                    (sel.as_str(), exa.as_str(), st.as_str()),
                    (want, want, want)
                );
                assert!(st_lines.is_empty(), "{user}: {st_lines:?}");
            }
            let (lines, t) = run(&mut c, "LIST \"\" \"~alice/*\"").await;
            assert_eq!(t, "OK LIST completed");
            let has_box = lines.iter().any(|l| l.ends_with("\"~alice/Box\""));
            assert_eq!(has_box, listed, "{user}: {lines:?}");
            let has_hidden = lines.iter().any(|l| l.ends_with("\"~alice/Hidden\""));
            assert_eq!(
                has_hidden,
                user == "bob" || user == "root",
                "{user}: {lines:?}"
            );
            let (lines, _) = run(&mut c, &format!("MYRIGHTS {name}")).await;
            let want_rights = match user {
                "alice" => "lrswipkxteacd",
                "bob" => "lr",
                "carol" => "lrswited",
                "dave" => "l",
                _ => "la",
            };
            assert_eq!(lines, vec![format!("* MYRIGHTS \"{name}\" {want_rights}")]);
        }
        assert_eq!(state(&server, "Box").await, (3, 0, 0, 0));
        server.stop().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanentflags_follow_the_rights() {
    tokio::spawn(async move {
        let server = setup().await;
        for (user, want) in [
            (
                "alice",
                "(\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)",
            ),
            ("bob", "()"),
            (
                "carol",
                "(\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)",
            ),
        ] {
            let mut c = login(&server, user).await;
            let (lines, t) = run(&mut c, &format!("SELECT {}", name_for(user))).await;
            assert_eq!(t, "OK [READ-WRITE] SELECT completed");
            let perm = format!("* OK [PERMANENTFLAGS {want}] flags permitted");
            assert!(lines.contains(&perm), "{user}: {lines:?}");
        }
        server.stop().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reader_fetches_without_seen_and_cannot_change_anything() {
    tokio::spawn(async move {
        let server = setup().await;
        let mut c = login(&server, "bob").await;
        assert_eq!(
            tagged(&mut c, "SELECT ~alice/Box").await,
            "OK [READ-WRITE] SELECT completed"
        );
        let (lines, t) = run(&mut c, "FETCH 1 BODY[TEXT]").await;
        assert_eq!(t, "OK FETCH completed");
        assert!(!lines.iter().any(|l| l.contains("\\Seen")), "{lines:?}");
        assert_eq!(state(&server, "Box").await, (3, 0, 0, 0));
        for flags in [
            "\\Seen",
            "\\Deleted",
            "\\Flagged",
            "$Work",
            "\\Seen \\Deleted",
        ] {
            let t = tagged(&mut c, &format!("STORE 1 +FLAGS ({flags})")).await;
            assert_eq!(t, NOPERM, "{flags}");
        }
        assert_eq!(tagged(&mut c, "STORE 1 FLAGS ()").await, NOPERM);
        assert_eq!(state(&server, "Box").await, (3, 0, 0, 0));
        // COPY out of a readable mailbox into one's own INBOX works...
        let t = tagged(&mut c, "COPY 1:2 INBOX").await;
        assert!(t.starts_with("OK [COPYUID "), "{t}");
        // ...but not into it (no `i`), nor MOVE out of it (no `t`/`e`).
        let t = tagged(&mut c, "COPY 1 ~alice/Box").await;
        assert_eq!(t, NOPERM);
        assert_eq!(tagged(&mut c, "MOVE 1 INBOX").await, NOPERM);
        assert_eq!(append(&mut c, "~alice/Box").await, NOPERM);
        assert_eq!(
            tagged(&mut c, "EXPUNGE").await,
            "OK EXPUNGE completed (no expunge right: nothing removed)"
        );
        assert_eq!(tagged(&mut c, "CLOSE").await, "OK CLOSE completed");
        assert_eq!(state(&server, "Box").await, (3, 0, 0, 0));
        let (lines, _) = run(&mut c, "STATUS INBOX (MESSAGES)").await;
        assert_eq!(lines, vec!["* STATUS \"INBOX\" (MESSAGES 2)".to_string()]);
        server.stop().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_sets_each_flag_kind_appends_copies_and_expunges() {
    tokio::spawn(async move {
        let server = setup().await;
        let mut c = login(&server, "carol").await;
        assert_eq!(
            tagged(&mut c, "SELECT ~alice/Box").await,
            "OK [READ-WRITE] SELECT completed"
        );
        let (lines, t) = run(&mut c, "FETCH 1 BODY[TEXT]").await;
        assert_eq!(t, "OK FETCH completed");
        assert!(lines.iter().any(|l| l.contains("\\Seen")), "{lines:?}");
        assert_eq!(state(&server, "Box").await, (3, 1, 0, 0));
        assert_eq!(
            tagged(&mut c, "STORE 2 +FLAGS (\\Seen)").await,
            "OK STORE completed"
        );
        assert_eq!(
            tagged(&mut c, "STORE 2 +FLAGS (\\Flagged)").await,
            "OK STORE completed"
        );
        assert_eq!(
            tagged(&mut c, "STORE 3 +FLAGS (\\Deleted)").await,
            "OK STORE completed"
        );
        assert_eq!(state(&server, "Box").await, (3, 2, 1, 1));
        let t = tagged(&mut c, "COPY 1 INBOX").await;
        assert!(t.starts_with("OK [COPYUID "), "{t}");
        let t = append(&mut c, "~alice/Box").await;
        assert!(t.starts_with("OK [APPENDUID "), "{t}");
        assert_eq!(state(&server, "Box").await, (4, 2, 1, 1));
        assert_eq!(tagged(&mut c, "EXPUNGE").await, "OK EXPUNGE completed");
        assert_eq!(state(&server, "Box").await, (3, 2, 0, 1));
        // No `k`, `x` or `a`: the mailbox itself stays as it is.
        assert_eq!(tagged(&mut c, "DELETE ~alice/Box").await, NOPERM);
        assert_eq!(tagged(&mut c, "CREATE ~alice/Box/sub").await, NOPERM);
        assert_eq!(tagged(&mut c, "GETACL ~alice/Box").await, NOPERM);
        assert_eq!(tagged(&mut c, "SETACL ~alice/Box carol a").await, NOPERM);
        server.stop().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_only_and_admin_are_refused_but_the_admin_manages_the_acl() {
    tokio::spawn(async move {
        let server = setup().await;
        for user in ["dave", "root"] {
            let mut c = login(&server, user).await;
            assert_eq!(append(&mut c, "~alice/Box").await, NOPERM, "{user}");
            assert_eq!(
                tagged(&mut c, "SELECT INBOX").await,
                "OK [READ-WRITE] SELECT completed"
            );
            assert_eq!(
                tagged(&mut c, "COPY 1:* ~alice/Box").await,
                NOPERM,
                "{user}"
            );
            assert_eq!(
                tagged(&mut c, "MOVE 1:* ~alice/Box").await,
                NOPERM,
                "{user}"
            );
        }
        assert_eq!(state(&server, "Box").await, (3, 0, 0, 0));
        // The administrator (implicit `l a`) reads and changes the ACL.
        let mut c = login(&server, "root").await;
        let (lines, t) = run(&mut c, "GETACL ~alice/Box").await;
        assert_eq!(t, "OK GETACL completed");
        assert_eq!(
            lines,
            vec![
                "* ACL \"~alice/Box\" alice lrswipkxteacd anyone l bob lr carol lrswited"
                    .to_string()
            ]
        );
        assert_eq!(
            tagged(&mut c, "SETACL ~alice/Box root@localhost +r").await,
            "OK SETACL completed"
        );
        assert_eq!(
            tagged(&mut c, "EXAMINE ~alice/Box").await,
            "OK [READ-ONLY] EXAMINE completed"
        );
        server.stop().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_cannot_tell_invisible_from_missing() {
    tokio::spawn(async move {
        let server = setup().await;
        let mut c = login(&server, "erin").await;
        let (_, t) = run(&mut c, "SELECT INBOX").await;
        assert_eq!(t, "OK [READ-WRITE] SELECT completed");
        let mut answers: Vec<Vec<String>> = Vec::new();
        for name in ["~alice/Hidden", "~alice/Nope", "~nobody/Hidden"] {
            let mut v = Vec::new();
            for cmd in [
                "EXAMINE {}",
                "STATUS {} (MESSAGES)",
                "MYRIGHTS {}",
                "GETACL {}",
                "SETACL {} erin lr",
                "DELETEACL {} erin",
                "LISTRIGHTS {} erin",
                "GETQUOTAROOT {}",
                "DELETE {}",
                "RENAME {} ~alice/Other",
                "SUBSCRIBE {}",
                "SELECT {}",
            ] {
                let (lines, t) = run(&mut c, &cmd.replace("{}", name)).await;
                // The first EXAMINE closes INBOX (RFC 7162 3.2.11), whatever the name.
                let expected: &[&str] = if cmd == "EXAMINE {}" {
                    &["* OK [CLOSED] previous mailbox closed"]
                } else {
                    &[]
                };
                assert_eq!(lines, expected, "{cmd} {name}");
                v.push(t);
            }
            v.push(append(&mut c, name).await);
            let (_, t) = run(&mut c, "SELECT INBOX").await;
            assert_eq!(t, "OK [READ-WRITE] SELECT completed");
            v.push(tagged(&mut c, &format!("COPY 1:* {name}")).await);
            v.push(tagged(&mut c, &format!("MOVE 1:* {name}")).await);
            answers.push(v);
        }
        assert_eq!(answers[0], answers[1]);
        assert_eq!(answers[0], answers[2]);
        assert!(
            answers[0].iter().all(|a| a == NONEXISTENT),
            "{:?}",
            answers[0]
        );
        let (lines, _) = run(&mut c, "LIST \"\" \"~*\"").await;
        assert!(!lines.iter().any(|l| l.contains("Hidden")), "{lines:?}");
        assert_eq!(state(&server, "Hidden").await, (1, 0, 0, 0));
        server.stop().await;
    })
    .await
    .unwrap();
}
