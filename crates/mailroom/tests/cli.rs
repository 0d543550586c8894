//! The command-line contract, end to end with the real binary: `serve` with the embedded
//! default, account and domain management, `deliver` exit codes, `check-config`, and the
//! kill-during-delivery durability test.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::{bin, run};

fn deliver(dir: &Path, data: &str, to: &str, msg: &[u8], extra: &[&str]) -> (i32, String) {
    let mut c = bin()
        .current_dir(dir)
        .args(["--data", data, "deliver", "--to", to])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(msg).unwrap();
    let out = c.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// A `mailroom serve` child; its listener lines are read from stdout.
struct Server {
    child: Child,
    lines: Vec<String>,
}

impl Server {
    /// Starts `mailroom ARGS` and reads `want` listener lines.
    fn start(dir: &Path, args: &[&str], want: usize) -> Server {
        let mut child = bin()
            .current_dir(dir)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut reader = BufReader::new(stdout);
        let mut lines = Vec::new();
        while lines.len() < want {
            let mut l = String::new();
            if reader.read_line(&mut l).unwrap() == 0 {
                panic!("server exited before listening; got {lines:?}");
            }
            lines.push(l.trim_end().to_string());
        }
        Server { child, lines }
    }

    fn addr(&self, name: &str) -> String {
        self.lines
            .iter()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap()
            .to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn maildir_files(inbox: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(inbox.join("cur"))
        .unwrap()
        .chain(std::fs::read_dir(inbox.join("new")).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[test]
fn serve_with_embedded_default_listens_on_the_documented_ports() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, out, err) = run(tmp.path(), &["account", "add", "alice", "--password", "pw"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "account alice@localhost added\n");
    let mut s = Server::start(tmp.path(), &["serve"], 6);
    assert_eq!(
        s.lines,
        vec![
            "imap 127.0.0.1:1143",
            "imaps 127.0.0.1:1993",
            "pop3 127.0.0.1:1110",
            "pop3s 127.0.0.1:1995",
            "lmtp 127.0.0.1:2424",
            "admin 127.0.0.1:8443"
        ]
    );
    // Data directory and certificate created on first start.
    assert!(tmp.path().join("mailroom-data/directory.db").exists());
    assert!(tmp.path().join("mailroom-data/tls/cert.pem").exists());
    // LMTP delivers into a Maildir file a Maildir reader can open.
    let replies = lmtp_session(
        "127.0.0.1:2424",
        &["alice@localhost"],
        b"Subject: first\r\n\r\nhello\r\n",
    );
    assert!(replies[0].starts_with("250 2.0.0"), "{replies:?}");
    let files = maildir_files(
        &tmp.path()
            .join("mailroom-data/mail/localhost/alice/Maildir"),
    );
    assert_eq!(files.len(), 1, "{files:?}");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        text.starts_with("Return-Path: <sender@example.org>"),
        "{text}"
    );
    assert!(text.contains("Delivered-To: alice@localhost"), "{text}");
    assert!(text.contains("Subject: first"), "{text}");
    assert!(
        text.ends_with("hello\r\n") || text.ends_with("hello\n"),
        "{text}"
    );
    // SIGTERM stops it gracefully.
    let _ = Command::new("kill")
        .args(["-TERM", &s.child.id().to_string()])
        .status();
    let status =
        wait_timeout(&mut s.child, Duration::from_secs(15)).expect("did not stop on SIGTERM");
    assert!(status.success(), "{status:?}");
}

fn wait_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// One LMTP transaction; returns the replies after DATA's terminator, one per recipient.
fn lmtp_session(addr: &str, rcpts: &[&str], msg: &[u8]) -> Vec<String> {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let read = |r: &mut BufReader<TcpStream>| {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        line.trim_end().to_string()
    };
    assert!(read(&mut r).starts_with("220 "));
    w.write_all(b"LHLO test\r\n").unwrap();
    while read(&mut r).starts_with("250-") {}
    w.write_all(b"MAIL FROM:<sender@example.org>\r\n").unwrap();
    assert!(read(&mut r).starts_with("250 "));
    let mut ok = 0;
    for rc in rcpts {
        w.write_all(format!("RCPT TO:<{rc}>\r\n").as_bytes())
            .unwrap();
        if read(&mut r).starts_with("250 ") {
            ok += 1;
        }
    }
    w.write_all(b"DATA\r\n").unwrap();
    assert!(read(&mut r).starts_with("354 "));
    w.write_all(msg).unwrap();
    w.write_all(b".\r\n").unwrap();
    let mut out = Vec::new();
    for _ in 0..ok {
        out.push(read(&mut r));
    }
    w.write_all(b"QUIT\r\n").unwrap();
    out
}

/// `account smime-cert NAME FILE|--clear` (I13) stores a checked certificate; `account
/// show` shows its subject and expiry.
#[test]
fn account_smime_cert_and_show() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let data = d.join("data");
    let data = data.to_str().unwrap();
    let testdata = concat!(env!("CARGO_MANIFEST_DIR"), "/../smime/testdata");
    let pem = format!("{testdata}/rsa2048.cert.pem");
    let ec = format!("{testdata}/ec.cert.pem");
    assert_eq!(
        run(
            d,
            &["--data", data, "account", "add", "ann", "--password", "x"]
        )
        .0,
        0
    );
    let show = || run(d, &["--data", data, "account", "show", "ann"]);
    assert_eq!(
        show().1,
        "account ann@localhost\nadmin no\nmail-secret no\n\
         quota storage none, messages none\nsmime-cert none\n"
    );
    let line = "subject \"EMAIL=user1@localhost,CN=Mailroom Test Recipient\", \
                expires 2126-11-13T20:36:47Z, RSA 2048 bits";
    let (code, out, err) = run(d, &["--data", data, "account", "smime-cert", "ann", &pem]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        format!("S/MIME certificate of ann@localhost set: {line}\n")
    );
    assert!(show().1.ends_with(&format!("smime-cert {line}\n")));
    // The directory keeps the DER of the PEM file.
    let dir =
        mailroom_directory::Directory::open(&d.join("data/directory.db"), "localhost").unwrap();
    let der = dir.smime_cert("ann").unwrap().unwrap();
    let text = std::fs::read_to_string(&pem).unwrap();
    let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    use base64::Engine;
    assert_eq!(
        der,
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap()
    );
    // Refused: a key that cannot be encrypted to, a file that is no certificate, no FILE.
    let (code, _, err) = run(d, &["--data", data, "account", "smime-cert", "ann", &ec]);
    assert_eq!(code, 1);
    assert!(err.contains("not an RSA key (id-ecPublicKey)"), "{err}");
    let junk = d.join("junk");
    std::fs::write(&junk, "hello").unwrap();
    let junk = junk.to_str().unwrap();
    let (code, _, err) = run(d, &["--data", data, "account", "smime-cert", "ann", junk]);
    assert_eq!(code, 1);
    assert!(err.contains("not an X.509 certificate"), "{err}");
    assert_eq!(
        run(d, &["--data", data, "account", "smime-cert", "ann"]).0,
        2
    );
    assert!(show().1.ends_with(&format!("smime-cert {line}\n")));
    let (code, out, _) = run(
        d,
        &["--data", data, "account", "smime-cert", "ann", "--clear"],
    );
    assert_eq!(
        (code, out.as_str()),
        (0, "S/MIME certificate of ann@localhost cleared\n")
    );
    assert!(show().1.ends_with("smime-cert none\n"));
    assert_eq!(run(d, &["--data", data, "account", "show", "nobody"]).0, 1);
}

#[test]
fn account_domain_alias_router_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let data = d.join("data");
    let data = data.to_str().unwrap();
    let (code, out, _) = run(d, &["--data", data, "domain", "add", "example.com"]);
    assert_eq!((code, out.as_str()), (0, "domain example.com added\n"));
    let (_, out, _) = run(d, &["--data", data, "domain", "list"]);
    assert!(out.contains("localhost (main)"), "{out}");
    assert!(out.contains("example.com"), "{out}");
    assert_eq!(
        run(
            d,
            &[
                "--data",
                data,
                "account",
                "add",
                "bob@example.com",
                "--password",
                "x"
            ]
        )
        .0,
        0
    );
    let mut c = bin()
        .args([
            "--data",
            data,
            "account",
            "add",
            "carol",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(b"s3cret\n").unwrap();
    assert!(c.wait().unwrap().success());
    let (_, out, _) = run(d, &["--data", data, "account", "list"]);
    assert_eq!(out, "bob@example.com\ncarol@localhost\n");
    // A duplicate is refused with a reason.
    let (code, _, err) = run(
        d,
        &["--data", data, "account", "add", "carol", "--password", "y"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("already exists"), "{err}");
    // Neither password option: a usage error.
    assert_eq!(run(d, &["--data", data, "account", "add", "dave"]).0, 2);
    assert_eq!(
        run(
            d,
            &["--data", data, "alias", "add", "info@localhost", "carol"]
        )
        .0,
        0
    );
    let (_, out, _) = run(d, &["--data", data, "alias", "list"]);
    assert_eq!(out, "info@localhost -> carol@localhost\n");
    assert_eq!(
        run(
            d,
            &["--data", data, "account", "add", "cl1", "--password", "p"]
        )
        .0,
        0
    );
    let (code, out, err) = run(
        d,
        &["--data", data, "router", "add", "client1.com = cl1.local"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("client1.com"), "{out}");
    // Delivery through the domain mapping adds X-Real-To (P9, seed 000).
    let (code, out) = deliver(
        d,
        data,
        "abcdef@client1.com",
        b"Subject: x\r\n\r\nbody\r\n",
        &[],
    );
    assert_eq!(code, 0, "{out}");
    let files = maildir_files(&Path::new(data).join("mail/localhost/cl1/Maildir"));
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        text.contains("Delivered-To: abcdef@client1.com\r\nX-Real-To: abcdef\r\n"),
        "{text}"
    );
    // Alias delivery, case-insensitive.
    assert_eq!(
        deliver(d, data, "INFO@localhost", b"Subject: y\r\n\r\nz\r\n", &[]).0,
        0
    );
    assert_eq!(
        maildir_files(&Path::new(data).join("mail/localhost/carol/Maildir")).len(),
        1
    );
    assert_eq!(run(d, &["--data", data, "account", "remove", "carol"]).0, 0);
    let (_, out, _) = run(d, &["--data", data, "account", "list", "localhost"]);
    assert_eq!(out, "cl1@localhost\n");
    assert!(!Path::new(data).join("mail/localhost/carol").exists());
}

#[test]
fn deliver_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let data = d.join("data");
    let data = data.to_str().unwrap();
    assert_eq!(
        run(
            d,
            &["--data", data, "account", "add", "alice", "--password", "x"]
        )
        .0,
        0
    );
    let (code, out) = deliver(d, data, "alice", b"Subject: a\r\n\r\nb\r\n", &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("delivered to alice@localhost, uid 1"), "{out}");
    // No header/body separator, a NUL byte, bare LF: stored as given.
    let (code, out) = deliver(
        d,
        data,
        "alice@localhost",
        b"Subject: no body\nX: \0\n",
        &[],
    );
    assert_eq!(code, 0, "{out}");
    let (code, out) = deliver(d, data, "nobody@localhost", b"Subject: a\r\n\r\nb\r\n", &[]);
    assert_eq!(code, 67, "{out}");
    assert!(out.contains("550 5.1.1"), "{out}");
    let (code, _) = deliver(d, data, "nobody@localhost", b"x\r\n", &["--qmail"]);
    assert_eq!(code, 100);
    let (code, _) = deliver(d, data, "someone@elsewhere.example", b"x\r\n", &[]);
    assert_eq!(code, 67);
    // A store that cannot be written: temporary failure, 75 (qmail: 111).
    let broken = d.join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    let broken = broken.to_str().unwrap();
    assert_eq!(
        run(
            d,
            &[
                "--data",
                broken,
                "account",
                "add",
                "alice",
                "--password",
                "x"
            ]
        )
        .0,
        0
    );
    // `account add` made the mail store with the default mailboxes.
    let maildir = Path::new(broken).join("mail/localhost/alice/Maildir");
    for m in ["cur", "Sent/cur", "Drafts/cur", "Trash/cur", "Junk/cur"] {
        assert!(maildir.join(m).is_dir(), "{m} missing after account add");
    }
    std::fs::remove_dir_all(Path::new(broken).join("mail")).unwrap();
    std::fs::write(Path::new(broken).join("mail"), b"not a directory").unwrap();
    let (code, out) = deliver(d, broken, "alice", b"Subject: a\r\n\r\nb\r\n", &[]);
    assert_eq!(code, 75, "{out}");
    let (code, _) = deliver(d, broken, "alice", b"Subject: a\r\n\r\nb\r\n", &["--qmail"]);
    assert_eq!(code, 111);
}

#[test]
fn check_config_reports_file_line_and_key() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(
        d.join("good.toml"),
        "[server]\nmain_domain = \"example.com\"\n",
    )
    .unwrap();
    let (code, out, err) = run(d, &["--config", "good.toml", "check-config"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "good.toml: OK\n");
    std::fs::write(
        d.join("bad.toml"),
        "[server]\nmain_domain = \"example.com\"\n[pop3]\nmax_channels = -3\n",
    )
    .unwrap();
    let (code, _, err) = run(d, &["--config", "bad.toml", "check-config"]);
    assert_eq!(code, 1);
    assert!(err.contains("bad.toml:4: key `pop3.max_channels`"), "{err}");
    let (code, _, err) = run(d, &["--config", "missing.toml", "check-config"]);
    assert_eq!(code, 1);
    assert!(err.contains("missing.toml: cannot read"), "{err}");
}

/// Kills the server with SIGKILL while a loop delivers over LMTP, restarts it, and checks
/// that every message that got `250` is present exactly once, with unique UIDs; twice, so
/// UIDs must also keep growing across restarts.
#[test]
fn sigkill_during_lmtp_delivery_loses_nothing_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let data = d.join("data");
    let data_s = data.to_str().unwrap().to_string();
    assert_eq!(
        run(
            d,
            &[
                "--data",
                &data_s,
                "account",
                "add",
                "alice",
                "--password",
                "x"
            ]
        )
        .0,
        0
    );
    let serve_args = [
        "--data",
        &data_s,
        "serve",
        "--imap",
        "off",
        "--imaps",
        "off",
        "--pop3",
        "off",
        "--pop3s",
        "off",
        "--lmtp",
        "127.0.0.1:0",
        "--admin",
        "off",
    ];
    let mut acked: Vec<u32> = Vec::new();
    let mut seq = 0u32;
    for round in 0..2u64 {
        let mut server = Server::start(d, &serve_args, 1);
        let addr = server.addr("lmtp");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop2 = stop.clone();
        let start_seq = seq;
        let worker = std::thread::spawn(move || {
            let mut acked = Vec::new();
            let mut n = start_seq;
            while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let body = format!(
                    "Subject: seq {n}\r\nX-Seq: {n}\r\n\r\n{}\r\n",
                    "x".repeat(2000 + (n as usize % 5000))
                );
                match try_lmtp(&addr, &body) {
                    Some(true) => acked.push(n),
                    Some(false) => {}
                    None => break,
                }
            }
            (acked, n)
        });
        // Let deliveries land, then kill mid-stream.
        std::thread::sleep(Duration::from_millis(700 + 300 * round));
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (a, n) = worker.join().unwrap();
        assert!(
            !a.is_empty(),
            "round {round}: nothing was delivered before the kill"
        );
        acked.extend(a);
        seq = n + 1000;
    }
    // Restart once more so the store recovers, stop it, then read the store directly.
    drop(Server::start(d, &serve_args, 1));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use mailroom_store::Store;
        let store = mailroom_store::maildir::MaildirStore::open(data.join("mail")).unwrap();
        let key = mailroom_store::AccountKey::new("localhost", "alice").unwrap();
        let account = store.open_account(&key).await.unwrap();
        let inbox = account.mailbox("INBOX").await.unwrap();
        account.sync(inbox.id).await.unwrap();
        let snap = account.messages(inbox.id).await.unwrap();
        let mut uids: Vec<u32> = snap.messages.iter().map(|m| m.uid).collect();
        uids.dedup();
        assert_eq!(uids.len(), snap.messages.len(), "duplicate UIDs");
        let mut seen: std::collections::HashMap<u32, usize> = Default::default();
        for m in snap.messages.iter() {
            let c = account.open_message(inbox.id, m.uid).await.unwrap();
            let head = c.read_range(0, 300).await.unwrap();
            let text = String::from_utf8_lossy(&head);
            let n: u32 = text
                .split("X-Seq: ")
                .nth(1)
                .and_then(|r| r.split("\r\n").next())
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("message without X-Seq: {text}"));
            *seen.entry(n).or_default() += 1;
        }
        for n in &acked {
            assert_eq!(
                seen.get(n).copied(),
                Some(1),
                "acknowledged message {n} present {:?} times",
                seen.get(n)
            );
        }
        for (n, count) in &seen {
            assert_eq!(*count, 1, "message {n} stored {count} times");
        }
        eprintln!(
            "acknowledged {} messages, {} stored",
            acked.len(),
            snap.messages.len()
        );
    });
}

/// One delivery: `Some(true)` on 250, `Some(false)` on a refusal, `None` when the server
/// is gone.
fn try_lmtp(addr: &str, body: &str) -> Option<bool> {
    let s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut w = s.try_clone().ok()?;
    let mut r = BufReader::new(s);
    let expect = |r: &mut BufReader<TcpStream>, code: &str| -> Option<bool> {
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).ok()? == 0 {
                return None;
            }
            if line.len() >= 4 && &line[3..4] == "-" {
                continue;
            }
            return Some(line.starts_with(code));
        }
    };
    if !expect(&mut r, "220")? {
        return Some(false);
    }
    w.write_all(b"LHLO t\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<alice@localhost>\r\nDATA\r\n")
        .ok()?;
    for code in ["250", "250", "250", "354"] {
        if !expect(&mut r, code)? {
            return Some(false);
        }
    }
    w.write_all(body.as_bytes()).ok()?;
    w.write_all(b".\r\n").ok()?;
    let ok = expect(&mut r, "250")?;
    let _ = w.write_all(b"QUIT\r\n");
    let mut rest = Vec::new();
    let _ = r.read_to_end(&mut rest);
    Some(ok)
}

/// `mailroom pop3 --stdio`: one POP3 session on standard input/output, as tcpserver or
/// inetd run it (seed 002 runs ipop3d under tcpserver).
#[test]
fn pop3_on_stdio_serves_one_session() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let data = d.join("data");
    let data = data.to_str().unwrap();
    assert_eq!(
        run(
            d,
            &[
                "--data",
                data,
                "account",
                "add",
                "alice",
                "--password",
                "pw"
            ]
        )
        .0,
        0
    );
    assert_eq!(
        deliver(d, data, "alice", b"Subject: hi\r\n\r\n.dot\r\n", &[]).0,
        0
    );
    let out = pop3_stdio(data, b"USER alice\r\nPASS pw\r\nSTAT\r\nRETR 1\r\nQUIT\r\n");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert!(lines[0].starts_with("+OK"), "{text}");
    assert!(lines[1].starts_with("+OK"), "{text}");
    assert!(lines[2].starts_with("+OK"), "{text}");
    assert!(lines[3].starts_with("+OK 1 "), "{text}");
    assert!(
        text.contains("\r\nSubject: hi\r\n\r\n..dot\r\n.\r\n"),
        "{text}"
    );
    assert!(text.ends_with("\r\n"), "{text}");
    assert_eq!(
        run(d, &["--data", data, "pop3"]).0,
        1,
        "--stdio is required"
    );
}

#[test]
fn account_quota_and_mailbox_alias_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let data = d.join("data");
    let data = data.to_str().unwrap();
    for a in ["jsmith", "boss"] {
        assert_eq!(
            run(d, &["--data", data, "account", "add", a, "--password", "x"]).0,
            0
        );
    }
    let quota = |args: &[&str]| {
        let mut v = vec!["--data", data, "account", "quota"];
        v.extend_from_slice(args);
        run(d, &v)
    };
    let (code, out, _) = quota(&["jsmith", "100M"]);
    assert_eq!(
        (code, out.as_str()),
        (
            0,
            "quota of jsmith@localhost: storage 102400 KiB, messages none\n"
        )
    );
    let (_, out, _) = quota(&["jsmith", "2G", "--messages", "500"]);
    assert_eq!(
        out,
        "quota of jsmith@localhost: storage 2097152 KiB, messages 500\n"
    );
    // SIZE alone keeps the message limit; bytes round up to KiB.
    let (_, out, _) = quota(&["jsmith", "1500"]);
    assert_eq!(
        out,
        "quota of jsmith@localhost: storage 2 KiB, messages 500\n"
    );
    let (_, out, _) = quota(&["jsmith", "500K", "--messages", "none"]);
    assert_eq!(
        out,
        "quota of jsmith@localhost: storage 500 KiB, messages none\n"
    );
    let (_, out, _) = quota(&["jsmith", "none"]);
    assert_eq!(
        out,
        "quota of jsmith@localhost: storage none, messages none\n"
    );
    for bad in ["12X", "-1", "", "M", "99999999999T"] {
        let (code, _, err) = quota(&["jsmith", bad]);
        assert_ne!(code, 0, "{bad:?}: {err}");
    }
    assert_eq!(quota(&["nobody", "1M"]).0, 1);

    let alias = |args: &[&str]| {
        let mut v = vec!["--data", data, "mailbox", "alias"];
        v.extend_from_slice(args);
        run(d, &v)
    };
    let (code, out, _) = alias(&["add", "jsmith", "boss-inbox", "~boss/INBOX"]);
    assert_eq!((code, out.as_str()), (0, "boss-inbox -> ~boss/INBOX\n"));
    alias(&["add", "jsmith", "news", "~public/news/company"]);
    let (_, out, _) = alias(&["list", "jsmith"]);
    assert_eq!(
        out,
        "boss-inbox -> ~boss/INBOX\nnews -> ~public/news/company\n"
    );
    let (code, _, err) = alias(&["add", "jsmith", "INBOX", "~boss/INBOX"]);
    assert_eq!(code, 1, "{err}");
    let (code, out, _) = alias(&["remove", "jsmith", "news"]);
    assert_eq!((code, out.as_str()), (0, "mailbox alias news removed\n"));
    assert_eq!(alias(&["remove", "jsmith", "news"]).0, 1);
    let (_, out, _) = alias(&["list", "jsmith"]);
    assert_eq!(out, "boss-inbox -> ~boss/INBOX\n");
}

/// One `pop3 --stdio` session with `input` on its standard input.
fn pop3_stdio(data: &str, input: &[u8]) -> std::process::Output {
    let mut c = bin()
        .args(["--data", data, "pop3", "--stdio"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(input).unwrap();
    c.wait_with_output().unwrap()
}

/// A POP3 login through `pop3 --stdio`: the reply to PASS.
fn pop3_pass_reply(data: &str, user: &str, pass: &str) -> String {
    let out = pop3_stdio(
        data,
        format!("USER {user}\r\nPASS {pass}\r\nQUIT\r\n").as_bytes(),
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.split("\r\n").nth(2).unwrap_or_default().to_string()
}

#[test]
fn account_import_and_password_hashes() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let data = d.join("data");
    let data = data.to_str().unwrap();
    // Dovecot's passwd-file format, as the lab's Dovecot uses it, with the usual extras.
    let passwd = d.join("passwd");
    std::fs::write(
        &passwd,
        "# users\n\
         \n\
         dave:{PLAIN}pw1\n\
         erin@localhost:{PLAIN}pw2:1000:1000::/home/erin::\n\
         frank:plainpw\n\
         nocolon\n\
         :{PLAIN}nameless\n\
         gina:{NOSUCH}x\n",
    )
    .unwrap();
    let (code, out, err) = run(
        d,
        &[
            "--data",
            data,
            "account",
            "import",
            passwd.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "refused lines make the exit code 1: {out} {err}");
    // frank's hash has no {SCHEME}: the default scheme is CRYPT, and "plainpw" is no
    // crypt string.
    assert_eq!(
        out, "2 accounts added, 0 updated, 4 lines refused\n",
        "{err}"
    );
    for line in [":5:", ":6:", ":7:", ":8:"] {
        assert!(err.contains(line), "line {line} reported: {err}");
    }
    // The stores were made with the default mailboxes, as `account add` does.
    assert!(d.join("data/mail/localhost/dave/Maildir/cur").is_dir());
    assert!(d.join("data/mail/localhost/erin/Maildir/Sent/cur").is_dir());
    assert!(pop3_pass_reply(data, "dave", "pw1").starts_with("+OK"));
    assert!(pop3_pass_reply(data, "erin", "pw2").starts_with("+OK"));
    assert!(pop3_pass_reply(data, "dave", "pw2").starts_with("-ERR [AUTH]"));

    // Unprefixed hashes in another scheme; a second import updates.
    std::fs::write(&passwd, "frank:plainpw\ndave:{PLAIN}new1\n").unwrap();
    let (code, out, err) = run(
        d,
        &[
            "--data",
            data,
            "account",
            "import",
            "--default-scheme",
            "plain",
            passwd.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "1 accounts added, 1 updated, 0 lines refused\n");
    assert!(pop3_pass_reply(data, "frank", "plainpw").starts_with("+OK"));
    assert!(pop3_pass_reply(data, "dave", "new1").starts_with("+OK"));
    assert!(pop3_pass_reply(data, "dave", "pw1").starts_with("-ERR [AUTH]"));

    // --password-hash for add and passwd; a hash in no known scheme is refused.
    let account = |op: &str, name: &str, hash: &str| {
        run(
            d,
            &["--data", data, "account", op, name, "--password-hash", hash],
        )
    };
    assert_eq!(account("add", "hal", "{PLAIN}h1").0, 0);
    assert!(pop3_pass_reply(data, "hal", "h1").starts_with("+OK"));
    assert_eq!(account("passwd", "hal", "{PLAIN}h2").0, 0);
    assert!(pop3_pass_reply(data, "hal", "h2").starts_with("+OK"));
    assert_ne!(account("add", "ivy", "{NOSUCH}x").0, 0);
    let (_, out, _) = run(d, &["--data", data, "account", "list"]);
    assert!(!out.contains("ivy"), "{out}");
}

/// Settings changed in the web admin are kept in `DATA/settings.toml` and apply at the
/// next start (P11, I14): a kept POP3 maximum of one channel refuses a second connection.
/// A broken file stops `serve` with an error that names it.
#[test]
fn kept_settings_apply_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let data_s = data.to_str().unwrap().to_string();
    std::fs::write(
        data.join("settings.toml"),
        "[pop3]\nlog_level = \"Problems\"\nmax_channels = 1\n",
    )
    .unwrap();
    let args = [
        "--data",
        &data_s,
        "serve",
        "--imap",
        "off",
        "--imaps",
        "off",
        "--pop3",
        "127.0.0.1:0",
        "--pop3s",
        "off",
        "--lmtp",
        "off",
        "--admin",
        "off",
    ];
    let server = Server::start(tmp.path(), &args, 1);
    let addr = server.addr("pop3");
    let first = TcpStream::connect(&addr).unwrap();
    let mut greeting = String::new();
    BufReader::new(&first).read_line(&mut greeting).unwrap();
    assert!(greeting.starts_with("+OK"), "{greeting}");
    let second = TcpStream::connect(&addr).unwrap();
    let mut refusal = String::new();
    BufReader::new(&second).read_line(&mut refusal).unwrap();
    assert_eq!(
        refusal,
        "-ERR [SYS/TEMP] too many POP3 connections, try again later\r\n"
    );
    drop(server);

    std::fs::write(data.join("settings.toml"), "[pop3]\nmax_channels = 0\n").unwrap();
    let (code, _, err) = run(tmp.path(), &args);
    assert_ne!(code, 0);
    assert!(err.contains("settings.toml"), "{err}");
}
