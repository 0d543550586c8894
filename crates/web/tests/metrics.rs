//! The statistics scrape test (issue 17, I9): a real server in-process with the web
//! admin on HTTPS; real IMAP, POP3 and LMTP traffic; `/metrics` scraped over TLS and
//! parsed as the Prometheus text format, its counters compared before and after.
//!
//! Alone in its test binary: the recorder is process-wide, and other tests' traffic
//! would move the same counters.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use mailroom_server::net::Protocol;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn counters_move_with_real_traffic() {
    let w = start().await;
    let before = scrape(w.admin).await;
    let imap_addr = addr_of(&w, Protocol::Imap);

    // IMAP: a failed and a good login, commands with OK, NO and BAD, an APPEND.
    let mut c = Client::connect(imap_addr).await;
    assert!(c.line().await.starts_with("* OK"));
    let r = c.imap("a1", "LOGIN bob wrong").await;
    assert!(r.last().unwrap().starts_with("a1 NO"), "{r:?}");
    let r = c.imap("a2", "LOGIN bob pw").await;
    assert!(r.last().unwrap().starts_with("a2 OK"), "{r:?}");
    assert!(c
        .imap("a3", "SELECT INBOX")
        .await
        .last()
        .unwrap()
        .starts_with("a3 OK"));
    assert!(c
        .imap("a4", "SELECT Nowhere")
        .await
        .last()
        .unwrap()
        .starts_with("a4 NO"));
    assert!(c
        .imap("a5", "FETCH x")
        .await
        .last()
        .unwrap()
        .starts_with("a5 BAD"));
    c.send("a6 APPEND INBOX {20+}").await;
    c.w.write_all(b"Subject: hi\r\n\r\nbody\r\n").await.unwrap();
    c.send("").await;
    loop {
        let l = c.line().await;
        assert!(!l.is_empty());
        if l.starts_with("a6 ") {
            assert!(l.starts_with("a6 OK"), "{l}");
            break;
        }
    }
    // While this connection is open, the gauge counts it.
    let during = scrape(w.admin).await;
    assert!(sum(&during, "mailroom_connections_open", &[("module", "imap")]) >= 1.0);
    assert!(c
        .imap("a7", "LOGOUT")
        .await
        .last()
        .unwrap()
        .starts_with("a7 OK"));

    // LMTP: one delivery, one unknown recipient.
    let mut l = Client::connect(addr_of(&w, Protocol::Lmtp)).await;
    assert!(l.line().await.starts_with("220"));
    l.send("LHLO test").await;
    while !l.line().await.starts_with("250 ") {}
    l.send("MAIL FROM:<a@example.com>").await;
    assert!(l.line().await.starts_with("250"));
    l.send("RCPT TO:<bob@localhost>").await;
    assert!(l.line().await.starts_with("250"));
    l.send("RCPT TO:<nobody@localhost>").await;
    assert!(l.line().await.starts_with("550"));
    l.send("DATA").await;
    assert!(l.line().await.starts_with("354"));
    l.send("Subject: lmtp\r\n\r\nhello\r\n.").await;
    assert!(l.line().await.starts_with("250"));
    l.send("QUIT").await;
    assert!(l.line().await.starts_with("221"));

    // POP3: USER/PASS, STAT, an unknown command.
    let mut p = Client::connect(addr_of(&w, Protocol::Pop3)).await;
    assert!(p.line().await.starts_with("+OK"));
    p.send("USER bob").await;
    assert!(p.line().await.starts_with("+OK"));
    p.send("PASS pw").await;
    assert!(p.line().await.starts_with("+OK"));
    p.send("STAT").await;
    assert!(p.line().await.starts_with("+OK 2 "));
    p.send("DELE 99").await;
    assert!(p.line().await.starts_with("-ERR"));
    p.send("QUIT").await;
    assert!(p.line().await.starts_with("+OK"));

    // IMAPS: one TLS handshake.
    let imaps = w
        .running
        .listeners
        .iter()
        .find(|(p, tls, _)| *p == Protocol::Imap && *tls)
        .unwrap()
        .2;
    let mut t = tls_connect(imaps).await;
    let mut greeting = [0u8; 4];
    t.read_exact(&mut greeting).await.unwrap();
    assert_eq!(&greeting, b"* OK");
    drop(t);

    // The channel limit, lowered live to one: with one connection open, the next is
    // refused with the protocol's refusal line.
    // (The POP3 session above said goodbye; its slot is freed when its task ends.)
    let pop3 = w.running.ctx.settings.channels(Protocol::Pop3).clone();
    while pop3.open() > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    w.running
        .ctx
        .settings
        .set_max_channels(Protocol::Pop3, 1)
        .unwrap();
    let mut p1 = Client::connect(addr_of(&w, Protocol::Pop3)).await;
    assert!(p1.line().await.starts_with("+OK"));
    let mut p2 = Client::connect(addr_of(&w, Protocol::Pop3)).await;
    assert_eq!(
        p2.line().await,
        "-ERR [SYS/TEMP] too many POP3 connections, try again later\r\n"
    );
    p1.send("QUIT").await;
    assert!(p1.line().await.starts_with("+OK"));

    let after = scrape(w.admin).await;
    let delta = |name: &str, labels: &[(&str, &str)]| {
        sum(&after, name, labels) - sum(&before, name, labels)
    };

    // IMAP: the plain session and the IMAPS one; POP3: the session, the one held open
    // at the limit and the refused one (counted as refused, not accepted).
    assert_eq!(
        delta("mailroom_connections_total", &[("module", "imap")]),
        2.0
    );
    assert_eq!(
        delta("mailroom_connections_total", &[("module", "lmtp")]),
        1.0
    );
    assert_eq!(
        delta("mailroom_connections_total", &[("module", "pop3")]),
        2.0
    );
    assert_eq!(
        delta("mailroom_connections_refused_total", &[("module", "pop3")]),
        1.0
    );
    assert_eq!(
        delta(
            "mailroom_tls_handshakes_total",
            &[("module", "imap"), ("result", "ok")]
        ),
        1.0
    );
    let login = |m: &str, mech: &str, r: &str| {
        delta(
            "mailroom_logins_total",
            &[("module", m), ("mechanism", mech), ("result", r)],
        )
    };
    assert_eq!(login("imap", "LOGIN", "failed"), 1.0);
    assert_eq!(login("imap", "LOGIN", "ok"), 1.0);
    assert_eq!(login("pop3", "USER", "ok"), 1.0);
    let cmd = |m: &str, c: &str, r: &str| {
        delta(
            "mailroom_commands_total",
            &[("module", m), ("command", c), ("result", r)],
        )
    };
    assert_eq!(cmd("imap", "LOGIN", "NO"), 1.0);
    assert_eq!(cmd("imap", "LOGIN", "OK"), 1.0);
    assert_eq!(cmd("imap", "SELECT", "OK"), 1.0);
    assert_eq!(cmd("imap", "SELECT", "NO"), 1.0);
    assert_eq!(cmd("imap", "APPEND", "OK"), 1.0);
    assert_eq!(cmd("pop3", "STAT", "OK"), 1.0);
    assert_eq!(cmd("lmtp", "RCPT", "OK"), 1.0);
    assert_eq!(cmd("lmtp", "RCPT", "ERR"), 1.0);
    assert_eq!(cmd("pop3", "DELE", "ERR"), 1.0);
    // A command the parser rejects (`FETCH x`) has no name to count: it is BAD before
    // dispatch. Every counted command has a latency sample.
    assert_eq!(
        delta(
            "mailroom_command_duration_seconds_count",
            &[("module", "imap"), ("command", "SELECT")]
        ),
        2.0
    );
    assert_eq!(
        delta("mailroom_lmtp_deliveries_total", &[("result", "delivered")]),
        1.0
    );
    assert_eq!(
        delta("mailroom_messages_stored_total", &[("source", "append")]),
        1.0
    );
    assert_eq!(
        delta("mailroom_messages_stored_total", &[("source", "delivery")]),
        1.0
    );
    assert!(delta("mailroom_stored_bytes_total", &[("source", "append")]) >= 20.0);
    assert!(delta("mailroom_received_bytes_total", &[("module", "imap")]) > 60.0);
    assert!(delta("mailroom_sent_bytes_total", &[("module", "imap")]) > 100.0);
    assert!(delta("mailroom_received_bytes_total", &[("module", "pop3")]) > 10.0);
    assert!(delta("mailroom_sent_bytes_total", &[("module", "lmtp")]) > 10.0);
    assert!(delta("mailroom_store_commit_duration_seconds_count", &[]) >= 2.0);
    w.running.shutdown().await;
}
