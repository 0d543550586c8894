//! POP3: golden transcripts (`tests/transcripts/pop3/*.txt`) and the checks transcripts
//! cannot express: APOP, CRAM-MD5 and SCRAM-SHA-256 exchanges, STLS with a real TLS
//! client, deletions and time-outs, large messages, concurrent sessions, `\Seen`, the
//! slow-down after failed logins, 10,000 pipelined commands, UIDL stability.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use common::{hmac_md5, hmac_sha256, Client, TestServer};
use mailroom_server::net::Protocol;
use md5::Digest;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pop3_transcripts() {
    common::run_transcripts("pop3").await;
}

async fn login(c: &mut Client, user: &str, pass: &str) -> String {
    c.expect("+OK POP3 mailroom ready{*}").await;
    c.send(&format!("USER {user}")).await;
    c.expect("+OK send PASS").await;
    c.send(&format!("PASS {pass}")).await;
    c.expect("+OK {*}").await
}

fn msg(subject: &str, body: &str) -> Vec<u8> {
    format!("Subject: {subject}\r\n\r\n{body}\r\n").into_bytes()
}

async fn inbox_meta(
    server: &TestServer,
    account: &str,
) -> (
    Arc<dyn mailroom_store::Account>,
    Vec<mailroom_store::MessageMeta>,
) {
    let info = server.directory().account(account).unwrap();
    let (d, n) = info.store_key();
    let key = mailroom_store::AccountKey::new(&d, &n).unwrap();
    let acc = server.running().ctx.store.open_account(&key).await.unwrap();
    let inbox = acc.mailbox("INBOX").await.unwrap();
    let snap = acc.messages(inbox.id).await.unwrap();
    (acc, snap.messages.iter().map(|m| m.to_meta()).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apop_login_with_correct_digest() {
    let server = TestServer::start().await;
    server.add_account("alice", "secret1");
    server
        .directory()
        .set_mail_secret("alice", Some(&mailroom_directory::Secret::from("tanstaaf")))
        .unwrap();
    let mut c = server.connect(Protocol::Pop3).await;
    let greeting = c
        .expect("+OK POP3 mailroom ready <{*}@mailroom.test>")
        .await;
    let ts = &greeting[greeting.find('<').unwrap()..];
    let digest = md5::Md5::digest(format!("{ts}tanstaaf").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    // The secret is not the login password: a digest over the password fails.
    let wrong = md5::Md5::digest(format!("{ts}secret1").as_bytes());
    let wrong: String = wrong.iter().map(|b| format!("{b:02x}")).collect();
    c.send(&format!("APOP alice {wrong}")).await;
    c.expect("-ERR [AUTH] authentication failed").await;
    c.send(&format!("APOP alice {}", hex.to_uppercase())).await;
    c.expect("+OK alice@localhost has 0 message(s) (0 octets)")
        .await;
    c.send("QUIT").await;
    c.expect("+OK {*}").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apop_off_greeting_and_capa_options() {
    let server = TestServer::start_with(|c| {
        c.pop3.apop = false;
        c.pop3.expire = Some("NEVER".into());
        c.pop3.login_delay = Some(900);
    })
    .await;
    let mut c = server.connect(Protocol::Pop3).await;
    c.expect("+OK POP3 mailroom ready").await;
    c.send("APOP alice c4c9334bac560ecc979e58001b3e22fb").await;
    c.expect("-ERR APOP is not enabled on this server").await;
    c.send("CAPA").await;
    let mut caps = Vec::new();
    c.expect("+OK capability list follows").await;
    loop {
        let l = c.line().await;
        if l == "." {
            break;
        }
        caps.push(l);
    }
    assert!(caps.contains(&"EXPIRE NEVER".to_string()), "{caps:?}");
    assert!(caps.contains(&"LOGIN-DELAY 900".to_string()), "{caps:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cram_md5_with_mail_secret() {
    let server = TestServer::start().await;
    server.add_account("alice", "secret1");
    server
        .directory()
        .set_mail_secret("alice", Some(&mailroom_directory::Secret::from("tanstaaf")))
        .unwrap();
    let mut c = server.connect(Protocol::Pop3).await;
    c.expect("+OK{*}").await;
    for (secret, ok) in [("wrong", false), ("tanstaaf", true)] {
        c.send("AUTH CRAM-MD5").await;
        let l = c.expect("+ {*}").await;
        let challenge = B64.decode(&l[2..]).unwrap();
        assert!(challenge.starts_with(b"<") && challenge.ends_with(b"@mailroom.test>"));
        let d: String = hmac_md5(secret.as_bytes(), &challenge)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        c.send(&B64.encode(format!("alice {d}"))).await;
        if ok {
            c.expect("+OK alice@localhost has 0 message(s) (0 octets)")
                .await;
        } else {
            c.expect("-ERR [AUTH] authentication failed").await;
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_sha256_exchange() {
    let server = TestServer::start().await;
    server.add_account("alice", "secret1");
    let mut c = server.connect(Protocol::Pop3).await;
    c.expect("+OK{*}").await;
    let cnonce = "rOprNGfwEbeRWgbNEkqO";
    let first_bare = format!("n=alice,r={cnonce}");
    c.send(&format!(
        "AUTH SCRAM-SHA-256 {}",
        B64.encode(format!("n,,{first_bare}"))
    ))
    .await;
    let l = c.expect("+ {*}").await;
    let server_first = String::from_utf8(B64.decode(&l[2..]).unwrap()).unwrap();
    let mut nonce = "";
    let mut salt = Vec::new();
    let mut iters = 0u32;
    for f in server_first.split(',') {
        if let Some(v) = f.strip_prefix("r=") {
            nonce = v;
        } else if let Some(v) = f.strip_prefix("s=") {
            salt = B64.decode(v).unwrap();
        } else if let Some(v) = f.strip_prefix("i=") {
            iters = v.parse().unwrap();
        }
    }
    assert!(nonce.starts_with(cnonce) && nonce.len() > cnonce.len());
    let salted = mailroom_directory::ScramKeys::salted_password(b"secret1", &salt, iters);
    let client_key = hmac_sha256(&salted, b"Client Key");
    let stored_key = sha2::Sha256::digest(&client_key);
    let without_proof = format!("c=biws,r={nonce}");
    let auth_message = format!("{first_bare},{server_first},{without_proof}");
    let sig = hmac_sha256(&stored_key, auth_message.as_bytes());
    let proof: Vec<u8> = client_key.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
    c.send(&B64.encode(format!("{without_proof},p={}", B64.encode(&proof))))
        .await;
    let l = c.expect("+ {*}").await;
    let server_final = String::from_utf8(B64.decode(&l[2..]).unwrap()).unwrap();
    let server_key = hmac_sha256(&salted, b"Server Key");
    let want = B64.encode(hmac_sha256(&server_key, auth_message.as_bytes()));
    assert_eq!(server_final, format!("v={want}"));
    c.send("").await;
    c.expect("+OK alice@localhost has 0 message(s) (0 octets)")
        .await;
    server.stop().await;
}

/// A rustls client that trusts the server's generated self-signed certificate.
fn tls_connector(server: &TestServer) -> tokio_rustls::TlsConnector {
    use rustls_pki_types::pem::PemObject;
    let pem = server.data_dir().join("tls/cert.pem");
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_file_iter(&pem).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// Sends CAPA and returns the capability lines.
async fn capa(c: &mut Client) -> Vec<String> {
    c.send("CAPA").await;
    c.expect("+OK capability list follows").await;
    let mut caps = Vec::new();
    loop {
        let l = c.line().await;
        if l == "." {
            return caps;
        }
        caps.push(l);
    }
}

async fn read_capa<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> Vec<String> {
    let mut caps = Vec::new();
    loop {
        let mut l = String::new();
        r.read_line(&mut l).await.unwrap();
        let l = l.trim_end().to_string();
        if l == "." {
            return caps;
        }
        caps.push(l);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stls_with_tls_required_for_plaintext() {
    let server = TestServer::start_with(|c| c.server.require_tls_for_plaintext = true).await;
    server.add_account("alice", "secret1");
    let mut c = server.connect(Protocol::Pop3).await;
    c.expect("+OK{*}").await;
    let caps = capa(&mut c).await;
    assert!(!caps.contains(&"USER".to_string()), "{caps:?}");
    assert!(
        caps.contains(&"SASL CRAM-MD5 SCRAM-SHA-256".to_string()),
        "{caps:?}"
    );
    assert!(caps.contains(&"STLS".to_string()), "{caps:?}");
    c.send("USER alice").await;
    c.expect("-ERR [AUTH] TLS required{*}").await;
    c.send("PASS secret1").await;
    c.expect("-ERR [AUTH] TLS required{*}").await;
    c.send("AUTH PLAIN AGFsaWNlAHNlY3JldDE=").await;
    c.expect("-ERR [AUTH] TLS required{*}").await;
    c.send("AUTH").await;
    c.expect("+OK{*}").await;
    c.expect("CRAM-MD5").await;
    c.expect("SCRAM-SHA-256").await;
    c.expect(".").await;
    // Plaintext injected right after STLS must be discarded, not run after the handshake.
    c.send_raw(b"STLS\r\n").await;
    c.expect("+OK Begin TLS negotiation").await;
    let tls = tls_connector(&server);
    let name = rustls_pki_types::ServerName::try_from("mailroom.test").unwrap();
    let stream = tls.connect(name, c.stream).await.unwrap();
    let mut r = BufReader::new(stream);
    r.get_mut().write_all(b"CAPA\r\n").await.unwrap();
    let mut l = String::new();
    r.read_line(&mut l).await.unwrap();
    assert_eq!(l, "+OK capability list follows\r\n");
    let caps = read_capa(&mut r).await;
    assert!(caps.contains(&"USER".to_string()), "{caps:?}");
    assert!(!caps.contains(&"STLS".to_string()), "{caps:?}");
    assert!(
        caps.contains(&"SASL PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256".to_string()),
        "{caps:?}"
    );
    r.get_mut()
        .write_all(b"STLS\r\nUSER alice\r\nPASS secret1\r\nQUIT\r\n")
        .await
        .unwrap();
    let mut all = String::new();
    for _ in 0..4 {
        r.read_line(&mut all).await.unwrap();
    }
    assert_eq!(
        all,
        "-ERR already using TLS\r\n+OK send PASS\r\n+OK alice@localhost has 0 message(s) (0 octets)\r\n\
         +OK mailroom POP3 server signing off (0 message(s) left)\r\n"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_tls_listener() {
    let server = TestServer::start().await;
    server.add_account("alice", "secret1");
    let tcp = tokio::net::TcpStream::connect(server.tls_addr(Protocol::Pop3))
        .await
        .unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let stream = tls_connector(&server).connect(name, tcp).await.unwrap();
    let mut r = BufReader::new(stream);
    let mut l = String::new();
    r.read_line(&mut l).await.unwrap();
    assert!(l.starts_with("+OK POP3 mailroom ready"), "{l}");
    r.get_mut().write_all(b"CAPA\r\n").await.unwrap();
    l.clear();
    r.read_line(&mut l).await.unwrap();
    let caps = read_capa(&mut r).await;
    assert!(!caps.contains(&"STLS".to_string()), "{caps:?}");
    assert!(caps.contains(&"USER".to_string()), "{caps:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_timeout_deletes_nothing() {
    let server = TestServer::start_with(|c| c.pop3.idle_timeout_secs = 1).await;
    server.add_account("alice", "secret1");
    server.deliver("alice@localhost", &msg("a", "x")).await;
    let mut c = server.connect(Protocol::Pop3).await;
    login(&mut c, "alice", "secret1").await;
    c.send("DELE 1").await;
    c.expect("+OK message 1 deleted").await;
    c.expect("-ERR [SYS/TEMP] idle for too long{*}").await;
    assert!(c.is_closed().await);
    let (_, metas) = inbox_meta(&server, "alice").await;
    assert_eq!(metas.len(), 1);
    server.stop().await;
}

/// Logs in and returns the UIDL listing.
async fn uidl_listing(c: &mut Client, n: usize) -> Vec<String> {
    login(c, "alice", "secret1").await;
    c.send("UIDL").await;
    c.expect("+OK{*}").await;
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(c.line().await);
    }
    c.expect(".").await;
    ids
}

fn remove_index(data: &std::path::Path) {
    let mut found = 0;
    let mut stack = vec![data.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == "index.sqlite") {
                std::fs::remove_file(&p).unwrap();
                found += 1;
            }
        }
    }
    assert_eq!(found, 1, "index file not found");
}

async fn restart_and_list(data: std::path::PathBuf) -> Vec<String> {
    let s2 = TestServer::start_with(move |c| c.server.data_dir = data).await;
    let mut c = s2.connect(Protocol::Pop3).await;
    let ids = Box::pin(uidl_listing(&mut c, 3)).await;
    c.send("QUIT").await;
    c.expect("+OK{*}").await;
    s2.stop().await;
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_deletes_nothing_and_uidl_survives_restart_and_rebuild() {
    let mut server = Box::pin(TestServer::start()).await;
    server.add_account("alice", "secret1");
    for i in 0..3 {
        server
            .deliver("alice@localhost", &msg(&format!("m{i}"), "x"))
            .await;
    }
    let mut c = server.connect(Protocol::Pop3).await;
    let ids = Box::pin(uidl_listing(&mut c, 3)).await;
    let mut set = ids.clone();
    set.sort();
    set.dedup();
    assert_eq!(set.len(), 3);
    for id in &ids {
        let uid = id.split(' ').nth(1).unwrap();
        assert_eq!(uid.len(), 16, "{id}");
        assert!(uid.bytes().all(|b| (0x21..=0x7e).contains(&b)), "{id}");
    }
    Box::pin(async {
        c.send("DELE 1").await;
        c.expect("+OK{*}").await;
    })
    .await;
    let running = server.running.take().unwrap();
    let stop = tokio::spawn(running.shutdown());
    Box::pin(async {
        c.expect("-ERR [SYS/TEMP] server shutting down").await;
        assert!(c.is_closed().await);
    })
    .await;
    stop.await.unwrap();

    // Restart on the same data, then again after deleting the index: same messages
    // (nothing deleted), same ids.
    let data = server.data_dir().to_path_buf();
    assert_eq!(Box::pin(restart_and_list(data.clone())).await, ids);
    remove_index(&data);
    assert_eq!(Box::pin(restart_and_list(data.clone())).await, ids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uidl_format_variants() {
    for (fmt, want) in [
        ("%u", "1 1"),
        ("%v.%u", "1 {*}.1"),
        ("%08xu", "1 00000001"),
        ("x{uidvalidity}-{uid}", "1 x{*}-1"),
        ("no uid here", "1 {*}00000001"),
    ] {
        let f = fmt.to_string();
        let server = TestServer::start_with(move |c| c.pop3.uidl_format = f).await;
        server.add_account("alice", "secret1");
        server.deliver("alice@localhost", &msg("a", "x")).await;
        let mut c = server.connect(Protocol::Pop3).await;
        login(&mut c, "alice", "secret1").await;
        c.send("UIDL 1").await;
        let l = c.line().await;
        assert!(common::glob(&format!("+OK {want}"), &l), "{fmt}: got {l:?}");
        assert!(
            !l[4..].contains(' ') || l[4..].split(' ').count() == 2,
            "{l}"
        );
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retr_large_message_byte_exact() {
    let server = TestServer::start().await;
    server.add_account("alice", "secret1");
    // About 3 MB: lines of varying length, some starting with dots, one 70 KB line.
    let mut m = b"Subject: big\r\n\r\n".to_vec();
    let mut i = 0u32;
    while m.len() < 3_000_000 {
        let line = match i % 7 {
            0 => ".".to_string(),
            1 => format!("..dots {i}"),
            2 => format!(".{}", "x".repeat((i % 200) as usize)),
            3 if i == 3 => "y".repeat(70_000),
            _ => format!("line {i} {}", "z".repeat((i % 90) as usize)),
        };
        m.extend_from_slice(line.as_bytes());
        m.extend_from_slice(b"\r\n");
        i += 1;
    }
    m.extend_from_slice(b"last line without CRLF");
    server.deliver("alice@localhost", &m).await;
    let mut full =
        b"Return-Path: <sender@example.org>\r\nDelivered-To: alice@localhost\r\n".to_vec();
    full.extend_from_slice(&m);
    let mut stuffed = Vec::with_capacity(full.len() + 100_000);
    for (k, line) in full.split_inclusive(|&b| b == b'\n').enumerate() {
        let _ = k;
        if line.starts_with(b".") {
            stuffed.push(b'.');
        }
        stuffed.extend_from_slice(line);
    }
    stuffed.extend_from_slice(b"\r\n.\r\n");
    let mut c = server.connect(Protocol::Pop3).await;
    login(&mut c, "alice", "secret1").await;
    c.send("LIST 1").await;
    c.expect(&format!("+OK 1 {}", full.len())).await;
    c.send("RETR 1").await;
    c.expect(&format!("+OK {} octets", full.len())).await;
    let got = c.read_exact(stuffed.len()).await;
    assert!(got == stuffed, "RETR content differs");
    c.send("NOOP").await;
    c.expect("+OK").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sessions_and_an_expunge_by_the_other() {
    let server = TestServer::start().await;
    server.add_account("alice", "secret1");
    server.deliver("alice@localhost", &msg("a", "one")).await;
    server.deliver("alice@localhost", &msg("b", "two")).await;
    let mut c1 = server.connect(Protocol::Pop3).await;
    let mut c2 = server.connect(Protocol::Pop3).await;
    login(&mut c1, "alice", "secret1").await;
    login(&mut c2, "alice", "secret1").await;
    c2.send("DELE 1").await;
    c2.expect("+OK message 1 deleted").await;
    c2.send("QUIT").await;
    c2.expect("+OK mailroom POP3 server signing off (1 message(s) left)")
        .await;
    // Session 1 keeps its numbering; the expunged message answers -ERR with a reason.
    c1.send("STAT").await;
    c1.expect("+OK 2 {*}").await;
    c1.send("RETR 1").await;
    c1.expect("-ERR message 1 was removed by another session")
        .await;
    c1.send("TOP 1 0").await;
    c1.expect("-ERR message 1 was removed by another session")
        .await;
    c1.send("RETR 2").await;
    c1.expect("+OK {*} octets").await;
    loop {
        if c1.line().await == "." {
            break;
        }
    }
    c1.send("DELE 1").await;
    c1.expect("+OK message 1 deleted").await;
    c1.send("QUIT").await;
    c1.expect("+OK mailroom POP3 server signing off (1 message(s) left)")
        .await;
    let (_, metas) = inbox_meta(&server, "alice").await;
    assert_eq!(metas.len(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retr_sets_seen_and_top_does_not() {
    let server = TestServer::start().await;
    server.add_account("alice", "secret1");
    server.deliver("alice@localhost", &msg("a", "one")).await;
    server.deliver("alice@localhost", &msg("b", "two")).await;
    let mut c = server.connect(Protocol::Pop3).await;
    login(&mut c, "alice", "secret1").await;
    c.send("RETR 1").await;
    c.send("TOP 2 5").await;
    c.send("NOOP").await;
    let mut oks = 0;
    while oks < 3 {
        let l = c.line().await;
        if l.starts_with("+OK") {
            oks += 1;
        }
    }
    // `\Seen` is written behind the reply: other sessions see it shortly, while this
    // session is still open.
    wait_for_seen(&server, "alice", &[true, false]).await;
    server.stop().await;
}

/// `\Seen` of each INBOX message, in UID order.
async fn seen_flags(server: &TestServer, account: &str) -> Vec<bool> {
    let (_, metas) = inbox_meta(server, account).await;
    metas
        .iter()
        .map(|m| m.flags.contains(mailroom_store::Flags::SEEN))
        .collect()
}

/// Waits (5 s at most) until the INBOX messages' `\Seen` flags are `want`.
async fn wait_for_seen(server: &TestServer, account: &str, want: &[bool]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let seen = seen_flags(server, account).await;
        if seen == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "\\Seen flags {seen:?}, want {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seen_is_written_by_quit_and_by_a_dropped_connection() {
    let server = TestServer::start().await;
    server.add_account("alice", "secret1");
    for i in 0..6 {
        server
            .deliver("alice@localhost", &msg(&format!("m{i}"), "body"))
            .await;
    }
    // Pipelined RETRs, then QUIT: every retrieved message is \Seen when QUIT answers.
    let mut c = server.connect(Protocol::Pop3).await;
    login(&mut c, "alice", "secret1").await;
    c.send("RETR 1\r\nRETR 2\r\nRETR 3\r\nQUIT").await;
    loop {
        let l = c.line().await;
        if l.starts_with("+OK mailroom POP3 server signing off") {
            break;
        }
    }
    assert_eq!(
        seen_flags(&server, "alice").await,
        [true, true, true, false, false, false]
    );
    // A connection dropped after RETR (no QUIT) records it too.
    let mut c = server.connect(Protocol::Pop3).await;
    login(&mut c, "alice", "secret1").await;
    c.send("RETR 4\r\nRETR 5").await;
    let mut ends = 0;
    while ends < 2 {
        if c.line().await == "." {
            ends += 1;
        }
    }
    drop(c);
    wait_for_seen(&server, "alice", &[true, true, true, true, true, false]).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_slow_down_but_do_not_lock_out() {
    let server = TestServer::start().await;
    server.add_account("alice", "secret1");
    let mut c = server.connect(Protocol::Pop3).await;
    c.expect("+OK{*}").await;
    let t = Instant::now();
    for _ in 0..4 {
        c.send("USER alice").await;
        c.expect("+OK send PASS").await;
        c.send("PASS nope").await;
        c.expect("-ERR [AUTH] authentication failed").await;
    }
    // 0 + 0.5 + 1 + 1.5 seconds of delay; checked loosely.
    assert!(
        t.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );
    c.send("USER alice").await;
    c.expect("+OK send PASS").await;
    c.send("PASS secret1").await;
    c.expect("+OK alice@localhost{*}").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_pipelined_noops() {
    let server = TestServer::start().await;
    server.add_account("alice", "secret1");
    let mut c = server.connect(Protocol::Pop3).await;
    login(&mut c, "alice", "secret1").await;
    let (mut rd, mut wr) = c.stream.into_split();
    let writer = tokio::spawn(async move {
        let mut all = b"NOOP\r\n".repeat(10_000);
        all.extend_from_slice(b"QUIT\r\n");
        wr.write_all(&all).await.unwrap();
        wr
    });
    let mut got = Vec::new();
    let want = b"+OK\r\n".repeat(10_000);
    tokio::time::timeout(Duration::from_secs(60), async {
        let mut chunk = vec![0u8; 65536];
        loop {
            let n = rd.read(&mut chunk).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .unwrap();
    let _wr = writer.await.unwrap();
    assert!(got.starts_with(&want), "{} octets", got.len());
    assert_eq!(
        &got[want.len()..],
        b"+OK mailroom POP3 server signing off (0 message(s) left)\r\n"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_garbage_and_endless_lines() {
    let server = TestServer::start().await;
    server.add_account("alice", "secret1");
    let mut c = server.connect(Protocol::Pop3).await;
    c.expect("+OK{*}").await;
    c.send_raw(b"\x00\xff\xfe\x01garbage\r\n").await;
    c.expect("-ERR command line contains binary data").await;
    c.send_raw(b"NO\x00OP\r\n").await;
    c.expect("-ERR command line contains binary data").await;
    // 1 MB without a line end: one -ERR, then the session goes on.
    c.send_raw(&vec![b'A'; 1 << 20]).await;
    c.send_raw(b"\r\nCAPA\r\n").await;
    c.expect("-ERR line too long").await;
    c.expect("+OK capability list follows").await;
    // Many bad commands in a row end the connection.
    c.send_raw(&b"\x01\r\n".repeat(200)).await;
    let mut errs = 0;
    while let Some(l) = c.read_line_raw().await {
        if l.starts_with(b"-ERR") {
            errs += 1;
        }
    }
    assert!((100..=102).contains(&errs), "{errs}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_shows_the_session() {
    let server = TestServer::start().await;
    server.add_account("alice", "secret1");
    let mut c = server.connect(Protocol::Pop3).await;
    login(&mut c, "alice", "secret1").await;
    let list = server.running().ctx.registry.list();
    let s = list.iter().find(|s| s.label.starts_with("POP-")).unwrap();
    assert_eq!(s.account.as_deref(), Some("alice@localhost"));
    assert_eq!(s.state, "transaction");
    c.send("QUIT").await;
    c.expect("+OK{*}").await;
    assert!(c.is_closed().await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!server
        .running()
        .ctx
        .registry
        .list()
        .iter()
        .any(|s| s.label.starts_with("POP-")));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_that_never_reads_is_closed() {
    let server = TestServer::start_with(|c| c.pop3.idle_timeout_secs = 1).await;
    server.add_account("alice", "secret1");
    let big = vec![b'x'; 3_000_000];
    server.deliver("alice@localhost", &big).await;
    let mut c = server.connect(Protocol::Pop3).await;
    login(&mut c, "alice", "secret1").await;
    c.send_raw(&b"RETR 1\r\n".repeat(8)).await;
    // Do not read for a while: the server's writes time out and it gives up.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut total = 0usize;
    let mut chunk = vec![0u8; 65536];
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match c.stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    })
    .await
    .expect("the server did not close the connection");
    assert!(total < 8 * 3_000_000, "{total} octets: everything was sent");
    server.stop().await;
}

/// With the default configuration CRAM-MD5 is neither in CAPA, nor in the bare AUTH list,
/// nor accepted; the other mechanisms are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cram_md5_is_off_by_default() {
    let default = mailroom_server::Config::default().server.cram_md5;
    let server = TestServer::start_with(|c| c.server.cram_md5 = default).await;
    server.add_account("alice", "secret1");
    let mut c = server.connect(Protocol::Pop3).await;
    c.expect("+OK{*}").await;
    let caps = capa(&mut c).await;
    assert!(
        caps.contains(&"SASL PLAIN LOGIN SCRAM-SHA-256".to_string()),
        "{caps:?}"
    );
    c.send("AUTH").await;
    c.expect("+OK{*}").await;
    c.expect("PLAIN").await;
    c.expect("LOGIN").await;
    c.expect("SCRAM-SHA-256").await;
    c.expect(".").await;
    c.send("AUTH CRAM-MD5").await;
    c.expect("-ERR unsupported SASL mechanism").await;
    c.send("AUTH PLAIN AGFsaWNlAHNlY3JldDE=").await;
    c.expect("+OK{*}").await;
    c.send("QUIT").await;
    c.expect("+OK{*}").await;
}
