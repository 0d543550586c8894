//! Issue 14 items 2 and 3, end to end: the login penalty survives reconnects and is kept
//! per address and account; pre-login time is an absolute deadline; pre-login
//! connections per address and sessions per account and address are limited.
//! The waits asserted are lower bounds (sleeps), never speeds.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Client, TestServer};
use mailroom_server::net::Protocol;
use mailroom_server::Config;
use std::time::{Duration, Instant};

fn penalty(c: &mut Config) {
    c.server.login_penalty_base_ms = 200;
    c.server.login_penalty_max_ms = 800;
}

async fn imap_login(s: &TestServer, from: &str, user: &str, pass: &str) -> String {
    let mut c = Client::connect_from(from, s.addr(Protocol::Imap)).await;
    c.expect("* OK {*}").await;
    c.send(&format!("a LOGIN {user} {pass}")).await;
    loop {
        let l = c.line().await;
        if l.starts_with("a ") {
            return l;
        }
    }
}

async fn pop3_login(s: &TestServer, from: &str, user: &str, pass: &str) -> String {
    let mut c = Client::connect_from(from, s.addr(Protocol::Pop3)).await;
    c.expect("+OK {*}").await;
    c.send(&format!("USER {user}")).await;
    c.expect("+OK send PASS").await;
    c.send(&format!("PASS {pass}")).await;
    c.line().await
}

fn ip(s: &str) -> Option<std::net::IpAddr> {
    Some(s.parse().unwrap())
}

#[tokio::test]
async fn login_penalty_survives_reconnects_per_address_and_account() {
    let s = TestServer::start_with(penalty).await;
    s.add_account("bob", "right");
    s.add_account("carol", "right");
    let limits = s.running().ctx.limits.clone();
    // Wrong passwords on fresh connections, IMAP and POP3 alike: each from the same
    // address waits for the one before (200, 400, 800, 800 ms before the checks).
    let t = Instant::now();
    for i in 0..4 {
        let r = if i % 2 == 0 {
            imap_login(&s, "127.0.0.1", "bob", "wrong").await
        } else {
            pop3_login(&s, "127.0.0.1", "bob", "wrong").await
        };
        assert!(
            r == "a NO [AUTHENTICATIONFAILED] invalid user name or password"
                || r == "-ERR [AUTH] authentication failed",
            "{r}"
        );
    }
    assert!(
        t.elapsed() >= Duration::from_millis(200 + 400 + 800),
        "no penalty across connections: {:?}",
        t.elapsed()
    );
    assert_eq!(limits.failures_total(), 4);
    // The address is penalised; another address is not, for any account.
    assert!(limits.before_attempt(ip("127.0.0.1")) > Duration::ZERO);
    assert_eq!(limits.before_attempt(ip("127.0.0.2")), Duration::ZERO);
    assert_eq!(
        limits.before_answer(ip("127.0.0.2"), "carol"),
        Duration::ZERO
    );
    // From elsewhere the user still logs in (after at most the capped account delay,
    // never refused), and from then on that address is exempt from the account's penalty.
    let ok = imap_login(&s, "127.0.0.2", "bob", "right").await;
    assert!(
        ok.starts_with("a OK [CAPABILITY ") && ok.ends_with("] logged in"),
        "{ok}"
    );
    assert_eq!(limits.before_answer(ip("127.0.0.2"), "bob"), Duration::ZERO);
    // A correct login from the penalised address clears its penalty.
    let ok = pop3_login(&s, "127.0.0.1", "bob", "right").await;
    assert!(ok.starts_with("+OK bob@localhost has 0 message(s)"), "{ok}");
    assert_eq!(limits.before_attempt(ip("127.0.0.1")), Duration::ZERO);
    s.stop().await;
}

#[tokio::test]
async fn apop_and_sasl_failures_are_penalised_too() {
    let s = TestServer::start_with(penalty).await;
    s.add_account("bob", "right");
    let limits = s.running().ctx.limits.clone();
    let mut c = Client::connect(s.addr(Protocol::Pop3)).await;
    c.expect("+OK POP3 mailroom ready <{*}>").await;
    c.send("APOP bob 00000000000000000000000000000000").await;
    c.expect("-ERR [AUTH] authentication failed").await;
    // AUTH PLAIN "\0bob\0wrong"
    c.send("AUTH PLAIN AGJvYgB3cm9uZw==").await;
    c.expect("-ERR [AUTH] authentication failed").await;
    let mut i = Client::connect(s.addr(Protocol::Imap)).await;
    i.expect("* OK {*}").await;
    i.send("a AUTHENTICATE PLAIN AGJvYgB3cm9uZw==").await;
    i.expect("a NO [AUTHENTICATIONFAILED] invalid user name or password")
        .await;
    assert_eq!(limits.failures_total(), 3);
    // Three failures from this address and to this account: 800 ms (the cap) ahead.
    assert!(limits.before_attempt(ip("127.0.0.1")) >= Duration::from_millis(400));
    assert_eq!(
        limits.before_answer(ip("127.0.0.3"), "bob@localhost"),
        Duration::from_millis(800)
    );
    s.stop().await;
}

type Lines = tokio::io::Lines<tokio::io::BufReader<tokio::net::tcp::OwnedReadHalf>>;

async fn next_line(l: &mut Lines) -> Option<String> {
    tokio::time::timeout(Duration::from_secs(10), l.next_line())
        .await
        .expect("still open: no login deadline")
        .unwrap()
}

#[tokio::test]
async fn a_dribbling_client_is_closed_at_the_login_deadline() {
    let s = TestServer::start_with(|c| {
        c.imap.login_timeout_secs = 2;
        c.pop3.login_timeout_secs = 2;
    })
    .await;
    for (proto, greeting, bye) in [
        (
            Protocol::Imap,
            "* OK {*}",
            "* BYE autologout; idle for too long",
        ),
        (
            Protocol::Pop3,
            "+OK {*}",
            "-ERR [SYS/TEMP] no login in time, closing connection",
        ),
    ] {
        let sock = tokio::net::TcpStream::connect(s.addr(proto)).await.unwrap();
        let (r, mut w) = sock.into_split();
        let t = Instant::now();
        // One byte every 300 ms: each would have restarted an idle timer.
        let dribbler = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            while w.write_all(b"x").await.is_ok() {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        });
        use tokio::io::AsyncBufReadExt;
        let mut lines = tokio::io::BufReader::new(r).lines();
        let g = next_line(&mut lines).await.unwrap();
        assert!(common::glob(greeting, &g), "{g}");
        assert_eq!(
            next_line(&mut lines).await.as_deref(),
            Some(bye),
            "{proto:?}"
        );
        assert_eq!(next_line(&mut lines).await, None, "{proto:?}: not closed");
        assert!(t.elapsed() >= Duration::from_secs(2), "{:?}", t.elapsed());
        dribbler.abort();
    }
    s.stop().await;
}

#[tokio::test]
async fn prelogin_connections_per_address_are_limited() {
    let s = TestServer::start_with(|c| c.server.max_prelogin_per_ip = 2).await;
    s.add_account("bob", "right");
    let mut a = Client::connect_from("127.0.0.1", s.addr(Protocol::Imap)).await;
    a.expect("* OK {*}").await;
    let mut b = Client::connect_from("127.0.0.1", s.addr(Protocol::Pop3)).await;
    b.expect("+OK {*}").await;
    // A third from the same address, either protocol: refused with the reason.
    let mut c = Client::connect_from("127.0.0.1", s.addr(Protocol::Imap)).await;
    c.expect(
        "* BYE [UNAVAILABLE] too many connections from your address before login, try again later",
    )
    .await;
    assert!(c.is_closed().await);
    let mut c = Client::connect_from("127.0.0.1", s.addr(Protocol::Pop3)).await;
    c.expect(
        "-ERR [SYS/TEMP] too many connections from your address before login, try again later",
    )
    .await;
    assert!(c.is_closed().await);
    // Another address is not affected.
    let mut d = Client::connect_from("127.0.0.2", s.addr(Protocol::Imap)).await;
    d.expect("* OK {*}").await;
    // A login frees the slot.
    a.send("a LOGIN bob right").await;
    a.expect("a OK {*}").await;
    let mut e = Client::connect_from("127.0.0.1", s.addr(Protocol::Imap)).await;
    e.expect("* OK {*}").await;
    drop(b);
    s.stop().await;
}

#[tokio::test]
async fn sessions_per_account_and_address_are_limited() {
    let s = TestServer::start_with(|c| c.server.max_userip_connections = 1).await;
    s.add_account("bob", "right");
    let mut a = s.connect(Protocol::Imap).await;
    a.expect("* OK {*}").await;
    a.send("a LOGIN bob right").await;
    a.expect("a OK {*}").await;
    let mut b = s.connect(Protocol::Imap).await;
    b.expect("* OK {*}").await;
    b.send("b LOGIN bob right").await;
    b.expect("b NO [LIMIT] too many connections for this user from your address")
        .await;
    // POP3 counts its own sessions; its second is refused the same way.
    let mut p = s.connect(Protocol::Pop3).await;
    p.expect("+OK {*}").await;
    p.send("USER bob").await;
    p.expect("+OK send PASS").await;
    p.send("PASS right").await;
    p.expect("+OK bob@localhost has 0 message(s) (0 octets)")
        .await;
    let mut q = s.connect(Protocol::Pop3).await;
    q.expect("+OK {*}").await;
    q.send("USER bob").await;
    q.expect("+OK send PASS").await;
    q.send("PASS right").await;
    q.expect("-ERR [IN-USE] too many connections for this user from your address")
        .await;
    // From another address, and once the first session ended, logins go through.
    let mut c = Client::connect_from("127.0.0.2", s.addr(Protocol::Imap)).await;
    c.expect("* OK {*}").await;
    c.send("c LOGIN bob right").await;
    c.expect("c OK {*}").await;
    a.send("a LOGOUT").await;
    a.expect("* BYE {*}").await;
    a.expect("a OK {*}").await;
    assert!(a.is_closed().await);
    b.send("b2 LOGIN bob right").await;
    b.expect("b2 OK {*}").await;
    s.stop().await;
}

#[tokio::test]
async fn a_penalty_longer_than_the_login_deadline_ends_at_the_deadline() {
    let s = TestServer::start_with(|c| {
        c.server.login_penalty_base_ms = 5000;
        c.server.login_penalty_max_ms = 5000;
        c.imap.login_timeout_secs = 1;
        c.pop3.login_timeout_secs = 1;
    })
    .await;
    s.add_account("bob", "right");
    let r = imap_login(&s, "127.0.0.1", "bob", "wrong").await;
    assert_eq!(
        r,
        "a NO [AUTHENTICATIONFAILED] invalid user name or password"
    );
    // The next attempt would wait 5 s: the connection is closed at its 1 s deadline
    // instead, without an answer to the LOGIN.
    let mut c = s.connect(Protocol::Imap).await;
    c.expect("* OK {*}").await;
    c.send("b LOGIN bob right").await;
    c.expect("* BYE autologout; idle for too long").await;
    assert!(c.is_closed().await);
    let mut p = s.connect(Protocol::Pop3).await;
    p.expect("+OK {*}").await;
    p.send("USER bob").await;
    p.expect("+OK send PASS").await;
    p.send("PASS right").await;
    p.expect("-ERR [SYS/TEMP] no login in time, closing connection")
        .await;
    assert!(p.is_closed().await);
    s.stop().await;
}
