//! LMTP: golden transcripts and end-to-end delivery checks.
#![allow(clippy::unwrap_used)]
mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lmtp_transcripts() {
    common::run_transcripts("lmtp").await;
}

use common::{Client, TestServer};
use mailroom_server::net::Protocol;

async fn lhlo(c: &mut Client) {
    c.expect("220 {*}").await;
    c.send("LHLO test.example").await;
    for _ in 0..4 {
        c.expect("250-{*}").await;
    }
    c.expect("250 SIZE {*}").await;
}

async fn inbox_messages(server: &TestServer, name: &str) -> Vec<Vec<u8>> {
    let store = &server.running().ctx.store;
    let key = mailroom_store::AccountKey::new("localhost", name).unwrap();
    let account = store.open_account(&key).await.unwrap();
    let inbox = account.mailbox("INBOX").await.unwrap();
    let snap = account.messages(inbox.id).await.unwrap();
    let mut out = Vec::new();
    for m in snap.messages.iter() {
        let c = account.open_message(inbox.id, m.uid).await.unwrap();
        out.push(c.read_range(0, c.size()).await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_transaction_in_one_write() {
    let server = TestServer::start().await;
    server.add_account("alice", "x");
    let mut c = server.connect(Protocol::Lmtp).await;
    c.expect("220 {*}").await;
    c.send_raw(
        b"LHLO a\r\nMAIL FROM:<s@example.org> BODY=8BITMIME SIZE=40\r\nRCPT TO:<alice@localhost>\r\nRCPT TO:<x@localhost>\r\nDATA\r\n",
    )
    .await;
    for _ in 0..4 {
        c.expect("250-{*}").await;
    }
    c.expect("250 SIZE {*}").await;
    c.expect("250 2.1.0 sender OK").await;
    c.expect("250 2.1.5 <alice@localhost> recipient OK").await;
    c.expect("550 5.1.1 <x@localhost> no such user here").await;
    c.expect("354 {*}").await;
    c.send_raw("Subject: 8bit \u{e9}\r\n\r\n.\r\n".as_bytes())
        .await;
    c.expect("250 2.0.0 <alice@localhost> delivered, uid 1")
        .await;
    let msgs = inbox_messages(&server, "alice").await;
    assert_eq!(
        msgs,
        vec![b"Return-Path: <s@example.org>\r\nDelivered-To: alice@localhost\r\nSubject: 8bit \xc3\xa9\r\n\r\n".to_vec()]
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_message_is_spooled_and_stored_exactly() {
    let server = TestServer::start().await;
    server.add_account("alice", "x");
    let mut c = server.connect(Protocol::Lmtp).await;
    lhlo(&mut c).await;
    c.send("MAIL FROM:<s@example.org>").await;
    c.expect("250 {*}").await;
    c.send("RCPT TO:<alice@localhost>").await;
    c.expect("250 {*}").await;
    c.send("DATA").await;
    c.expect("354 {*}").await;
    // 12 MiB with lines starting with dots, and one 1 MB header line.
    let mut msg = b"Subject: big\r\nX-Long: ".to_vec();
    msg.extend(std::iter::repeat_n(b'h', 1 << 20));
    msg.extend_from_slice(b"\r\n\r\n");
    let mut wire = msg.clone();
    for i in 0..(12 * 1024) {
        let line = format!(".{i:0>1021}\r\n");
        msg.extend_from_slice(line.as_bytes());
        wire.push(b'.');
        wire.extend_from_slice(line.as_bytes());
    }
    wire.extend_from_slice(b".\r\n");
    c.send_raw(&wire).await;
    c.expect("250 2.0.0 <alice@localhost> delivered, uid 1")
        .await;
    let msgs = inbox_messages(&server, "alice").await;
    assert_eq!(msgs.len(), 1);
    let prefix = b"Return-Path: <s@example.org>\r\nDelivered-To: alice@localhost\r\n";
    assert_eq!(&msgs[0][..prefix.len()], prefix);
    assert!(msgs[0][prefix.len()..] == msg[..], "content differs");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_over_size_limit_is_refused_per_recipient() {
    let server = TestServer::start_with(|c| c.lmtp.max_message_size = 1000).await;
    server.add_account("alice", "x");
    server.add_account("bob", "x");
    let mut c = server.connect(Protocol::Lmtp).await;
    c.expect("220 {*}").await;
    c.send("LHLO a").await;
    for _ in 0..4 {
        c.expect("250-{*}").await;
    }
    c.expect("250 SIZE 1000").await;
    c.send("MAIL FROM:<s@example.org>").await;
    c.expect("250 {*}").await;
    c.send("RCPT TO:<alice@localhost>").await;
    c.expect("250 {*}").await;
    c.send("RCPT TO:<bob@localhost>").await;
    c.expect("250 {*}").await;
    c.send("DATA").await;
    c.expect("354 {*}").await;
    let mut body = b"Subject: x\r\n\r\n".to_vec();
    body.extend(std::iter::repeat_n(b'a', 5000));
    body.extend_from_slice(b"\r\n.\r\n");
    c.send_raw(&body).await;
    c.expect(
        "552 5.3.4 <alice@localhost> message size exceeds fixed maximum message size (1000 octets)",
    )
    .await;
    c.expect("552 5.3.4 <bob@localhost> {*}").await;
    // The session goes on.
    c.send("NOOP").await;
    c.expect("250 2.0.0 OK").await;
    assert!(inbox_messages(&server, "alice").await.is_empty());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connection_during_data_delivers_nothing() {
    let server = TestServer::start().await;
    server.add_account("alice", "x");
    let mut c = server.connect(Protocol::Lmtp).await;
    lhlo(&mut c).await;
    c.send_raw(b"MAIL FROM:<s@x>\r\nRCPT TO:<alice@localhost>\r\nDATA\r\n")
        .await;
    c.expect("250 {*}").await;
    c.expect("250 {*}").await;
    c.expect("354 {*}").await;
    c.send_raw(b"Subject: half\r\n\r\nsome text but no terminator\r\n")
        .await;
    drop(c);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(inbox_messages(&server, "alice").await.is_empty());
    // Another connection still works.
    let mut c = server.connect(Protocol::Lmtp).await;
    lhlo(&mut c).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_long_lines_and_nul_get_replies() {
    let server = TestServer::start().await;
    let mut c = server.connect(Protocol::Lmtp).await;
    c.expect("220 {*}").await;
    let mut long = vec![b'A'; 100_000];
    long.extend_from_slice(b"\r\n");
    c.send_raw(&long).await;
    c.expect("500 5.5.2 line too long").await;
    c.send_raw(b"NO\0OP\r\n").await;
    c.expect("501 5.5.4 control characters in command line")
        .await;
    c.send_raw(b"\xff\xfe\r\n").await;
    c.expect("501 5.5.4 command line is not UTF-8").await;
    c.send("NOOP").await;
    c.expect("250 2.0.0 OK").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_limit_refuses_with_421() {
    let server = TestServer::start_with(|c| c.lmtp.max_channels = 1).await;
    let mut a = server.connect(Protocol::Lmtp).await;
    a.expect("220 {*}").await;
    let mut b = server.connect(Protocol::Lmtp).await;
    b.expect("421 4.3.2 too many LMTP connections, try again later")
        .await;
    assert!(b.is_closed().await);
    drop(a);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let mut c = server.connect(Protocol::Lmtp).await;
    c.expect("220 {*}").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_timeout_and_shutdown_say_421() {
    let server = TestServer::start_with(|c| c.lmtp.idle_timeout_secs = 1).await;
    let mut a = server.connect(Protocol::Lmtp).await;
    a.expect("220 {*}").await;
    a.expect("421 4.4.2 idle for too long, closing connection")
        .await;
    assert!(a.is_closed().await);
    let mut b = server.connect(Protocol::Lmtp).await;
    b.expect("220 {*}").await;
    let stop = tokio::spawn(server.stop());
    b.expect("421 4.3.2 server shutting down, try again later")
        .await;
    stop.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deliveries_get_unique_uids() {
    let server = TestServer::start().await;
    server.add_account("alice", "x");
    let addr = server.addr(Protocol::Lmtp);
    let mut tasks = Vec::new();
    for t in 0..8 {
        tasks.push(tokio::spawn(async move {
            let mut c = Client::connect(addr).await;
            lhlo(&mut c).await;
            for i in 0..10 {
                c.send_raw(b"MAIL FROM:<s@x>\r\nRCPT TO:<alice@localhost>\r\nDATA\r\n")
                    .await;
                c.expect("250 {*}").await;
                c.expect("250 {*}").await;
                c.expect("354 {*}").await;
                c.send_raw(format!("Subject: {t}-{i}\r\n\r\nx\r\n.\r\n").as_bytes())
                    .await;
                c.expect("250 2.0.0 {*}").await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let store = &server.running().ctx.store;
    let key = mailroom_store::AccountKey::new("localhost", "alice").unwrap();
    let account = store.open_account(&key).await.unwrap();
    let inbox = account.mailbox("INBOX").await.unwrap();
    let snap = account.messages(inbox.id).await.unwrap();
    let uids: Vec<u32> = snap.messages.iter().map(|m| m.uid).collect();
    assert_eq!(uids, (1..=80).collect::<Vec<u32>>());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_quota_recipients_are_refused_per_recipient() {
    let server = TestServer::start().await;
    server.add_account("full", "x");
    server.add_account("roomy", "x");
    server.add_account("counted", "x");
    // 1 KiB of storage: the first small message fits, the second does not.
    server.directory().set_quota("full", Some(1), None).unwrap();
    server
        .directory()
        .set_quota("counted", None, Some(1))
        .unwrap();
    let mut c = server.connect(Protocol::Lmtp).await;
    lhlo(&mut c).await;
    for round in 1..=2 {
        c.send("MAIL FROM:<s@example.org>").await;
        c.expect("250 2.1.0 sender OK").await;
        for r in ["full", "roomy", "counted"] {
            c.send(&format!("RCPT TO:<{r}@localhost>")).await;
            c.expect(&format!("250 2.1.5 <{r}@localhost> recipient OK"))
                .await;
        }
        c.send("DATA").await;
        c.expect("354 {*}").await;
        c.send_raw(b"Subject: q\r\n\r\nsmall body\r\n.\r\n").await;
        if round == 1 {
            c.expect("250 2.0.0 <full@localhost> delivered, uid 1")
                .await;
            c.expect("250 2.0.0 <roomy@localhost> delivered, uid 1")
                .await;
            c.expect("250 2.0.0 <counted@localhost> delivered, uid 1")
                .await;
            // Fill "full" past its kibibyte through the delivery path.
            server.deliver("full@localhost", &[b'x'; 850]).await;
        } else {
            c.expect("552 5.2.2 <full@localhost> mailbox is over quota")
                .await;
            c.expect("250 2.0.0 <roomy@localhost> delivered, uid 2")
                .await;
            c.expect("552 5.2.2 <counted@localhost> mailbox is over quota")
                .await;
        }
    }
    assert_eq!(inbox_messages(&server, "full").await.len(), 2);
    assert_eq!(inbox_messages(&server, "counted").await.len(), 1);
    assert_eq!(inbox_messages(&server, "roomy").await.len(), 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_quota_can_be_a_temporary_failure() {
    let server = TestServer::start_with(|c| c.lmtp.quota_temporary = true).await;
    server.add_account("counted", "x");
    server
        .directory()
        .set_quota("counted", None, Some(1))
        .unwrap();
    server
        .deliver("counted@localhost", b"Subject: a\r\n\r\nb\r\n")
        .await;
    let mut c = server.connect(Protocol::Lmtp).await;
    lhlo(&mut c).await;
    c.send_raw(b"MAIL FROM:<s@x>\r\nRCPT TO:<counted@localhost>\r\nDATA\r\n")
        .await;
    c.expect("250 {*}").await;
    c.expect("250 {*}").await;
    c.expect("354 {*}").await;
    c.send_raw(b"Subject: q\r\n\r\nx\r\n.\r\n").await;
    c.expect("452 4.2.2 <counted@localhost> mailbox is over quota, try again later")
        .await;
    server.stop().await;
}
