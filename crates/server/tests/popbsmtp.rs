//! POP-before-SMTP (P13): a POP3 login authorises the client address; the Postfix policy
//! service answers `action=OK` for it and `action=DUNNO` for anyone else, on persistent
//! connections, after expiry, and for malformed requests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Client, TestServer};
use mailroom_server::net::Protocol;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn server(ttl: u64) -> TestServer {
    let s = TestServer::start_with(|c| {
        c.popbsmtp.enabled = true;
        c.popbsmtp.listen = "127.0.0.1:0".parse().unwrap();
        c.popbsmtp.ttl_secs = ttl;
    })
    .await;
    s.add_account("alice", "secret1");
    s
}

fn policy_addr(s: &TestServer) -> SocketAddr {
    s.running().policy.expect("policy service listening")
}

async fn pop_login(s: &TestServer) {
    let mut c = s.connect(Protocol::Pop3).await;
    c.expect("+OK POP3 mailroom ready{*}").await;
    c.send("USER alice").await;
    c.expect("+OK send PASS").await;
    c.send("PASS secret1").await;
    c.expect("+OK alice@localhost has 0 message(s){*}").await;
    c.send("QUIT").await;
    c.expect("+OK {*}").await;
}

fn request(ip: &str) -> String {
    format!(
        "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n\
         client_address={ip}\nclient_name=unknown\nhelo_name=laptop\n\
         sender=alice@localhost\nrecipient=bob@example.com\n\n"
    )
}

/// Reads one reply (up to and including the empty line).
async fn reply(sock: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut b = [0u8; 1];
    while !got.ends_with(b"\n\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), sock.read(&mut b))
            .await
            .expect("policy reply in time")
            .unwrap();
        assert!(n > 0, "policy service closed the connection");
        got.push(b[0]);
    }
    String::from_utf8(got).unwrap()
}

async fn ask(sock: &mut TcpStream, ip: &str) -> String {
    sock.write_all(request(ip).as_bytes()).await.unwrap();
    reply(sock).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_authorises_only_its_address() {
    let s = server(1800).await;
    let mut p = TcpStream::connect(policy_addr(&s)).await.unwrap();
    assert_eq!(ask(&mut p, "127.0.0.1").await, "action=DUNNO\n\n");
    pop_login(&s).await;
    assert_eq!(ask(&mut p, "127.0.0.1").await, "action=OK\n\n");
    assert_eq!(ask(&mut p, "10.1.2.3").await, "action=DUNNO\n\n");
    assert_eq!(ask(&mut p, "::ffff:127.0.0.1").await, "action=OK\n\n");
    // A failed login records nothing.
    assert!(s.running().ctx.relay.len() == 1);
    let mut c = s.connect(Protocol::Pop3).await;
    c.expect("+OK{*}").await;
    c.send("USER alice").await;
    c.expect("+OK send PASS").await;
    c.send("PASS wrong").await;
    c.expect("-ERR{*}").await;
    assert!(s.running().ctx.relay.len() == 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorisation_expires() {
    let s = server(1).await;
    pop_login(&s).await;
    let mut p = TcpStream::connect(policy_addr(&s)).await.unwrap();
    assert_eq!(ask(&mut p, "127.0.0.1").await, "action=OK\n\n");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(ask(&mut p, "127.0.0.1").await, "action=DUNNO\n\n");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_requests_on_one_connection() {
    let s = server(1800).await;
    pop_login(&s).await;
    let mut p = TcpStream::connect(policy_addr(&s)).await.unwrap();
    // Pipelined: 500 requests written at once, alternating a known and an unknown client.
    let mut all = String::new();
    for i in 0..500 {
        all.push_str(&request(if i % 2 == 0 { "127.0.0.1" } else { "192.0.2.1" }));
    }
    let (mut r, mut w) = p.split();
    let writer = async {
        w.write_all(all.as_bytes()).await.unwrap();
    };
    let reader = async {
        let mut got = Vec::new();
        let want = 250 * ("action=OK\n\n".len() + "action=DUNNO\n\n".len());
        let mut buf = vec![0u8; 8192];
        while got.len() < want {
            let n = tokio::time::timeout(Duration::from_secs(10), r.read(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
        }
        got
    };
    let ((), got) = tokio::join!(writer, reader);
    let text = String::from_utf8(got).unwrap();
    let replies: Vec<&str> = text.split_terminator("\n\n").collect();
    assert_eq!(replies.len(), 500);
    for (i, rep) in replies.iter().enumerate() {
        let want = if i % 2 == 0 {
            "action=OK"
        } else {
            "action=DUNNO"
        };
        assert_eq!(*rep, want, "reply {i}");
    }
    // CRLF line ends are accepted too.
    let crlf = request("127.0.0.1").replace('\n', "\r\n");
    p.write_all(crlf.as_bytes()).await.unwrap();
    assert_eq!(reply(&mut p).await, "action=OK\n\n");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_gets_dunno_and_the_connection_goes_on() {
    let s = server(1800).await;
    pop_login(&s).await;
    let mut p = TcpStream::connect(policy_addr(&s)).await.unwrap();
    for bad in [
        "hello world\n\n".to_string(),
        "request=smtpd_access_policy\n\n".to_string(),
        "request=other\nclient_address=127.0.0.1\n\n".to_string(),
        "request=smtpd_access_policy\nclient_address=not-an-ip\n\n".to_string(),
        "client_address=127.0.0.1\n\n".to_string(),
        "\n".to_string(),
        format!(
            "request=smtpd_access_policy\nclient_address=127.0.0.1\nx={}\n\n",
            "y".repeat(100_000)
        ),
        format!(
            "request=smtpd_access_policy\nclient_address=127.0.0.1\n{}\n",
            "a=b\n".repeat(1000)
        ),
    ] {
        p.write_all(bad.as_bytes()).await.unwrap();
        assert_eq!(reply(&mut p).await, "action=DUNNO\n\n", "for {:.60?}", bad);
    }
    p.write_all(b"request=smtpd_access_policy\nclient_address=127.0.0.1\n\xff\xfe\n\n")
        .await
        .unwrap();
    assert_eq!(reply(&mut p).await, "action=DUNNO\n\n");
    // Still serving on the same connection.
    assert_eq!(ask(&mut p, "127.0.0.1").await, "action=OK\n\n");
    // A client that sends half a request and leaves does not disturb anyone.
    let mut q = TcpStream::connect(policy_addr(&s)).await.unwrap();
    q.write_all(b"request=smtpd_access_policy\nclient_add")
        .await
        .unwrap();
    drop(q);
    assert_eq!(ask(&mut p, "127.0.0.1").await, "action=OK\n\n");
    let _ = Client::connect(policy_addr(&s)).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_by_default() {
    let s = TestServer::start().await;
    assert!(s.running().policy.is_none());
    s.stop().await;
}
