//! `COPY`/`MOVE … ENCRYPTED` (seed 001, I13) end to end: messages are copied and moved
//! encrypted through IMAP, fetched back, and OpenSSL's `openssl cms -decrypt -inkey
//! key.pem -recip cert.pem` (Debian's `openssl`) gives back each original, as FETCH
//! BODY[] of the original returns it, octet for octet: small and large (past the 64 KiB
//! read chunk and the 1 MiB spool threshold), 8-bit, binary, without a body, with a
//! header longer than the part read for the outer header.
//!
//! The certificate and key are made here with `openssl req -x509 -newkey rsa:2048`. The
//! test is skipped, loudly, only when there is no `openssl` command and
//! `MAILROOM_REQUIRE_OPENSSL` is not set (`scripts/check.sh` sets it, and installs
//! `openssl` when missing).
#![allow(clippy::unwrap_used)]

mod common;

use base64::Engine;
use common::*;
use mailroom_server::net::Protocol;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether `openssl` can be run; panics when it is required and missing.
fn have_openssl() -> bool {
    let found = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("MAILROOM_REQUIRE_OPENSSL").is_none(),
            "MAILROOM_REQUIRE_OPENSSL is set but there is no openssl command"
        );
        eprintln!("SKIPPED: no openssl command (apt-get install openssl); nothing was checked");
    }
    found
}

fn openssl(args: &[&str], paths: &[&Path]) -> Vec<u8> {
    let mut c = Command::new("openssl");
    c.args(args);
    for p in paths {
        c.arg(p);
    }
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

/// A fresh RSA 2048 certificate and key: (cert.pem, key.pem, DER of the certificate).
fn make_cert(dir: &Path) -> (PathBuf, PathBuf, Vec<u8>) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let subj = "/CN=COPY ENCRYPTED test/emailAddress=user1@localhost";
    openssl(
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", subj, "-keyout",
        ],
        &[&key, Path::new("-out"), &cert],
    );
    let der = openssl(&["x509", "-outform", "DER", "-in"], &[&cert]);
    (cert, key, der)
}

/// Reads lines up to the tagged one, which must match `tagged`.
async fn until_tagged(c: &mut Client, tag: &str, tagged: &str) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let l = c.line().await;
        if l.starts_with(&format!("{tag} ")) {
            assert!(glob(tagged, &l), "expected {tagged:?}, got {l:?}");
            return lines;
        }
        lines.push(l);
    }
}

/// `FETCH seq BODY.PEEK[]`: the message's octets.
async fn fetch_body(c: &mut Client, tag: &str, seq: usize) -> Vec<u8> {
    c.send(&format!("{tag} FETCH {seq} BODY.PEEK[]")).await;
    let head = c.line().await;
    let prefix = format!("* {seq} FETCH (BODY[] {{");
    let n: usize = head
        .strip_prefix(&prefix)
        .and_then(|r| r.strip_suffix('}'))
        .unwrap_or_else(|| panic!("unexpected {head:?}"))
        .parse()
        .unwrap();
    let body = c.read_exact(n).await;
    c.expect(")").await;
    c.expect(&format!("{tag} OK FETCH completed")).await;
    body
}

fn originals() -> Vec<(&'static str, Vec<u8>)> {
    let mut big = b"From: Big <big@example.org>\r\nTo: user1@localhost\r\nSubject: big\r\n\
MIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: binary\r\n\r\n"
        .to_vec();
    // 1.5 MB of every octet value but CR and LF (no line structure to normalise).
    big.extend(
        (0..1_500_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
            .map(|b| if b == b'\r' || b == b'\n' { b'.' } else { b }),
    );
    let mut long_header = String::from("From: long@example.org\r\n");
    for i in 0..1500 {
        long_header.push_str(&format!(
            "X-Trace-{i:04}: some trace field that is long\r\n"
        ));
    }
    long_header.push_str("Subject: past the first 64 KiB\r\n\r\nbody\r\n");
    vec![
        (
            "text",
            b"From: Ann <ann@example.org>\r\nTo: user1@localhost\r\nSubject: hi\r\n\
Date: Mon, 7 Dec 2026 10:00:00 +0000\r\nMessage-ID: <hi@example.org>\r\n\r\nHello.\r\n"
                .to_vec(),
        ),
        (
            "8-bit",
            "Subject: caf\u{e9}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nna\u{ef}ve \u{2603}\r\n"
                .as_bytes()
                .to_vec(),
        ),
        ("no body", b"Subject: only a header\r\n\r\n".to_vec()),
        ("binary 1.5 MB", big),
        ("long header", long_header.into_bytes()),
    ]
}

#[tokio::test]
async fn openssl_decrypts_encrypted_copies_to_the_originals() {
    if !have_openssl() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key, der) = make_cert(tmp.path());
    let server = TestServer::start().await;
    server.add_account("user1", "pw");
    // `*` finds this one; the commands below also name it in base64.
    server
        .directory()
        .set_smime_cert("user1", Some(&der))
        .unwrap();
    let originals = originals();
    for (_, m) in &originals {
        server.append("user1", m).await;
    }
    let n = originals.len();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&der);

    let mut c = server.connect(Protocol::Imap).await;
    c.expect("* OK {*}").await;
    c.send("a1 LOGIN user1 pw").await;
    until_tagged(&mut c, "a1", "a1 OK {*}").await;
    c.send("a2 SELECT INBOX").await;
    until_tagged(&mut c, "a2", "a2 OK {*}").await;
    let mut plain = Vec::new();
    for seq in 1..=n {
        plain.push(fetch_body(&mut c, &format!("f{seq}"), seq).await);
    }
    assert_eq!(
        plain[0], originals[0].1,
        "the store keeps a CRLF message as it is"
    );
    c.send(&format!("a3 COPY 1:{n} Trash ENCRYPTED {b64}"))
        .await;
    until_tagged(
        &mut c,
        "a3",
        &format!("a3 OK [COPYUID {{*}} 1:{n} 1:{n}] COPY completed"),
    )
    .await;
    c.send("a4 UID MOVE 1 Junk ENCRYPTED *").await;
    let untagged = until_tagged(&mut c, "a4", "a4 OK MOVE completed").await;
    assert_eq!(untagged.len(), 2, "{untagged:?}");
    assert!(glob("* OK [COPYUID {*} 1 1] moved", &untagged[0]));
    assert_eq!(untagged[1], "* 1 EXPUNGE");

    // Each copy, and the moved message, decrypts to its original.
    let pem = (&cert, &key, tmp.path());
    let recipient = mailroom_smime::Recipient::from_der(&der).unwrap();
    for (i, (name, _)) in originals.iter().enumerate() {
        let msg = check(&mut c, pem, "Trash", i + 1, &plain[i], name).await;
        // The quota check's bound holds.
        let bound = mailroom_server::smime::encrypted_size_bound(&recipient, plain[i].len() as u64);
        assert!(msg.len() as u64 <= bound, "{name}: {} > {bound}", msg.len());
        assert!(
            bound - msg.len() as u64 <= 64 * 1024 + 300,
            "{name}: loose bound"
        );
    }
    check(&mut c, pem, "Junk", 1, &plain[0], "moved").await;
    c.send("z LOGOUT").await;
}

/// Message `seq` of `mailbox`, decrypted by `openssl cms -decrypt`, is `want`; returns
/// the encrypted message.
async fn check(
    c: &mut Client,
    (cert, key, tmp): (&PathBuf, &PathBuf, &Path),
    mailbox: &str,
    seq: usize,
    want: &[u8],
    name: &str,
) -> Vec<u8> {
    c.send(&format!("s SELECT {mailbox}")).await;
    until_tagged(c, "s", "s OK {*}").await;
    let msg = fetch_body(c, "f", seq).await;
    // The original's last line is not in the clear (the outer header has none of it).
    let tail = &want[want.len().saturating_sub(8)..];
    assert!(
        !msg.windows(tail.len()).any(|w| w == tail),
        "{name}: the end of the original is in the clear"
    );
    let input = tmp.join("in.eml");
    let output = tmp.join("out.eml");
    std::fs::write(&input, &msg).unwrap();
    let recip = Path::new("-recip");
    let (inp, out) = (Path::new("-in"), Path::new("-out"));
    openssl(
        &["cms", "-decrypt", "-inkey"],
        &[key, recip, cert, inp, &input, out, &output],
    );
    let got = std::fs::read(&output).unwrap();
    assert!(
        got == want,
        "{name}: openssl gives {} octets, the original has {}",
        got.len(),
        want.len()
    );
    msg
}
