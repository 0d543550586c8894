//! IMAP: golden transcripts and multi-connection, TLS, literal and alert checks.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use common::{hmac_sha256, Client, TestServer};
use mailroom_server::net::Protocol;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imap_transcripts() {
    common::run_transcripts("imap").await;
}

/// `Client::expect` on the heap: the harness's read buffer is 64 KiB, and debug builds
/// give every await point of a test its own stack slot.
async fn exp(c: &mut Client, pattern: &str) -> String {
    Box::pin(c.expect(pattern)).await
}

async fn closed(c: &mut Client) -> bool {
    Box::pin(c.is_closed()).await
}

async fn login(server: &TestServer, user: &str) -> Client {
    let mut c = server.connect(Protocol::Imap).await;
    exp(&mut c, "* OK [CAPABILITY IMAP4rev1 {*}] mailroom ready").await;
    c.send(&format!("L LOGIN {user} pw")).await;
    exp(&mut c, "L OK [CAPABILITY {*}] logged in").await;
    c
}

/// Reads lines up to the tagged one; returns them all (the tagged one last).
async fn until_tagged(c: &mut Client, tag: &str) -> Vec<String> {
    let mut v = Vec::new();
    loop {
        let l = Box::pin(c.line()).await;
        let done = l.starts_with(&format!("{tag} "));
        v.push(l);
        if done {
            return v;
        }
    }
}

async fn select(c: &mut Client, mailbox: &str) -> Vec<String> {
    c.send(&format!("S SELECT {mailbox}")).await;
    let v = until_tagged(c, "S").await;
    assert!(v.last().unwrap().starts_with("S OK"), "{v:?}");
    v
}

const MSG: &[u8] = b"From: a@example.org\r\nSubject: hello\r\n\r\nbody\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flag_changes_and_expunges_reach_other_sessions_at_the_right_time() {
    tokio::spawn(async move {
        let server = TestServer::start().await;
        server.add_account("u", "pw");
        for _ in 0..3 {
            server.deliver("u", MSG).await;
        }
        let mut a = login(&server, "u").await;
        let mut b = login(&server, "u").await;
        select(&mut a, "INBOX").await;
        select(&mut b, "INBOX").await;

        // A flags and expunges message 1.
        a.send("a1 STORE 1 +FLAGS (\\Deleted)").await;
        until_tagged(&mut a, "a1").await;
        a.send("a2 STORE 2 +FLAGS (\\Flagged)").await;
        until_tagged(&mut a, "a2").await;
        a.send("a3 EXPUNGE").await;
        let v = until_tagged(&mut a, "a3").await;
        assert_eq!(v, ["* 1 EXPUNGE", "a3 OK EXPUNGE completed"]);

        // B's STORE must not carry the EXPUNGE (RFC 3501 7.4.1), but may carry flags.
        b.send("b1 STORE 3 +FLAGS (\\Seen)").await;
        let v = until_tagged(&mut b, "b1").await;
        assert!(!v.iter().any(|l| l.contains("EXPUNGE")), "{v:?}");
        assert!(
            v.contains(&"* 3 FETCH (FLAGS (\\Seen))".to_string()),
            "{v:?}"
        );
        // The other session's flag change comes along (FETCH is allowed there).
        assert!(
            v.contains(&"* 2 FETCH (FLAGS (\\Flagged))".to_string()),
            "{v:?}"
        );
        // At NOOP: the expunge.
        b.send("b2 NOOP").await;
        let v = until_tagged(&mut b, "b2").await;
        assert_eq!(v, ["* 1 EXPUNGE", "b2 OK NOOP completed"]);
        // B no longer sees UID 1.
        b.send("b3 UID STORE 1 +FLAGS (\\Seen)").await;
        assert_eq!(until_tagged(&mut b, "b3").await, ["b3 OK STORE completed"]);
        server.stop().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recent_goes_to_exactly_one_of_three_sessions() {
    tokio::spawn(async move {
        let server = TestServer::start().await;
        server.add_account("u", "pw");
        let mut cs = Vec::new();
        for _ in 0..3 {
            let mut c = login(&server, "u").await;
            select(&mut c, "INBOX").await;
            cs.push(c);
        }
        server.deliver("u", MSG).await;
        let mut recent_total = 0;
        for (i, c) in cs.iter_mut().enumerate() {
            c.send(&format!("n{i} NOOP")).await;
            let v = until_tagged(c, &format!("n{i}")).await;
            assert!(v.contains(&"* 1 EXISTS".to_string()), "{v:?}");
            if v.contains(&"* 1 RECENT".to_string()) {
                recent_total += 1;
            } else {
                assert!(v.contains(&"* 0 RECENT".to_string()), "{v:?}");
            }
        }
        assert_eq!(recent_total, 1);
        server.stop().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_reports_appends_and_alerts() {
    tokio::spawn(async move {
        let server = TestServer::start().await;
        server.add_account("u", "pw");
        let mut a = login(&server, "u").await;
        select(&mut a, "INBOX").await;
        a.send("i1 IDLE").await;
        exp(&mut a, "+ idling").await;
        let mut b = login(&server, "u").await;
        b.send("b1 APPEND INBOX {44+}").await;
        b.send_raw(MSG).await;
        b.send("").await;
        exp(
            &mut b,
            "b1 OK [APPENDUID * 1] APPEND completed"
                .replace('*', "{*}")
                .as_str(),
        )
        .await;
        exp(&mut a, "* 1 EXISTS").await;
        exp(&mut a, "* 1 RECENT").await;
        // An alert posted meanwhile arrives during IDLE.
        server
            .directory()
            .add_alert("u", "maintenance at noon")
            .unwrap();
        server.running().ctx.alerts_changed();
        exp(&mut a, "* OK [ALERT] maintenance at noon").await;
        a.send("DONE").await;
        exp(&mut a, "i1 OK IDLE terminated").await;
        server.stop().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_are_shown_at_login_once() {
    tokio::spawn(async move {
        let server = TestServer::start().await;
        server.add_account("u", "pw");
        server.directory().add_alert("u", "first").unwrap();
        server.directory().add_alert("u", "second").unwrap();
        let mut c = server.connect(Protocol::Imap).await;
        exp(&mut c, "* OK {*}").await;
        c.send("L LOGIN u pw").await;
        exp(&mut c, "* OK [ALERT] first").await;
        exp(&mut c, "* OK [ALERT] second").await;
        exp(&mut c, "L OK [CAPABILITY {*}] logged in").await;
        c.send("n NOOP").await;
        exp(&mut c, "n OK NOOP completed").await;
        let mut d = login(&server, "u").await;
        d.send("n NOOP").await;
        exp(&mut d, "n OK NOOP completed").await;
        server.stop().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_of_a_3mb_literal_and_oversized_literals() {
    tokio::spawn(async move {
        let server = TestServer::start_with(|c| c.imap.max_literal = 4 * 1024 * 1024).await;
        server.add_account("u", "pw");
        let mut c = login(&server, "u").await;
        let mut msg = b"Subject: big\r\n\r\n".to_vec();
        while msg.len() < 3 * 1024 * 1024 {
            msg.extend_from_slice(
                b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstu\r\n",
            );
        }
        c.send(&format!("A1 APPEND INBOX {{{}}}", msg.len())).await;
        exp(&mut c, "+ Ready for message data").await;
        c.send_raw(&msg).await;
        c.send("").await;
        exp(&mut c, "A1 OK [APPENDUID {*} 1] APPEND completed").await;
        c.send("S1 STATUS INBOX (MESSAGES SIZE)").await;
        exp(
            &mut c,
            &format!("* STATUS \"INBOX\" (MESSAGES 1 SIZE {})", msg.len()),
        )
        .await;
        exp(&mut c, "S1 OK STATUS completed").await;
        // Over max_literal: refused, session goes on.
        c.send("A2 APPEND INBOX {5000000}").await;
        exp(&mut c, "A2 NO [TOOBIG] {*}").await;
        // A non-synchronising one that can be skipped is skipped.
        c.send("A3 LOGIN {70000+}").await;
        c.send_raw(&vec![b'y'; 70000]).await;
        c.send("").await;
        exp(&mut c, "A3 NO [TOOBIG] {*}").await;
        c.send("N1 NOOP").await;
        exp(&mut c, "N1 OK NOOP completed").await;
        // An endless line is refused once over the limit, then the session goes on.
        let long = vec![b'x'; 70 * 1024];
        c.send_raw(b"L1 NOOP ").await;
        c.send_raw(&long).await;
        c.send("").await;
        exp(&mut c, "L1 BAD command line too long {*}").await;
        c.send("N2 NOOP").await;
        exp(&mut c, "N2 OK NOOP completed").await;
        // One that cannot be skipped ends the connection.
        c.send("A4 APPEND INBOX {4194305+}").await;
        exp(&mut c, "A4 BAD [TOOBIG] {*}").await;
        exp(&mut c, "* BYE {*}").await;
        assert!(closed(&mut c).await);
        server.stop().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_commands_run_in_order() {
    tokio::spawn(async move {
        let server = TestServer::start().await;
        server.add_account("u", "pw");
        let mut c = server.connect(Protocol::Imap).await;
        exp(&mut c, "* OK {*}").await;
        c.send_raw(b"p1 LOGIN u pw\r\np2 CREATE x\r\np3 SELECT x\r\np4 NOOP\r\np5 LOGOUT\r\n")
            .await;
        exp(&mut c, "p1 OK {*}").await;
        exp(&mut c, "p2 OK [MAILBOXID ({*})] CREATE completed").await;
        let v = until_tagged(&mut c, "p3").await;
        assert!(v.last().unwrap().starts_with("p3 OK [READ-WRITE]"));
        exp(&mut c, "p4 OK NOOP completed").await;
        exp(&mut c, "* BYE {*}").await;
        exp(&mut c, "p5 OK LOGOUT completed").await;
        assert!(closed(&mut c).await);
        server.stop().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_says_bye() {
    tokio::spawn(async move {
        let server = TestServer::start().await;
        server.add_account("u", "pw");
        let mut c = login(&server, "u").await;
        let mut d = server.connect(Protocol::Imap).await;
        exp(&mut d, "* OK {*}").await;
        let stop = tokio::spawn(server.stop());
        exp(&mut c, "* BYE [UNAVAILABLE] server shutting down").await;
        exp(&mut d, "* BYE [UNAVAILABLE] server shutting down").await;
        stop.await.unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_disabled_without_tls_when_required() {
    tokio::spawn(async move {
        let server = TestServer::start_with(|c| c.server.require_tls_for_plaintext = true).await;
        server.add_account("u", "pw");
        let mut c = server.connect(Protocol::Imap).await;
        let g = exp(&mut c, "* OK [CAPABILITY {*}] mailroom ready").await;
        assert!(
            g.contains(" LOGINDISABLED") && g.contains(" STARTTLS"),
            "{g}"
        );
        assert!(
            !g.contains("AUTH=PLAIN") && !g.contains("AUTH=LOGIN"),
            "{g}"
        );
        c.send("a LOGIN u pw").await;
        exp(&mut c, "a NO [PRIVACYREQUIRED] {*}").await;
        c.send("b AUTHENTICATE PLAIN AHUAcHc=").await;
        exp(&mut c, "b NO [PRIVACYREQUIRED] {*}").await;
        server.stop().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_referral_for_a_moved_account() {
    tokio::spawn(async move {
    let server = TestServer::start().await;
    server
        .directory()
        .add_alias("john@localhost", "John@othercompany.com")
        .unwrap();
    let mut c = server.connect(Protocol::Imap).await;
    exp(&mut c, "* OK {*}").await;
    c.send("a LOGIN john pw").await;
    exp(&mut c,
        "a NO [REFERRAL IMAP://John;AUTH=*@othercompany.com/] account has been moved to a remote system",
    )
    .await;
    server.stop().await;
    })
    .await
    .unwrap();
}

fn pem_certs(path: &std::path::Path) -> Vec<rustls_pki_types::CertificateDer<'static>> {
    use base64::Engine;
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    let mut b64 = String::new();
    let mut inside = false;
    for l in text.lines() {
        if l.starts_with("-----BEGIN CERTIFICATE") {
            inside = true;
            b64.clear();
        } else if l.starts_with("-----END CERTIFICATE") {
            inside = false;
            let der = base64::engine::general_purpose::STANDARD
                .decode(b64.as_bytes())
                .unwrap();
            out.push(rustls_pki_types::CertificateDer::from(der));
        } else if inside {
            b64.push_str(l.trim());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_with_a_real_rustls_client() {
    tokio::spawn(async move {
        use std::sync::Arc;
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let server = TestServer::start().await;
        server.add_account("u", "pw");
        let mut c = server.connect(Protocol::Imap).await;
        exp(&mut c, "* OK [CAPABILITY {*} STARTTLS {*}] mailroom ready").await;
        c.send("t1 STARTTLS").await;
        exp(&mut c, "t1 OK begin TLS negotiation now").await;
        let mut roots = rustls::RootCertStore::empty();
        for cert in pem_certs(&server.data_dir().join("tls/cert.pem")) {
            roots.add(cert).unwrap();
        }
        let cfg = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let tls = connector.connect(name, c.stream).await.unwrap();
        let mut tls = BufReader::new(tls);
        tls.write_all(b"t2 CAPABILITY\r\n").await.unwrap();
        let mut line = String::new();
        tls.read_line(&mut line).await.unwrap();
        assert!(line.starts_with("* CAPABILITY IMAP4rev1"), "{line}");
        assert!(!line.contains("STARTTLS"), "{line}");
        line.clear();
        tls.read_line(&mut line).await.unwrap();
        assert_eq!(line, "t2 OK CAPABILITY completed\r\n");
        tls.write_all(b"t3 LOGIN u pw\r\n").await.unwrap();
        line.clear();
        tls.read_line(&mut line).await.unwrap();
        assert!(line.starts_with("t3 OK [CAPABILITY"), "{line}");
        server.stop().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_timeout_closes_with_bye() {
    tokio::spawn(async move {
        let server = TestServer::start_with(|c| c.imap.login_timeout_secs = 1).await;
        let mut c = server.connect(Protocol::Imap).await;
        exp(&mut c, "* OK {*}").await;
        exp(&mut c, "* BYE autologout; idle for too long").await;
        assert!(closed(&mut c).await);
        server.stop().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_registered_with_account_and_state() {
    tokio::spawn(async move {
        let server = TestServer::start().await;
        server.add_account("u", "pw");
        let mut c = login(&server, "u").await;
        select(&mut c, "INBOX").await;
        let list = server.running().ctx.registry.list();
        assert!(
            list.iter().any(|s| s.label.starts_with("IMAP-")
                && s.account.as_deref() == Some("u@localhost")
                && s.state == "selected"),
            "{list:?}"
        );
        server.stop().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_with_thousands_of_ors_is_refused() {
    tokio::spawn(async move {
        let server = TestServer::start().await;
        server.add_account("u", "pw");
        server.deliver("u", MSG).await;
        let mut c = login(&server, "u").await;
        select(&mut c, "INBOX").await;
        let mut q = String::from("s1 SEARCH");
        for _ in 0..5000 {
            q.push_str(" OR ALL");
        }
        q.push_str(" ALL ALL");
        c.send(&q).await;
        exp(&mut c, "s1 BAD {*}").await;
        let mut q = String::from("s2 SEARCH");
        for _ in 0..10000 {
            q.push_str(" OR ALL");
        }
        c.send(&q).await;
        exp(&mut c, "s2 BAD {*}").await;
        c.send("n NOOP").await;
        exp(&mut c, "n OK NOOP completed").await;
        server.stop().await;
    })
    .await
    .unwrap();
}

/// AUTHENTICATE SCRAM-SHA-256 with SASL-IR, as mutt sends it: the client answers the
/// server-final message with an empty line (RFC 3501 6.2.2, RFC 7677), which must not be
/// mistaken for an ignorable blank line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticate_scram_sha256_with_empty_final_response() {
    use base64::Engine;
    use sha2::Digest;
    let b64 = base64::engine::general_purpose::STANDARD;
    let server = TestServer::start().await;
    server.add_account("alice", "pw");
    let mut c = server.connect(Protocol::Imap).await;
    exp(&mut c, "* OK {*}").await;
    let cnonce = "fyko+d2lbbFgONRv9qkxdawL";
    let first_bare = format!("n=alice,r={cnonce}");
    c.send(&format!(
        "a AUTHENTICATE SCRAM-SHA-256 {}",
        b64.encode(format!("n,a=alice,{first_bare}"))
    ))
    .await;
    let l = exp(&mut c, "+ {*}").await;
    let server_first = String::from_utf8(b64.decode(&l[2..]).unwrap()).unwrap();
    let mut nonce = String::new();
    let mut salt = Vec::new();
    let mut iters = 0u32;
    for f in server_first.split(',') {
        if let Some(v) = f.strip_prefix("r=") {
            nonce = v.to_string();
        } else if let Some(v) = f.strip_prefix("s=") {
            salt = b64.decode(v).unwrap();
        } else if let Some(v) = f.strip_prefix("i=") {
            iters = v.parse().unwrap();
        }
    }
    assert!(nonce.starts_with(cnonce));
    let salted = mailroom_directory::ScramKeys::salted_password(b"pw", &salt, iters);
    let client_key = hmac_sha256(&salted, b"Client Key");
    let stored_key = sha2::Sha256::digest(&client_key);
    let without_proof = format!("c={},r={nonce}", b64.encode("n,a=alice,"));
    let auth_message = format!("{first_bare},{server_first},{without_proof}");
    let sig = hmac_sha256(&stored_key, auth_message.as_bytes());
    let proof: Vec<u8> = client_key.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
    c.send(&b64.encode(format!("{without_proof},p={}", b64.encode(&proof))))
        .await;
    let l = exp(&mut c, "+ {*}").await;
    let server_final = String::from_utf8(b64.decode(&l[2..]).unwrap()).unwrap();
    let server_key = hmac_sha256(&salted, b"Server Key");
    let want = b64.encode(hmac_sha256(&server_key, auth_message.as_bytes()));
    assert_eq!(server_final, format!("v={want}"));
    c.send("").await;
    exp(&mut c, "a OK [CAPABILITY {*}] logged in").await;
    // Blank lines between commands are still ignored afterwards.
    c.send("").await;
    c.send("b NOOP").await;
    exp(&mut c, "b OK {*}").await;
    server.stop().await;
}

/// P13: a successful IMAP login (LOGIN or AUTHENTICATE) records the client address for
/// POP-before-SMTP style relaying; a failed one records nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_records_the_peer_for_relaying() {
    tokio::spawn(async move {
        let server = TestServer::start().await;
        server.add_account("u", "pw");
        let relay = &server.running().ctx.relay;
        let mut c = server.connect(Protocol::Imap).await;
        exp(&mut c, "* OK {*}").await;
        c.send("a LOGIN u wrong").await;
        exp(&mut c, "a NO [AUTHENTICATIONFAILED] {*}").await;
        assert!(relay.is_empty());
        c.send("b LOGIN u pw").await;
        exp(&mut c, "b OK {*}").await;
        assert!(relay.is_authorized("127.0.0.1".parse().unwrap()));
        assert_eq!(relay.len(), 1);
        server.stop().await;
    })
    .await
    .unwrap();
}

/// With the default configuration CRAM-MD5 is neither offered nor accepted (clients that
/// pick it because it is offered do not fall back when the account has no mail secret).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cram_md5_is_off_by_default() {
    tokio::spawn(async move {
        let default = mailroom_server::Config::default().server.cram_md5;
        let server = TestServer::start_with(|c| c.server.cram_md5 = default).await;
        server.add_account("u", "pw");
        let mut c = server.connect(Protocol::Imap).await;
        let g = exp(&mut c, "* OK [CAPABILITY {*}] mailroom ready").await;
        assert!(!g.contains("AUTH=CRAM-MD5"), "{g}");
        assert!(
            g.contains(" AUTH=PLAIN") && g.contains(" AUTH=SCRAM-SHA-256"),
            "{g}"
        );
        c.send("a AUTHENTICATE CRAM-MD5").await;
        exp(
            &mut c,
            "a NO [CANNOT] unsupported authentication mechanism CRAM-MD5",
        )
        .await;
        c.send("b AUTHENTICATE PLAIN AHUAcHc=").await;
        exp(&mut c, "b OK [CAPABILITY {*}] {*}").await;
        server.stop().await;
    })
    .await
    .unwrap();
}

/// FETCH of a 5 MB message through a real connection: BODY[] and a partial that spans
/// many chunks and flushes arrive byte for byte, and the session goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_of_a_5mb_message_streams_byte_for_byte() {
    tokio::spawn(async move {
        let server = TestServer::start().await;
        server.add_account("u", "pw");
        let mut msg = b"Subject: big\r\n\r\n".to_vec();
        let mut i = 0u32;
        while msg.len() < 5 * 1024 * 1024 {
            msg.extend_from_slice(
                format!("{i:08} {}\r\n", "z".repeat((i % 70) as usize)).as_bytes(),
            );
            i += 1;
        }
        server.append_to("u", "INBOX", &msg).await;
        let mut c = login(&server, "u").await;
        c.send("S SELECT INBOX").await;
        until_tagged(&mut c, "S").await;
        c.send("F1 FETCH 1 (BODY.PEEK[] BODY.PEEK[]<1000.3000000> RFC822.SIZE)")
            .await;
        exp(&mut c, &format!("* 1 FETCH (BODY[] {{{}}}", msg.len())).await;
        let got = Box::pin(c.read_exact(msg.len())).await;
        assert!(got == msg, "BODY[] differs");
        let head = Box::pin(c.read_line_raw()).await.unwrap();
        assert_eq!(head, b" BODY[]<1000> {3000000}\r\n");
        let got = Box::pin(c.read_exact(3_000_000)).await;
        assert!(got == msg[1000..3_001_000], "partial differs");
        exp(&mut c, &format!(" RFC822.SIZE {})", msg.len())).await;
        exp(&mut c, "F1 OK FETCH completed").await;
        c.send("N NOOP").await;
        exp(&mut c, "N OK NOOP completed").await;
        server.stop().await;
    })
    .await
    .unwrap();
}

/// The client side of COMPRESS=DEFLATE (RFC 4978) over a connection (the test
/// [`Client`]'s socket, or TLS over it).
struct Deflated<S> {
    c: S,
    comp: Box<miniz_oxide::deflate::core::CompressorOxide>,
    decomp: Box<miniz_oxide::inflate::stream::InflateState>,
    /// Inflated input not yet returned.
    text: Vec<u8>,
    /// Compressed octets received, in total.
    wire_in: usize,
}

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> Deflated<S> {
    /// Starts compressing over `c`, right after COMPRESS's OK was read (and nothing more).
    fn new(c: S) -> Deflated<S> {
        use miniz_oxide::DataFormat;
        let mut comp = Box::<miniz_oxide::deflate::core::CompressorOxide>::default();
        comp.set_format_and_level(DataFormat::Raw, 6);
        // Anything already read past the tagged OK is compressed data.
        let mut d = Deflated {
            decomp: miniz_oxide::inflate::stream::InflateState::new_boxed(DataFormat::Raw),
            comp,
            text: Vec::new(),
            wire_in: 0,
            c,
        };
        d.text.clear();
        d
    }

    /// Sends `data` compressed, with a sync flush.
    async fn send_raw(&mut self, data: &[u8]) {
        let mut out = vec![0u8; data.len() + 1024];
        let r = miniz_oxide::deflate::stream::deflate(
            &mut self.comp,
            data,
            &mut out,
            miniz_oxide::MZFlush::Sync,
        );
        assert_eq!(r.bytes_consumed, data.len());
        assert!(r.bytes_written < out.len());
        out.truncate(r.bytes_written);
        use tokio::io::AsyncWriteExt;
        self.c.write_all(&out).await.unwrap();
    }

    async fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\r\n").as_bytes()).await;
    }

    /// Reads until `n` inflated octets are available; returns them.
    async fn read_exact(&mut self, n: usize) -> Vec<u8> {
        self.fill(n).await;
        self.text.drain(..n).collect()
    }

    /// Reads until `n` inflated octets are buffered.
    async fn fill(&mut self, n: usize) {
        use tokio::io::AsyncReadExt;
        while self.text.len() < n {
            let mut chunk = [0u8; 4096];
            let got =
                tokio::time::timeout(std::time::Duration::from_secs(10), self.c.read(&mut chunk))
                    .await
                    .expect("time-out reading compressed data")
                    .unwrap();
            assert!(
                got > 0,
                "connection closed; inflated so far: {:?}",
                self.text
            );
            self.wire_in += got;
            let mut input = &chunk[..got];
            // Until the input is used and the inflater holds no more output.
            let mut more = true;
            while !input.is_empty() || more {
                let mut out = [0u8; 16384];
                let r = miniz_oxide::inflate::stream::inflate(
                    &mut self.decomp,
                    input,
                    &mut out,
                    miniz_oxide::MZFlush::None,
                );
                assert!(
                    matches!(r.status, Ok(_) | Err(miniz_oxide::MZError::Buf)),
                    "{r:?}"
                );
                self.text.extend_from_slice(&out[..r.bytes_written]);
                input = &input[r.bytes_consumed..];
                more = r.bytes_written == out.len();
                if r.bytes_consumed == 0 && r.bytes_written == 0 {
                    break;
                }
            }
        }
    }

    /// Reads one inflated line (without CRLF).
    async fn line(&mut self) -> String {
        loop {
            if let Some(i) = self.text.windows(2).position(|w| w == b"\r\n") {
                let l = self.read_exact(i + 2).await;
                return String::from_utf8(l[..i].to_vec()).unwrap();
            }
            self.fill(self.text.len() + 1).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compress_deflate_session_end_to_end() {
    tokio::spawn(async move {
        let server = TestServer::start().await;
        server.add_account("u", "pw");
        server.deliver("u", MSG).await;
        let mut c = login(&server, "u").await;
        c.send("z1 COMPRESS DEFLATE").await;
        assert_eq!(
            exp(&mut c, "z1 OK DEFLATE active").await,
            "z1 OK DEFLATE active"
        );
        assert!(c.unread().is_empty(), "data after COMPRESS's OK");
        let mut z = Deflated::new(c.stream);
        // Twice: RFC 4978 section 3.
        z.send("z2 COMPRESS DEFLATE").await;
        assert_eq!(
            z.line().await,
            "z2 NO [COMPRESSIONACTIVE] DEFLATE is already active via COMPRESS"
        );
        z.send("z3 COMPRESS FOO").await;
        assert_eq!(z.line().await, "z3 BAD unknown compression mechanism FOO");
        z.send("z4 EXAMINE INBOX").await;
        let mut lines = Vec::new();
        loop {
            let l = z.line().await;
            let done = l.starts_with("z4 ");
            lines.push(l);
            if done {
                break;
            }
        }
        assert_eq!(lines[2], "* 1 EXISTS");
        assert_eq!(lines.last().unwrap(), "z4 OK [READ-ONLY] EXAMINE completed");
        z.send("z5 FETCH 1 (BODY.PEEK[TEXT] RFC822.SIZE)").await;
        assert_eq!(z.line().await, "* 1 FETCH (BODY[TEXT] {6}");
        assert_eq!(z.read_exact(6).await, b"body\r\n");
        let rest = z.line().await;
        assert!(rest.starts_with(" RFC822.SIZE "), "{rest}");
        assert_eq!(z.line().await, "z5 OK FETCH completed");
        // APPEND with a 20 000-octet literal (LITERAL+), sent compressed in two writes.
        let body: Vec<u8> = (0..20_000u32)
            .map(|i| {
                if i % 100 == 98 {
                    b'\r'
                } else if i % 100 == 99 {
                    b'\n'
                } else {
                    b'a' + (i % 26) as u8
                }
            })
            .collect();
        z.send_raw(format!("z6 APPEND INBOX {{{}+}}\r\n", body.len()).as_bytes())
            .await;
        z.send_raw(&body).await;
        z.send("").await;
        assert_eq!(z.line().await, "* 2 EXISTS");
        assert_eq!(z.line().await, "* 2 RECENT");
        let appended = z.line().await;
        assert!(appended.starts_with("z6 OK [APPENDUID "), "{appended}");
        z.send("z7 NOOP").await;
        assert_eq!(z.line().await, "z7 OK NOOP completed");
        z.send("z8 FETCH 2 BODY.PEEK[]").await;
        assert_eq!(z.line().await, "* 2 FETCH (BODY[] {20000}");
        assert_eq!(z.read_exact(body.len()).await, body);
        assert_eq!(z.line().await, ")");
        assert_eq!(z.line().await, "z8 OK FETCH completed");
        // The repetitive literal came back in far fewer octets than it has.
        assert!(z.wire_in < 5_000, "{} compressed octets", z.wire_in);
        z.send("z9 LOGOUT").await;
        assert_eq!(z.line().await, "* BYE mailroom logging out");
        assert_eq!(z.line().await, "z9 OK LOGOUT completed");
    })
    .await
    .unwrap();
}

/// COMPRESS after STARTTLS (RFC 4978 section 3: compressed, then encrypted), with a real
/// rustls client under the DEFLATE streams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compress_deflate_over_tls() {
    tokio::spawn(async move {
        use std::sync::Arc;
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let server = TestServer::start().await;
        server.add_account("u", "pw");
        server.deliver("u", MSG).await;
        let mut c = server.connect(Protocol::Imap).await;
        exp(&mut c, "* OK [CAPABILITY {*} STARTTLS {*}] mailroom ready").await;
        c.send("t1 STARTTLS").await;
        exp(&mut c, "t1 OK begin TLS negotiation now").await;
        let mut roots = rustls::RootCertStore::empty();
        for cert in pem_certs(&server.data_dir().join("tls/cert.pem")) {
            roots.add(cert).unwrap();
        }
        let cfg = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let tls = connector.connect(name, c.stream).await.unwrap();
        let mut tls = BufReader::new(tls);
        let mut line = String::new();
        tls.write_all(b"t2 LOGIN u pw\r\n").await.unwrap();
        tls.read_line(&mut line).await.unwrap();
        assert!(line.starts_with("t2 OK [CAPABILITY "), "{line}");
        assert!(line.contains(" COMPRESS=DEFLATE"), "{line}");
        tls.write_all(b"t3 COMPRESS DEFLATE\r\n").await.unwrap();
        line.clear();
        tls.read_line(&mut line).await.unwrap();
        assert_eq!(line, "t3 OK DEFLATE active\r\n");
        assert!(tls.buffer().is_empty());
        let mut z = Deflated::new(tls.into_inner());
        z.send("t4 COMPRESS DEFLATE").await;
        assert_eq!(
            z.line().await,
            "t4 NO [COMPRESSIONACTIVE] DEFLATE is already active via COMPRESS"
        );
        z.send("t5 EXAMINE INBOX").await;
        loop {
            let l = z.line().await;
            if l.starts_with("t5 ") {
                assert_eq!(l, "t5 OK [READ-ONLY] EXAMINE completed");
                break;
            }
        }
        z.send("t6 FETCH 1 BODY.PEEK[TEXT]").await;
        assert_eq!(z.line().await, "* 1 FETCH (BODY[TEXT] {6}");
        assert_eq!(z.read_exact(6).await, b"body\r\n");
        assert_eq!(z.line().await, ")");
        assert_eq!(z.line().await, "t6 OK FETCH completed");
        z.send("t7 LOGOUT").await;
        assert_eq!(z.line().await, "* BYE mailroom logging out");
        assert_eq!(z.line().await, "t7 OK LOGOUT completed");
        server.stop().await;
    })
    .await
    .unwrap();
}

/// RFC 3516 4.4: APPEND with a literal8 holding NULs stores them unchanged; BINARY
/// answers them as a literal8, BODY as they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_literal8_with_nul_round_trips() {
    tokio::spawn(async move {
        let server = TestServer::start().await;
        server.add_account("u", "pw");
        let mut c = login(&server, "u").await;
        let msg = b"Subject: nul\r\nContent-Transfer-Encoding: binary\r\n\r\na\x00b\x00c";
        c.send_raw(format!("A1 APPEND INBOX ~{{{}+}}\r\n", msg.len()).as_bytes())
            .await;
        c.send_raw(msg).await;
        c.send("").await;
        exp(&mut c, "A1 OK [APPENDUID {*} 1] APPEND completed").await;
        c.send("S SELECT INBOX").await;
        until_tagged(&mut c, "S").await;
        c.send("F1 FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])").await;
        exp(&mut c, "* 1 FETCH (BINARY[1] ~{5}").await;
        let got = Box::pin(c.read_exact(5)).await;
        assert_eq!(got, b"a\x00b\x00c");
        exp(&mut c, " BINARY.SIZE[1] 5)").await;
        exp(&mut c, "F1 OK FETCH completed").await;
        c.send("F2 FETCH 1 (BODY.PEEK[])").await;
        exp(&mut c, &format!("* 1 FETCH (BODY[] {{{}}}", msg.len())).await;
        let got = Box::pin(c.read_exact(msg.len())).await;
        assert_eq!(got, msg);
        exp(&mut c, ")").await;
        exp(&mut c, "F2 OK FETCH completed").await;
        server.stop().await;
    })
    .await
    .unwrap();
}
