//! Interoperability: messages made by [`Enveloper`] are decrypted by OpenSSL's
//! `openssl cms -decrypt` (Debian's `openssl`) back to the original, octet for octet.
//!
//! The certificate and key are made here with `openssl req -x509 -newkey rsa:2048`. The
//! test is skipped, loudly, only when there is no `openssl` command and
//! `MAILROOM_REQUIRE_OPENSSL` is not set (`scripts/check.sh` sets it and installs
//! `openssl` when missing).
#![allow(clippy::unwrap_used)]

use mailroom_smime::{outer_header, Enveloper, Recipient};
use std::path::Path;
use std::process::Command;

/// `openssl`, or `None` (skip) when it is missing and not required.
pub fn openssl() -> Option<&'static str> {
    let found = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("openssl");
    }
    assert!(
        std::env::var_os("MAILROOM_REQUIRE_OPENSSL").is_none(),
        "MAILROOM_REQUIRE_OPENSSL is set but there is no openssl command"
    );
    eprintln!("SKIPPED: no openssl command (apt-get install openssl); nothing was checked");
    None
}

/// A fresh RSA 2048 certificate and key in `dir`: (cert.pem, key.pem).
fn make_cert(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let st = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=openssl interop/emailAddress=u@localhost"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    (cert, key)
}

fn envelope(r: &Recipient, original: &[u8]) -> Vec<u8> {
    let head = &original[..original.len().min(64 * 1024)];
    let outer = outer_header(head, head.len() == original.len());
    let mut out = Vec::new();
    let mut rng = getrandom::SysRng;
    let mut e = Enveloper::new(r, &outer, original.len() as u64, &mut rng, &mut out).unwrap();
    let len = e.len();
    for c in original.chunks(64 * 1024) {
        e.update(c, &mut out).unwrap();
    }
    e.finish(&mut out).unwrap();
    assert_eq!(out.len() as u64, len);
    out
}

#[test]
fn openssl_cms_decrypt_gives_back_the_original() {
    let Some(openssl) = openssl() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = make_cert(dir.path());
    let r = Recipient::from_pem_or_der(&std::fs::read(&cert).unwrap()).unwrap();
    let mut big =
        b"From: a@x\r\nTo: b@x\r\nSubject: big\r\nContent-Type: application/octet-stream\r\n\r\n"
            .to_vec();
    big.extend((0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    let originals: Vec<(&str, Vec<u8>)> = vec![
        (
            "text",
            b"From: Ann <ann@x>\r\nSubject: hi\r\n\r\nHello.\r\n".to_vec(),
        ),
        ("empty body", b"Subject: x\r\n\r\n".to_vec()),
        ("header only", b"Subject: no body".to_vec()),
        (
            "eight bit",
            "Subject: caf\u{e9}\r\n\r\nna\u{ef}ve \u{2603}\r\n"
                .as_bytes()
                .to_vec(),
        ),
        ("block multiple", vec![b'a'; 4096]),
        ("binary 300 KB", big),
    ];
    for (name, original) in originals {
        let msg = envelope(&r, &original);
        let input = dir.path().join("in.eml");
        let output = dir.path().join("out.eml");
        std::fs::write(&input, &msg).unwrap();
        let o = Command::new(openssl)
            .args(["cms", "-decrypt"])
            .arg("-inkey")
            .arg(&key)
            .arg("-recip")
            .arg(&cert)
            .arg("-in")
            .arg(&input)
            .arg("-out")
            .arg(&output)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{name}: openssl cms -decrypt failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            std::fs::read(&output).unwrap() == original,
            "{name}: openssl's plaintext differs from the original"
        );
    }
}
