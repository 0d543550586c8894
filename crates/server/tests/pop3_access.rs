//! The POP3 column of the access matrix (P8, I4, A4; RFC 4314 rights over POP3): who may
//! open `~boss/INBOX#who` (or `INBOX#boss` for the owner), and what STAT/LIST/UIDL, RETR
//! (with or without `\Seen`, checked in the store) and DELE + QUIT (whether the message is
//! gone, checked in the store) answer for each identity: the owner, a granted reader
//! (`lr`), a reader with seen (`lrs`), a deleter (`lrte`), half deleters (`lrt`, `lre`),
//! a user covered by `anyone`, a stranger and an administrator. A stranger's answer for
//! an existing invisible mailbox is the answer for a missing one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{hmac_md5, hmac_sha256, Client, TestServer};
use mailroom_server::access::{POP3_NO_PERMISSION, POP3_NO_SUCH_MAILBOX};
use mailroom_server::net::Protocol;
use mailroom_store::Flags;

/// Who logs in, and how the ACL of boss's INBOX is set up for it.
#[derive(Clone, Copy, Debug)]
enum Who {
    /// boss itself, `INBOX#boss`.
    Owner,
    /// `who` with this entry on boss's INBOX.
    Granted(&'static str),
    /// `who` with no entry, `anyone` with these rights.
    Anyone(&'static str),
    /// `who` with no rights at all.
    Stranger,
    /// `who` is an administrator with no entry.
    Admin,
}

const M1: &[u8] = b"Subject: one\r\n\r\nfirst\r\n";
const M2: &[u8] = b"Subject: two\r\n\r\nsecond\r\n";

async fn setup(who: Who) -> TestServer {
    let server = TestServer::start().await;
    server.add_account("boss", "bosspw");
    server.add_account("who", "whopw");
    server.append("boss", M1).await;
    server.append("boss", M2).await;
    match who {
        Who::Owner | Who::Stranger => {}
        Who::Granted(r) => server.set_acl("boss", "INBOX", "who", r).await,
        Who::Anyone(r) => server.set_acl("boss", "INBOX", "anyone", r).await,
        Who::Admin => server.directory().set_admin("who", true).unwrap(),
    }
    server
}

async fn login(c: &mut Client, user: &str, pass: &str) -> String {
    c.expect("+OK POP3 mailroom ready{*}").await;
    c.send(&format!("USER {user}")).await;
    c.expect("+OK send PASS").await;
    c.send(&format!("PASS {pass}")).await;
    c.line().await
}

fn user_of(who: Who) -> (&'static str, &'static str) {
    match who {
        Who::Owner => ("INBOX#boss", "bosspw"),
        _ => ("~boss/INBOX#who", "whopw"),
    }
}

/// What one identity observed.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    login: String,
    /// RETR 1 set `\Seen` (store).
    seen: bool,
    dele: String,
    quit: String,
    /// Message 2 was removed (store).
    gone: bool,
}

async fn run(who: Who) -> Seen {
    let server = setup(who).await;
    let (user, pass) = user_of(who);
    let mut c = server.connect(Protocol::Pop3).await;
    let l = login(&mut c, user, pass).await;
    if !l.starts_with("+OK") {
        server.stop().await;
        return Seen {
            login: l,
            seen: false,
            dele: String::new(),
            quit: String::new(),
            gone: false,
        };
    }
    let size1 = M1.len();
    let size2 = M2.len();
    c.send("STAT").await;
    c.expect(&format!("+OK 2 {}", size1 + size2)).await;
    c.send("LIST").await;
    c.expect(&format!("+OK 2 messages ({} octets)", size1 + size2))
        .await;
    c.expect(&format!("1 {size1}")).await;
    c.expect(&format!("2 {size2}")).await;
    c.expect(".").await;
    c.send("UIDL").await;
    c.expect("+OK unique-id listing follows").await;
    c.expect("1 {*}00000001").await;
    c.expect("2 {*}00000002").await;
    c.expect(".").await;
    c.send("RETR 1").await;
    c.expect(&format!("+OK {size1} octets")).await;
    c.expect("Subject: one").await;
    c.expect("").await;
    c.expect("first").await;
    c.expect(".").await;
    c.send("DELE 2").await;
    let dele = c.line().await;
    c.send("QUIT").await;
    let quit = c.line().await;
    assert!(c.is_closed().await);
    let msgs = server.messages_of("boss", "INBOX").await;
    let seen = msgs
        .iter()
        .find(|m| m.uid == 1)
        .expect("message 1 is never deleted")
        .flags
        .contains(Flags::SEEN);
    let gone = !msgs.iter().any(|m| m.uid == 2);
    server.stop().await;
    Seen {
        login: l,
        seen,
        dele,
        quit,
        gone,
    }
}

const IN: &str = "has 2 message(s) (47 octets) in ~boss/INBOX";

fn ok_login(addr: &str, tail: &str) -> String {
    format!("+OK {addr} {tail}")
}

fn opened(login: String, seen: bool, may_delete: bool) -> Seen {
    Seen {
        login,
        seen,
        dele: if may_delete {
            "+OK message 2 deleted".into()
        } else {
            POP3_NO_PERMISSION.into()
        },
        quit: format!(
            "+OK mailroom POP3 server signing off ({} message(s) left)",
            if may_delete { 1 } else { 2 }
        ),
        gone: may_delete,
    }
}

fn refused() -> Seen {
    Seen {
        login: POP3_NO_SUCH_MAILBOX.into(),
        seen: false,
        dele: String::new(),
        quit: String::new(),
        gone: false,
    }
}

#[test]
fn sizes_in_the_expected_login_line() {
    assert_eq!(M1.len() + M2.len(), 47);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_reads_marks_seen_and_deletes() {
    let got = run(Who::Owner).await;
    let want = opened(
        ok_login("boss@localhost", "has 2 message(s) (47 octets) in INBOX"),
        true,
        true,
    );
    assert_eq!(got, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reader_lr_reads_without_seen_and_cannot_delete() {
    let got = run(Who::Granted("lr")).await;
    assert_eq!(got, opened(ok_login("who@localhost", IN), false, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reader_with_seen_lrs_marks_seen_and_cannot_delete() {
    let got = run(Who::Granted("lrs")).await;
    assert_eq!(got, opened(ok_login("who@localhost", IN), true, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleter_lrte_deletes_without_seen() {
    let got = run(Who::Granted("lrte")).await;
    assert_eq!(got, opened(ok_login("who@localhost", IN), false, true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_deleters_lrt_and_lre_cannot_delete() {
    for r in ["lrt", "lre"] {
        let got = run(Who::Granted(r)).await;
        assert_eq!(
            got,
            opened(ok_login("who@localhost", IN), false, false),
            "{r}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_without_lookup_r_is_enough_to_open() {
    let got = run(Who::Granted("r")).await;
    assert_eq!(got, opened(ok_login("who@localhost", IN), false, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anyone_lr_covers_every_account() {
    let got = run(Who::Anyone("lr")).await;
    assert_eq!(got, opened(ok_login("who@localhost", IN), false, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_only_l_is_refused_like_a_missing_mailbox() {
    assert_eq!(run(Who::Granted("l")).await, refused());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stranger_is_refused_like_a_missing_mailbox() {
    assert_eq!(run(Who::Stranger).await, refused());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrator_without_a_grant_cannot_read() {
    // An administrator sees every mailbox (`l a`) but must grant itself `r` to read.
    assert_eq!(run(Who::Admin).await, refused());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negative_entry_removes_anyone_rights() {
    let server = setup(Who::Anyone("lr")).await;
    server.set_acl("boss", "INBOX", "-who", "r").await;
    let mut c = server.connect(Protocol::Pop3).await;
    assert_eq!(
        login(&mut c, "~boss/INBOX#who", "whopw").await,
        POP3_NO_SUCH_MAILBOX
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stranger_cannot_tell_invisible_from_missing() {
    let server = setup(Who::Stranger).await;
    server.create_mailbox("boss", "secret").await;
    let mut answers = Vec::new();
    for user in [
        "~boss/INBOX#who",
        "~boss/secret#who",
        "~boss/missing#who",
        "~ghost/INBOX#who",
    ] {
        let mut c = server.connect(Protocol::Pop3).await;
        answers.push(login(&mut c, user, "whopw").await);
    }
    assert!(
        answers.iter().all(|a| a == POP3_NO_SUCH_MAILBOX),
        "{answers:?}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_right_revoked_before_quit_deletes_nothing() {
    let server = setup(Who::Granted("lrte")).await;
    let mut c = server.connect(Protocol::Pop3).await;
    let l = login(&mut c, "~boss/INBOX#who", "whopw").await;
    assert_eq!(l, ok_login("who@localhost", IN));
    c.send("DELE 1").await;
    c.expect("+OK message 1 deleted").await;
    // The owner takes the right away during the session (as SETACL over IMAP would).
    server.set_acl("boss", "INBOX", "who", "lr").await;
    c.send("QUIT").await;
    c.expect(POP3_NO_PERMISSION).await;
    assert!(c.is_closed().await);
    assert_eq!(server.messages_of("boss", "INBOX").await.len(), 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grantee_deletions_are_seen_by_the_owner() {
    let server = setup(Who::Granted("lrte")).await;
    let mut c = server.connect(Protocol::Pop3).await;
    login(&mut c, "~boss/INBOX#who", "whopw").await;
    c.send("DELE 1").await;
    c.expect("+OK message 1 deleted").await;
    c.send("QUIT").await;
    c.expect("+OK {*}(1 message(s) left)").await;
    let mut o = server.connect(Protocol::Pop3).await;
    assert_eq!(
        login(&mut o, "boss", "bosspw").await,
        format!("+OK boss@localhost has 1 message(s) ({} octets)", M2.len())
    );
    o.send("QUIT").await;
    o.expect("+OK {*}").await;
    server.stop().await;
}

// ---- `mailbox#account` through APOP and the challenge-response SASL mechanisms -------

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use md5::Digest;

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// alice with a mail secret, a mailbox `private` holding one message.
async fn alice_private() -> TestServer {
    let server = TestServer::start().await;
    server.add_account("alice", "secret1");
    server
        .directory()
        .set_mail_secret("alice", Some(&mailroom_directory::Secret::from("tanstaaf")))
        .unwrap();
    server.create_mailbox("alice", "private").await;
    server.append_to("alice", "private", M1).await;
    server
}

const ALICE_PRIVATE: &str = "+OK alice@localhost has 1 message(s) (23 octets) in private";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apop_with_mailbox_name() {
    let server = alice_private().await;
    let mut c = server.connect(Protocol::Pop3).await;
    let g = c.expect("+OK POP3 mailroom ready <{*}>").await;
    let ts = &g[g.find('<').unwrap()..];
    let d = hex(&md5::Md5::digest(format!("{ts}tanstaaf").as_bytes()));
    c.send(&format!("APOP #alice {d}")).await;
    c.expect("-ERR bad user name: invalid mailbox#account user name")
        .await;
    c.send(&format!("APOP ~boss/INBOX#alice {d}")).await;
    c.expect(POP3_NO_SUCH_MAILBOX).await;
    c.send(&format!("APOP private#alice {d}")).await;
    c.expect(ALICE_PRIVATE).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cram_md5_with_mailbox_name() {
    let server = alice_private().await;
    let mut c = server.connect(Protocol::Pop3).await;
    c.expect("+OK{*}").await;
    c.send("AUTH CRAM-MD5").await;
    let l = c.expect("+ {*}").await;
    let challenge = B64.decode(&l[2..]).unwrap();
    let d = hex(&hmac_md5(b"tanstaaf", &challenge));
    c.send(&B64.encode(format!("private#alice {d}"))).await;
    c.expect(ALICE_PRIVATE).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_sha256_with_mailbox_name() {
    let server = alice_private().await;
    let mut c = server.connect(Protocol::Pop3).await;
    c.expect("+OK{*}").await;
    let cnonce = "rOprNGfwEbeRWgbNEkqO";
    let first_bare = format!("n=private#alice,r={cnonce}");
    c.send(&format!(
        "AUTH SCRAM-SHA-256 {}",
        B64.encode(format!("n,,{first_bare}"))
    ))
    .await;
    let l = c.expect("+ {*}").await;
    let server_first = String::from_utf8(B64.decode(&l[2..]).unwrap()).unwrap();
    let (mut nonce, mut salt, mut iters) = ("", Vec::new(), 0u32);
    for f in server_first.split(',') {
        if let Some(v) = f.strip_prefix("r=") {
            nonce = v;
        } else if let Some(v) = f.strip_prefix("s=") {
            salt = B64.decode(v).unwrap();
        } else if let Some(v) = f.strip_prefix("i=") {
            iters = v.parse().unwrap();
        }
    }
    let salted = mailroom_directory::ScramKeys::salted_password(b"secret1", &salt, iters);
    let client_key = hmac_sha256(&salted, b"Client Key");
    let stored_key = sha2::Sha256::digest(&client_key);
    let without_proof = format!("c=biws,r={nonce}");
    let auth_message = format!("{first_bare},{server_first},{without_proof}");
    let sig = hmac_sha256(&stored_key, auth_message.as_bytes());
    let proof: Vec<u8> = client_key.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
    c.send(&B64.encode(format!("{without_proof},p={}", B64.encode(&proof))))
        .await;
    c.expect("+ {*}").await;
    c.send("").await;
    c.expect(ALICE_PRIVATE).await;
    server.stop().await;
}
